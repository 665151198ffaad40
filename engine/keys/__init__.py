"""Keys: versioned keyring, envelope encryption, rotation, tamper-evident audit log."""

from engine.keys._audit import AuditChainHead, AuditLog
from engine.keys._backend import KeyringBackend
from engine.keys._document import KeyInfo, KeyPurpose, KeyState, KeyVersionInfo
from engine.keys._keyring import KeyRing
from engine.keys._material import KeyMaterial

__all__ = [
    "AuditChainHead",
    "AuditLog",
    "KeyInfo",
    "KeyMaterial",
    "KeyPurpose",
    "KeyRing",
    "KeyState",
    "KeyVersionInfo",
    "KeyringBackend",
]
