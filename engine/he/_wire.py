"""The byte format shared by contexts, keys, frames and vectors (versioned, no pickle)."""

from __future__ import annotations

import enum
import hashlib
import json
import struct
from dataclasses import dataclass
from typing import Any

from engine.errors import IntegrityError

__all__ = [
    "FORMAT_VERSION",
    "Kind",
    "Message",
    "fingerprint",
    "get_float",
    "get_int",
    "get_list",
    "get_str",
    "pack",
    "unpack",
]

FORMAT_VERSION = 1
_MAGIC = b"FVHE"
FINGERPRINT_BYTES = 16
# version, magic, kind, fingerprint, header length.
_PREFIX = struct.Struct(f">B4sB{FINGERPRINT_BYTES}sI")
_COUNT = struct.Struct(">I")
_LENGTH = struct.Struct(">Q")
_FINGERPRINT_DOMAIN = b"finveil.he.context.v1\x00"


class Kind(enum.IntEnum):
    """What a serialized blob holds."""

    PUBLIC_CONTEXT = 1
    SECRET_KEYS = 2
    FRAME = 3
    VECTOR = 4


@dataclass(frozen=True, slots=True, kw_only=True)
class Message:
    """A parsed blob: kind, context fingerprint, JSON header and binary parts."""

    kind: Kind
    fingerprint: bytes
    header: dict[str, Any]
    parts: tuple[bytes, ...]


def fingerprint(params_json: str, public_context: bytes) -> bytes:
    """Return the context fingerprint: truncated SHA-256 of parameters and public context."""
    digest = hashlib.sha256(_FINGERPRINT_DOMAIN)
    digest.update(params_json.encode())
    digest.update(b"\x00")
    digest.update(public_context)
    return digest.digest()[:FINGERPRINT_BYTES]


def pack(message: Message) -> bytes:
    """Serialize ``message``: format version byte first, then magic, kind and fingerprint."""
    header = json.dumps(message.header, sort_keys=True, separators=(",", ":")).encode()
    out = [_PREFIX.pack(FORMAT_VERSION, _MAGIC, message.kind, message.fingerprint, len(header))]
    out.append(header)
    out.append(_COUNT.pack(len(message.parts)))
    for part in message.parts:
        out.append(_LENGTH.pack(len(part)))
        out.append(part)
    return b"".join(out)


def unpack(data: bytes, *, expected: Kind) -> Message:
    """Parse a blob written by :func:`pack`.

    Raises:
        IntegrityError: Wrong version, magic or kind, or truncated or malformed data.
    """
    view = memoryview(data)
    if len(view) < _PREFIX.size:
        raise IntegrityError("the HE payload is truncated")
    version, magic, kind, fp, header_len = _PREFIX.unpack_from(view, 0)
    if version != FORMAT_VERSION:
        raise IntegrityError(f"unsupported HE format version {version} (expected {FORMAT_VERSION})")
    if magic != _MAGIC:
        raise IntegrityError("not a FinVeil HE payload")
    if kind != expected:
        raise IntegrityError(f"the payload holds a {_kind_name(kind)}, expected {expected.name}")
    offset = _PREFIX.size
    try:
        header = json.loads(bytes(view[offset : offset + header_len]))
    except ValueError as exc:
        raise IntegrityError("the HE payload header is malformed") from exc
    if not isinstance(header, dict):
        raise IntegrityError("the HE payload header is malformed")
    offset += header_len
    parts, offset = _read_parts(view, offset)
    if offset != len(view):
        raise IntegrityError("the HE payload has trailing bytes")
    return Message(kind=Kind(kind), fingerprint=bytes(fp), header=header, parts=parts)


def _read_parts(view: memoryview, offset: int) -> tuple[tuple[bytes, ...], int]:
    if offset + _COUNT.size > len(view):
        raise IntegrityError("the HE payload is truncated")
    (count,) = _COUNT.unpack_from(view, offset)
    offset += _COUNT.size
    parts = []
    for _ in range(count):
        if offset + _LENGTH.size > len(view):
            raise IntegrityError("the HE payload is truncated")
        (length,) = _LENGTH.unpack_from(view, offset)
        offset += _LENGTH.size
        if offset + length > len(view):
            raise IntegrityError("the HE payload is truncated")
        parts.append(bytes(view[offset : offset + length]))
        offset += length
    return tuple(parts), offset


def _kind_name(kind: int) -> str:
    try:
        return Kind(kind).name
    except ValueError:
        return f"unknown kind {kind}"


def get_int(header: dict[str, Any], name: str, *, minimum: int = 0) -> int:
    """Read an integer header field of at least ``minimum``; IntegrityError otherwise."""
    value = header.get(name)
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise IntegrityError(f"the HE payload header field {name!r} is invalid")
    return value


def get_float(header: dict[str, Any], name: str) -> float:
    """Read a finite number header field; IntegrityError otherwise."""
    value = header.get(name)
    if isinstance(value, bool) or not isinstance(value, int | float) or value != value:
        raise IntegrityError(f"the HE payload header field {name!r} is invalid")
    return float(value)


def get_str(header: dict[str, Any], name: str) -> str:
    """Read a string header field; IntegrityError otherwise."""
    value = header.get(name)
    if not isinstance(value, str):
        raise IntegrityError(f"the HE payload header field {name!r} is invalid")
    return value


def get_list(header: dict[str, Any], name: str, item: type | tuple[type, ...]) -> list[Any]:
    """Read a list header field whose items are all of type ``item``; IntegrityError otherwise."""
    value = header.get(name)
    items_ok = isinstance(value, list) and all(
        isinstance(v, item) and not isinstance(v, bool) for v in value
    )
    if not items_ok:
        raise IntegrityError(f"the HE payload header field {name!r} is invalid")
    return list(value)  # type: ignore[arg-type]
