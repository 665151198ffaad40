from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest

from engine.compliance import (
    fingerprint_file,
    sign_envelope,
    verify_manifest,
    write_signed_manifest,
)
from engine.compliance._dsse import public_key_pem
from engine.errors import IntegrityError
from engine.keys import AuditLog, KeyMaterial
from tests.engine.compliance.conftest import (
    AUDIT_KEY,
    FINGERPRINT_KEY,
    MANIFEST_KEY,
    JobMaker,
    predicate,
    write_outputs,
)

PUB = public_key_pem(MANIFEST_KEY)
ATTACKER = KeyMaterial(key_id="manifest", version=1, secret=bytes(range(100, 132)))


def _envelope(job: Path) -> dict[str, Any]:
    envelope: dict[str, Any] = json.loads((job / "manifest.json").read_text())
    return envelope


def _statement(job: Path) -> dict[str, Any]:
    statement: dict[str, Any] = json.loads(base64.b64decode(_envelope(job)["payload"]))
    return statement


def test_write_and_verify_with_only_the_public_key(make_job: JobMaker, tmp_path: Path) -> None:
    job = make_job()
    envelope = _envelope(job)
    assert envelope["payloadType"] == "application/vnd.in-toto+json"
    assert (job / "manifest.pub").read_bytes() == PUB
    # Human-readable: indented JSON, one field per line.
    assert (job / "manifest.json").read_text().count("\n") > 5
    report = verify_manifest(job, public_key=PUB)
    assert report.is_key_pinned
    assert set(report.subjects) == {"quarantine.parquet", "scores.parquet", "tokenized.parquet"}
    p = report.predicate
    assert p["signer"]["keyid"] == report.keyid
    assert p["signer"]["key_id"] == "manifest"
    assert p["code"]["finveil_version"]
    assert len(p["code"]["package_sha256"]) == 64
    assert p["audit"]["first_seq"] == 0
    assert p["audit"]["last_seq"] == 3  # job.start, key.release, detokenize, manifest.sign
    summary = p["audit"]["summary"]
    assert summary["actions"]["manifest.sign"] == 1
    assert {"key_id": "tokenize.pan", "key_version": 2, "action": "key.release", "count": 1} in (
        summary["key_use"]
    )
    assert [a["action"] for a in summary["anomalies"]] == ["detokenize"]
    # Verification needs nothing but the public key file beside the manifest.
    unpinned = verify_manifest(job / "manifest.json")
    assert not unpinned.is_key_pinned
    assert unpinned.statement == report.statement
    with_audit = verify_manifest(
        job, public_key=PUB, audit_path=tmp_path / "audit.jsonl", audit_key=AUDIT_KEY
    )
    assert with_audit.audit_head is not None
    assert with_audit.audit_head.seq == 3


