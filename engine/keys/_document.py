"""The keyring document: key and version records and their authenticated JSON encoding."""

from __future__ import annotations

import copy
import hmac
import json
from base64 import b64decode, b64encode
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from engine.errors import IntegrityError, KeyringLocked
from engine.keys._envelope import KeyWrapper, canonical_json

__all__ = [
    "FORMAT_NAME",
    "FORMAT_VERSION",
    "Document",
    "KeyInfo",
    "KeyPurpose",
    "KeyState",
    "KeyVersionInfo",
    "decode_document",
    "encode_document",
    "parse_header",
]

FORMAT_NAME = "finveil-keyring"
FORMAT_VERSION = 1


class KeyPurpose(Enum):
    """What a key is for; a key is only ever used for its purpose."""

    TOKENIZE = "tokenize"
    CKKS = "ckks"
    AUDIT = "audit"
    MANIFEST = "manifest"
    QUARANTINE = "quarantine"
    CLIENT = "client"


class KeyState(Enum):
    """Life cycle of a key version.

    ``PRIMARY``: used for new tokens and ciphertexts (exactly one per key). ``ACTIVE``: still
    released to read data written under it. ``RETIRED``: never released again.
    """

    PRIMARY = "primary"
    ACTIVE = "active"
    RETIRED = "retired"


@dataclass(frozen=True, slots=True, kw_only=True)
class KeyVersionInfo:
    """Public facts about one key version (no secret).

    Args:
        version: The version number (1-based).
        state: Its life-cycle state.
        created: Creation time, UTC ISO 8601.
        size: Secret length in bytes.
        datasets: Ids of recorded datasets that use this version.
    """

    version: int
    state: KeyState
    created: str
    size: int
    datasets: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class KeyInfo:
    """Public facts about one key and its versions (no secret).

    Args:
        key_id: The key id.
        purpose: The key's purpose.
        versions: Its versions, oldest first.
    """

    key_id: str
    purpose: KeyPurpose
    versions: tuple[KeyVersionInfo, ...]

    @property
    def primary_version(self) -> int:
        """The version currently used for new data."""
        return next(v.version for v in self.versions if v.state is KeyState.PRIMARY)


@dataclass(slots=True, kw_only=True)
class VersionRecord:
    """A stored key version: its state and wrapped secret."""

    version: int
    state: KeyState
    created: str
    size: int
    wrapped: bytes = field(repr=False)


@dataclass(slots=True, kw_only=True)
class KeyRecord:
    """A stored key: its purpose and versions (oldest first)."""

    purpose: KeyPurpose
    versions: list[VersionRecord]

    def version(self, number: int) -> VersionRecord | None:
        """Return the record of ``number`` or ``None``."""
        return next((v for v in self.versions if v.version == number), None)

    def primary(self) -> VersionRecord:
        """Return the primary version record."""
        return next(v for v in self.versions if v.state is KeyState.PRIMARY)


@dataclass(slots=True, kw_only=True)
class Document:
    """The whole keyring state as stored."""

    root: dict[str, Any]
    kcv: bytes = field(repr=False)
    generation: int
    created: str
    keys: dict[str, KeyRecord]
    # dataset id -> key id -> versions the dataset was written with.
    usage: dict[str, dict[str, list[int]]]

    def clone(self) -> Document:
        """Return a deep copy to mutate."""
        return copy.deepcopy(self)

    def datasets_using(self, key_id: str, version: int) -> list[str]:
        """Return the recorded dataset ids that use ``key_id`` at ``version``, sorted."""
        return sorted(d for d, keys in self.usage.items() if version in keys.get(key_id, ()))

    def info(self, key_id: str) -> KeyInfo:
        """Return the public view of one key."""
        record = self.keys[key_id]
        versions = tuple(
            KeyVersionInfo(
                version=v.version,
                state=v.state,
                created=v.created,
                size=v.size,
                datasets=tuple(self.datasets_using(key_id, v.version)),
            )
            for v in record.versions
        )
        return KeyInfo(key_id=key_id, purpose=record.purpose, versions=versions)


