"""PolicyGate: enforce an AccessPolicy, audit every decision first, and raise on denial."""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from engine.errors import IntegrityError, PolicyDenied
from engine.keys._audit import AuditLog
from engine.keys._policy import AccessPolicy, Decision, DetokenizeRequest, Usage

__all__ = ["PolicyGate"]

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

    Args:
        policy: The access policy.
        audit: The audit log (from ``KeyRing.attach_audit`` or built with the audit key).
        approval_ttl_s: How long an approval stays valid.
        clock: Returns the current UTC time (for tests).
    """

    __slots__ = ("_approval_ttl_s", "_audit", "_clock", "_policy")

    def __init__(
        self,
        policy: AccessPolicy,
        audit: AuditLog,
        *,
        approval_ttl_s: int = 3600,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self._policy = policy
        self._audit = audit
        self._approval_ttl_s = approval_ttl_s
        self._clock = clock or (lambda: datetime.now(UTC))

    def authorize(self, request: DetokenizeRequest) -> Decision:
        """Decide ``request``, audit the decision, and return it if allowed.

        Raises:
            PolicyDenied: The policy denies the request (the denial is audited).
            IntegrityError: The decision could not be audited, or the audit log fails
                verification; nothing may be detokenized.
        """
        with self._lock():
            entries = self._audit.read_entries()
            now = self._clock()
            decision = self._policy.evaluate(
                request,
                usage=lambda principal, window_s: _usage(
                    entries, principal, since=now - timedelta(seconds=window_s)
                ),
                is_approved=self._is_approved(entries, request, now=now),
            )
            self._audit.append(
                who=request.principal,
                action=DETOKENIZE,
                decision="allow" if decision.allowed else "deny",
                reason=f"{decision.rule}: {decision.reason}; purpose {request.purpose}",
                key_id=request.key_id,
                key_version=request.key_version,
                rows=request.rows,
                subject=self._subject(request),
            )
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

    def _subject(self, request: DetokenizeRequest) -> dict[str, str]:
        subject = {"request": request.fingerprint()}
        if request.justification:
            subject["justification"] = request.justification
        if request.dataset_id is not None:
            subject["dataset"] = request.dataset_id
        return subject

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
