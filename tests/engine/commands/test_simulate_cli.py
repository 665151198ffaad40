from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest

import engine.cli as cli
from engine.datasets import simulate_transactions


@pytest.fixture(autouse=True)
def only_our_commands(monkeypatch: pytest.MonkeyPatch) -> None:
    # Other command modules are developed in parallel; these tests exercise ours alone.
    monkeypatch.setattr(cli, "_COMMAND_MODULES", ("simulate",))


def test_simulate_writes_parquet(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "tx.parquet"
    code = cli.main(["simulate", "--rows", "2500", "--out", str(out), "--seed", "4"])
    printed = capsys.readouterr().out
    assert code == 0
    assert "wrote 2500 transactions" in printed
    assert "card_testing:" in printed
    pd.testing.assert_frame_equal(
        pq.read_table(out).to_pandas(), simulate_transactions(2500, seed=4)
    )


@pytest.mark.parametrize(
    "argv",
    [["--rows", "0", "--out", "x.parquet"], ["--rows", "5", "--out", "no/such/dir/x.parquet"]],
)
def test_simulate_rejects_bad_options(
    argv: list[str],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)
    assert cli.main(["simulate", *argv]) == 1
    assert "ConfigError" in capsys.readouterr().err
