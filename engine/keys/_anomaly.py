"""Anomaly detection on key use: rules, a per-principal median/MAD baseline, IsolationForest."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Self

import numpy as np
from numpy.typing import NDArray

from engine.errors import NotFittedError
from engine.keys._anomaly_features import (
    COUNT_FEATURES,
    HORIZON_S,
    Request,
    Trailing,
    Window,
    parse_requests,
    requests_by_principal,
    windows,
)
from engine.keys._anomaly_types import AnomalyOptions, Level, Signal, Verdict

if TYPE_CHECKING:
    from sklearn.ensemble import IsolationForest

__all__ = ["AnomalyDetector", "AnomalyOptions", "Level", "Signal", "Verdict"]

_MAD_TO_SIGMA = 1.4826
_MIN_FOREST_WINDOWS = 32
_TRAILING_7D = frozenset({"requests_7d", "rows_7d", "active_7d"})


@dataclass(frozen=True, slots=True, kw_only=True)
class _Profile:
    windows: int
    median: NDArray[np.float64]
    sigma: NDArray[np.float64]
    valid: NDArray[np.bool_]
    hours: NDArray[np.float64]
    kinds: frozenset[str]
    sources: frozenset[str]


@dataclass(slots=True, kw_only=True)
class _Known:
    kinds: set[str] = field(default_factory=set)
    sources: set[str] = field(default_factory=set)


class AnomalyDetector:
    """Score key use per principal and window, learned from a baseline audit log.

    Three stages, in order: *rules* (hard caps block; a kind the principal never used
    before calls for step-up, i.e. a second approver; a source never seen for the
    principal alerts), a robust *baseline* per principal (median and MAD of each count
    feature on a log scale; a one-sided z-score at ``z_alert`` alerts, at ``z_block``
    blocks; the hour of day against the principal's hour profile), then an
    *IsolationForest* over the z-scores that ranks windows by how unusual they are (and
    alerts on the baseline's top tail when some feature corroborates it).

    Fit on a period of vetted history, then assess later entries (or let a
    :class:`~engine.keys.PolicyGate` call :meth:`check` before each request). A new kind
    becomes known once a request using it was approved by a second approver; a new source
    alerts once and is known afterwards. Sources are compared as they appear in the log
    (keyed hashes). A window already flagged is left out of later trailing features.

    Args:
        options: Thresholds (defaults: ``AnomalyOptions()``).
    """

    __slots__ = ("_forest", "_forest_alert", "_options", "_profiles", "_start_s")

    def __init__(self, options: AnomalyOptions | None = None) -> None:
        self._options = options or AnomalyOptions()
        self._profiles: dict[str, _Profile] | None = None
        self._forest: IsolationForest | None = None
        self._forest_alert = float("inf")
        self._start_s = 0.0

    @property
    def options(self) -> AnomalyOptions:
        """The thresholds in use."""
        return self._options

    def fit(self, entries: Iterable[Mapping[str, Any]]) -> Self:
        """Learn each principal's baseline from audit ``entries`` (``AuditLog.read_entries()``).

        Returns:
            The detector itself.
        """
        requests = parse_requests(entries)
        self._start_s = requests[0].when_s if requests else 0.0
        profiles: dict[str, _Profile] = {}
        vectors: list[NDArray[np.float64]] = []
        for principal, reqs in requests_by_principal(requests).items():
            wins = windows(reqs, window_s=self._options.window_s)
            trailing = Trailing()
            counts = []
            for w in wins:
                counts.append(trailing.fill(w))
                trailing.accept(w)
            profile = self._profile(reqs, wins, counts)
            profiles[principal] = profile
            known = _Known(kinds=set(profile.kinds), sources=set(profile.sources))
            vectors.extend(
                self._evaluate(w, c, profile, known)[1] for w, c in zip(wins, counts, strict=True)
            )
        self._profiles = profiles
        self._forest, self._forest_alert = None, float("inf")
        if len(vectors) >= _MIN_FOREST_WINDOWS:
            # scikit-learn loads only when a forest is fitted, keeping `finveil` quick to start.
            from sklearn.ensemble import IsolationForest

            forest = IsolationForest(n_estimators=self._options.trees,
                                     random_state=self._options.seed)  # fmt: skip
            self._forest = forest.fit(np.vstack(vectors))
            if self._options.forest_alert_quantile is not None:
                baseline = self._scores(vectors)
                self._forest_alert = float(
                    np.quantile(baseline, self._options.forest_alert_quantile)
                )
        return self

    def assess(
        self, entries: Iterable[Mapping[str, Any]], *, since: datetime | None = None
    ) -> list[Verdict]:
        """Return a verdict for every active (principal, window), most unusual first.

        Args:
            entries: Audit entries, oldest first; earlier entries give the trailing context.
            since: Only windows ending after this time get a verdict.

        Returns:
            Verdicts ranked by level (block, alert, allow), then by forest score.

        Raises:
            NotFittedError: :meth:`fit` was not called.
        """
        profiles = self._fitted()
        since_s = since.timestamp() if since is not None else float("-inf")
        found: list[tuple[Window, list[Signal], NDArray[np.float64]]] = []
        for principal, reqs in requests_by_principal(parse_requests(entries)).items():
            found.extend(self._assess_principal(profiles.get(principal), reqs, since_s))
        scores = self._scores([vector for _, _, vector in found])
        verdicts = [
            self._verdict(w, signals, score, vector)
            for (w, signals, vector), score in zip(found, scores, strict=True)
        ]
        verdicts.sort(key=lambda v: (-v.level.severity, -v.score, v.window_start, v.principal))
        return verdicts

    def check(self, entries: Sequence[Mapping[str, Any]], pending: Mapping[str, Any]) -> Verdict:
        """Return the verdict on the window ``pending`` (an entry not yet written) falls in.

        Args:
            entries: The audit log so far.
            pending: The entry the request would write (same fields as an audit entry).

        Raises:
            NotFittedError: :meth:`fit` was not called.
        """
        profiles = self._fitted()
        principal = str(pending["who"])
        own = [e for e in entries if e.get("who") == principal or e.get("action") != "detokenize"]
        reqs = requests_by_principal(parse_requests([*own, pending])).get(principal, [])
        last = self._assess_principal(profiles.get(principal), reqs, float("-inf"))[-1]
        w, signals, vector = last
        return self._verdict(w, signals, self._scores([vector])[0], vector)

    # -- internals ----------------------------------------------------------------------

    def _fitted(self) -> dict[str, _Profile]:
        if self._profiles is None:
            raise NotFittedError("AnomalyDetector: call fit() on a baseline before assessing")
        return self._profiles

    def _profile(
        self,
        reqs: Sequence[Request],
        wins: Sequence[Window],
        counts: Sequence[NDArray[np.float64]],
    ) -> _Profile:
        logs = np.log1p(np.vstack(counts))
        ends = np.array([w.end_s for w in wins])
        n = len(COUNT_FEATURES)
        median, sigma, valid = np.zeros(n), np.ones(n), np.zeros(n, dtype=bool)
        for i, name in enumerate(COUNT_FEATURES):
            column = logs[ends - self._start_s >= HORIZON_S.get(name, 0), i]
            if len(column) < self._options.min_baseline_windows:
                continue
            floor = (
                self._options.sigma_floor_7d if name in _TRAILING_7D else self._options.sigma_floor
            )
            median[i] = float(np.median(column))
            mad = float(np.median(np.abs(column - median[i])))
            sigma[i] = max(_MAD_TO_SIGMA * mad, floor)
            valid[i] = True
        hours = np.zeros(24)
        if len(wins) >= self._options.min_baseline_windows:
            per_hour = np.bincount(_hours([r.when_s for r in reqs]), minlength=24).astype(float)
            # Spread each hour over its neighbours, so that overtime an hour or two past
            # the usual end of day is not unusual, while the night stays so.
            smooth = per_hour + sum(
                weight * (np.roll(per_hour, k) + np.roll(per_hour, -k))
                for k, weight in ((1, 0.5), (2, 0.25))
            )
            hours = smooth / smooth.sum()
        allowed = [r for r in reqs if not r.is_denied]
        return _Profile(
            windows=len(wins), median=median, sigma=sigma, valid=valid, hours=hours,
            kinds=frozenset(r.kind for r in allowed),
            sources=frozenset(r.source for r in allowed if r.source is not None),
        )  # fmt: skip

    def _scores(self, vectors: Sequence[NDArray[np.float64]]) -> list[float]:
        if self._forest is None or not vectors:
            return [0.0] * len(vectors)
        return [float(x) for x in -self._forest.score_samples(np.vstack(vectors))]

    def _assess_principal(
        self, profile: _Profile | None, reqs: Sequence[Request], since_s: float
    ) -> list[tuple[Window, list[Signal], NDArray[np.float64]]]:
        known = _Known(
            kinds=set(profile.kinds) if profile else set(),
            sources=set(profile.sources) if profile else set(),
        )
        trailing = Trailing()
        out = []
        for w in windows(reqs, window_s=self._options.window_s):
            signals, vector = self._evaluate(w, trailing.fill(w), profile, known)
            if w.end_s > since_s:
                out.append((w, signals, vector))
            # A window already flagged is not normal history: its volume is not counted
            # again in the trailing features of later windows (one alert per excess).
            if not signals or w.end_s <= since_s:
                trailing.accept(w)
            # Step-up is satisfied only by an approved request; a new source alerts once.
            known.kinds.update(r.kind for r in w.requests if r.is_approved)
            known.sources.update(r.source for r in w.requests if r.source is not None)
        return out

    def _evaluate(
        self, w: Window, counts: NDArray[np.float64], profile: _Profile | None, known: _Known
    ) -> tuple[list[Signal], NDArray[np.float64]]:
        opts = self._options
        signals: list[Signal] = []
        caps = {"rows": opts.max_rows_per_window, "requests": opts.max_requests_per_window,
                "denials": opts.max_denials_per_window}  # fmt: skip
        for name, cap in caps.items():
            value = float(counts[COUNT_FEATURES.index(name)])
            if value >= cap + (name != "denials"):
                signals.append(Signal(feature=name, rule="cap", level=Level.BLOCK,
                                      observed=value, typical=float(cap)))  # fmt: skip
        approved = {r.kind for r in w.requests if r.is_approved}
        new_kinds = sorted({r.kind for r in w.requests if not (r.is_denied or r.is_approved)}
                           - known.kinds - approved)  # fmt: skip
        signals += [Signal(feature="kind", rule="step_up", level=Level.ALERT, observed=1.0,
                           detail=kind) for kind in new_kinds]  # fmt: skip
        new_sources = sorted({r.source for r in w.requests if r.source is not None}
                             - known.sources)  # fmt: skip
        signals += [Signal(feature="source", rule="new_source", level=Level.ALERT,
                           observed=1.0, detail=src) for src in new_sources]  # fmt: skip
        z = np.zeros(len(COUNT_FEATURES))
        rarity = 0.0
        if profile is not None and profile.windows >= opts.min_baseline_windows:
            z = np.where(profile.valid, (np.log1p(counts) - profile.median) / profile.sigma, 0.0)
            for i in np.flatnonzero(z >= opts.z_alert).tolist():
                signals.append(Signal(
                    feature=COUNT_FEATURES[i], rule="baseline",
                    level=Level.BLOCK if z[i] >= opts.z_block else Level.ALERT,
                    observed=float(counts[i]), typical=float(np.expm1(profile.median[i]).round(1)),
                    z=float(z[i]),
                ))  # fmt: skip
            hours = _hours([r.when_s for r in w.requests])
            shares = profile.hours[hours]
            worst = int(np.argmin(shares))
            rarity = float(-np.log10(max(float(shares[worst]), 1e-4)))
            if shares[worst] < opts.hour_share_min:
                signals.append(Signal(feature="hour", rule="time_of_day", level=Level.ALERT,
                                      observed=float(hours[worst]),
                                      typical=float(shares[worst])))  # fmt: skip
        extra = [rarity, float(len(new_kinds)), float(len(new_sources))]
        vector = np.concatenate((np.clip(z, -5.0, 30.0), extra))
        return signals, vector

    def _verdict(
        self, w: Window, signals: list[Signal], score: float, vector: NDArray[np.float64]
    ) -> Verdict:
        # The forest alone is weak evidence: it alerts only when some count also stands
        # out (half the baseline threshold), which keeps it from flagging mere novelty.
        corroborated = float(vector[: len(COUNT_FEATURES)].max()) >= self._options.z_alert / 2
        if score > self._forest_alert and corroborated:
            signals = [*signals, Signal(feature="score", rule="forest", level=Level.ALERT,
                                        observed=round(score, 4),
                                        typical=round(self._forest_alert, 4))]  # fmt: skip
        alerts = {s.feature for s in signals if s.level is Level.ALERT}
        if any(s.level is Level.BLOCK for s in signals) or len(alerts) >= self._options.block_after:
            level = Level.BLOCK
        elif signals:
            level = Level.ALERT
        else:
            level = Level.ALLOW
        return Verdict(
            principal=w.principal,
            window_start=datetime.fromtimestamp(w.start_s, UTC),
            window_end=datetime.fromtimestamp(w.end_s, UTC),
            level=level, signals=tuple(signals), score=round(score, 6), requests=len(w.requests),
        )  # fmt: skip


def _hours(times: Sequence[float]) -> NDArray[np.int64]:
    return (np.asarray(times, dtype=np.float64) % 86_400 // 3600).astype(np.int64)
