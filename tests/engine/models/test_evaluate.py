import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from engine.datasets import german_credit, simulate_transactions
from engine.errors import ConfigError, InputError
from engine.models import EvaluationReport, evaluate

pytestmark = pytest.mark.tenseal


@pytest.fixture(scope="module")
def fraud_report() -> EvaluationReport:
    return evaluate(
        simulate_transactions(30_000, seed=5, n_customers=100, n_terminals=100),
        task="fraud",
        k=5,
        extra_numeric=["distance_km"],
    )


def test_fraud_tokens_match_raw_and_encrypted_match_plaintext(
    fraud_report: EvaluationReport,
) -> None:
    report = fraud_report
    for model in ("logistic", "boosting"):
        for metric in ("auc_roc", "average_precision", "card_precision_at_k"):
            raw = report.metric(model, "raw", metric)
            assert report.metric(model, "tokens", metric) == pytest.approx(raw, abs=1e-9)
    assert report.metric("logistic", "encrypted", "max_abs_margin_error") < 1e-5
    for metric in ("auc_roc", "average_precision"):
        plain = report.metric("logistic", "tokens", metric)
        assert report.metric("logistic", "encrypted", metric) == pytest.approx(plain, abs=1e-4)
    assert report.metric("logistic", "raw", "auc_roc") > 0.7
    assert report.info["quarantined"] == 0
    assert "card_number" in report.info["tokenized_columns"]
    (y, scores) = report.curves["logistic/encrypted"]
    assert len(y) == len(scores) == report.info["test_rows"]


def test_credit_report_and_files(tmp_path: Path) -> None:
    df = german_credit()
    numeric = ["duration_in_month", "credit_amount", "age_in_years"]
    categorical = ["status_of_existing_checking_account", "credit_history", "purpose"]
    report = evaluate(
        df,
        task="credit",
        label="creditability",
        positive="bad",
        numeric=numeric,
        categorical=categorical,
        dataset="german",
    )
    for model in ("scorecard", "logistic"):
        assert report.metric(model, "encrypted", "max_abs_margin_error") < 1e-5
        assert report.metric(model, "encrypted", "auc_roc") == pytest.approx(
            report.metric(model, "tokens", "auc_roc"), abs=1e-4
        )
        assert 0.65 < report.metric(model, "raw", "auc_roc") < 1.0
        assert 0.2 < report.metric(model, "raw", "ks") < 1.0
    table = report.to_table()
    assert "scorecard" in table
    assert "encrypted" in table
    assert "ks" in table
    written = report.save(tmp_path)
    data = json.loads((tmp_path / "report.json").read_text())
    assert data["task"] == "credit"
    assert len(data["rows"]) == 6
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        assert written == (tmp_path / "report.json",)
        with pytest.raises(ConfigError, match="report"):
            report.plot(tmp_path)
    else:
        assert {p.name for p in written} == {"report.json", "roc.png", "precision_recall.png"}
        assert (tmp_path / "roc.png").read_bytes()[:4] == b"\x89PNG"


def test_credit_tokenizes_pii_and_drops_quarantined_rows() -> None:
    df = german_credit().head(300).copy()
    df["ssn"] = ["150-59-7454"] * 299 + ["000-00-0000"]
    report = evaluate(
        df,
        task="credit",
        label="creditability",
        positive="bad",
        numeric=["duration_in_month", "credit_amount"],
        pii={"ssn": "ssn"},
    )
    assert report.info["quarantined"] == 1
    assert report.metric("scorecard", "raw", "auc_roc") == report.metric(
        "scorecard", "tokens", "auc_roc"
    )


def test_bad_input() -> None:
    df = german_credit()
    with pytest.raises(InputError, match="one class"):
        evaluate(
            df, task="credit", label="creditability", positive="neither", numeric=["credit_amount"]
        )
    with pytest.raises(InputError, match="label"):
        evaluate(df, task="credit", numeric=["credit_amount"])
    with pytest.raises(ValueError, match="task"):
        evaluate(df, task="regression")  # type: ignore[arg-type]
    shuffled = simulate_transactions(2_000, seed=1).sample(frac=1.0, random_state=0)
    assert not shuffled["timestamp"].is_monotonic_increasing
    report = evaluate(shuffled, task="fraud", test_days=5, delay_days=2, k=3)
    assert np.isfinite(report.metric("logistic", "tokens", "auc_roc"))
    assert isinstance(pd.DataFrame(report.to_dict()["rows"]), pd.DataFrame)
