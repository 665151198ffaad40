"""What every format shares: the result type, reasons and vectorised string checks."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeAlias

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from engine.tokenize._formats.keyed import ColumnKeys
from engine.tokenize._formats.options import FormatOptions

__all__ = [
    "FormatFn",
    "Objects",
    "chars_of",
    "flag",
    "new_reasons",
    "none_mask",
    "series",
]

Objects: TypeAlias = NDArray[np.object_]
# A format: (values, keys, options, decrypt) -> (outputs, reasons); reasons[i] is None
# when row i succeeded, else a short fixed string that never contains the value.
FormatFn: TypeAlias = Callable[[Objects, ColumnKeys, FormatOptions, bool], tuple[Objects, Objects]]


def none_mask(values: Objects) -> NDArray[np.bool_]:
    """Return True where an object array holds None (vectorised)."""
    return np.asarray(pd.isna(values), dtype=bool)


def new_reasons(rows: int) -> Objects:
    """Return an all-None reason array."""
    return np.full(rows, None, dtype=object)


def flag(reasons: Objects, mask: Any, reason: str) -> None:
    """Set ``reason`` on rows of ``mask`` that have no reason yet (the first reason wins)."""
    # SECURITY: reasons are fixed strings chosen by the format, never built from a value.
    mask = np.asarray(mask, dtype=bool)
    if not mask.any():
        return
    hit = mask & none_mask(reasons)
    reasons[hit] = reason


def series(values: Objects) -> pd.Series[str]:
    """Return ``values`` as a pandas string Series (vectorised regex and slicing)."""
    try:
        return pd.Series(values, dtype="str")
    except UnicodeEncodeError:
        # Lone surrogates cannot be stored in Arrow; Python storage holds any str.
        return pd.Series(values, dtype=pd.StringDtype("python"))


def chars_of(codes: NDArray[np.uint32]) -> NDArray[np.str_]:
    """Return a (rows, width) array of one-character strings (NUL padding becomes '')."""
    return np.ascontiguousarray(codes).view("<U1")
