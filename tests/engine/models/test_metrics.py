import numpy as np
import pytest

from engine.errors import InputError
from engine.models import card_precision_at_k, ks_statistic


def _ks_by_hand(y: np.ndarray, s: np.ndarray) -> float:
    best = 0.0
    for t in np.unique(s):
        f1 = np.mean(s[y == 1] <= t)
        f0 = np.mean(s[y == 0] <= t)
        best = max(best, abs(f1 - f0))
    return best


def test_ks_against_hand_computation() -> None:
    assert ks_statistic([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]) == pytest.approx(0.5)
    rng = np.random.default_rng(3)
    y = rng.integers(0, 2, size=300)
    s = np.round(rng.normal(size=300) + y, 1)  # with ties
    assert ks_statistic(y, s) == pytest.approx(_ks_by_hand(y, s))
    assert ks_statistic([0, 1], [0.0, 1.0]) == pytest.approx(1.0)
    with pytest.raises(InputError):
        ks_statistic([1, 1], [0.0, 1.0])


def test_card_precision_at_k_by_hand() -> None:
    # Day 1: cards a (fraud, max 0.9), b (0.8), c (fraud, 0.1). Day 2: a (0.2), d (fraud, 0.7).
    days = [1, 1, 1, 1, 2, 2]
    cards = ["a", "a", "b", "c", "a", "d"]
    scores = [0.9, 0.05, 0.8, 0.1, 0.2, 0.7]
    y = [0, 1, 0, 1, 0, 1]
    # k=1: day 1 top a (fraud) -> 1; day 2 top d (fraud) -> 1.
    assert card_precision_at_k(y, scores, cards=cards, days=days, k=1) == 1.0
    # k=2: day 1 {a, b} -> 1/2; day 2 {d, a} -> 1/2.
    assert card_precision_at_k(y, scores, cards=cards, days=days, k=2) == 0.5
    # k=3: day 1 {a, b, c} -> 2/3; day 2 only two cards -> 1/3.
    assert card_precision_at_k(y, scores, cards=cards, days=days, k=3) == pytest.approx(0.5)
    with pytest.raises(ValueError, match="k"):
        card_precision_at_k(y, scores, cards=cards, days=days, k=0)
    with pytest.raises(ValueError, match="length"):
        card_precision_at_k(y, scores[:2], cards=cards, days=days)
