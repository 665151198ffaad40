"""A credit scorecard: quantile bins, smoothed weight of evidence, logistic regression, points."""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from sklearn.linear_model import LogisticRegression

from engine.errors import InputError, NotFittedError

_MISSING = "<missing>"


def _smoothed_woe(
    bad: NDArray[np.float64], good: NDArray[np.float64], *, smoothing: float
) -> NDArray[np.float64]:
    """Return ln(good share / bad share) per bin, shrunk towards 0 by ``smoothing`` rows."""
    total_bad, total_good = bad.sum(), good.sum()
    n = total_bad + total_good
    # Pseudo-counts in the overall proportion: an empty bin gets WoE exactly 0 and a bin
    # without any bad (or good) row a finite WoE.
    prior_good, prior_bad = smoothing * total_good / n, smoothing * total_bad / n
    odds = (good + prior_good) / (bad + prior_bad)
    woe = np.log(odds) - math.log(total_good / total_bad)
    woe[(good + bad) == 0] = 0.0  # exactly, not up to rounding
    return np.asarray(woe, dtype=np.float64)


def _bin_numeric(values: NDArray[np.float64], edges: NDArray[np.float64]) -> NDArray[np.int64]:
    """Return bin 1..len(edges)+1 of each value (``x < edges[0]`` is bin 1), 0 for missing."""
    bins = np.searchsorted(edges, values, side="right").astype(np.int64) + 1
    bins[np.isnan(values)] = 0
    return bins


