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
    stream_n: int = 0


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
    # At most this many runs (slow cases); None = the --repeat of the command line.
    repeat: int | None = None
    # Extra fields merged into the row after timing (they may override the timing fields).
    details: Callable[[], dict[str, Any]] | None = None
    # False where the driver's CPU time says nothing (work done in other processes).
    cpu_timed: bool = True
    # Called once before the timed runs (e.g. start Ray and warm its workers).
    setup: Callable[[], object] | None = None


CaseFactory = Callable[[Context], list[Case]]
FACTORIES: list[CaseFactory] = []


def case(factory: CaseFactory) -> CaseFactory:
    """Register a case factory (decorator)."""
    FACTORIES.append(factory)
    return factory


def make_context(n: int, ref_n: int, stream_n: int = 0) -> Context:
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
        stream_n=stream_n,
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


# Formats through the public path: engine.tokenize.tokenize_frame on one PII column.

_DOUBLE = np.array([0, 2, 4, 6, 8, 1, 3, 5, 7, 9], dtype=np.int64)
_KINDS = ("pan", "ssn", "iban", "email")
_RAY_BATCH = 50_000


def _strings(codes: np.ndarray) -> list[str]:
    """(rows, width) ASCII byte codes -> one str per row."""
    width = codes.shape[1]
    return codes.astype(np.uint32).view(f"<U{width}").reshape(-1).tolist()


def luhn_pans(n: int, seed: int = 16) -> np.ndarray:
    """N Luhn-valid 16-digit PANs (as (n, 16) digits)."""
    rng = np.random.default_rng(seed)
    d = rng.integers(0, 10, size=(n, 16), dtype=np.int64)
    d[:, 0] = rng.choice([3, 4, 5, 6], size=n)
    doubled = (15 - np.arange(16)) % 2 == 1
    total = np.where(doubled, _DOUBLE[d], d)[:, :15].sum(axis=1)
    d[:, 15] = (10 - total % 10) % 10
    return d


def pan_values(n: int, seed: int = 16) -> list[str]:
    """16-digit Luhn-valid PANs: 85% plain, 10% with spaces, 5% with dashes (4-4-4-4)."""
    digits = (luhn_pans(n, seed) + ord("0")).astype(np.uint8)
    plain = _strings(digits)
    spaced = np.full((n, 19), ord(" "), dtype=np.uint8)
    cols = [c for c in range(19) if c not in (4, 9, 14)]
    spaced[:, cols] = digits
    kind = np.random.default_rng(seed + 1).random(n)
    with_spaces, with_dashes = _strings(spaced), _strings(np.where(spaced == 32, 45, spaced))
    return [
        with_spaces[i] if k < 0.10 else with_dashes[i] if k < 0.15 else plain[i]
        for i, k in enumerate(kind.tolist())
    ]


