from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from engine.discovery.pipeline import report_of, scan_located, settings_for
from engine.jobs._cluster import ClusterInfo, ray_cluster
from engine.jobs._scan_ray import scan_tree_ray

pytestmark = pytest.mark.ray


@pytest.fixture(scope="module")
def cluster() -> Iterator[ClusterInfo]:
    with ray_cluster() as info:
        yield info


def test_scan_on_ray_equals_in_process(cluster: ClusterInfo, tmp_path: Path) -> None:
    for i in range(5):
        (tmp_path / f"f{i}.log").write_text(f"card 4111111111111111 ssn 123-45-6789 n={i}\n")
    (tmp_path / "blob.bin").write_bytes(b"\x00" * 10)
    settings = settings_for()
    on_ray = report_of(scan_tree_ray(tmp_path, settings))
    local = report_of(scan_located(tmp_path, settings))
    assert on_ray.findings == local.findings
    assert len(on_ray.findings) == 10
    assert on_ray.skipped == local.skipped
