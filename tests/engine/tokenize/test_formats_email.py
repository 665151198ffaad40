"""Email tokens: local part per class with punctuation kept, domain kept or tokenized."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.tokenize import Kind, Scheme
from tests.engine.tokenize._support import back, run, shape

LOCAL = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"


@st.composite
def emails(draw: st.DrawFn) -> str:
    local = draw(st.text(LOCAL + "._%+-", min_size=1, max_size=30))
    label = draw(st.text(LOCAL + "-", min_size=1, max_size=12))
    tld = draw(st.sampled_from(["com", "org", "co.uk", "de"]))
    return f"{local}@{label}.{tld}"


def lower_digit_class(ch: str) -> str:
    return "u" if ch.isupper() else ("x" if ch.isalnum() else ch)


@settings(max_examples=20, deadline=None)
@given(
    values=st.lists(emails(), min_size=1, max_size=20),
    domain=st.booleans(),
    scheme=st.sampled_from(list(Scheme)),
)
def test_round_trip_and_format(values: list[str], domain: bool, scheme: Scheme) -> None:
    opts: dict[str, Any] = {"email_tokenize_domain": domain, "scheme": scheme}
    tokens, reasons = run(values, Kind.EMAIL, **opts)
    assert reasons == {}
    assert back(tokens, Kind.EMAIL, **opts) == values
    for value, token in zip(values, tokens, strict=True):
        local, dom = value.split("@")
        tlocal, tdom = token.split("@")
        # Punctuation in place; lower-case letters and digits share a class; case kept.
        assert [lower_digit_class(c) for c in tlocal] == [lower_digit_class(c) for c in local]
        if domain:
            assert tdom.split(".")[-1] == dom.split(".")[-1]
            assert [lower_digit_class(c) for c in tdom] == [lower_digit_class(c) for c in dom]
        else:
            assert tdom == dom


def test_domain_kept_by_default_and_bound_into_local_part() -> None:
    tokens, _ = run(["jade08@example.org", "jade08@example.com", "jade08@EXAMPLE.org"], Kind.EMAIL)
    assert [t.split("@")[1] for t in tokens] == ["example.org", "example.com", "EXAMPLE.org"]
    # Same local part at another domain: unrelated token; the domain's case does not matter.
    assert tokens[0].split("@")[0] != tokens[1].split("@")[0]
    assert tokens[0].split("@")[0] == tokens[2].split("@")[0]


def test_short_local_parts_use_the_small_domain_permutation() -> None:
    values = [f"{a}{b}@x.com" for a in "abcdefghij" for b in "0123456789"]
    tokens, _ = run(values, Kind.EMAIL)
    assert len(set(tokens)) == len(values)
    assert back(tokens, Kind.EMAIL) == values
    assert all(shape(t)[2:] == "@a.aaa" for t in tokens)


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("a@@b", "email: more than one @"),
        ("a@b@c.com", "email: more than one @"),
        ("no-at-sign.example.com", "email: no @"),
        ("a b@x.com", "email: contains whitespace"),
        ("@example.com", "email: empty local part"),
        ("john@", "email: empty domain"),
        ("john@localhost", "email: malformed"),
        ("jo(hn)@x.com", "email: malformed"),
        ("jöhn@x.com", "email: non-ASCII characters"),
        ("a" * 65 + "@x.com", "email: local part longer than 64"),
    ],
)
def test_bad_input(value: str, reason: str) -> None:
    assert run([value], Kind.EMAIL) == ([None], {0: reason})
