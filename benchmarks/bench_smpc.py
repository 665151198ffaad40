"""SMPC: 3 FinVeil parties over mutual TLS on loopback, next to MPyC on the same tasks.

Usage::

    python benchmarks/bench_smpc.py [--scale 1.0] [--only SUBSTRING] [--no-mpyc]
                                    [--json benchmarks/results/smpc.json]

Each FinVeil party (and the dealer) is its own process (multiprocessing spawn) calling
``engine.smpc.join_session``. A row's time is the slowest party's, from the moment its TLS
links are up (spec check, dealer material, input encoding included) to its result, as MPyC's
timer starts after ``mpc.start()``; the time including link setup is shown too. Bytes are the
framed TLS payload each party sent. MPyC runs ``benchmarks/mpyc_tasks.py -M3`` (3 local
processes, no TLS). Where MPyC is too slow at full size it runs a stated smaller size, and the
full-size time is extrapolated (linear, or n log^2 n for its sort-based PSI) and labelled.
"""

from __future__ import annotations

import argparse
import json
import math
import multiprocessing as mp
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from engine.smpc import generate_identity, join_session, parse_spec, serve_dealer

RESULTS = Path(__file__).resolve().parent / "results" / "smpc.json"
NAMES = ["bank_a", "bank_b", "bank_c"]
DEALER = "dealer"


@dataclass(frozen=True, slots=True, kw_only=True)
class Task:
    """One benchmark row."""

    name: str
    computation: str
    n: int
    extra: str
    mpyc_task: str
    mpyc_n: int
    mpyc_growth: str = "linear"  # how to extrapolate MPyC to n


def _tasks(scale: float) -> list[Task]:
    def s(n: int) -> int:
        return max(10, int(n * scale))

    return [
        Task(
            name="sum of 1M values",
            computation="sum",
            n=s(1_000_000),
            extra="decimals = 2",
            mpyc_task="sum",
            mpyc_n=s(1_000_000),
        ),
        Task(
            name="mean of 1M values",
            computation="mean",
            n=s(1_000_000),
            extra="decimals = 2",
            mpyc_task="mean",
            mpyc_n=s(1_000_000),
        ),
        Task(
            name="dot product, length 1M",
            computation="dot",
            n=s(1_000_000),
            extra="decimals = 2\nbound = 1000.0",
            mpyc_task="dot",
            mpyc_n=s(1_000_000),
        ),
        Task(
            name="100k threshold comparisons",
            computation="threshold",
            n=s(100_000),
            extra="threshold = 1500.0",
            mpyc_task="threshold",
            mpyc_n=s(2_000),
        ),
        Task(
            name="PSI 100k x 100k (x 100k)",
            computation="psi",
            n=s(100_000),
            extra="",
            mpyc_task="psi",
            mpyc_n=64,
            mpyc_growth="nlog2n",
        ),
    ]


def _identities(root: Path) -> dict[str, str]:
    fps = {}
    for name in [*NAMES, DEALER]:
        ident = generate_identity(name)
        (root / f"{name}.crt").write_bytes(ident.cert_pem)
        (root / f"{name}.key").write_bytes(ident.key_pem)
        fps[name] = ident.fingerprint
    return fps


def _spec(task: Task, fps: dict[str, str], base_port: int) -> str:
    lines = [
        "[session]",
        f'id = "bench-{task.computation}"',
        f'computation = "{task.computation}"',
        'column = "x"',
        "timeout_s = 900",
        task.extra,
    ]
    for i, name in enumerate(NAMES):
        lines += [
            "[[party]]",
            f'name = "{name}"',
            f'address = "127.0.0.1:{base_port + i}"',
            f'cert_fingerprint = "{fps[name]}"',
        ]
    lines += [
        "[dealer]",
        # The trusted-process dealer: the benchmark measures the protocols, not attestation.
        'mode = "process"',
        f'name = "{DEALER}"',
        f'address = "127.0.0.1:{base_port + 9}"',
        f'cert_fingerprint = "{fps[DEALER]}"',
    ]
    return "\n".join(lines) + "\n"


