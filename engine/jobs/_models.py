"""Owner-side model fitting for the batch job, and its evaluation report.

What gets encrypted, the plaintext references, and the report comparing raw identifiers,
tokens and encrypted inference.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd
from sklearn.metrics import average_precision_score, roc_auc_score
from sklearn.model_selection import train_test_split

from engine.errors import ConfigError, InputError
from engine.jobs._spec import Algorithm, FraudColumns, JobSpec, Task
from engine.jobs._validate import Columns
from engine.models import (
    Aggregate,
    EvaluationReport,
    FraudModel,
    LinearRiskModel,
    Scorecard,
    card_precision_at_k,
    ks_statistic,
    split_by_time,
    window_aggregates,
)


@dataclass(frozen=True, slots=True, kw_only=True)
class Fitted:
    """A fitted linear model, the held-out rows it scores, and plaintext comparisons.

    Attributes:
        name: The model's name in the report (``logistic`` or ``scorecard``).
        test: The held-out rows (input row numbers as the index), identifiers as tokens.
        features: Their design matrix, the plaintext that gets encrypted (standardized
            features, or weights of evidence for the scorecard).
        plain_score: scikit-learn's own probabilities for those rows.
        plain_margin: scikit-learn's own margins for those rows.
        weights: The linear map on ``features``.
        intercept: Its intercept.
        names: Feature names.
        n_train: Training rows.
        comparisons: Plaintext scores of the same test rows by other fits, keyed
            ``model/variant``: the same model on raw identifiers (``<name>/raw``), the
            boosting baseline (``boosting/tokens``).
        points: For the scorecard, margin -> points; else ``None``.
        card: For fraud, the card (token) column, for card-level precision at ``k``.
        time: For fraud, the time column.
    """

    name: str
    test: pd.DataFrame
    features: np.ndarray
    plain_score: np.ndarray
    plain_margin: np.ndarray
    weights: np.ndarray
    intercept: float
    names: tuple[str, ...]
    n_train: int
    comparisons: dict[str, np.ndarray] = field(default_factory=dict)
    points: Callable[[np.ndarray], np.ndarray] | None = None
    card: str | None = None
    time: str | None = None


def fit_credit(
    good: pd.DataFrame, raw: pd.DataFrame | None, y: np.ndarray, columns: Columns, spec: JobSpec
) -> Fitted:
    """Stratified random split; a logistic regression or a scorecard on the features.

    ``good`` holds tokens in the PII columns, ``raw`` the same rows as read (``None``: no
    raw comparison).
    """
    counts = np.bincount(y, minlength=2)
    if counts.min() < 2:
        raise InputError(
            f"label {spec.model.label!r}: {int(counts.min())} row(s) of the rarer class after "
            "quarantine; a stratified train/test split needs at least 2 of each"
        )
    train_idx, test_idx = train_test_split(
        np.arange(len(good)), test_size=spec.model.test_size, random_state=spec.model.seed,
        stratify=y,
    )  # fmt: skip
    scorecard = spec.model.algorithm is Algorithm.SCORECARD

    def fit(frame: pd.DataFrame) -> Scorecard | LinearRiskModel:
        model: Scorecard | LinearRiskModel
        if scorecard:
            model = Scorecard(numeric=columns.numeric, categorical=columns.categorical)
        else:
            model = LinearRiskModel(numeric=columns.numeric, categorical=columns.categorical)
        return model.fit(frame.iloc[train_idx], y[train_idx])

    model = fit(good)
    test = good.iloc[test_idx]
    name = spec.model.algorithm.value
    comparisons = {}
    if raw is not None:
        comparisons[f"{name}/raw"] = np.asarray(fit(raw).predict_proba(raw.iloc[test_idx]))
    if isinstance(model, Scorecard):
        design, weights = model.transform(test), model.coef_
        points: Callable[[np.ndarray], np.ndarray] | None = model.points_from_margin
    else:
        design, weights, points = model.preprocess(test), model.weights_, None
    return Fitted(
        name=name, test=test, features=design, plain_score=model.predict_proba(test),
        plain_margin=model.decision_function(test), weights=weights,
        intercept=model.intercept_, names=model.features_, n_train=len(train_idx),
        comparisons=comparisons, points=points,
    )  # fmt: skip


def fit_fraud(
    good: pd.DataFrame,
    raw: pd.DataFrame | None,
    y: np.ndarray,
    spec: JobSpec,
    *,
    aggregate: Aggregate = window_aggregates,
) -> Fitted:
    """Time split with a label delay; logistic regression on features over card tokens.

    ``good`` holds tokens in the PII columns, ``raw`` the same rows as read (``None``: no
    raw comparison); ``aggregate`` computes the feature windows (on Ray for large inputs).
    """
    cols = spec.model.fraud
    if cols is None:
        raise ConfigError("[model] task = 'fraud' needs the [model.fraud] columns")
    label = spec.model.label

    def model(kind: Literal["logistic", "boosting"] = "logistic") -> FraudModel:
        return FraudModel(
            kind=kind, card=cols.card,
            terminal=cols.terminal, time=cols.time, amount=cols.amount, label=label,
            merchant_category=cols.merchant_category, delay_days=cols.delay_days,
            seed=spec.model.seed,
        )  # fmt: skip

    frame = _with_time(good, cols).assign(**{label: y})
    features = model().features(frame, aggregate=aggregate)
    train, test = split_by_time(
        frame, time=cols.time, test_days=cols.test_days, delay_days=cols.delay_days
    )
    y_train = frame.loc[train, label]
    if frame.loc[test, label].nunique() < 2:
        raise InputError(
            f"the test window (last {cols.test_days} days) holds only one class of "
            f"{label!r}: AUC is undefined; widen [model.fraud] test_days"
        )
    logistic = model().fit(features.loc[train], y_train)
    held = features.loc[test]
    design = logistic.preprocess(held)
    comparisons = {}
    if raw is not None:
        raw_frame = _with_time(raw, cols).assign(**{label: y})
        on_raw = model()
        raw_features = on_raw.features(raw_frame, aggregate=aggregate)
        on_raw.fit(raw_features.loc[train], y_train)
        comparisons["logistic/raw"] = on_raw.predict_proba(raw_features.loc[test])
    if cols.baseline:
        boosting = model("boosting").fit(features.loc[train], y_train)
        comparisons["boosting/tokens"] = boosting.predict_proba(held)
    return Fitted(
        name="logistic", test=frame.loc[test], features=design,
        plain_score=logistic.predict_proba(held),
        plain_margin=design @ logistic.weights_ + logistic.intercept_,
        weights=logistic.weights_, intercept=logistic.intercept_,
        names=tuple(logistic.linear_.features_), n_train=len(train),
        comparisons=comparisons, card=cols.card, time=cols.time,
    )  # fmt: skip


def _with_time(frame: pd.DataFrame, cols: FraudColumns) -> pd.DataFrame:
    out = frame.copy()
    try:
        out[cols.time] = pd.to_datetime(out[cols.time])
    except (ValueError, TypeError):
        raise InputError(f"column {cols.time!r}: not parseable as timestamps") from None
    return out


def evaluation_report(
    fitted: Fitted,
    y_test: np.ndarray,
    encrypted: np.ndarray,
    margin: np.ndarray,
    spec: JobSpec,
    info: dict[str, Any],
) -> EvaluationReport:
    """The report: each comparison, the token-trained model, and its encrypted scores.

    Rows: ``<model>/raw`` (when fitted), ``<model>/tokens`` (scikit-learn on tokens, the
    plaintext reference), ``<model>/encrypted`` (CKKS on Ray, decrypted by the owner), then
    ``boosting/tokens`` for fraud. ``max_abs_score_diff`` is against the tokens row.
    """
    metrics = _metric_function(fitted, y_test, spec)
    name = fitted.name
    cols = spec.model.fraud
    if cols is None:
        info = {**info, "split": "stratified", "test_size": spec.model.test_size}
    else:
        info = {**info, "split": "time", "test_days": cols.test_days,
                "delay_days": cols.delay_days, "k": cols.k}  # fmt: skip
    scored = dict(fitted.comparisons)
    ordered = [f"{name}/raw", f"{name}/tokens", f"{name}/encrypted", "boosting/tokens"]
    scored[f"{name}/tokens"] = fitted.plain_score
    scored[f"{name}/encrypted"] = encrypted
    rows: list[dict[str, Any]] = []
    curves: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for key in (k for k in ordered if k in scored):
        model, variant = key.split("/")
        row: dict[str, Any] = {"model": model, "variant": variant, **metrics(scored[key])}
        if model == name and variant != "tokens":
            row["max_abs_score_diff"] = float(np.max(np.abs(scored[key] - fitted.plain_score)))
        if variant == "encrypted":
            row["max_abs_margin_error"] = float(np.max(np.abs(margin - fitted.plain_margin)))
        rows.append(row)
        curves[key] = (y_test, scored[key])
    return EvaluationReport(
        task=spec.model.task.value, dataset=spec.name, rows=tuple(rows), info=info,
        curves=curves,
    )  # fmt: skip


def _metric_function(
    fitted: Fitted, y_test: np.ndarray, spec: JobSpec
) -> Callable[[np.ndarray], dict[str, float]]:
    if spec.model.task is Task.CREDIT:
        return lambda s: {
            "auc_roc": float(roc_auc_score(y_test, s)),
            "ks": float(ks_statistic(y_test, s)),
        }
    assert fitted.card is not None  # noqa: S101 - set by the fraud fit
    assert fitted.time is not None  # noqa: S101 - set by the fraud fit
    assert spec.model.fraud is not None  # noqa: S101 - checked by the spec
    k = spec.model.fraud.k
    cards = fitted.test[fitted.card].astype(str).to_numpy()
    days = fitted.test[fitted.time].dt.floor("D").to_numpy()
    return lambda s: {
        "auc_roc": float(roc_auc_score(y_test, s)),
        "average_precision": float(average_precision_score(y_test, s)),
        "card_precision_at_k": float(card_precision_at_k(y_test, s, cards=cards, days=days, k=k)),
    }
