"""Fixtures for key release: a keyring with an audit log and its client identity."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from engine.keys import KeyRing


def make_keyring(directory: Path) -> KeyRing:
    """Create a keyring with a key-file root and an attached audit log in ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    root = directory / "root.key"
    root.write_bytes(secrets.token_bytes(32))
    os.chmod(root, 0o600)
    return KeyRing.create(
        directory / "keyring.json",
        root_key_file=root,
        audit_path=directory / "audit.jsonl",
        principal="keyring-admin",
    )


@pytest.fixture(scope="session")
def keyring_identity() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


@pytest.fixture
def keyring(tmp_path: Path) -> KeyRing:
    return make_keyring(tmp_path / "keys")
