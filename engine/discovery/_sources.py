"""Map buffer hits to findings for text streams, table columns and JSON documents."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Final

import numpy as np
import pandas as pd

from engine.discovery._buffer import Hit, kinds_for_label, scan_buffer
from engine.discovery._detectors import DetectorRegistry
from engine.discovery._finding import EntityKind, Finding
from engine.discovery._mask import mask

__all__ = [
    "FORMAT_VALID_KINDS",
    "Located",
    "ScanSettings",
    "scan_cells",
    "scan_frame",
    "scan_json",
    "scan_text_stream",
]

#: Kinds whose FinVeil tokens are format-valid (no checksum tells them apart).
FORMAT_VALID_KINDS: Final = frozenset(
    {EntityKind.SSN, EntityKind.EMAIL, EntityKind.PHONE, EntityKind.DOB, EntityKind.NAME}
)
#: Bytes kept from the previous window when a line is longer than one window.
OVERLAP: Final = 512
_NEWLINES: Final = re.compile(r"[\r\n]")
_INDEX: Final = re.compile(r"\[\d+\]")
_NOT_PERSON_PARENT: Final = re.compile(
    r"merchant|product|item|bank|company|organi[sz]ation|store|shop|vendor|service|file|host"
    r"|device|category|plan|event|field|team|country|city|currency|branch|app"
)


@dataclass(frozen=True, slots=True, kw_only=True)
class ScanSettings:
    """Options shared by every source of one scan."""

    registry: DetectorRegistry
    tokenized_columns: frozenset[str] = frozenset()
    min_confidence: float = 0.0


@dataclass(frozen=True, slots=True, kw_only=True)
class Located:
    """A finding with its span in the source (absolute bytes for text, chars in a cell)."""

    finding: Finding
    start: int
    end: int


def _finding(hit: Hit, value: str, **where: Any) -> Finding:
    return Finding(
        kind=hit.kind, confidence=hit.confidence, preview=mask(hit.kind, value),
        detector=hit.detector, length=len(value), **where,
    )  # fmt: skip


def _chars(data: bytes) -> int:
    return len(data.decode("utf-8", "replace"))


def scan_text_stream(
    chunks: Iterable[bytes], settings: ScanSettings, *, source: str
) -> Iterator[Located]:
    """Yield findings of a text stream read in chunks (lines may span chunks)."""
    carry = b""
    line_no = 1
    col_base = 0  # characters of the current line before carry[0]
    skip = 0  # bytes at the start of carry already scanned
    absolute = 0  # absolute byte offset of carry[0]
    it = iter(chunks)
    done = False
    while not done:
        raw = next(it, None)
        done = raw is None
        data = carry + (raw or b"")
        if not data:
            break
        cut = data.rfind(b"\n", skip)
        if done:
            limit = next_start = len(data)
        elif cut != -1:
            limit = next_start = cut + 1
        elif len(data) > 4 * OVERLAP:
            limit, next_start = len(data) - OVERLAP, len(data) - 2 * OVERLAP
        else:
            carry = data
            continue
        view = data[:limit] if limit == next_start else data
        hits = [h for h in scan_buffer(view, settings.registry) if skip <= h.start < limit]
        pos, lines = 0, 0
        for hit in hits:
            if hit.confidence < settings.min_confidence:
                continue
            lines += data.count(b"\n", pos, hit.start)
            pos = hit.start
            nl = data.rfind(b"\n", 0, hit.start)
            offset = _chars(data[nl + 1 : hit.start]) + (col_base if nl == -1 else 0)
            value = data[hit.start : hit.end].decode("utf-8", "replace")
            found = _finding(hit, value, source=source, line=line_no + lines, offset=offset)
            yield Located(finding=found, start=absolute + hit.start, end=absolute + hit.end)
        head = data[:next_start]
        nl = head.rfind(b"\n")
        col_base = _chars(head[nl + 1 :]) + (col_base if nl == -1 else 0)
        line_no += head.count(b"\n")
        absolute += next_start
        carry = data[next_start:]
        skip = limit - next_start


def _cell_starts(cells: list[str], buf: bytes, text: str) -> np.ndarray[Any, np.dtype[np.int64]]:
    if len(buf) == len(text):
        lengths = np.fromiter(map(len, cells), dtype=np.int64, count=len(cells))
    else:
        lengths = np.fromiter(
            (len(c.encode("utf-8", "replace")) for c in cells), dtype=np.int64, count=len(cells)
        )
    starts = np.empty(len(cells), dtype=np.int64)
    starts[0] = 0
    np.cumsum(lengths[:-1] + 1, out=starts[1:])
    return starts


def scan_cells(
    cells: list[str],
    settings: ScanSettings,
    *,
    label: str,
    suppress: bool,
) -> Iterator[tuple[int, Hit, int, str]]:
    """Scan one column of cells; yield ``(cell index, hit, char offset, value)``.

    Cells are joined by newlines into one buffer (newlines inside cells become spaces,
    which keeps offsets) and hits are mapped back to cells with ``searchsorted``.
    """
    if not cells:
        return
    text = "\n".join(cells)
    if "\r" in text or text.count("\n") != len(cells) - 1:
        text = "\n".join(_NEWLINES.sub(" ", c) if ("\n" in c or "\r" in c) else c for c in cells)
    buf = text.encode("utf-8", "replace")
    starts = _cell_starts(cells, buf, text)
    hits = scan_buffer(buf, settings.registry, column_kinds=kinds_for_label(label))
    if not hits:
        return
    rows = np.searchsorted(starts, np.fromiter((h.start for h in hits), np.int64), "right") - 1
    for hit, row in zip(hits, rows.tolist(), strict=True):
        if hit.confidence < settings.min_confidence:
            continue
        if suppress and hit.kind in FORMAT_VALID_KINDS:
            continue
        cell_start = int(starts[row])
        offset = _chars(buf[cell_start : hit.start])
        yield row, hit, offset, buf[hit.start : hit.end].decode("utf-8", "replace")


def _column_cells(series: pd.Series[Any], label: str) -> list[str] | None:
    dtype = series.dtype
    if pd.api.types.is_bool_dtype(dtype) or pd.api.types.is_float_dtype(dtype):
        return None
    if pd.api.types.is_datetime64_any_dtype(dtype):
        if EntityKind.DOB not in kinds_for_label(label):
            return None
        return [v.strftime("%Y-%m-%d") if not pd.isna(v) else "" for v in series]
    values = series.tolist()
    if set(map(type, values)) <= {str}:  # CSV cells are read as strings
        return values
    out = []
    for v in values:
        if v is None or (isinstance(v, float) and v != v):
            out.append("")
        elif isinstance(v, bytes):
            out.append(v.decode("utf-8", "replace"))
        else:
            out.append(v if isinstance(v, str) else str(v))
    return out


def scan_frame(
    df: pd.DataFrame, settings: ScanSettings, *, source: str, row_base: int = 0
) -> tuple[list[Located], int]:
    """Scan every text-like column of ``df``; return located findings and the suppressed count.

    ``Located.start``/``end`` are character offsets inside the cell.
    """
    out: list[Located] = []
    suppressed = 0
    for column in df.columns:
        label = str(column)
        cells = _column_cells(df[column], label)
        if cells is None:
            continue
        suppress = label in settings.tokenized_columns
        for row, hit, offset, value in scan_cells(cells, settings, label=label, suppress=False):
            if suppress and hit.kind in FORMAT_VALID_KINDS:
                suppressed += 1
                continue
            found = _finding(hit, value, source=source, row=row_base + row, column=label,
                             offset=offset)  # fmt: skip
            out.append(Located(finding=found, start=offset, end=offset + len(value)))
    return out, suppressed


@lru_cache(maxsize=4096)
def _leaf_label(key: str, parent: str) -> str:
    norm = "".join(ch for ch in key.lower() if ch.isalnum())
    if norm == "name" and parent and _NOT_PERSON_PARENT.search(parent.lower()):
        return f"{parent}_name"
    return key


def _leaves(
    obj: Any, path: str, key: str, parent: str, group: str | None = None
) -> Iterator[tuple[str, str, str, str]]:
    """Yield ``(label, group path, full path, text)`` for every string or integer leaf.

    The group path is the path with list indexes replaced by ``[]``.
    """
    if group is None:
        group = _INDEX.sub("[]", path)
    kind = type(obj)
    if kind is dict or (kind is not list and isinstance(obj, Mapping)):
        for k, v in obj.items():
            name = str(k)
            sub = f"{group}.{_INDEX.sub('[]', name) if '[' in name else name}"
            tv = type(v)
            if tv is str or tv is int:
                yield _leaf_label(name, key), sub, f"{path}.{k}", str(v)
            elif tv is dict or tv is list or isinstance(v, Mapping | list | int | str):
                yield from _leaves(v, f"{path}.{k}", name, key, sub)
    elif kind is list or isinstance(obj, list):
        for i, v in enumerate(obj):
            yield from _leaves(v, f"{path}[{i}]", key, parent, f"{group}[]")
    elif isinstance(obj, str | int) and not isinstance(obj, bool):
        yield _leaf_label(key, parent), group, path, str(obj)


def scan_json(
    docs: Iterable[tuple[int | None, Any]], settings: ScanSettings, *, source: str
) -> list[Located]:
    """Scan parsed JSON documents ``(row, document)``; leaves are grouped by path."""
    groups: dict[tuple[str, str], list[tuple[int | None, str, str]]] = {}
    for row, doc in docs:
        for label, group, path, text in _leaves(doc, "$", "", ""):
            groups.setdefault((group, label), []).append((row, path, text))
    out: list[Located] = []
    for (group, label), leaves in groups.items():
        cells = [text for _, _, text in leaves]
        suppress = group in settings.tokenized_columns or label in settings.tokenized_columns
        for idx, hit, offset, value in scan_cells(cells, settings, label=label, suppress=suppress):
            row, path, _ = leaves[idx]
            found = _finding(hit, value, source=source, row=row, column=path, offset=offset)
            out.append(Located(finding=found, start=offset, end=offset + len(value)))
    return out
