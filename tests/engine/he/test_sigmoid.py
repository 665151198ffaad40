from __future__ import annotations

import numpy as np
import pytest

from engine.he import SigmoidPolynomial


@pytest.mark.parametrize(
    ("degree", "bound"), [(3, 0.114), (5, 0.055), (7, 0.026), (9, 0.0123), (11, 0.0058)]
)
def test_documented_max_error_on_minus_8_to_8(degree: int, bound: float) -> None:
    poly = SigmoidPolynomial(degree=degree)
    assert poly.max_error <= bound
    assert poly.levels == degree // 2 + 2
    grid = np.linspace(-8, 8, 4001)
    exact = 1 / (1 + np.exp(-grid))
    assert np.max(np.abs(poly.evaluate(grid) - exact)) <= poly.max_error + 1e-12


def test_wider_range_costs_accuracy() -> None:
    assert SigmoidPolynomial(input_range=(-16, 16)).max_error > SigmoidPolynomial().max_error


def test_polynomial_is_odd_around_one_half() -> None:
    poly = SigmoidPolynomial()
    grid = np.linspace(0, 8, 101)
    np.testing.assert_allclose(poly.evaluate(grid) + poly.evaluate(-grid), 1.0, atol=1e-12)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"degree": 4}, "odd"),
        ({"degree": 17}, "odd"),
        ({"input_range": (-4.0, 8.0)}, "symmetric"),
        ({"input_range": (0.0, 0.0)}, "symmetric"),
    ],
)
def test_invalid(kwargs: dict[str, object], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        SigmoidPolynomial(**kwargs)  # type: ignore[arg-type]
