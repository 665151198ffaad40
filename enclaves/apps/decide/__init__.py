"""Decide: decrypt CKKS scores inside the enclave and return only what its policy allows."""
