"""Evaluate fraud and credit models on raw identifiers, on tokens and on ciphertexts."""

from __future__ import annotations

import secrets
from collections.abc import Mapping, Sequence
from typing import Any, Literal

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from sklearn.metrics import average_precision_score, roc_auc_score
from sklearn.model_selection import train_test_split

from engine.datasets import TRANSACTION_PII
from engine.errors import InputError
from engine.he import CKKSKeys, EncryptedFrame
from engine.keys import KeyMaterial
from engine.models._fraud import FraudModel, split_by_time
from engine.models._linear import LinearRiskModel
from engine.models._metrics import card_precision_at_k, ks_statistic
from engine.models._report import EvaluationReport
from engine.models._scorecard import Scorecard
from engine.tokenize import Kind, tokenize_frame

_FRAUD_PII: Mapping[str, str] = TRANSACTION_PII


def _random_keys(pii: Mapping[str, str]) -> dict[Kind, KeyMaterial]:
    # SECURITY: fresh random keys per evaluation; they are never stored or returned.
    return {
        Kind(kind): KeyMaterial(
            key_id=f"tokenize.{Kind(kind).value}", version=1, secret=secrets.token_bytes(32)
        )
        for kind in set(pii.values())
    }


def _tokenized(frame: pd.DataFrame, pii: Mapping[str, str]) -> tuple[pd.DataFrame, int]:
    """Return the tokenized frame (rows that passed) and the number quarantined."""
    if not pii:
        return frame, 0
    result = tokenize_frame(frame, dict(pii), _random_keys(pii))
    return result.frame, len(frame) - len(result.frame)


def _encrypted_margin(
    x: NDArray[np.float64], weights: NDArray[np.float64], intercept: float, keys: CKKSKeys
) -> NDArray[np.float64]:
    """Encrypt ``x`` (owner), score it with the public context (worker), decrypt (owner)."""
    encrypted = EncryptedFrame.encrypt(x, keys.public_context())
    return np.asarray(keys.decrypt(encrypted.linear(weights, intercept)), dtype=np.float64)


def _sigmoid(margin: NDArray[np.float64]) -> NDArray[np.float64]:
    return np.asarray(1.0 / (1.0 + np.exp(-margin)))


def evaluate(
    frame: pd.DataFrame,
    *,
    task: Literal["fraud", "credit"],
    dataset: str = "",
    label: str | None = None,
    positive: Any = 1,
    numeric: Sequence[str] = (),
    categorical: Sequence[str] = (),
    pii: Mapping[str, str] | None = None,
    seed: int = 0,
    test_fraction: float = 0.3,
    test_days: int = 28,
    delay_days: int = 7,
    k: int = 100,
    extra_numeric: Sequence[str] = (),
) -> EvaluationReport:
    """Train and test each model on raw identifiers, on tokens and encrypted; report metrics.

    The identifier columns ``pii`` are tokenized with fresh random keys
    (``tokenize_frame``); every variant then uses the rows that passed tokenization, so
    raw and token results are comparable (they agree up to float noise, since the features
    depend on identifier equality only). The encrypted variant takes the token-trained
    linear models, encrypts the owner-side design matrix (standardized features, or WoE
    values for the scorecard) under a fresh CKKS key pair, computes the margins with the
    public context only, decrypts them and applies the sigmoid in plaintext.

    ``task="fraud"``: a time split (:func:`split_by_time`: last ``test_days`` days, gap
    ``delay_days``); models ``logistic`` (raw, tokens, encrypted) and ``boosting`` (raw,
    tokens); metrics ``auc_roc``, ``average_precision``, ``card_precision_at_k``
    (``card_precision_at_k``, day = calendar day of the timestamp). ``pii`` defaults to
    the card and terminal columns; ``label`` to ``is_fraud``.

    ``task="credit"``: a stratified random split (``test_fraction``, ``seed``); models
    ``scorecard`` (:class:`Scorecard`) and ``logistic`` (:class:`LinearRiskModel`) on
    ``numeric`` and ``categorical``; metrics ``auc_roc`` and ``ks``. The event is
    ``frame[label] == positive``.

    Raises:
        InputError: missing columns, a one-class label, a split too small.
        ValueError: an unknown task.
    """
    if task == "fraud":
        return _evaluate_fraud(
            frame,
            dataset=dataset,
            label=label or "is_fraud",
            pii=_FRAUD_PII if pii is None else pii,
            test_days=test_days,
            delay_days=delay_days,
            k=k,
            extra_numeric=extra_numeric,
            seed=seed,
        )
    if task == "credit":
        if label is None or label not in frame.columns:
            raise InputError("credit evaluation needs an existing label column")
        return _evaluate_credit(
            frame,
            dataset=dataset,
            label=label,
            positive=positive,
            numeric=tuple(numeric),
            categorical=tuple(categorical),
            pii=pii or {},
            seed=seed,
            test_fraction=test_fraction,
        )
    raise ValueError("task must be 'fraud' or 'credit'")


def _fraud_scores(
    data: pd.DataFrame, *, model: FraudModel, test_days: int
) -> tuple[FraudModel, pd.DataFrame, NDArray[np.float64]]:
    features = model.features(data)
    train, test = split_by_time(data, test_days=test_days, delay_days=model.delay_days)
    model.fit(features.loc[train], model.labels(data.loc[train]))
    return model, features.loc[test], model.predict_proba(features.loc[test])


