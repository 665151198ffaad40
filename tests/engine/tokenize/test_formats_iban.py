"""IBAN tokens: country kept, BBAN per character class, check digits rule, bad input."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.tokenize import Kind, Scheme
from engine.tokenize._formats.iban import IBAN_LENGTHS
from tests.engine.tokenize._support import back, iban_ok, iban_with_check, run, shape

SAMPLES = [
    "PL56708870413756743747224575",
    "GB03CMXV60738150550492",
    "IT81H9967426814490453293282",
    "FR1219167517123900312984269",
    "NL39SLSZ1048954252",
    "DE89370400440532013000",
    "ES6403365020442121155039",
    "CH9300762011623852957",
    "NO9386011117947",
    "GB82 WEST 1234 5698 7654 32",
]


@st.composite
def ibans(draw: st.DrawFn) -> str:
    country = draw(st.sampled_from(sorted(IBAN_LENGTHS)))
    n = IBAN_LENGTHS[country] - 4
    bban = draw(st.text("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ", min_size=n, max_size=n))
    value = iban_with_check(country, bban)
    if draw(st.booleans()):
        value = " ".join(value[i : i + 4] for i in range(0, len(value), 4))
    return value


def test_samples_are_valid_references() -> None:
    assert all(iban_ok(v) for v in SAMPLES)


@pytest.mark.parametrize("scheme", list(Scheme))
@pytest.mark.parametrize("valid", [False, True])
def test_samples_round_trip(scheme: Scheme, valid: bool) -> None:
    tokens, reasons = run(SAMPLES, Kind.IBAN, scheme=scheme, iban_valid_check_digits=valid)
    assert reasons == {}
    assert back(tokens, Kind.IBAN, scheme=scheme, iban_valid_check_digits=valid) == SAMPLES
    for value, token in zip(SAMPLES, tokens, strict=True):
        assert token[:2] == value[:2]
        assert shape(token[4:]) == shape(value[4:])
        assert token[4:] != value[4:]
        assert iban_ok(token) is valid
        if not valid:
            assert token[2:4] in ("00", "01")


@settings(max_examples=25, deadline=None)
@given(values=st.lists(ibans(), min_size=1, max_size=15), valid=st.booleans())
def test_round_trip_and_checksum_rule(values: list[str], valid: bool) -> None:
    tokens, reasons = run(values, Kind.IBAN, iban_valid_check_digits=valid)
    assert reasons == {}
    assert back(tokens, Kind.IBAN, iban_valid_check_digits=valid) == values
    for value, token in zip(values, tokens, strict=True):
        assert len(token) == len(value)
        assert token[:2] == value[:2]
        assert shape(token[4:]) == shape(value[4:])
        assert iban_ok(token) is valid


def test_country_is_bound_into_the_token() -> None:
    # DE and VA IBANs both have 18-digit BBANs: the same BBAN gives different tokens.
    a = iban_with_check("DE", "370400440532013000")
    b = iban_with_check("VA", "370400440532013000")
    (ta, tb), reasons = run([a, b], Kind.IBAN)
    assert reasons == {}
    assert ta[4:] != tb[4:]


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("GB82WEST1234569876543Z", "iban: bad check digits"),
        ("DE00 0000", "iban: wrong length for country"),
        ("DE89370400440532013000X", "iban: wrong length for country"),
        ("XX82WEST12345698765432", "iban: unknown country"),
        ("not an iban", "iban: invalid characters"),
        ("gb82west12345698765432", "iban: invalid characters"),
        ("GB82-WEST-1234-5698-7654-32", "iban: invalid characters"),
        ("GB82 WEST 12345698765432", "iban: bad spacing"),
        ("GBXX WEST 1234 5698 7654 32", "iban: bad layout"),
        ("\uff27\uff2282WEST12345698765432", "iban: non-ASCII characters"),
    ],
)
def test_bad_input_is_quarantined(value: str, reason: str) -> None:
    tokens, reasons = run([value], Kind.IBAN)
    assert tokens == [None]
    assert reasons == {0: reason}


def test_a_real_iban_is_not_accepted_as_a_token() -> None:
    from engine.errors import TokenizationError

    with pytest.raises(TokenizationError, match="iban: not a token") as info:
        back(["DE89370400440532013000"], Kind.IBAN)
    assert "370400440532013000" not in str(info.value)
