from __future__ import annotations

import json
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from engine.errors import IntegrityError, PolicyDenied
from engine.keys import AuditLog, KeyMaterial, KeyPurpose, KeyRing
from engine.keys.policy import AccessPolicy, DetokenizeRequest, PolicyGate
from tests.engine.keys.test_policy import POLICY

KEY = KeyMaterial(key_id="audit", version=1, secret=b"k" * 32)
JUSTIFICATION = "case FR-2026-0042 chargeback"


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 12, 4, 10, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def log(tmp_path: Path, clock: Clock) -> AuditLog:
    return AuditLog(tmp_path / "audit.jsonl", key=KEY, clock=clock)


@pytest.fixture
def gate(log: AuditLog, clock: Clock) -> PolicyGate:
    return PolicyGate(AccessPolicy.from_mapping(POLICY), log, clock=clock)


def _req(**kw: Any) -> DetokenizeRequest:
    fields: dict[str, Any] = {
        "principal": "alice",
        "kind": "pan",
        "rows": 10,
        "purpose": "fraud-investigation",
        "justification": JUSTIFICATION,
        "dataset_id": "payments-2026-11",
        **kw,
    }
    return DetokenizeRequest(**fields)


def _entries(log: AuditLog) -> list[dict[str, Any]]:
    return [json.loads(line) for line in log.path.read_text().splitlines()]


def test_allow_is_audited_before_returning(gate: PolicyGate, log: AuditLog) -> None:
    decision = gate.authorize(_req())
    assert decision.allowed
    (entry,) = _entries(log)
    assert (entry["action"], entry["decision"], entry["who"]) == ("detokenize", "allow", "alice")
    assert (entry["key_id"], entry["rows"]) == ("tokenize.pan", 10)
    assert entry["reason"].startswith("allow:")
    text = log.path.read_text()
    assert JUSTIFICATION not in text
    assert "payments-2026-11" not in text
    assert entry["subject"]["justification"] == log.subject_hash(JUSTIFICATION)
    AuditLog.verify(log.path, KEY)


def test_denial_raises_and_is_audited(gate: PolicyGate, log: AuditLog) -> None:
    with pytest.raises(PolicyDenied, match=r"row_cap.*5000 rows requested"):
        gate.authorize(_req(rows=5000))
    with pytest.raises(PolicyDenied, match="unknown_principal"):
        gate.authorize(_req(principal="mallory"))
    with pytest.raises(PolicyDenied, match="kind_not_granted"):
        gate.authorize(_req(kind="ssn"))
    decisions = [(e["who"], e["decision"], e["reason"].split(":")[0]) for e in _entries(log)]
    assert decisions == [
        ("alice", "deny", "row_cap"),
        ("mallory", "deny", "unknown_principal"),
        ("alice", "deny", "kind_not_granted"),
    ]


def test_rate_limit_persists_across_gates_and_windows(
    gate: PolicyGate, log: AuditLog, clock: Clock
) -> None:
    for _ in range(3):
        gate.authorize(_req())
    with pytest.raises(PolicyDenied, match="rate_requests"):
        gate.authorize(_req())
    # A new process (new gate over the same log) sees the same history.
    fresh = PolicyGate(AccessPolicy.from_mapping(POLICY), AuditLog(log.path, key=KEY, clock=clock),
                       clock=clock)  # fmt: skip
    with pytest.raises(PolicyDenied, match="rate_requests"):
        fresh.authorize(_req())
    # Denials do not count; bob has his own budget.
    gate.authorize(_req(principal="bob"))
    clock.now += timedelta(seconds=3601)
    gate.authorize(_req())


def test_rate_rows(gate: PolicyGate, clock: Clock) -> None:
    approver = "bob"
    for rows in (700, 700):
        req = _req(rows=rows, justification=f"{JUSTIFICATION} part {rows} {clock.now}")
        gate.approve(req, approver=approver)
        gate.authorize(req)
        clock.now += timedelta(seconds=1)
    over = _req(rows=101)
    gate.approve(over, approver=approver)
    with pytest.raises(PolicyDenied, match=r"rate_rows.*1400 rows.*plus 101"):
        gate.authorize(over)
    gate.authorize(_req(rows=100))  # exactly the 1500-row budget


def test_deleting_entries_to_reset_the_limit_is_detected(gate: PolicyGate, log: AuditLog) -> None:
    for _ in range(3):
        gate.authorize(_req())
    lines = log.path.read_text().splitlines(keepends=True)
    log.path.write_text("".join(lines[:1] + lines[2:]))
    with pytest.raises(IntegrityError, match=r"line 2 \(entry 1\)"):
        gate.authorize(_req())


