from __future__ import annotations

import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from engine.errors import ConfigError, NotFittedError, PolicyDenied
from engine.keys import AuditLog, KeyMaterial
from engine.keys.anomaly import AnomalyDetector, AnomalyOptions, Level
from engine.keys.policy import AccessPolicy, DetokenizeRequest, PolicyGate

KEY = KeyMaterial(key_id="audit", version=1, secret=b"a" * 32)
START = datetime(2026, 11, 2, tzinfo=UTC)  # A Monday.
POLICY: dict[str, Any] = {
    "roles": {
        "analyst": {
            "kinds": ["pan", "name", "email"],
            "purposes": ["fraud-investigation"],
            "max_rows": 5000,
            "approval_rows": 4000,
        }
    },
    "principals": {
        "alice": {"roles": ["analyst"]},
        "bob": {"roles": ["analyst"], "approver": True},
    },
}


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now


def _req(**kw: Any) -> DetokenizeRequest:
    fields: dict[str, Any] = {
        "principal": "alice", "kind": "pan", "rows": 12, "purpose": "fraud-investigation",
        "justification": "case FR-2026-0042", "source": "ws-alice", **kw,
    }  # fmt: skip
    return DetokenizeRequest(**fields)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture(scope="module")
def baseline(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Four weeks of alice's ordinary work, written through a real gate."""
    clock = Clock()
    audit = AuditLog(tmp_path_factory.mktemp("baseline") / "audit.jsonl", key=KEY, clock=clock)
    gate = PolicyGate(AccessPolicy.from_mapping(POLICY), audit, clock=clock)
    for day in range(28):
        if (START + timedelta(days=day)).weekday() >= 5:
            continue
        for hour, rows in ((10, 10), (11, 15), (14, 20)):
            clock.now = START + timedelta(days=day, hours=hour, minutes=7)
            gate.authorize(_req(rows=rows + day % 3))
    return audit.path


@pytest.fixture
def log(tmp_path: Path, clock: Clock, baseline: Path) -> AuditLog:
    path = tmp_path / "audit.jsonl"
    shutil.copyfile(baseline, path)
    return AuditLog(path, key=KEY, clock=clock)


@pytest.fixture
def gate(log: AuditLog, clock: Clock) -> PolicyGate:
    detector = AnomalyDetector().fit(log.read_entries())
    clock.now = START + timedelta(days=29, hours=10, minutes=30)  # Tuesday, 10:30.
    return PolicyGate(AccessPolicy.from_mapping(POLICY), log, clock=clock, anomaly=detector)


def _last(log: AuditLog) -> dict[str, Any]:
    return log.read_entries()[-1]


def test_ordinary_request_is_allowed(gate: PolicyGate, log: AuditLog) -> None:
    assert gate.authorize(_req()).allowed
    entry = _last(log)
    assert entry["decision"] == "allow"
    assert "anomaly" not in entry["reason"]


def test_first_use_of_a_kind_needs_a_second_approver(gate: PolicyGate, log: AuditLog) -> None:
    with pytest.raises(PolicyDenied, match="step_up_required"):
        gate.authorize(_req(kind="name"))
    denied = _last(log)
    assert (denied["decision"], denied["key_id"]) == ("deny", "tokenize.name")
    assert denied["reason"].startswith("step_up_required")
    gate.approve(_req(kind="name"), approver="bob")
    assert gate.authorize(_req(kind="name")).allowed
    # Once approved, the kind is known: the next request needs no approver.
    assert gate.authorize(_req(kind="name", rows=11)).allowed


def test_new_source_alerts_but_proceeds(gate: PolicyGate, log: AuditLog) -> None:
    assert gate.authorize(_req(source="10.9.8.7")).allowed
    reason = _last(log)["reason"]
    assert "anomaly alert: new source h:" in reason
    assert "10.9.8.7" not in reason  # SECURITY: the source appears only as a keyed hash.


def test_bulk_exfiltration_is_blocked_and_audited(gate: PolicyGate, log: AuditLog) -> None:
    with pytest.raises(PolicyDenied, match="anomaly_block") as info:
        gate.authorize(_req(rows=3000))  # Under the policy's caps, 200x alice's usual.
    assert "rows 3000 (typical" in str(info.value)
    entry = _last(log)
    assert (entry["decision"], entry["rows"]) == ("deny", 3000)
    assert entry["reason"].startswith("anomaly_block: anomaly detector: block:")


def test_off_hours_alerts(gate: PolicyGate, log: AuditLog, clock: Clock) -> None:
    clock.now = START + timedelta(days=29, hours=3)
    assert gate.authorize(_req()).allowed
    assert "hour 03 UTC" in _last(log)["reason"]


def test_assess_ranks_unusual_windows_first(log: AuditLog, clock: Clock) -> None:
    entries = log.read_entries()
    detector = AnomalyDetector().fit(entries)
    gate = PolicyGate(AccessPolicy.from_mapping(POLICY), log, clock=clock)
    clock.now = START + timedelta(days=30, hours=2)
    gate.authorize(_req(rows=900))
    clock.now = START + timedelta(days=30, hours=10)
    gate.authorize(_req())
    verdicts = detector.assess(log.read_entries(), since=START + timedelta(days=30))
    assert [v.level for v in verdicts] == [Level.BLOCK, Level.ALLOW]
    top = verdicts[0]
    assert top.window_start == START + timedelta(days=30, hours=2)
    assert {s.feature for s in top.signals} >= {"rows", "max_rows", "hour"}
    assert all(s.rule != "step_up" for s in top.signals)


def test_unknown_principal_and_caps_without_baseline() -> None:
    detector = AnomalyDetector(AnomalyOptions(max_rows_per_window=100)).fit([])
    entry = {
        "when": START.isoformat(), "who": "mallory", "action": "detokenize",
        "decision": "allow", "key_id": "tokenize.ssn", "key_version": 1, "rows": 101,
        "subject": {"source": "h:1"},
    }  # fmt: skip
    (verdict,) = detector.assess([entry])
    assert verdict.level is Level.BLOCK
    assert verdict.is_step_up
    assert {(s.rule, s.feature) for s in verdict.signals} == {
        ("cap", "rows"), ("step_up", "kind"), ("new_source", "source"),
    }  # fmt: skip
    assert verdict.summary().startswith("block: rows 101 over cap 100")


def test_not_fitted_and_bad_options() -> None:
    with pytest.raises(NotFittedError):
        AnomalyDetector().assess([])
    with pytest.raises(ConfigError, match="z_alert"):
        AnomalyOptions(z_alert=9, z_block=3)
    with pytest.raises(ConfigError, match="window_s"):
        AnomalyOptions(window_s=0)


def test_expired_approval_does_not_satisfy_step_up(
    gate: PolicyGate, log: AuditLog, clock: Clock
) -> None:
    gate.approve(_req(kind="email"), approver="bob")
    clock.now += timedelta(hours=2)  # The gate's approval_ttl_s is one hour.
    with pytest.raises(PolicyDenied, match="step_up_required"):
        gate.authorize(_req(kind="email"))