def parse_header(raw: bytes, *, location: str) -> dict[str, Any]:
    """Parse the file and check its format; return the JSON object.

    Raises:
        IntegrityError: Not JSON, truncated, or not a keyring of a known format version.
    """
    try:
        doc = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise IntegrityError(
            f"keyring {location} is corrupt or truncated (not valid JSON); restore it from backup"
        ) from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT_NAME:
        raise IntegrityError(f"{location} is not a FinVeil keyring")
    if doc.get("format_version") != FORMAT_VERSION:
        raise IntegrityError(
            f"keyring {location} has unsupported format_version "
            f"{doc.get('format_version')!r} (this FinVeil reads {FORMAT_VERSION})"
        )
    if not isinstance(doc.get("root"), dict) or not isinstance(doc["root"].get("kind"), str):
        raise IntegrityError(f"keyring {location} has no valid root header")
    return doc


def decode_document(doc: dict[str, Any], wrapper: KeyWrapper, *, location: str) -> Document:
    """Authenticate a parsed keyring and return its state.

    Raises:
        KeyringLocked: The root key (passphrase or key file) is not the one of this keyring.
        IntegrityError: The document was edited, corrupted or is malformed.
    """
    try:
        kcv = b64decode(doc["kcv"], validate=True)
        mac = b64decode(doc["mac"], validate=True)
    except (KeyError, TypeError, ValueError):
        raise IntegrityError(
            f"keyring {location} is malformed (key check or MAC missing)"
        ) from None
    if not hmac.compare_digest(kcv, wrapper.check_value()):
        kind = doc["root"]["kind"]
        what = "passphrase" if kind == "scrypt" else "root key"
        raise KeyringLocked(f"cannot unlock keyring {location}: wrong {what} ({kind})")
    body = {k: v for k, v in doc.items() if k != "mac"}
    if not hmac.compare_digest(mac, wrapper.mac(canonical_json(body))):
        raise IntegrityError(
            f"keyring {location} failed authentication: it was edited or corrupted "
            "(a key, version, state or usage record does not match its MAC)"
        )
    try:
        return _from_json(doc, kcv)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise IntegrityError(f"keyring {location} is malformed ({type(exc).__name__})") from None


def _from_json(doc: dict[str, Any], kcv: bytes) -> Document:
    keys = {
        str(key_id): KeyRecord(
            purpose=KeyPurpose(rec["purpose"]),
            versions=[
                VersionRecord(
                    version=int(v["version"]),
                    state=KeyState(v["state"]),
                    created=str(v["created"]),
                    size=int(v["size"]),
                    wrapped=b64decode(v["wrapped"], validate=True),
                )
                for v in rec["versions"]
            ],
        )
        for key_id, rec in doc["keys"].items()
    }
    usage = {
        str(ds): {str(k): [int(x) for x in vs] for k, vs in keys_used.items()}
        for ds, keys_used in doc["usage"].items()
    }
    return Document(
        root=dict(doc["root"]),
        kcv=kcv,
        generation=int(doc["generation"]),
        created=str(doc["created"]),
        keys=keys,
        usage=usage,
    )


def encode_document(state: Document, wrapper: KeyWrapper) -> bytes:
    """Serialize and MAC ``state``; return the file bytes."""
    body: dict[str, Any] = {
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "root": state.root,
        "kcv": b64encode(state.kcv).decode(),
        "generation": state.generation,
        "created": state.created,
        "keys": {
            key_id: {
                "purpose": rec.purpose.value,
                "versions": [
                    {
                        "version": v.version,
                        "state": v.state.value,
                        "created": v.created,
                        "size": v.size,
                        "wrapped": b64encode(v.wrapped).decode(),
                    }
                    for v in rec.versions
                ],
            }
            for key_id, rec in sorted(state.keys.items())
        },
        "usage": state.usage,
    }
    body["mac"] = b64encode(wrapper.mac(canonical_json(body))).decode()
    return (json.dumps(body, indent=2, sort_keys=True) + "\n").encode()
