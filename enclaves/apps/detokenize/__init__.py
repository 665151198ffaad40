"""Detokenize: tokenization keys, access policy and audit log live inside the enclave."""
