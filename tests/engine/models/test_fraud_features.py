from __future__ import annotations

import secrets

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.datasets import simulate_transactions
from engine.errors import InputError
from engine.keys import KeyMaterial
from engine.models import compute_fraud_features, window_aggregates
from engine.tokenize import Kind, tokenize_frame

DAY = pd.Timedelta(days=1)


def _random_frame(seed: int, n: int = 300) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    start = pd.Timestamp("2025-03-01")
    # Whole minutes over 60 days: plenty of ties and of rows exactly one window apart.
    minutes = rng.integers(0, 60 * 24 * 60, n)
    minutes[:20] = minutes[20:40] + 24 * 60 * rng.choice([1, 7, 30], 20)
    cards = rng.choice(["c1", "c2", "c3", "c4", "c5"], n)
    # Same card, same instant: neither counts the other.
    minutes[40:50], cards[40:50] = minutes[50:60], cards[50:60]
    return pd.DataFrame(
        {
            "card_number": cards,
            "terminal_id": rng.choice(["t1", "t2", "t3"], n),
            "timestamp": start + pd.to_timedelta(minutes, unit="min"),
            "amount_cents": rng.integers(1, 50_000, n).astype(np.int64),
            "is_fraud": rng.random(n) < 0.2,
        },
        index=pd.Index(rng.permutation(n) + 1000, name="tx"),
    )


def _reference(df: pd.DataFrame, *, delay_days: int) -> pd.DataFrame:
    """The features by definition, one row at a time."""
    card, terminal = df["card_number"].to_numpy(), df["terminal_id"].to_numpy()
    times, amounts = df["timestamp"].to_numpy(), df["amount_cents"].to_numpy()
    labels = df["is_fraud"].to_numpy()
    day, delay = np.timedelta64(1, "D"), np.timedelta64(delay_days, "D")
    rows = []
    for i, t in enumerate(times):
        out: dict[str, float] = {}
        for w in (1, 7, 30):
            prior = (card == card[i]) & (times >= t - w * day) & (times < t)
            out[f"card_count_{w}d"] = prior.sum()
            out[f"card_sum_cents_{w}d"] = amounts[prior].sum()
            out[f"card_mean_cents_{w}d"] = amounts[prior].mean() if prior.any() else 0.0
        for w in (1, 7, 30):
            lo, hi = t - delay - w * day, t - delay
            known = (terminal == terminal[i]) & (times >= lo) & (times < hi)
            out[f"terminal_count_{w}d"] = known.sum()
            out[f"terminal_risk_{w}d"] = labels[known].mean() if known.any() else 0.0
        stamp = pd.Timestamp(t)
        out["hour"] = stamp.hour
        out["is_weekend"] = stamp.day_of_week >= 5
        out["is_night"] = stamp.hour < 6 or stamp.hour >= 22
        rows.append(out)
    return pd.DataFrame(rows, index=df.index)


@pytest.mark.parametrize(("seed", "delay_days"), [(0, 7), (1, 0), (2, 3)])
def test_windows_match_the_reference(seed: int, delay_days: int) -> None:
    df = _random_frame(seed)
    got = compute_fraud_features(df, delay_days=delay_days)
    expected = _reference(df, delay_days=delay_days)
    pd.testing.assert_frame_equal(got, expected, check_dtype=False)
    assert got["card_count_30d"].max() > 5
    assert (got["terminal_risk_30d"] > 0).any()


def test_row_order_does_not_matter() -> None:
    df = _random_frame(3)
    shuffled = df.sample(frac=1.0, random_state=1)
    a = compute_fraud_features(df)
    pd.testing.assert_frame_equal(compute_fraud_features(shuffled).loc[df.index], a)


