"""Reading job inputs and writing job outputs atomically."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from engine.errors import InputError


def read_table(path: Path, *, text_columns: list[str]) -> pd.DataFrame:
    """Read a CSV or Parquet file; ``text_columns`` are read as strings, never parsed.

    Raises:
        InputError: Missing, unreadable, empty or unparsable file (no value in the message).
    """
    if path.is_dir():
        raise InputError(f"input path is a directory, not a file: {path}")
    if not path.is_file():
        raise InputError(f"input file not found: {path}")
    suffix = "".join(path.suffixes[-2:]).lower()
    try:
        if suffix.endswith((".parquet", ".pq")):
            frame = pd.read_parquet(path)
        elif suffix.endswith((".csv", ".csv.gz", ".csv.bz2", ".csv.zst", ".txt")):
            if path.stat().st_size == 0:
                raise InputError(f"input file is empty: {path}")
            frame = pd.read_csv(path, dtype={c: "string" for c in text_columns})
        else:
            raise InputError(f"input file {path}: unsupported format (use .csv or .parquet)")
    except pd.errors.EmptyDataError:
        raise InputError(f"input file is empty: {path}") from None
    except (pd.errors.ParserError, UnicodeDecodeError, OSError, pa.ArrowException) as exc:
        # SECURITY: parser messages can quote the offending line; report only its type.
        raise InputError(f"input file {path} cannot be parsed ({type(exc).__name__})") from None
    if len(frame) == 0:
        raise InputError(f"input file has a header but no rows: {path}")
    return frame.reset_index(drop=True)


def write_parquet(frame: pd.DataFrame, path: Path) -> None:
    """Write a DataFrame as Parquet without the pandas index."""
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), path)


def write_json(document: Any, path: Path) -> None:
    """Write JSON with sorted keys, so equal documents are equal bytes."""
    path.write_text(json.dumps(document, indent=2, sort_keys=True, default=str) + "\n")


def sha256_file(path: Path) -> str:
    """Return the hex SHA-256 of a file."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@contextmanager
def staged_directory(final: Path) -> Iterator[Path]:
    """Yield a temporary sibling of ``final`` and move it into place only on success.

    A failed run leaves no directory that looks complete: the staging directory is removed,
    and an earlier complete output at ``final`` is kept until the new one replaces it.
    """
    final.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{final.name}.staging-", dir=final.parent))
    try:
        yield staging
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    old = None
    if final.exists():
        old = final.with_name(f".{final.name}.old-{os.getpid()}")
        os.replace(final, old)
    os.replace(staging, final)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
