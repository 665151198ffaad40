"""A deterministic simulator of detokenization traffic: normal work and labelled attacks."""

from __future__ import annotations

import hashlib
import hmac
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import Enum
from pathlib import Path
from typing import Any

import numpy as np

from engine.keys._audit import AuditLog
from engine.keys._gate import request_fields
from engine.keys._material import KeyMaterial
from engine.keys._policy import AccessPolicy, Decision, DetokenizeRequest, Usage

__all__ = ["AttackKind", "Episode", "Simulation", "UsageEvent", "simulate_usage"]

_EPOCH = datetime(2026, 1, 5, tzinfo=UTC)  # A Monday.


class AttackKind(Enum):
    """The attack episodes the simulator injects."""

    BULK_EXFILTRATION = "bulk_exfiltration"
    SLOW_DRIP = "slow_drip"
    OFF_HOURS = "off_hours"
    STOLEN_CREDENTIAL = "stolen_credential"


@dataclass(frozen=True, slots=True, kw_only=True)
class _RoleSpec:
    kinds: dict[str, float]  # kinds used, with weights
    extra_kinds: tuple[str, ...]  # granted by the policy but rarely or never used
    rows_median: float
    rows_sigma: float
    per_day: float
    max_rows: int
    approval_rows: int | None
    is_service: bool = False


_ROLES: dict[str, _RoleSpec] = {
    "analyst": _RoleSpec(kinds={"pan": 0.6, "name": 0.3, "email": 0.1}, extra_kinds=("phone",),
                         rows_median=15, rows_sigma=0.8, per_day=7, max_rows=500,
                         approval_rows=250),
    "collections": _RoleSpec(kinds={"name": 0.5, "phone": 0.35, "iban": 0.15},
                             extra_kinds=("email",), rows_median=40, rows_sigma=0.7, per_day=5,
                             max_rows=1000, approval_rows=600),
    "kyc": _RoleSpec(kinds={"name": 0.4, "ssn": 0.3, "date": 0.2, "id": 0.1}, extra_kinds=(),
                     rows_median=3, rows_sigma=0.5, per_day=12, max_rows=100,
                     approval_rows=None),
    "payments": _RoleSpec(kinds={"iban": 0.6, "pan": 0.4}, extra_kinds=("name",),
                          rows_median=150, rows_sigma=0.6, per_day=4, max_rows=5000,
                          approval_rows=2500),
    "support": _RoleSpec(kinds={"email": 0.5, "phone": 0.3, "name": 0.2}, extra_kinds=(),
                         rows_median=1, rows_sigma=0.3, per_day=15, max_rows=20,
                         approval_rows=None),
    "service": _RoleSpec(kinds={"pan": 0.5, "iban": 0.5}, extra_kinds=("id",),
                         rows_median=4000, rows_sigma=0.3, per_day=3, max_rows=20000,
                         approval_rows=None, is_service=True),
}  # fmt: skip
_ROLE_CYCLE = ("analyst", "collections", "kyc", "analyst", "payments", "support",
               "analyst", "kyc", "collections", "support", "payments", "service")  # fmt: skip


