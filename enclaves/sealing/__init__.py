"""Sealing: encrypt enclave state to its measurement or to its signer, product and SVN."""

from enclaves.sealing._seal import (
    SEALED_FORMAT_VERSION,
    SealingKeys,
    SealPolicy,
    derive_sealing_keys,
    seal,
    unseal,
)

__all__ = [
    "SEALED_FORMAT_VERSION",
    "SealPolicy",
    "SealingKeys",
    "derive_sealing_keys",
    "seal",
    "unseal",
]
