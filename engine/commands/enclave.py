"""``finveil enclave``: measure, sign, run and verify enclave apps on the simulated platform."""

from __future__ import annotations

import argparse
import json
import os
import secrets
import tomllib
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    load_pem_private_key,
)

from enclaves.attestation import NonceRegistry, Policy, verify_quote
from enclaves.platform import SimulatedPlatform
from enclaves.runtime import SimulatedEnclave, measure_app, sign_app
from engine.errors import ConfigError, InputError

_DEFAULT_PLATFORM = Path("~/.finveil/simulated-platform")


def register(subparsers: Any) -> None:
    """Add the ``enclave`` command group."""
    parser = subparsers.add_parser("enclave", help="simulated TEE: measure, run, verify")
    commands = parser.add_subparsers(dest="enclave_command", metavar="SUBCOMMAND", required=True)

    measure = commands.add_parser("measure", help="print an app's measurement")
    measure.add_argument("app_dir", type=Path, metavar="APP_DIR")
    measure.set_defaults(handler=_measure)

    sign = commands.add_parser("sign", help="sign an app as its vendor (writes enclave.sig)")
    sign.add_argument("app_dir", type=Path, metavar="APP_DIR")
    sign.add_argument("--key", type=Path, required=True, help="Ed25519 private key (PEM)")
    sign.add_argument("--new-key", action="store_true", help="create --key first (mode 0600)")
    sign.set_defaults(handler=_sign)

    run = commands.add_parser("run", help="start an app, print its identity and a quote")
    run.add_argument("app_dir", type=Path, metavar="APP_DIR")
    _add_platform(run)
    run.add_argument("--debug", action="store_true", help="load in debug mode")
    run.add_argument("--nonce", help="verifier nonce (hex); default: a random one")
    run.add_argument("--quote-out", type=Path, help="write the quote (COSE_Sign1) here")
    run.add_argument("--call", metavar="METHOD", help="call METHOD on the app")
    run.add_argument("--args", default="null", help="JSON arguments for --call")
    run.set_defaults(handler=_run)

    verify = commands.add_parser("verify", help="verify a quote against a policy")
    verify.add_argument("quote", type=Path, metavar="QUOTE")
    verify.add_argument("--policy", type=Path, required=True, help="policy (TOML or JSON)")
    verify.add_argument("--nonce", required=True, help="the nonce you gave the enclave (hex)")
    verify.add_argument("--root", type=Path, action="append", help="trusted root CA (PEM)")
    _add_platform(verify)
    verify.set_defaults(handler=_verify)


def _add_platform(parser: argparse.ArgumentParser) -> None:
    default = os.environ.get("FINVEIL_PLATFORM_DIR", str(_DEFAULT_PLATFORM))
    parser.add_argument(
        "--platform",
        type=Path,
        default=Path(default),
        help="simulated platform directory (default: $FINVEIL_PLATFORM_DIR or %(default)s)",
    )


def _measure(args: argparse.Namespace) -> int:
    print(measure_app(args.app_dir).hex())
    return 0


def _sign(args: argparse.Namespace) -> int:
    path: Path = args.key
    if args.new_key:
        key = Ed25519PrivateKey.generate()
        pem = key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption())
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(pem)
    else:
        try:
            loaded = load_pem_private_key(path.read_bytes(), None)
        except (OSError, ValueError) as exc:
            raise InputError(f"cannot read signing key {path}") from exc
        if not isinstance(loaded, Ed25519PrivateKey):
            raise InputError(f"signing key {path} is not an Ed25519 key")
        key = loaded
    _print_identity(sign_app(args.app_dir, key))
    return 0


def _print_identity(identity: Any) -> None:
    print(f"measurement {identity.measurement.hex()}")
    print(f"signer_id   {identity.signer_id.hex()}")
    print(f"product_id  {identity.product_id}")
    print(f"svn         {identity.svn}")


def _hex_arg(value: str, name: str) -> bytes:
    try:
        return bytes.fromhex(value)
    except ValueError:
        raise ConfigError(f"{name} must be hex") from None


def _run(args: argparse.Namespace) -> int:
    platform = SimulatedPlatform.open(args.platform.expanduser())
    nonce = _hex_arg(args.nonce, "--nonce") if args.nonce else secrets.token_bytes(32)
    try:
        call_args = json.loads(args.args)
    except ValueError:
        raise ConfigError("--args must be JSON") from None
    with SimulatedEnclave.load(args.app_dir, platform=platform, is_debug=args.debug) as enclave:
        _print_identity(enclave.identity)
        print(f"debug       {str(enclave.is_debug).lower()}")
        quote = enclave.attest(nonce)
        print(f"nonce       {nonce.hex()}")
        if args.quote_out:
            args.quote_out.write_bytes(quote)
            print(f"quote       {args.quote_out} ({len(quote)} bytes, SIMULATED platform)")
        if args.call:
            print(json.dumps(_jsonable(enclave.call(args.call, call_args)), sort_keys=True))
    return 0


def _jsonable(value: Any) -> Any:
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value


def _load_policy(path: Path) -> Policy:
    try:
        text = path.read_text()
        data = tomllib.loads(text) if path.suffix == ".toml" else json.loads(text)
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot read policy {path}") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"policy {path} must be a table")
    return Policy.from_mapping(data)


def _verify(args: argparse.Namespace) -> int:
    policy = _load_policy(args.policy)
    if args.root:
        try:
            roots = [x509.load_pem_x509_certificate(p.read_bytes()) for p in args.root]
        except (OSError, ValueError) as exc:
            raise InputError("cannot read a --root certificate") from exc
    else:
        roots = [SimulatedPlatform.open(args.platform.expanduser()).root_certificate]
    nonces = NonceRegistry()
    nonces.add(_hex_arg(args.nonce, "--nonce"))
    try:
        quote = args.quote.read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read quote {args.quote}") from exc
    verdict = verify_quote(quote, policy, roots=roots, nonces=nonces)
    print(f"ACCEPTED measurement {verdict.claims.measurement.hex()}")
    for reason in verdict.reasons:
        print(f"  ok: {reason}")
    return 0
