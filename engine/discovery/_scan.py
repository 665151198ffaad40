"""``scan``: one entry point for frames, files, trees, JSON objects and free text."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pandas as pd

from engine.discovery._detectors import DetectorRegistry
from engine.discovery._files import FileScan, iter_files, scan_file
from engine.discovery._finding import EntityKind, Finding, ScanReport, Skipped
from engine.discovery._sources import Located, ScanSettings, scan_frame, scan_json, scan_text_stream

__all__ = ["Located", "report_of", "scan", "scan_located", "settings_for"]


def settings_for(
    *,
    kinds: Iterable[EntityKind | str] | None = None,
    registry: DetectorRegistry | None = None,
    tokenized_columns: Iterable[str] = (),
    min_confidence: float = 0.0,
) -> ScanSettings:
    """Build the scan settings (see :func:`scan` for the arguments)."""
    reg = registry if registry is not None else DetectorRegistry.default()
    if kinds is not None:
        reg = reg.only(frozenset(EntityKind(k) for k in kinds))
    if not 0.0 <= min_confidence <= 1.0:
        raise ValueError("min_confidence: must lie in [0, 1]")
    return ScanSettings(
        registry=reg, tokenized_columns=frozenset(tokenized_columns), min_confidence=min_confidence
    )


def scan(
    obj: Any,
    *,
    kinds: Iterable[EntityKind | str] | None = None,
    registry: DetectorRegistry | None = None,
    tokenized_columns: Iterable[str] = (),
    min_confidence: float = 0.0,
    follow_symlinks: bool = True,
) -> ScanReport:
    """Find identifiers in clear in ``obj``; the report never contains a value.

    Args:
        obj: A ``pandas.DataFrame``; a path (``pathlib.Path`` or ``os.PathLike``) to a CSV,
            TSV, Parquet, JSON, JSON-lines or text file (optionally ``.gz``/``.bz2``/``.xz``)
            or to a directory tree; a ``dict`` or ``list`` (a parsed JSON document); or
            free text as ``str`` or ``bytes``. A ``str`` is always text, never a path.
        kinds: Only look for these kinds (default: all).
        registry: The detectors (default: ``DetectorRegistry.default()``).
        tokenized_columns: Columns (or JSON paths such as ``$.customers[].email``) that a
            manifest says are tokenized: format-valid kinds found there (SSN, email, phone,
            date of birth, name) are counted as ``suppressed``, not reported; PANs that
            pass Luhn and IBANs that pass mod-97 are still reported.
        min_confidence: Drop findings below this confidence.
        follow_symlinks: Follow symlinks in trees (loops are detected and skipped).

    Returns:
        The findings, the skipped inputs with reasons, and counters.

    Raises:
        TypeError: ``obj`` is of an unsupported type.

    Example:
        >>> report = scan("card 4111 1111 1111 1111, order 4111 1111 1111 1112")
        >>> [(f.kind.value, f.preview) for f in report.findings]
        [('pan', '411111******1111')]
    """
    settings = settings_for(
        kinds=kinds, registry=registry, tokenized_columns=tokenized_columns,
        min_confidence=min_confidence,
    )  # fmt: skip
    results = scan_located(obj, settings, follow_symlinks=follow_symlinks)
    return report_of(results)


def report_of(results: Iterable[tuple[str, FileScan]]) -> ScanReport:
    """Merge per-source scans into one report."""
    findings: list[Finding] = []
    skipped: list[Skipped] = []
    notes: list[Skipped] = []
    nbytes = files = suppressed = 0
    for _, res in results:
        findings.extend(loc.finding for loc in res.located)
        skipped.extend(s for s in dict.fromkeys(res.skipped) if s not in skipped)
        notes.extend(dict.fromkeys(res.notes))
        nbytes += res.bytes_scanned
        suppressed += res.suppressed
        files += res.fmt != "skipped"
    return ScanReport(
        findings=tuple(findings), skipped=tuple(skipped), notes=tuple(notes),
        bytes_scanned=nbytes, files_scanned=files, suppressed=suppressed,
    )  # fmt: skip


def scan_located(
    obj: Any, settings: ScanSettings, *, follow_symlinks: bool = True
) -> list[tuple[str, FileScan]]:
    """Scan ``obj``; return ``(source, FileScan)`` per file or object, spans included."""
    if isinstance(obj, pd.DataFrame):
        res = FileScan(fmt="frame")
        res.located, res.suppressed = scan_frame(obj, settings, source="<frame>")
        return [("<frame>", res)]
    if isinstance(obj, str | bytes):
        data = obj.encode("utf-8", "replace") if isinstance(obj, str) else obj
        res = FileScan(fmt="text", bytes_scanned=len(data))
        res.located = list(scan_text_stream([data], settings, source="<text>"))
        return [("<text>", res)]
    if isinstance(obj, dict | list):
        res = FileScan(fmt="json")
        docs = enumerate(obj) if isinstance(obj, list) else [(None, obj)]
        res.located = scan_json(docs, settings, source="<json>")
        return [("<json>", res)]
    if isinstance(obj, os.PathLike):
        return _scan_tree(Path(obj), settings, follow_symlinks=follow_symlinks)
    raise TypeError("obj: expected a DataFrame, a path, a dict/list, str or bytes")


def _scan_tree(
    root: Path, settings: ScanSettings, *, follow_symlinks: bool
) -> list[tuple[str, FileScan]]:
    out: list[tuple[str, FileScan]] = []
    for item in iter_files(root, follow_symlinks=follow_symlinks):
        if isinstance(item, Skipped):
            out.append((item.source, FileScan(fmt="skipped", skipped=[item])))
            continue
        res = scan_file(item, settings)
        if res.skipped and not res.located and not res.bytes_scanned:
            res.fmt = "skipped"
        out.append((str(item), res))
    return out
