"""Key material handed from the keyring to the crypto cores."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True, kw_only=True)
class KeyMaterial:
    """One version of one key, unwrapped for use by its owner.

    Args:
        key_id: The keyring name of the key, e.g. ``"tokenize.pan"``.
        version: The key version (1-based).
        secret: The raw key bytes; never printed, logged or serialized in the clear.
    """

    key_id: str
    version: int
    secret: bytes = field(repr=False)

    def __post_init__(self) -> None:
        if not self.key_id:
            raise ValueError("key_id must be a non-empty string")
        if self.version < 1:
            raise ValueError("version must be >= 1")
        if len(self.secret) not in (16, 24, 32, 64):
            raise ValueError("secret must be 16, 24, 32 or 64 bytes")
