"""Date tokens: a valid date in the same format and range, year kept on request."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.errors import ConfigError
from engine.tokenize import FormatOptions, Kind
from tests.engine.tokenize._support import back, run

dates = st.dates(dt.date(1900, 1, 1), dt.date(2099, 12, 31))


@settings(max_examples=40, deadline=None)
@given(
    values=st.lists(dates, min_size=1, max_size=30),
    keep_year=st.booleans(),
    fmt=st.sampled_from(["%Y-%m-%d", "%d/%m/%Y", "%Y%m%d"]),
)
def test_round_trip_format_and_range(values: list[dt.date], keep_year: bool, fmt: str) -> None:
    text = [d.strftime(fmt) for d in values]
    opts: dict[str, Any] = {"date_keep_year": keep_year, "date_format": fmt}
    tokens, reasons = run(text, Kind.DATE, **opts)
    assert reasons == {}
    assert back(tokens, Kind.DATE, **opts) == text
    for value, token in zip(values, tokens, strict=True):
        parsed = dt.datetime.strptime(token, fmt).date()
        assert dt.date(1900, 1, 1) <= parsed <= dt.date(2099, 12, 31)
        if keep_year:
            assert parsed.year == value.year


def test_every_day_maps_to_a_distinct_day() -> None:
    start = dt.date(1900, 1, 1)
    days = [(start + dt.timedelta(days=i)).isoformat() for i in range(73049)]
    tokens, reasons = run(days, Kind.DATE)
    assert reasons == {}
    assert sorted(tokens) == days  # a permutation of the whole range
    assert sum(a == b for a, b in zip(days, tokens, strict=True)) < 10


def test_custom_range() -> None:
    opts: dict[str, Any] = {"date_min": dt.date(2000, 3, 1), "date_max": dt.date(2000, 3, 31)}
    values = [f"2000-03-{d:02d}" for d in range(1, 32)]
    tokens, _ = run(values, Kind.DATE, **opts)
    assert sorted(tokens) == values
    assert run(["2000-04-01"], Kind.DATE, **opts)[1] == {0: "date: outside the accepted range"}


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("31/02/1990", "date: not a valid date in the expected format"),
        ("1990-02-30", "date: not a valid date in the expected format"),
        ("1990-13-45", "date: not a valid date in the expected format"),
        ("yesterday", "date: not a valid date in the expected format"),
        ("1850-01-01", "date: outside the accepted range"),
        ("1990-1-5", "date: not in canonical form"),
        ("\uff11\uff19\uff19\uff10-01-05", "date: non-ASCII characters"),
    ],
)
def test_bad_input(value: str, reason: str) -> None:
    assert run([value], Kind.DATE) == ([None], {0: reason})


def test_bad_options() -> None:
    with pytest.raises(ConfigError, match="date_format"):
        FormatOptions(date_format="%Y-%m")
    with pytest.raises(ConfigError, match="date_min"):
        FormatOptions(date_min=dt.date(2000, 1, 1), date_max=dt.date(1999, 1, 1))
    with pytest.raises(ConfigError, match="1678-2261"):
        FormatOptions(date_min=dt.date(1500, 1, 1))


@pytest.mark.parametrize("keep_year", [False, True])
def test_no_date_is_its_own_token(keep_year: bool) -> None:
    # Every date of four whole years, under several keys: the keyed cycle has no fixed point.
    days = [dt.date(1990, 1, 1) + dt.timedelta(days=i) for i in range(4 * 365 + 1)]
    values = [d.isoformat() for d in days]
    for secret in (bytes(32), bytes(range(32)), b"\xff" * 32):
        tokens, reasons = run(values, Kind.DATE, secret=secret, date_keep_year=keep_year)
        assert reasons == {}
        assert not [v for v, t in zip(values, tokens, strict=True) if v == t]
        assert back(tokens, Kind.DATE, secret=secret, date_keep_year=keep_year) == values
