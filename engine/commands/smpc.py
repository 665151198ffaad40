"""``finveil smpc``: make a party identity, join a session, or host its dealer."""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from enclaves.platform import SimulatedPlatform
from enclaves.runtime import SimulatedEnclave
from engine.errors import ConfigError, InputError
from engine.smpc import generate_identity, join_session, parse_spec, serve_dealer
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
    result = join_session(
        spec, party=args.party, inputs=_read_input(args.input), cert=cert, key=key
    )
    payload = {
        "session": spec.session_id,
        "computation": spec.computation.value,
        "party": args.party,
        "revealed": bool(result),
        "result": result,
    }
    args.result.parent.mkdir(parents=True, exist_ok=True)
    args.result.write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
    outcome = "result" if result else "done, nothing revealed to us"
    print(f"session {spec.session_id}: {outcome} -> {args.result}")
    return 0


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
