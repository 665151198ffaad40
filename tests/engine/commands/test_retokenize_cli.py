from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

import engine.cli as cli
from tests.engine.jobs.test_retokenize import (
    PII,
    JobOutput,
    detokenized,
    make_job_output,
    manifest_of,
    open_ring,
    rotate_all,
)


@pytest.fixture(autouse=True)
def only_our_commands(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    # Other command modules are developed in parallel; these tests exercise ours alone.
    monkeypatch.setattr(cli, "_COMMAND_MODULES", ("keys", "retokenize"))
    monkeypatch.setenv("FINVEIL_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("FINVEIL_KEYRING_PASSPHRASE", raising=False)


@pytest.fixture
def job(tmp_path: Path) -> JobOutput:
    return make_job_output(tmp_path / "out", open_ring(tmp_path / "home"))


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def _assert_quiet(job: JobOutput, *texts: str) -> None:
    tokens = pd.read_parquet(job.out / "tokenized.parquet")
    shown = [*job.secrets, *(str(v) for c in PII for v in tokens[c].tolist())]
    for text in texts:
        assert not [s for s in shown if s in text]


def test_retokenize_then_retire(capsys: pytest.CaptureFixture[str], job: JobOutput) -> None:
    rotate_all(job.ring)
    code, _, err = _run(capsys, "keys", "retire", "tokenize.pan", "1")
    assert code == 1
    assert "still use it" in err
    code, out, err = _run(capsys, "retokenize", str(job.out), "--batch-rows", "8")
    assert code == 0, err
    assert "card_number: tokenize.pan version 1 -> 2" in out
    assert f"retokenized 29 rows ({len(PII)} columns) in place; dataset {job.job_id}" in out
    assert "quarantine.parquet left as is" in out
    _assert_quiet(job, out, err)
    assert detokenized(job.out, job.ring, 2)["ssn"].tolist() == job.raw["ssn"].tolist()
    code, out, _ = _run(capsys, "keys", "retire", "tokenize.pan", "1")
    assert code == 0
    assert "retired tokenize.pan version 1" in out

    code, out, _ = _run(capsys, "retokenize", str(job.out))
    assert code == 0
    assert "nothing to do" in out
    assert "already uses the target key version" in out


def test_to_version_and_out(
    capsys: pytest.CaptureFixture[str], job: JobOutput, tmp_path: Path
) -> None:
    rotate_all(job.ring)
    job.ring.rotate("tokenize.pan")  # pan: v3 primary, v2 active
    copy = tmp_path / "copy"
    code, out, err = _run(
        capsys, "retokenize", str(job.out), "--to-version", "2", "--out", str(copy)
    )
    assert code == 0, err
    assert f"to {copy}" in out
    assert {p["key_version"] for p in manifest_of(copy)["protection"].values()} == {2}
    assert {p["key_version"] for p in manifest_of(job.out)["protection"].values()} == {1}
    assert json.loads((copy / "manifest.json").read_text())["dataset_id"] != job.job_id


def test_refusals_exit_1(
    capsys: pytest.CaptureFixture[str], job: JobOutput, tmp_path: Path
) -> None:
    code, _, err = _run(capsys, "retokenize", str(tmp_path / "nowhere"))
    assert code == 1
    assert "InputError: retokenize: no dataset directory" in err
    (job.out / "manifest.json").unlink()
    code, _, err = _run(capsys, "retokenize", str(job.out))
    assert code == 1
    assert "has no manifest.json" in err
    code, _, err = _run(capsys, "retokenize", str(tmp_path), "--keyring", str(tmp_path / "k.json"))
    assert code == 1
    assert "KeyManagementError" in err
