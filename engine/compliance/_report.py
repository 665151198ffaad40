"""The auditor's report of verified manifests, as text or as a standalone HTML page."""

from __future__ import annotations

import html
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.compliance._lineage import LineageEdge
from engine.compliance._verify import ManifestReport

__all__ = ["render_html", "render_text"]


@dataclass(frozen=True, slots=True, kw_only=True)
class _Section:
    title: str
    headers: tuple[str, ...]
    rows: Sequence[tuple[str, ...]]


def _cell(value: object) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, Mapping | list):
        return json.dumps(value, sort_keys=True, default=str)
    return str(value)


def _pairs(title: str, mapping: Mapping[str, Any] | None) -> _Section:
    rows = [(str(k), _cell(v)) for k, v in sorted((mapping or {}).items())]
    return _Section(title=title, headers=("field", "value"), rows=rows)


def _records(title: str, records: Sequence[Mapping[str, Any]], first: str) -> _Section:
    keys = sorted({k for r in records for k in r} - {first})
    headers = (first, *keys)
    rows = [tuple(_cell(r.get(k)) for k in headers) for r in records]
    return _Section(title=title, headers=headers, rows=rows)


def _overview(report: ManifestReport) -> _Section:
    p = report.predicate
    job, signer = p["job"], p.get("signer", {})
    audit = "verified against the log" if report.audit_head is not None else "not checked"
    return _pairs("Job", {
        "name": job["name"], "id": job["id"], "kind": job.get("kind", "run"),
        "started_at": job["started_at"], "finished_at": job.get("finished_at"),
        "signature": "valid",
        "signer key": f"{signer.get('key_id')} v{signer.get('key_version')} "
                      f"(keyid {report.keyid[:16]})",
        "signer key pinned": report.is_key_pinned,
        "audit range": audit, "manifest sha256": report.manifest_sha256,
    })  # fmt: skip


def _input_row(item: Mapping[str, Any]) -> dict[str, Any]:
    row: dict[str, Any] = {"name": item.get("name")}
    row.update({f"fingerprint.{k}": v for k, v in (item.get("fingerprint") or {}).items()})
    for extra in ("sha256", "in_memory", "is_finveil_output"):
        if extra in item:
            row[extra] = item[extra]
    return row


def _sections(report: ManifestReport) -> list[_Section]:
    p = report.predicate
    protection = [{"column": c, **dict(v)} for c, v in sorted(p.get("protection", {}).items())]
    inputs = [_input_row(i) for i in p.get("inputs", [])]
    model = dict(p.get("model") or {})
    ckks = p.get("ckks") or model.pop("ckks", None)
    sections = [
        _overview(report),
        _pairs("Code", p.get("code")),
        _pairs("Job spec", p["job"].get("spec")),
        _records("Inputs (keyed fingerprints, never values)", inputs, "name"),
        _records("Protection per column", protection, "column"),
        _pairs("CKKS parameters", ckks),
        _pairs("Model", model),
        _pairs("Row counts", {**p["rows"], **{f"quarantine: {k}": v for k, v in
                                            (p.get("quarantine_reasons") or {}).items()}}),
        _records("Enclaves", list(p.get("enclaves") or []), "app"),
        _pairs("SMPC", p.get("smpc")),
    ]  # fmt: skip
    audit = p.get("audit")
    if isinstance(audit, Mapping):
        summary = audit.get("summary", {})
        sections += [
            _pairs("Audit range", {
                "log": audit.get("log"),
                "entries": f"{audit.get('first_seq')}..{audit.get('last_seq')}",
                "head digest": audit.get("head", {}).get("digest"),
                "principals": ", ".join(summary.get("principals", [])),
                "decisions": summary.get("decisions"),
            }),
            _records("Key access in the audit range", summary.get("key_use", []), "key_id"),
            _records("Anomalies and refusals in the audit range",
                     summary.get("anomalies", []), "seq"),
        ]  # fmt: skip
    outputs = [{"file": n, "sha256": d} for n, d in sorted(report.subjects.items())]
    sections += [
        _records("Outputs (signed subjects)", outputs, "file"),
        _pairs("Timings (s)", p.get("timings_s")),
    ]
    return [s for s in sections if s.rows]


