"""2, 3 and 5 parties as separate OS processes running the ``finveil smpc`` CLI on 127.0.0.1.

The processes call ``engine.cli.main`` with only the ``smpc`` command registered: the full
command table imports Ray at start-up, which costs seconds per process on a busy machine.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding

import engine.cli as cli
from enclaves.apps import app_dir
from enclaves.platform import SimulatedPlatform
from enclaves.runtime import measure_app, sign_app
from engine.compliance import verify_manifest
from engine.smpc.hazmat import fingerprint
from tests.enclaves.conftest import copy_app
from tests.engine.smpc._harness import DEALER, Cluster

_RUNNER = (
    "import sys, engine.cli as c; c._COMMAND_MODULES = ('smpc',); sys.exit(c.main(sys.argv[1:]))"
)
ROOT = Path(__file__).resolve().parents[3]


def _cli(*args: str | Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", _RUNNER, *map(str, args)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _write_csv(path: Path, column: str, values: list[str]) -> None:
    path.write_text(f"{column},other\n" + "".join(f"{v},x\n" for v in values), encoding="utf-8")


def _run_session(
    cluster: Cluster,
    spec_text: str,
    values: dict[str, list[str]],
    dealer_args: tuple[str | Path, ...] = (),
) -> dict[str, dict[str, object]]:
    spec = cluster.root / "session.toml"
    spec.write_text(spec_text, encoding="utf-8")
    procs = {}
    if "threshold" in spec_text:
        procs[DEALER] = _cli("smpc", "dealer", "--session", spec, *dealer_args)
    for name, vals in values.items():
        _write_csv(cluster.root / f"{name}.csv", "amount", vals)
        procs[name] = _cli(
            "smpc",
            "join",
            "--session",
            spec,
            "--party",
            name,
            "--input",
            cluster.root / f"{name}.csv",
            "--result",
            cluster.root / f"{name}.json",
            # Each bank has its own keyring (it signs its own manifest).
            "--keyring",
            cluster.root / f"{name}-keys" / "keyring.json",
        )
    for name, proc in procs.items():
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, f"{name}: {err}"
    return {n: json.loads((cluster.root / f"{n}.json").read_text()) for n in values}


def test_two_processes_psi(tmp_path: Path) -> None:
    cluster = Cluster.create(tmp_path, ["bank_a", "bank_b"])
    common = [f"5500{i:012d}" for i in range(25)]
    values = {
        "bank_a": common + [f"4111{i:012d}" for i in range(40)],
        "bank_b": [f"3700{i:012d}" for i in range(30)] + common,
    }
    out = _run_session(
        cluster, cluster.spec_text("psi", reveal_to=["bank_b"], timeout_s=60), values
    )
    assert out["bank_a"]["revealed"] is False
    assert sorted(out["bank_b"]["result"]["intersection"]) == common  # type: ignore[index]


def test_three_processes_threshold_with_the_enclave_dealer(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    names = ["bank_a", "bank_b", "bank_c"]
    cluster = Cluster.create(tmp_path, names)
    # The deployer lists the parties' client ids in the dealer app, signs it, and pins the
    # resulting measurement and the platform root in the spec.
    ids = []
    for name in names:
        assert cli.main(["smpc", "client-id", "--party", name, "--keys", str(tmp_path)]) == 0
        ids.append(capsys.readouterr().out.strip())
    app = copy_app(app_dir("dealer"), tmp_path / "dealer-app", clients=json.dumps(ids))
    sign_app(app, Ed25519PrivateKey.generate())
    platform = SimulatedPlatform.open(tmp_path / "platform")
    measurement = measure_app(app).hex()
    root = fingerprint(platform.root_certificate.public_bytes(Encoding.DER))
    lines = (
        f'mode = "enclave"\nmeasurements = ["{measurement}"]\nroot_fingerprint = "{root}"\n'
        "allow_simulated = true\ntimeout_s = 30"
    )
    rng = np.random.default_rng(3)
    data = {n: rng.uniform(0, 1000, 200).round(2) for n in names}
    out = _run_session(
        cluster,
        cluster.spec_text(
            "threshold", extra="threshold = 1600.0", timeout_s=60, dealer_lines=lines
        ),
        {n: [f"{v:.2f}" for v in data[n]] for n in names},
        dealer_args=("--enclave", app, "--platform", tmp_path / "platform"),
    )
    expected = (np.sum(list(data.values()), axis=0) > 1600.0).tolist()
    for name in names:
        assert out[name]["result"]["flags"] == expected  # type: ignore[index]
        # Each party's signed manifest records the dealer mode and the pinned measurement.
        report = verify_manifest(tmp_path / f"{name}.json.finveil-smpc")
        dealer = report.predicate["smpc"]["dealer"]
        assert dealer["mode"] == "enclave"
        assert dealer["pinned"]["measurements"] == [measurement]


@pytest.mark.slow
def test_five_processes_mean(tmp_path: Path) -> None:
    names = [f"bank_{i}" for i in range(5)]
    cluster = Cluster.create(tmp_path, names)
    rng = np.random.default_rng(5)
    data = {n: rng.uniform(-100, 100, 30 + i).round(4) for i, n in enumerate(names)}
    out = _run_session(
        cluster,
        cluster.spec_text("mean", reveal_to=names[:2], timeout_s=60),
        {n: [f"{v}" for v in data[n]] for n in names},
    )
    joint = np.concatenate(list(data.values()))
    assert out["bank_0"]["result"]["mean"] == pytest.approx(joint.mean(), abs=1e-4)  # type: ignore[index]
    assert out["bank_1"]["result"]["count"] == joint.size  # type: ignore[index]
    assert all(out[n]["result"] == {} for n in names[2:])
