"""``finveil smpc``: make a party identity, join a session, or host its dealer."""

from __future__ import annotations

import argparse
import getpass
import json
import os
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from enclaves.platform import SimulatedPlatform
from enclaves.runtime import SimulatedEnclave
from engine.compliance import fingerprint_file, write_signed_manifest
from engine.errors import ConfigError, InputError
from engine.keys import KeyPurpose, KeyRing
from engine.smpc import SessionSpec, generate_identity, join_session, parse_spec, serve_dealer
from engine.smpc.hazmat import DealerMode, client_id


def register(subparsers: Any) -> None:
    """Add the ``smpc`` command group."""
    parser = subparsers.add_parser("smpc", help="secure multi-party computation with partner banks")
    commands = parser.add_subparsers(dest="smpc_command", metavar="SUBCOMMAND", required=True)

    keygen = commands.add_parser(
        "keygen", help="create a party's TLS identity, print its fingerprint"
    )
    keygen.add_argument("--party", required=True, help="party name as the session spec lists it")
    keygen.add_argument(
        "--out", type=Path, required=True, help="directory for NAME.crt and NAME.key"
    )
    keygen.add_argument("--force", action="store_true", help="overwrite an existing identity")
    keygen.set_defaults(handler=_keygen)

    join = commands.add_parser("join", help="take part in a session and write the revealed result")
    join.add_argument("--session", type=Path, required=True, help="session spec (TOML)")
    join.add_argument("--party", required=True, help="our party name")
    join.add_argument("--input", type=Path, required=True, help="our input (CSV or Parquet)")
    join.add_argument("--result", type=Path, required=True, help="where to write the result JSON")
    join.add_argument(
        "--manifest",
        type=Path,
        default=None,
        metavar="DIR",
        help="where to write the signed manifest over the result (default: RESULT.finveil-smpc)",
    )
    join.add_argument(
        "--keyring",
        type=Path,
        default=None,
        metavar="PATH",
        help="keyring for the manifest (default: $FINVEIL_HOME/keyring.json, created on first use)",
    )
    _add_keys(join)
    join.set_defaults(handler=_join)

    dealer = commands.add_parser(
        "dealer",
        help="host the session's dealer: relay to the attested dealer enclave (mode = enclave) "
        "or deal in this process (mode = process)",
    )
    dealer.add_argument("--session", type=Path, required=True, help="session spec (TOML)")
    dealer.add_argument("--name", default=None, help="dealer name (default: the spec's)")
    dealer.add_argument(
        "--enclave",
        type=Path,
        default=None,
        help="the signed dealer enclave app directory (required with mode = enclave)",
    )
    dealer.add_argument(
        "--platform",
        type=Path,
        default=None,
        help="simulated platform directory (required with mode = enclave)",
    )
    dealer.add_argument(
        "--debug", action="store_true", help="load the enclave in debug mode (parties refuse it)"
    )
    _add_keys(dealer)
    dealer.set_defaults(handler=_dealer)

    cid = commands.add_parser(
        "client-id",
        help="print a party's client id, for the dealer enclave app's [config] clients",
    )
    cid.add_argument("--party", required=True, help="party name")
    cid.add_argument("--keys", type=Path, required=True, help="directory holding NAME.crt")
    cid.set_defaults(handler=_client_id)


def _add_keys(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--keys",
        type=Path,
        default=None,
        help="directory holding NAME.crt and NAME.key (default: the session file's directory)",
    )


def _identity_paths(args: argparse.Namespace, name: str) -> tuple[Path, Path]:
    keys: Path = args.keys if args.keys is not None else args.session.parent
    cert, key = keys / f"{name}.crt", keys / f"{name}.key"
    for path in (cert, key):
        if not path.is_file():
            raise ConfigError(f"no identity file {path}; run 'finveil smpc keygen --party {name}'")
    return cert, key


