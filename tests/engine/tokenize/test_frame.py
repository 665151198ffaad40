"""tokenize_frame / detokenize_frame: quarantine, reconciliation, bad input, determinism."""

from __future__ import annotations

import datetime as dt
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.errors import ConfigError, TokenizationError
from engine.tokenize import (
    ColumnProtection,
    FormatOptions,
    Kind,
    Scheme,
    TokenizedFrame,
    detokenize_frame,
    tokenize_frame,
)
from tests.engine.tokenize._support import (
    FIXED_REASONS,
    OTHER_SECRET,
    iban_ok,
    keys,
    luhn_ok,
    run,
)

DATA = Path(__file__).resolve().parents[2] / "data" / "loans_pii.csv.gz"
LOANS_PII = {
    "customer_id": "id",
    "full_name": "name",
    "ssn": "ssn",
    "card_number": "pan",
    "iban": "iban",
    "email": "email",
    "phone": "phone",
    "date_of_birth": "date",
}
# One valid value per kind.
GOOD = {
    Kind.ID: "C010000000",
    Kind.NAME: "Prof. Nick Lübs B.Sc.",
    Kind.SSN: "150-59-7454",
    Kind.PAN: "4111 1111 1111 1111",
    Kind.IBAN: "GB82 WEST 1234 5698 7654 32",
    Kind.EMAIL: "jade08@example.org",
    Kind.PHONE: "+1-623-855-6367x1234",
    Kind.DATE: "1979-11-14",
    Kind.TEXT: "free text, any string: ünïcödé ✓",
}


def good_frame(index: list[int] | None = None) -> pd.DataFrame:
    data: dict[str, list[Any]] = {k.value: [GOOD[k]] * 3 for k in Kind}
    data["amount_cents"] = [100, 200, 300]
    return pd.DataFrame(data, index=index or [0, 1, 2])


def test_round_trip_every_kind_and_untouched_columns() -> None:
    df = good_frame(index=[10, 20, 30])
    pii = {k.value: k for k in Kind}
    out = tokenize_frame(df, pii, keys())
    assert isinstance(out, TokenizedFrame)
    assert out.quarantine.empty
    assert list(out.frame.index) == [10, 20, 30]
    assert list(out.frame.columns) == list(df.columns)
    assert out.frame["amount_cents"].tolist() == [100, 200, 300]
    for kind in Kind:
        assert (out.frame[kind.value] != df[kind.value]).all()
    pd.testing.assert_frame_equal(detokenize_frame(out.frame, pii, keys()), df)


def test_protection_record() -> None:
    pii = {k.value: k.value for k in Kind}
    out = tokenize_frame(good_frame(), pii, keys(), options=FormatOptions(scheme=Scheme.FF3_1))
    methods = {c: p.method for c, p in out.protection.items()}
    assert methods == {
        "id": "AES-SIV",
        "name": "FF3-1",
        "ssn": "FF3-1",
        "pan": "FF3-1",
        "iban": "FF3-1",
        "email": "FF3-1",
        "phone": "FF3-1",
        "date": "small-domain-PRP",
        "text": "AES-SIV",
    }
    pan = out.protection["pan"]
    assert isinstance(pan, ColumnProtection)
    assert (pan.kind, pan.key_id, pan.key_version) == (Kind.PAN, "tokenize.pan", 1)
    assert re.fullmatch(r"tw1:[0-9a-f]{16}", pan.tweak_id)
    assert len({p.tweak_id for p in out.protection.values()}) == len(Kind)
    assert out.protection["email"].small_domain_fallback
    assert not out.protection["pan"].small_domain_fallback


@pytest.mark.parametrize(
    ("pii", "key_kinds", "match"),
    [
        ({"nope": "pan"}, list(Kind), "column 'nope'"),
        ({"pan": "credit_card"}, list(Kind), "unknown kind 'credit_card'"),
        ({"pan": "pan"}, [Kind.SSN], "no key for kind 'pan'"),
    ],
)
def test_config_errors_name_the_problem(
    pii: dict[str, str], key_kinds: list[Kind], match: str
) -> None:
    all_keys = keys()
    chosen = {k: all_keys[k] for k in key_kinds}
    with pytest.raises(ConfigError, match=match):
        tokenize_frame(good_frame(), pii, chosen)
    with pytest.raises(ConfigError, match=match):
        detokenize_frame(good_frame(), pii, chosen)


