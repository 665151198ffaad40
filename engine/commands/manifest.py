"""``finveil manifest verify|report|pubkey``: check and explain signed job manifests.

SECURITY: manifests hold no data values; these commands print digests, key ids, versions,
counts and paths, never key material (``pubkey`` prints only the public key).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from engine.compliance import verify_manifest
from engine.compliance.report import (
    ManifestReport,
    lineage_edges,
    openlineage_event,
    public_key_pem,
    render_html,
    render_text,
    scan_jobs,
)
from engine.errors import ConfigError, IntegrityError
from engine.keys import KeyMaterial
from engine.keys._local import default_keyring_path, open_local

__all__ = ["register"]

_LINEAGE_FILE = "manifest.openlineage.json"


def register(subparsers: Any) -> None:
    """Add the ``manifest`` command group to ``subparsers``."""
    keyring = argparse.ArgumentParser(add_help=False)
    keyring.add_argument(
        "--keyring",
        type=Path,
        default=None,
        metavar="PATH",
        help="keyring file (default: $FINVEIL_HOME/keyring.json)",
    )
    keyring.add_argument(
        "--root-key-file",
        type=Path,
        default=None,
        metavar="PATH",
        help="32-byte root key file (default: keyring.root beside the keyring)",
    )
    checks = argparse.ArgumentParser(add_help=False, parents=[keyring])
    checks.add_argument(
        "--public-key",
        type=Path,
        default=None,
        metavar="FILE",
        help="pin the signer's Ed25519 public key (PEM); without it the "
        "manifest.pub beside the manifest is used and reported as unpinned",
    )
    checks.add_argument(
        "--audit",
        type=Path,
        default=None,
        metavar="LOG",
        help="also verify the audit range in LOG (needs the keyring)",
    )

    manifest = subparsers.add_parser("manifest", help="verify and report signed job manifests")
    actions = manifest.add_subparsers(dest="manifest_action", metavar="ACTION", required=True)
    verify = actions.add_parser(
        "verify", parents=[checks], help="check signature, every output's hash, audit range"
    )
    verify.add_argument("path", type=Path, metavar="PATH", help="manifest.json or job directory")
    verify.set_defaults(handler=_verify)
    report = actions.add_parser(
        "report", parents=[checks], help="auditor's report, lineage and an OpenLineage event"
    )
    report.add_argument(
        "path",
        type=Path,
        metavar="PATH",
        help="manifest.json, a job directory, or a directory of job directories",
    )
    report.add_argument("--html", type=Path, default=None, metavar="OUT", help="write HTML here")
    report.add_argument(
        "--lineage-root",
        type=Path,
        default=None,
        metavar="DIR",
        help="scan DIR, 3 levels deep, for the lineage view (default: the job's parent)",
    )
    report.add_argument("--namespace", default="finveil", help="OpenLineage job namespace")
    report.set_defaults(handler=_report)
    pubkey = actions.add_parser(
        "pubkey", parents=[keyring], help="print the manifest signing key's public key (PEM)"
    )
    pubkey.add_argument("--key-id", default="manifest", help="keyring id of the signing key")
    pubkey.set_defaults(handler=_pubkey)  # fmt: skip


def _public_key(args: argparse.Namespace) -> bytes | None:
    if args.public_key is None:
        return None
    try:
        return Path(args.public_key).read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read --public-key {args.public_key}: {exc.strerror}") from exc


def _audit_key(args: argparse.Namespace) -> Callable[[int], KeyMaterial] | None:
    if args.audit is None:
        return None
    path = Path(args.keyring) if args.keyring is not None else default_keyring_path()
    ring, _ = open_local(path, create=False, root_key_file=args.root_key_file, audit=False)
    return lambda version: ring.get("audit", version)


def _verified(path: Path, args: argparse.Namespace) -> ManifestReport:
    key = _audit_key(args)
    return verify_manifest(
        path,
        public_key=_public_key(args),
        audit_path=args.audit if key is not None else None,
        audit_key=key,
    )


def _warn_unpinned(report: ManifestReport) -> None:
    if not report.is_key_pinned:
        print(
            f"finveil: warning: {report.path}: signature checked against the manifest.pub "
            "beside it; pin the signer with --public-key to know who signed",
            file=sys.stderr,
        )


def _verify(args: argparse.Namespace) -> int:
    report = _verified(args.path, args)
    _warn_unpinned(report)
    rows = report.predicate["rows"]
    audit = (
        f"; audit entries {report.predicate['audit']['first_seq']}..{report.audit_head.seq} "
        "verified"
        if report.audit_head is not None
        else ""
    )
    print(
        f"manifest {report.path}: OK: signature by keyid {report.keyid[:16]}, "
        f"{len(report.subjects)} outputs match, rows {rows['in']} = {rows['out']} out + "
        f"{rows['quarantined']} quarantined{audit}"
    )
    return 0


def _write_event(report: ManifestReport, namespace: str) -> Path:
    target = report.path.with_name(_LINEAGE_FILE)
    event = openlineage_event(report, namespace=namespace)
    target.write_text(json.dumps(event, indent=2, sort_keys=True) + "\n")
    return target


def _report(args: argparse.Namespace) -> int:
    path = Path(args.path)
    is_job = path.is_file() or (path / "manifest.json").is_file()
    focus = [_verified(path, args)] if is_job else []
    root = args.lineage_root or (focus[0].path.parent.parent if focus else path)
    scan = scan_jobs(root, public_key=_public_key(args))
    if not is_job and not scan.jobs and not scan.failures:
        raise ConfigError(f"no manifest.json under {path}")
    focus_paths = {r.path.resolve() for r in focus}
    others = [j for j in scan.jobs if j.path.resolve() not in focus_paths]
    jobs = focus or list(scan.jobs)
    everyone = [*focus, *others]
    edges = lineage_edges(everyone)
    for job in jobs:
        _warn_unpinned(job)
        print(f"openlineage event: {_write_event(job, args.namespace)}", file=sys.stderr)
    print(render_text(jobs, lineage=everyone, edges=edges, failures=scan.failures), end="")
    if args.html is not None:
        page = render_html(jobs, lineage=everyone, edges=edges, failures=scan.failures)
        Path(args.html).write_text(page)
        print(f"html report: {args.html}", file=sys.stderr)
    if scan.failures:
        raise IntegrityError(f"{len(scan.failures)} manifest(s) under {root} failed verification")
    return 0


def _pubkey(args: argparse.Namespace) -> int:
    path = Path(args.keyring) if args.keyring is not None else default_keyring_path()
    ring, _ = open_local(path, create=False, root_key_file=args.root_key_file)
    sys.stdout.write(public_key_pem(ring.primary(args.key_id)).decode("ascii"))
    return 0
