"""Attestation: COSE_Sign1 quotes, policies, nonce tracking and verification."""

from enclaves.attestation._claims import QuoteClaims, TCBStatus
from enclaves.attestation._nonces import NonceRegistry
from enclaves.attestation._policy import Policy, SignerRule
from enclaves.attestation._verify import SIMULATED_LABEL, Verdict, verify_quote

__all__ = [
    "SIMULATED_LABEL",
    "NonceRegistry",
    "Policy",
    "QuoteClaims",
    "SignerRule",
    "TCBStatus",
    "Verdict",
    "verify_quote",
]