def ssn_values(n: int, seed: int = 9) -> list[str]:
    """9-digit SSNs of valid structure; half ``ddd-dd-dddd``, half ``ddddddddd``."""
    rng = np.random.default_rng(seed)
    area = rng.integers(1, 900, n)
    area = np.where(area == 666, 667, area)
    group, serial = rng.integers(1, 100, n), rng.integers(1, 10_000, n)
    number = area * 1_000_000 + group * 10_000 + serial
    digits = (number[:, None] // 10 ** np.arange(8, -1, -1)) % 10 + ord("0")
    dashed = np.insert(digits, [3, 5], ord("-"), axis=1)
    plain, with_dashes = _strings(digits), _strings(dashed)
    return [with_dashes[i] if i % 2 else plain[i] for i in range(n)]


_IBAN_SHAPES = (("DE", 0, 18), ("FR", 0, 23), ("GB", 4, 14), ("NL", 4, 10))


def iban_values(n: int, seed: int = 97) -> list[str]:
    """IBANs with valid check digits: DE, FR (digits), GB and NL (4 letters + digits)."""
    rng = np.random.default_rng(seed)
    out: list[str] = [""] * n
    country_of = rng.integers(0, len(_IBAN_SHAPES), n)
    for c, (country, letters, digits) in enumerate(_IBAN_SHAPES):
        rows = np.flatnonzero(country_of == c)
        bban = np.concatenate(
            [
                rng.integers(ord("A"), ord("Z") + 1, size=(rows.shape[0], letters)),
                rng.integers(ord("0"), ord("9") + 1, size=(rows.shape[0], digits)),
            ],
            axis=1,
        )
        # ISO 7064 MOD 97-10 over BBAN || country || "00" (letters count as 10..35).
        tail = [ord(ch) for ch in country] + [ord("0"), ord("0")]
        residue = np.zeros(rows.shape[0], dtype=np.int64)
        for col in [*bban.T, *(np.full(rows.shape[0], t) for t in tail)]:
            letter = col >= ord("A")
            value = np.where(letter, col - ord("A") + 10, col - ord("0"))
            residue = (residue * np.where(letter, 100, 10) + value) % 97
        check = 98 - residue
        head = np.stack(
            [
                np.full(rows.shape[0], ord(country[0])),
                np.full(rows.shape[0], ord(country[1])),
                check // 10 + ord("0"),
                check % 10 + ord("0"),
            ],
            axis=1,
        )
        for i, text in zip(
            rows.tolist(), _strings(np.concatenate([head, bban], axis=1)), strict=True
        ):
            out[i] = text
    return out


def email_values(n: int, seed: int = 64) -> list[str]:
    """Emails ``first.lastNNN@domain``: 8 first names, 8 last names, 6 domains."""
    rng = np.random.default_rng(seed)
    first = ["anna", "ben", "chloe", "david", "eva", "farid", "grace", "hugo"]
    last = ["smith", "mueller", "rossi", "dubois", "garcia", "novak", "berg", "khan"]
    domains = ["example.com", "bank.co.uk", "mail.de", "corp.fr", "post.nl", "web.io"]
    f, la, d = rng.integers(0, 8, n), rng.integers(0, 8, n), rng.integers(0, 6, n)
    k = rng.integers(0, 1000, n)
    return [
        f"{first[a]}.{last[b]}{c}@{domains[e]}"
        for a, b, c, e in zip(f.tolist(), la.tolist(), k.tolist(), d.tolist(), strict=True)
    ]


_MAKERS: dict[str, Callable[[int], list[str]]] = {
    "pan": pan_values,
    "ssn": ssn_values,
    "iban": iban_values,
    "email": email_values,
}
_LABELS = {"pan": "pan_16d", "ssn": "ssn_9d", "iban": "iban", "email": "email"}


def _keys(ctx: Context) -> dict[Any, Any]:
    from engine.keys import KeyMaterial
    from engine.tokenize import Kind

    return {k: KeyMaterial(key_id=f"bench.{k.value}", version=1, secret=ctx.key) for k in Kind}


@case
def format_cases(ctx: Context) -> list[Case]:
    import pandas as pd

    from engine.tokenize import detokenize_frame, tokenize_frame

    keys = _keys(ctx)
    cases = []
    for kind in _KINDS:
        frame = pd.DataFrame({kind: pd.Series(_MAKERS[kind](ctx.n), dtype="str")})
        head = frame.head(ctx.ref_n)

        def run(frame: pd.DataFrame = frame, kind: str = kind) -> object:
            out = tokenize_frame(frame, {kind: kind}, keys)
            assert len(out.quarantine) == 0, out.quarantine.head()
            return out

        def round_trip(head: pd.DataFrame = head, kind: str = kind) -> bool:
            tokens = tokenize_frame(head, {kind: kind}, keys).frame
            back = detokenize_frame(tokens, {kind: kind}, keys)
            return bool(back[kind].equals(head[kind])) and not tokens[kind].equals(head[kind])

        cases.append(
            Case(
                name=f"tokenize_frame_{_LABELS[kind]}",
                items=ctx.n,
                run=run,
                note=f"engine.tokenize.tokenize_frame, one {kind} column (str dtype), FF1",
                check=round_trip,
                repeat=3 if kind in ("pan", "ssn") else 2,
            )
        )
    return cases


def _ray_task() -> Any:
    import ray

    from engine.tokenize import tokenize_frame

    @ray.remote(num_cpus=1)
    def tokenize_batch(frame: Any, pii: dict[str, str], keys: Any) -> Any:
        return tokenize_frame(frame, pii, keys).frame

    return tokenize_batch


@case
def ray_cases(ctx: Context) -> list[Case]:
    """The same frames on a local Ray with 2 workers: 50k-row tasks, keys shipped once."""
    import pandas as pd

    from engine.tokenize import tokenize_frame

    keys = _keys(ctx)
    state: dict[str, Any] = {}

    def start() -> Any:
        if "task" not in state:
            import ray

            ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
            state["task"] = _ray_task()
            state["keys"] = ray.put(keys)
            # Warm both workers (imports, first cipher) outside the timed runs.
            frame = pd.DataFrame({"pan": pd.Series(pan_values(1000), dtype="str")})
            ray.get([state["task"].remote(frame, {"pan": "pan"}, state["keys"]) for _ in range(4)])
        return state["task"]

    cases = []
    for kind in _KINDS:
        frame = pd.DataFrame({kind: pd.Series(_MAKERS[kind](ctx.n), dtype="str")})
        result: dict[str, Any] = {}

        def run(
            frame: pd.DataFrame = frame, kind: str = kind, result: dict[str, Any] = result
        ) -> object:
            import ray

            task = start()
            batches = [frame.iloc[i : i + _RAY_BATCH] for i in range(0, len(frame), _RAY_BATCH)]
            refs = [task.remote(b, {kind: kind}, state["keys"]) for b in batches]
            result["frame"] = pd.concat(ray.get(refs))
            return result["frame"]

        def same(
            frame: pd.DataFrame = frame, kind: str = kind, result: dict[str, Any] = result
        ) -> bool:
            head = frame.head(ctx.ref_n)
            local = tokenize_frame(head, {kind: kind}, keys).frame
            return bool(result["frame"].head(ctx.ref_n)[kind].equals(local[kind]))

        cases.append(
            Case(
                name=f"ray2_tokenize_frame_{_LABELS[kind]}",
                items=ctx.n,
                run=run,
                note=f"Ray, 2 workers, {_RAY_BATCH}-row tasks; wall time incl. transfer",
                check=same,
                repeat=2,
                cpu_timed=False,
                setup=start,
                tags=("ray",),
            )
        )
    return cases


def _write_pan_csv(path: Path, n: int, chunk: int = 1_000_000) -> None:
    """Write n Luhn-valid 16-digit PANs, one per line, under a ``pan`` header."""
    with path.open("wb") as fh:
        fh.write(b"pan\n")
        for start in range(0, n, chunk):
            rows = min(chunk, n - start)
            lines = np.full((rows, 17), ord("\n"), dtype=np.uint8)
            lines[:, :16] = luhn_pans(rows, seed=start) + ord("0")
            fh.write(lines.tobytes())


def _peak_rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def stream_pans(csv_path: Path, out_path: Path) -> dict[str, Any]:
    """Stream PANs from a CSV in Arrow batches, tokenize each, write tokens as CSV batches."""
    import pandas as pd
    import pyarrow as pa
    from pyarrow import csv

    from engine.keys import KeyMaterial
    from engine.tokenize import Kind, tokenize_frame

    keys = {Kind.PAN: KeyMaterial(key_id="bench.pan", version=1, secret=bytes(16))}
    rss_before = _peak_rss_mb()
    start, start_cpu = time.perf_counter(), time.process_time()
    rows = quarantined = 0
    reader = csv.open_csv(
        csv_path,
        read_options=csv.ReadOptions(block_size=8 << 20),
        convert_options=csv.ConvertOptions(column_types={"pan": pa.string()}),
    )
    writer = None
    for batch in reader:
        frame = pd.DataFrame({"pan": pd.Series(batch.column(0).to_pandas(), dtype="str")})
        out = tokenize_frame(frame, {"pan": "pan"}, keys)
        table = pa.table({"pan": pa.array(out.frame["pan"], type=pa.string())})
        if writer is None:
            writer = csv.CSVWriter(str(out_path), table.schema)
        writer.write_table(table)
        rows += batch.num_rows
        quarantined += len(out.quarantine)
    if writer is not None:
        writer.close()
    seconds, cpu = time.perf_counter() - start, time.process_time() - start_cpu
    return {
        "rows": rows,
        "quarantined": quarantined,
        "seconds": seconds,
        "cpu_seconds": cpu,
        "peak_rss_mb": _peak_rss_mb(),
        "peak_rss_mb_after_imports": rss_before,
    }


@case
def stream_cases(ctx: Context) -> list[Case]:
    """Peak memory while streaming PANs from a file (a fresh process, so VmHWM is its own)."""
    import subprocess
    import tempfile

    n = ctx.stream_n
    result: dict[str, Any] = {}

    def run() -> object:
        with tempfile.TemporaryDirectory() as tmp:
            src, dst = Path(tmp) / "pans.csv", Path(tmp) / "tokens.csv"
            _write_pan_csv(src, n)
            proc = subprocess.run(  # noqa: S603 -- this script, fixed arguments
                [sys.executable, __file__, "--stream-worker", str(src), str(dst)],
                check=True,
                capture_output=True,
                text=True,
            )
            result.update(json.loads(proc.stdout.strip().splitlines()[-1]))
            result["tokens_lines"] = sum(1 for _ in dst.open("rb")) - 1
        return result

    def details() -> dict[str, Any]:
        return {
            "seconds": result["seconds"],
            "per_second": n / result["seconds"],
            "cpu_seconds": result["cpu_seconds"],
            "per_cpu_second": n / result["cpu_seconds"],
            "peak_rss_mb": result["peak_rss_mb"],
            "peak_rss_mb_after_imports": result["peak_rss_mb_after_imports"],
        }

    return [
        Case(
            name="stream_csv_pan_16d",
            items=n,
            run=run,
            note="pyarrow csv.open_csv 8 MiB blocks -> tokenize_frame -> CSVWriter; child process",
            check=lambda: (
                result["rows"] == n == result["tokens_lines"]
                and result["quarantined"] == 0
                and result["peak_rss_mb"] < 2048
            ),
            repeat=1,
            details=details,
            tags=("stream",),
        )
    ]


def _load() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def _version(package: str) -> str:
    from importlib.metadata import version

    return version(package)


def time_case(item: Case, repeat: int) -> dict[str, Any]:
    if item.setup is not None:
        item.setup()
    best = best_cpu = float("inf")
    for _ in range(repeat if item.repeat is None else min(repeat, item.repeat)):
        start, start_cpu = time.perf_counter(), time.process_time()
        item.run()
        best = min(best, time.perf_counter() - start)
        best_cpu = min(best_cpu, time.process_time() - start_cpu)
    checked = None if item.check is None else bool(item.check())
    row: dict[str, Any] = {
        "name": item.name,
        "n": item.items,
        "unit": item.unit,
        "seconds": best,
        "per_second": item.items / best,
        "cpu_seconds": best_cpu if item.cpu_timed else None,
        "per_cpu_second": item.items / max(best_cpu, 1e-9) if item.cpu_timed else None,
        "check_ok": checked,
        "note": item.note,
        "tags": list(item.tags),
    }
    if item.details is not None:
        row.update(item.details())
    return row


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
    header = (
        f"{'case':30} {'n':>10} {'seconds':>8} {'per second':>15} {'per CPU-s':>11}"
        f" {'x ff3 pkg':>9} {'peak RSS':>9} check"
    )
    print(header)
    print("-" * len(header))
    for row in rows:
        ratio = f"{row['x_ff3_package']:.0f}x" if "x_ff3_package" in row else ""
        check = {None: "", True: "ok", False: "MISMATCH"}[row["check_ok"]]
        rate = f"{row['per_second']:,.0f} {row['unit'][:3]}/s"
        cpu = "" if row.get("per_cpu_second") is None else f"{row['per_cpu_second']:,.0f}"
        rss = f"{row['peak_rss_mb']:,.0f} MB" if "peak_rss_mb" in row else ""
        print(
            f"{row['name']:30} {row['n']:>10,} {row['seconds']:>8.3f} {rate:>15} {cpu:>11}"
            f" {ratio:>9} {rss:>9} {check}"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1_000_000, help="values per case")
    parser.add_argument("--ref-n", type=int, default=20_000, help="values for the ff3 package")
    parser.add_argument("--repeat", type=int, default=3, help="runs per case; the best counts")
    parser.add_argument("--only", default="", help="run cases whose name contains this")
    parser.add_argument("--json", type=Path, default=RESULTS, help="where to write results")
    parser.add_argument("--stream-n", type=int, default=10_000_000, help="PANs streamed")
    parser.add_argument("--quick", action="store_true", help="smoke test: small sizes")
    parser.add_argument("--stream-worker", nargs=2, metavar=("CSV", "OUT"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.stream_worker:
        print(json.dumps(stream_pans(Path(args.stream_worker[0]), Path(args.stream_worker[1]))))
        return 0
    if args.quick:
        args.n, args.ref_n, args.repeat = 20_000, 2_000, 1
        args.stream_n = min(args.stream_n, 200_000)
    ctx = make_context(args.n, args.ref_n, args.stream_n)
    cases = [c for factory in FACTORIES for c in factory(ctx) if args.only in c.name]
    rows = []
    for item in cases:
        repeat = min(2, args.repeat) if "reference" in item.tags else args.repeat
        rows.append(time_case(item, repeat))
        print(f"  done {item.name} (load average {_load()})", file=sys.stderr, flush=True)
    add_ratios(rows)
    print_table(rows)
    print(f"\nload average (1, 5, 15 min) at the end: {_load()}")
    result = {
        "benchmark": "tokenize",
        "load_average": _load(),
        "stream_n": args.stream_n,
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
