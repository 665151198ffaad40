"""``finveil scan PATH``: find identifiers in clear; exit 1 when something is found.

SECURITY: output (table or JSON) holds kinds, locations, confidences and masked previews
only; never a value. ``--fix`` appends an audit entry before changing any file, and signs a
manifest over the changed files (docs/compliance.md).
"""

from __future__ import annotations

import argparse
import getpass
import json
import os
import sys
import time
import uuid
from collections.abc import Mapping
from dataclasses import asdict
from datetime import UTC, datetime
from enum import Enum
from pathlib import Path
from typing import Any, TextIO

import pandas as pd

from engine.compliance import fingerprint_file, write_signed_manifest
from engine.discovery import EntityKind, ScanReport
from engine.discovery.pipeline import (
    TOKEN_KINDS,
    FileScan,
    FixAction,
    remediate,
    report_of,
    scan_located,
    settings_for,
)
from engine.errors import ConfigError, InputError
from engine.keys import AuditLog, KeyMaterial, KeyPurpose, KeyRing
from engine.tokenize import FormatOptions, Kind, tokenize_frame

__all__ = ["register"]


def register(subparsers: Any) -> None:
    """Add the ``scan`` command to ``subparsers``."""
    cmd = subparsers.add_parser(
        "scan",
        help="find PII that escaped tokenization (exit 1 when something is found)",
        description="Scan files or directory trees (CSV, TSV, Parquet, JSON, JSON lines, text; "
        ".gz/.bz2/.xz inside) for PANs, IBANs, SSNs, emails, phones, dates of birth and names.",
    )
    cmd.add_argument("paths", metavar="PATH", nargs="+", type=Path, help="file or directory")
    cmd.add_argument("--format", choices=("table", "json"), default="table", help="output format")
    cmd.add_argument(
        "--fail-on", metavar="KIND,...", default=None,
        help="exit 1 only for these kinds (default: any); kinds: "
        + ",".join(k.value for k in EntityKind),
    )  # fmt: skip
    cmd.add_argument("--kinds", metavar="KIND,...", default=None, help="only look for these kinds")
    cmd.add_argument(
        "--tokenized", metavar="COLUMN,...", default="",
        help="columns a manifest declares tokenized: format-valid kinds there are not reported",
    )  # fmt: skip
    cmd.add_argument("--min-confidence", type=float, default=0.0, metavar="X")
    cmd.add_argument("--no-follow-symlinks", action="store_true", help="do not follow symlinks")
    cmd.add_argument(
        "--fix", action="store_true",
        help="tokenize findings in CSV/Parquet in place; write NAME.redacted.EXT copies of text "
        "and JSON files; audited",
    )  # fmt: skip
    cmd.add_argument(
        "--keyring", type=Path, default=None, metavar="PATH",
        help="keyring for --fix (default: $FINVEIL_HOME/keyring.json, created on first use)",
    )  # fmt: skip
    cmd.add_argument(
        "--manifest", type=Path, default=None, metavar="DIR",
        help="where --fix writes its signed manifest over the changed files "
        "(default: PATH.finveil-scan beside a single PATH)",
    )  # fmt: skip
    cmd.add_argument("--ray", action="store_true", help="scan files in parallel on Ray")
    cmd.set_defaults(handler=_scan)


def _kinds(text: str | None, option: str) -> frozenset[EntityKind] | None:
    if text is None:
        return None
    try:
        return EntityKind.parse_list(text)
    except ValueError as exc:
        raise ConfigError(f"{option}: {exc}") from None


