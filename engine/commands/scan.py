"""``finveil scan PATH``: find identifiers in clear; exit 1 when something is found.

SECURITY: output (table or JSON) holds kinds, locations, confidences and masked previews
only; never a value. ``--fix`` appends an audit entry before changing any file.
"""

from __future__ import annotations

import argparse
import getpass
import json
import sys
from pathlib import Path
from typing import Any, TextIO

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
from engine.keys import KeyPurpose, KeyRing

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
    actions = _fix(results, args.keyring) if args.fix else []
    _print(report, actions, args.format, sys.stdout)
    return 1 if report.of_kinds(fail_on) else 0


def _principal() -> str:
    try:
        return getpass.getuser()
    except (OSError, KeyError):
        return "unknown"


def _fix(results: list[tuple[str, FileScan]], keyring: Path | None) -> list[FixAction]:
    ring, _ = KeyRing.open_default(keyring)
    keys = {
        kind: ring.ensure(f"tokenize.{kind.value}", KeyPurpose.TOKENIZE)
        for kind in set(TOKEN_KINDS.values())
    }
    return remediate(results, keys=keys, audit=ring.audit_log, principal=_principal())


def _print(report: ScanReport, actions: list[FixAction], fmt: str, out: TextIO) -> None:
    if fmt == "json":
        doc = report.to_dict()
        if actions:
            doc["fixes"] = [a.to_dict() for a in actions]
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
    by_kind = ", ".join(f"{k}={v}" for k, v in report.counts.items()) or "none"
    out.write(
        f"{len(report.findings)} findings ({by_kind}) in {report.files_scanned} files, "
        f"{len(report.skipped)} skipped, {report.suppressed} suppressed as tokenized\n"
    )
