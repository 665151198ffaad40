"""Identifiers and free text: deterministic AES-SIV, URL-safe, reversible for any string."""

from __future__ import annotations

import base64
import binascii
import re
from typing import Final

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESSIV

from engine.tokenize._formats.base import FormatFn, Objects, new_reasons
from engine.tokenize._formats.keyed import ColumnKeys
from engine.tokenize._formats.options import FormatOptions, Kind

__all__ = ["PREFIXES", "VERSION", "aead"]

# SECURITY: the first byte of every envelope is the format version.
VERSION: Final = 1
PREFIXES: Final = {Kind.ID: "fvid_", Kind.TEXT: "fvtx_"}
_BODY: Final = re.compile(r"[A-Za-z0-9_-]+")


def aead(kind: Kind) -> FormatFn:
    """Return the AES-SIV format of ``kind`` (ID or TEXT)."""
    prefix = PREFIXES[kind]

    def run(
        values: Objects, keys: ColumnKeys, opts: FormatOptions, decrypt: bool
    ) -> tuple[Objects, Objects]:
        siv = AESSIV(keys.siv_key())
        # The column tweak is the associated data: equal values in two columns differ.
        ad = [keys.associated_data()]
        out = new_reasons(values.shape[0])
        reasons = new_reasons(values.shape[0])
        for i, value in enumerate(values.tolist()):
            if decrypt:
                plain = _open(siv, ad, prefix, value)
                if plain is None:
                    reasons[i] = f"{kind.value}: not a token"
                out[i] = plain
            else:
                sealed = siv.encrypt(value.encode("utf-8", "surrogatepass"), ad)
                blob = bytes([VERSION]) + sealed
                out[i] = prefix + base64.urlsafe_b64encode(blob).rstrip(b"=").decode("ascii")
        return out, reasons

    return run


def _open(siv: AESSIV, ad: list[bytes], prefix: str, token: str) -> str | None:
    if not token.startswith(prefix):
        return None
    body = token[len(prefix) :]
    if _BODY.fullmatch(body) is None:
        return None
    try:
        blob = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
    except (binascii.Error, ValueError):
        return None
    if len(blob) < 17 or blob[0] != VERSION:
        return None
    try:
        plain = siv.decrypt(blob[1:], ad)
    except InvalidTag:
        return None
    return plain.decode("utf-8", "surrogatepass")
