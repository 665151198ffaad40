"""A low-degree odd polynomial approximation of the logistic sigmoid for CKKS."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

__all__ = ["SigmoidPolynomial"]

# Least-squares nodes: Chebyshev points of the first kind spread the fit error evenly.
_NODES = 512
_CHECK_POINTS = 100_001


@dataclass(frozen=True, slots=True, kw_only=True)
class SigmoidPolynomial:
    """An odd least-squares polynomial fit of sigmoid(x) - 1/2 on [-R, R].

    ``p(x) = 1/2 + sum_k c_k (x/R)^(2k+1)``, fitted on Chebyshev nodes of [-R, R]. The
    polynomial is evaluated on the margin scaled to ``u = x/R`` (so ``|u| <= 1`` inside the
    range) with Horner's rule in ``u^2``, which costs ``(degree + 1) / 2 + 1`` levels, the
    linear margin included: 6 levels for degree 9, as ``CKKSParams.LOGISTIC`` provides.

    Max error on the range (dense check, also pinned by tests): degree 9 on [-8, 8]: 0.0123;
    degree 7: 0.026; degree 5: 0.055; degree 3: 0.113. Outside the range the polynomial
    diverges, so the data owner checks the decrypted margins (``CKKSKeys.decrypt``).

    Args:
        degree: An odd degree from 3 to 15.
        input_range: The symmetric fit interval ``(-R, R)``.

    Raises:
        ValueError: The degree is not odd in 3..15 or the range is not symmetric and positive.
    """

    degree: int = 9
    input_range: tuple[float, float] = (-8.0, 8.0)
    coefficients: tuple[float, ...] = field(init=False)
    max_error: float = field(init=False)

    def __post_init__(self) -> None:
        if self.degree % 2 != 1 or not 3 <= self.degree <= 15:
            raise ValueError(f"degree must be odd, from 3 to 15, got {self.degree}")
        lo, hi = (float(v) for v in self.input_range)
        if not (hi > 0 and lo == -hi and np.isfinite(hi)):
            raise ValueError("input_range must be symmetric around 0, e.g. (-8, 8)")
        object.__setattr__(self, "input_range", (lo, hi))
        k = np.arange(_NODES)
        u = np.cos(np.pi * (k + 0.5) / _NODES)
        powers = np.stack([u ** (2 * j + 1) for j in range(self.degree // 2 + 1)], axis=1)
        target = _sigmoid(u * hi) - 0.5
        coef, *_ = np.linalg.lstsq(powers, target, rcond=None)
        object.__setattr__(self, "coefficients", tuple(float(c) for c in coef))
        grid = np.linspace(-1.0, 1.0, _CHECK_POINTS)
        error = np.max(np.abs(self.evaluate(grid * hi) - _sigmoid(grid * hi)))
        object.__setattr__(self, "max_error", float(error))

    @property
    def radius(self) -> float:
        """R, the half-width of the input range."""
        return self.input_range[1]

    @property
    def levels(self) -> int:
        """CKKS levels needed: one for the linear margin, then Horner in u^2 and a final u."""
        return self.degree // 2 + 2

    def evaluate(self, x: np.ndarray) -> np.ndarray:
        """Evaluate the polynomial in plaintext (the same Horner order as the encrypted one)."""
        u = np.asarray(x, dtype=np.float64) / self.radius
        y = u * u
        acc = np.full_like(u, self.coefficients[-1])
        for c in reversed(self.coefficients[:-1]):
            acc = acc * y + c
        return np.asarray(0.5 + acc * u)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return np.asarray(1.0 / (1.0 + np.exp(-x)))