def test_options_for_a_non_pii_column_is_an_error() -> None:
    with pytest.raises(ConfigError, match="'amount_cents'"):
        tokenize_frame(
            good_frame(), {"pan": "pan"}, keys(), options={"amount_cents": FormatOptions()}
        )
    with pytest.raises(ConfigError, match="options"):
        tokenize_frame(good_frame(), {"pan": "pan"}, keys(), options="FF1")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="pan_keep_first"):
        FormatOptions(pan_keep_first=9)


BAD_ROWS: list[tuple[Any, str, str]] = [
    # value in the pan column, then the expected reason
    (None, "pan", "missing"),
    (float("nan"), "pan", "missing"),
    (pd.NA, "pan", "missing"),
    ("", "pan", "empty"),
    ("   ", "pan", "whitespace only"),
    (4111111111111112, "pan", "pan: fails Luhn"),
    (4.111111111111111e15, "pan", "pan: not a string"),
    (True, "pan", "pan: not a string"),
    (b"4111111111111111", "pan", "pan: not a string"),
    ("4" * 100, "pan", "pan: longer than 64 characters"),
    (
        "\uff14\uff11\uff11\uff11\uff11\uff11\uff11\uff11\uff11\uff11\uff11\uff11\uff11\uff11\uff11\uff11",
        "pan",
        "pan: non-ASCII characters",
    ),
    ("4111-1111 1111-1111", "pan", "pan: mixed separators"),
    ("Jo3 Smith", "name", "name: contains digits"),
    ("x" * 10_000, "name", "name: longer than 256 characters"),
    ("12-345-6789", "ssn", "ssn: bad layout"),
    ("GB82WEST1234569876543Z", "iban", "iban: bad check digits"),
    ("a@@b", "email", "email: more than one @"),
    ("31/02/1990", "date", "date: not a valid date in the expected format"),
    ("", "id", "empty"),
]


def test_bad_input_outcomes_and_reconciliation() -> None:
    rows: list[dict[str, Any]] = []
    for value, column, _ in BAD_ROWS:
        row: dict[str, Any] = {k.value: GOOD[k] for k in Kind}
        row[column] = value
        rows.append(row)
    rows.append({k.value: GOOD[k] for k in Kind})
    # Two failing columns in one row give two quarantine lines and one dropped row.
    rows.append({**{k.value: GOOD[k] for k in Kind}, "pan": None, "ssn": "000-00-0000"})
    df = pd.DataFrame(rows, index=range(100, 100 + len(rows)), dtype=object)
    out = tokenize_frame(df, {k.value: k for k in Kind}, keys())
    q = out.quarantine
    assert list(q.columns) == ["row", "column", "reason"]
    assert q["row"].dtype == np.int64
    expected = [(100 + i, c, r) for i, (_, c, r) in enumerate(BAD_ROWS)]
    last = 100 + len(rows) - 1
    expected += [(last, "ssn", "ssn: invalid area number"), (last, "pan", "missing")]
    assert sorted(map(tuple, q.itertuples(index=False))) == sorted(expected)
    assert list(out.frame.index) == [100 + len(BAD_ROWS)]
    # Every input row is in the frame or in the quarantine, never both.
    assert set(out.frame.index) | set(q["row"]) == set(df.index)
    assert not set(out.frame.index) & set(q["row"])
    for value, _, reason in BAD_ROWS:
        assert FIXED_REASONS.fullmatch(reason)
        if isinstance(value, str) and len(value) > 2:
            assert value not in reason


def test_integers_are_tokenized_as_decimal_text() -> None:
    df = pd.DataFrame({"pan": pd.Series([4111111111111111, "4111111111111111"], dtype=object)})
    out = tokenize_frame(df, {"pan": "pan"}, keys())
    assert out.frame["pan"].iloc[0] == out.frame["pan"].iloc[1]
    assert (
        detokenize_frame(out.frame, {"pan": "pan"}, keys())["pan"].tolist()
        == ["4111111111111111"] * 2
    )


def test_surrounding_whitespace_is_kept_verbatim() -> None:
    values = ["  4111111111111111", "4111111111111111\t", "\u00a04111111111111111 "]
    tokens, reasons = run(values, Kind.PAN)
    assert reasons == {}
    assert [t.strip() for t in tokens] == [tokens[0].strip()] * 3
    assert tokens[0].startswith("  ")
    assert tokens[1].endswith("\t")
    assert tokens[2].startswith("\u00a0")
    assert tokens[2].endswith(" ")
    df = pd.DataFrame({"c": tokens})
    assert detokenize_frame(df, {"c": "pan"}, keys())["c"].tolist() == values


