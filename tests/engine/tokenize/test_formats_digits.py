"""SSN and phone tokens: layout kept, structure rules, bad input."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.tokenize import Kind, Scheme
from tests.engine.tokenize._support import back, run, shape

PHONES = [
    "(623)855-6367",
    "623-855-6367",
    "6238556367",
    "623.855.6367",
    "+1-623-855-6367x1234",
    "001-623-855-6367x12345",
    "+44 20 7946 0958",
]


@st.composite
def ssns(draw: st.DrawFn) -> str:
    area = draw(st.integers(1, 899).filter(lambda a: a != 666))
    group = draw(st.integers(1, 99))
    serial = draw(st.integers(1, 9999))
    sep = draw(st.sampled_from(["-", ""]))
    return f"{area:03d}{sep}{group:02d}{sep}{serial:04d}"


@st.composite
def phones(draw: st.DrawFn) -> str:
    digits = draw(st.text("0123456789", min_size=10, max_size=10))
    layout = draw(st.sampled_from(["({}){}-{}", "{}-{}-{}", "{}{}{}", "{}.{}.{}"]))
    national = layout.format(digits[:3], digits[3:6], digits[6:])
    prefix = draw(st.sampled_from(["", "+1-", "001-"]))
    ext = draw(st.sampled_from(["", "x" + draw(st.text("0123456789", min_size=1, max_size=5))]))
    value = prefix + national + ext
    return "1" + value[1:] if not prefix and value.startswith("00") else value


@settings(max_examples=40, deadline=None)
@given(values=st.lists(ssns(), min_size=1, max_size=20), scheme=st.sampled_from(list(Scheme)))
def test_ssn_round_trip_and_layout(values: list[str], scheme: Scheme) -> None:
    tokens, reasons = run(values, Kind.SSN, scheme=scheme)
    assert reasons == {}
    assert back(tokens, Kind.SSN, scheme=scheme) == values
    assert [shape(t) for t in tokens] == [shape(v) for v in values]


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("000-12-3456", "ssn: invalid area number"),
        ("666-12-3456", "ssn: invalid area number"),
        ("912-12-3456", "ssn: invalid area number"),
        ("123-00-3456", "ssn: invalid group number"),
        ("123-45-0000", "ssn: invalid serial number"),
        ("12-345-6789", "ssn: bad layout"),
        ("123-456789", "ssn: bad layout"),
        ("123 45 6789", "ssn: bad layout"),
        ("123456789012", "ssn: wrong number of digits"),
        ("123-45-678", "ssn: wrong number of digits"),
        ("\uff11\uff12\uff13-45-6789", "ssn: non-ASCII characters"),
    ],
)
def test_ssn_bad_input(value: str, reason: str) -> None:
    assert run([value], Kind.SSN) == ([None], {0: reason})


def test_phone_samples_keep_country_code_and_layout() -> None:
    tokens, reasons = run(PHONES, Kind.PHONE)
    assert reasons == {}
    assert back(tokens, Kind.PHONE) == PHONES
    for value, token in zip(PHONES, tokens, strict=True):
        assert shape(token) == shape(value)
    assert tokens[4].startswith("+1-")
    assert tokens[5].startswith("001-")
    assert tokens[6].startswith("+44 ")


@settings(max_examples=40, deadline=None)
@given(values=st.lists(phones(), min_size=1, max_size=30), scheme=st.sampled_from(list(Scheme)))
def test_phone_round_trip(values: list[str], scheme: Scheme) -> None:
    tokens, reasons = run(values, Kind.PHONE, scheme=scheme)
    assert reasons == {}
    assert back(tokens, Kind.PHONE, scheme=scheme) == values
    assert [shape(t) for t in tokens] == [shape(v) for v in values]


def test_phone_without_country_code_never_maps_to_one() -> None:
    values = [f"{i:03d}-555-{j:04d}" for i in range(100, 140) for j in range(50)]
    tokens, _ = run(values, Kind.PHONE)
    assert not any(t.startswith("00") for t in tokens)
    assert back(tokens, Kind.PHONE) == values


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("55-1234", "phone: wrong number of digits"),
        ("1234567890123456", "phone: wrong number of digits"),
        ("623/855/6367", "phone: bad layout"),
        ("call me", "phone: bad layout"),
        ("623-855-6367 ext 12", "phone: bad layout"),
        ("\uff16\uff12\uff13-855-6367", "phone: non-ASCII characters"),
    ],
)
def test_phone_bad_input(value: str, reason: str) -> None:
    assert run([value], Kind.PHONE) == ([None], {0: reason})
