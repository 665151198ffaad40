"""``finveil keys ...`` (keyring management) and ``finveil audit verify`` (audit log check).

SECURITY: these commands print key ids, versions, states and paths, never key material.
Passphrases come only from ``$FINVEIL_KEYRING_PASSPHRASE``, never from argv (visible in ps).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from engine.errors import KeyManagementError
from engine.keys import AuditLog, KeyRing
from engine.keys._local import (
    PASSPHRASE_ENV,
    STANDARD_KEYS,
    audit_path_for,
    default_keyring_path,
    open_local,
    root_key_path_for,
)

__all__ = ["register"]


def register(subparsers: Any) -> None:
    """Add the ``keys`` and ``audit`` command groups to ``subparsers``."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--keyring",
        type=Path,
        default=None,
        metavar="PATH",
        help="keyring file (default: $FINVEIL_HOME/keyring.json, FINVEIL_HOME=~/.finveil)",
    )
    common.add_argument(
        "--root-key-file",
        type=Path,
        default=None,
        metavar="PATH",
        help="32-byte root key file (default: keyring.root beside the keyring, unless "
        f"${PASSPHRASE_ENV} is set)",
    )

    keys = subparsers.add_parser("keys", help="manage the keyring: init, list, rotate, retire")
    actions = keys.add_subparsers(dest="keys_action", metavar="ACTION", required=True)
    init = actions.add_parser(
        "init", parents=[common], help="create the keyring and the standard job keys"
    )
    init.set_defaults(handler=_init)
    actions.add_parser("list", parents=[common], help="list keys and versions (no secrets)")
    actions.choices["list"].set_defaults(handler=_list)
    rotate = actions.add_parser("rotate", parents=[common], help="make a new primary version")
    rotate.add_argument("key", metavar="KEY", help="key id, e.g. tokenize.pan")
    rotate.set_defaults(handler=_rotate)
    retire = actions.add_parser(
        "retire", parents=[common], help="retire a version no recorded dataset uses"
    )
    retire.add_argument("key", metavar="KEY", help="key id")
    retire.add_argument("version", metavar="VERSION", type=int, help="version to retire")
    retire.set_defaults(handler=_retire)

    audit = subparsers.add_parser("audit", help="check the tamper-evident audit log")
    audit_actions = audit.add_subparsers(dest="audit_action", metavar="ACTION", required=True)
    verify = audit_actions.add_parser(
        "verify", parents=[common], help="verify every entry's MAC, position and chain link"
    )
    verify.add_argument(
        "path",
        metavar="PATH",
        type=Path,
        nargs="?",
        default=None,
        help="audit log (default: audit.jsonl beside the keyring)",
    )
    verify.set_defaults(handler=_verify)


def _keyring_path(args: argparse.Namespace) -> Path:
    return Path(args.keyring) if args.keyring is not None else default_keyring_path()


def _open(args: argparse.Namespace, *, audit: bool = True) -> KeyRing:
    ring, _ = open_local(
        _keyring_path(args), create=False, root_key_file=args.root_key_file, audit=audit
    )
    return ring


def _init(args: argparse.Namespace) -> int:
    path = _keyring_path(args)
    if path.exists():
        raise KeyManagementError(f"a keyring already exists at {path}")
    ring, _ = open_local(path, create=True, root_key_file=args.root_key_file)
    for key_id, purpose in STANDARD_KEYS:
        ring.ensure(key_id, purpose)
    if ring.root_kind == "scrypt":
        source = f"passphrase (scrypt) from ${PASSPHRASE_ENV}"
    else:
        source = f"root key file {args.root_key_file or root_key_path_for(path)}"
    print(f"created keyring {ring.path} ({len(STANDARD_KEYS)} keys)")
    print(f"root key: {source}")
    print(f"audit log: {audit_path_for(path)}")
    return 0


def _list(args: argparse.Namespace) -> int:
    ring = _open(args, audit=False)
    print(f"keyring: {ring.path}")
    rows = [("KEY", "PURPOSE", "VERSION", "STATE", "CREATED", "DATASETS")]
    for info in ring.list():
        for v in info.versions:
            rows.append(
                (info.key_id, info.purpose.value, str(v.version), v.state.value, v.created,
                 str(len(v.datasets)))
            )  # fmt: skip
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        print(
            "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        )
    return 0


def _rotate(args: argparse.Namespace) -> int:
    ring = _open(args)
    version = ring.rotate(args.key)
    print(f"rotated {args.key}: version {version} is now primary (keyring {ring.path})")
    return 0


def _retire(args: argparse.Namespace) -> int:
    ring = _open(args)
    ring.retire(args.key, args.version)
    print(f"retired {args.key} version {args.version} (keyring {ring.path})")
    return 0


def _verify(args: argparse.Namespace) -> int:
    ring = _open(args, audit=False)
    path = Path(args.path) if args.path is not None else audit_path_for(ring.path)
    head = AuditLog.verify(path, lambda version: ring.get("audit", version))
    print(
        f"audit log {path}: {head.entries} entries verified (keyring {ring.path}); "
        f"head entry {head.seq} sha256 {head.digest}"
    )
    return 0
