"""Keys: versioned keyring, envelope encryption, audit log, detokenization policy."""

from engine.keys._audit import AuditChainHead, AuditLog
from engine.keys._backend import KeyringBackend
from engine.keys._document import KeyInfo, KeyPurpose, KeyState, KeyVersionInfo
from engine.keys._gate import PolicyGate
from engine.keys._keyring import KeyRing
from engine.keys._material import KeyMaterial
from engine.keys._policy import AccessPolicy, DetokenizeRequest
from engine.keys._versions import check_groupable, check_joinable

__all__ = [
    "AccessPolicy",
    "AuditChainHead",
    "AuditLog",
    "DetokenizeRequest",
    "KeyInfo",
    "KeyMaterial",
    "KeyPurpose",
    "KeyRing",
    "KeyState",
    "KeyVersionInfo",
    "KeyringBackend",
    "PolicyGate",
    "check_groupable",
    "check_joinable",
]