class Scorecard:
    """A points scorecard for credit risk, whose scoring is a linear map on WoE values.

    Numeric features are cut at training quantiles into at most ``n_bins`` bins (fewer
    when values repeat); each category of a categorical feature is its own bin; missing
    values form one more bin per feature. Each bin gets a smoothed weight of evidence
    ``WoE = ln((good_b + s*G/N) / (bad_b + s*B/N)) - ln(G/B)`` (``s = smoothing``,
    ``G``/``B``/``N`` the training goods, bads and rows), so an empty bin and an unseen
    category score ``0``, the neutral value. A logistic regression on the WoE matrix gives
    the margin (log-odds of the event ``y = 1``, "bad"), and the score is

    ``score = offset - factor * margin``, ``factor = pdo / ln 2``,
    ``offset = base_score - factor * ln(base_odds)``,

    so ``base_score`` points means good:bad odds of ``base_odds``, and every ``pdo`` points
    more doubles the odds. The defaults are the usual 600 points at 50:1, PDO 20.

    For encrypted scoring the owner runs :meth:`transform` (a table lookup) and encrypts the
    WoE matrix; workers evaluate ``woe @ coef_ + intercept_``.

    A constant or all-missing feature has one bin of WoE 0 and so contributes nothing.

    Args:
        numeric: Numeric feature columns.
        categorical: Categorical feature columns (values compared as strings).
        n_bins: Maximum quantile bins per numeric feature (at least 2).
        smoothing: Pseudo-count of the WoE smoothing (rows; positive).
        base_score: Points at ``base_odds``.
        base_odds: Good:bad odds at ``base_score``.
        pdo: Points that double the odds.
        regularization: Inverse L2 strength ``C`` of the logistic regression.
        max_iter: Solver iterations.
    """

    def __init__(
        self,
        *,
        numeric: Sequence[str] = (),
        categorical: Sequence[str] = (),
        n_bins: int = 10,
        smoothing: float = 1.0,
        base_score: float = 600.0,
        base_odds: float = 50.0,
        pdo: float = 20.0,
        regularization: float = 1.0,
        max_iter: int = 1000,
    ) -> None:
        self.numeric = tuple(numeric)
        self.categorical = tuple(categorical)
        self.n_bins = n_bins
        self.smoothing = smoothing
        self.base_score = base_score
        self.base_odds = base_odds
        self.pdo = pdo
        self.regularization = regularization
        self.max_iter = max_iter

    def _check_params(self) -> None:
        if not self.numeric and not self.categorical:
            raise ValueError("numeric or categorical must name at least one feature")
        if set(self.numeric) & set(self.categorical):
            raise ValueError("a feature is both numeric and categorical")
        if self.n_bins < 2:
            raise ValueError("n_bins must be >= 2")
        if not self.smoothing > 0:
            raise ValueError("smoothing must be positive")
        if not (self.pdo > 0 and self.base_odds > 0):
            raise ValueError("pdo and base_odds must be positive")

    @property
    def features_(self) -> tuple[str, ...]:
        """The feature columns, in the order of the WoE matrix's columns."""
        self._require_fit()
        return self.numeric + self.categorical

    def _require_fit(self) -> None:
        if not hasattr(self, "coef_"):
            raise NotFittedError("Scorecard used before fit")

    def _numeric_values(self, frame: pd.DataFrame, name: str) -> NDArray[np.float64]:
        try:
            return np.asarray(pd.to_numeric(frame[name]).to_numpy(dtype="float64", na_value=np.nan))
        except (TypeError, ValueError) as exc:
            raise InputError(f"column {name!r}: expected numeric values") from exc

    def _bin_labels(self, frame: pd.DataFrame, name: str) -> NDArray[np.int64]:
        """Return each row's bin index into ``bins_[name]`` (-1: unseen category)."""
        if name in self.edges_:
            return _bin_numeric(self._numeric_values(frame, name), self.edges_[name])
        values = frame[name].astype("string").fillna(_MISSING).to_numpy(dtype=object)
        return np.asarray(pd.Index(self.bins_[name]).get_indexer(pd.Index(values)), dtype=np.int64)

    def fit(self, frame: pd.DataFrame, y: Any) -> Scorecard:
        """Bin, compute WoE and fit the regression; ``y`` is 1 for bad (the event), 0 good.

        Raises:
            InputError: no rows, a missing column, labels not 0/1 or of one class only.
            ValueError: invalid parameters.
        """
        self._check_params()
        labels = np.asarray(y)
        absent = [c for c in self.numeric + self.categorical if c not in frame.columns]
        if absent:
            raise InputError(f"missing columns: {', '.join(map(repr, absent))}")
        if len(frame) == 0 or len(labels) != len(frame):
            raise InputError("y must have one label per row of a non-empty frame")
        if not np.isin(labels, (0, 1)).all():
            raise InputError("labels must be 0/1 (1 = bad)")
        if len(np.unique(labels)) < 2:
            raise InputError("the training labels hold only one class")
        bad = labels.astype(np.float64)
        self.edges_: dict[str, NDArray[np.float64]] = {}
        self.bins_: dict[str, tuple[str, ...]] = {}
        for name in self.numeric:
            values = self._numeric_values(frame, name)
            present = values[~np.isnan(values)]
            if len(present):
                cuts = np.quantile(
                    present, np.linspace(0, 1, self.n_bins + 1)[1:-1], method="lower"
                )
                # Cuts at the minimum would leave bin 1 empty; drop them and repeats.
                edges = np.unique(cuts[cuts > present.min()])
            else:
                edges = np.empty(0)
            self.edges_[name] = edges
            self.bins_[name] = (_MISSING, *_interval_labels(edges))
        for name in self.categorical:
            seen = frame[name].astype("string").fillna(_MISSING).unique().tolist()
            self.bins_[name] = tuple(sorted(str(v) for v in seen))
        self.woe_: dict[str, NDArray[np.float64]] = {}
        self.counts_: dict[str, NDArray[np.int64]] = {}
        for name in self.numeric + self.categorical:
            index = self._bin_labels(frame, name)
            size = len(self.bins_[name])
            n_bad = np.bincount(index, weights=bad, minlength=size).astype(np.float64)
            n_all = np.bincount(index, minlength=size).astype(np.float64)
            self.counts_[name] = n_all.astype(np.int64)
            self.woe_[name] = _smoothed_woe(n_bad, n_all - n_bad, smoothing=self.smoothing)
        # The coefficients exist only after the bins: _require_fit keys on coef_.
        regression = LogisticRegression(C=self.regularization, max_iter=self.max_iter)
        regression.fit(self._woe_matrix(frame), labels)
        self.intercept_ = float(regression.intercept_[0])
        self.coef_ = regression.coef_[0].astype(np.float64)
        self.factor_ = self.pdo / math.log(2.0)
        self.offset_ = self.base_score - self.factor_ * math.log(self.base_odds)
        return self

    def _woe_matrix(self, frame: pd.DataFrame) -> NDArray[np.float64]:
        names = self.numeric + self.categorical
        out = np.zeros((len(frame), len(names)), dtype=np.float64)
        for j, name in enumerate(names):
            index = self._bin_labels(frame, name)
            known = index >= 0
            # Unseen categories stay at WoE 0: no evidence either way.
            out[known, j] = self.woe_[name][index[known]]
        return out

    def transform(self, frame: pd.DataFrame) -> NDArray[np.float64]:
        """Return the WoE matrix (rows x features): the plaintext the owner encrypts.

        Raises:
            NotFittedError: before ``fit``.
            InputError: a missing or non-numeric column.
        """
        self._require_fit()
        absent = [c for c in self.numeric + self.categorical if c not in frame.columns]
        if absent:
            raise InputError(f"missing columns: {', '.join(map(repr, absent))}")
        return self._woe_matrix(frame)

    def decision_function(self, frame: pd.DataFrame) -> NDArray[np.float64]:
        """Return the margin: the log-odds of bad, ``transform(frame) @ coef_ + intercept_``."""
        return np.asarray(self.transform(frame) @ self.coef_ + self.intercept_)

    def predict_proba(self, frame: pd.DataFrame) -> NDArray[np.float64]:
        """Return the probability of bad."""
        return np.asarray(1.0 / (1.0 + np.exp(-self.decision_function(frame))))

    def score(self, frame: pd.DataFrame) -> NDArray[np.float64]:
        """Return the points: ``offset_ - factor_ * margin`` (higher is safer)."""
        return self.points_from_margin(self.decision_function(frame))

    def points_from_margin(self, margin: NDArray[np.float64]) -> NDArray[np.float64]:
        """Convert margins (e.g. decrypted encrypted scores) to points."""
        self._require_fit()
        return np.asarray(self.offset_ - self.factor_ * np.asarray(margin, dtype=np.float64))

    def points_table(self) -> pd.DataFrame:
        """Return the scorecard: one row per (feature, bin) with count, WoE and points.

        A row's points are ``-factor_ * (coef * woe + intercept_ / m) + offset_ / m`` for
        ``m`` features, so the points of a record's bins add up to its :meth:`score`.
        """
        self._require_fit()
        names = self.numeric + self.categorical
        m = len(names)
        rows: list[dict[str, Any]] = []
        for j, name in enumerate(names):
            for label, count, woe in zip(
                self.bins_[name], self.counts_[name], self.woe_[name], strict=True
            ):
                margin = self.coef_[j] * woe + self.intercept_ / m
                points = self.offset_ / m - self.factor_ * margin
                rows.append(
                    {
                        "feature": name,
                        "bin": label,
                        "count": int(count),
                        "woe": float(woe),
                        "points": float(points),
                    }
                )
        return pd.DataFrame(rows, columns=["feature", "bin", "count", "woe", "points"])


def _interval_labels(edges: NDArray[np.float64]) -> list[str]:
    bounds = [-math.inf, *edges.tolist(), math.inf]
    return [f"[{lo:g}, {hi:g})" for lo, hi in itertools.pairwise(bounds)]
