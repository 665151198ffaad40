"""Remediation: tokenize findings in CSV/Parquet in place, write redacted copies of the rest."""

from __future__ import annotations

import csv
import datetime as dt
import json
import os
import re
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from engine.discovery._files import FileScan
from engine.discovery._finding import EntityKind, Finding
from engine.discovery._mask import mask
from engine.keys import AuditLog, KeyMaterial
from engine.tokenize import FormatOptions, Kind, tokenize_frame

__all__ = ["TOKEN_KINDS", "FixAction", "remediate"]

#: The tokenization kind used for each finding kind.
TOKEN_KINDS: Final = {
    EntityKind.PAN: Kind.PAN, EntityKind.IBAN: Kind.IBAN, EntityKind.SSN: Kind.SSN,
    EntityKind.EMAIL: Kind.EMAIL, EntityKind.PHONE: Kind.PHONE, EntityKind.DOB: Kind.DATE,
    EntityKind.NAME: Kind.NAME,
}  # fmt: skip
_DATE_FORMATS: Final = ("%Y-%m-%d", "%d.%m.%Y", "%m/%d/%Y", "%d/%m/%Y", "%Y/%m/%d", "%Y%m%d",
                        "%d %B %Y", "%B %d, %Y")  # fmt: skip
_PATH_PART: Final = re.compile(r"\.([^.\[]+)|\[(\d+)\]")


