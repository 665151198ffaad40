from __future__ import annotations

import numpy as np
import pytest

from engine.he import _evaluate


def test_complex_weights_put_the_score_in_the_real_part() -> None:
    rng = np.random.default_rng(5)
    x, w = rng.normal(size=(6, 5)), rng.normal(size=5)
    slots = _evaluate.split_columns(x, "complex")
    assert len(slots) == 3  # two pairs and the odd last column
    weights = _evaluate.group_weights(w, "complex")
    score = np.sum([c * z for c, z in zip(weights, slots, strict=True)], axis=0)
    np.testing.assert_allclose(score.real, x @ w, atol=1e-12)


def test_real_packing_is_one_column_per_ciphertext() -> None:
    x = np.arange(6.0).reshape(2, 3)
    assert [s.tolist() for s in _evaluate.split_columns(x, "real")] == [[0, 3], [1, 4], [2, 5]]
    assert _evaluate.group_weights(np.array([1.0, 2.0]), "real") == [1, 2]


def test_group_bounds_are_joint_for_pairs() -> None:
    assert _evaluate.group_bounds([3.0, 4.0, 2.0], "complex") == pytest.approx([5.0, 2.0])
    assert _evaluate.group_bounds([3.0, 4.0], "real") == [3.0, 4.0]


def test_empty_inputs() -> None:
    assert _evaluate.linear(None, [], [1.0], 0.0) == []
    assert _evaluate.sums(None, []) == ()
