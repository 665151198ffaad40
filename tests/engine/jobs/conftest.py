"""One real run of the batch job on the Lending Club loans, shared by the end-to-end tests."""

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from engine.compliance import verify_manifest

LOANS = Path(__file__).resolve().parents[2] / "data" / "loans_pii.csv.gz"
PII = {
    "customer_id": "id",
    "full_name": "name",
    "ssn": "ssn",
    "card_number": "pan",
    "iban": "iban",
    "email": "email",
    "phone": "phone",
    "date_of_birth": "date",
}


@dataclass(frozen=True)
class JobRun:
    out: Path
    stdout: str
    stderr: str
    raw: pd.DataFrame


def write_loans_spec(directory: Path) -> Path:
    lines = [f'[input]\npath = "{LOANS}"', "[pii]"]
    lines += [f'{column} = "{kind}"' for column, kind in PII.items()]
    lines += [
        '[model]\ntask = "credit"\nlabel = "delinquent"',
        f'[output]\ndir = "{directory / "out"}"',
    ]
    spec = directory / "loans.toml"
    spec.write_text("\n".join(lines) + "\n")
    return spec


def finveil(
    *args: str, home: Path, timeout_s: float = 400, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **(env or {}), "FINVEIL_HOME": str(home)}
    env.pop("RAY_ADDRESS", None)
    return subprocess.run(
        [sys.executable, "-m", "engine.cli", "-v", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout_s,
        check=False,
    )


@pytest.fixture(scope="session")
def loans_run(tmp_path_factory: pytest.TempPathFactory) -> JobRun:
    directory = tmp_path_factory.mktemp("loans")
    spec = write_loans_spec(directory)
    done = finveil("run", str(spec), home=directory / "home")
    assert done.returncode == 0, done.stderr[-3000:]
    raw = pd.read_csv(LOANS, dtype=str, keep_default_na=False)
    return JobRun(out=directory / "out", stdout=done.stdout, stderr=done.stderr, raw=raw)


def predicate(out: Path) -> dict[str, Any]:
    """The verified predicate of a job's signed manifest."""
    return dict(verify_manifest(out / "manifest.json").predicate)
