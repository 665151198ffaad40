"""Quarantined records: the original row, encrypted under the quarantine key, never raw."""

from __future__ import annotations

import json
import secrets
from collections.abc import Mapping, Sequence
from typing import Any

from Crypto.Cipher import AES

from engine.errors import DecryptionError
from engine.keys import KeyMaterial

_VERSION = 1
_NONCE_BYTES = 12
_TAG_BYTES = 16


def _associated_data(context: str, row: int) -> bytes:
    # The job id and row number are bound into every blob, so a blob moved to another row
    # or another job's quarantine fails to decrypt.
    return f"finveil/quarantine/v{_VERSION}/{context}/{row}".encode()


def _encrypt_with_nonce(key: KeyMaterial, plaintext: bytes, aad: bytes, nonce: bytes) -> bytes:
    cipher = AES.new(key.secret, AES.MODE_GCM, nonce=nonce, mac_len=_TAG_BYTES)
    cipher.update(aad)
    ciphertext, tag = cipher.encrypt_and_digest(plaintext)
    return bytes([_VERSION]) + nonce + ciphertext + tag


def encrypt_records(
    records: Sequence[Mapping[str, Any]],
    rows: Sequence[int],
    key: KeyMaterial,
    *,
    context: str,
) -> list[bytes]:
    """Encrypt each record (a column -> value mapping) with AES-256-GCM.

    Args:
        records: The original rows, values as read from the input.
        rows: The input row number of each record (bound into the associated data).
        key: The quarantine key.
        context: The job id, bound into the associated data.

    Returns:
        One blob per record: version byte, 96-bit random nonce, ciphertext, 128-bit tag.
    """
    blobs = []
    for record, row in zip(records, rows, strict=True):
        plaintext = json.dumps(dict(record), default=str, ensure_ascii=False).encode()
        nonce = secrets.token_bytes(_NONCE_BYTES)
        blobs.append(_encrypt_with_nonce(key, plaintext, _associated_data(context, row), nonce))
    return blobs


def decrypt_records(
    blobs: Sequence[bytes], rows: Sequence[int], key: KeyMaterial, *, context: str
) -> list[dict[str, Any]]:
    """Decrypt blobs made by :func:`encrypt_records`.

    Raises:
        DecryptionError: Wrong key, wrong job or row, unknown version, or tampered blob.
    """
    records = []
    for index, (blob, row) in enumerate(zip(blobs, rows, strict=True)):
        if len(blob) < 1 + _NONCE_BYTES + _TAG_BYTES or blob[0] != _VERSION:
            raise DecryptionError(f"quarantine blob {index}: unknown format or truncated")
        nonce = blob[1 : 1 + _NONCE_BYTES]
        body, tag = blob[1 + _NONCE_BYTES : -_TAG_BYTES], blob[-_TAG_BYTES:]
        cipher = AES.new(key.secret, AES.MODE_GCM, nonce=nonce, mac_len=_TAG_BYTES)
        cipher.update(_associated_data(context, row))
        try:
            plaintext = cipher.decrypt_and_verify(body, tag)
        except ValueError:
            raise DecryptionError(
                f"quarantine blob {index} (row {row}): authentication failed "
                "(wrong key, wrong job or tampered)"
            ) from None
        records.append(json.loads(plaintext))
    return records