@dataclass(frozen=True, slots=True, kw_only=True)
class UsageEvent:
    """One simulated detokenization request and the policy's decision on it.

    Args:
        when: When it was made (UTC).
        request: The request (with its source id).
        decision: The access policy's decision.
        episode: Index of the attack episode it belongs to, or ``None`` for normal work.
    """

    when: datetime
    request: DetokenizeRequest
    decision: Decision
    episode: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Episode:
    """One injected attack: who, what, and when (its events carry its index)."""

    index: int
    attack: AttackKind
    principal: str
    start: datetime
    end: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class Simulation:
    """Simulated traffic: the baseline period ends at ``train_until``; attacks come after.

    Args:
        events: Every request, oldest first.
        episodes: The attack episodes.
        policy: The access policy the requests were decided by.
        train_until: End of the attack-free baseline period.
        end: End of the simulated period.
    """

    events: tuple[UsageEvent, ...]
    episodes: tuple[Episode, ...]
    policy: AccessPolicy
    train_until: datetime
    end: datetime

    def entries(self, subject_hash: Callable[[str], str] | None = None) -> list[dict[str, Any]]:
        """Return the audit entries the gate would write, in memory (unsigned, no chain).

        Args:
            subject_hash: How subject identifiers are hashed (``AuditLog.subject_hash`` to
                match a written log); defaults to an HMAC under a fixed simulation key.
        """
        digest = subject_hash or _sim_hash
        out = []
        for seq, event in enumerate(self.events):
            fields = request_fields(event.request, event.decision)
            subject = {k: digest(v) for k, v in fields.pop("subject").items()}
            out.append({"v": 1, "seq": seq, "when": event.when.isoformat(timespec="microseconds"),
                        **fields, "subject": subject})  # fmt: skip
        return out

    def write(self, path: Path, *, key: KeyMaterial) -> AuditLog:
        """Append every event to a real audit log at ``path`` (fsynced, MACed, chained)."""
        now = [_EPOCH]
        log = AuditLog(path, key=key, clock=lambda: now[0])
        for event in self.events:
            now[0] = event.when
            log.append(**request_fields(event.request, event.decision))
        return log


def _sim_hash(value: str) -> str:
    return "h:" + hmac.new(b"finveil-usage-sim", value.encode(), hashlib.sha256).hexdigest()[:32]


def simulate_usage(
    seed: int,
    *,
    principals: int = 36,
    train_days: int = 28,
    test_days: int = 21,
    attacks_per_kind: int = 5,
) -> Simulation:
    """Simulate detokenization traffic of many principals, with attacks after the baseline.

    Normal work: roles with typical kinds, row counts and request rates; business hours
    per principal (with overtime, busy days, days off, rare weekend work, new devices and
    mistaken requests the policy denies); nightly service accounts. Attacks, in the test
    period only: bulk exfiltration (many near-cap requests in an hour), slow drip (several
    days of extra small requests inside business hours), off-hours access (a few requests
    at night from the usual source) and a stolen credential used from a new source.

    Args:
        seed: Everything is a deterministic function of the seed.
        principals: Number of principals (one in twelve is a service account).
        train_days: Length of the attack-free baseline period.
        test_days: Length of the period with attacks.
        attacks_per_kind: Episodes of each attack kind.
    """
    if principals < 2 or train_days < 7 or test_days < 14 or attacks_per_kind < 0:
        raise ValueError("need principals >= 2, train_days >= 7, test_days >= 14")
    rng = np.random.default_rng(seed)
    people = [_Person.make(f"p{i:03d}", _ROLE_CYCLE[i % len(_ROLE_CYCLE)], rng)
              for i in range(principals)]  # fmt: skip
    days = train_days + test_days
    raw: list[tuple[datetime, DetokenizeRequest, int | None]] = []
    for person in people:
        raw.extend(person.normal_days(days, rng))
    humans = [p for p in people if not _ROLES[p.role].is_service]
    episodes: list[Episode] = []
    for attack in AttackKind:
        for _ in range(attacks_per_kind):
            person = humans[int(rng.integers(len(humans)))]
            day = train_days + int(rng.integers(max(1, test_days - 14)))
            injected = _ATTACKS[attack](person, day, len(episodes), rng)
            times = [when for when, _, _ in injected]
            episodes.append(Episode(index=len(episodes), attack=attack, principal=person.name,
                                    start=min(times), end=max(times)))  # fmt: skip
            raw.extend(injected)
    raw.sort(key=lambda item: (item[0], item[1].principal))
    policy = _policy()
    events = _decide(raw, policy)
    return Simulation(events=tuple(events), episodes=tuple(episodes), policy=policy,
                      train_until=_EPOCH + timedelta(days=train_days),
                      end=_EPOCH + timedelta(days=days))  # fmt: skip