def test_manifest_holds_no_raw_input(make_job: JobMaker, tmp_path: Path) -> None:
    job = make_job()
    raw = (tmp_path / "fraud-daily.csv").read_bytes()
    text = base64.b64decode(_envelope(job)["payload"]).decode()
    assert "4111111111111111" not in text
    import hashlib

    assert hashlib.sha256(raw).hexdigest() not in text
    fp = _statement(job)["predicate"]["inputs"][0]["fingerprint"]
    assert fp == fingerprint_file(tmp_path / "fraud-daily.csv", FINGERPRINT_KEY)
    other = KeyMaterial(key_id="manifest.fingerprint", version=2, secret=bytes(range(32)))
    assert fingerprint_file(tmp_path / "fraud-daily.csv", other)["value"] != fp["value"]


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ("output_byte", r"scores\.parquet: sha256 differs \(changed\)"),
        ("missing_output", r"tokenized\.parquet: missing"),
        ("extra_output", r"notes\.txt: extra file not in the manifest"),
        ("manifest_field", "does not verify"),
        ("signature", "does not verify"),
        ("payload_type", "payloadType"),
        ("not_json", "not valid JSON"),
        ("no_public_key", "no public key"),
    ],
)
def test_tampering_is_detected_with_reason(make_job: JobMaker, change: str, reason: str) -> None:
    job = make_job()
    envelope = _envelope(job)
    if change == "output_byte":
        data = bytearray((job / "scores.parquet").read_bytes())
        data[len(data) // 2] ^= 0x01
        (job / "scores.parquet").write_bytes(bytes(data))
    elif change == "missing_output":
        (job / "tokenized.parquet").unlink()
    elif change == "extra_output":
        (job / "notes.txt").write_text("x")
    elif change == "manifest_field":
        statement = _statement(job)
        statement["predicate"]["protection"]["pan"]["key_version"] = 1
        envelope["payload"] = base64.b64encode(json.dumps(statement).encode()).decode()
    elif change == "signature":
        sig = bytearray(base64.b64decode(envelope["signatures"][0]["sig"]))
        sig[0] ^= 0x80
        envelope["signatures"][0]["sig"] = base64.b64encode(bytes(sig)).decode()
    elif change == "payload_type":
        envelope["payloadType"] = "application/vnd.finveil+json"
    if change in ("manifest_field", "signature", "payload_type"):
        (job / "manifest.json").write_text(json.dumps(envelope))
    if change == "not_json":
        (job / "manifest.json").write_text("{")
    if change == "no_public_key":
        (job / "manifest.pub").unlink()
        with pytest.raises(IntegrityError, match=reason):
            verify_manifest(job)
        return
    with pytest.raises(IntegrityError, match=reason):
        verify_manifest(job, public_key=PUB)


def test_resigning_by_another_key_fails_only_when_pinned(make_job: JobMaker) -> None:
    job = make_job()
    (job / "scores.parquet").write_bytes(b"forged")
    statement = _statement(job)
    statement["subject"] = [
        s if s["name"] != "scores.parquet" else {**s, "digest": {"sha256": _sha(b"forged")}}
        for s in statement["subject"]
    ]
    from engine.compliance._dsse import keyid_of

    statement["predicate"]["signer"]["keyid"] = keyid_of(ATTACKER)
    (job / "manifest.json").write_text(json.dumps(sign_envelope(statement, ATTACKER)))
    (job / "manifest.pub").write_bytes(public_key_pem(ATTACKER))
    with pytest.raises(IntegrityError, match="no signature by key"):
        verify_manifest(job, public_key=PUB)
    # Self-consistent, but the report says the signer was not pinned.
    assert not verify_manifest(job).is_key_pinned


def _sha(data: bytes) -> str:
    import hashlib

    return hashlib.sha256(data).hexdigest()


def _rewrite_audit(path: Path, index: int, change: str) -> None:
    lines = path.read_bytes().splitlines(keepends=True)
    if change == "edit":
        entry = json.loads(lines[index])
        entry["decision"] = "allow"
        lines[index] = (json.dumps(entry, sort_keys=True, separators=(",", ":")) + "\n").encode()
    elif change == "delete":
        del lines[index]
    path.write_bytes(b"".join(lines))


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ("edit", "line 3 .* fails its MAC"),
        ("delete", "line 3 .* sequence number"),
        ("truncate", "no longer contains the anchored head"),
        ("rewrite", "no longer contains the anchored head"),
    ],
)
def test_audit_tampering_is_detected(
    make_job: JobMaker, tmp_path: Path, change: str, reason: str
) -> None:
    job = make_job()
    log = tmp_path / "audit.jsonl"
    if change in ("edit", "delete"):
        _rewrite_audit(log, 2, change)
    elif change == "truncate":
        log.write_bytes(b"".join(log.read_bytes().splitlines(keepends=True)[:3]))
    else:
        # Someone holding the audit key rebuilds a valid chain of the same length in which
        # the refused request was allowed; only the head anchored in the manifest shows it.
        entries = AuditLog.read(log, AUDIT_KEY)
        log.unlink()
        forged = AuditLog(log, key=AUDIT_KEY)
        for e in entries:
            denied = e["decision"] == "deny"
            forged.append(who=e["who"], action=e["action"],
                          decision="allow" if denied else e["decision"],
                          reason="" if denied else e["reason"], key_id=e["key_id"],
                          key_version=e["key_version"], rows=e["rows"])  # fmt: skip
        assert AuditLog.verify(log, AUDIT_KEY).entries == len(entries)
    with pytest.raises(IntegrityError, match=reason):
        verify_manifest(job, public_key=PUB, audit_path=log, audit_key=AUDIT_KEY)


