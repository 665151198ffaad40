"""The Ray Data adapter of the tokenize stage."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd
import ray

from engine.keys import KeyMaterial
from engine.tokenize import FormatOptions, Kind, Scheme, tokenize_frame

ROW = "row"
_Q_COLUMN = "_quarantine_column"
_Q_REASON = "_quarantine_reason"


def _tokenize_batch(
    batch: pd.DataFrame,
    *,
    pii: Mapping[str, str],
    keys: Mapping[Kind, KeyMaterial],
    options: FormatOptions,
) -> pd.DataFrame:
    """Tokenize one batch on a worker; the keys arrive once, as a shared object reference."""
    result = tokenize_frame(batch.set_index(ROW), pii, keys, options=options)
    # SECURITY: only tokens and (column, reason) pairs leave the worker; quarantined rows
    # come back without any value, and the driver encrypts the originals itself.
    tokens = result.frame[list(pii)].astype("string")
    tokens[_Q_COLUMN] = pd.Series(pd.NA, index=tokens.index, dtype="string")
    tokens[_Q_REASON] = pd.Series(pd.NA, index=tokens.index, dtype="string")
    failed = result.quarantine.groupby("row", sort=True).agg(
        {"column": "; ".join, "reason": "; ".join}
    )
    rejected = pd.DataFrame(
        {column: pd.Series(pd.NA, index=failed.index, dtype="string") for column in pii}
    )
    rejected[_Q_COLUMN] = failed["column"].astype("string")
    rejected[_Q_REASON] = failed["reason"].astype("string")
    out = pd.concat([tokens, rejected]).rename_axis(ROW).reset_index()
    out[ROW] = out[ROW].astype("int64")
    return out


def tokenize_on_ray(
    frame: pd.DataFrame,
    pii: Mapping[str, str],
    keys: Mapping[Kind, KeyMaterial],
    *,
    scheme: str,
    batch_rows: int,
    workers: int,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Tokenize the PII columns of ``frame`` on Ray workers.

    Args:
        frame: Input rows indexed by their input row number; only the PII columns are sent.
        pii: Column -> kind.
        keys: Tokenization key per kind (put into the object store once, never per row).
        scheme: ``"FF1"`` or ``"FF3-1"``.
        batch_rows: Rows per batch.
        workers: Number of concurrent tokenize tasks.

    Returns:
        ``(tokens, quarantine)``: tokens indexed by row for the rows that passed, and one line
        per rejected row with its ``column`` and ``reason`` (several joined by ``"; "``).
    """
    columns = list(pii)
    source = frame[columns].rename_axis(ROW).reset_index()
    step = max(1, -(-len(source) // max(1, workers * 2)))
    step = min(step, batch_rows)
    parts = [source.iloc[start : start + step] for start in range(0, len(source), step)]
    options = FormatOptions(scheme=Scheme(scheme))
    # Ray's stubs type batch functions as positional-only; keyword arguments come via fn_kwargs.
    batch_fn: Any = _tokenize_batch
    dataset = ray.data.from_pandas(parts).map_batches(
        batch_fn,
        fn_kwargs={"pii": dict(pii), "keys": dict(keys), "options": options},
        batch_format="pandas",
        batch_size=batch_rows,
        concurrency=max(1, workers),
    )
    out = dataset.to_pandas()
    out = out.set_index(out[ROW].astype("int64")).drop(columns=ROW).sort_index()
    rejected = out[_Q_REASON].notna()
    quarantine = (
        out.loc[rejected, [_Q_COLUMN, _Q_REASON]]
        .rename(columns={_Q_COLUMN: "column", _Q_REASON: "reason"})
        .astype(str)
    )
    tokens = out.loc[~rejected, columns]
    return tokens, quarantine