def _keygen(args: argparse.Namespace) -> int:
    out: Path = args.out
    cert, key = out / f"{args.party}.crt", out / f"{args.party}.key"
    if not args.force and (cert.exists() or key.exists()):
        raise ConfigError(f"identity for {args.party!r} already exists in {out} (use --force)")
    identity = generate_identity(args.party)
    out.mkdir(parents=True, exist_ok=True)
    fd = os.open(key, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(identity.key_pem)
    cert.write_bytes(identity.cert_pem)
    print(identity.fingerprint)
    return 0


def _read_spec(path: Path) -> Any:
    try:
        return parse_spec(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"cannot read session spec {path}: {exc.strerror}") from None


def _read_input(path: Path) -> dict[str, np.ndarray]:
    """Read a CSV (every cell as text, parsed later by the computation) or Parquet file."""
    try:
        if path.suffix.lower() in (".parquet", ".pq"):
            frame = pd.read_parquet(path)
        else:
            frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (OSError, ValueError) as exc:
        raise InputError(f"cannot read input {path}: {type(exc).__name__}") from None
    return {
        str(name): frame[name].to_numpy(dtype=object if frame[name].dtype.kind in "OSUT" else None)
        for name in frame.columns
    }


def _join(args: argparse.Namespace) -> int:
    spec = _read_spec(args.session)
    spec.index(args.party)
    cert, key = _identity_paths(args, args.party)
    inputs = _read_input(args.input)
    ring, _ = KeyRing.open_default(args.keyring)
    principal = _principal()
    audit = ring.audit_log or ring.attach_audit(
        ring.path.with_name("audit.jsonl"), principal=principal
    )
    job = {"kind": "smpc-session", "name": f"smpc {spec.session_id}", "id": str(uuid.uuid4()),
           "started_at": datetime.now(UTC).isoformat(timespec="seconds")}  # fmt: skip
    # Fail-closed: a session that cannot be audited is not joined.
    first = audit.append(who=principal, action="job.start", decision="allow",
                         subject={"job": job["id"]})  # fmt: skip
    # SECURITY: a keyed hash of our input, so the manifest cannot confirm a guessed input.
    fingerprint = fingerprint_file(
        args.input, ring.ensure("manifest.fingerprint", KeyPurpose.MANIFEST)
    )
    stats: dict[str, float] = {}
    t0 = time.perf_counter()
    result = join_session(spec, party=args.party, inputs=inputs, cert=cert, key=key, stats=stats)
    stats["session_s"] = time.perf_counter() - t0
    payload = {"session": spec.session_id, "computation": spec.computation.value,
               "party": args.party, "revealed": bool(result), "result": result}  # fmt: skip
    args.result.parent.mkdir(parents=True, exist_ok=True)
    args.result.write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
    predicate = _session_predicate(
        spec, args, job=job, fingerprint=fingerprint, rows=len(next(iter(inputs.values()), ())),
        revealed=bool(result), stats=stats,
    )  # fmt: skip
    out = args.manifest or args.result.with_name(f"{args.result.name}.finveil-smpc")
    write_signed_manifest(
        out, predicate, key=ring.ensure("manifest", KeyPurpose.MANIFEST), audit=audit,
        audit_first_seq=first.seq, principal=principal, subjects=[args.result],
    )  # fmt: skip
    outcome = "result" if result else "done, nothing revealed to us"
    print(f"session {spec.session_id}: {outcome} -> {args.result} (signed manifest {out})")
    return 0


def _session_predicate(
    spec: SessionSpec,
    args: argparse.Namespace,
    *,
    job: dict[str, Any],
    fingerprint: dict[str, Any],
    rows: int,
    revealed: bool,
    stats: dict[str, float],
) -> dict[str, Any]:
    return {
        "job": {
            **job,
            "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "spec": {"session": str(args.session), "party": args.party},
        },
        "inputs": [{"name": str(args.input), "fingerprint": fingerprint}],
        "protection": _protection(spec, args.party),
        "smpc": _session_record(spec, party=args.party, revealed=revealed),
        # Rows are all-or-nothing: every row enters the session, or the party aborts
        # before sending anything (prepare_inputs checks them first).
        "rows": {"in": rows, "out": rows, "quarantined": 0, "reconciled": True},
        "runtime": {"bytes_sent": int(stats.get("bytes_sent", 0))},
        "timings_s": {
            "session": round(stats["session_s"], 6),
            "link": round(stats.get("link_seconds", 0.0), 6),
        },
    }


def _principal() -> str:
    try:
        return getpass.getuser()
    except (OSError, KeyError):
        return "unknown"


def _protection(spec: SessionSpec, party: str) -> dict[str, Any]:
    """Our input columns: how they left this party (shares or PSI tags, never values)."""
    if spec.computation.value.startswith("psi"):
        method = "ECDH PSI over ristretto255 (blinded tags)"
    else:
        method = f"additive secret sharing over Z_2^64 (fixed point, {spec.codec.frac_bits} bits)"
    return {
        column: {"kind": "smpc-input", "method": method, "key_id": None, "key_version": None}
        for column in spec.columns_of(party)
    }


def _session_record(spec: SessionSpec, *, party: str, revealed: bool) -> dict[str, Any]:
    """Return ``predicate.smpc``: the session, its parties, output policy and dealer trust."""
    record: dict[str, Any] = {
        "session_id": spec.session_id,
        "spec_sha256": spec.spec_hash.hex(),
        "computation": spec.computation.value,
        "party": party,
        "parties": [_node(p) for p in spec.parties],
        "output_policy": {"reveal_to": sorted(spec.reveal_to), "revealed_to_us": revealed},
        "dealer": None,
    }
    if spec.dealer is not None:
        dealer = {**_node(spec.dealer), "mode": spec.dealer_mode.value}
        trust = spec.dealer_trust
        if trust is not None:
            policy = trust.policy
            dealer["pinned"] = {
                "measurements": sorted(m.hex() for m in policy.measurements),
                "signers": [
                    {
                        "signer_id": r.signer_id.hex(),
                        "product_id": r.product_id,
                        "min_svn": r.min_svn,
                    }
                    for r in policy.signers
                ],
                "accepted_tcb": sorted(t.value for t in policy.accepted_tcb),
                "allow_simulated": policy.allow_simulated,
                "root_sha256": trust.root_fingerprint.removeprefix("sha256:"),
            }
        record["dealer"] = dealer
    return record


def _node(node: Any) -> dict[str, Any]:
    return {"name": node.name, "address": f"{node.host}:{node.port}",
            "cert_sha256": str(node.fingerprint).removeprefix("sha256:")}  # fmt: skip


def _dealer(args: argparse.Namespace) -> int:
    spec = _read_spec(args.session)
    if spec.dealer is None:
        raise ConfigError("the session spec has no [dealer] table")
    cert, key = _identity_paths(args, args.name or spec.dealer.name)
    if spec.dealer_mode is DealerMode.PROCESS:
        if args.enclave is not None:
            raise ConfigError('the spec says dealer mode = "process"; drop --enclave')
        rows = serve_dealer(spec, cert=cert, key=key)
        print(f"session {spec.session_id}: dealt material for {rows} rows")
        return 0
    if args.enclave is None or args.platform is None:
        raise ConfigError(
            'dealer mode "enclave" needs --enclave APP_DIR (the signed dealer app) '
            "and --platform DIR"
        )
    trust = spec.dealer_trust
    platform = SimulatedPlatform.open(args.platform)
    with SimulatedEnclave.load(
        args.enclave,
        platform=platform,
        is_debug=args.debug,
        timeout_s=trust.timeout_s if trust is not None else 10.0,
    ) as enclave:
        rows = serve_dealer(
            spec, cert=cert, key=key, enclave=enclave, root=platform.root_certificate
        )
        measurement = enclave.measurement.hex()
    print(
        f"session {spec.session_id}: relayed dealer material for {rows} rows from enclave "
        f"{measurement}"
    )
    return 0


def _client_id(args: argparse.Namespace) -> int:
    cert = args.keys / f"{args.party}.crt"
    try:
        pem = cert.read_bytes()
    except OSError:
        raise ConfigError(f"no identity file {cert}; run 'finveil smpc keygen'") from None
    der = x509.load_pem_x509_certificate(pem).public_bytes(Encoding.DER)
    print(client_id(der).hex())
    return 0
