"""Canonical CBOR (RFC 8949 §4.2) shared by measurements, quotes, sealing and the wire."""

from __future__ import annotations

from typing import Any

import cbor2

from engine.errors import IntegrityError

__all__ = ["MAX_MESSAGE_BYTES", "decode", "encode"]

#: Largest CBOR document accepted from the other side of a trust boundary.
MAX_MESSAGE_BYTES = 64 * 1024 * 1024


def encode(value: Any) -> bytes:
    """Encode ``value`` as deterministic CBOR (sorted map keys, shortest integers).

    Args:
        value: ``None``, ``bool``, ``int``, ``float``, ``str``, ``bytes``, lists and maps
            of those.

    Returns:
        The canonical encoding; equal values always give equal bytes.

    Raises:
        TypeError: If ``value`` holds a type CBOR cannot encode.
    """
    try:
        return cbor2.dumps(value, canonical=True)
    except cbor2.CBOREncodeError as exc:
        raise TypeError(f"value cannot be encoded as CBOR: {type(exc).__name__}") from exc


def decode(data: bytes) -> Any:
    """Decode one CBOR document received across a trust boundary.

    Args:
        data: The encoded document.

    Returns:
        The decoded value.

    Raises:
        IntegrityError: If ``data`` is too large, malformed or has trailing bytes.
    """
    if len(data) > MAX_MESSAGE_BYTES:
        raise IntegrityError("CBOR document exceeds the size limit")
    try:
        value = cbor2.loads(data)
    except (cbor2.CBORDecodeError, ValueError, TypeError) as exc:
        raise IntegrityError("malformed CBOR document") from exc
    # SECURITY: a canonical re-encoding must reproduce the input, so that two parties that
    # hash or sign "the same" document always hash or sign the same bytes.
    try:
        canonical = encode(value)
    except TypeError as exc:
        raise IntegrityError("CBOR document uses unsupported types") from exc
    if canonical != data:
        raise IntegrityError("CBOR document is not in canonical form")
    return value
