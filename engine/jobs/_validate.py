"""Owner-side checks of a job's input before anything is tokenized or trained."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from engine.errors import ConfigError, InputError
from engine.jobs._spec import JobSpec


@dataclass(frozen=True, slots=True, kw_only=True)
class Columns:
    """The resolved column roles of a job."""

    pii: tuple[str, ...]
    label: str
    numeric: tuple[str, ...]
    categorical: tuple[str, ...]


def resolve_columns(frame: pd.DataFrame, spec: JobSpec) -> Columns:
    """Check the spec against the input's columns and pick the features.

    Raises:
        ConfigError: A ``[pii]``, label or feature column is not in the input.
        InputError: A listed feature is not numeric, or no feature is left.
    """
    present = set(frame.columns)
    missing = [c for c in spec.pii if c not in present]
    if missing:
        raise ConfigError(f"[pii] column(s) not in the input: {', '.join(missing)}")
    model = spec.model
    if model.fraud is not None:
        _check_fraud_columns(present, spec)
    if model.label not in present:
        raise ConfigError(f"[model] label column {model.label!r} is not in the input")
    listed = list(model.features or ()) + list(model.categorical)
    unknown = [c for c in listed if c not in present]
    if unknown:
        raise ConfigError(f"[model] feature column(s) not in the input: {', '.join(unknown)}")
    leaked = [c for c in listed if c in spec.pii or c == model.label]
    if leaked:
        raise ConfigError(f"[model] features must not be PII or the label: {', '.join(leaked)}")
    if model.features is None:
        excluded = set(spec.pii) | {model.label} | set(model.categorical)
        numeric = tuple(
            c
            for c in frame.columns
            if c not in excluded and pd.api.types.is_numeric_dtype(frame[c].dtype)
        )
    else:
        numeric = tuple(model.features)
        wrong = [c for c in numeric if not pd.api.types.is_numeric_dtype(frame[c].dtype)]
        if wrong:
            raise InputError(f"feature column(s) are not numeric: {', '.join(wrong)}")
    if not numeric and not model.categorical:
        raise InputError("no feature columns: list [model] features or categorical")
    return Columns(
        pii=tuple(spec.pii), label=model.label, numeric=numeric, categorical=model.categorical
    )


def _check_fraud_columns(present: set[str], spec: JobSpec) -> None:
    cols = spec.model.fraud
    assert cols is not None  # noqa: S101 - checked by the caller
    wanted = [cols.card, cols.terminal, cols.time, cols.amount]
    wanted += [cols.merchant_category] if cols.merchant_category else []
    missing = [c for c in wanted if c not in present]
    if missing:
        raise ConfigError(f"[model.fraud] column(s) not in the input: {', '.join(missing)}")
    if cols.card not in spec.pii:
        # SECURITY: fraud features are computed over card tokens, never raw card numbers.
        raise ConfigError(f"[model.fraud] card column {cols.card!r} must be listed in [pii]")
    tokenized = [c for c in (cols.time, cols.amount) if c in spec.pii]
    if tokenized:
        # A date token is a different date: windows over it would be meaningless.
        raise ConfigError(
            f"[model.fraud] time and amount columns must not be in [pii]: {', '.join(tokenized)}"
        )


def encode_label(values: pd.Series, positive: str | int) -> tuple[np.ndarray, np.ndarray]:
    """Return ``(y, missing)``: 1 where the label equals ``positive``, and where it is absent.

    Raises:
        InputError: The label has other than two distinct values, or ``positive`` is not one.
    """
    missing = values.isna().to_numpy()
    present = values[~missing]
    distinct = set(present.unique().tolist())
    if len(distinct) != 2:
        raise InputError(f"label column {values.name!r} must have exactly two distinct values")
    if positive not in distinct and str(positive) not in {str(v) for v in distinct}:
        raise ConfigError(
            f"[model] positive is not a value of label column {values.name!r}; set it to the "
            'label value that marks the event (e.g. 1 or "bad")'
        )
    if pd.api.types.is_bool_dtype(values.dtype) or pd.api.types.is_numeric_dtype(values.dtype):
        # True == 1 and 1.0 == 1: compare values, not their spellings ("True" != "1").
        y = (values == positive).fillna(False).to_numpy().astype("int64")
    else:
        y = (values.astype(str) == str(positive)).to_numpy().astype("int64")
    return y, missing
