"""Discovery on Ray: scan the files of a large tree in parallel tasks (adapter only)."""

from __future__ import annotations

from pathlib import Path

import ray

from engine.discovery import Skipped
from engine.discovery.pipeline import FileScan, ScanSettings, iter_files, scan_file

__all__ = ["scan_tree_ray"]

#: Files per Ray task: enough work per task to amortize scheduling.
FILES_PER_TASK = 64


@ray.remote
def _scan_batch(paths: list[str], settings: ScanSettings) -> list[tuple[str, FileScan]]:
    return [(p, scan_file(Path(p), settings)) for p in paths]


def scan_tree_ray(
    root: Path, settings: ScanSettings, *, follow_symlinks: bool = True
) -> list[tuple[str, FileScan]]:
    """Scan every file under ``root`` on Ray (starting a local Ray if none is running).

    Results hold masked findings only (no values), so they may cross the object store.
    """
    if not ray.is_initialized():
        ray.init(include_dashboard=False, log_to_driver=False)
    out: list[tuple[str, FileScan]] = []
    paths: list[str] = []
    for item in iter_files(root, follow_symlinks=follow_symlinks):
        if isinstance(item, Skipped):
            out.append((item.source, FileScan(fmt="skipped", skipped=[item])))
        else:
            paths.append(str(item))
    shared = ray.put(settings)
    futures = [
        _scan_batch.remote(paths[i : i + FILES_PER_TASK], shared)
        for i in range(0, len(paths), FILES_PER_TASK)
    ]
    for batch in ray.get(futures):
        out.extend(batch)
    return out
