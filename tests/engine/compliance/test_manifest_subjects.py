"""Listed subjects: a manifest over files a job changed outside its manifest directory."""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path
from typing import Any

import pytest

from engine.compliance import build_statement, sign_envelope, verify_manifest, write_signed_manifest
from engine.compliance._dsse import keyid_of, public_key_pem
from engine.compliance._lineage import openlineage_event
from engine.errors import IntegrityError
from engine.keys import AuditLog
from tests.engine.compliance.conftest import AUDIT_KEY, MANIFEST_KEY, predicate

PUB = public_key_pem(MANIFEST_KEY)


def _tree(tmp_path: Path) -> tuple[Path, list[Path]]:
    data = tmp_path / "data"
    (data / "sub").mkdir(parents=True)
    files = [data / "c.csv", data / "sub" / "app.redacted.log"]
    files[0].write_text("ssn,x\ntok-1,1\n")
    files[1].write_text("card [pan:411111******1111]\n")
    (data / "untouched.txt").write_text("not an output of the job\n")
    return data, files


def _statement(manifest_dir: Path) -> dict[str, Any]:
    envelope = json.loads((manifest_dir / "manifest.json").read_text())
    statement: dict[str, Any] = json.loads(base64.b64decode(envelope["payload"]))
    return statement


def test_listed_subjects_outside_the_manifest_directory(tmp_path: Path) -> None:
    data, files = _tree(tmp_path)
    out = tmp_path / "data.finveil-scan"  # created by the writer
    audit = AuditLog(tmp_path / "audit.jsonl", key=AUDIT_KEY)
    start = audit.append(who="t", action="job.start", decision="allow")
    pred = predicate(name="fix", inputs=[{"name": "mem", "in_memory": True}])
    write_signed_manifest(
        out, pred, key=MANIFEST_KEY, audit=audit, audit_first_seq=start.seq, subjects=files
    )
    assert sorted(p.name for p in out.iterdir()) == ["manifest.json", "manifest.pub"]
    # Verification needs only the public key; other files beside the subjects are ignored.
    report = verify_manifest(out, public_key=PUB)
    assert report.predicate["subject_root"] == "../data"
    assert set(report.subjects) == {"c.csv", "sub/app.redacted.log"}
    assert report.subject_dir.resolve() == data.resolve()
    verify_manifest(out, public_key=PUB, audit_path=audit.path, audit_key=AUDIT_KEY)
    names = [o["name"] for o in openlineage_event(report)["outputs"]]
    assert names == [str(data.resolve() / "c.csv"), str(data.resolve() / "sub/app.redacted.log")]
    # Moving both directories together keeps the manifest valid.
    moved = tmp_path / "moved"
    moved.mkdir()
    os.rename(data, moved / "data")
    os.rename(out, moved / "data.finveil-scan")
    verify_manifest(moved / "data.finveil-scan", public_key=PUB)


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ("edit", r"c\.csv: sha256 differs \(changed\)"),
        ("delete", r"c\.csv: missing"),
        ("symlink", r"c\.csv: not a regular file"),
    ],
)
def test_a_changed_listed_subject_fails(tmp_path: Path, change: str, reason: str) -> None:
    data, files = _tree(tmp_path)
    out = tmp_path / "m"
    pred = predicate(name="fix", inputs=[{"name": "mem", "in_memory": True}])
    write_signed_manifest(out, pred, key=MANIFEST_KEY, subjects=files)
    target = data / "c.csv"
    if change == "edit":
        target.write_text("ssn,x\n123-45-6789,1\n")
    elif change == "delete":
        target.unlink()
    else:
        target.unlink()
        target.symlink_to(data / "untouched.txt")
    with pytest.raises(IntegrityError, match=reason):
        verify_manifest(out, public_key=PUB)


def test_signed_subject_names_cannot_leave_the_root(tmp_path: Path) -> None:
    _tree(tmp_path)
    out = tmp_path / "m"
    out.mkdir()
    body = {**predicate(name="x", inputs=[]), "subject_root": "../data"}
    body["signer"] = {"algorithm": "ed25519", "keyid": keyid_of(MANIFEST_KEY)}
    for name in ("../secret.txt", "/etc/hostname", "sub//x"):
        statement = build_statement({name: "00" * 32}, body)
        envelope = sign_envelope(statement, MANIFEST_KEY)
        (out / "manifest.json").write_text(json.dumps(envelope))
        with pytest.raises(IntegrityError, match="not a plain relative path"):
            verify_manifest(out, public_key=PUB)
    body["subject_root"] = 7
    envelope = sign_envelope(build_statement({"c.csv": "00" * 32}, body), MANIFEST_KEY)
    (out / "manifest.json").write_text(json.dumps(envelope))
    with pytest.raises(IntegrityError, match="subject_root is malformed"):
        verify_manifest(out, public_key=PUB)


def test_listed_subject_arguments(tmp_path: Path) -> None:
    data, files = _tree(tmp_path)
    pred = predicate(name="fix", inputs=[])
    with pytest.raises(ValueError, match="at least one file"):
        write_signed_manifest(tmp_path / "m", pred, key=MANIFEST_KEY, subjects=[])
    with pytest.raises(ValueError, match="twice"):
        write_signed_manifest(
            tmp_path / "m", pred, key=MANIFEST_KEY, subjects=[files[0], data / "sub/../c.csv"]
        )
    link = data / "link.csv"
    link.symlink_to(files[0])
    with pytest.raises(IntegrityError, match="not a regular file"):
        write_signed_manifest(tmp_path / "m", pred, key=MANIFEST_KEY, subjects=[link])
    with pytest.raises(ValueError, match="filled in by write_signed_manifest"):
        write_signed_manifest(
            tmp_path / "m", {**pred, "subject_root": "."}, key=MANIFEST_KEY, subjects=files
        )
    # One file: its own directory is the root.
    write_signed_manifest(data, pred, key=MANIFEST_KEY, subjects=[files[0]])
    statement = _statement(data)
    assert statement["predicate"]["subject_root"] == "."
    assert [s["name"] for s in statement["subject"]] == ["c.csv"]
    verify_manifest(data, public_key=PUB)
