from __future__ import annotations

import json
import os
import stat
from datetime import UTC, datetime
from pathlib import Path

import pytest

from engine.errors import IntegrityError, KeyManagementError, KeyNotFound
from engine.keys import AuditChainHead, AuditLog, KeyMaterial, KeyPurpose, KeyRing

KEY = KeyMaterial(key_id="audit", version=1, secret=b"a" * 32)
KEY2 = KeyMaterial(key_id="audit", version=2, secret=b"b" * 32)


def _log(tmp_path: Path, n: int = 5, key: KeyMaterial = KEY) -> AuditLog:
    log = AuditLog(tmp_path / "audit.jsonl", key=key)
    for i in range(n):
        log.append(who=f"user{i}", action="detokenize", decision="allow", rows=i,
                   key_id="tokenize.pan", key_version=1, reason="case 42")  # fmt: skip
    return log


def _lines(log: AuditLog) -> list[str]:
    return log.path.read_text().splitlines(keepends=True)


def _write(log: AuditLog, lines: list[str]) -> None:
    log.path.write_text("".join(lines))


def test_append_and_verify(tmp_path: Path) -> None:
    log = _log(tmp_path, 0)
    heads = [
        log.append(who="alice", action="key.rotate", decision="allow", key_id="k", key_version=2),
        log.append(who="bob", action="detokenize", decision="deny", reason="row cap", rows=10**6),
    ]
    assert heads[1].entries == 2
    assert AuditLog.verify(log.path, KEY) == heads[1]
    entries = [json.loads(line) for line in _lines(log)]
    assert [e["seq"] for e in entries] == [0, 1]
    assert entries[0]["prev"] == "0" * 64
    assert entries[1]["decision"] == "deny"
    assert entries[0]["when"].endswith("+00:00")
    assert stat.S_IMODE(log.path.stat().st_mode) == 0o600


