from __future__ import annotations

import io
import tomllib
from importlib import resources
from pathlib import Path

import pytest

from engine.keys import KeyRing
from engine.keys.backends import KeyFileRoot
from engine.progress import JOB_STAGES, StageProgress, stage_progress


def test_each_stage_completes_the_previous_one() -> None:
    out = io.StringIO()
    with stage_progress(file=out) as bar:
        for i, stage in enumerate(JOB_STAGES):
            bar(stage)
            assert bar.completed == i
    assert bar.completed == len(JOB_STAGES)
    assert bar.stages_seen == JOB_STAGES
    text = out.getvalue()
    assert f"{len(JOB_STAGES)}/{len(JOB_STAGES)}" in text
    assert "encrypt_and_score" in text


def test_failure_leaves_the_bar_where_the_job_stopped() -> None:
    bar = StageProgress(file=io.StringIO())

    def job() -> None:
        with bar:
            bar("read_and_validate")
            bar("start_ray")
            raise RuntimeError("ray did not start")

    with pytest.raises(RuntimeError):
        job()
    assert bar.completed == 1


def test_unknown_stages_extend_the_bar() -> None:
    out = io.StringIO()
    with stage_progress(("a",), file=out) as bar:
        bar("a")
        bar("b")
        bar("c")
    assert bar.completed == 3
    assert "3/3" in out.getvalue()


def test_disabled_bar_still_counts() -> None:
    out = io.StringIO()
    with stage_progress(file=out, disable=True) as bar:
        bar("tokenize")
    assert bar.completed == 1
    assert out.getvalue() == ""


@pytest.mark.slow
@pytest.mark.ray
def test_run_job_reports_the_expected_stages(tmp_path: Path) -> None:
    from engine.datasets import german_credit_with_pii
    from engine.jobs import parse_spec, run_job

    root = tmp_path / "keyring.root"
    KeyFileRoot.generate(root)
    ring = KeyRing.create(
        tmp_path / "keyring.json", root_key_file=root, audit_path=tmp_path / "audit.jsonl"
    )
    text = resources.files("engine.datasets").joinpath("data/demo_job.toml").read_text()
    spec = parse_spec(tomllib.loads(text), base_dir=tmp_path)
    with stage_progress(file=io.StringIO()) as bar:
        result = run_job(
            spec,
            keyring=ring,
            frame=german_credit_with_pii().head(200),
            output_dir=tmp_path / "out",
            progress=bar,
        )
    assert bar.stages_seen == JOB_STAGES
    assert bar.completed == len(JOB_STAGES)
    assert tuple(result.manifest["timings_s"]) == JOB_STAGES