def _lineage_sections(
    jobs: Sequence[ManifestReport], edges: Sequence[LineageEdge]
) -> list[_Section]:
    names = {str(j.predicate["job"]["id"]): str(j.predicate["job"]["name"]) for j in jobs}
    datasets = [
        (n, d[:16], names[str(j.predicate["job"]["id"])], str(j.subject_dir))
        for j in jobs
        for n, d in sorted(j.subjects.items())
    ]
    links = [
        (f"{names.get(e.producer, '?')} ({e.producer[:8]})",
         f"{names.get(e.consumer, '?')} ({e.consumer[:8]})", e.dataset,
         "read its output (sha256)" if e.via == "sha256" else "same input (fingerprint)")
        for e in edges
    ]  # fmt: skip
    return [
        _Section(title="Lineage: datasets by producing job",
                 headers=("dataset", "sha256", "job", "directory"), rows=datasets),
        _Section(title="Lineage: links between jobs",
                 headers=("from job", "to job", "dataset", "relation"), rows=links),
    ]  # fmt: skip


def _text_table(section: _Section) -> list[str]:
    rows = [section.headers, *section.rows]
    widths = [max(len(r[i]) for r in rows) for i in range(len(section.headers))]
    lines = [f"== {section.title}"]
    for row in rows:
        lines.append("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())
    return [*lines, ""]


def render_text(
    jobs: Sequence[ManifestReport],
    *,
    lineage: Sequence[ManifestReport] | None = None,
    edges: Sequence[LineageEdge] = (),
    failures: Sequence[tuple[Path, str]] = (),
) -> str:
    """Return the auditor's report of ``jobs`` as plain text.

    Args:
        jobs: Verified manifests to report in detail.
        lineage: Verified manifests for the lineage view (default: ``jobs``).
        edges: Links between them (:func:`lineage_edges`).
        failures: Manifests that failed verification, with the reason.
    """
    lines: list[str] = []
    for job in jobs:
        for section in _sections(job):
            lines += _text_table(section)
    everyone = jobs if lineage is None else lineage
    if len(everyone) > 1 or edges:
        for section in _lineage_sections(everyone, edges):
            lines += _text_table(section)
    for path, reason in failures:
        lines.append(f"FAILED {path}: {reason}")
    return "\n".join(lines).rstrip() + "\n"


def _html_table(section: _Section) -> str:
    esc = html.escape
    head = "".join(f"<th>{esc(h)}</th>" for h in section.headers)
    body = "".join(
        "<tr>" + "".join(f"<td>{esc(c)}</td>" for c in row) + "</tr>" for row in section.rows
    )
    return f"<h3>{esc(section.title)}</h3>\n<table><tr>{head}</tr>{body}</table>\n"


_STYLE = (
    "body{font-family:sans-serif;margin:2em;max-width:80em}table{border-collapse:collapse;"
    "margin-bottom:1em}td,th{border:1px solid #ccc;padding:.2em .5em;text-align:left;"
    "font-size:90%;word-break:break-all}th{background:#eee}.fail{color:#a00}"
)


def render_html(
    jobs: Sequence[ManifestReport],
    *,
    lineage: Sequence[ManifestReport] | None = None,
    edges: Sequence[LineageEdge] = (),
    failures: Sequence[tuple[Path, str]] = (),
) -> str:
    """Return the auditor's report as a standalone HTML page; arguments as :func:`render_text`.

    Every string from a manifest is HTML-escaped; manifests hold no data values.
    """
    esc = html.escape
    parts = [
        "<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>",
        f"<title>FinVeil compliance report</title><style>{_STYLE}</style></head><body>",
        "<h1>FinVeil compliance report</h1>",
        "<p>Every manifest below passed signature and output-hash verification. "
        "The manifests hold no data values.</p>",
    ]
    for job in jobs:
        parts.append(f"<h2>Job {esc(str(job.predicate['job']['name']))}</h2>")
        parts += [_html_table(s) for s in _sections(job)]
    everyone = jobs if lineage is None else lineage
    if len(everyone) > 1 or edges:
        parts.append("<h2>Lineage</h2>")
        parts += [_html_table(s) for s in _lineage_sections(everyone, edges) if s.rows]
    for path, reason in failures:
        parts.append(f"<p class='fail'>FAILED {esc(str(path))}: {esc(reason)}</p>")
    parts.append("</body></html>\n")
    return "\n".join(parts)
