from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from engine.datasets import (
    TRANSACTION_PII,
    simulate_transactions,
    write_transactions,
)
from engine.datasets._scenarios import AMOUNT_THRESHOLD_CENTS, SCENARIOS
from tests.engine.datasets.test_german import _iban_ok, _luhn_ok

# Enough customers and terminals that every scenario occurs in a few thousand rows.
N_CUSTOMERS, N_TERMINALS = 1_500, 3_000


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    return simulate_transactions(80_000, seed=7, n_customers=N_CUSTOMERS, n_terminals=N_TERMINALS)


def test_shape_types_and_order(frame: pd.DataFrame) -> None:
    assert len(frame) == 80_000
    assert frame["transaction_id"].tolist() == list(range(80_000))
    assert frame["amount_cents"].dtype == np.int64
    assert (frame["amount_cents"] > 0).all()
    assert frame["timestamp"].is_monotonic_increasing
    assert frame["timestamp"].min() >= pd.Timestamp("2025-01-01")
    assert set(TRANSACTION_PII) <= set(frame.columns)
    assert not frame.isna().any().any()


def test_every_scenario_is_labelled(frame: pd.DataFrame) -> None:
    counts = frame["fraud_scenario"].value_counts()
    assert set(counts.index) == set(SCENARIOS)
    assert (frame["is_fraud"] == (frame["fraud_scenario"] != "none")).all()
    assert 0.001 < frame["is_fraud"].mean() < 0.05
    over = frame["fraud_scenario"] == "amount_threshold"
    assert (frame.loc[over, "amount_cents"] > AMOUNT_THRESHOLD_CENTS).all()
    assert not (frame.loc[frame["fraud_scenario"] == "none", "amount_cents"] > 22_000).any()


def test_scenarios_behave_as_described(frame: pd.DataFrame) -> None:
    testing = frame[frame["fraud_scenario"] == "card_testing"]
    assert (testing["amount_cents"] < 300).all()
    bursts = testing.groupby(["card_number", "terminal_id"])["timestamp"]
    assert (bursts.size() >= 5).all()
    assert ((bursts.max() - bursts.min()) < pd.Timedelta(hours=1)).all()
    takeover = frame[frame["fraud_scenario"] == "account_takeover"]
    known = set(frame.loc[~frame["is_fraud"], "device_id"])
    assert not set(takeover["device_id"]) & known
    assert takeover["amount_cents"].max() >= 30_000
    genuine = frame[~frame["is_fraud"]]
    assert takeover["distance_km"].median() > 3 * genuine["distance_km"].median()
    # A compromised terminal stays compromised: its fraud comes in runs over days.
    terminal = frame[frame["fraud_scenario"] == "compromised_terminal"]
    span = terminal.groupby("terminal_id")["timestamp"].agg(lambda t: t.max() - t.min())
    assert span.max() > pd.Timedelta(days=7)
    first = terminal.groupby("terminal_id")["timestamp"].min()
    at = frame[frame["terminal_id"].isin(first.index)]
    after = at["timestamp"] >= at["terminal_id"].map(first)
    same_day = at["timestamp"].dt.normalize() == at["terminal_id"].map(first).dt.normalize()
    own = at["fraud_scenario"].isin(["none", "amount_threshold", "compromised_terminal"])
    assert (at.loc[after & same_day & own, "fraud_scenario"] == "compromised_terminal").all()
    card = frame[frame["fraud_scenario"] == "compromised_card"]
    assert card["amount_cents"].mean() > 3 * genuine["amount_cents"].mean()


def test_customers_cards_and_details(frame: pd.DataFrame) -> None:
    per_customer = frame.groupby("customer_id")
    for column in ("cardholder_name", "email", "iban", "phone"):
        assert (per_customer[column].nunique() == 1).all()
    assert frame.groupby("card_number")["customer_id"].nunique().max() == 1
    assert per_customer["card_number"].nunique().max() > 1
    cards = frame["card_number"].drop_duplicates()
    assert all(map(_luhn_ok, cards))
    assert all(map(_iban_ok, frame["iban"].drop_duplicates()))
    assert frame["email"].str.fullmatch(r"[a-z0-9.\-]+@example\.(com|org|net)").all()
    genuine = frame[~frame["is_fraud"]]
    # Customers shop near home.
    assert genuine["distance_km"].quantile(0.9) < 25


def test_deterministic_by_seed() -> None:
    a = simulate_transactions(3_000, seed=5)
    pd.testing.assert_frame_equal(a, simulate_transactions(3_000, seed=5))
    b = simulate_transactions(3_000, seed=6)
    assert a["card_number"].tolist() != b["card_number"].tolist()
    # A fixed world makes a shorter run a prefix of a longer one.
    longer = simulate_transactions(5_000, seed=5, n_customers=100, n_terminals=100)
    pd.testing.assert_frame_equal(a, longer.iloc[:3_000])


def test_start_moves_the_clock_only() -> None:
    a = simulate_transactions(2_000, seed=1)
    b = simulate_transactions(2_000, seed=1, start="2024-03-01 06:00")
    shift = pd.Timestamp("2024-03-01 06:00") - pd.Timestamp("2025-01-01")
    pd.testing.assert_series_equal(a["timestamp"] + shift, b["timestamp"])
    pd.testing.assert_frame_equal(a.drop(columns="timestamp"), b.drop(columns="timestamp"))


@pytest.mark.parametrize("batch_rows", [1, 777, 10_000])
def test_parquet_equals_frame_whatever_the_batch(tmp_path: Path, batch_rows: int) -> None:
    n = 4_000 if batch_rows > 1 else 50
    path = tmp_path / "tx.parquet"
    summary = write_transactions(
        path, n, seed=3, batch_rows=batch_rows, n_customers=N_CUSTOMERS, n_terminals=N_TERMINALS
    )
    expected = simulate_transactions(n, seed=3, n_customers=N_CUSTOMERS, n_terminals=N_TERMINALS)
    read = pq.read_table(path).to_pandas()
    pd.testing.assert_frame_equal(read, expected)
    meta = pq.ParquetFile(path).metadata
    assert meta.num_row_groups == -(-n // batch_rows)
    assert summary.n_rows == n
    assert summary.n_fraud == int(expected["is_fraud"].sum())
    assert summary.by_scenario == expected["fraud_scenario"].value_counts().to_dict() | {
        s: 0 for s in SCENARIOS if s not in set(expected["fraud_scenario"])
    }


@pytest.mark.parametrize(
    "kwargs",
    [{"n_rows": 0}, {"n_rows": 10, "n_customers": 0}, {"n_rows": 10, "start": "2025-01-01T00:00Z"}],
)
def test_bad_arguments(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError, match=r"n_rows|n_customers|start"):
        simulate_transactions(**kwargs)  # type: ignore[arg-type]


def test_bad_arguments_write_nothing(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="batch_rows"):
        write_transactions(tmp_path / "x.parquet", 10, batch_rows=0)
    with pytest.raises(ValueError, match="n_rows"):
        write_transactions(tmp_path / "x.parquet", 0)
    assert not (tmp_path / "x.parquet").exists()
