from __future__ import annotations

from pathlib import Path

import pytest

from engine.keys import KeyPurpose, KeyRing
from engine.keys.backends import KeyFileRoot


@pytest.fixture
def root_file(tmp_path: Path) -> Path:
    return KeyFileRoot.generate(tmp_path / "root.key").path


@pytest.fixture
def ring_path(tmp_path: Path) -> Path:
    return tmp_path / "keyring.json"


@pytest.fixture
def ring(ring_path: Path, root_file: Path) -> KeyRing:
    kr = KeyRing.create(ring_path, root_key_file=root_file)
    kr.ensure("tokenize.pan", KeyPurpose.TOKENIZE)
    return kr