@dataclass(frozen=True, slots=True, kw_only=True)
class FixAction:
    """What remediation did to one source (``action``: tokenized, redacted or skipped)."""

    source: str
    action: str
    target: str
    findings: int
    reason: str = ""

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict."""
        return {"source": self.source, "action": self.action, "target": self.target,
                "findings": self.findings, "reason": self.reason}  # fmt: skip


def _atomic_write(path: Path, write: Callable[[Path], None]) -> None:
    tmp = path.with_name(f".{path.name}.finveil-{secrets.token_hex(4)}.tmp")
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def _write(path: Path, data: bytes) -> None:
    path.write_bytes(data)


def _date_format(value: str) -> str | None:
    for fmt in _DATE_FORMATS:
        try:
            dt.datetime.strptime(value, fmt)
        except ValueError:
            continue
        return fmt
    return None


def _tokens_for(
    values: list[str], kind: EntityKind, column: str, keys: Mapping[Kind, KeyMaterial]
) -> list[str]:
    """Tokenize ``values``; any value the tokenizer rejects is replaced by its mask."""
    out = [f"[{kind.value}:{mask(kind, v)}]" for v in values]
    groups: dict[str | None, list[int]] = {}
    for i, v in enumerate(values):
        groups.setdefault(_date_format(v) if kind is EntityKind.DOB else "", []).append(i)
    for fmt, idx in groups.items():
        if fmt is None:
            continue
        opts = FormatOptions(tweak_label=column, date_format=fmt or "%Y-%m-%d")
        frame = pd.DataFrame({"v": [values[i] for i in idx]})
        result = tokenize_frame(frame, {"v": TOKEN_KINDS[kind]}, keys, options=opts)
        for label, token in zip(
            result.frame.index.tolist(), result.frame["v"].tolist(), strict=True
        ):
            out[idx[int(label)]] = str(token)
    return out


def _splice(cell: str, spans: list[tuple[int, int, str]]) -> str:
    for start, end, new in sorted(spans, reverse=True):
        cell = cell[:start] + new + cell[end:]
    return cell


def _fix_frame(df: pd.DataFrame, findings: list[Finding], keys: Mapping[Kind, KeyMaterial]) -> None:
    by_col: dict[tuple[str, EntityKind], list[Finding]] = {}
    for f in findings:
        by_col.setdefault((str(f.column), f.kind), []).append(f)
    edits: dict[tuple[int, str], list[tuple[int, int, str]]] = {}
    for (column, kind), group in by_col.items():
        col = df[column].astype(object).where(df[column].notna(), "").astype(str)
        values = [col.iloc[int(f.row or 0)][f.offset : f.offset + f.length] for f in group]
        for f, token in zip(group, _tokens_for(values, kind, column, keys), strict=True):
            edits.setdefault((int(f.row or 0), column), []).append(
                (f.offset, f.offset + f.length, token)
            )
    for (row, column), spans in edits.items():
        position = list(df.columns).index(column)
        cell = df.iat[row, position]
        df[column] = df[column].astype(object)
        df.iat[row, position] = _splice("" if cell is None else str(cell), spans)


def _fix_table(path: Path, res: FileScan, keys: Mapping[Kind, KeyMaterial]) -> None:
    findings = [loc.finding for loc in res.located]
    if res.fmt == "parquet":
        df = pq.read_table(path).to_pandas()
        _fix_frame(df, findings, keys)
        _atomic_write(
            path, lambda tmp: pq.write_table(pa.Table.from_pandas(df, preserve_index=False), tmp)
        )
        return
    sample = path.read_bytes()[:8192].decode("utf-8", "replace")
    try:
        sep = (
            "\t"
            if path.suffix.lower() == ".tsv"
            else csv.Sniffer().sniff(sample, ",;\t|").delimiter
        )
    except csv.Error:
        sep = ","
    df = pd.read_csv(path, sep=sep, dtype=str, keep_default_na=False)
    _fix_frame(df, findings, keys)
    _atomic_write(path, lambda tmp: df.to_csv(tmp, sep=sep, index=False))


def _redacted_path(path: Path) -> Path:
    return path.with_name(f"{path.stem}.redacted{path.suffix}")


def _redact_text(path: Path, res: FileScan, target: Path) -> None:
    spans = sorted((loc.start, loc.end, loc.finding) for loc in res.located)
    data = path.read_bytes()
    parts: list[bytes] = []
    pos = 0
    for start, end, f in spans:
        if start < pos:
            continue
        parts.append(data[pos:start])
        parts.append(f"[{f.kind.value}:{f.preview}]".encode())
        pos = end
    parts.append(data[pos:])
    _atomic_write(target, lambda tmp: _write(tmp, b"".join(parts)))


def _set_path(doc: Any, path: str, edit: Callable[[Any], Any]) -> Any:
    parts = [(m.group(1), m.group(2)) for m in _PATH_PART.finditer(path[1:])]
    if not parts:
        return edit(doc)
    node = doc
    for key, index in parts[:-1]:
        node = node[key] if key is not None else node[int(index)]
    key, index = parts[-1]
    slot: Any = key if key is not None else int(index)
    node[slot] = edit(node[slot])
    return doc


def _replacer(f: Finding) -> Callable[[Any], Any]:
    new = f"[{f.kind.value}:{f.preview}]"

    def edit(value: Any) -> Any:
        return _splice(str(value), [(f.offset, f.offset + f.length, new)])

    return edit


def _redact_json(path: Path, res: FileScan, target: Path) -> None:
    by_row: dict[int | None, list[Finding]] = {}
    for loc in res.located:
        by_row.setdefault(loc.finding.row, []).append(loc.finding)

    def fix(doc: Any, findings: list[Finding]) -> Any:
        for f in sorted(findings, key=lambda f: -f.offset):
            doc = _set_path(doc, str(f.column), _replacer(f))
        return doc

    text = path.read_text(encoding="utf-8", errors="replace")
    if res.fmt == "jsonl":
        lines = text.split("\n")
        for row, findings in by_row.items():
            if row is not None and lines[row].strip():
                try:
                    lines[row] = json.dumps(
                        fix(json.loads(lines[row]), findings), ensure_ascii=False
                    )
                except (json.JSONDecodeError, KeyError, IndexError, TypeError):
                    lines[row] = "[line redacted]"
        out = "\n".join(lines)
    else:
        doc = json.loads(text)
        for row, findings in by_row.items():
            if row is None:
                doc = fix(doc, findings)
            else:
                doc[row] = fix(doc[row], findings)
        out = json.dumps(doc, ensure_ascii=False, indent=2)
    _atomic_write(target, lambda tmp: _write(tmp, out.encode("utf-8")))


def remediate(
    results: list[tuple[str, FileScan]],
    *,
    keys: Mapping[Kind, KeyMaterial],
    audit: AuditLog | None,
    principal: str,
) -> list[FixAction]:
    """Fix every scanned file with findings; audit each change before making it.

    CSV and Parquet files are tokenized in place (``tokenize_frame`` with the column name
    as tweak label; atomically: a temporary file, then ``os.replace``). Text, JSON and
    JSON-lines files get a redacted copy ``NAME.redacted.EXT`` with each value replaced by
    ``[kind:masked preview]``. Compressed files are not fixed.

    Raises:
        IntegrityError: the audit entry could not be written (nothing is changed).
    """
    actions: list[FixAction] = []
    for source, res in results:
        if not res.located:
            continue
        path = Path(source)
        n = len(res.located)
        compressed = path.suffix.lower() in (".gz", ".bz2", ".xz")
        if source.startswith("<") or compressed:
            reason = "compressed or in-memory input: not fixed"
            skip = FixAction(source=source, action="skipped", target="", findings=n, reason=reason)
            actions.append(skip)
            continue
        in_place = res.fmt in ("csv", "parquet")
        target = path if in_place else _redacted_path(path)
        action = "tokenized" if in_place else "redacted"
        kinds = sorted({loc.finding.kind.value for loc in res.located})
        if audit is not None:
            audit.append(
                who=principal, action=f"discovery.fix.{action}", decision="allow", rows=n,
                reason=f"{n} findings ({', '.join(kinds)}): {'in place' if in_place else 'copy'}",
                subject={"dataset": source},
            )  # fmt: skip
        if in_place:
            _fix_table(path, res, keys)
        elif res.fmt in ("json", "jsonl"):
            _redact_json(path, res, target)
        else:
            _redact_text(path, res, target)
        actions.append(FixAction(source=source, action=action, target=str(target), findings=n))
    return actions
