"""``finveil detokenize``: turn one tokenized column of a file back into values, if allowed.

Every request passes the :class:`~engine.keys.PolicyGate` (deny by default, audited before
anything happens) with the anomaly detector fitted on the audit log so far. Only then is
the key version released (audited) and the column detokenized; the output file is written
atomically with mode 0600.

SECURITY: the principal and approver are taken from the command line as stated; the OS
user and host are audited (as a keyed hash) as the request's source. Deployments that need
authenticated identities use the sidecar with signed requests instead.
"""

from __future__ import annotations

import argparse
import contextlib
import getpass
import hashlib
import os
import socket
import tempfile
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa

from engine.errors import ConfigError, InputError, KeyManagementError
from engine.keys import AccessPolicy, DetokenizeRequest, KeyRing, KeyState, PolicyGate
from engine.keys._local import default_keyring_path, open_local
from engine.keys.anomaly import AnomalyDetector
from engine.tokenize import FormatOptions, Kind, Scheme, detokenize_frame

__all__ = ["register"]

_PARQUET = (".parquet", ".pq")
_CSV = (".csv", ".csv.gz")


def register(subparsers: Any) -> None:
    """Add the ``detokenize`` subcommand."""
    p = subparsers.add_parser(
        "detokenize",
        help="detokenize one column of a CSV/Parquet file (policy-gated, audited)",
        description="Detokenize one column of a CSV or Parquet file. The request is decided "
        "by the access policy and the anomaly detector and audited before any key is used.",
    )
    p.add_argument("file", type=Path, metavar="FILE", help="tokenized .csv or .parquet file")
    p.add_argument("--column", required=True, help="the tokenized column")
    p.add_argument("--kind", required=True, choices=[k.value for k in Kind], help="token kind")
    p.add_argument("--principal", required=True, help="who asks (recorded in the audit log)")
    p.add_argument("--purpose", required=True, help="purpose of use, as the policy names it")
    p.add_argument("--justification", required=True, help="ticket or case (audited as a hash)")
    p.add_argument("--out", type=Path, required=True, help="output .csv or .parquet (mode 0600)")
    p.add_argument("--policy", type=Path, help="policy TOML (default: policy.toml by the keyring)")
    p.add_argument("--approver", help="a second principal approving this exact request")
    p.add_argument("--key-version", type=int, help="key version of the tokens (default: primary)")
    p.add_argument("--tweak-label", help="tweak label used at tokenization (default: column)")
    p.add_argument("--scheme", choices=[s.value for s in Scheme], default=Scheme.FF1.value)
    p.add_argument("--allow-missing", action="store_true", help="pass empty cells through")
    p.add_argument("--keyring", type=Path, help="keyring file (default: ~/.finveil/keyring.json)")
    p.add_argument("--root-key-file", type=Path, help="root key file (default: beside keyring)")
    p.set_defaults(handler=_detokenize)


def _detokenize(args: argparse.Namespace) -> int:
    if args.out.exists():
        raise ConfigError(f"output {args.out} exists; refusing to overwrite")
    _format_of(args.out)
    frame, digest = _read(args.file, args.column)
    keyring_path = Path(args.keyring) if args.keyring else default_keyring_path()
    ring, _ = open_local(keyring_path, create=False, root_key_file=args.root_key_file)
    audit = ring.audit_log
    if audit is None:  # pragma: no cover - open_local always attaches one
        raise KeyManagementError("the keyring has no audit log; refusing to detokenize")
    key_id = f"tokenize.{args.kind}"
    version = args.key_version or _primary_version(ring, key_id)
    request = DetokenizeRequest(
        principal=args.principal, kind=args.kind, rows=len(frame),
        purpose=args.purpose, justification=args.justification,
        dataset_id=f"sha256:{digest}", key_version=version, source=_source(),
    )  # fmt: skip
    _refuse_retired(ring, key_id, version)
    policy = _policy(args.policy or keyring_path.with_name("policy.toml"))
    detector = AnomalyDetector().fit(audit.read_entries())
    gate = PolicyGate(policy, audit, anomaly=detector)
    if args.approver:
        gate.approve(request, approver=args.approver)
    gate.authorize(request)  # Raises PolicyDenied; the decision is audited either way.
    key = ring.get(key_id, version)  # Audited key release.
    options = FormatOptions(
        scheme=Scheme(args.scheme), tweak_label=args.tweak_label or None,
        allow_missing=args.allow_missing,
    )  # fmt: skip
    plain = detokenize_frame(frame, {args.column: args.kind}, {Kind(args.kind): key},
                             options=options)  # fmt: skip
    _write_private(plain, args.out)
    print(
        f"detokenized {len(plain)} rows of column {args.column!r} (kind {args.kind}, "
        f"{key_id} version {version}) to {args.out}"
    )
    return 0


def _format_of(path: Path) -> str:
    name = path.name.lower()
    if name.endswith(_PARQUET):
        return "parquet"
    if name.endswith(_CSV):
        return "csv"
    raise ConfigError(f"{path}: unsupported format (use .csv or .parquet)")


def _read(path: Path, column: str) -> tuple[pd.DataFrame, str]:
    if not path.is_file():
        raise InputError(f"input file not found: {path}")
    fmt = _format_of(path)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    try:
        if fmt == "parquet":
            frame = pd.read_parquet(path)
        else:
            frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, OSError,
            pa.ArrowException) as exc:  # fmt: skip
        # SECURITY: parser messages can quote the offending line; report only its type.
        raise InputError(f"input file {path} cannot be parsed ({type(exc).__name__})") from None
    if column not in frame.columns:
        raise InputError(f"input file {path} has no column {column!r}")
    if len(frame) == 0:
        raise InputError(f"input file {path} has no rows")
    return frame, digest


def _primary_version(ring: KeyRing, key_id: str) -> int:
    info = ring.info(key_id)
    return next(v.version for v in info.versions if v.state is KeyState.PRIMARY)


def _refuse_retired(ring: KeyRing, key_id: str, version: int) -> None:
    states = {v.version: v.state for v in ring.info(key_id).versions}
    if states.get(version, KeyState.RETIRED) is KeyState.RETIRED:
        ring.get(key_id, version)  # Raises, and audits the refusal.


def _policy(path: Path) -> AccessPolicy:
    if not path.exists():
        # SECURITY: deny by default: with no policy file, no principal may detokenize.
        return AccessPolicy(roles=[], principals=[])
    return AccessPolicy.load(path)


def _source() -> str:
    try:
        user = getpass.getuser()
    except (OSError, KeyError):
        user = "unknown"
    host = socket.gethostname() or "localhost"
    return "cli:" + "".join(c if c.isalnum() or c in "._@-" else "_" for c in f"{user}@{host}")


def _write_private(frame: pd.DataFrame, out: Path) -> None:
    # SECURITY: the output holds raw values: created 0600 from the start, never readable by
    # others even for a moment, and moved into place only when complete.
    fd, tmp_name = tempfile.mkstemp(dir=out.parent, prefix=f".{out.name}.", suffix=".tmp")
    tmp = Path(tmp_name)
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "wb") as handle:
            if _format_of(out) == "parquet":
                frame.to_parquet(handle, index=False)
            else:
                gzip = out.name.lower().endswith(".gz")
                frame.to_csv(handle, index=False, compression="gzip" if gzip else None)
            handle.flush()
            os.fsync(handle.fileno())
        if out.exists():
            raise ConfigError(f"output {out} appeared meanwhile; refusing to overwrite")
        os.replace(tmp, out)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
