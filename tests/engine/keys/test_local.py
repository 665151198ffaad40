from __future__ import annotations

import json
from pathlib import Path

import pytest

from engine.errors import KeyringLocked
from engine.keys import AuditLog, KeyPurpose, KeyRing
from engine.keys._local import (
    STANDARD_KEYS,
    audit_path_for,
    default_keyring_path,
    open_local,
    root_key_path_for,
)


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("FINVEIL_HOME", str(tmp_path / "fv"))
    monkeypatch.delenv("FINVEIL_KEYRING_PASSPHRASE", raising=False)
    return tmp_path / "fv"


def test_default_paths(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert default_keyring_path() == home / "keyring.json"
    assert root_key_path_for(home / "keyring.json") == home / "keyring.root"
    assert audit_path_for(home / "keyring.json") == home / "audit.jsonl"
    assert audit_path_for(home / "bank.json") == home / "bank.audit.jsonl"
    monkeypatch.delenv("FINVEIL_HOME")
    assert default_keyring_path() == Path("~/.finveil/keyring.json").expanduser()


def test_open_default_creates_then_opens(home: Path) -> None:
    ring, created = KeyRing.open_default()
    assert created
    assert ring.path == home / "keyring.json"
    assert ring.root_kind == "keyfile"
    assert (home / "keyring.root").stat().st_size == 32
    key = ring.ensure("tokenize.pan", KeyPurpose.TOKENIZE)
    again, created_again = KeyRing.open_default()
    assert not created_again
    assert again.primary("tokenize.pan") == key
    assert again.audit_log is not None
    assert again.audit_log.path == home / "audit.jsonl"
    AuditLog.verify(home / "audit.jsonl", again.primary("audit"))


def test_open_default_with_passphrase(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FINVEIL_KEYRING_PASSPHRASE", "s3cret passphrase")
    ring, created = KeyRing.open_default()
    assert created
    assert ring.root_kind == "scrypt"
    assert not (home / "keyring.root").exists()
    key = ring.ensure("quarantine", KeyPurpose.QUARANTINE)
    assert KeyRing.open_default()[0].primary("quarantine") == key
    monkeypatch.delenv("FINVEIL_KEYRING_PASSPHRASE")
    with pytest.raises(KeyringLocked, match="set FINVEIL_KEYRING_PASSPHRASE"):
        KeyRing.open_default()
    monkeypatch.setenv("FINVEIL_KEYRING_PASSPHRASE", "wrong")
    with pytest.raises(KeyringLocked, match="wrong passphrase"):
        KeyRing.open_default()


def test_keyfile_keyring_ignores_passphrase_variable(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    KeyRing.open_default()[0].ensure("manifest", KeyPurpose.MANIFEST)
    monkeypatch.setenv("FINVEIL_KEYRING_PASSPHRASE", "irrelevant")
    assert KeyRing.open_default()[0].primary("manifest").version == 1


def test_missing_root_file(home: Path) -> None:
    KeyRing.open_default()
    (home / "keyring.root").unlink()
    with pytest.raises(KeyringLocked, match="cannot read root key file"):
        KeyRing.open_default()


def test_custom_path_and_unknown_root_kind(tmp_path: Path, home: Path) -> None:
    path = tmp_path / "bank" / "bank.json"
    _ring, created = open_local(path, create=True)
    assert created
    assert (tmp_path / "bank" / "bank.root").exists()
    assert (tmp_path / "bank" / "bank.audit.jsonl").exists()
    doc = json.loads(path.read_bytes())
    doc["root"]["kind"] = "sealed"
    path.write_text(json.dumps(doc))
    with pytest.raises(KeyringLocked, match="'sealed'"):
        open_local(path, create=False)


def test_creation_race_opens_the_winner(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    winner, _ = KeyRing.open_default()
    key = winner.ensure("tokenize.id", KeyPurpose.TOKENIZE)
    real_exists = Path.exists
    calls = {"n": 0}

    def first_false(self: Path) -> bool:  # the loser saw no keyring, then lost the race
        if self.name == "keyring.json" and calls["n"] == 0:
            calls["n"] += 1
            return False
        return real_exists(self)

    monkeypatch.setattr(Path, "exists", first_false)
    loser, created = KeyRing.open_default()
    assert not created
    assert loser.primary("tokenize.id") == key


def test_standard_keys_cover_the_job() -> None:
    ids = {key_id for key_id, _ in STANDARD_KEYS}
    kinds = ("id", "name", "ssn", "pan", "iban", "email", "phone", "date", "text")
    assert {f"tokenize.{k}" for k in kinds} | {"quarantine", "manifest", "audit"} == ids
