from __future__ import annotations

from base64 import b64encode
from pathlib import Path

import pytest

import engine.cli as cli
from engine.keys import KeyPurpose, KeyRing


@pytest.fixture(autouse=True)
def only_keys_commands(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    # Other command modules are developed in parallel; these tests exercise ours alone.
    monkeypatch.setattr(cli, "_COMMAND_MODULES", ("keys",))
    monkeypatch.setenv("FINVEIL_HOME", str(tmp_path / "fv"))
    monkeypatch.delenv("FINVEIL_KEYRING_PASSPHRASE", raising=False)
    return tmp_path / "fv"


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def _secrets(ring: KeyRing) -> list[str]:
    found = []
    for info in ring.list():
        for v in info.versions:
            if v.state.value != "retired":
                secret = ring.get(info.key_id, v.version).secret
                found += [secret.hex(), b64encode(secret).decode()]
    return found


def test_init_list_rotate_retire_verify(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    home = tmp_path / "fv"
    code, out, _ = _run(capsys, "keys", "init")
    assert code == 0
    assert f"created keyring {home / 'keyring.json'} (12 keys)" in out
    assert str(home / "keyring.root") in out
    assert str(home / "audit.jsonl") in out

    code, out, _ = _run(capsys, "keys", "list")
    assert code == 0
    assert f"keyring: {home / 'keyring.json'}" in out
    assert "tokenize.pan" in out
    assert "primary" in out

    code, out, _ = _run(capsys, "keys", "rotate", "tokenize.pan")
    assert (code, out.split(":")[0]) == (0, "rotated tokenize.pan")
    assert "version 2 is now primary" in out
    code, out, _ = _run(capsys, "keys", "retire", "tokenize.pan", "1")
    assert code == 0
    assert "retired tokenize.pan version 1" in out

    code, out, _ = _run(capsys, "audit", "verify")
    assert code == 0
    assert "entries verified" in out

    ring, _ = KeyRing.open_default()
    code, listing, _ = _run(capsys, "keys", "list")
    for secret in _secrets(ring):
        assert secret not in listing


def test_errors_are_one_line(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, _, err = _run(capsys, "keys", "list")
    assert code == 1
    assert "no keyring at" in err
    assert "finveil keys init" in err
    _run(capsys, "keys", "init")
    code, _, err = _run(capsys, "keys", "init")
    assert (code, "already exists" in err) == (1, True)
    code, _, err = _run(capsys, "keys", "retire", "tokenize.pan", "1")
    assert code == 1
    assert "rotate it first" in err
    code, _, err = _run(capsys, "keys", "rotate", "tokenize.nope")
    assert code == 1
    assert "KeyNotFound" in err


def test_retire_in_use_refused(capsys: pytest.CaptureFixture[str]) -> None:
    _run(capsys, "keys", "init")
    ring, _ = KeyRing.open_default()
    ring.rotate("tokenize.iban")
    ring.record_usage("loans-2026", "tokenize.iban", 1)
    code, _, err = _run(capsys, "keys", "retire", "tokenize.iban", "1")
    assert code == 1
    assert "loans-2026" in err
    assert "retokenize" in err


def test_audit_verify_names_the_tampered_line(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    _run(capsys, "keys", "init")
    _run(capsys, "keys", "rotate", "manifest")
    log = tmp_path / "fv" / "audit.jsonl"
    lines = log.read_text().splitlines(keepends=True)
    del lines[1]
    log.write_text("".join(lines))
    code, _, err = _run(capsys, "audit", "verify", str(log))
    assert code == 1
    assert "IntegrityError" in err
    assert "line 2 (entry 1)" in err


def test_explicit_keyring_and_root_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = tmp_path / "custom" / "ring.json"
    root = tmp_path / "custom" / "my.root"
    code, out, _ = _run(
        capsys, "keys", "init", "--keyring", str(path), "--root-key-file", str(root)
    )
    assert code == 0
    assert str(root) in out
    assert root.stat().st_size == 32
    code, out, _ = _run(
        capsys, "keys", "list", "--keyring", str(path), "--root-key-file", str(root)
    )
    assert code == 0
    assert str(path) in out
    ring = KeyRing.open(path, root_key_file=root)
    assert ring.info("audit").purpose is KeyPurpose.AUDIT


def test_passphrase_keyring(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FINVEIL_KEYRING_PASSPHRASE", "a long passphrase")
    code, out, _ = _run(capsys, "keys", "init")
    assert code == 0
    assert "passphrase (scrypt) from $FINVEIL_KEYRING_PASSPHRASE" in out
    assert "a long passphrase" not in out
    monkeypatch.setenv("FINVEIL_KEYRING_PASSPHRASE", "wrong")
    code, _, err = _run(capsys, "keys", "list")
    assert code == 1
    assert "KeyringLocked" in err
    assert "wrong passphrase" in err


def test_group_without_action_shows_usage(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        cli.main(["keys"])
    assert exc.value.code == 2