def _scan(args: argparse.Namespace) -> int:
    kinds = _kinds(args.kinds, "--kinds")
    fail_on = _kinds(args.fail_on, "--fail-on") or frozenset(EntityKind)
    for path in args.paths:
        if not path.exists() and not path.is_symlink():
            raise InputError(f"{path}: no such file or directory")
    manifest_dir = _manifest_dir(args) if args.fix else None
    started, t0 = datetime.now(UTC).isoformat(timespec="seconds"), time.perf_counter()
    try:
        settings = settings_for(
            kinds=kinds, min_confidence=args.min_confidence,
            tokenized_columns=[c.strip() for c in args.tokenized.split(",") if c.strip()],
        )  # fmt: skip
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    results: list[tuple[str, FileScan]] = []
    for path in args.paths:
        if args.ray:
            from engine.jobs._scan_ray import scan_tree_ray  # Ray only under engine/jobs.

            results.extend(
                scan_tree_ray(path, settings, follow_symlinks=not args.no_follow_symlinks)
            )
        else:
            results.extend(
                scan_located(path, settings, follow_symlinks=not args.no_follow_symlinks)
            )
    report = report_of(results)
    actions: list[FixAction] = []
    manifest: Path | None = None
    if manifest_dir is not None:
        job = {"kind": "scan-fix", "name": "scan-fix", "id": str(uuid.uuid4()),
               "started_at": started, "spec": _spec(args)}  # fmt: skip
        timings = {"scan": round(time.perf_counter() - t0, 6)}
        actions, manifest = _fix(results, args.keyring, job=job, out=manifest_dir, timings=timings)
    _print(report, actions, args.format, sys.stdout, manifest=manifest)
    return 1 if report.of_kinds(fail_on) else 0


def _manifest_dir(args: argparse.Namespace) -> Path:
    """Return the manifest directory of ``--fix``; checked before any file is scanned."""
    if args.manifest is not None:
        return Path(args.manifest)
    if len(args.paths) != 1:
        raise ConfigError("--fix with several PATHs needs --manifest DIR")
    path = Path(os.path.abspath(args.paths[0]))
    if not path.name:
        raise ConfigError("--fix on a filesystem root needs --manifest DIR")
    return path.with_name(f"{path.name}.finveil-scan")


def _spec(args: argparse.Namespace) -> dict[str, Any]:
    return {"paths": [str(p) for p in args.paths], "kinds": args.kinds, "fail_on": args.fail_on,
            "tokenized": args.tokenized, "min_confidence": args.min_confidence,
            "follow_symlinks": not args.no_follow_symlinks, "ray": args.ray}  # fmt: skip


def _principal() -> str:
    try:
        return getpass.getuser()
    except (OSError, KeyError):
        return "unknown"


def _fix(
    results: list[tuple[str, FileScan]],
    keyring: Path | None,
    *,
    job: dict[str, Any],
    out: Path,
    timings: dict[str, float],
) -> tuple[list[FixAction], Path | None]:
    """Fix the findings, then sign a manifest over the changed files (None: none changed)."""
    ring, _ = KeyRing.open_default(keyring)
    keys = {
        kind: ring.ensure(f"tokenize.{kind.value}", KeyPurpose.TOKENIZE)
        for kind in set(TOKEN_KINDS.values())
    }
    principal = _principal()
    audit = ring.audit_log or ring.attach_audit(
        ring.path.with_name("audit.jsonl"), principal=principal
    )
    # Fail-closed: a fix that cannot be audited does not start.
    first = audit.append(who=principal, action="job.start", decision="allow",
                         subject={"job": job["id"]})  # fmt: skip
    fingerprint_key = ring.ensure("manifest.fingerprint", KeyPurpose.MANIFEST)
    # SECURITY: inputs are fingerprinted (keyed) before the fix overwrites them in place.
    inputs = [_input(source, fingerprint_key) for source, res in results if res.located]
    t0 = time.perf_counter()
    actions = remediate(results, keys=keys, audit=audit, principal=principal)
    timings["fix"] = round(time.perf_counter() - t0, 6)
    changed = [a for a in actions if a.action != "skipped"]
    if not changed:
        return actions, None
    predicate = {
        "job": {**job, "finished_at": datetime.now(UTC).isoformat(timespec="seconds")},
        "inputs": inputs,
        "protection": _protection(results, actions, keys),
        "rows": _rows(actions),
        "quarantine_reasons": _skip_reasons(actions),
        "fixes": [a.to_dict() for a in actions],
        "timings_s": timings,
    }
    _sign(out, predicate, ring=ring, audit=audit, first_seq=first.seq, principal=principal,
          subjects=[Path(a.target) for a in changed])  # fmt: skip
    return actions, out / "manifest.json"


def _sign(
    out: Path, predicate: dict[str, Any], *, ring: KeyRing, audit: AuditLog, first_seq: int,
    principal: str, subjects: list[Path],
) -> None:  # fmt: skip
    key = ring.ensure("manifest", KeyPurpose.MANIFEST)
    write_signed_manifest(out, predicate, key=key, audit=audit, audit_first_seq=first_seq,
                          principal=principal, subjects=subjects)  # fmt: skip


