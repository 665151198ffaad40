from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from engine.errors import IntegrityError, KeyManagementError, KeyringLocked
from engine.keys.backends import KeyFileRoot, PassphraseRoot


def test_passphrase_header_and_determinism() -> None:
    root = PassphraseRoot("pw")
    header = root.new_header()
    assert header["kind"] == "scrypt"
    assert (header["n"], header["r"], header["p"]) == (2**15, 8, 1)
    assert root.unlock(header).check_value() == PassphraseRoot("pw").unlock(header).check_value()
    assert root.unlock(header).check_value() != PassphraseRoot("pw2").unlock(header).check_value()
    assert root.new_header()["salt"] != header["salt"]
    assert "pw" not in repr(root)


def test_passphrase_is_nfc_normalized() -> None:
    header = PassphraseRoot("x").new_header()
    composed, decomposed = "caf\u00e9", "cafe\u0301"
    assert (
        PassphraseRoot(composed).unlock(header).check_value()
        == PassphraseRoot(decomposed).unlock(header).check_value()
    )


def test_empty_passphrase_rejected() -> None:
    with pytest.raises(ValueError, match="non-empty"):
        PassphraseRoot("")


@pytest.mark.parametrize(
    "change",
    [
        {"n": 2**10},  # too weak
        {"n": 2**24},  # memory exhaustion
        {"n": 3 * 2**14},  # not a power of two
        {"r": 0},
        {"p": 99},
        {"n": "32768"},
        {"salt": "AAAA"},  # too short
    ],
)
def test_tampered_scrypt_parameters_rejected(change: dict[str, Any]) -> None:
    root = PassphraseRoot("pw")
    header = {**root.new_header(), **change}
    with pytest.raises(IntegrityError, match="scrypt parameters"):
        root.unlock(header)


def test_missing_scrypt_parameters() -> None:
    with pytest.raises(IntegrityError, match="missing or malformed"):
        PassphraseRoot("pw").unlock({"kind": "scrypt"})


def test_key_file_generate_and_read(tmp_path: Path) -> None:
    root = KeyFileRoot.generate(tmp_path / "root")
    assert (root.path.stat().st_mode & 0o777) == 0o600
    assert len(root.path.read_bytes()) == 32
    assert (
        root.unlock(root.new_header()).check_value()
        == KeyFileRoot(root.path).unlock({}).check_value()
    )
    with pytest.raises(KeyManagementError, match="already exists"):
        KeyFileRoot.generate(root.path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["root"]


def test_key_file_checks(tmp_path: Path) -> None:
    path = tmp_path / "root"
    with pytest.raises(KeyringLocked, match="cannot read root key file"):
        KeyFileRoot(path).unlock({})
    path.write_bytes(b"x" * 32)
    path.chmod(0o644)
    with pytest.raises(KeyringLocked, match="chmod 600"):
        KeyFileRoot(path).unlock({})
    path.chmod(0o600)
    KeyFileRoot(path).unlock({})
    path.write_bytes(b"x" * 33)
    with pytest.raises(KeyringLocked, match="exactly 32 bytes"):
        KeyFileRoot(path).unlock({})
    with pytest.raises(KeyManagementError, match="cannot create"):
        KeyFileRoot.generate(tmp_path / "no-dir" / "root")
