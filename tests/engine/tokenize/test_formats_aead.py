"""ID and free-text tokens: deterministic AES-SIV, URL-safe, reversible for any string."""

from __future__ import annotations

import base64
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.errors import TokenizationError
from engine.tokenize import Kind
from tests.engine.tokenize._support import back, run

URLSAFE = re.compile(r"fv(id|tx)_[A-Za-z0-9_-]+")


@settings(max_examples=40, deadline=None)
@given(
    values=st.lists(st.text(min_size=1, max_size=50).filter(str.strip), min_size=1, max_size=20),
    kind=st.sampled_from([Kind.ID, Kind.TEXT]),
)
def test_round_trip_any_string(values: list[str], kind: Kind) -> None:
    tokens, reasons = run(values, kind)
    assert reasons == {}
    assert back(tokens, kind) == values
    for token in tokens:
        assert URLSAFE.fullmatch(token)
        body = token[5:]
        assert base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))[0] == 1


def test_surrogates_and_whitespace_round_trip() -> None:
    values = ["x\ud800y", "  padded  ", "tab\there", "C010000000"]
    tokens, _ = run(values, Kind.TEXT)
    assert back(tokens, Kind.TEXT) == values


def test_longest_text_round_trips() -> None:
    values = ["\U0001f600" * 65536, "x" * 65536]
    tokens, reasons = run(values, Kind.TEXT)
    assert reasons == {}
    assert back(tokens, Kind.TEXT) == values
    assert run(["x" * 65537], Kind.TEXT)[1] == {0: "text: longer than 65536 characters"}


def test_prefixes_and_determinism_per_column() -> None:
    (a,), _ = run(["C010000000"], Kind.ID, column="customer_id")
    (b,), _ = run(["C010000000"], Kind.ID, column="customer_id")
    (c,), _ = run(["C010000000"], Kind.ID, column="account_id")
    (d,), _ = run(["C010000000"], Kind.TEXT, column="customer_id")
    assert a == b != c
    assert a.startswith("fvid_")
    assert d.startswith("fvtx_")


@pytest.mark.parametrize(
    "token", ["fvid_", "fvid_AAAA", "fvtx_" + "A" * 40, "plain", "fvid_!!!!", "fvid_" + "B" * 40]
)
def test_bad_tokens_are_rejected_without_the_value(token: str) -> None:
    with pytest.raises(TokenizationError, match="id: not a token") as info:
        back([token], Kind.ID)
    assert token not in str(info.value)


def test_tampered_token_is_rejected() -> None:
    (token,), _ = run(["C010000000"], Kind.ID)
    flipped = token[:-2] + ("A" if token[-2] != "A" else "B") + token[-1]
    with pytest.raises(TokenizationError):
        back([flipped], Kind.ID)
    with pytest.raises(TokenizationError):
        back([token], Kind.ID, column="other")
