from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from engine.cli import main
from engine.compliance import fingerprint_file, verify_manifest
from engine.compliance._dsse import public_key_pem
from engine.errors import IntegrityError
from engine.keys import KeyPurpose, KeyRing

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


def _manifest_key(tree: Path) -> bytes:
    ring, _ = KeyRing.open_default(tree.parent / "home" / "keyring.json")
    return public_key_pem(ring.ensure("manifest", KeyPurpose.MANIFEST))


def test_fix_writes_a_signed_manifest_over_the_changed_files(
    tree: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    raw = (tree / "c.csv").read_bytes()
    assert main(["scan", str(tree), "--fix"]) == 1
    out = capsys.readouterr().out
    manifest = tree.parent / "data.finveil-scan"
    assert f"signed manifest {manifest / 'manifest.json'}" in out
    home = tree.parent / "home"
    audit_key = KeyRing.open_default(home / "keyring.json")[0].get("audit", 1)
    report = verify_manifest(
        manifest, public_key=_manifest_key(tree), audit_path=home / "audit.jsonl",
        audit_key=audit_key,
    )  # fmt: skip
    assert set(report.subjects) == {"c.csv", "app.redacted.log"}
    p = report.predicate
    assert p["job"]["kind"] == "scan-fix"
    assert p["rows"] == {"in": 2, "out": 2, "quarantined": 0, "reconciled": True}
    ssn = p["protection"][f"{tree / 'c.csv'}:ssn"]
    assert (ssn["key_id"], ssn["method"]) == ("tokenize.ssn", "FF1")
    assert p["protection"][str(tree / "app.redacted.log")]["method"] == "redaction"
    # Inputs are keyed fingerprints of the files as they were before the fix.
    fingerprints = {i["name"]: i["fingerprint"]["value"] for i in p["inputs"]}
    ring, _ = KeyRing.open_default(home / "keyring.json")
    key = ring.ensure("manifest.fingerprint", KeyPurpose.MANIFEST)
    before = tree.parent / "before.csv"
    before.write_bytes(raw)
    assert fingerprints[str(tree / "c.csv")] == fingerprint_file(before, key)["value"]
    assert {"discovery.fix.tokenized", "manifest.sign"} <= set(p["audit"]["summary"]["actions"])
    text = (manifest / "manifest.json").read_text()
    assert "123-45-6789" not in base64.b64decode(json.loads(text)["payload"]).decode()
    # A changed output fails verification, naming the file.
    (tree / "c.csv").write_text("ssn,x\n123-45-6789,1\n")
    with pytest.raises(IntegrityError, match=r"c\.csv: sha256 differs"):
        verify_manifest(manifest, public_key=_manifest_key(tree))


def test_fix_manifest_location(tree: Path, capsys: pytest.CaptureFixture[str]) -> None:
    other = tree.parent / "other.csv"
    other.write_text("ssn\n123-45-6789\n")
    assert main(["scan", str(tree), str(other), "--fix"]) == 1
    assert "needs --manifest DIR" in capsys.readouterr().err
    assert "123-45-6789" in other.read_text()  # refused before anything changed
    target = tree.parent / "evidence"
    assert main(["scan", str(tree), str(other), "--fix", "--manifest", str(target)]) == 1
    report = verify_manifest(target, public_key=_manifest_key(tree))
    assert report.predicate["subject_root"] == ".."
    assert set(report.subjects) == {"data/c.csv", "data/app.redacted.log", "other.csv"}
    # Nothing left to change: no manifest.
    capsys.readouterr()
    assert main(["scan", str(tree / "blob.bin"), "--fix"]) == 0
    assert not (tree / "blob.bin.finveil-scan").exists()