def test_audit_checks_need_an_anchored_range(tmp_path: Path, audit: AuditLog) -> None:
    out = tmp_path / "job"
    write_outputs(out)
    pred = predicate(name="n", inputs=[{"name": "memory", "in_memory": True}])
    write_signed_manifest(out, pred, key=MANIFEST_KEY)
    assert "audit" not in verify_manifest(out, public_key=PUB).predicate
    audit.append(who="x", action="job.start", decision="allow")
    with pytest.raises(IntegrityError, match="anchors no audit range"):
        verify_manifest(out, public_key=PUB, audit_path=audit.path, audit_key=AUDIT_KEY)
    with pytest.raises(ValueError, match="both"):
        verify_manifest(out, audit_path=audit.path)


def test_counts_must_reconcile(tmp_path: Path) -> None:
    out = tmp_path / "job"
    write_outputs(out)
    pred = predicate(name="n", inputs=[{"name": "memory", "in_memory": True}])
    pred["rows"]["in"] = 7
    write_signed_manifest(out, pred, key=MANIFEST_KEY)
    with pytest.raises(IntegrityError, match=r"do not reconcile: in 7 != out 5 \+ quarantined 1"):
        verify_manifest(out, public_key=PUB)


@pytest.mark.parametrize(
    ("change", "match"),
    [
        ("plain_sha256", "plain sha256 is allowed only"),
        ("no_fingerprint", "keyed fingerprint"),
        ("no_rows", "required field"),
        ("bad_kind", "job.kind"),
        ("reserved", "filled in by write_signed_manifest"),
        ("negative_rows", "non-negative"),
    ],
)
def test_predicate_is_validated(tmp_path: Path, change: str, match: str) -> None:
    out = tmp_path / "job"
    write_outputs(out)
    pred = predicate(name="n", inputs=[{"name": "in.csv", "sha256": "ab" * 32,
                                        "fingerprint": {"alg": "hmac-sha256"}}])  # fmt: skip
    if change == "no_fingerprint":
        pred["inputs"] = [{"name": "in.csv"}]
    elif change == "no_rows":
        del pred["rows"]
    elif change == "bad_kind":
        pred["job"]["kind"] = "magic"
    elif change == "reserved":
        pred["inputs"][0]["is_finveil_output"] = True
        pred["signer"] = {}
    elif change == "negative_rows":
        pred["inputs"][0]["is_finveil_output"] = True
        pred["rows"]["out"] = -1
    with pytest.raises(ValueError, match=match):
        write_signed_manifest(out, pred, key=MANIFEST_KEY)
    assert not (out / "manifest.json").exists()


def test_write_arguments(tmp_path: Path, audit: AuditLog) -> None:
    pred = predicate(name="n", inputs=[])
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="no output files"):
        write_signed_manifest(tmp_path / "empty", pred, key=MANIFEST_KEY)
    out = tmp_path / "job"
    write_outputs(out)
    with pytest.raises(ValueError, match="audit_first_seq is required"):
        write_signed_manifest(out, pred, key=MANIFEST_KEY, audit=audit)
    with pytest.raises(ValueError, match="audit_first_seq must be between"):
        write_signed_manifest(out, pred, key=MANIFEST_KEY, audit=audit, audit_first_seq=5)
    (out / "link").symlink_to(out / "scores.parquet")
    with pytest.raises(IntegrityError, match="link: not a regular file"):
        write_signed_manifest(out, pred, key=MANIFEST_KEY)


def test_subdirectories_and_toml_dates_are_signed(tmp_path: Path) -> None:
    import datetime as dt

    out = tmp_path / "job"
    write_outputs(out / "part")
    pred = predicate(name="n", inputs=[])
    pred["job"]["spec"]["schedule"] = dt.date(2026, 12, 4)
    envelope = write_signed_manifest(out, pred, key=MANIFEST_KEY)
    report = verify_manifest(out, public_key=PUB)
    assert "part/scores.parquet" in report.subjects
    assert report.predicate["job"]["spec"]["schedule"] == "2026-12-04"
    assert json.loads(base64.b64decode(envelope["payload"])) == report.statement


def test_a_signed_summary_that_misstates_the_audit_range_fails(
    make_job: JobMaker, tmp_path: Path
) -> None:
    job = make_job()
    statement = _statement(job)
    statement["predicate"]["audit"]["summary"]["anomalies"] = []
    (job / "manifest.json").write_text(json.dumps(sign_envelope(statement, MANIFEST_KEY)))
    verify_manifest(job, public_key=PUB)
    with pytest.raises(IntegrityError, match="differ from the signed summary"):
        verify_manifest(
            job, public_key=PUB, audit_path=tmp_path / "audit.jsonl", audit_key=AUDIT_KEY
        )
