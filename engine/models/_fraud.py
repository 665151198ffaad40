"""A transaction fraud model over token-based features, with a time-based split."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from sklearn.ensemble import HistGradientBoostingClassifier

from engine.errors import InputError, NotFittedError
from engine.models._fraud_features import (
    WINDOW_DAYS,
    Aggregate,
    compute_fraud_features,
    window_aggregates,
)
from engine.models._linear import LinearRiskModel

_DAY = pd.Timedelta(days=1)
Kind = Literal["logistic", "boosting"]


def split_by_time(
    frame: pd.DataFrame,
    *,
    time: str = "timestamp",
    test_days: int = 28,
    delay_days: int = 7,
    train_days: int | None = None,
) -> tuple[pd.Index, pd.Index]:
    """Split rows by day: train on early days, skip ``delay_days``, test on the last days.

    Days are counted from midnight of the first timestamp. The test set is the last
    ``test_days`` days that hold data; the ``delay_days`` before it are left out (their
    labels would not be known when the model is trained); the training set is the
    ``train_days`` days before the gap (``None``: all of them).

    Returns:
        The index labels of the training rows and of the test rows.

    Raises:
        InputError: a missing or non-datetime column, or too few days for the split.
        ValueError: a non-positive ``test_days``/``train_days`` or a negative delay.
    """
    if test_days <= 0 or delay_days < 0 or (train_days is not None and train_days <= 0):
        raise ValueError("test_days and train_days must be positive, delay_days >= 0")
    if time not in frame.columns or not pd.api.types.is_datetime64_any_dtype(frame[time]):
        raise InputError(f"column {time!r}: expected a datetime column")
    stamps = frame[time]
    origin = stamps.min().normalize()
    day = ((stamps - origin) // _DAY).to_numpy(dtype=np.int64)
    test_start = int(day.max()) + 1 - test_days
    train_end = test_start - delay_days
    train_start = 0 if train_days is None else max(0, train_end - train_days)
    if train_end <= train_start:
        raise InputError("too few days for the split: no training day before the gap")
    is_train = (day >= train_start) & (day < train_end)
    return frame.index[is_train], frame.index[day >= test_start]


class FraudModel:
    """Fraud scores from velocity, terminal-risk and time features (see ``compute_fraud_features``).

    The features are those of :func:`compute_fraud_features` plus ``log_amount``
    (``log1p`` of the amount in major units), the ``extra_numeric`` columns, and the
    merchant category (one-hot for the logistic regression; a native categorical for
    boosting). Categories unseen in training score as none of the known ones. Compute the
    features on the whole history with :meth:`features` (windows look back across the
    split), then fit on the training rows and score the test rows.

    ``kind="logistic"`` is a :class:`LinearRiskModel` (class-balanced): its margin is a
    linear map on :meth:`preprocess`'s output, so it can be evaluated on ciphertexts.
    ``kind="boosting"`` is a plaintext scikit-learn ``HistGradientBoostingClassifier``
    baseline.

    Args:
        kind: ``"logistic"`` or ``"boosting"``.
        card: Card identifier column (raw or token).
        terminal: Terminal identifier column (raw or token).
        time: Datetime column.
        amount: Integer amount column (minor units).
        label: 0/1 or boolean fraud label column.
        merchant_category: Category column, or ``None``.
        extra_numeric: Further numeric columns taken as they are (e.g. ``distance_km``).
        windows_days: Feature windows.
        delay_days: Days before a fraud label is known (terminal risk).
        seed: Seed of the boosting.
    """

    def __init__(
        self,
        *,
        kind: Kind = "logistic",
        card: str = "card_number",
        terminal: str = "terminal_id",
        time: str = "timestamp",
        amount: str = "amount_cents",
        label: str = "is_fraud",
        merchant_category: str | None = "merchant_category",
        extra_numeric: Sequence[str] = (),
        windows_days: Sequence[int] = WINDOW_DAYS,
        delay_days: int = 7,
        seed: int = 0,
    ) -> None:
        self.kind = kind
        self.card = card
        self.terminal = terminal
        self.time = time
        self.amount = amount
        self.label = label
        self.merchant_category = merchant_category
        self.extra_numeric = tuple(extra_numeric)
        self.windows_days = tuple(windows_days)
        self.delay_days = delay_days
        self.seed = seed

    def features(
        self, frame: pd.DataFrame, *, aggregate: Aggregate = window_aggregates
    ) -> pd.DataFrame:
        """Return the model's input columns for every row of ``frame`` (same index).

        ``aggregate`` computes the windows (see :func:`compute_fraud_features`).

        Raises:
            InputError: a missing column or value, or a column of the wrong type.
        """
        out = compute_fraud_features(
            frame,
            card=self.card,
            terminal=self.terminal,
            time=self.time,
            amount=self.amount,
            label=self.label,
            windows_days=self.windows_days,
            delay_days=self.delay_days,
            aggregate=aggregate,
        )
        out = out.astype({"is_weekend": "int64", "is_night": "int64"})
        out["log_amount"] = np.log1p(frame[self.amount].to_numpy(dtype=np.float64) / 100.0)
        for name in self.extra_numeric:
            if name not in frame.columns:
                raise InputError(f"missing columns: {name!r}")
            out[name] = frame[name].to_numpy(dtype=np.float64)
        if self.merchant_category is not None:
            if self.merchant_category not in frame.columns:
                raise InputError(f"missing columns: {self.merchant_category!r}")
            out["merchant_category"] = frame[self.merchant_category].astype("string")
        return out

    def labels(self, frame: pd.DataFrame) -> NDArray[np.int64]:
        """Return the 0/1 labels of ``frame``."""
        return np.asarray(frame[self.label].to_numpy(dtype=np.int64))

    def _numeric(self, features: pd.DataFrame) -> list[str]:
        return [c for c in features.columns if c != "merchant_category"]

    def fit(self, features: pd.DataFrame, y: Any) -> FraudModel:
        """Fit on rows of :meth:`features`; ``y`` is 1 for fraud.

        Raises:
            InputError: no rows, or labels of one class only.
            ValueError: an unknown ``kind``.
        """
        labels = np.asarray(y, dtype=np.int64)
        if len(features) == 0 or len(np.unique(labels)) < 2:
            raise InputError("the training split is empty or holds only one label value")
        categorical = ["merchant_category"] if "merchant_category" in features.columns else []
        self.numeric_ = tuple(self._numeric(features))
        if self.kind == "logistic":
            self.linear_ = LinearRiskModel(numeric=self.numeric_, categorical=categorical)
            self.linear_.fit(features, labels)
            self.weights_ = self.linear_.weights_
            self.intercept_ = self.linear_.intercept_
        elif self.kind == "boosting":
            self.categories_ = (
                sorted(features["merchant_category"].dropna().unique().tolist())
                if categorical
                else []
            )
            self.boosting_ = HistGradientBoostingClassifier(
                categorical_features=[len(self.numeric_)] if categorical else None,
                random_state=self.seed,
            )
            self.boosting_.fit(self._boosting_matrix(features), labels)
        else:
            raise ValueError("kind must be 'logistic' or 'boosting'")
        return self

    def _boosting_matrix(self, features: pd.DataFrame) -> NDArray[np.float64]:
        x = features[list(self.numeric_)].to_numpy(dtype=np.float64)
        if "merchant_category" not in features.columns or not self.categories_:
            return x
        values = features["merchant_category"].to_numpy(dtype=object)
        codes = pd.Index(self.categories_).get_indexer(values)
        # Negative codes (unseen or missing) are missing values to the boosting.
        column = np.where(codes < 0, np.nan, codes).astype(np.float64)
        return np.column_stack([x, column])

    def _require_fit(self) -> None:
        if not hasattr(self, "numeric_"):
            raise NotFittedError("FraudModel used before fit")

    def preprocess(self, features: pd.DataFrame) -> NDArray[np.float64]:
        """Return the standardized matrix the logistic margin is linear in (for encryption).

        Raises:
            NotFittedError: before ``fit``.
            ValueError: for ``kind="boosting"``, which has no linear form.
        """
        self._require_fit()
        if self.kind != "logistic":
            raise ValueError("only kind='logistic' has a linear form to encrypt")
        return np.asarray(self.linear_.preprocess(features))

    def predict_proba(self, features: pd.DataFrame) -> NDArray[np.float64]:
        """Return the fraud probability of every row.

        Raises:
            NotFittedError: before ``fit``.
        """
        self._require_fit()
        if self.kind == "logistic":
            return np.asarray(self.linear_.predict_proba(features))
        return np.asarray(self.boosting_.predict_proba(self._boosting_matrix(features))[:, 1])