def _input(source: str, key: KeyMaterial) -> dict[str, Any]:
    if source.startswith("<"):
        return {"name": source, "in_memory": True}
    return {"name": source, "fingerprint": fingerprint_file(Path(source), key)}


def _rows(actions: list[FixAction]) -> dict[str, Any]:
    # Files are the unit here: each file with findings is fixed (out) or left (quarantined).
    n_out = sum(a.action != "skipped" for a in actions)
    n_skip = sum(a.action == "skipped" for a in actions)
    return {"in": len(actions), "out": n_out, "quarantined": n_skip,
            "reconciled": len(actions) == n_out + n_skip}  # fmt: skip


def _skip_reasons(actions: list[FixAction]) -> dict[str, int]:
    reasons: dict[str, int] = {}
    for a in actions:
        if a.action == "skipped":
            reasons[a.reason] = reasons.get(a.reason, 0) + 1
    return reasons


def _protection(
    results: list[tuple[str, FileScan]], actions: list[FixAction], keys: Mapping[Kind, KeyMaterial]
) -> dict[str, Any]:
    """Describe each changed column (tokenized) or file (redacted): method, key id, version."""
    done = {a.source: a for a in actions if a.action != "skipped"}
    protection: dict[str, Any] = {}
    for source, res in results:
        action = done.get(source)
        if action is None:
            continue
        kinds = sorted({loc.finding.kind.value for loc in res.located})
        if action.action == "redacted":
            protection[action.target] = {"kind": ",".join(kinds), "method": "redaction",
                                         "key_id": None, "key_version": None}  # fmt: skip
            continue
        for column, kind in sorted({(str(loc.finding.column), loc.finding.kind)
                                    for loc in res.located}):  # fmt: skip
            protection[f"{action.target}:{column}"] = _column_protection(column, kind, keys)
    return protection


def _column_protection(
    column: str, kind: EntityKind, keys: Mapping[Kind, KeyMaterial]
) -> dict[str, Any]:
    # Stated from an empty frame with the options remediation uses: no value is involved.
    token_kind = TOKEN_KINDS[kind]
    empty = pd.DataFrame({"v": pd.Series([], dtype=object)})
    described = tokenize_frame(empty, {"v": token_kind}, keys,
                               options=FormatOptions(tweak_label=column))  # fmt: skip
    record = asdict(described.protection["v"])
    return {k: v.value if isinstance(v, Enum) else v for k, v in record.items()}


def _print(
    report: ScanReport, actions: list[FixAction], fmt: str, out: TextIO, *, manifest: Path | None
) -> None:
    if fmt == "json":
        doc = report.to_dict()
        if actions:
            doc["fixes"] = [a.to_dict() for a in actions]
            doc["manifest"] = None if manifest is None else str(manifest)
        json.dump(doc, out, indent=2)
        out.write("\n")
        return
    rows = [("KIND", "CONF", "PREVIEW", "LOCATION")]
    rows += [(f.kind.value, f"{f.confidence:.2f}", f.preview, f.location) for f in report.findings]
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    for r in rows:
        out.write("  ".join(r[i].ljust(widths[i]) for i in range(3)) + "  " + r[3] + "\n")
    for s in report.skipped:
        out.write(f"skipped  {s.source}: {s.reason}\n")
    for s in report.notes:
        out.write(f"note     {s.source}: {s.reason}\n")
    for a in actions:
        out.write(f"fix      {a.source}: {a.action} {a.findings} findings -> {a.target or '-'}"
                  f"{' (' + a.reason + ')' if a.reason else ''}\n")  # fmt: skip
    if actions:
        signed = f"signed manifest {manifest}" if manifest else "none (no file was changed)"
        out.write(f"manifest {signed}\n")
    by_kind = ", ".join(f"{k}={v}" for k, v in report.counts.items()) or "none"
    out.write(
        f"{len(report.findings)} findings ({by_kind}) in {report.files_scanned} files, "
        f"{len(report.skipped)} skipped, {report.suppressed} suppressed as tokenized\n"
    )