@pytest.mark.parametrize("dtype", [object, "str"])
def test_allow_missing_passes_blank_values_through(dtype: Any) -> None:
    values: list[str | None] = ["150-59-7454", None, "", "  "]
    df = pd.DataFrame({"ssn": pd.Series(values, dtype=dtype)})
    opts = FormatOptions(allow_missing=True)
    out = tokenize_frame(df, {"ssn": "ssn"}, keys(), options=opts)
    assert out.quarantine.empty
    col = out.frame["ssn"]
    assert col.dtype == df["ssn"].dtype
    assert col.iloc[0] != values[0]
    assert pd.isna(col.iloc[1])
    assert col.iloc[2:].tolist() == ["", "  "]
    back = detokenize_frame(out.frame, {"ssn": "ssn"}, keys(), options=opts)
    pd.testing.assert_series_equal(back["ssn"], df["ssn"])


@pytest.mark.parametrize("dtype", [object, "str"])
def test_string_and_object_dtypes(dtype: Any) -> None:
    df = pd.DataFrame({"e": pd.Series(["jade08@example.org", None], dtype=dtype)})
    out = tokenize_frame(df, {"e": Kind.EMAIL}, keys())
    assert out.frame["e"].dtype == df["e"].dtype
    assert out.quarantine["reason"].tolist() == ["missing"]


def test_detokenize_errors_never_contain_the_value() -> None:
    card = "4111111111111111"
    df = pd.DataFrame({"pan": [card]}, index=[7])
    with pytest.raises(TokenizationError) as info:
        detokenize_frame(df, {"pan": "pan"}, keys())
    message = str(info.value)
    assert card not in message
    assert message == "column 'pan', row 7: pan: not a token (1 rows)"


@settings(max_examples=30, deadline=None)
@given(
    values=st.lists(st.text(min_size=0, max_size=30), min_size=1, max_size=10),
    kind=st.sampled_from(list(Kind)),
)
def test_reasons_and_errors_are_fixed_strings(values: list[str], kind: Kind) -> None:
    # run() checks every reason against the documented fixed set.
    tokens, reasons = run(values, kind)
    assert set(reasons) | {i for i, t in enumerate(tokens) if t is not None} == set(
        range(len(values))
    )
    df = pd.DataFrame({"c": pd.Series(values, dtype=object)})
    try:
        detokenize_frame(df, {"c": kind}, keys())
    except TokenizationError as exc:
        text = str(exc)
        match = re.fullmatch(r"column 'c', row \d+: (.*) \(\d+ rows\)", text)
        assert match
        assert FIXED_REASONS.fullmatch(match.group(1))


def test_determinism_alone_versus_inside_a_large_batch() -> None:
    rng = np.random.default_rng(7)
    df = pd.read_csv(DATA, dtype=str, keep_default_na=False).sample(2000, random_state=3)
    pii = LOANS_PII
    big = tokenize_frame(df, pii, keys())
    for label in rng.choice(big.frame.index.to_numpy(), 5, replace=False).tolist():
        alone = tokenize_frame(df.loc[[label]], pii, keys())
        pd.testing.assert_frame_equal(alone.frame, big.frame.loc[[label]])


def test_different_columns_give_different_tokens_and_labels_join() -> None:
    data = {f"{k.value}_a": [GOOD[k]] for k in Kind} | {f"{k.value}_b": [GOOD[k]] for k in Kind}
    df = pd.DataFrame(data)
    pii = {c: c.rsplit("_", 1)[0] for c in df.columns}
    out = tokenize_frame(df, pii, keys()).frame
    for k in Kind:
        assert out[f"{k.value}_a"].iloc[0] != out[f"{k.value}_b"].iloc[0], k
    joined = {c: FormatOptions(tweak_label=c.rsplit("_", 1)[0]) for c in df.columns}
    out2 = tokenize_frame(df, pii, keys(), options=joined).frame
    for k in Kind:
        assert out2[f"{k.value}_a"].iloc[0] == out2[f"{k.value}_b"].iloc[0], k
    other = tokenize_frame(df, pii, keys(OTHER_SECRET)).frame
    for k in Kind:
        assert other[f"{k.value}_a"].iloc[0] != out[f"{k.value}_a"].iloc[0], k


