"""``finveil simulate``: write simulated card transactions with labelled fraud to Parquet."""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

from engine.datasets import write_transactions
from engine.errors import ConfigError

__all__ = ["register"]


def register(subparsers: Any) -> None:
    """Add the ``simulate`` command to ``subparsers``."""
    parser = subparsers.add_parser(
        "simulate", help="write simulated card transactions (with fraud labels) to Parquet"
    )
    parser.add_argument("--rows", type=int, required=True, metavar="N", help="transactions")
    parser.add_argument("--out", type=Path, required=True, metavar="PATH", help="Parquet file")
    parser.add_argument("--seed", type=int, default=0, metavar="S", help="seed (default: 0)")
    parser.add_argument(
        "--batch-rows",
        type=int,
        default=1_000_000,
        metavar="N",
        help="rows per Parquet row group, bounding memory (default: 1000000)",
    )
    parser.set_defaults(handler=_simulate)


def _simulate(args: argparse.Namespace) -> int:
    if args.rows < 1 or args.batch_rows < 1:
        raise ConfigError("--rows and --batch-rows must be positive")
    out = Path(args.out)
    if not out.parent.is_dir():
        raise ConfigError(f"--out: directory {out.parent} does not exist")
    began = time.perf_counter()
    summary = write_transactions(out, args.rows, seed=args.seed, batch_rows=args.batch_rows)
    elapsed = time.perf_counter() - began
    share = 100 * summary.n_fraud / summary.n_rows
    print(
        f"wrote {summary.n_rows} transactions over {summary.n_days} days to {out} "
        f"in {elapsed:.1f} s; fraud {summary.n_fraud} ({share:.2f} %)"
    )
    for name, count in summary.by_scenario.items():
        print(f"  {name}: {count}")
    return 0
