from __future__ import annotations

import pytest

from engine.errors import ConfigError
from engine.smpc import parse_spec
from engine.smpc.hazmat import Computation

FP = "sha256:" + "ab" * 32


def _text(
    computation: str = "mean", *, parties: int = 3, session: str = "", dealer: bool = False
) -> str:
    out = f'[session]\nid = "s1"\ncomputation = "{computation}"\ncolumn = "amount"\n{session}\n'
    for i in range(parties):
        out += f'[[party]]\nname = "bank_{i}"\naddress = "127.0.0.1:{7000 + i}"\n'
        out += f'cert_fingerprint = "{FP}"\n'
    if dealer:
        out += '[dealer]\nname = "dealer"\naddress = "127.0.0.1:7099"\n'
        out += f'cert_fingerprint = "{FP}"\nmode = "process"\n'
    return out


def test_issue_example_shape_parses() -> None:
    spec = parse_spec(_text(session='reveal_to = ["bank_0", "bank_2"]\ntimeout_s = 20'))
    assert spec.computation is Computation.MEAN
    assert spec.names == ["bank_0", "bank_1", "bank_2"]
    assert spec.reveal_to == {"bank_0", "bank_2"}
    assert spec.timeout_s == 20
    assert not spec.needs_dealer
    assert spec.index("bank_1") == 1
    assert len(spec.spec_hash) == 32


def test_spec_hash_ignores_formatting_but_not_content() -> None:
    a = parse_spec(_text())
    b = parse_spec(_text().replace(" = ", "="))
    c = parse_spec(_text(session="timeout_s = 21"))
    assert a.spec_hash == b.spec_hash != c.spec_hash


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (_text(parties=1), "at least 2 parties"),
        (_text("median"), "computation must be one of"),
        (_text("histogram"), "buckets"),
        (_text("histogram", session="buckets = [0, 10, 5]"), "increasing"),
        (_text("threshold", dealer=True), "session.threshold"),
        (_text("threshold", session="threshold = 5.0"), "needs a \\[dealer\\]"),
        (_text("dot", session="bound = 10.0"), "needs a \\[dealer\\]"),
        (_text("dot", dealer=True), "session.bound"),
        (
            _text("dot", dealer=True, session='bound = 1.0\nleft = "bank_0"\nright = "bank_0"'),
            "two different",
        ),
        (_text("logreg-score"), "feature"),
        (_text(session='reveal_to = ["bank_9"]'), "reveal_to"),
        (_text(session="timeout_s = 0"), "timeout_s"),
        (_text(session="frac_bits = 99"), "frac_bits"),
        (_text().replace("127.0.0.1:7001", "nowhere"), "HOST:PORT"),
        (_text().replace(FP, "sha256:abc", 1), "fingerprint"),
        (_text().replace("127.0.0.1:7001", "127.0.0.1:7000"), "unique"),
        (
            _text().replace('computation = "mean"\ncolumn = "amount"', 'computation = "mean"'),
            "needs session.column",
        ),
        ("[session\n", "not valid TOML"),
        ("[[party]]\n", "lacks a \\[session\\]"),
    ],
)
def test_bad_specs_give_clear_errors(text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_spec(text)


def test_unknown_party_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="unknown party 'bank_x'"):
        parse_spec(_text()).index("bank_x")


def test_logreg_features_and_dealer_needs() -> None:
    feats = (
        '[[feature]]\nparty = "bank_0"\ncolumn = "income"\nweight = 0.5\n'
        '[[feature]]\nparty = "bank_1"\ncolumn = "debt"\nweight = -1.5\n[model]\nintercept = 0.25\n'
    )
    spec = parse_spec(_text("logreg-score") + feats)
    assert not spec.needs_dealer
    assert spec.columns_of("bank_1") == ["debt"]
    assert spec.columns_of("bank_2") == []
    assert spec.intercept == 0.25
    with_threshold = parse_spec(
        _text("logreg-score", session="threshold = 0.7", dealer=True) + feats
    )
    assert with_threshold.needs_dealer
    with pytest.raises(ConfigError, match="probability"):
        parse_spec(_text("logreg-score", session="threshold = 7.0", dealer=True) + feats)
