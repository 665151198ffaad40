"""Plaintext checks before encryption: shape, dtype, NaN/inf policy and encodable range."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal, TypeAlias

import numpy as np

from engine.errors import InputError, ParameterError

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["NaNPolicy", "as_matrix", "column_bounds", "fill_missing", "weight_vector"]

NaNPolicy: TypeAlias = Literal["reject"] | Sequence[float] | np.ndarray | Mapping[str, float]
_NUMERIC_KINDS = "biuf"


def as_matrix(x: np.ndarray | pd.DataFrame) -> tuple[np.ndarray, tuple[str, ...], bool]:
    """Return ``x`` as a Fortran-ordered float64 matrix, its column names, whether named."""
    if hasattr(x, "columns") and hasattr(x, "to_numpy") and hasattr(x, "dtypes"):
        columns = tuple(str(c) for c in x.columns)
        for name, dtype in zip(columns, x.dtypes, strict=True):
            if getattr(dtype, "kind", "O") not in _NUMERIC_KINDS:
                raise InputError(f"column {name!r} is not numeric and cannot be CKKS-encrypted")
        values = np.asarray(x.to_numpy(dtype=np.float64, na_value=np.nan))
        named = True
    else:
        values = np.asarray(x)
        if values.dtype.kind not in _NUMERIC_KINDS:
            raise InputError("X must hold numbers (bool, int or float) to be CKKS-encrypted")
        columns = tuple(f"x{j}" for j in range(values.shape[1])) if values.ndim == 2 else ()
        named = False
    if values.ndim != 2:
        raise ValueError(f"X must be 2-D (records x features), got {values.ndim}-D")
    if values.shape[1] == 0:
        raise ValueError("X has no feature columns")
    return np.asfortranarray(values, dtype=np.float64), columns, named


def fill_missing(values: np.ndarray, columns: Sequence[str], nan: NaNPolicy) -> np.ndarray:
    """Apply the NaN policy; infinities are always rejected.

    Raises:
        InputError: A NaN under ``nan="reject"``, a NaN in a column without a fill value, an
            infinity anywhere, or a non-finite fill value. Messages name column and row.
    """
    fills = _fill_values(nan, columns)
    out = values
    for j, name in enumerate(columns):
        col = values[:, j]
        bad = ~np.isfinite(col)
        if not bad.any():
            continue
        inf_rows = np.flatnonzero(np.isinf(col))
        if inf_rows.size:
            raise InputError(f"column {name!r} has an infinity at row {inf_rows[0]}")
        if fills is None or fills[j] is None:
            row = int(np.flatnonzero(bad)[0])
            raise InputError(f"column {name!r} has NaN at row {row} (nan='reject')")
        if out is values:
            out = values.copy(order="F")
        out[bad, j] = fills[j]
    return out


def _fill_values(nan: NaNPolicy, columns: Sequence[str]) -> list[float | None] | None:
    if isinstance(nan, str):
        if nan != "reject":
            raise ValueError("nan must be 'reject' or per-column fill values")
        return None
    if isinstance(nan, Mapping):
        unknown = set(nan) - set(columns)
        if unknown:
            raise ValueError(f"nan names unknown columns: {sorted(unknown)}")
        fills: list[float | None] = [float(nan[c]) if c in nan else None for c in columns]
    else:
        arr = np.asarray(nan, dtype=np.float64)
        if arr.shape != (len(columns),):
            raise ValueError(f"nan fill values have shape {arr.shape}, expected ({len(columns)},)")
        fills = [float(v) for v in arr]
    for name, value in zip(columns, fills, strict=True):
        if value is not None and not math.isfinite(value):
            raise InputError(f"the fill value for column {name!r} is not finite")
    return fills


def column_bounds(
    values: np.ndarray, columns: Sequence[str], *, limit: float, is_complex: bool
) -> tuple[float, ...]:
    """Check the encodable range; return public per-column bounds (powers of two, capped).

    The bound of a column is its maximum magnitude rounded up to a power of two (capped at
    ``limit``), so it reveals only the order of magnitude. With complex packing, columns
    ``2k`` and ``2k+1`` share a slot and their joint magnitude must also stay within ``limit``.

    Raises:
        ParameterError: A column (or packed pair) exceeds ``limit``; names it and the limit.
    """
    peak = np.max(np.abs(values), axis=0) if len(values) else np.zeros(values.shape[1])
    for name, m in zip(columns, peak, strict=True):
        if m > limit:
            raise ParameterError(_range_message(repr(name), limit))
    if is_complex:
        for k in range(0, values.shape[1] - 1, 2):
            joint = np.max(np.hypot(values[:, k], values[:, k + 1])) if len(values) else 0.0
            if joint > limit:
                pair = f"{columns[k]!r} and {columns[k + 1]!r} (packed in one complex slot)"
                raise ParameterError(_range_message(pair, limit))
    # SECURITY: bounds travel with the ciphertexts; only powers of two leave the owner.
    return tuple(min(_pow2_ceil(float(m)), limit) for m in peak)


def _range_message(what: str, limit: float) -> str:
    return (
        f"column {what} has values beyond the encodable limit {limit:,.0f} "
        "(about 2^(first prime bits - scale_bits - 1)); they would wrap around: "
        "standardize or rescale the feature"
    )


def _pow2_ceil(m: float) -> float:
    return 0.0 if m == 0 else float(2.0 ** math.ceil(math.log2(m)))


def weight_vector(weights: Any, n_features: int, *, name: str = "weights") -> np.ndarray:
    """Return ``weights`` as a finite float64 vector of length ``n_features``.

    Raises:
        ValueError: Wrong length (names expected and actual) or non-finite entries.
    """
    w = np.asarray(weights, dtype=np.float64).reshape(-1)
    if w.shape[0] != n_features:
        raise ValueError(f"{name} has {w.shape[0]} entries but the frame has {n_features} features")
    if not np.all(np.isfinite(w)):
        raise ValueError(f"{name} must be finite")
    return w


def check_finite(value: float, name: str) -> float:
    """Return ``value`` as float; ValueError if it is not finite."""
    v = float(value)
    if not math.isfinite(v):
        raise ValueError(f"{name} must be finite")
    return v
