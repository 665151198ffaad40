"""``finveil retokenize DIR``: move a job output's tokens to new key versions, atomically.

Raw values exist only in memory, one batch at a time; the keyring releases the old and new
versions (audited) and its usage records follow the dataset, so the old version can then
be retired. SECURITY: prints columns, key ids, versions and paths, never a value or token.
"""

from __future__ import annotations

import argparse
import getpass
from pathlib import Path
from typing import Any

from engine.errors import ConfigError
from engine.keys._local import default_keyring_path, open_local

__all__ = ["register"]


def register(subparsers: Any) -> None:
    """Add the ``retokenize`` subcommand."""
    p = subparsers.add_parser(
        "retokenize",
        help="migrate a tokenized job output to new key versions (no raw value on disk)",
        description="Re-key the tokenized columns of a job output directory: detokenize each "
        "batch with the recorded key version and tokenize it with the target version, in "
        "memory; replace tokenized.parquet and manifest.json atomically (or write --out). "
        "Quarantine rows stay as they are (encrypted under the quarantine key).",
    )
    p.add_argument("directory", type=Path, metavar="DIR", help="job output directory")
    p.add_argument(
        "--to-version", type=int, metavar="N", help="target version of every key (default: primary)"
    )
    p.add_argument("--out", type=Path, metavar="DIR2", help="write a new directory instead")
    p.add_argument("--keyring", type=Path, help="keyring file (default: ~/.finveil/keyring.json)")
    p.add_argument("--root-key-file", type=Path, help="root key file (default: beside keyring)")
    p.add_argument("--batch-rows", type=int, default=65_536, help="rows per batch in memory")
    p.set_defaults(handler=_retokenize)


def _principal() -> str:
    try:
        return getpass.getuser()
    except (OSError, KeyError):
        return "unknown"


def _retokenize(args: argparse.Namespace) -> int:
    # engine.jobs pulls in Ray and TenSEAL; import it only when this command runs.
    from engine.jobs import retokenize_dataset

    if args.batch_rows < 1:
        raise ConfigError("--batch-rows must be positive")
    path = Path(args.keyring) if args.keyring else default_keyring_path()
    ring, _ = open_local(path, create=False, root_key_file=args.root_key_file)
    result = retokenize_dataset(
        args.directory, keyring=ring, to_version=args.to_version, out=args.out,
        batch_rows=args.batch_rows, principal=_principal(),
    )  # fmt: skip
    if result.recovered:
        print(f"finished an interrupted retokenize of {args.directory}")
    if not result.changes:
        columns = ", ".join(result.unchanged)
        print(f"nothing to do: every tokenized column of {args.directory} ({columns}) "
              "already uses the target key version")  # fmt: skip
        return 0
    for c in result.changes:
        print(f"  {c.column}: {c.key_id} version {c.from_version} -> {c.to_version}")
    where = "in place" if args.out is None else f"to {result.output}"
    n = len(result.changes)
    print(f"retokenized {result.rows:,} rows ({n} column{'' if n == 1 else 's'}) {where}; "
          f"dataset {result.dataset_id}")  # fmt: skip
    if result.unchanged:
        print(f"  already at the target: {', '.join(result.unchanged)}")
    print("quarantine.parquet left as is (encrypted under the quarantine key)")
    if result.signed:
        print("manifest.json verified and re-signed (manifest.pub rewritten)")
    return 0