_CHILD = """
import json, sys
import pandas as pd
from engine.keys import KeyMaterial
from engine.tokenize import Kind, tokenize_frame
values = json.loads(sys.stdin.read())
keys = {k: KeyMaterial(key_id="tokenize." + k.value, version=1, secret=bytes(range(32)))
        for k in Kind}
df = pd.DataFrame({k: [v] for k, v in values.items()})
out = tokenize_frame(df, {k: k for k in values}, keys)
print(json.dumps({k: out.frame[k].iloc[0] for k in values}))
"""


def test_determinism_across_processes() -> None:
    values = {k.value: GOOD[k] for k in Kind}
    child = subprocess.run(
        [sys.executable, "-c", _CHILD],
        input=json.dumps(values),
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    remote = json.loads(child.stdout)
    local = tokenize_frame(
        pd.DataFrame({k: [v] for k, v in values.items()}), {k: k for k in values}, keys()
    ).frame
    assert remote == {k: local[k].iloc[0] for k in values}


# An independent reference of which loans_pii values are malformed (plain Python rules).
def _reference_reason(kind: str, value: str) -> bool:
    if value == "":
        return True
    if kind == "id":
        return False
    if kind == "name":
        return not re.fullmatch(r"[^\W\d_]+(?:[ .'-]+[^\W\d_]*)*\.?", value)
    if kind == "ssn":
        m = re.fullmatch(r"(\d{3})-(\d{2})-(\d{4})", value, re.ASCII)
        return not m or m[1] in ("000", "666") or m[1][0] == "9" or m[2] == "00" or m[3] == "0000"
    if kind == "pan":
        return not (re.fullmatch(r"\d{12,19}", value, re.ASCII) and luhn_ok(value))
    if kind == "iban":
        lengths = {"GB": 22, "FR": 27, "NL": 18, "ES": 24, "DE": 22, "IT": 27, "PL": 28}
        ok = re.fullmatch(r"[A-Z]{2}\d{2}[A-Z0-9]+", value, re.ASCII)
        return not (ok and lengths.get(value[:2]) == len(value) and iban_ok(value))
    if kind == "email":
        return not re.fullmatch(r"[a-z0-9._%+-]+@[a-z0-9-]+(\.[a-z0-9-]+)+", value)
    if kind == "phone":
        return not re.fullmatch(
            r"(\+1-|001-)?(\(\d{3}\)|\d{3}[-.]?)\d{3}[-.]?\d{4}(x\d{1,6})?", value, re.ASCII
        )
    try:
        parsed = dt.datetime.strptime(value, "%Y-%m-%d").date()
    except ValueError:
        return True
    return parsed.isoformat() != value or not 1900 <= parsed.year <= 2099


def test_loans_pii_quarantines_exactly_the_malformed_values() -> None:
    df = pd.read_csv(DATA, dtype=str, keep_default_na=False)
    expected = {
        (i, col)
        for col, kind in LOANS_PII.items()
        for i, v in enumerate(df[col].tolist())
        if _reference_reason(kind, v)
    }
    out = tokenize_frame(df, LOANS_PII, keys())
    got = set(zip(out.quarantine["row"], out.quarantine["column"], strict=True))
    assert got == expected
    assert len(expected) == 58
    assert len(out.frame) + out.quarantine["row"].nunique() == len(df)
    back = detokenize_frame(out.frame, LOANS_PII, keys())
    pd.testing.assert_frame_equal(back, df.loc[out.frame.index])
    tokens = out.frame
    assert not tokens["card_number"].map(luhn_ok).any()
    assert not tokens["iban"].map(iban_ok).any()
    # Repeated people keep equal tokens (determinism within a batch).
    dup = df.loc[out.frame.index].duplicated("ssn", keep=False)
    assert dup.any()
    assert tokens.loc[dup].groupby(df.loc[out.frame.index][dup]["ssn"])["ssn"].nunique().max() == 1


def test_loans_pii_with_pandas_default_parsing() -> None:
    # Default read_csv: NaN for blanks and "N/A", numbers mixed into the card column.
    df = pd.read_csv(DATA, low_memory=False)
    out = tokenize_frame(df, LOANS_PII, keys())
    assert out.quarantine["row"].nunique() == 58
    assert set(out.quarantine["reason"]) >= {"missing", "pan: fails Luhn", "iban: bad check digits"}


def test_docstring_examples() -> None:
    import doctest

    import engine.tokenize._frame as frame_module

    assert doctest.testmod(frame_module).failed == 0
