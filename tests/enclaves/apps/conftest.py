"""Fixtures for the shipped apps: identities of the keyring and of the app's clients."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from enclaves.keyrelease import client_id_of
from engine.keys import KeyRing
from tests.enclaves.keyrelease.conftest import make_keyring


def hex_ids(*keys: Ed25519PrivateKey) -> str:
    """Return a TOML list of the client ids of ``keys``."""
    return json.dumps([client_id_of(k).hex() for k in keys])


@pytest.fixture(scope="session")
def keyring_identity() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


@pytest.fixture(scope="module")
def module_keyring(tmp_path_factory: pytest.TempPathFactory) -> KeyRing:
    return make_keyring(tmp_path_factory.mktemp("keys") / "ring")


def audit_path(keyring: KeyRing) -> Path:
    """Return the keyring's audit log path."""
    assert keyring.audit_log is not None
    return keyring.audit_log.path
