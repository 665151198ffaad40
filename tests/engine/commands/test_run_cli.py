"""Bad input to ``finveil run``: one clear line, a non-zero exit, nothing written."""

from pathlib import Path

import pandas as pd
import pytest

from engine.cli import main

LOANS = Path(__file__).resolve().parents[2] / "data" / "loans_pii.csv.gz"
RAW_SSN = "150-59-7454"  # a raw value of the first loans row


def _spec(tmp_path: Path, *, input_path: Path, pii: str = 'ssn = "ssn"', model: str = "") -> Path:
    path = tmp_path / f"job{len(list(tmp_path.glob('job*.toml')))}.toml"
    path.write_text(
        f'[input]\npath = "{input_path}"\n[pii]\n{pii}\n'
        f'[model]\nlabel = "delinquent"\n{model}\n[output]\ndir = "{tmp_path / "out"}"\n'
    )
    return path


def _run(tmp_path: Path, spec: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = main(["run", str(spec), "--keyring", str(tmp_path / "keys" / "keyring.json")])
    err = capsys.readouterr().err.strip().splitlines()
    return code, err[-1] if err else ""


def _small_csv(tmp_path: Path, frame: pd.DataFrame) -> Path:
    path = tmp_path / f"in{len(list(tmp_path.glob('in*.csv')))}.csv"
    frame.to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def loans_head() -> pd.DataFrame:
    return pd.read_csv(LOANS, nrows=200, dtype=str)


def _cases(loans_head: pd.DataFrame, tmp_path: Path) -> dict[str, tuple[Path, str]]:
    text_income = loans_head.assign(annual_income="high")
    no_label = loans_head.drop(columns=["delinquent"])
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    header_only = tmp_path / "header.csv"
    header_only.write_text(",".join(loans_head.columns) + "\n")
    return {
        "missing input file": (
            _spec(tmp_path, input_path=tmp_path / "nope.csv"),
            "input file not found",
        ),
        "unknown pii column": (
            _spec(tmp_path, input_path=_small_csv(tmp_path, loans_head), pii='passport = "id"'),
            "[pii] column(s) not in the input: passport",
        ),
        "unknown kind": (
            _spec(tmp_path, input_path=_small_csv(tmp_path, loans_head), pii='ssn = "social"'),
            "unknown kind 'social'",
        ),
        "missing label": (
            _spec(tmp_path, input_path=_small_csv(tmp_path, no_label)),
            "label column 'delinquent' is not in the input",
        ),
        "empty file": (_spec(tmp_path, input_path=empty), "input file is empty"),
        "header only": (_spec(tmp_path, input_path=header_only), "no rows"),
        "non-numeric feature": (
            _spec(
                tmp_path,
                input_path=_small_csv(tmp_path, text_income),
                model='features = ["annual_income"]',
            ),
            "feature column(s) are not numeric: annual_income",
        ),
    }


@pytest.mark.parametrize(
    "case",
    [
        "missing input file",
        "unknown pii column",
        "unknown kind",
        "missing label",
        "empty file",
        "header only",
        "non-numeric feature",
    ],
)
def test_bad_input_gives_one_clear_line(
    case: str, tmp_path: Path, loans_head: pd.DataFrame, capsys: pytest.CaptureFixture[str]
) -> None:
    spec, expected = _cases(loans_head, tmp_path)[case]
    code, line = _run(tmp_path, spec, capsys)
    assert code == 1
    assert line.startswith("finveil: error: ")
    assert expected in line
    assert RAW_SSN not in line
    assert not (tmp_path / "out").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".out.staging")]