@dataclass(slots=True, kw_only=True)
class _Person:
    name: str
    role: str
    start_h: int
    hours: int
    per_day: float
    rows_median: float
    kinds: list[str]
    weights: np.ndarray
    sources: list[str]
    devices: int = 0

    @classmethod
    def make(cls, name: str, role: str, rng: np.random.Generator) -> _Person:
        spec = _ROLES[role]
        kinds = list(spec.kinds)
        weights = rng.dirichlet(np.array([spec.kinds[k] for k in kinds]) * 20)
        return cls(
            name=name, role=role, start_h=1 if spec.is_service else int(rng.integers(7, 10)),
            hours=1 if spec.is_service else int(rng.integers(8, 11)),
            per_day=spec.per_day * float(rng.lognormal(0, 0.25)),
            rows_median=spec.rows_median * float(rng.lognormal(0, 0.4)),
            kinds=kinds, weights=weights,
            sources=[f"host-{name}-{i}" for i in range(1 + int(rng.integers(2)))],
        )  # fmt: skip

    def rows(self, rng: np.random.Generator, scale: float = 1.0) -> int:
        sigma = _ROLES[self.role].rows_sigma
        return max(1, round(self.rows_median * scale * float(rng.lognormal(0, sigma))))

    def request(
        self, rng: np.random.Generator, *, kind: str | None = None, rows: int | None = None,
        source: str | None = None,
    ) -> DetokenizeRequest:  # fmt: skip
        return DetokenizeRequest(
            principal=self.name,
            kind=kind or self.kinds[int(rng.choice(len(self.kinds), p=self.weights))],
            rows=rows if rows is not None else self.rows(rng),
            purpose=self.role,
            justification=f"ticket SIM-{int(rng.integers(10**6)):06d}",
            key_version=1,
            source=source or self.sources[0 if rng.random() < 0.8 else -1],
        )

    def normal_days(
        self, days: int, rng: np.random.Generator
    ) -> list[tuple[datetime, DetokenizeRequest, None]]:
        spec = _ROLES[self.role]
        out: list[tuple[datetime, DetokenizeRequest, None]] = []
        for day in range(days):
            base = _EPOCH + timedelta(days=day)
            if spec.is_service:
                run = base + timedelta(hours=1, minutes=float(rng.uniform(0, 20)))
                for k in range(1 + int(rng.poisson(2))):
                    req = self.request(rng, source=self.sources[0])
                    out.append((run + timedelta(seconds=40.0 * k), req, None))
                continue
            weekend = base.weekday() >= 5
            if (weekend and rng.random() > 0.03) or (not weekend and rng.random() < 0.05):
                continue
            rate = self.per_day * (2.0 if rng.random() < 0.07 else 1.0) * (0.2 if weekend else 1)
            span_h = self.hours + (float(rng.uniform(1, 2)) if rng.random() < 0.05 else 0.0)
            new_device = rng.random() < 0.003
            if new_device:
                self.devices += 1
                self.sources.append(f"host-{self.name}-new{self.devices}")
            for _ in range(int(rng.poisson(rate / 2))):
                at = base + timedelta(hours=self.start_h + float(rng.uniform(0, span_h)))
                source = self.sources[-1] if new_device else None
                for k in range(int(rng.geometric(0.5))):
                    at += timedelta(seconds=float(rng.uniform(5, 90)) * (k > 0))
                    kind = None
                    if rng.random() < 0.005:  # A mistaken request the policy denies.
                        kind = "text"
                    out.append((at, self.request(rng, kind=kind, source=source), None))
        return out


_Raw = list[tuple[datetime, DetokenizeRequest, int | None]]


def _work_time(p: _Person, day: int, rng: np.random.Generator) -> datetime:
    while (_EPOCH + timedelta(days=day)).weekday() >= 5:
        day += 1
    return _EPOCH + timedelta(days=day, hours=p.start_h + float(rng.uniform(0, p.hours - 1)))


def _bulk(p: _Person, day: int, ep: int, rng: np.random.Generator) -> _Raw:
    cap = _ROLES[p.role].max_rows
    at = _work_time(p, day, rng)
    kind = p.kinds[int(np.argmax(p.weights))]
    out: _Raw = [(at, p.request(rng, kind=kind, rows=cap * 4, source=p.sources[0]), ep)]
    for _ in range(int(rng.integers(15, 41))):
        at += timedelta(seconds=float(rng.uniform(20, 120)))
        rows = max(1, int(cap * rng.uniform(0.7, 1.0)))
        out.append((at, p.request(rng, kind=kind, rows=rows, source=p.sources[0]), ep))
    return out


