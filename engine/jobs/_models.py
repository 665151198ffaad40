"""Owner-side model fitting for the batch job: what gets encrypted, and the plaintext reference."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import average_precision_score
from sklearn.model_selection import train_test_split

from engine.errors import ConfigError, InputError
from engine.jobs._spec import FraudColumns, JobSpec
from engine.jobs._validate import Columns
from engine.models import FraudModel, LinearRiskModel, card_precision_at_k, split_by_time


@dataclass(frozen=True, slots=True, kw_only=True)
class Fitted:
    """A fitted linear model and the held-out rows it scores.

    Attributes:
        test: The held-out rows (input row numbers as the index).
        features: Their standardized design matrix, the plaintext that gets encrypted.
        plain_score: scikit-learn's own probabilities for those rows.
        plain_margin: scikit-learn's own margins for those rows.
        weights: The linear map on ``features``.
        intercept: Its intercept.
        names: Feature names.
        n_train: Training rows.
        extra: Task-specific plaintext metrics computed after decryption (see ``finish``).
    """

    test: pd.DataFrame
    features: np.ndarray
    plain_score: np.ndarray
    plain_margin: np.ndarray
    weights: np.ndarray
    intercept: float
    names: tuple[str, ...]
    n_train: int
    extra: dict[str, Any]


def fit_credit(good: pd.DataFrame, y: np.ndarray, columns: Columns, spec: JobSpec) -> Fitted:
    """Stratified random split, logistic regression on numeric and one-hot features."""
    train_idx, test_idx = train_test_split(
        np.arange(len(good)), test_size=spec.model.test_size, random_state=spec.model.seed,
        stratify=y,
    )  # fmt: skip
    model = LinearRiskModel(numeric=columns.numeric, categorical=columns.categorical)
    model.fit(good.iloc[train_idx], y[train_idx])
    test = good.iloc[test_idx]
    return Fitted(
        test=test, features=model.preprocess(test), plain_score=model.predict_proba(test),
        plain_margin=model.decision_function(test), weights=model.weights_,
        intercept=model.intercept_, names=model.features_, n_train=len(train_idx), extra={},
    )  # fmt: skip


def fit_fraud(good: pd.DataFrame, y: np.ndarray, spec: JobSpec) -> Fitted:
    """Time split with a label delay; logistic regression on features over card tokens."""
    cols = spec.model.fraud
    if cols is None:
        raise ConfigError("[model] task = 'fraud' needs the [model.fraud] columns")
    frame = _with_time(good, cols).assign(**{spec.model.label: y})
    model = FraudModel(
        card=cols.card, terminal=cols.terminal, time=cols.time, amount=cols.amount,
        label=spec.model.label, merchant_category=cols.merchant_category,
        delay_days=cols.delay_days, seed=spec.model.seed,
    )  # fmt: skip
    features = model.features(frame)
    train, test = split_by_time(
        frame, time=cols.time, test_days=cols.test_days, delay_days=cols.delay_days
    )
    model.fit(features.loc[train], frame.loc[train, spec.model.label])
    held = features.loc[test]
    plain = model.predict_proba(held)
    design = model.preprocess(held)
    return Fitted(
        test=frame.loc[test], features=design, plain_score=plain,
        plain_margin=design @ model.weights_ + model.intercept_, weights=model.weights_,
        intercept=model.intercept_, names=tuple(model.linear_.features_), n_train=len(train),
        extra={"card": cols.card, "time": cols.time},
    )  # fmt: skip


def _with_time(good: pd.DataFrame, cols: FraudColumns) -> pd.DataFrame:
    frame = good.copy()
    try:
        frame[cols.time] = pd.to_datetime(frame[cols.time])
    except (ValueError, TypeError):
        raise InputError(f"column {cols.time!r}: not parseable as timestamps") from None
    return frame


def task_metrics(fitted: Fitted, y_test: np.ndarray, score: np.ndarray) -> dict[str, Any]:
    """Fraud metrics beyond AUC (average precision, card-level precision at k), plain vs CKKS."""
    if not fitted.extra:
        return {}
    test = fitted.test
    cards = test[fitted.extra["card"]].astype(str).to_numpy()
    days = test[fitted.extra["time"]].dt.floor("D").to_numpy()
    out: dict[str, Any] = {}
    for name, values in (("plaintext", fitted.plain_score), ("encrypted", score)):
        out[f"average_precision_{name}"] = round(float(average_precision_score(y_test, values)), 6)
        out[f"card_precision_at_100_{name}"] = round(
            float(card_precision_at_k(y_test, values, cards=cards, days=days, k=100)), 6
        )
    return out
