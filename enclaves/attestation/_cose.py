"""COSE_Sign1 (RFC 9052) with EdDSA, carrying an X.509 chain in the protected header."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import cbor2
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from enclaves.encoding import decode, encode
from engine.errors import AttestationError, IntegrityError

COSE_SIGN1_TAG = 18
_ALG, _CONTENT_TYPE, _X5CHAIN = 1, 3, 33
_EDDSA = -8
_CONTENT_TYPE_QUOTE = "application/vnd.finveil.quote+cbor"


@dataclass(frozen=True, slots=True, kw_only=True)
class Sign1:
    """A parsed, not yet verified, COSE_Sign1 message."""

    protected: bytes
    payload: bytes
    signature: bytes
    chain: tuple[bytes, ...]


def _to_be_signed(protected: bytes, payload: bytes) -> bytes:
    # RFC 9052 §4.4: Sig_structure with an empty external_aad.
    return encode(["Signature1", protected, b"", payload])


def sign1(payload: bytes, *, key: Ed25519PrivateKey, chain: Sequence[bytes]) -> bytes:
    """Return a tagged COSE_Sign1 over ``payload`` with the DER ``chain`` (leaf first)."""
    protected = encode({_ALG: _EDDSA, _CONTENT_TYPE: _CONTENT_TYPE_QUOTE, _X5CHAIN: list(chain)})
    signature = key.sign(_to_be_signed(protected, payload))
    return encode(cbor2.CBORTag(COSE_SIGN1_TAG, [protected, {}, payload, signature]))


def parse_sign1(data: bytes) -> Sign1:
    """Parse a COSE_Sign1 quote without trusting it.

    Raises:
        AttestationError: If the structure, algorithm or certificate chain field is malformed.
    """
    try:
        outer = decode(data)
        protected_map: Any = None
        if isinstance(outer, cbor2.CBORTag) and outer.tag == COSE_SIGN1_TAG:
            protected, unprotected, payload, signature = outer.value
            protected_map = decode(protected)
    except (IntegrityError, ValueError, TypeError):
        raise AttestationError("quote is not a well-formed COSE_Sign1 document") from None
    if protected_map is None or not (
        isinstance(protected, bytes)
        and isinstance(payload, bytes)
        and isinstance(signature, bytes)
        and unprotected == {}
        and isinstance(protected_map, dict)
    ):
        raise AttestationError("quote is not a well-formed COSE_Sign1 document")
    if protected_map.get(_ALG) != _EDDSA:
        raise AttestationError("quote is not signed with EdDSA (COSE alg -8)")
    chain = protected_map.get(_X5CHAIN)
    if not isinstance(chain, list) or not chain or not all(isinstance(c, bytes) for c in chain):
        raise AttestationError("quote carries no platform certificate chain")
    return Sign1(protected=protected, payload=payload, signature=signature, chain=tuple(chain))


def verify_sign1(message: Sign1, public_key: Ed25519PublicKey) -> None:
    """Check the EdDSA signature of a parsed COSE_Sign1.

    Raises:
        AttestationError: If the signature does not verify.
    """
    try:
        public_key.verify(message.signature, _to_be_signed(message.protected, message.payload))
    except InvalidSignature:
        raise AttestationError("quote signature does not verify under the platform key") from None
