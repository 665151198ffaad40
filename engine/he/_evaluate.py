"""Ciphertext-level evaluation on column-packed chunks: packing, linear maps, Horner, sums."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = ["group_bounds", "group_weights", "linear", "sigmoid", "split_columns", "sums"]

Chunks = Sequence[Sequence[Any]]


def split_columns(block: np.ndarray, packing: str) -> list[np.ndarray]:
    """Split a (records x features) block into one slot vector per ciphertext."""
    if packing == "real":
        return [block[:, j] for j in range(block.shape[1])]
    out = [block[:, k] + 1j * block[:, k + 1] for k in range(0, block.shape[1] - 1, 2)]
    if block.shape[1] % 2:
        out.append(block[:, -1])
    return out


def group_weights(w: np.ndarray, packing: str) -> list[complex]:
    """One constant per ciphertext whose product's real part is that ciphertext's share."""
    if packing == "real":
        return [complex(v) for v in w]
    pairs = np.append(w, 0.0) if len(w) % 2 else w
    # Re((w_a - i w_b)(x_a + i x_b)) = w_a x_a + w_b x_b: the real part is the score.
    return [complex(a, -b) for a, b in pairs.reshape(-1, 2)]


def group_bounds(bounds: Sequence[float], packing: str) -> list[float]:
    """The slot-magnitude bound of each ciphertext (the joint bound of a complex pair)."""
    if packing == "real":
        return list(bounds)
    b = [*bounds, 0.0] if len(bounds) % 2 else list(bounds)
    return [math.hypot(b[k], b[k + 1]) for k in range(0, len(b), 2)]


def linear(backend: Any, chunks: Chunks, weights: Sequence[complex], b: float) -> list[Any]:
    """Per chunk: sum_g c_g * ct_g (no rescale in between), one rescale, + b.

    Raises:
        ValueError: Every weight encodes to zero (SEAL refuses the transparent result).
    """
    if not chunks:
        return []
    live = [g for g, c in enumerate(weights) if abs(c) * backend.scale >= 1.0]
    if not live:
        raise ValueError("all weights are zero: the score is the intercept alone")
    first = chunks[0]
    plains = {
        g: backend.encode_constant(weights[g], like=first[g], scale=backend.scale) for g in live
    }
    out = []
    for chunk in chunks:
        total = backend.add_many([backend.multiply_plain(chunk[g], plains[g]) for g in live])
        out.append(backend.add_constant(backend.rescale(total), b))
    return out


def sigmoid(backend: Any, u: Any, t: Any, coefficients: Sequence[float]) -> Any:
    """Evaluate ``1/2 + u * q(u^2)`` by Horner's rule in ``u^2``; ``t`` is ``c_top * u``.

    Levels: ``t * u`` and ``u * u`` one, each further Horner step one, the final ``* u``
    one; every product is relinearized and rescaled, constants are added at the exact scale.
    """
    y = backend.multiply(u, u) if len(coefficients) > 2 else None
    g = backend.add_constant(backend.multiply(t, u), coefficients[-2])
    for c in reversed(coefficients[:-2]):
        g = backend.add_constant(backend.multiply(g, y), c)
    return backend.add_constant(backend.multiply(g, u), 0.5)


def sums(backend: Any, chunks: Chunks) -> tuple[tuple[Any, ...], ...]:
    """Add the chunks ciphertext by ciphertext: per-slot partial column sums (no level)."""
    if not chunks:
        return ()
    return (tuple(backend.add_many(list(cts)) for cts in zip(*chunks, strict=True)),)
