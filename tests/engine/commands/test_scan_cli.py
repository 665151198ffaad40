from __future__ import annotations

import json
from pathlib import Path

import pytest

from engine.cli import main

PAN = "4111111111111111"


@pytest.fixture
def tree(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("FINVEIL_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("FINVEIL_KEYRING_PASSPHRASE", raising=False)
    root = tmp_path / "data"
    root.mkdir()
    (root / "app.log").write_text(f"card {PAN}\nmail jo.doe@example.com\n")
    (root / "c.csv").write_text("ssn,x\n123-45-6789,1\n")
    (root / "blob.bin").write_bytes(b"\x00" * 64)
    return root


def test_exit_codes_and_fail_on(tree: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["scan", str(tree)]) == 1
    out = capsys.readouterr().out
    assert "411111******1111" in out
    assert PAN not in out
    assert "skipped" in out
    assert main(["scan", str(tree), "--fail-on", "iban"]) == 0
    assert main(["scan", str(tree / "blob.bin")]) == 0
    assert main(["scan", str(tree), "--fail-on", "bogus"]) == 1
    assert "unknown kind" in capsys.readouterr().err


def test_json_output_has_no_values(tree: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["scan", str(tree), "--format", "json"]) == 1
    captured = capsys.readouterr()
    doc = json.loads(captured.out)
    assert doc["summary"]["by_kind"] == {"email": 1, "pan": 1, "ssn": 1}
    for raw in (PAN, "jo.doe@example.com", "123-45-6789"):
        assert raw not in captured.out + captured.err


def test_fix_is_audited(tree: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["scan", str(tree), "--fix", "--format", "json"]) == 1
    doc = json.loads(capsys.readouterr().out)
    assert sorted(a["action"] for a in doc["fixes"]) == ["redacted", "tokenized"]
    assert "123-45-6789" not in (tree / "c.csv").read_text()
    assert PAN not in (tree / "app.redacted.log").read_text()
    audit = (tree.parent / "home" / "audit.jsonl").read_text()
    assert "discovery.fix.tokenized" in audit
    assert "discovery.fix.redacted" in audit
    assert PAN not in audit
    assert "c.csv" not in audit  # datasets appear only as keyed hashes


def test_missing_path(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["scan", str(tmp_path / "nope")]) == 1
    assert "no such file" in capsys.readouterr().err
