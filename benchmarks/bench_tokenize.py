"""Tokenization throughput: batched FF1 / FF3-1 next to the ``ff3`` package and raw AES.

Usage::

    python benchmarks/bench_tokenize.py [--n 1000000] [--ref-n 20000] [--repeat 3]
                                        [--only SUBSTRING] [--json benchmarks/results/tokenize.json]

Each row is a named ``Case``. To add a row (formats through ``engine.tokenize``, Ray with
2 workers, ...), write a factory taking the shared ``Context`` and decorate it with
``@case``; it is picked up automatically, timed the same way and written to the JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import secrets
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from Crypto.Cipher import AES

from engine.tokenize.hazmat import FF1, FF3_1

RESULTS = Path(__file__).resolve().parent / "results" / "tokenize.json"


@dataclass(frozen=True, slots=True, kw_only=True)
class Context:
    """Inputs shared by all cases: n 16-digit values, as numerals and as strings."""

    n: int
    ref_n: int
    key: bytes
    ff1_tweak: bytes
    ff3_tweak: bytes
    numerals: np.ndarray
    values: list[str]


@dataclass(frozen=True, slots=True, kw_only=True)
class Case:
    """One benchmark row: ``run`` processes ``items`` items of ``unit``."""

    name: str
    items: int
    run: Callable[[], object]
    unit: str = "tokens"
    note: str = ""
    # Filled by a check after timing (e.g. outputs identical to a reference); None = no check.
    check: Callable[[], bool] | None = None
    tags: tuple[str, ...] = field(default=())


CaseFactory = Callable[[Context], list[Case]]
FACTORIES: list[CaseFactory] = []


def case(factory: CaseFactory) -> CaseFactory:
    """Register a case factory (decorator)."""
    FACTORIES.append(factory)
    return factory


def make_context(n: int, ref_n: int) -> Context:
    rng = np.random.default_rng(2026)
    numerals = rng.integers(0, 10, size=(n, 16), dtype=np.uint8)
    text = (numerals + ord("0")).astype(np.uint32)
    values: list[str] = text.view("<U16").reshape(n).tolist()
    return Context(
        n=n,
        ref_n=min(ref_n, n),
        key=secrets.token_bytes(16),
        ff1_tweak=secrets.token_bytes(8),
        ff3_tweak=secrets.token_bytes(7),
        numerals=numerals,
        values=values,
    )


@case
def aes_cases(ctx: Context) -> list[Case]:
    aes = AES.new(ctx.key, AES.MODE_ECB)
    blocks = bytearray(secrets.token_bytes(16) * ctx.n)
    out = bytearray(len(blocks))

    def run() -> object:
        return aes.encrypt(blocks, output=out)

    note = "pycryptodome AES-128-ECB, one call; the ceiling (FF1 = 10, FF3-1 = 8 blocks/token)"
    return [Case(name="aes128_ecb_bulk", items=ctx.n, run=run, unit="blocks", note=note)]


@case
def ff1_cases(ctx: Context) -> list[Case]:
    ff1 = FF1(ctx.key)
    tokens = ff1.encrypt(ctx.values, ctx.ff1_tweak)

    def round_trip() -> bool:
        return ff1.decrypt(tokens, ctx.ff1_tweak) == ctx.values

    return [
        Case(
            name="ff1_encrypt_numerals_16d",
            items=ctx.n,
            run=lambda: ff1.encrypt_numerals(ctx.numerals, ctx.ff1_tweak),
            note="(n, 16) uint8 numerals",
        ),
        Case(
            name="ff1_encrypt_str_16d",
            items=ctx.n,
            run=lambda: ff1.encrypt(ctx.values, ctx.ff1_tweak),
            note="list[str] in and out",
        ),
        Case(
            name="ff1_decrypt_str_16d",
            items=ctx.n,
            run=lambda: ff1.decrypt(tokens, ctx.ff1_tweak),
            check=round_trip,
        ),
    ]


@case
def ff3_cases(ctx: Context) -> list[Case]:
    from ff3 import FF3Cipher

    ff3_1 = FF3_1(ctx.key)
    tokens = ff3_1.encrypt(ctx.values, ctx.ff3_tweak)
    subset = ctx.values[: ctx.ref_n]
    reference = FF3Cipher(ctx.key.hex(), ctx.ff3_tweak.hex())

    def same_as_reference() -> bool:
        return [reference.encrypt(v) for v in subset] == tokens[: ctx.ref_n]

    return [
        Case(
            name="ff3_1_encrypt_numerals_16d",
            items=ctx.n,
            run=lambda: ff3_1.encrypt_numerals(ctx.numerals, ctx.ff3_tweak),
            note="(n, 16) uint8 numerals",
        ),
        Case(
            name="ff3_1_encrypt_str_16d",
            items=ctx.n,
            run=lambda: ff3_1.encrypt(ctx.values, ctx.ff3_tweak),
            note="list[str] in and out",
        ),
        Case(
            name="ff3_1_decrypt_str_16d",
            items=ctx.n,
            run=lambda: ff3_1.decrypt(tokens, ctx.ff3_tweak),
            check=lambda: ff3_1.decrypt(tokens, ctx.ff3_tweak) == ctx.values,
        ),
        Case(
            name="ff3_package_encrypt_16d",
            items=ctx.ref_n,
            run=lambda: [reference.encrypt(v) for v in subset],
            note=f"mysto ff3 {_version('ff3')}, one value per call, first {ctx.ref_n} inputs",
            check=same_as_reference,
            tags=("reference",),
        ),
    ]


@case
def wide_cases(ctx: Context) -> list[Case]:
    """Halves above 2^63 (base-R limb path): 30 base-36 characters, 40 digits."""
    rows = max(ctx.n // 10, 1)
    rng = np.random.default_rng(36)
    base36 = rng.integers(0, 36, size=(rows, 30), dtype=np.uint8)
    digits = rng.integers(0, 10, size=(rows, 40), dtype=np.uint8)
    ff1_36, ff3_36, ff1_10 = FF1(ctx.key, 36), FF3_1(ctx.key, 36), FF1(ctx.key)
    return [
        Case(
            name="ff1_encrypt_numerals_r36_30",
            items=rows,
            run=lambda: ff1_36.encrypt_numerals(base36, ctx.ff1_tweak),
        ),
        Case(
            name="ff3_1_encrypt_numerals_r36_30",
            items=rows,
            run=lambda: ff3_36.encrypt_numerals(base36, ctx.ff3_tweak),
        ),
        Case(
            name="ff1_encrypt_numerals_40d",
            items=rows,
            run=lambda: ff1_10.encrypt_numerals(digits, ctx.ff1_tweak),
        ),
    ]


def _version(package: str) -> str:
    from importlib.metadata import version

    return version(package)


def time_case(item: Case, repeat: int) -> dict[str, Any]:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        item.run()
        best = min(best, time.perf_counter() - start)
    checked = None if item.check is None else bool(item.check())
    return {
        "name": item.name,
        "n": item.items,
        "unit": item.unit,
        "seconds": best,
        "per_second": item.items / best,
        "check_ok": checked,
        "note": item.note,
        "tags": list(item.tags),
    }


def add_ratios(rows: list[dict[str, Any]]) -> None:
    by_name = {row["name"]: row for row in rows}
    reference = by_name.get("ff3_package_encrypt_16d")
    aes = by_name.get("aes128_ecb_bulk")
    for row in rows:
        if reference and "16d" in row["name"] and row is not reference:
            row["x_ff3_package"] = row["per_second"] / reference["per_second"]
        if aes and row["name"].startswith(("ff1_", "ff3_1_")) and "16d" in row["name"]:
            blocks = 10 if row["name"].startswith("ff1_") else 8
            row["fraction_of_aes_ceiling"] = row["per_second"] * blocks / aes["per_second"]


def print_table(rows: list[dict[str, Any]]) -> None:
    header = f"{'case':28} {'n':>9} {'seconds':>9} {'per second':>14} {'x ff3 pkg':>10} check"
    print(header)
    print("-" * len(header))
    for row in rows:
        ratio = f"{row['x_ff3_package']:.0f}x" if "x_ff3_package" in row else ""
        check = {None: "", True: "ok", False: "MISMATCH"}[row["check_ok"]]
        rate = f"{row['per_second']:,.0f} {row['unit'][:3]}/s"
        print(
            f"{row['name']:28} {row['n']:>9,} {row['seconds']:>9.3f} {rate:>14} {ratio:>10} {check}"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1_000_000, help="values per case")
    parser.add_argument("--ref-n", type=int, default=20_000, help="values for the ff3 package")
    parser.add_argument("--repeat", type=int, default=3, help="runs per case; the best counts")
    parser.add_argument("--only", default="", help="run cases whose name contains this")
    parser.add_argument("--json", type=Path, default=RESULTS, help="where to write results")
    args = parser.parse_args(argv)
    ctx = make_context(args.n, args.ref_n)
    cases = [c for factory in FACTORIES for c in factory(ctx) if args.only in c.name]
    rows = []
    for item in cases:
        repeat = min(2, args.repeat) if "reference" in item.tags else args.repeat
        rows.append(time_case(item, repeat))
    add_ratios(rows)
    print_table(rows)
    result = {
        "benchmark": "tokenize",
        "python": sys.version.split()[0],
        "numpy": np.__version__,
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
        "processes": 1,
        "n": args.n,
        "ref_n": min(args.ref_n, args.n),
        "cases": rows,
    }
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(f"\nwrote {args.json}")
    return 0 if all(row["check_ok"] is not False for row in rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())
