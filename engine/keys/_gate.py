"""PolicyGate: enforce an AccessPolicy, audit every decision first, and raise on denial."""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from engine.errors import IntegrityError, PolicyDenied
from engine.keys._anomaly_types import Level, Verdict
from engine.keys._audit import AuditLog
from engine.keys._policy import AccessPolicy, Decision, DetokenizeRequest, Usage

if TYPE_CHECKING:
    # The detector pulls in scikit-learn; importing it only for typing keeps `engine.keys`
    # (and every enclave that loads it) quick to import.
    from engine.keys._anomaly import AnomalyDetector

__all__ = ["PolicyGate", "request_fields"]

DETOKENIZE = "detokenize"
APPROVE = "detokenize.approve"


class PolicyGate:
    """The only way to obtain permission to detokenize.

    Each call evaluates the policy, appends the decision (allow or deny) to the audit log
    and fsyncs it, and only then returns (allow) or raises ``PolicyDenied`` (deny). Rate
    limits and approvals are computed from the verified audit log itself, so they hold
    across processes and restarts, and deleting entries to reset a limit breaks the chain.
    Evaluation and append happen under one lock (``<audit>.gate.lock``), so two concurrent
    requests cannot both use the last unit of a rate limit.

    Bulk requests (above a role's ``approval_rows``) need :meth:`approve` by another
    principal marked ``approver`` for exactly that request (same fields), within
    ``approval_ttl_s``; each approval is used once.

    With an ``anomaly`` detector (fitted on a baseline of this log), a request the policy
    allows is then screened: a ``block`` verdict denies it (rule ``anomaly_block``), a first
    use of a kind by the principal needs an approval like a bulk request (rule
    ``step_up_required``), and an ``alert`` lets it through with the alert in the audited
    reason. Denials and alerts name the unusual features, never a value.

    Args:
        policy: The access policy.
        audit: The audit log (from ``KeyRing.attach_audit`` or built with the audit key).
        approval_ttl_s: How long an approval stays valid.
        clock: Returns the current UTC time (for tests).
        anomaly: A fitted anomaly detector screening allowed requests, if any.
    """

    __slots__ = ("_anomaly", "_approval_ttl_s", "_audit", "_clock", "_policy")

    def __init__(
        self,
        policy: AccessPolicy,
        audit: AuditLog,
        *,
        approval_ttl_s: int = 3600,
        clock: Callable[[], datetime] | None = None,
        anomaly: AnomalyDetector | None = None,
    ) -> None:
        self._policy = policy
        self._audit = audit
        self._approval_ttl_s = approval_ttl_s
        self._clock = clock or (lambda: datetime.now(UTC))
        self._anomaly = anomaly

    def authorize(self, request: DetokenizeRequest) -> Decision:
        """Decide ``request``, audit the decision, and return it if allowed.

        Raises:
            PolicyDenied: The policy or the anomaly detector denies the request (the
                denial is audited).
            IntegrityError: The decision could not be audited, or the audit log fails
                verification; nothing may be detokenized.
        """
        with self._lock():
            entries = self._audit.read_entries()
            now = self._clock()
            is_approved = self._is_approved(entries, request, now=now)
            decision = self._policy.evaluate(
                request,
                usage=lambda principal, window_s: _usage(
                    entries, principal, since=now - timedelta(seconds=window_s)
                ),
                is_approved=is_approved,
            )
            if decision.allowed and self._anomaly is not None:
                verdict = self._screen(
                    self._anomaly, entries, request, decision, now=now, approved=is_approved
                )
                decision = _apply(decision, verdict, request=request)
            self._audit.append(**request_fields(request, decision))
        if not decision.allowed:
            raise PolicyDenied(f"detokenization denied ({decision.rule}): {decision.reason}")
        return decision

    def approve(self, request: DetokenizeRequest, *, approver: str) -> None:
        """Record ``approver``'s approval of exactly ``request`` (audited).

        Raises:
            PolicyDenied: ``approver`` is unknown, not an approver, or the requester.
        """
        who = self._policy.principal(approver)
        if who is None or not who.is_approver:
            rule, reason = "not_an_approver", f"principal {approver!r} may not approve requests"
        elif approver == request.principal:
            rule, reason = "self_approval", "a request cannot be approved by its requester"
        else:
            rule, reason = "allow", f"approved request of {request.principal!r}"
        with self._lock():
            self._audit.append(
                who=approver,
                action=APPROVE,
                decision="allow" if rule == "allow" else "deny",
                reason=f"{rule}: {reason}",
                key_id=request.key_id,
                key_version=request.key_version,
                rows=request.rows,
                subject={"request": request.fingerprint()},
            )
        if rule != "allow":
            raise PolicyDenied(f"approval denied ({rule}): {reason}")

    def _screen(
        self,
        detector: AnomalyDetector,
        entries: Sequence[dict[str, Any]],
        request: DetokenizeRequest,
        decision: Decision,
        *,
        now: datetime,
        approved: bool,
    ) -> Verdict:
        fields = request_fields(request, decision)
        subject = {k: self._audit.subject_hash(v) for k, v in fields.pop("subject").items()}
        # The gate, not the detector, judges approvals (it knows their expiry): the pending
        # entry carries the request tag only when a valid approval exists.
        if not approved:
            subject.pop("request")
        pending = {**fields, "when": now.isoformat(timespec="microseconds"), "subject": subject}
        return detector.check(entries, pending)

    def _is_approved(
        self, entries: Sequence[dict[str, Any]], request: DetokenizeRequest, *, now: datetime
    ) -> bool:
        tag = self._audit.subject_hash(request.fingerprint())
        since = now - timedelta(seconds=self._approval_ttl_s)
        approved = False
        for entry in entries:
            if entry["subject"].get("request") != tag or entry["decision"] != "allow":
                continue
            if entry["action"] == APPROVE:
                approver = self._policy.principal(entry["who"])
                approved = (
                    approver is not None
                    and approver.is_approver
                    and entry["who"] != request.principal
                    and _when(entry) >= since
                )
            elif entry["action"] == DETOKENIZE:
                approved = False  # An approval is used up by the request it allowed.
        return approved

    @contextlib.contextmanager
    def _lock(self) -> Iterator[None]:
        path = self._audit.path.with_name(self._audit.path.name + ".gate.lock")
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as exc:
            raise IntegrityError(f"cannot open policy lock {path}: {exc.strerror}") from exc
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)


