import re
from pathlib import Path

import pytest

from engine.errors import ConfigError, InputError
from engine.jobs import Algorithm, Task, load_spec, parse_spec

BASE = {
    "input": {"path": "loans.csv"},
    "pii": {"ssn": "ssn", "card_number": "pan"},
    "model": {"label": "delinquent"},
}


def _with(**tables: object) -> dict[str, object]:
    doc: dict[str, object] = {k: dict(v) for k, v in BASE.items()}
    doc.update(tables)
    return doc


def test_defaults_are_documented_values(tmp_path: Path) -> None:
    spec = parse_spec(BASE, base_dir=tmp_path)
    assert spec.input_path == tmp_path / "loans.csv"
    assert spec.output_dir == tmp_path / "out/job"
    assert spec.scheme == "FF1"
    assert spec.model.task is Task.CREDIT
    assert spec.model.features is None
    assert spec.model.test_size == 0.3
    assert spec.model.positive == 1


def test_full_example_from_readme(tmp_path: Path) -> None:
    path = tmp_path / "job.toml"
    path.write_text(
        """
[input]
path = "loans.csv"
[pii]
customer_id = "id"
full_name = "name"
[model]
task = "fraud"
label = "delinquent"
features = ["annual_income", "debt_to_income"]
[output]
dir = "out/loans"
"""
    )
    spec = load_spec(path)
    assert spec.model.task is Task.FRAUD
    assert spec.model.features == ("annual_income", "debt_to_income")
    assert spec.output_dir == tmp_path / "out/loans"


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        ({"pii": BASE["pii"], "model": BASE["model"]}, "missing [input]"),
        (_with(pii={"ssn": "social"}), "unknown kind 'social'"),
        (_with(pii={}), "[pii] must map"),
        (_with(model={"task": "credit"}), "label is required"),
        (_with(model={"label": "y", "task": "churn"}), "task must be"),
        (_with(model={"label": "y", "test_size": 1.5}), "test_size"),
        (_with(model={"label": "ssn"}), "also listed in [pii]"),
        (_with(model={"label": "y", "colour": 1}), "unknown option(s) in [model]: colour"),
        (_with(tokenize={"scheme": "FF2"}), "scheme must be"),
        (_with(extra={"a": 1}), "unknown option(s) in [top level]: extra"),
        (_with(tokenize={"batch_rows": "lots"}), "[tokenize] batch_rows must be an integer"),
        (_with(model={"label": "y", "test_size": "x"}), "[model] test_size must be a number"),
        (_with(model={"label": "y", "threshold": "high"}), "[model] threshold must be a number"),
        (_with(model={"label": "y", "seed": 1.5}), "[model] seed must be an integer"),
        (_with(model={"label": "y", "seed": True}), "[model] seed must be an integer"),
        (_with(model={"label": "y", "positive": 1.5}), "[model] positive must be a string"),
        (_with(name=5), "[top level] name must be a string"),
        (_with(output={"dir": 5}), "[output] dir must be a string"),
        (_with(input={"path": ["a"]}), "[input] path must be a string"),
        (_with(pii={"ssn": "ssn", "iban": 3}), "[pii] column 'iban': the kind must be a string"),
        (_with(model={"label": "y", "algorithm": "forest"}), "algorithm must be 'logistic' or"),
        (
            _with(model={"label": "y", "task": "fraud", "algorithm": "scorecard"}),
            "'scorecard' is for task = 'credit' only",
        ),
        (
            _with(model={"label": "y", "compare_raw": 1}),
            "[model] compare_raw must be true or false",
        ),
        (
            _with(model={"label": "y", "task": "fraud", "fraud": {"baseline": "no"}}),
            "[model.fraud] baseline must be true or false",
        ),
        (_with(model={"label": "y", "task": "fraud", "fraud": {"k": 0}}), "k must be at least 1"),
        (
            _with(model={"label": "y", "task": "fraud", "fraud": {"test_days": 0}}),
            "test_days must be >= 1",
        ),
    ],
)
def test_bad_specs_name_the_problem(doc: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)):
        parse_spec(doc)


def test_missing_spec_file(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="cannot read job spec"):
        load_spec(tmp_path / "nope.toml")


def test_invalid_toml(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text("[input\npath=")
    with pytest.raises(ConfigError, match="invalid TOML"):
        load_spec(path)


def test_model_options_default_to_logistic_with_raw_comparison_and_baseline() -> None:
    spec = parse_spec(_with(model={"label": "y", "task": "fraud"}))
    assert spec.model.algorithm is Algorithm.LOGISTIC
    assert spec.model.compare_raw is True
    assert spec.model.fraud is not None
    assert (spec.model.fraud.baseline, spec.model.fraud.k) == (True, 100)
    credit = parse_spec(_with(model={"label": "y", "algorithm": "scorecard", "compare_raw": False}))
    assert credit.model.algorithm is Algorithm.SCORECARD
    assert credit.model.compare_raw is False
