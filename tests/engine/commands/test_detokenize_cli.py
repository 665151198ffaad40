from __future__ import annotations

import json
import stat
from pathlib import Path

import pandas as pd
import pytest

import engine.cli as cli
from engine.keys import AuditLog
from engine.keys._local import audit_path_for, open_local
from engine.tokenize import Kind, tokenize_frame

PANS = ["4111111111111111", "5500005555555559", "340000000000009", "6011000000000004"]
POLICY = """
[roles.analyst]
kinds = ["pan"]
purposes = ["fraud-investigation"]
max_rows = 100

[principals.alice]
roles = ["analyst"]

[principals.bob]
roles = ["analyst"]
approver = true
"""


@pytest.fixture(autouse=True)
def only_our_commands(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    # Other command modules are developed in parallel; these tests exercise ours alone.
    monkeypatch.setattr(cli, "_COMMAND_MODULES", ("keys", "detokenize"))
    monkeypatch.setenv("FINVEIL_HOME", str(tmp_path / "fv"))
    monkeypatch.delenv("FINVEIL_KEYRING_PASSPHRASE", raising=False)


@pytest.fixture
def keyring(tmp_path: Path) -> Path:
    path = tmp_path / "fv" / "keyring.json"
    assert cli.main(["keys", "init", "--keyring", str(path)]) == 0
    path.with_name("policy.toml").write_text(POLICY)
    return path


def _tokens(keyring: Path, tmp_path: Path, suffix: str) -> tuple[pd.DataFrame, Path]:
    ring, _ = open_local(keyring, create=False, audit=False)
    original = pd.DataFrame({"pan": PANS, "amount_cents": ["100", "250", "999", "5"]})
    key = ring.primary("tokenize.pan")
    tokens = tokenize_frame(original, {"pan": "pan"}, {Kind.PAN: key}).frame
    path = tmp_path / f"tokens{suffix}"
    if suffix == ".parquet":
        tokens.to_parquet(path, index=False)
    else:
        tokens.to_csv(path, index=False)
    return original, path


def _argv(file: Path, out: Path, keyring: Path, *extra: str) -> list[str]:
    return [
        "detokenize", str(file), "--column", "pan", "--kind", "pan", "--principal", "alice",
        "--purpose", "fraud-investigation", "--justification", "case FR-2026-0042",
        "--out", str(out), "--keyring", str(keyring), *extra,
    ]  # fmt: skip


def _entries(keyring: Path) -> list[dict[str, object]]:
    ring, _ = open_local(keyring, create=False, audit=False)
    return AuditLog.read(audit_path_for(keyring), lambda v: ring.get("audit", v))


@pytest.mark.parametrize("suffix", [".parquet", ".csv"])
def test_round_trip_with_approval_then_without(
    keyring: Path, tmp_path: Path, suffix: str, capsys: pytest.CaptureFixture[str]
) -> None:
    original, file = _tokens(keyring, tmp_path, suffix)
    assert not set(pd.read_csv(file, dtype=str)["pan"] if suffix == ".csv"
                   else pd.read_parquet(file)["pan"]) & set(PANS)  # fmt: skip
    out = tmp_path / f"plain{suffix}"
    # The first use of a kind by a principal is a step-up: it needs a second approver.
    assert cli.main(_argv(file, out, keyring, "--approver", "bob")) == 0
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    plain = pd.read_parquet(out) if suffix == ".parquet" else pd.read_csv(out, dtype=str)
    pd.testing.assert_frame_equal(plain, original)
    printed = capsys.readouterr().out
    assert "detokenized 4 rows" in printed
    assert not any(pan in printed for pan in PANS)
    out2 = tmp_path / f"again{suffix}"
    assert cli.main(_argv(file, out2, keyring)) == 0
    decisions = [(e["action"], e["decision"]) for e in _entries(keyring)
                 if str(e["action"]).startswith(("detokenize", "key.release"))]  # fmt: skip
    assert ("detokenize.approve", "allow") in decisions
    assert decisions.count(("detokenize", "allow")) == 2
    assert not any(pan in audit_path_for(keyring).read_text() for pan in PANS)


def test_denial_is_audited_and_nothing_written(
    keyring: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, file = _tokens(keyring, tmp_path, ".parquet")
    out = tmp_path / "plain.parquet"
    argv = _argv(file, out, keyring, "--approver", "bob")
    argv[argv.index("alice")] = "mallory"
    assert cli.main(argv) == 1
    err = capsys.readouterr().err
    assert "PolicyDenied" in err
    assert not out.exists()
    last = _entries(keyring)[-1]
    assert (last["who"], last["action"], last["decision"]) == ("mallory", "detokenize", "deny")
    assert str(last["reason"]).startswith("unknown_principal")
    assert last["rows"] == 4


def test_step_up_without_approver_is_denied(
    keyring: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, file = _tokens(keyring, tmp_path, ".csv")
    out = tmp_path / "plain.csv"
    assert cli.main(_argv(file, out, keyring)) == 1
    assert "step_up_required" in capsys.readouterr().err
    assert not out.exists()
    assert str(_entries(keyring)[-1]["reason"]).startswith("step_up_required")


def test_retired_version_is_refused(
    keyring: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, file = _tokens(keyring, tmp_path, ".csv")
    assert cli.main(["keys", "rotate", "tokenize.pan", "--keyring", str(keyring)]) == 0
    assert cli.main(["keys", "retire", "tokenize.pan", "1", "--keyring", str(keyring)]) == 0
    out = tmp_path / "plain.csv"
    argv = _argv(file, out, keyring, "--approver", "bob", "--key-version", "1")
    assert cli.main(argv) == 1
    assert "retired" in capsys.readouterr().err
    assert not out.exists()
    last = _entries(keyring)[-1]
    assert (last["action"], last["decision"], last["key_version"]) == ("key.release", "deny", 1)


def test_bad_inputs(keyring: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _, file = _tokens(keyring, tmp_path, ".csv")
    argv = _argv(file, tmp_path / "x.csv", keyring)
    argv[argv.index("--column") + 1] = "nope"
    assert cli.main(argv) == 1
    assert "no column 'nope'" in capsys.readouterr().err
    existing = tmp_path / "exists.csv"
    existing.write_text("a\n1\n")
    assert cli.main(_argv(file, existing, keyring)) == 1
    assert "refusing to overwrite" in capsys.readouterr().err
    assert cli.main(_argv(file, tmp_path / "out.json", keyring)) == 1
    assert "unsupported format" in capsys.readouterr().err
    assert json.dumps(_entries(keyring)).count('"detokenize"') == 0