def test_bulk_request_needs_a_second_approver(
    gate: PolicyGate, log: AuditLog, clock: Clock
) -> None:
    bulk = _req(rows=500)
    with pytest.raises(PolicyDenied, match="approval_required"):
        gate.authorize(bulk)
    with pytest.raises(PolicyDenied, match="self_approval"):
        PolicyGate(AccessPolicy.from_mapping(POLICY), log, clock=clock).approve(
            _req(principal="bob", rows=500), approver="bob"
        )
    with pytest.raises(PolicyDenied, match="not_an_approver"):
        gate.approve(bulk, approver="carol")
    with pytest.raises(PolicyDenied, match="not_an_approver"):
        gate.approve(bulk, approver="mallory")
    with pytest.raises(PolicyDenied, match="approval_required"):
        gate.authorize(bulk)
    gate.approve(bulk, approver="bob")
    # The approval binds to this exact request.
    with pytest.raises(PolicyDenied, match="approval_required"):
        gate.authorize(_req(rows=501))
    assert gate.authorize(bulk).allowed
    # ... and is used once.
    with pytest.raises(PolicyDenied, match="approval_required"):
        gate.authorize(bulk)
    actions = [(e["action"], e["who"], e["decision"]) for e in _entries(log)]
    assert ("detokenize.approve", "bob", "allow") in actions
    assert ("detokenize.approve", "carol", "deny") in actions


def test_approvals_expire(gate: PolicyGate, clock: Clock) -> None:
    bulk = _req(rows=500)
    gate.approve(bulk, approver="bob")
    clock.now += timedelta(seconds=3601)
    with pytest.raises(PolicyDenied, match="approval_required"):
        gate.authorize(bulk)


def test_approval_from_a_principal_no_longer_approver(
    gate: PolicyGate, log: AuditLog, clock: Clock
) -> None:
    bulk = _req(rows=500)
    gate.approve(bulk, approver="bob")
    demoted = {
        **POLICY,
        "principals": {**POLICY["principals"], "bob": {"roles": ["fraud-analyst"]}},
    }
    with pytest.raises(PolicyDenied, match="approval_required"):
        PolicyGate(AccessPolicy.from_mapping(demoted), log, clock=clock).authorize(bulk)


def test_unauditable_request_is_refused(
    gate: PolicyGate, log: AuditLog, monkeypatch: pytest.MonkeyPatch
) -> None:
    gate.authorize(_req())

    def broken(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", broken)
    with pytest.raises(IntegrityError, match="operation refused"):
        gate.authorize(_req())
    with pytest.raises(IntegrityError, match="operation refused"):
        gate.authorize(_req(rows=99999))  # a denial that cannot be audited also stops


def test_gate_over_keyring_audit_log_after_audit_key_rotation(
    ring_path: Path, root_file: Path, tmp_path: Path
) -> None:
    audit = tmp_path / "audit.jsonl"
    ring = KeyRing.create(ring_path, root_key_file=root_file, audit_path=audit)
    ring.ensure("tokenize.pan", KeyPurpose.TOKENIZE)
    assert ring.audit_log is not None
    gate = PolicyGate(AccessPolicy.from_mapping(POLICY), ring.audit_log)
    gate.authorize(_req())
    ring.rotate("audit")
    reopened = KeyRing.open(ring_path, root_key_file=root_file, audit_path=audit)
    assert reopened.audit_log is not None
    gate2 = PolicyGate(AccessPolicy.from_mapping(POLICY), reopened.audit_log)
    gate2.authorize(_req())  # reads entries MACed under audit key v1 and v2
    entries = reopened.audit_log.read_entries()
    assert {e["mac_key"]["version"] for e in entries} == {1, 2}
    with pytest.raises(IntegrityError, match="no earlier audit keys"):
        AuditLog(audit, key=reopened.primary("audit")).read_entries()


_WORKER = """
import json, sys, time
from pathlib import Path
from engine.errors import PolicyDenied
from engine.keys import AuditLog, KeyMaterial
from engine.keys.policy import AccessPolicy, DetokenizeRequest, PolicyGate
log_path, policy, go = sys.argv[1:]
key = KeyMaterial(key_id="audit", version=1, secret=b"k" * 32)
gate = PolicyGate(AccessPolicy.from_mapping(json.loads(policy)), AuditLog(Path(log_path), key=key))
while not Path(go).exists():
    time.sleep(0.001)
allowed = 0
for _ in range(4):
    try:
        gate.authorize(DetokenizeRequest(principal="alice", kind="pan", rows=1,
                       purpose="fraud-investigation", justification="case FR-2026-0042 x"))
        allowed += 1
    except PolicyDenied:
        pass
print(allowed)
"""


def test_concurrent_gates_share_the_rate_limit(tmp_path: Path) -> None:
    import subprocess
    import sys

    go = tmp_path / "go"
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _WORKER, str(tmp_path / "audit.jsonl"), json.dumps(POLICY),
             str(go)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        for _ in range(2)
    ]  # fmt: skip
    go.touch()
    results = []
    for proc in procs:
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err
        results.append(int(out))
    assert sum(results) == 3  # rate_requests = 3 per hour, shared by both processes
    assert AuditLog.verify(tmp_path / "audit.jsonl", KEY).entries == 8