def request_fields(request: DetokenizeRequest, decision: Decision) -> dict[str, Any]:
    """Return the ``AuditLog.append`` arguments that record ``decision`` on ``request``."""
    subject = {"request": request.fingerprint()}
    if request.justification:
        subject["justification"] = request.justification
    if request.dataset_id is not None:
        subject["dataset"] = request.dataset_id
    if request.source is not None:
        subject["source"] = request.source
    return {
        "who": request.principal,
        "action": DETOKENIZE,
        "decision": "allow" if decision.allowed else "deny",
        "reason": f"{decision.rule}: {decision.reason}; purpose {request.purpose}"[:1000],
        "key_id": request.key_id,
        "key_version": request.key_version,
        "rows": request.rows,
        "subject": subject,
    }


def _apply(decision: Decision, verdict: Verdict, *, request: DetokenizeRequest) -> Decision:
    summary = verdict.summary()[:600]
    if verdict.level is Level.BLOCK:
        return Decision(allowed=False, rule="anomaly_block", role=decision.role,
                        reason=f"anomaly detector: {summary}")  # fmt: skip
    if verdict.is_step_up:
        return Decision(
            allowed=False, rule="step_up_required", role=decision.role,
            reason=f"first use of kind {request.kind!r} by {request.principal!r} needs a "
            f"second approver for this exact request (anomaly detector: {summary})",
        )  # fmt: skip
    if verdict.level is Level.ALERT:
        return Decision(allowed=True, rule=decision.rule, role=decision.role,
                        reason=f"{decision.reason}; anomaly {summary}")  # fmt: skip
    return decision


def _when(entry: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(entry["when"])


def _usage(entries: Sequence[dict[str, Any]], principal: str, *, since: datetime) -> Usage:
    allowed = [
        e
        for e in entries
        if e["action"] == DETOKENIZE
        and e["decision"] == "allow"
        and e["who"] == principal
        and _when(e) >= since
    ]
    return Usage(requests=len(allowed), rows=sum(int(e["rows"] or 0) for e in allowed))
