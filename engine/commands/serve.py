"""``finveil serve`` (the tokenization sidecar) and ``finveil client add`` (a client's key).

SECURITY: the sidecar authenticates every API request by its HMAC signature under the
client's keyring key ``client.<name>``; the policy's principals are client names. Client
keys are written to a file (mode 0600), never printed.
"""

from __future__ import annotations

import argparse
import os
import re
from pathlib import Path
from typing import Any

from engine.errors import ConfigError
from engine.keys import KeyPurpose
from engine.keys._local import default_keyring_path, open_local

__all__ = ["register"]

_CLIENT = re.compile(r"^[a-z0-9][a-z0-9._-]{0,119}$")


def register(subparsers: Any) -> None:
    """Add the ``serve`` and ``client`` subcommands."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--keyring",
        type=Path,
        metavar="PATH",
        help="keyring file (default: ~/.finveil/keyring.json)",
    )
    common.add_argument(
        "--root-key-file",
        type=Path,
        metavar="PATH",
        help="root key file (default: beside the keyring)",
    )
    p = subparsers.add_parser(
        "serve",
        parents=[common],
        help="run the tokenization sidecar (HTTP API with signed requests)",
        description="Serve /v1/tokenize, /v1/detokenize (policy-gated, audited), /v1/approve, "
        "/v1/scan, /healthz, /metrics and /openapi.json. See docs/service.md.",
    )
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default: 127.0.0.1)")
    p.add_argument("--port", type=int, default=8787, help="port (default: 8787)")
    p.add_argument(
        "--policy",
        type=Path,
        metavar="POLICY.toml",
        help="detokenization policy (default: policy.toml by the keyring)",
    )
    p.add_argument(
        "--max-body-bytes",
        type=int,
        default=4 * 1024 * 1024,
        help="largest request body (default: 4 MiB; larger gets 413)",
    )
    p.add_argument(
        "--max-values", type=int, default=100_000, help="most values per request (default: 100000)"
    )
    p.add_argument(
        "--replay-window-s",
        type=int,
        default=300,
        help="accepted clock skew and nonce memory, seconds (default: 300)",
    )
    p.set_defaults(handler=_serve)

    client = subparsers.add_parser("client", help="manage sidecar clients' signing keys")
    actions = client.add_subparsers(dest="client_action", metavar="ACTION", required=True)
    add = actions.add_parser(
        "add", parents=[common], help="create client.<NAME> and write its key to a file (0600)"
    )
    add.add_argument("name", metavar="NAME", help="client name (lowercase), the policy principal")
    add.add_argument(
        "--key-out",
        type=Path,
        required=True,
        metavar="FILE",
        help="write the key (hex) here, mode 0600; refuses to overwrite",
    )
    add.set_defaults(handler=_client_add)


def _serve(args: argparse.Namespace) -> int:
    # Imported here: the HTTP stack loads only for this command, keeping `finveil` quick.
    from engine.service import Sidecar, SidecarOptions, create_app, serve
    from engine.service._sidecar import load_policy

    keyring_path = Path(args.keyring) if args.keyring else default_keyring_path()
    ring, _ = open_local(keyring_path, create=False, root_key_file=args.root_key_file)
    policy = load_policy(args.policy or keyring_path.with_name("policy.toml"))
    options = SidecarOptions(
        max_body_bytes=args.max_body_bytes,
        max_values=args.max_values,
        replay_window_s=args.replay_window_s,
    )
    app = create_app(Sidecar(ring, policy, options=options))
    print(f"finveil sidecar on http://{args.host}:{args.port} (keyring {ring.path})", flush=True)
    serve(app, host=args.host, port=args.port)
    return 0


def _client_add(args: argparse.Namespace) -> int:
    if not _CLIENT.match(args.name):
        raise ConfigError("client name must be 1-120 characters of [a-z0-9._-]")
    out: Path = args.key_out
    keyring_path = Path(args.keyring) if args.keyring else default_keyring_path()
    ring, _ = open_local(keyring_path, create=False, root_key_file=args.root_key_file)
    try:
        fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise ConfigError(f"key file {out} exists; refusing to overwrite") from None
    key = ring.ensure(f"client.{args.name}", KeyPurpose.CLIENT)
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(key.secret.hex() + "\n")
    print(f"client {args.name}: key client.{args.name} version {key.version} written to {out}")
    return 0