def _drip(p: _Person, day: int, ep: int, rng: np.random.Generator) -> _Raw:
    out: _Raw = []
    workdays = [d for d in range(day, day + 14) if (_EPOCH + timedelta(days=d)).weekday() < 5]
    for d in workdays[: int(rng.integers(5, 11))]:
        for _ in range(round(p.per_day * float(rng.uniform(3, 5)))):
            at = _EPOCH + timedelta(days=d, hours=p.start_h + float(rng.uniform(0, p.hours)))
            rows = max(1, round(p.rows_median * float(rng.uniform(0.3, 1.0))))
            out.append((at, p.request(rng, rows=rows, source=p.sources[0]), ep))
    return out


def _off_hours(p: _Person, day: int, ep: int, rng: np.random.Generator) -> _Raw:
    hour = int(rng.choice([22, 23, 24, 25, 26, 27, 28]))
    at = _EPOCH + timedelta(days=day, hours=hour + float(rng.uniform(0, 0.8)))
    out: _Raw = []
    for _ in range(int(rng.integers(1, 5))):
        out.append((at, p.request(rng, rows=p.rows(rng, float(rng.uniform(1, 3))),
                                  source=p.sources[0]), ep))  # fmt: skip
        at += timedelta(seconds=float(rng.uniform(10, 200)))
    return out


def _stolen(p: _Person, day: int, ep: int, rng: np.random.Generator) -> _Raw:
    spec = _ROLES[p.role]
    if rng.random() < 0.5:
        at = _work_time(p, day, rng)
    else:
        at = _EPOCH + timedelta(days=day, hours=float(rng.uniform(17, 23)))
    source = f"ext-{ep}-{int(rng.integers(10**6)):06d}"
    kinds = [*p.kinds, *spec.extra_kinds]
    out: _Raw = []
    for _ in range(int(rng.integers(3, 11))):
        kind = "ssn" if "ssn" not in kinds and rng.random() < 0.3 else str(rng.choice(kinds))
        rows = p.rows(rng, float(rng.uniform(1, 5)))
        out.append((at, p.request(rng, kind=kind, rows=rows, source=source), ep))
        at += timedelta(seconds=float(rng.uniform(15, 300)))
    return out


_ATTACKS: dict[AttackKind, Callable[[_Person, int, int, np.random.Generator], _Raw]] = {
    AttackKind.BULK_EXFILTRATION: _bulk,
    AttackKind.SLOW_DRIP: _drip,
    AttackKind.OFF_HOURS: _off_hours,
    AttackKind.STOLEN_CREDENTIAL: _stolen,
}


def _policy() -> AccessPolicy:
    roles: dict[str, Any] = {}
    for name, spec in _ROLES.items():
        role: dict[str, Any] = {
            "kinds": sorted({*spec.kinds, *spec.extra_kinds}),
            "purposes": [name],
            "max_rows": spec.max_rows,
            "rate_requests": 120,
        }
        if spec.approval_rows is not None:
            role["approval_rows"] = spec.approval_rows
        roles[name] = role
    principals = {f"p{i:03d}": {"roles": [_ROLE_CYCLE[i % len(_ROLE_CYCLE)]]}
                  for i in range(1000)}  # fmt: skip
    return AccessPolicy.from_mapping({"roles": roles, "principals": principals})


def _decide(raw: _Raw, policy: AccessPolicy) -> list[UsageEvent]:
    # The gate's rate limits, from the decisions made so far (as the gate reads its log).
    history: dict[str, deque[tuple[datetime, int]]] = {}

    def usage(principal: str, window_s: int) -> Usage:
        recent = history.setdefault(principal, deque())
        while recent and recent[0][0] <= now - timedelta(seconds=window_s):
            recent.popleft()
        return Usage(requests=len(recent), rows=sum(rows for _, rows in recent))

    events = []
    for now, request, episode in raw:
        decision = policy.evaluate(request, usage=usage, is_approved=False)
        if decision.allowed:
            history.setdefault(request.principal, deque()).append((now, request.rows))
        events.append(UsageEvent(when=now, request=request, decision=decision, episode=episode))
    return events
