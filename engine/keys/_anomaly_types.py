"""Verdicts of the key-use anomaly detector, their signals, and its options."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import Enum

from engine.errors import ConfigError

__all__ = ["AnomalyOptions", "Level", "Signal", "Verdict"]


class Level(Enum):
    """A verdict: let the use proceed, raise an alert, or block it."""

    ALLOW = "allow"
    ALERT = "alert"
    BLOCK = "block"

    @property
    def severity(self) -> int:
        """0 for allow, 1 for alert, 2 for block."""
        return {"allow": 0, "alert": 1, "block": 2}[self.value]


@dataclass(frozen=True, slots=True, kw_only=True)
class Signal:
    """One reason a window is unusual; counts and ids only, never a data value.

    Args:
        feature: The feature (one of ``COUNT_FEATURES``, ``"hour"``, ``"kind"``, ``"source"``).
        rule: ``"cap"``, ``"step_up"`` (first use of a kind), ``"new_source"``,
            ``"time_of_day"``, ``"baseline"`` (robust z-score against the principal) or
            ``"forest"`` (the IsolationForest ranks the window in the baseline's top tail).
        level: The level this signal alone calls for.
        observed: The observed count (or hour of day).
        typical: The principal's median (baseline), the cap, or the hour's share of history.
        z: The robust z-score (baseline signals only).
        detail: The kind name or the source id as it appears in the audit log.
    """

    feature: str
    rule: str
    level: Level
    observed: float
    typical: float | None = None
    z: float | None = None
    detail: str = ""

    def describe(self) -> str:
        """Return a short phrase for an audit reason or an alert."""
        if self.rule == "baseline":
            return f"{self.feature} {self.observed:g} (typical {self.typical:g}, z {self.z:.1f})"
        if self.rule == "cap":
            return f"{self.feature} {self.observed:g} over cap {self.typical:g}"
        if self.rule == "forest":
            return f"isolation forest score {self.observed:g} above {self.typical:g}"
        if self.rule == "time_of_day":
            share = 100 * (self.typical or 0.0)
            return f"hour {self.observed:02.0f} UTC ({share:.1f}% of history)"
        if self.rule == "step_up":
            return f"first use of kind {self.detail}"
        return f"new source {self.detail}"


@dataclass(frozen=True, slots=True, kw_only=True)
class Verdict:
    """The detector's verdict on one principal's key use in one window.

    Args:
        principal: The principal, as in the audit log.
        window_start: Start of the window (UTC).
        window_end: End of the window (UTC).
        level: Allow, alert or block.
        signals: What made the window unusual (empty for a plain allow).
        score: IsolationForest anomaly score in (0, 1], higher is more unusual (for
            ranking; 0.0 when the forest could not be fitted).
        requests: Requests in the window.
    """

    principal: str
    window_start: datetime
    window_end: datetime
    level: Level
    signals: tuple[Signal, ...]
    score: float
    requests: int

    @property
    def is_step_up(self) -> bool:
        """Whether the window uses a kind the principal never used (needs an approver)."""
        return any(s.rule == "step_up" for s in self.signals)

    def summary(self) -> str:
        """Return ``"<level>: <signal>; <signal>"`` for audit reasons and alerts."""
        parts = "; ".join(s.describe() for s in self.signals) or "nothing unusual"
        return f"{self.level.value}: {parts}"


@dataclass(frozen=True, slots=True, kw_only=True)
class AnomalyOptions:
    """Thresholds of the detector; every field has a documented default.

    Args:
        window_s: Window length in seconds (windows are aligned to the epoch).
        max_rows_per_window: Rows per principal and window that always block.
        max_requests_per_window: Requests per principal and window that always block.
        max_denials_per_window: Denials per principal and window that always block.
        z_alert: Robust z-score (log scale) at which a feature alerts.
        z_block: Robust z-score at which a feature blocks.
        block_after: This many alerting signals together block.
        min_baseline_windows: Active windows a principal needs before its baseline and
            hour profile are used (fewer: rules only).
        hour_share_min: An hour of day holding less than this share of the principal's
            history (smoothed over neighbouring hours) is unusual.
        sigma_floor: Smallest robust sigma (log scale) for per-window features.
        sigma_floor_7d: Smallest robust sigma for the 7-day features (sums are steadier).
        trees: Trees of the IsolationForest.
        seed: Seed of the IsolationForest.
        forest_alert_quantile: A window whose forest score ranks above this quantile of
            the baseline windows' scores alerts (``None``: the forest only ranks).
    """

    window_s: int = 3600
    max_rows_per_window: int = 100_000
    max_requests_per_window: int = 500
    max_denials_per_window: int = 10
    z_alert: float = 6.0
    z_block: float = 12.0
    block_after: int = 3
    min_baseline_windows: int = 10
    hour_share_min: float = 0.002
    sigma_floor: float = 0.35
    sigma_floor_7d: float = 0.15
    trees: int = 100
    seed: int = 0
    forest_alert_quantile: float | None = 0.995

    def __post_init__(self) -> None:
        counts = ("window_s", "max_rows_per_window", "max_requests_per_window",
                  "max_denials_per_window", "block_after", "min_baseline_windows",
                  "trees")  # fmt: skip
        for name in counts:
            value = getattr(self, name)
            if type(value) is not int or value < 1:
                raise ConfigError(f"anomaly options: {name} must be a positive integer")
        if not 0 < self.z_alert <= self.z_block:
            raise ConfigError("anomaly options: need 0 < z_alert <= z_block")
        if not 0 <= self.hour_share_min < 1:
            raise ConfigError("anomaly options: hour_share_min must lie in [0, 1)")
        if self.sigma_floor <= 0 or self.sigma_floor_7d <= 0:
            raise ConfigError("anomaly options: sigma floors must be positive")
        if self.forest_alert_quantile is not None and not 0 < self.forest_alert_quantile < 1:
            raise ConfigError("anomaly options: forest_alert_quantile must lie in (0, 1)")
