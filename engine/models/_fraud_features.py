"""Fraud features over tokens: per-card velocity windows, delayed terminal risk, time of day.

The features depend only on equality of identifiers, never on their values, so they are the
same on deterministic tokens as on the raw card numbers and terminal ids.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Final

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from engine.errors import InputError

WINDOW_DAYS: Final = (1, 7, 30)
_DAY_NS: Final = 86_400 * 10**9


def _codes(frame: pd.DataFrame, column: str) -> NDArray[np.int64]:
    codes, _ = pd.factorize(frame[column], use_na_sentinel=True)
    missing = np.flatnonzero(codes < 0)
    if len(missing):
        raise InputError(f"column {column!r}: missing identifier at row {int(missing[0])}")
    return np.asarray(codes, dtype=np.int64)


def _times_ns(frame: pd.DataFrame, column: str) -> NDArray[np.int64]:
    series = frame[column]
    if not pd.api.types.is_datetime64_any_dtype(series):
        raise InputError(f"column {column!r}: expected a datetime column")
    if isinstance(series.dtype, pd.DatetimeTZDtype):
        series = series.dt.tz_convert(None)
    missing = np.flatnonzero(series.isna().to_numpy())
    if len(missing):
        raise InputError(f"column {column!r}: missing timestamp at row {int(missing[0])}")
    return np.asarray(series.to_numpy(dtype="datetime64[ns]")).view(np.int64)


def _integers(frame: pd.DataFrame, column: str, *, binary: bool = False) -> NDArray[np.int64]:
    series = frame[column]
    if not (pd.api.types.is_integer_dtype(series) or pd.api.types.is_bool_dtype(series)):
        raise InputError(f"column {column!r}: expected integers (minor units) or booleans")
    missing = np.flatnonzero(series.isna().to_numpy())
    if len(missing):
        raise InputError(f"column {column!r}: missing value at row {int(missing[0])}")
    values = series.to_numpy(dtype=np.int64)
    if binary and len(values) and not np.isin(values, (0, 1)).all():
        raise InputError(f"column {column!r}: labels must be 0/1 or booleans")
    return values


class _Clock:
    """The transactions' times, sorted once, to rank shifted times by binary search."""

    def __init__(self, times_ns: NDArray[np.int64]) -> None:
        self.perm = np.argsort(times_ns, kind="stable")
        self.sorted = times_ns[self.perm]
        is_new = np.ones(len(self.sorted), dtype=bool)
        is_new[1:] = self.sorted[1:] != self.sorted[:-1]
        self.distinct = self.sorted[is_new]

    def rank(self, offset_ns: int) -> NDArray[np.int64]:
        """Return, per row, how many distinct times are earlier than its time - offset."""
        # Shifting sorted times keeps them sorted, which keeps the binary search cache-friendly.
        out = np.empty(len(self.sorted), dtype=np.int64)
        out[self.perm] = np.searchsorted(self.distinct, self.sorted - offset_ns)
        return out


class _Windows:
    """Sums over time windows within groups, by sorting once and binary search."""

    def __init__(self, codes: NDArray[np.int64], clock: _Clock) -> None:
        self.clock = clock
        # Stable sort of time-sorted rows by group: rows sorted by (group, time).
        self.order = clock.perm[np.argsort(codes[clock.perm], kind="stable")]
        # Times become ranks among distinct times, so that (group, time) packs into one
        # int64 key sorted like the rows: groups * (distinct + 1) < rows**2 < 2**63.
        self.base = codes[self.order] * np.int64(len(clock.distinct) + 1)
        self.keys = self.base + clock.rank(0)[self.order]

    def bounds(self, lo_ns: int, hi_ns: int) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
        """Return the sorted-row range of each row's window [t - lo, t - hi) in its group."""
        start = self.base + self.clock.rank(lo_ns)[self.order]
        end = self.base + self.clock.rank(hi_ns)[self.order]
        return np.searchsorted(self.keys, start), np.searchsorted(self.keys, end)

    def sum(
        self, values: NDArray[np.int64], start: NDArray[np.int64], end: NDArray[np.int64]
    ) -> NDArray[np.int64]:
        """Return each row's sum of ``values`` (input order) over its sorted-row range."""
        cumulative = np.concatenate([[0], np.cumsum(values[self.order])])
        return np.asarray(cumulative[end] - cumulative[start], dtype=np.int64)

    def unsort(self, values: NDArray[Any]) -> NDArray[Any]:
        """Return values computed in sorted order in input order."""
        out = np.empty_like(values)
        out[self.order] = values
        return out


def _ratio(num: NDArray[np.int64], den: NDArray[np.int64]) -> NDArray[np.float64]:
    out = np.zeros(len(num), dtype=np.float64)
    np.divide(num, den, out=out, where=den > 0)
    return out


Span = tuple[int, int]
"""A window ``[t - lo, t - hi)`` as ``(lo, hi)`` nanoseconds before each row's time ``t``."""

Aggregate = Callable[
    [NDArray[np.int64], NDArray[np.int64], NDArray[np.int64], Sequence[Span]],
    list[tuple[NDArray[np.int64], NDArray[np.int64]]],
]
"""``aggregate(groups, times_ns, values, spans)``: see :func:`window_aggregates`."""


