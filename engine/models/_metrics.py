"""Risk-model metrics beyond scikit-learn's: KS for credit, card precision at k for fraud."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import roc_curve

from engine.errors import InputError


def _labels_and_scores(y: Any, scores: Any) -> tuple[np.ndarray, np.ndarray]:
    labels = np.asarray(y).astype(np.int64)
    values = np.asarray(scores, dtype=np.float64)
    if labels.shape != values.shape or labels.ndim != 1:
        raise ValueError("y and scores must be 1-D and of the same length")
    if len(np.unique(labels)) < 2:
        raise InputError("the labels hold only one class")
    return labels, values


def ks_statistic(y: Any, scores: Any) -> float:
    """Return the Kolmogorov-Smirnov statistic between the scores of events and non-events.

    ``KS = max_t |F_1(t) - F_0(t)|`` over thresholds ``t``, with ``F_c`` the empirical CDF
    of the scores of class ``c``; equivalently ``max |TPR - FPR|`` along the ROC curve.

    Raises:
        InputError: the labels hold only one class.
        ValueError: ``y`` and ``scores`` differ in shape.

    Example:
        >>> ks_statistic([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])
        0.5
    """
    labels, values = _labels_and_scores(y, scores)
    fpr, tpr, _ = roc_curve(labels, values)
    return float(np.max(np.abs(tpr - fpr)))


def card_precision_at_k(y: Any, scores: Any, *, cards: Any, days: Any, k: int = 100) -> float:
    """Return the card-level precision at ``k``, averaged over days.

    Each day, every card that transacted gets the maximum score of its transactions that
    day and counts as compromised that day if any of them is fraud; the ``k`` cards with
    the highest scores (ties broken by card order of first appearance) are "alerted", and
    the day's precision is the fraction of them that are compromised. With fewer than ``k``
    cards in a day, all are alerted and the day's precision divides by ``k`` still, as an
    investigator team would review ``k`` cards (as in Le Borgne et al., *Reproducible
    Machine Learning for Credit Card Fraud Detection*, 2022, section 4.2). The result is
    the mean over the days present.

    Args:
        y: 0/1 fraud labels per transaction.
        scores: Scores per transaction (higher is more suspicious).
        cards: Card identifier (raw or token) per transaction.
        days: Day per transaction (dates, day numbers or timestamps floored to the day).
        k: Cards reviewed per day.

    Raises:
        ValueError: mismatched lengths or ``k < 1``.
    """
    if k < 1:
        raise ValueError("k must be >= 1")
    labels = np.asarray(y).astype(np.int64)
    values = np.asarray(scores, dtype=np.float64)
    card_values, day_values = np.asarray(cards), np.asarray(days)
    if not len(labels) == len(values) == len(card_values) == len(day_values):
        raise ValueError("y, scores, cards and days must have the same length")
    if len(labels) == 0:
        raise ValueError("no transactions")
    per_card = (
        pd.DataFrame({"day": day_values, "card": card_values, "score": values, "y": labels})
        .groupby(["day", "card"], sort=False)
        .agg(score=("score", "max"), y=("y", "max"))
        .reset_index()
    )
    top = per_card.sort_values(["day", "score"], ascending=[True, False], kind="stable")
    hits = top.groupby("day", sort=True)["y"].apply(lambda s: s.head(k).sum())
    return float((hits / k).mean())
