"""Windowed features of key use, read from detokenization audit entries (no values, only counts)."""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
from numpy.typing import NDArray

__all__ = [
    "COUNT_FEATURES",
    "Trailing",
    "Window",
    "parse_requests",
    "requests_by_principal",
    "windows",
]

DETOKENIZE = "detokenize"
APPROVE = "detokenize.approve"
DAY_S = 86_400
WEEK_S = 7 * DAY_S
BURST_S = 60

#: Count features per (principal, window), in the order of :attr:`Window.counts`.
COUNT_FEATURES: tuple[str, ...] = (
    "requests",  # requests in the window (the request rate per window)
    "rows",  # rows requested in the window
    "max_rows",  # rows of the largest request
    "kinds",  # distinct token kinds
    "keys",  # distinct key id and version pairs
    "burst",  # most requests within any 60 s (peak request rate)
    "denials",  # requests denied (by the policy or the detector)
    "requests_24h",  # requests in the 24 h up to the window's end
    "rows_24h",  # rows in the 24 h up to the window's end
    "active_24h",  # active windows in the 24 h up to the window's end
    "requests_7d",  # requests in the 7 days up to the window's end
    "rows_7d",  # rows in the 7 days up to the window's end
    "active_7d",  # active windows in the 7 days up to the window's end
)
#: Trailing features need this much history before a window to be complete.
HORIZON_S: Mapping[str, int] = {
    "requests_24h": DAY_S, "rows_24h": DAY_S, "active_24h": DAY_S,
    "requests_7d": WEEK_S, "rows_7d": WEEK_S, "active_7d": WEEK_S,
}  # fmt: skip


@dataclass(frozen=True, slots=True, kw_only=True)
class Request:
    """One audited detokenization request, reduced to what the detector may see."""

    when_s: float
    principal: str
    kind: str
    key: str
    rows: int
    is_denied: bool
    is_approved: bool
    source: str | None


@dataclass(frozen=True, slots=True, kw_only=True)
class Window:
    """The requests of one principal in one time window, with their count features."""

    principal: str
    start_s: float
    end_s: float
    requests: tuple[Request, ...]
    counts: NDArray[np.float64]


def parse_requests(entries: Iterable[Mapping[str, Any]]) -> list[Request]:
    """Return the detokenization requests among audit ``entries``, oldest first.

    An allowed request is *approved* when an allowed ``detokenize.approve`` entry for the
    same request fingerprint (``subject["request"]``) precedes it.
    """
    approvals: set[str] = set()
    out: list[Request] = []
    for entry in entries:
        action, decision = entry.get("action"), entry.get("decision")
        subject = entry.get("subject") or {}
        tag = subject.get("request")
        if action == APPROVE and decision == "allow" and tag:
            approvals.add(tag)
            continue
        if action != DETOKENIZE or decision not in ("allow", "deny"):
            continue
        key_id = str(entry.get("key_id") or "")
        is_approved = decision == "allow" and tag in approvals
        if is_approved:
            approvals.discard(tag)
        out.append(
            Request(
                when_s=datetime.fromisoformat(entry["when"]).timestamp(),
                principal=str(entry["who"]),
                kind=key_id.removeprefix("tokenize."),
                key=f"{key_id}@{entry.get('key_version') or 0}",
                rows=int(entry.get("rows") or 0),
                is_denied=decision == "deny",
                is_approved=is_approved,
                source=subject.get("source"),
            )
        )
    out.sort(key=lambda r: r.when_s)
    return out


def requests_by_principal(requests: Iterable[Request]) -> dict[str, list[Request]]:
    """Group requests by principal, keeping time order."""
    groups: dict[str, list[Request]] = {}
    for r in requests:
        groups.setdefault(r.principal, []).append(r)
    return groups


def windows(requests: Sequence[Request], *, window_s: int) -> list[Window]:
    """Cut one principal's time-ordered requests into active windows with own counts.

    The trailing features (``*_24h``, ``*_7d``) are left at zero: they depend on which
    earlier windows count as normal history, which the detector decides.
    """
    if not requests:
        return []
    times = np.array([r.when_s for r in requests], dtype=np.float64)
    rows = np.array([r.rows for r in requests], dtype=np.float64)
    slot = np.floor(times / window_s).astype(np.int64)
    cut = np.flatnonzero(np.diff(slot)) + 1
    starts = np.concatenate(([0], cut)).tolist()
    stops = np.concatenate((cut, [len(requests)])).tolist()
    out = []
    for lo, hi in zip(starts, stops, strict=True):
        start = float(slot[lo] * window_s)
        chunk = requests[lo:hi]
        counts = np.zeros(len(COUNT_FEATURES))
        counts[:7] = (
            hi - lo,
            rows[lo:hi].sum(),
            rows[lo:hi].max(),
            len({r.kind for r in chunk}),
            len({r.key for r in chunk}),
            _burst(times[lo:hi]),
            sum(r.is_denied for r in chunk),
        )
        out.append(
            Window(principal=chunk[0].principal, start_s=start, end_s=start + window_s,
                   requests=tuple(chunk), counts=counts)
        )  # fmt: skip
    return out


class Trailing:
    """Running 24 h and 7 day totals over the windows accepted as normal history."""

    __slots__ = ("_history",)

    def __init__(self) -> None:
        self._history: deque[tuple[float, float, float]] = deque()

    def fill(self, w: Window) -> NDArray[np.float64]:
        """Return ``w.counts`` with the trailing features of ``w`` (itself included)."""
        while self._history and self._history[0][0] <= w.end_s - WEEK_S:
            self._history.popleft()
        day = [(n, r) for end, n, r in self._history if end > w.end_s - DAY_S]
        own_n, own_rows = float(w.counts[0]), float(w.counts[1])
        counts = w.counts.copy()
        counts[7:] = (
            own_n + sum(n for n, _ in day),
            own_rows + sum(r for _, r in day),
            1 + len(day),
            own_n + sum(n for _, n, _ in self._history),
            own_rows + sum(r for _, _, r in self._history),
            1 + len(self._history),
        )
        return counts

    def accept(self, w: Window) -> None:
        """Count ``w`` as normal history for later windows."""
        self._history.append((w.end_s, float(w.counts[0]), float(w.counts[1])))


def _burst(times: NDArray[np.float64]) -> int:
    ends = np.searchsorted(times, times + BURST_S, side="left")
    return int((ends - np.arange(len(times))).max())