def window_aggregates(
    groups: NDArray[np.int64],
    times_ns: NDArray[np.int64],
    values: NDArray[np.int64],
    spans: Sequence[Span],
) -> list[tuple[NDArray[np.int64], NDArray[np.int64]]]:
    """Count and sum ``values`` over each row's time windows within its group.

    For each span ``(lo, hi)`` and each row ``i``: the number of rows ``j`` with
    ``groups[j] == groups[i]`` and ``times_ns[i] - lo <= times_ns[j] < times_ns[i] - hi``,
    and the sum of their ``values``. A row's result depends only on the rows of its own
    group, so groups can be split across workers (``engine.jobs`` does, on Ray).

    Args:
        groups: Non-negative group codes (e.g. ``pd.factorize`` of card tokens).
        times_ns: Times in nanoseconds, in any order.
        values: The integers summed.
        spans: The windows.

    Returns:
        ``(count, sum)`` per span, in input row order.
    """
    if not len(groups):
        empty = np.zeros(0, dtype=np.int64)
        return [(empty, empty) for _ in spans]
    windows = _Windows(np.asarray(groups, dtype=np.int64), _Clock(times_ns))
    out = []
    for lo, hi in spans:
        start, end = windows.bounds(lo, hi)
        out.append((windows.unsort(end - start), windows.unsort(windows.sum(values, start, end))))
    return out


def compute_fraud_features(
    frame: pd.DataFrame,
    *,
    card: str = "card_number",
    terminal: str = "terminal_id",
    time: str = "timestamp",
    amount: str = "amount_cents",
    label: str | None = "is_fraud",
    windows_days: Sequence[int] = WINDOW_DAYS,
    delay_days: int = 7,
    aggregate: Aggregate = window_aggregates,
) -> pd.DataFrame:
    """Compute velocity, terminal-risk and time features for every transaction.

    Per card (token) and window ``w``: the count, sum and mean of ``amount`` over the
    strictly earlier transactions of the card in ``[t - w, t)``; transactions at the same
    instant are not counted (so row order never matters). Per terminal (token) and window:
    the count and fraud rate over ``[t - delay - w, t - delay)``, whose labels are known by
    ``t`` when fraud is confirmed within ``delay`` days: no label leaks from the future.
    Time features: ``hour``, ``is_weekend`` and ``is_night`` (22:00 to 06:00), in the time
    zone of ``time``. Rows need not be sorted; empty windows give count, sum, mean and
    risk 0.

    Args:
        frame: The transactions.
        card: Card identifier column (tokens or raw numbers).
        terminal: Terminal identifier column.
        time: Datetime column.
        amount: Integer amount column in minor units.
        label: 0/1 or boolean fraud label column; ``None`` skips the terminal risk.
        windows_days: Window lengths in days.
        delay_days: Days before a label is known.
        aggregate: Computes the windows (:func:`window_aggregates`, or a distributed
            equivalent: ``engine.jobs`` passes one that runs on Ray).

    Returns:
        The features, with the index of ``frame``: ``card_count_<w>d``,
        ``card_sum_cents_<w>d``, ``card_mean_cents_<w>d``, ``terminal_count_<w>d``,
        ``terminal_risk_<w>d``, ``hour``, ``is_weekend``, ``is_night``.

    Raises:
        InputError: a missing column or value, or a column of the wrong type.
        ValueError: a non-positive window or a negative delay.

    Example:
        >>> df = pd.DataFrame({"card_number": ["a", "a", "b"], "terminal_id": ["t"] * 3,
        ...     "timestamp": pd.to_datetime(["2025-01-01 10:00", "2025-01-01 12:00",
        ...     "2025-01-01 13:00"]), "amount_cents": [100, 250, 999], "is_fraud": [0, 0, 1]})
        >>> compute_fraud_features(df)["card_sum_cents_1d"].tolist()
        [0, 100, 0]
    """
    if any(w <= 0 for w in windows_days) or delay_days < 0:
        raise ValueError("windows_days must be positive and delay_days non-negative")
    needed = [card, terminal, time, amount] + ([label] if label is not None else [])
    absent = [c for c in needed if c not in frame.columns]
    if absent:
        raise InputError(f"missing columns: {', '.join(map(repr, absent))}")
    times = _times_ns(frame, time)
    amounts = _integers(frame, amount)
    out: dict[str, NDArray[Any]] = {}
    days = [w * _DAY_NS for w in windows_days]
    card_windows = aggregate(_codes(frame, card), times, amounts, [(d, 0) for d in days])
    for w, (count, total) in zip(windows_days, card_windows, strict=True):
        out[f"card_count_{w}d"] = count
        out[f"card_sum_cents_{w}d"] = total
        out[f"card_mean_cents_{w}d"] = _ratio(total, count)
    if label is not None:
        labels = _integers(frame, label, binary=True)
        delay = delay_days * _DAY_NS
        spans = [(delay + d, delay) for d in days]
        terminal_windows = aggregate(_codes(frame, terminal), times, labels, spans)
        for w, (count, frauds) in zip(windows_days, terminal_windows, strict=True):
            out[f"terminal_count_{w}d"] = count
            out[f"terminal_risk_{w}d"] = _ratio(frauds, count)
    clock_time = pd.DatetimeIndex(frame[time])
    hour = clock_time.hour.to_numpy()
    out["hour"] = hour.astype(np.int64)
    out["is_weekend"] = clock_time.day_of_week.to_numpy() >= 5
    out["is_night"] = (hour < 6) | (hour >= 22)
    return pd.DataFrame(out, index=frame.index)
