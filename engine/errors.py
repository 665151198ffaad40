"""The FinVeil exception hierarchy, shared by ``engine`` and ``enclaves``.

::

    FinVeilError
    ├── ConfigError(FinVeilError, ValueError)      bad job spec, policy or option
    ├── InputError(FinVeilError, ValueError)       unreadable, empty or malformed input data
    ├── KeyManagementError
    │   ├── KeyNotFound
    │   ├── KeyringLocked                          wrong passphrase or root key
    │   └── KeyVersionMismatch                     join or group-by across key versions
    ├── TokenizationError
    │   └── DomainError(TokenizationError, ValueError)   value outside a cipher's domain
    ├── DecryptionError
    ├── HEError
    │   ├── ParameterError(HEError, ValueError)
    │   ├── ScaleExhausted
    │   └── ContextMismatch                        ciphertext from another context
    ├── SMPCError
    │   ├── ShareMismatch
    │   ├── PartyDropped
    │   └── SessionAborted
    ├── PolicyDenied
    ├── IntegrityError                             tampered file, chain or signature
    ├── NotFittedError(FinVeilError, ValueError, AttributeError)
    └── EnclaveError
        ├── AttestationError
        └── SealingError

SECURITY: messages name the field, column, row number and rule, never a raw value,
token, key byte or share.
"""

from __future__ import annotations

__all__ = [
    "AttestationError",
    "ConfigError",
    "ContextMismatch",
    "DecryptionError",
    "DomainError",
    "EnclaveError",
    "FinVeilError",
    "HEError",
    "InputError",
    "IntegrityError",
    "KeyManagementError",
    "KeyNotFound",
    "KeyVersionMismatch",
    "KeyringLocked",
    "NotFittedError",
    "ParameterError",
    "PartyDropped",
    "PolicyDenied",
    "SMPCError",
    "ScaleExhausted",
    "SealingError",
    "SessionAborted",
    "ShareMismatch",
    "TokenizationError",
]


class FinVeilError(Exception):
    """Root of every error FinVeil raises on purpose."""


class ConfigError(FinVeilError, ValueError):
    """A job spec, policy or option is invalid."""


class InputError(FinVeilError, ValueError):
    """Input data is missing, unreadable, empty or of the wrong shape."""


class KeyManagementError(FinVeilError):
    """A keyring operation failed."""


class KeyNotFound(KeyManagementError):
    """No key (or key version) with that id exists."""


class KeyringLocked(KeyManagementError):
    """The keyring could not be opened: wrong passphrase, wrong root key or corrupt file."""


class KeyVersionMismatch(KeyManagementError):
    """Tokens of different key versions (or keys) would be joined or grouped together."""


class TokenizationError(FinVeilError):
    """A value could not be tokenized or detokenized."""


class DomainError(TokenizationError, ValueError):
    """A value, tweak or key lies outside the cipher's domain."""


class DecryptionError(FinVeilError):
    """Authenticated decryption failed (wrong key or tampered data)."""


class HEError(FinVeilError):
    """A homomorphic-encryption operation failed."""


class ParameterError(HEError, ValueError):
    """CKKS parameters or inputs are outside what the context supports."""


class ScaleExhausted(HEError):
    """The ciphertext has no multiplicative depth left."""


class ContextMismatch(HEError):
    """A ciphertext was produced under a different CKKS context."""


class SMPCError(FinVeilError):
    """A secure multi-party computation failed."""


class ShareMismatch(SMPCError):
    """Shares do not belong together (length, session or party mismatch)."""


class PartyDropped(SMPCError):
    """A party disconnected or stopped answering."""


class SessionAborted(SMPCError):
    """A session was aborted; nothing was revealed."""

    def __init__(self, message: str, *, party: str | None = None) -> None:
        super().__init__(message)
        self.party = party


class PolicyDenied(FinVeilError):
    """An access policy denied the request (it is audited)."""


class IntegrityError(FinVeilError):
    """A file, signature, audit chain or ciphertext failed an integrity check."""


class NotFittedError(FinVeilError, ValueError, AttributeError):
    """A model or transformer was used before ``fit``."""


class EnclaveError(FinVeilError):
    """The enclave runtime failed (crash, timeout, protocol error)."""


class AttestationError(EnclaveError):
    """A quote failed verification or policy."""


class SealingError(EnclaveError):
    """Sealed data could not be unsealed by this enclave."""