def test_empty_log_verifies(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    path.write_bytes(b"")
    assert AuditLog.verify(path, KEY) == AuditChainHead(entries=0, seq=-1, digest="0" * 64)


def test_subject_only_as_keyed_hash(tmp_path: Path) -> None:
    log = AuditLog(tmp_path / "a.jsonl", key=KEY)
    log.append(
        who="svc", action="detokenize", decision="allow", subject={"customer": "4111111111111111"}
    )
    text = log.path.read_text()
    assert "4111111111111111" not in text
    assert log.subject_hash("4111111111111111") in text
    other = AuditLog(tmp_path / "b.jsonl", key=KEY2)
    assert other.subject_hash("4111111111111111") != log.subject_hash("4111111111111111")


def test_injected_clock(tmp_path: Path) -> None:
    fixed = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    log = AuditLog(tmp_path / "a.jsonl", key=KEY, clock=lambda: fixed)
    log.append(who="a", action="x", decision="allow")
    assert json.loads(log.path.read_text())["when"] == "2026-01-02T03:04:05.000000+00:00"


def test_edited_entry_is_named(tmp_path: Path) -> None:
    log = _log(tmp_path)
    lines = _lines(log)
    lines[2] = lines[2].replace('"rows":2', '"rows":0')
    _write(log, lines)
    with pytest.raises(IntegrityError, match=r"line 3 \(entry 2\) fails its MAC"):
        AuditLog.verify(log.path, KEY)


def test_deleted_entry_is_named(tmp_path: Path) -> None:
    log = _log(tmp_path)
    lines = _lines(log)
    del lines[1]
    _write(log, lines)
    with pytest.raises(
        IntegrityError, match=r"line 2 \(entry 1\) has sequence number 2, expected 1"
    ):
        AuditLog.verify(log.path, KEY)


def test_deleted_first_entry_is_named(tmp_path: Path) -> None:
    log = _log(tmp_path)
    _write(log, _lines(log)[1:])
    with pytest.raises(IntegrityError, match=r"line 1 \(entry 0\).*deleted, inserted or reordered"):
        AuditLog.verify(log.path, KEY)


def test_inserted_forged_entry_is_named(tmp_path: Path) -> None:
    log = _log(tmp_path)
    lines = _lines(log)
    forged = json.loads(lines[1])
    forged["who"] = "mallory"
    lines.insert(2, json.dumps(forged) + "\n")
    _write(log, lines)
    with pytest.raises(IntegrityError, match=r"line 3 \(entry 2\) fails its MAC"):
        AuditLog.verify(log.path, KEY)


def test_inserted_copy_is_named(tmp_path: Path) -> None:
    log = _log(tmp_path)
    lines = _lines(log)
    lines.insert(3, lines[1])
    _write(log, lines)
    with pytest.raises(
        IntegrityError, match=r"line 4 \(entry 3\) has sequence number 1, expected 3"
    ):
        AuditLog.verify(log.path, KEY)


def test_reordered_entries_are_named(tmp_path: Path) -> None:
    log = _log(tmp_path)
    lines = _lines(log)
    lines[2], lines[3] = lines[3], lines[2]
    _write(log, lines)
    with pytest.raises(
        IntegrityError, match=r"line 3 \(entry 2\) has sequence number 3, expected 2"
    ):
        AuditLog.verify(log.path, KEY)


def test_renumbered_entry_breaks_the_chain(tmp_path: Path) -> None:
    # An entry MACed with the key but spliced from another log keeps its own prev link.
    log = _log(tmp_path, 3)
    (tmp_path / "other").mkdir()
    other = _log(tmp_path / "other", 3)
    lines = _lines(log)
    lines[2] = _lines(other)[2]
    _write(log, lines)
    with pytest.raises(IntegrityError, match=r"line 3 \(entry 2\) does not chain"):
        AuditLog.verify(log.path, KEY)


def test_truncation_detected_with_anchored_head(tmp_path: Path) -> None:
    log = _log(tmp_path)
    anchored = AuditLog.verify(log.path, KEY)
    _write(log, _lines(log)[:3])
    assert AuditLog.verify(log.path, KEY).entries == 3  # a clean prefix is a valid chain...
    with pytest.raises(IntegrityError, match="truncated or rewritten"):
        AuditLog.verify(log.path, KEY, expected_head=anchored)  # ...but not the anchored one
    log.append(who="x", action="y", decision="allow")
    log.append(who="x", action="y", decision="allow")
    with pytest.raises(IntegrityError, match="truncated or rewritten"):
        AuditLog.verify(log.path, KEY, expected_head=anchored)


def test_torn_tail_and_garbage(tmp_path: Path) -> None:
    log = _log(tmp_path, 3)
    raw = log.path.read_bytes()
    log.path.write_bytes(raw[:-10])
    with pytest.raises(IntegrityError, match="incomplete"):
        AuditLog.verify(log.path, KEY)
    with pytest.raises(IntegrityError, match="incomplete entry"):
        log.append(who="a", action="b", decision="allow")
    log.path.write_bytes(raw + b"not json\n")
    with pytest.raises(IntegrityError, match=r"line 4 \(entry 3\) is not valid JSON"):
        AuditLog.verify(log.path, KEY)
    log.path.write_bytes(raw + b'{"seq": 3}\n')
    with pytest.raises(IntegrityError, match="not a well-formed audit entry"):
        AuditLog.verify(log.path, KEY)


def test_append_refuses_after_edited_tail(tmp_path: Path) -> None:
    log = _log(tmp_path, 2)
    lines = _lines(log)
    lines[-1] = lines[-1].replace('"rows":1', '"rows":7')
    _write(log, lines)
    before = log.path.read_bytes()
    with pytest.raises(IntegrityError, match="last entry fails its MAC"):
        log.append(who="a", action="b", decision="allow")
    assert log.path.read_bytes() == before


def test_wrong_key_fails_first_entry(tmp_path: Path) -> None:
    log = _log(tmp_path, 2)
    with pytest.raises(IntegrityError, match=r"line 1 \(entry 0\) fails its MAC"):
        AuditLog.verify(log.path, KeyMaterial(key_id="audit", version=1, secret=b"z" * 32))


def test_log_spanning_audit_key_rotation(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    AuditLog(path, key=KEY).append(who="a", action="x", decision="allow")
    AuditLog(path, key=KEY2).append(who="a", action="x", decision="allow")
    AuditLog(path, key=KEY).append(who="a", action="x", decision="allow")
    keys = {1: KEY, 2: KEY2}
    assert AuditLog.verify(path, lambda v: keys[v]).entries == 3
    assert AuditLog.verify(path, lambda v: keys[v].secret).entries == 3
    with pytest.raises(IntegrityError, match=r"line 2 \(entry 1\) fails its MAC"):
        AuditLog.verify(path, KEY)


def test_fail_closed_when_unwritable(tmp_path: Path) -> None:
    log = AuditLog(tmp_path / "missing" / "audit.jsonl", key=KEY)
    acted: list[str] = []

    def detokenize() -> None:
        log.append(who="a", action="detokenize", decision="allow")
        acted.append("detokenized")  # the documented pattern: act only after append returned

    with pytest.raises(IntegrityError, match="cannot open audit log"):
        detokenize()
    assert not acted
    with pytest.raises(IntegrityError, match="cannot read"):
        AuditLog.verify(tmp_path / "missing" / "audit.jsonl", KEY)


def test_fsync_failure_is_an_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    log = _log(tmp_path, 1)

    def broken(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", broken)
    with pytest.raises(IntegrityError, match="operation refused"):
        log.append(who="a", action="b", decision="allow")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"who": ""}, "who"),
        ({"action": "Bad Action"}, "action"),
        ({"decision": "maybe"}, "decision"),
        ({"rows": -1}, "rows"),
        ({"key_version": 0}, "key_version"),
        ({"reason": "x" * 1001}, "reason"),
    ],
)
def test_append_validates(tmp_path: Path, kwargs: dict[str, object], message: str) -> None:
    log = AuditLog(tmp_path / "a.jsonl", key=KEY)
    args: dict[str, object] = {"who": "a", "action": "x", "decision": "allow", **kwargs}
    with pytest.raises(ValueError, match=message):
        log.append(**args)  # type: ignore[arg-type]
    assert not log.path.exists()