def _evaluate_fraud(
    frame: pd.DataFrame,
    *,
    dataset: str,
    label: str,
    pii: Mapping[str, str],
    test_days: int,
    delay_days: int,
    k: int,
    extra_numeric: Sequence[str],
    seed: int,
) -> EvaluationReport:
    # Unique labels, so that the rows that passed tokenization select one raw row each.
    frame = frame.reset_index(drop=True)
    tokens, quarantined = _tokenized(frame, pii)
    raw = frame.loc[tokens.index]
    _, test = split_by_time(raw, test_days=test_days, delay_days=delay_days)
    y = raw.loc[test, label].to_numpy(dtype=np.int64)
    days = raw.loc[test, "timestamp"].dt.floor("D").to_numpy()

    def metrics(scores: NDArray[np.float64], cards: Any) -> dict[str, Any]:
        return {
            "auc_roc": float(roc_auc_score(y, scores)),
            "average_precision": float(average_precision_score(y, scores)),
            "card_precision_at_k": card_precision_at_k(y, scores, cards=cards, days=days, k=k),
        }

    rows: list[dict[str, Any]] = []
    curves: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for kind in ("logistic", "boosting"):
        for variant, data in (("raw", raw), ("tokens", tokens)):
            model = FraudModel(
                kind=kind,
                label=label,
                delay_days=delay_days,
                extra_numeric=extra_numeric,
                seed=seed,
            )
            model, test_features, scores = _fraud_scores(data, model=model, test_days=test_days)
            cards = data.loc[test, "card_number"].to_numpy()
            rows.append({"model": kind, "variant": variant, **metrics(scores, cards)})
            curves[f"{kind}/{variant}"] = (y, scores)
            if kind == "logistic" and variant == "tokens":
                keys = CKKSKeys.generate()
                margin = _encrypted_margin(
                    model.preprocess(test_features), model.weights_, model.intercept_, keys
                )
                plain = model.linear_.decision_function(test_features)
                encrypted = _sigmoid(margin)
                rows.append(
                    {
                        "model": kind,
                        "variant": "encrypted",
                        **metrics(encrypted, cards),
                        "max_abs_margin_error": float(np.max(np.abs(margin - plain))),
                    }
                )
                curves[f"{kind}/encrypted"] = (y, encrypted)
    info = {
        "rows": len(frame),
        "quarantined": quarantined,
        "test_rows": len(y),
        "test_frauds": int(y.sum()),
        "test_days": test_days,
        "delay_days": delay_days,
        "k": k,
        "tokenized_columns": sorted(pii),
    }
    return EvaluationReport(
        task="fraud", dataset=dataset, rows=tuple(rows), info=info, curves=curves
    )


def _evaluate_credit(
    frame: pd.DataFrame,
    *,
    dataset: str,
    label: str,
    positive: Any,
    numeric: tuple[str, ...],
    categorical: tuple[str, ...],
    pii: Mapping[str, str],
    seed: int,
    test_fraction: float,
) -> EvaluationReport:
    # Unique labels, so that the rows that passed tokenization select one raw row each.
    frame = frame.reset_index(drop=True)
    tokens, quarantined = _tokenized(frame, pii)
    raw = frame.loc[tokens.index]
    y_all = (raw[label] == positive).to_numpy(dtype=np.int64)
    if len(np.unique(y_all)) < 2:
        raise InputError(f"column {label!r}: the label holds only one class")
    train, test = train_test_split(
        np.arange(len(raw)), test_size=test_fraction, stratify=y_all, random_state=seed
    )
    y_train, y_test = y_all[train], y_all[test]
    rows: list[dict[str, Any]] = []
    curves: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    keys = CKKSKeys.generate()
    for name in ("scorecard", "logistic"):
        for variant, data in (("raw", raw), ("tokens", tokens)):
            model: Scorecard | LinearRiskModel
            if name == "scorecard":
                model = Scorecard(numeric=numeric, categorical=categorical)
            else:
                model = LinearRiskModel(numeric=numeric, categorical=categorical)
            model.fit(data.iloc[train], y_train)
            scores = np.asarray(model.predict_proba(data.iloc[test]))
            rows.append(_credit_row(name, variant, y_test, scores))
            curves[f"{name}/{variant}"] = (y_test, scores)
        # The last model is the token-trained one.
        if isinstance(model, Scorecard):
            x, w, b = model.transform(data.iloc[test]), model.coef_, model.intercept_
        else:
            x, w, b = model.preprocess(data.iloc[test]), model.weights_, model.intercept_
        margin = _encrypted_margin(x, w, b, keys)
        encrypted = _sigmoid(margin)
        row = _credit_row(name, "encrypted", y_test, encrypted)
        row["max_abs_margin_error"] = float(
            np.max(np.abs(margin - model.decision_function(data.iloc[test])))
        )
        rows.append(row)
        curves[f"{name}/encrypted"] = (y_test, encrypted)
    info = {
        "rows": len(frame),
        "quarantined": quarantined,
        "test_rows": len(y_test),
        "test_events": int(y_test.sum()),
        "test_fraction": test_fraction,
        "seed": seed,
        "tokenized_columns": sorted(pii),
    }
    return EvaluationReport(
        task="credit", dataset=dataset, rows=tuple(rows), info=info, curves=curves
    )


def _credit_row(
    name: str, variant: str, y: NDArray[np.int64], scores: NDArray[np.float64]
) -> dict[str, Any]:
    return {
        "model": name,
        "variant": variant,
        "auc_roc": float(roc_auc_score(y, scores)),
        "ks": ks_statistic(y, scores),
    }
