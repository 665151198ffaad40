"""Fraud feature windows on Ray: groups (card or terminal tokens) split across tasks.

A row's window counts and sums depend only on the rows of its own group, so the driver
splits the rows by group code, each task runs :func:`engine.models.window_aggregates` on
its share, and the driver puts the results back in row order. Tasks receive integer group
codes, times and amounts or labels: never a token, let alone a raw identifier.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

import numpy as np
import ray
from numpy.typing import NDArray

from engine.models import Aggregate, window_aggregates
from engine.models._fraud_features import Span

# Below this many rows one process is faster than shipping the arrays to tasks.
MIN_ROWS_FOR_RAY: Final = 500_000


@ray.remote
def _aggregate_task(
    groups: NDArray[np.int64], times_ns: NDArray[np.int64], values: NDArray[np.int64],
    spans: Sequence[Span],
) -> list[tuple[NDArray[np.int64], NDArray[np.int64]]]:  # fmt: skip
    return window_aggregates(groups, times_ns, values, spans)


def ray_aggregate(partitions: int, *, min_rows: int = MIN_ROWS_FOR_RAY) -> Aggregate:
    """Return an ``aggregate`` for ``compute_fraud_features`` that runs on the Ray cluster.

    Args:
        partitions: Tasks per call (e.g. the cluster's CPUs); rows go to task
            ``group % partitions``.
        min_rows: Inputs smaller than this are computed in the calling process.

    Returns:
        A function with the signature and results of :func:`window_aggregates`.
    """
    if partitions < 1:
        raise ValueError("partitions must be at least 1")

    def aggregate(
        groups: NDArray[np.int64],
        times_ns: NDArray[np.int64],
        values: NDArray[np.int64],
        spans: Sequence[Span],
    ) -> list[tuple[NDArray[np.int64], NDArray[np.int64]]]:
        n = len(groups)
        if n < min_rows or partitions == 1:
            return window_aggregates(groups, times_ns, values, spans)
        share = groups % partitions
        order = np.argsort(share, kind="stable")
        cuts = np.searchsorted(share[order], np.arange(partitions + 1))
        rows = [order[cuts[p] : cuts[p + 1]] for p in range(partitions)]
        refs = [
            _aggregate_task.remote(groups[r], times_ns[r], values[r], tuple(spans)) for r in rows
        ]
        out = [(np.zeros(n, dtype=np.int64), np.zeros(n, dtype=np.int64)) for _ in spans]
        for r, result in zip(rows, ray.get(refs), strict=True):
            for (count, total), (part_count, part_total) in zip(out, result, strict=True):
                count[r] = part_count
                total[r] = part_total
        return out

    return aggregate
