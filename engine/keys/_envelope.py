"""Envelope encryption: data keys wrapped under a root key with AES-256-GCM."""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from typing import Any, Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from engine.errors import IntegrityError

__all__ = [
    "WRAP_FORMAT_VERSION",
    "KeyWrapper",
    "LocalWrapper",
    "canonical_json",
    "unwrap_data_key",
    "wrap_aad",
    "wrap_data_key",
]

#: First byte of every wrapped data key.
WRAP_FORMAT_VERSION = 1
_NONCE_BYTES = 12
_ROOT_KEY_BYTES = 32
_KCV_MESSAGE = b"finveil keyring key check value v1"


def canonical_json(obj: Any) -> bytes:
    """Return the canonical JSON encoding of ``obj`` (sorted keys, no spaces, ASCII)."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()


def wrap_aad(*, key_id: str, version: int, purpose: str) -> bytes:
    """Return the associated data binding a wrapped key to its id, version and purpose."""
    return canonical_json(
        {"fmt": WRAP_FORMAT_VERSION, "key_id": key_id, "purpose": purpose, "version": version}
    )


def _wrap_with_nonce(kek: bytes, secret: bytes, *, aad: bytes, nonce: bytes) -> bytes:
    return bytes([WRAP_FORMAT_VERSION]) + nonce + AESGCM(kek).encrypt(nonce, secret, aad)


def wrap_data_key(kek: bytes, secret: bytes, *, key_id: str, version: int, purpose: str) -> bytes:
    """Hazardous: encrypt a data key under a 32-byte key-encryption key.

    Args:
        kek: The 32-byte key-encryption key.
        secret: The data key to wrap.
        key_id: Key id, bound into the associated data.
        version: Key version, bound into the associated data.
        purpose: Key purpose value, bound into the associated data.

    Returns:
        ``0x01 || nonce(12) || AES-256-GCM ciphertext || tag(16)``.
    """
    _check_kek(kek)
    aad = wrap_aad(key_id=key_id, version=version, purpose=purpose)
    return _wrap_with_nonce(kek, secret, aad=aad, nonce=secrets.token_bytes(_NONCE_BYTES))


def unwrap_data_key(kek: bytes, blob: bytes, *, key_id: str, version: int, purpose: str) -> bytes:
    """Hazardous: decrypt a data key wrapped by :func:`wrap_data_key`.

    Raises:
        IntegrityError: Wrong key, or the blob, key id, version or purpose was altered.
    """
    _check_kek(kek)
    aad = wrap_aad(key_id=key_id, version=version, purpose=purpose)
    return _unwrap(kek, blob, aad=aad, what=f"key {key_id!r} version {version}")


def _unwrap(kek: bytes, blob: bytes, *, aad: bytes, what: str) -> bytes:
    if len(blob) < 1 + _NONCE_BYTES + 16 or blob[0] != WRAP_FORMAT_VERSION:
        raise IntegrityError(f"wrapped {what} is malformed or has an unknown format version")
    nonce, body = blob[1 : 1 + _NONCE_BYTES], blob[1 + _NONCE_BYTES :]
    try:
        return AESGCM(kek).decrypt(nonce, body, aad)
    except InvalidTag:
        # SECURITY: one message for every cause, so failures reveal nothing about the key.
        raise IntegrityError(
            f"wrapped {what} failed authentication (wrong root key, or the wrapped key, "
            "its id, version or purpose was tampered with)"
        ) from None


def _check_kek(kek: bytes) -> None:
    if len(kek) != _ROOT_KEY_BYTES:
        raise ValueError("kek must be 32 bytes")


def _subkey(root: bytes, label: str) -> bytes:
    hkdf = HKDF(
        algorithm=hashes.SHA256(),
        length=32,
        salt=None,
        info=b"finveil/keyring/" + label.encode(),
    )
    return hkdf.derive(root)


class KeyWrapper(Protocol):
    """Wraps data keys and authenticates keyring documents under a root key.

    A local implementation holds the root key in memory (:class:`LocalWrapper`); a KMS
    implementation (Vault Transit ``encrypt``/``decrypt``/``hmac``, AWS KMS ``Encrypt``/
    ``GenerateMac``) keeps the root key remote and calls out for each operation.
    """

    def wrap(self, secret: bytes, *, aad: bytes) -> bytes:
        """Encrypt ``secret`` bound to ``aad``; the result starts with a format byte."""
        ...

    def unwrap(self, blob: bytes, *, aad: bytes) -> bytes:
        """Decrypt ``blob``; raise ``IntegrityError`` if it or ``aad`` was altered."""
        ...

    def mac(self, data: bytes) -> bytes:
        """Return a MAC of ``data`` under a key derived from the root key."""
        ...

    def check_value(self) -> bytes:
        """Return a key check value that identifies the root key without revealing it."""
        ...


class LocalWrapper:
    """A :class:`KeyWrapper` over a 32-byte root key held in this process.

    Separate subkeys are derived with HKDF-SHA256 for wrapping, document MACs and the key
    check value, so no two uses share a key.
    """

    __slots__ = ("_kcv", "_mac_key", "_wrap_key")

    def __init__(self, root_key: bytes) -> None:
        if len(root_key) != _ROOT_KEY_BYTES:
            raise ValueError("root_key must be 32 bytes")
        self._wrap_key = _subkey(root_key, "wrap/v1")
        self._mac_key = _subkey(root_key, "mac/v1")
        self._kcv = hmac.new(_subkey(root_key, "kcv/v1"), _KCV_MESSAGE, hashlib.sha256).digest()

    def __repr__(self) -> str:
        return "LocalWrapper(<root key hidden>)"

    def wrap(self, secret: bytes, *, aad: bytes) -> bytes:
        """Encrypt ``secret`` with AES-256-GCM bound to ``aad``."""
        return _wrap_with_nonce(
            self._wrap_key, secret, aad=aad, nonce=secrets.token_bytes(_NONCE_BYTES)
        )

    def unwrap(self, blob: bytes, *, aad: bytes) -> bytes:
        """Decrypt ``blob``; raise ``IntegrityError`` on any mismatch."""
        return _unwrap(self._wrap_key, blob, aad=aad, what="data key")

    def mac(self, data: bytes) -> bytes:
        """Return HMAC-SHA256 of ``data`` under the document subkey."""
        return hmac.new(self._mac_key, data, hashlib.sha256).digest()

    def check_value(self) -> bytes:
        """Return the 32-byte key check value."""
        return self._kcv
