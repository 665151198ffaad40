from __future__ import annotations

from pathlib import Path

import pytest

from tests.engine.discovery.corpus import Corpus, build


@pytest.fixture(scope="session")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Corpus:
    return build(tmp_path_factory.mktemp("corpus"))


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("FINVEIL_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("FINVEIL_KEYRING_PASSPHRASE", raising=False)
    return tmp_path / "home"
