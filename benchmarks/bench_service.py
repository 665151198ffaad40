"""Sidecar benchmark: real HTTP on loopback against ``finveil serve`` in its own process.

Measures single-token request latency (p50/p99) and 1,000-token batch throughput at 1 and
32 concurrent clients (httpx.AsyncClient, every request signed and every response
verified), side by side with the in-process ``tokenize_frame`` call in the same run.

Run: ``.venv/bin/python benchmarks/bench_service.py [--requests N]``; writes
``benchmarks/results/service.json``. Request counts are bounded (defaults below).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.keys import KeyPurpose
from engine.keys._local import STANDARD_KEYS, open_local
from engine.service import Client
from engine.tokenize import Kind, tokenize_frame

RESULTS = Path(__file__).resolve().parent / "results" / "service.json"


def pans(n: int, seed: int = 7) -> list[str]:
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        digits = [4, *rng.integers(0, 10, 14).tolist()]
        total = 0
        for i, d in enumerate(reversed(digits)):
            v = d * 2 if i % 2 == 0 else d
            total += v - 9 if v > 9 else v
        out.append("".join(map(str, digits)) + str((10 - total % 10) % 10))
    return out


def _port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _pct(samples: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(samples) * 1e3, q))


async def _worker(url: str, signer: Client, bodies: list[bytes], latencies: list[float]) -> None:
    async with httpx.AsyncClient(base_url=url, timeout=60) as http:
        for body in bodies:
            headers = signer.sign_request("POST", "/v1/tokenize", body)
            start = time.perf_counter()
            response = await http.post("/v1/tokenize", content=body, headers=headers)
            latencies.append(time.perf_counter() - start)
            if response.status_code != 200:
                raise RuntimeError(f"HTTP {response.status_code}")
            signer.verify_response(response, request_signature=headers["signature"])


def http_run(
    url: str, signer: Client, *, concurrency: int, per_client: int, values: list[str]
) -> dict[str, Any]:
    body = json.dumps({"kind": "pan", "column": "card_number", "values": values}).encode()
    latencies: list[float] = []

    async def main() -> float:
        start = time.perf_counter()
        await asyncio.gather(
            *(_worker(url, signer, [body] * per_client, latencies) for _ in range(concurrency))
        )
        return time.perf_counter() - start

    wall = asyncio.run(main())
    requests = concurrency * per_client
    return {
        "mode": "http",
        "concurrency": concurrency,
        "tokens_per_request": len(values),
        "requests": requests,
        "p50_ms": _pct(latencies, 50),
        "p99_ms": _pct(latencies, 99),
        "requests_per_s": requests / wall,
        "tokens_per_s": requests * len(values) / wall,
    }


def inproc_run(call: Callable[[], Any], *, repeats: int, tokens: int) -> dict[str, Any]:
    latencies = []
    start = time.perf_counter()
    for _ in range(repeats):
        t = time.perf_counter()
        call()
        latencies.append(time.perf_counter() - t)
    wall = time.perf_counter() - start
    return {
        "mode": "in-process",
        "concurrency": 1,
        "tokens_per_request": tokens,
        "requests": repeats,
        "p50_ms": _pct(latencies, 50),
        "p99_ms": _pct(latencies, 99),
        "requests_per_s": repeats / wall,
        "tokens_per_s": repeats * tokens / wall,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=400, help="single-token requests")
    parser.add_argument("--batches", type=int, default=24, help="1,000-token requests (x1)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        keyring = Path(tmp) / "keyring.json"
        ring, _ = open_local(keyring, create=True, root_key_file=Path(tmp) / "keyring.root")
        for key_id, purpose in STANDARD_KEYS:
            ring.ensure(key_id, purpose)
        secret = ring.ensure("client.bench", KeyPurpose.CLIENT).secret
        pan_key = ring.primary("tokenize.pan")
        port = _port()
        server = subprocess.Popen(  # noqa: S603 - our own interpreter and arguments
            [
                sys.executable,
                "-m",
                "engine.cli",
                "serve",
                "--keyring",
                str(keyring),
                "--port",
                str(port),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env=dict(os.environ),
        )
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 30
            while True:
                try:
                    if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline or server.poll() is not None:
                    raise RuntimeError("the sidecar did not start")
                time.sleep(0.1)
            signer = Client(url, "bench", secret)
            one, batch = pans(1), pans(1000)
            http_run(url, signer, concurrency=4, per_client=10, values=one)  # Warm-up.
            rows = [
                http_run(url, signer, concurrency=1, per_client=args.requests, values=one),
                http_run(
                    url, signer, concurrency=32, per_client=max(1, args.requests // 32), values=one
                ),
                http_run(url, signer, concurrency=1, per_client=args.batches, values=batch),
                http_run(
                    url, signer, concurrency=32, per_client=max(1, args.batches // 8), values=batch
                ),
            ]
            signer.close()
        finally:
            server.send_signal(signal.SIGTERM)
            server.wait(timeout=15)
    frame1 = pd.DataFrame({"card_number": pd.Series(one, dtype=object)})
    frame1k = pd.DataFrame({"card_number": pd.Series(batch, dtype=object)})
    keys = {Kind.PAN: pan_key}
    rows.insert(
        0,
        inproc_run(
            lambda: tokenize_frame(frame1, {"card_number": "pan"}, keys),
            repeats=args.requests,
            tokens=1,
        ),
    )
    rows.insert(
        3,
        inproc_run(
            lambda: tokenize_frame(frame1k, {"card_number": "pan"}, keys),
            repeats=args.batches,
            tokens=1000,
        ),
    )
    print(
        f"{'mode':<11} {'clients':>7} {'tokens/req':>10} {'requests':>8} {'p50 ms':>8} "
        f"{'p99 ms':>8} {'req/s':>9} {'tokens/s':>10}"
    )
    for r in rows:
        print(
            f"{r['mode']:<11} {r['concurrency']:>7} {r['tokens_per_request']:>10} "
            f"{r['requests']:>8} {r['p50_ms']:>8.2f} {r['p99_ms']:>8.2f} "
            f"{r['requests_per_s']:>9.0f} {r['tokens_per_s']:>10.0f}"
        )
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(
        json.dumps(
            {
                "benchmark": "service",
                "machine": {"python": platform.python_version(), "cpus": os.cpu_count()},
                "note": "server: finveil serve (one uvicorn process); clients: httpx.AsyncClient "
                "in one process, signed requests, verified responses, loopback",
                "rows": rows,
            },
            indent=2,
        )
        + "\n"
    )
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
