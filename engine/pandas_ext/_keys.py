"""Resolve tokenization keys from a keyring for the pandas and scikit-learn adapters."""

from __future__ import annotations

from collections.abc import Mapping

from engine.keys import KeyMaterial, KeyPurpose, KeyRing
from engine.tokenize import Kind


def open_keyring(keyring: KeyRing | None) -> KeyRing:
    """Return ``keyring``, or the local default keyring (``~/.finveil``) when it is None."""
    if keyring is not None:
        return keyring
    ring, _created = KeyRing.open_default()
    return ring


def kinds_of(pii: Mapping[str, Kind | str]) -> set[Kind]:
    """Return the set of kinds named in ``pii`` (raises ValueError on an unknown kind)."""
    if not isinstance(pii, Mapping) or not pii:
        raise TypeError("pii must be a non-empty mapping of column -> kind")
    return {Kind(kind) for kind in pii.values()}


def key_id(kind: Kind) -> str:
    """Return the keyring id of the tokenization key of ``kind`` (as ``finveil run`` uses)."""
    return f"tokenize.{kind.value}"


def token_keys(
    ring: KeyRing, pii: Mapping[str, Kind | str], *, versions: Mapping[Kind, int] | None = None
) -> dict[Kind, KeyMaterial]:
    """Return kind -> key: the pinned ``versions`` where given, else the primary (created)."""
    keys: dict[Kind, KeyMaterial] = {}
    for kind in kinds_of(pii):
        if versions is not None and kind in versions:
            keys[kind] = ring.get(key_id(kind), versions[kind])
        else:
            keys[kind] = ring.ensure(key_id(kind), KeyPurpose.TOKENIZE)
    return keys