def test_keyring_operations_are_audited(ring_path: Path, root_file: Path, tmp_path: Path) -> None:
    audit = tmp_path / "audit.jsonl"
    ring = KeyRing.create(ring_path, root_key_file=root_file, audit_path=audit, principal="ops")
    assert ring.audit_log is not None
    ring.ensure("tokenize.pan", KeyPurpose.TOKENIZE)
    ring.rotate("tokenize.pan")
    ring.record_usage("ds-secret-name", "tokenize.pan", 1)
    with pytest.raises(KeyManagementError):
        ring.retire("tokenize.pan", 1)
    with pytest.raises(KeyNotFound):
        ring.get("tokenize.pan", 9)
    ring.drop_usage("ds-secret-name")
    ring.retire("tokenize.pan", 1)
    with pytest.raises(KeyManagementError):
        ring.get("tokenize.pan", 1)
    audit_key = ring.primary("audit")
    AuditLog.verify(audit, audit_key)
    entries = [json.loads(line) for line in audit.read_text().splitlines()]
    summary = [(e["action"], e["decision"], e["key_version"]) for e in entries]
    assert summary[0] == ("keyring.create", "allow", None)
    assert ("key.create", "allow", 1) in summary
    assert ("key.rotate", "allow", 2) in summary
    assert ("key.usage.record", "allow", 1) in summary
    assert ("key.retire", "deny", 1) in summary
    assert ("key.release", "deny", 9) in summary
    assert ("key.retire", "allow", 1) in summary
    assert ("key.release", "deny", 1) in summary
    assert summary[-1] == ("key.release", "allow", 1)  # the audit key itself
    assert {e["who"] for e in entries} == {"ops"}
    assert "ds-secret-name" not in audit.read_text()
    secret = ring.get("tokenize.pan", 2).secret
    assert secret.hex() not in audit.read_text()


def test_unauditable_keyring_operation_does_not_happen(
    ring_path: Path, root_file: Path, tmp_path: Path
) -> None:
    audit = tmp_path / "audit.jsonl"
    ring = KeyRing.create(ring_path, root_key_file=root_file, audit_path=audit)
    ring.ensure("tokenize.pan", KeyPurpose.TOKENIZE)
    before = ring_path.read_bytes()
    audit.write_bytes(audit.read_bytes()[:-3])  # torn tail: appends are refused
    with pytest.raises(IntegrityError):
        ring.rotate("tokenize.pan")
    with pytest.raises(IntegrityError):
        ring.primary("tokenize.pan")
    assert ring_path.read_bytes() == before
    assert (
        KeyRing.open(ring_path, root_key_file=root_file).info("tokenize.pan").primary_version == 1
    )


def test_failed_write_after_audit_is_recorded_as_error(
    ring_path: Path, root_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    audit = tmp_path / "audit.jsonl"
    ring = KeyRing.create(ring_path, root_key_file=root_file, audit_path=audit)
    ring.ensure("tokenize.pan", KeyPurpose.TOKENIZE)

    def crash(src: object, dst: object) -> None:
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(KeyManagementError):
        ring.rotate("tokenize.pan")
    monkeypatch.undo()
    last = [json.loads(line) for line in audit.read_text().splitlines()][-2:]
    assert [(e["action"], e["decision"]) for e in last] == [
        ("key.rotate", "allow"),
        ("key.rotate", "error"),
    ]
    AuditLog.verify(audit, ring.primary("audit"))
