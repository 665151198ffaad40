"""Hazardous: quote signing and unverified parsing, for platforms, tests and diagnostics."""

from __future__ import annotations

from collections.abc import Sequence

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from enclaves.attestation._claims import QuoteClaims
from enclaves.attestation._cose import parse_sign1, sign1
from enclaves.encoding import decode, encode
from engine.errors import AttestationError, IntegrityError

__all__ = ["inspect_quote", "sign_quote"]


def sign_quote(
    claims: QuoteClaims, *, signing_key: Ed25519PrivateKey, chain: Sequence[bytes]
) -> bytes:
    """Hazardous: sign ``claims`` as a COSE_Sign1 quote.

    Only a platform (its quoting enclave) should call this; verifiers use
    :func:`enclaves.attestation.verify_quote`.

    Args:
        claims: The claims, with their binding already computed (``QuoteClaims.create``).
        signing_key: The platform attestation key.
        chain: DER certificates, platform certificate first, root last.

    Returns:
        The quote.
    """
    return sign1(encode(claims.to_mapping()), key=signing_key, chain=chain)


def inspect_quote(quote: bytes) -> QuoteClaims:
    """Hazardous: return a quote's claims WITHOUT checking its signature, chain or policy.

    For display and debugging only; never base a decision on the result.

    Raises:
        AttestationError: If the quote cannot be parsed.
    """
    message = parse_sign1(quote)
    try:
        return QuoteClaims.from_mapping(decode(message.payload))
    except IntegrityError:
        raise AttestationError("quote payload is not canonical CBOR") from None