def test_tokens_give_the_same_features() -> None:
    df = simulate_transactions(4_000, seed=11, n_customers=60, n_terminals=100)
    key = KeyMaterial(key_id="tokenize.pan", version=1, secret=secrets.token_bytes(32))
    tokens = tokenize_frame(df, {"card_number": "pan"}, {Kind.PAN: key})
    assert tokens.quarantine.empty
    tokenized = tokens.frame
    assert (tokenized["card_number"] != df["card_number"]).mean() > 0.99
    raw = compute_fraud_features(df)
    pd.testing.assert_frame_equal(compute_fraud_features(tokenized), raw)
    assert raw["card_count_7d"].mean() > 1


def test_without_labels_there_is_no_terminal_risk() -> None:
    df = _random_frame(4).drop(columns="is_fraud")
    out = compute_fraud_features(df, label=None, windows_days=(2,))
    assert list(out.columns) == [
        "card_count_2d", "card_sum_cents_2d", "card_mean_cents_2d", "hour", "is_weekend",
        "is_night",
    ]  # fmt: skip


def test_empty_frame() -> None:
    out = compute_fraud_features(_random_frame(5).iloc[:0])
    assert out.empty
    assert "terminal_risk_30d" in out.columns


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda df: df.drop(columns="terminal_id"), "missing columns: 'terminal_id'"),
        (lambda df: df.assign(amount_cents=df["amount_cents"] / 100), "amount_cents"),
        (lambda df: df.assign(timestamp=df["timestamp"].astype(str)), "datetime"),
        (lambda df: df.assign(is_fraud=df["amount_cents"]), "0/1"),
        (lambda df: df.assign(card_number=df["card_number"].where(df.index != df.index[3])),
         "missing identifier at row 3"),
    ],
)  # fmt: skip
def test_bad_input(change: object, message: str) -> None:
    df = change(_random_frame(6))  # type: ignore[operator]
    with pytest.raises(InputError, match=message):
        compute_fraud_features(df)


def test_bad_missing_time() -> None:
    df = _random_frame(6)
    df.loc[df.index[5], "timestamp"] = pd.NaT
    with pytest.raises(InputError, match="missing timestamp at row 5"):
        compute_fraud_features(df)


def test_bad_options() -> None:
    with pytest.raises(ValueError, match="windows_days"):
        compute_fraud_features(_random_frame(7), windows_days=(0,))


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 6), st.integers(0, 40), st.integers(-50, 50)),
        min_size=0,
        max_size=80,
    ),
    st.integers(1, 5),
    st.lists(st.tuples(st.integers(0, 20), st.integers(0, 20)), min_size=1, max_size=3),
)
def test_window_aggregates_by_definition_and_split_by_group(
    rows: list[tuple[int, int, int]], partitions: int, spans: list[tuple[int, int]]
) -> None:
    """Each row's windows use its own group only: splitting groups (as on Ray) changes nothing."""
    groups = np.array([r[0] for r in rows], dtype=np.int64)
    times = np.array([r[1] for r in rows], dtype=np.int64)
    values = np.array([r[2] for r in rows], dtype=np.int64)
    spans = [(max(a, b), min(a, b)) for a, b in spans]
    whole = window_aggregates(groups, times, values, spans)
    for (count, total), (lo, hi) in zip(whole, spans, strict=True):
        for i in range(len(rows)):
            inside = (groups == groups[i]) & (times >= times[i] - lo) & (times < times[i] - hi)
            assert count[i] == inside.sum()
            assert total[i] == values[inside].sum()
    split = [(np.zeros(len(rows), np.int64), np.zeros(len(rows), np.int64)) for _ in spans]
    for p in range(partitions):
        share = np.flatnonzero(groups % partitions == p)
        part = window_aggregates(groups[share], times[share], values[share], spans)
        for (count, total), (part_count, part_total) in zip(split, part, strict=True):
            count[share], total[share] = part_count, part_total
    for (a, b), (c, d) in zip(whole, split, strict=True):
        np.testing.assert_array_equal(a, c)
        np.testing.assert_array_equal(b, d)
