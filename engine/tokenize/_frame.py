"""Tokenize and detokenize the PII columns of a pandas DataFrame, with a quarantine."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from engine.errors import ConfigError, TokenizationError
from engine.keys import KeyMaterial
from engine.tokenize._formats.aead import aead
from engine.tokenize._formats.base import FormatFn, Objects, new_reasons, none_mask, series
from engine.tokenize._formats.date import date
from engine.tokenize._formats.digits import phone, ssn
from engine.tokenize._formats.email import email
from engine.tokenize._formats.iban import iban
from engine.tokenize._formats.keyed import ColumnKeys
from engine.tokenize._formats.name import name
from engine.tokenize._formats.options import ColumnProtection, FormatOptions, Kind
from engine.tokenize._formats.pan import pan

__all__ = ["MAX_CHARS", "TokenizedFrame", "detokenize_frame", "tokenize_frame"]

_FORMATS: Final[dict[Kind, FormatFn]] = {
    Kind.ID: aead(Kind.ID),
    Kind.NAME: name,
    Kind.SSN: ssn,
    Kind.PAN: pan,
    Kind.IBAN: iban,
    Kind.EMAIL: email,
    Kind.PHONE: phone,
    Kind.DATE: date,
    Kind.TEXT: aead(Kind.TEXT),
}
# Longest accepted value per kind (characters, padding included); longer is quarantined
# before any array is built, so one huge value cannot blow up a batch.
MAX_CHARS: Final = {
    Kind.ID: 1024,
    Kind.NAME: 256,
    Kind.SSN: 32,
    Kind.PAN: 64,
    Kind.IBAN: 64,
    Kind.EMAIL: 254,
    Kind.PHONE: 64,
    Kind.DATE: 64,
    Kind.TEXT: 65536,
}
_AEAD: Final = (Kind.ID, Kind.TEXT)
# Rows per call of a format: large enough to amortise the per-call cost, small enough for
# the working arrays to stay in cache (IBANs run about 2x faster than in one 1M-row call).
_CHUNK_ROWS: Final = 1 << 17
_SMALL_DOMAIN: Final = (Kind.NAME, Kind.EMAIL, Kind.DATE)


@dataclass(frozen=True, slots=True, kw_only=True)
class TokenizedFrame:
    """The result of ``tokenize_frame``.

    Args:
        frame: The rows that passed, original index kept, PII columns replaced by tokens.
        quarantine: One line per failing (row, column): columns ``row`` (the input index
            label, or the position for a non-integer index), ``column`` and ``reason``.
        protection: Per PII column, how it was protected (for the job manifest).
    """

    frame: pd.DataFrame
    quarantine: pd.DataFrame
    protection: Mapping[str, ColumnProtection]


@dataclass(frozen=True, slots=True, kw_only=True)
class _Column:
    name: str
    kind: Kind
    keys: ColumnKeys
    options: FormatOptions


def tokenize_frame(
    df: pd.DataFrame,
    pii: Mapping[str, Kind | str],
    keys: Mapping[Kind, KeyMaterial],
    *,
    options: FormatOptions | Mapping[str, FormatOptions] | None = None,
) -> TokenizedFrame:
    """Replace the PII columns of ``df`` by tokens; quarantine rows that fail validation.

    Args:
        df: The input frame.
        pii: Column name -> kind (a ``Kind`` or its value, e.g. ``"pan"``).
        keys: Kind -> key material.
        options: One ``FormatOptions`` for every column, or column name -> options.

    Returns:
        The tokenized rows, the quarantine and the protection record. Every input row is
        in exactly one of ``frame`` and (by its label) ``quarantine``.

    Raises:
        ConfigError: an unknown column or kind, a missing key, bad options.

    Example:
        >>> import pandas as pd
        >>> from engine.keys import KeyMaterial
        >>> key = KeyMaterial(key_id="tokenize.ssn", version=1, secret=bytes(32))
        >>> df = pd.DataFrame({"ssn": ["150-59-7454", "000-00-0000"]})
        >>> out = tokenize_frame(df, {"ssn": "ssn"}, {Kind.SSN: key})
        >>> out.frame["ssn"].tolist(), out.quarantine["reason"].tolist()
        (['377-11-5142'], ['ssn: invalid area number'])
    """
    columns = _columns(df, pii, keys, options)
    replaced: dict[str, pd.Series[Any]] = {}
    lines: list[tuple[int, str, str]] = []
    failed = np.zeros(len(df), dtype=bool)
    labels = _row_labels(df)
    for col in columns:
        out, reasons = _run(df[col.name], col, decrypt=False)
        bad = ~none_mask(reasons)
        failed |= bad
        lines.extend(
            (int(labels[i]), col.name, str(reasons[i])) for i in np.flatnonzero(bad).tolist()
        )
        replaced[col.name] = _as_series(out, df[col.name])
    frame = _replace(df, replaced).loc[~failed]
    quarantine = pd.DataFrame(lines, columns=["row", "column", "reason"])
    quarantine = quarantine.astype({"row": "int64", "column": "str", "reason": "str"})
    protection = {col.name: _protection(col) for col in columns}
    return TokenizedFrame(frame=frame, quarantine=quarantine, protection=protection)


def detokenize_frame(
    df: pd.DataFrame,
    pii: Mapping[str, Kind | str],
    keys: Mapping[Kind, KeyMaterial],
    *,
    options: FormatOptions | Mapping[str, FormatOptions] | None = None,
) -> pd.DataFrame:
    """Invert ``tokenize_frame`` exactly (same pii, keys and options).

    Raises:
        ConfigError: an unknown column or kind, a missing key, bad options.
        TokenizationError: a value is not a token of this column; the message names the
            column, row and rule, never the value.
    """
    columns = _columns(df, pii, keys, options)
    labels = _row_labels(df)
    replaced: dict[str, pd.Series[Any]] = {}
    for col in columns:
        out, reasons = _run(df[col.name], col, decrypt=True)
        bad = np.flatnonzero(~none_mask(reasons))
        if bad.shape[0]:
            i = int(bad[0])
            # SECURITY: name the column, row and rule only.
            raise TokenizationError(
                f"column {col.name!r}, row {labels[i]}: {reasons[i]} ({bad.shape[0]} rows)"
            )
        replaced[col.name] = _as_series(out, df[col.name])
    return _replace(df, replaced)


def _replace(df: pd.DataFrame, replaced: Mapping[str, pd.Series[Any]]) -> pd.DataFrame:
    frame = df.copy()
    for name_, column in replaced.items():
        frame[name_] = column
    return frame


def _columns(
    df: pd.DataFrame,
    pii: Mapping[str, Kind | str],
    keys: Mapping[Kind, KeyMaterial],
    options: FormatOptions | Mapping[str, FormatOptions] | None,
) -> list[_Column]:
    if options is not None and not isinstance(options, FormatOptions | Mapping):
        raise ConfigError("options: must be FormatOptions or a mapping of column to options")
    if isinstance(options, Mapping):
        for name_ in options:
            if name_ not in pii:
                raise ConfigError(f"options: column {name_!r} is not a PII column")
    result = []
    for column, spec in pii.items():
        if column not in df.columns:
            raise ConfigError(f"pii: column {column!r} is not in the frame")
        try:
            kind = spec if isinstance(spec, Kind) else Kind(spec)
        except ValueError:
            raise ConfigError(f"pii: unknown kind {spec!r} for column {column!r}") from None
        key = keys.get(kind)
        if key is None:
            raise ConfigError(f"keys: no key for kind {kind.value!r} (column {column!r})")
        if isinstance(options, FormatOptions):
            opts = options
        elif options is not None:
            opts = options.get(column, FormatOptions())
        else:
            opts = FormatOptions()
        label = opts.tweak_label or str(column)
        ck = ColumnKeys(key, kind, opts.scheme, label)
        result.append(_Column(name=column, kind=kind, keys=ck, options=opts))
    return result


def _row_labels(df: pd.DataFrame) -> NDArray[np.int64]:
    if pd.api.types.is_integer_dtype(df.index.dtype):
        return np.asarray(df.index, dtype=np.int64)
    return np.arange(len(df), dtype=np.int64)


def _protection(col: _Column) -> ColumnProtection:
    if col.kind in _AEAD:
        method = "AES-SIV"
    elif col.kind is Kind.DATE:
        method = "small-domain-PRP"
    else:
        method = col.options.scheme.value
    return ColumnProtection(
        kind=col.kind,
        method=method,
        key_id=col.keys.key.key_id,
        key_version=col.keys.key.version,
        tweak_id=col.keys.tweak_id,
        small_domain_fallback=col.kind in _SMALL_DOMAIN,
    )


def _as_series(out: Objects, original: pd.Series[Any]) -> pd.Series[Any]:
    dtype = original.dtype if isinstance(original.dtype, pd.StringDtype) else object
    return pd.Series(out, index=original.index, dtype=dtype, name=original.name)


def _all_str(values: Objects) -> bool:
    """Return True if every value is a str (one C-level pass)."""
    return values.shape[0] == 0 or pd.api.types.infer_dtype(values, skipna=False) == "string"


def _is_missing(value: Any) -> bool:
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    return isinstance(value, float | np.floating) and math.isnan(value)


@dataclass(frozen=True, slots=True, kw_only=True)
class _Prepared:
    text: Objects  # the value as str, or None where a reason is set
    reasons: Objects
    missing: NDArray[np.bool_]  # None/NaN/empty/blank (may pass through with allow_missing)
    left: NDArray[np.int64]  # leading whitespace length per row
    right: NDArray[np.int64]  # end of the value without trailing whitespace
    lengths: NDArray[np.int64]  # length of the value (0 where it is not text)


def _prepare(column: pd.Series[Any], kind: Kind, *, decrypt: bool) -> _Prepared:
    """Classify every row of a column: text, missing, not a string, too long, blank."""
    limit = MAX_CHARS[kind]
    if decrypt and kind in _AEAD:
        # An AES-SIV token of n characters of up to 4 UTF-8 bytes: prefix + base64(1+16+4n).
        limit = 5 + 4 * (17 + 4 * limit + 2) // 3
    raw = np.array(column, dtype=object)
    rows = raw.shape[0]
    reasons = new_reasons(rows)
    missing = np.array(column.isna(), dtype=bool)
    looped = not (isinstance(column.dtype, pd.StringDtype) or _all_str(raw[~missing]))
    if not looped:
        # Every present value is a str: text is None exactly where a value is missing.
        text = raw.copy()
        text[missing] = None
        present = np.flatnonzero(~missing)
    else:
        text = np.full(rows, None, dtype=object)
        for i, value in enumerate(raw.tolist()):
            if isinstance(value, str):
                text[i] = value
            elif _is_missing(value):
                missing[i] = True
            elif isinstance(value, int | np.integer) and not isinstance(value, bool | np.bool_):
                # Integers (e.g. card numbers read as numbers) are taken as decimal text.
                text[i] = str(int(value))
            else:
                reasons[i] = f"{kind.value}: not a string"
        present = np.flatnonzero(~none_mask(text))
    reasons[missing] = "missing"
    # An Arrow-backed str column is used as is (no round trip through Python objects).
    arrow = isinstance(column.dtype, pd.StringDtype) and column.dtype.storage == "pyarrow"
    s = column.iloc[present] if arrow else series(text[present])
    lengths = s.str.len().to_numpy(dtype=np.int64)
    left = np.zeros(rows, dtype=np.int64)
    right = np.zeros(rows, dtype=np.int64)
    size = np.zeros(rows, dtype=np.int64)
    size[present] = lengths
    left[present] = lengths - s.str.lstrip().str.len().to_numpy(dtype=np.int64)
    right[present] = s.str.rstrip().str.len().to_numpy(dtype=np.int64)
    long = lengths > limit
    reasons[present[long]] = f"{kind.value}: longer than {limit} characters"
    blank = right[present] == 0
    reasons[present[blank & (lengths == 0)]] = "empty"
    reasons[present[blank & (lengths > 0)]] = "whitespace only"
    # Only missing, long and blank rows (and non-strings, set above) have a reason here.
    text[present[long | blank]] = None
    if looped:
        text[~none_mask(reasons)] = None
    missing[present[blank]] = True
    return _Prepared(
        text=text, reasons=reasons, missing=missing, left=left, right=right, lengths=size
    )


def _unpad(
    values: Objects, left: NDArray[np.int64], right: NDArray[np.int64], lengths: NDArray[np.int64]
) -> tuple[Objects | None, Objects | None, Objects]:
    """Split off leading and trailing whitespace (kept verbatim around the token)."""
    padded = np.flatnonzero((left > 0) | (right < lengths))
    if padded.shape[0] == 0:
        return None, None, values
    lead = np.full(values.shape[0], "", dtype=object)
    trail = np.full(values.shape[0], "", dtype=object)
    core = values.copy()
    for i in padded.tolist():
        value = values[i]
        lead[i], core[i], trail[i] = value[: left[i]], value[left[i] : right[i]], value[right[i] :]
    return lead, trail, core


def _apply(
    fn: FormatFn, values: Objects, col: _Column, *, decrypt: bool
) -> tuple[Objects, Objects]:
    """Run a format over ``values`` in chunks of ``_CHUNK_ROWS`` (same result as one call)."""
    rows = values.shape[0]
    if rows <= _CHUNK_ROWS:
        return fn(values, col.keys, col.options, decrypt)
    # Every format is deterministic per row, so chunks change no output; they keep the
    # working arrays in cache and bound the memory of one call.
    parts = [
        fn(values[i : i + _CHUNK_ROWS], col.keys, col.options, decrypt)
        for i in range(0, rows, _CHUNK_ROWS)
    ]
    return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])


def _run(column: pd.Series[Any], col: _Column, *, decrypt: bool) -> tuple[Objects, Objects]:
    """Return (outputs, reasons) for one column; outputs are None where a reason is set."""
    prep = _prepare(column, col.kind, decrypt=decrypt)
    text, reasons = prep.text, prep.reasons
    out = np.full(text.shape[0], None, dtype=object)
    if col.options.allow_missing:
        # Missing and blank values carry no secret: they pass through unchanged.
        keep = prep.missing & np.isin(reasons, ["missing", "empty", "whitespace only"])
        reasons[keep] = None
        out[keep] = np.asarray(column.astype(object).where(column.notna(), None))[keep]
    todo = np.flatnonzero(~none_mask(text))
    if todo.shape[0] == 0:
        return out, reasons
    values = text[todo]
    lead = trail = None
    if col.kind not in _AEAD:
        lead, trail, values = _unpad(values, prep.left[todo], prep.right[todo], prep.lengths[todo])
    result, why = _apply(_FORMATS[col.kind], values, col, decrypt=decrypt)
    if lead is not None and trail is not None:
        ok = none_mask(why)
        result[ok] = lead[ok] + result[ok] + trail[ok]
    if todo.shape[0] == out.shape[0]:
        # Every row went to the format (the common case): no scatter needed.
        out, reasons = result, why
    else:
        out[todo] = result
        reasons[todo] = why
    out[~none_mask(reasons)] = None
    return out, reasons
