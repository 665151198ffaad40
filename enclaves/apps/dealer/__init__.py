"""Dealer: SMPC correlated randomness (Beaver triples, edaBits, daBits) dealt inside an enclave."""