def _inputs(task: Task) -> dict[str, dict[str, np.ndarray]]:
    rng = np.random.default_rng(2026)
    if task.computation == "psi":
        common = [f"card-{i:012d}" for i in range(task.n // 2)]
        return {
            name: {
                "x": np.array(
                    common + [f"{name}-{i:012d}" for i in range(task.n - len(common))], dtype=object
                )
            }
            for name in NAMES
        }
    if task.computation in ("sum", "mean"):
        sizes = [task.n // 3 + (1 if i < task.n % 3 else 0) for i in range(3)]
        return {
            name: {"x": rng.uniform(0, 1000, k).round(2)}
            for name, k in zip(NAMES, sizes, strict=True)
        }
    if task.computation == "dot":
        return {
            "bank_a": {"x": rng.uniform(0, 1000, task.n).round(2)},
            "bank_b": {"x": rng.uniform(0, 1000, task.n).round(2)},
            "bank_c": {},
        }
    return {name: {"x": rng.uniform(0, 1000, task.n).round(2)} for name in NAMES}


def _expected(task: Task, inputs: dict[str, dict[str, np.ndarray]]) -> Any:
    if task.computation == "psi":
        return task.n // 2
    if task.computation == "dot":
        a, b = (np.rint(inputs[n]["x"] * 100).astype(object) for n in ("bank_a", "bank_b"))
        return int(np.sum(a * b)) / 10**4
    if task.computation == "threshold":
        return int((np.sum([inputs[n]["x"] for n in NAMES], axis=0) > 1500.0).sum())
    joint = np.concatenate([inputs[n]["x"] for n in NAMES])
    return float(joint.sum() if task.computation == "sum" else joint.mean())


def _party(args: tuple[str, str, str, dict[str, np.ndarray] | None, Any, Any]) -> None:
    name, spec_text, root, inputs, barrier, queue = args
    spec = parse_spec(spec_text)
    stats: dict[str, float] = {}
    cert, key = Path(root) / f"{name}.crt", Path(root) / f"{name}.key"
    barrier.wait()
    start = time.perf_counter()
    if inputs is None:
        serve_dealer(spec, cert=cert, key=key, stats=stats)
        result: dict[str, Any] = {}
    else:
        result = join_session(spec, party=name, inputs=inputs, cert=cert, key=key, stats=stats)
    elapsed = time.perf_counter() - start
    linked = stats.get("link_seconds", 0.0)
    queue.put((name, elapsed, int(stats["bytes_sent"]), result, linked))


def _run_finveil(task: Task, fps: dict[str, str], root: Path, port: int) -> dict[str, Any]:
    inputs = _inputs(task)
    spec_text = _spec(task, fps, port)
    ctx = mp.get_context("spawn")
    members: list[tuple[str, dict[str, np.ndarray] | None]] = [(n, inputs[n]) for n in NAMES]
    if parse_spec(spec_text).needs_dealer:
        members.append((DEALER, None))
    barrier, queue = ctx.Barrier(len(members)), ctx.Queue()
    procs = [
        ctx.Process(target=_party, args=((n, spec_text, str(root), i, barrier, queue),))
        for n, i in members
    ]
    for p in procs:
        p.start()
    got = [queue.get(timeout=1800) for _ in procs]
    for p in procs:
        p.join(60)
    with_setup = max(g[1] for g in got)
    # Like MPyC's timer (started after mpc.start()), count from the moment links are up.
    seconds = max(g[1] - g[4] for g in got)
    result = next(g[3] for g in got if g[0] == "bank_a")
    value = {
        "sum": lambda r: r["sum"],
        "mean": lambda r: r["mean"],
        "dot": lambda r: r["dot"],
        "threshold": lambda r: r["flagged"],
        "psi": lambda r: r["intersection_size"],
    }[task.computation](result)
    expected = _expected(task, inputs)
    ok = math.isclose(float(value), float(expected), rel_tol=1e-9, abs_tol=1e-6)
    return {
        "seconds": seconds,
        "seconds_with_link_setup": with_setup,
        "bytes_sent": {g[0]: g[2] for g in got},
        "correct": ok,
    }


def _run_mpyc(task: Task, port: int) -> dict[str, Any]:
    script = Path(__file__).resolve().parent / "mpyc_tasks.py"
    proc = subprocess.run(  # noqa: S603 -- our own script, fixed arguments
        [sys.executable, str(script), "-M3", "-B", str(port), task.mpyc_task, str(task.mpyc_n)],
        capture_output=True,
        text=True,
        timeout=3600,
        check=True,
    )
    row = json.loads(proc.stdout.strip().splitlines()[-1])
    sent = re.findall(r"bytes sent: (\d+)", proc.stdout + proc.stderr)
    measured = float(row["seconds"])
    n, m = task.n, task.mpyc_n
    if task.mpyc_growth == "nlog2n":
        factor = (n * math.log2(3 * n) ** 2) / (m * math.log2(3 * m) ** 2)
    else:
        factor = n / m
    return {
        "measured_n": m,
        "measured_seconds": measured,
        "seconds": measured * factor,
        "extrapolated": m != n,
        "party0_bytes_sent": int(sent[-1]) if sent else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0, help="multiply every size (smoke runs)")
    parser.add_argument("--only", default="", help="run rows whose name contains this")
    parser.add_argument("--no-mpyc", action="store_true", help="skip the MPyC columns")
    parser.add_argument("--json", type=Path, default=RESULTS)
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        fps = _identities(root)
        for i, task in enumerate(t for t in _tasks(args.scale) if args.only in t.name):
            fv = _run_finveil(task, fps, root, 17100 + 20 * i)
            ref = None if args.no_mpyc else _run_mpyc(task, 18100 + 20 * i)
            rows.append({"task": task.name, "n": task.n, "finveil": fv, "mpyc": ref})
            _print_row(rows[-1])
    meta = {
        "python": platform.python_version(),
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "date": time.strftime("%Y-%m-%d"),
    }
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(
        json.dumps({"meta": meta, "rows": rows}, indent=2) + "\n", encoding="utf-8"
    )


def _print_row(row: dict[str, Any]) -> None:
    fv, ref = row["finveil"], row["mpyc"]
    order = [n for n in [*NAMES, DEALER] if n in fv["bytes_sent"]]
    sent = "/".join(f"{fv['bytes_sent'][n] / 2**20:.1f}" for n in order)
    line = (
        f"{row['task']:<27} finveil {fv['seconds']:6.2f} s ({fv['seconds_with_link_setup']:.2f} "
        f"with TLS setup) sent MiB {sent:<20} ok={fv['correct']}"
    )
    if ref is not None:
        label = (
            f" (extrapolated from n={ref['measured_n']}: {ref['measured_seconds']:.2f} s)"
            if ref["extrapolated"]
            else ""
        )
        speedup = ref["seconds"] / fv["seconds"]
        line += f"  | mpyc {ref['seconds']:9.2f} s{label}  speed-up {speedup:6.1f}x"
    print(line, flush=True)


if __name__ == "__main__":
    main()
