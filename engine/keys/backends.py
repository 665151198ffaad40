"""Keyring storage backends and root key sources, for plugging in a KMS, HSM or enclave."""

from engine.keys._backend import FileBackend, KeyringBackend
from engine.keys._envelope import KeyWrapper, LocalWrapper
from engine.keys._root import KeyFileRoot, PassphraseRoot, RootKeySource

__all__ = [
    "FileBackend",
    "KeyFileRoot",
    "KeyWrapper",
    "KeyringBackend",
    "LocalWrapper",
    "PassphraseRoot",
    "RootKeySource",
]
