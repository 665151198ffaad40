"""The job against a separate Ray head started with ``ray start --head`` on 127.0.0.1."""

import os
import secrets
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from tests.engine.jobs.conftest import LOANS, finveil, predicate

pytestmark = [pytest.mark.ray, pytest.mark.slow]
RAY = str(Path(sys.executable).with_name("ray"))
# Both sides on 127.0.0.1 only, with Ray's token authentication on. The token is the
# test's own (``ray start`` will not create one), never ``~/.ray/auth_token``.
LOOPBACK_TOKEN_AUTH = {
    "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0",
    "RAY_AUTH_MODE": "token",
    "RAY_AUTH_TOKEN": secrets.token_hex(32),
}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def ray_head(tmp_path: Path) -> Iterator[str]:
    port = _free_port()
    env = {**os.environ, **LOOPBACK_TOKEN_AUTH, "RAY_USAGE_STATS_ENABLED": "0"}
    env.pop("RAY_ADDRESS", None)
    started = subprocess.run(
        [
            RAY,
            "start",
            "--head",
            "--node-ip-address=127.0.0.1",
            f"--port={port}",
            "--num-cpus=2",
            "--include-dashboard=false",
            "--disable-usage-stats",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert started.returncode == 0, started.stderr[-2000:]
    try:
        yield f"127.0.0.1:{port}"
    finally:
        subprocess.run([RAY, "stop", "--force"], capture_output=True, timeout=60, check=False)


def test_job_runs_on_an_existing_cluster(ray_head: str, tmp_path: Path) -> None:
    sample = pd.read_csv(LOANS, nrows=2000, dtype=str)
    source = tmp_path / "loans.csv"
    sample.to_csv(source, index=False)
    spec = tmp_path / "job.toml"
    spec.write_text(
        f'[input]\npath = "{source}"\n[pii]\nssn = "ssn"\ncard_number = "pan"\nemail = "email"\n'
        '[model]\nlabel = "delinquent"\nfeatures = ["annual_income", "debt_to_income", '
        '"interest_rate", "loan_amount"]\n'
    )
    done = finveil(
        "run",
        str(spec),
        "--ray-address",
        ray_head,
        "--out",
        str(tmp_path / "out"),
        home=tmp_path / "home",
        env=LOOPBACK_TOKEN_AUTH,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    manifest = predicate(tmp_path / "out")
    assert manifest["runtime"]["ray"]["address"] == ray_head
    assert manifest["rows"]["reconciled"] is True
    assert manifest["rows"]["in"] == 2000
