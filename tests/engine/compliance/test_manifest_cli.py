from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

import engine.cli as cli
from engine.compliance import fingerprint_file, write_signed_manifest
from engine.keys import KeyPurpose
from engine.keys._local import audit_path_for, open_local
from tests.engine.compliance.conftest import predicate, write_outputs


@pytest.fixture(autouse=True)
def only_manifest_commands(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    # Other command modules are developed in parallel; these tests exercise ours alone.
    monkeypatch.setattr(cli, "_COMMAND_MODULES", ("manifest",))
    monkeypatch.setenv("FINVEIL_HOME", str(tmp_path / "fv"))
    monkeypatch.delenv("FINVEIL_KEYRING_PASSPHRASE", raising=False)


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def job(tmp_path: Path) -> Path:
    """A job signed with the local keyring's manifest key, its audit range anchored."""
    ring, _ = open_local(tmp_path / "fv" / "keyring.json", create=True)
    audit = ring.attach_audit(audit_path_for(ring.path), principal="job")
    start = audit.append(who="job", action="job.start", decision="allow")
    key = ring.ensure("manifest", KeyPurpose.MANIFEST)
    fingerprint = ring.ensure("manifest.fingerprint", KeyPurpose.MANIFEST)
    raw = tmp_path / "in.csv"
    raw.write_text("pan\n4111111111111111\n")
    out = tmp_path / "jobs" / "nightly"
    write_outputs(out)
    pred = predicate(
        name="nightly",
        inputs=[{"name": str(raw), "fingerprint": fingerprint_file(raw, fingerprint)}],
    )
    write_signed_manifest(out, pred, key=key, audit=audit, audit_first_seq=start.seq)
    return out


def test_verify_pins_key_and_checks_audit(
    job: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = _run(capsys, "manifest", "verify", str(job))
    assert code == 0
    assert "OK" in out
    assert "3 outputs match" in out
    assert "rows 6 = 5 out + 1 quarantined" in out
    assert "pin the signer" in err
    code, pem, _ = _run(capsys, "manifest", "pubkey")
    assert code == 0
    assert pem.startswith("-----BEGIN PUBLIC KEY-----")
    assert "PRIVATE" not in pem
    (tmp_path / "signer.pem").write_text(pem)
    log = tmp_path / "fv" / "audit.jsonl"
    pinned = ("--public-key", str(tmp_path / "signer.pem"), "--audit", str(log))
    code, out, err = _run(capsys, "manifest", "verify", str(job / "manifest.json"), *pinned)
    assert code == 0, err
    assert re.search(r"audit entries \d+\.\.\d+ verified", out)
    assert "pin the signer" not in err


def test_verify_fails_with_reason(
    job: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (job / "quarantine.parquet").write_bytes(b"\x00")
    code, _out, err = _run(capsys, "manifest", "verify", str(job))
    assert code == 1
    assert "IntegrityError" in err
    assert "quarantine.parquet: sha256 differs (changed)" in err
    code, _, err = _run(capsys, "manifest", "verify", str(tmp_path / "nowhere"))
    assert code == 1
    assert "cannot read manifest" in err


def test_audit_tampering_fails_the_command(
    job: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log = tmp_path / "fv" / "audit.jsonl"
    lines = log.read_text().splitlines(keepends=True)
    entry = json.loads(lines[-1])
    entry["who"] = "someone-else"
    lines[-1] = json.dumps(entry, sort_keys=True, separators=(",", ":")) + "\n"
    log.write_text("".join(lines))
    code, _, err = _run(capsys, "manifest", "verify", str(job), "--audit", str(log))
    assert code == 1
    assert "fails its MAC" in err


def test_report_writes_html_and_openlineage(
    job: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    page = tmp_path / "report.html"
    code, out, err = _run(capsys, "manifest", "report", str(job), "--html", str(page))
    assert code == 0, err
    assert "Protection per column" in out
    assert "tokenize.pan" in out
    assert "<h1>FinVeil compliance report</h1>" in page.read_text()
    event = json.loads((job / "manifest.openlineage.json").read_text())
    assert event["eventType"] == "COMPLETE"
    assert event["job"]["name"] == "nightly"
    # The event file beside the manifest is not an output: the job still verifies.
    assert _run(capsys, "manifest", "verify", str(job))[0] == 0
    code, out, _ = _run(capsys, "manifest", "report", str(tmp_path / "jobs"))
    assert code == 0
    assert "Job" in out
    (job / "scores.parquet").write_bytes(b"x")
    code, out, err = _run(capsys, "manifest", "report", str(tmp_path / "jobs"))
    assert code == 1
    assert "FAILED" in out
    assert "failed verification" in err
    code, _, err = _run(capsys, "manifest", "report", str(tmp_path / "missing"))
    assert code == 1
    assert "no manifest.json" in err
