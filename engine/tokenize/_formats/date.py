"""Dates: a valid date of the same format, by a small-domain keyed permutation of days."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from engine.tokenize._formats.base import Objects, flag, new_reasons, none_mask, series
from engine.tokenize._formats.keyed import ColumnKeys
from engine.tokenize._formats.options import FormatOptions

__all__ = ["date"]


def date(
    values: Objects, keys: ColumnKeys, opts: FormatOptions, decrypt: bool
) -> tuple[Objects, Objects]:
    """Tokenize (or detokenize) dates in ``opts.date_format`` within the accepted range.

    The domain (73,049 days by default) is far below NIST's 10^6 minimum for FF1, so the
    token is the keyed permutation of the day index (sorted by AES), an exact bijection that
    resists only casual re-identification.
    """
    rows = values.shape[0]
    reasons = new_reasons(rows)
    out = new_reasons(rows)
    s = series(values)
    if opts.date_format.isascii():
        # Python's parser accepts full-width and other Unicode digits: not a canonical date.
        flag(reasons, s.str.contains(r"[^\x00-\x7f]"), "date: non-ASCII characters")
    parsed = pd.to_datetime(s, format=opts.date_format, errors="coerce")
    flag(reasons, parsed.isna(), "date: not a valid date in the expected format")
    text = parsed.dt.strftime(opts.date_format)
    flag(reasons, text.fillna("").to_numpy(dtype=object) != values, "date: not in canonical form")
    lo = pd.Timestamp(opts.date_min)
    hi = pd.Timestamp(opts.date_max)
    flag(reasons, ((parsed < lo) | (parsed > hi)).fillna(False), "date: outside the accepted range")
    ok = np.flatnonzero(none_mask(reasons))
    if ok.shape[0] == 0:
        return out, reasons
    day = parsed.iloc[ok].dt.normalize()
    if opts.date_keep_year:
        new = _within_years(keys, day, opts, decrypt=decrypt)
    else:
        index = (day - lo).dt.days.to_numpy(dtype=np.int64)
        size = (hi - lo).days + 1
        forward, inverse = keys.prp("date", size)
        mapped = (inverse if decrypt else forward)[index]
        new = lo + pd.to_timedelta(mapped, unit="D")
    out[ok] = pd.Series(new).dt.strftime(opts.date_format).to_numpy(dtype=object)
    return out, reasons


def _within_years(
    keys: ColumnKeys, day: pd.Series, opts: FormatOptions, *, decrypt: bool
) -> pd.DatetimeIndex:
    """Permute the day within its own year (one keyed permutation per year)."""
    years = day.dt.year.to_numpy(dtype=np.int64)
    result = np.empty(day.shape[0], dtype="datetime64[s]")
    stamps = day.to_numpy(dtype="datetime64[s]")
    for year in np.unique(years).tolist():
        sel = years == year
        start = max(dt.date(year, 1, 1), opts.date_min)
        stop = min(dt.date(year, 12, 31), opts.date_max)
        size = (stop - start).days + 1
        base = np.datetime64(start, "s")
        index = ((stamps[sel] - base) // np.timedelta64(1, "D")).astype(np.int64)
        forward, inverse = keys.prp(f"date/year/{year}", size)
        mapped = (inverse if decrypt else forward)[index]
        result[sel] = base + mapped.astype("timedelta64[D]")
    return pd.DatetimeIndex(result)
