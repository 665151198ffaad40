"""Quote claims: what a platform asserts about one enclave, and the hash that binds them."""

from __future__ import annotations

import enum
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from enclaves.encoding import encode
from engine.errors import AttestationError

#: Version of the claims map inside a quote.
CLAIMS_FORMAT_VERSION = 1
_BINDING_DOMAIN = b"finveil-quote-binding-v1\x00"


class TCBStatus(enum.Enum):
    """Trusted computing base status of the platform, as a TCB info service reports it."""

    UP_TO_DATE = "up-to-date"
    SW_HARDENING_NEEDED = "sw-hardening-needed"
    CONFIGURATION_NEEDED = "configuration-needed"
    OUT_OF_DATE = "out-of-date"
    REVOKED = "revoked"


@dataclass(frozen=True, slots=True, kw_only=True)
class QuoteClaims:
    """The signed content of a quote.

    Args:
        platform: Human-readable platform name; simulated platforms say ``SIMULATED``.
        is_simulated: Whether the root of trust is simulated.
        measurement: SHA-256 measurement of the enclave app (32 bytes).
        signer_id: SHA-256 of the app signer's Ed25519 public key (32 bytes).
        product_id: Product id from the manifest.
        svn: Security version number from the manifest.
        is_debug: Whether the enclave was loaded in debug mode (outside the measurement).
        tcb_status: Platform TCB status when the quote was made.
        timestamp_ms: Quote time, Unix milliseconds.
        nonce: The verifier's nonce.
        public_key: The enclave's ephemeral X25519 public key (32 bytes).
        binding: SHA-256 over all other claims; salts the secure channel.
    """

    platform: str
    is_simulated: bool
    measurement: bytes
    signer_id: bytes
    product_id: int
    svn: int
    is_debug: bool
    tcb_status: TCBStatus
    timestamp_ms: int
    nonce: bytes
    public_key: bytes
    binding: bytes

    def to_mapping(self) -> dict[str, Any]:
        """Return the claims as the CBOR map that is signed."""
        body = _body(self)
        body["binding"] = self.binding
        return body

    @classmethod
    def create(cls, **fields: Any) -> QuoteClaims:
        """Build claims from every field except ``binding``, which is computed.

        Raises:
            TypeError: If a field is missing or unknown.
        """
        draft = cls(binding=b"", **fields)
        return cls(binding=compute_binding(draft), **fields)

    @classmethod
    def from_mapping(cls, data: Any) -> QuoteClaims:
        """Parse and type-check a decoded claims map.

        Raises:
            AttestationError: If a field is missing, of the wrong type or length.
        """
        if not isinstance(data, Mapping) or data.get("v") != CLAIMS_FORMAT_VERSION:
            raise AttestationError("quote claims are not a version-1 map")
        try:
            claims = cls(
                platform=_typed(data, "platform", str),
                is_simulated=_typed(data, "simulated", bool),
                measurement=_digest(data, "measurement"),
                signer_id=_digest(data, "signer_id"),
                product_id=_typed(data, "product_id", int),
                svn=_typed(data, "svn", int),
                is_debug=_typed(data, "debug", bool),
                tcb_status=TCBStatus(_typed(data, "tcb_status", str)),
                timestamp_ms=_typed(data, "timestamp_ms", int),
                nonce=_typed(data, "nonce", bytes),
                public_key=_digest(data, "public_key"),
                binding=_digest(data, "binding"),
            )
        except ValueError:
            raise AttestationError("quote claims name an unknown TCB status") from None
        if set(data) != set(claims.to_mapping()):
            raise AttestationError("quote claims have unexpected fields")
        return claims


def _typed(data: Mapping[str, Any], name: str, kind: type) -> Any:
    value = data.get(name)
    # bool is a subclass of int: an int field must not accept True.
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise AttestationError(f"quote claim {name!r} is missing or not {kind.__name__}")
    return value


def _digest(data: Mapping[str, Any], name: str) -> bytes:
    value: bytes = _typed(data, name, bytes)
    if len(value) != 32:
        raise AttestationError(f"quote claim {name!r} must be 32 bytes")
    return value


def _body(claims: QuoteClaims) -> dict[str, Any]:
    return {
        "v": CLAIMS_FORMAT_VERSION,
        "platform": claims.platform,
        "simulated": claims.is_simulated,
        "measurement": claims.measurement,
        "signer_id": claims.signer_id,
        "product_id": claims.product_id,
        "svn": claims.svn,
        "debug": claims.is_debug,
        "tcb_status": claims.tcb_status.value,
        "timestamp_ms": claims.timestamp_ms,
        "nonce": claims.nonce,
        "public_key": claims.public_key,
    }


def compute_binding(claims: QuoteClaims) -> bytes:
    """Return the SHA-256 binding of every claim except ``binding`` itself."""
    return hashlib.sha256(_BINDING_DOMAIN + encode(_body(claims))).digest()
