"""The bench_smpc.py tasks in MPyC, for the side-by-side rows (run by bench_smpc.py).

Usage: ``python benchmarks/mpyc_tasks.py -M3 -B PORT TASK N``; party 0 prints one JSON line.
MPyC starts parties 1 and 2 itself as local processes (no TLS: MPyC's ``--ssl`` needs a CA).
"""

from __future__ import annotations

import json
import sys
import time

import numpy as np
from mpyc.runtime import mpc

# MPyC parsed and removed its own options from sys.argv at import.
TASK, N = sys.argv[1], int(sys.argv[2])
secfxp = mpc.SecFxp(64, 16)
secint = mpc.SecInt(64)


def _local(n: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).uniform(0, 1000, n).round(2)


async def main() -> None:
    await mpc.start()
    me, m = mpc.pid, len(mpc.parties)
    start = time.perf_counter()
    if TASK in ("sum", "mean"):
        # MPyC inputs arrays of one shape from every party: pad with zeros (sum unchanged).
        size = -(-N // m)
        share = N // m + (1 if me < N % m else 0)
        mine = secfxp.array(np.concatenate([_local(share, me), np.zeros(size - share)]))
        parts = mpc.input(mine)
        total = mpc.sum([mpc.np_sum(p) for p in parts])
        value = await mpc.output(total / N if TASK == "mean" else total)
    elif TASK == "dot":
        x = mpc.input(secfxp.array(_local(N, me)), senders=0)
        y = mpc.input(secfxp.array(_local(N, me)), senders=1)
        value = await mpc.output(mpc.np_matmul(x, y))
    elif TASK == "threshold":
        parts = mpc.input(secfxp.array(_local(N, me)))
        total = parts[0] + parts[1] + parts[2] if m == 3 else mpc.np_sum(np.stack(parts), axis=0)
        value = float(np.sum(await mpc.output(mpc.np_less(1500.0, total))))
    elif TASK == "psi":
        # No PSI in MPyC: oblivious sort of the union, then equal neighbours (sets are distinct
        # within a party, so a value appearing m times in a row is in every party's set).
        rng = np.random.default_rng(me)
        common = np.arange(N // 2)
        own = np.concatenate([common, rng.choice(10**12, N - N // 2, replace=False) + 10**6])
        parts = mpc.input(secint.array(own.astype(np.int64)))
        union = mpc.np_sort(mpc.np_concatenate(parts))
        equal = union[m - 1 :] == union[: -(m - 1)]
        value = float(np.sum(await mpc.output(equal)))
    else:
        raise SystemExit(f"unknown task {TASK}")
    elapsed = time.perf_counter() - start
    await mpc.shutdown()
    if me == 0:
        print(json.dumps({"task": TASK, "n": N, "seconds": elapsed, "value": float(np.sum(value))}))


mpc.run(main())
