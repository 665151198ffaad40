from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from engine.errors import ConfigError
from engine.keys.policy import AccessPolicy, DetokenizeRequest, Role, Usage

POLICY: dict[str, Any] = {
    "roles": {
        "fraud-analyst": {
            "kinds": ["pan", "name"],
            "purposes": ["fraud-investigation"],
            "max_rows": 1000,
            "rate_requests": 3,
            "rate_rows": 1500,
            "window_s": 3600,
            "approval_rows": 100,
            "justification_min_chars": 12,
        },
        "support": {"kinds": ["email"], "purposes": ["customer-contact"], "max_rows": 5},
        "bulk": {"kinds": ["pan"], "purposes": ["fraud-investigation"], "max_rows": 50000},
    },
    "principals": {
        "alice": {"roles": ["fraud-analyst"]},
        "bob": {"roles": ["fraud-analyst"], "approver": True},
        "carol": {"roles": ["support", "bulk"]},
        "dave": {"roles": []},
    },
}
NONE = Usage(requests=0, rows=0)


def _policy() -> AccessPolicy:
    return AccessPolicy.from_mapping(POLICY)


def _req(**kw: Any) -> DetokenizeRequest:
    fields: dict[str, Any] = {
        "principal": "alice",
        "kind": "pan",
        "rows": 10,
        "purpose": "fraud-investigation",
        "justification": "case FR-2026-0042 chargeback",
        **kw,
    }
    return DetokenizeRequest(**fields)


def _decide(req: DetokenizeRequest, usage: Usage = NONE, *, approved: bool = False) -> str:
    decision = _policy().evaluate(req, usage=lambda p, w: usage, is_approved=approved)
    assert decision.allowed == (decision.rule == "allow")
    return decision.rule


def test_allowed_request() -> None:
    decision = _policy().evaluate(_req(), usage=lambda p, w: NONE, is_approved=False)
    assert decision.allowed
    assert decision.role == "fraud-analyst"


@pytest.mark.parametrize(
    ("change", "rule"),
    [
        ({"principal": "mallory"}, "unknown_principal"),
        ({"principal": "dave"}, "kind_not_granted"),
        ({"kind": "iban"}, "kind_not_granted"),
        ({"purpose": "marketing"}, "purpose_not_granted"),
        ({"justification": ""}, "justification_required"),
        ({"justification": "   short    "}, "justification_required"),
        ({"rows": 1001}, "row_cap"),
        ({"rows": 101}, "approval_required"),
    ],
)
def test_denied_by_default_and_by_rule(change: dict[str, Any], rule: str) -> None:
    assert _decide(_req(**change)) == rule


def test_rate_limits() -> None:
    assert _decide(_req(), Usage(requests=2, rows=0)) == "allow"
    assert _decide(_req(), Usage(requests=3, rows=0)) == "rate_requests"
    assert _decide(_req(rows=10), Usage(requests=1, rows=1490)) == "allow"
    assert _decide(_req(rows=11), Usage(requests=1, rows=1490)) == "rate_rows"


def test_approval_lifts_bulk_threshold_but_not_the_cap() -> None:
    assert _decide(_req(rows=500), approved=True) == "allow"
    assert _decide(_req(rows=5000), approved=True) == "row_cap"


def test_any_granting_role_may_allow() -> None:
    # carol's support role cannot see PANs, but her bulk role can, without limits.
    assert _decide(_req(principal="carol", rows=20000)) == "allow"
    assert _decide(_req(principal="carol", kind="email", purpose="customer-contact", rows=6)) == (
        "row_cap"
    )


def test_usage_lookup_gets_principal_and_window() -> None:
    calls: list[tuple[str, int]] = []

    def usage(principal: str, window_s: int) -> Usage:
        calls.append((principal, window_s))
        return NONE

    _policy().evaluate(_req(), usage=usage, is_approved=False)
    assert calls == [("alice", 3600)]


def test_denial_reasons_hold_no_justification() -> None:
    sensitive = "customer 4111111111111111 called"
    decision = _policy().evaluate(
        _req(justification=sensitive, rows=5000), usage=lambda p, w: NONE, is_approved=False
    )
    assert decision.rule == "row_cap"
    assert "4111" not in decision.reason
    assert sensitive not in repr(_req(justification=sensitive))


def test_fingerprint_binds_every_field() -> None:
    base = _req()
    assert base.fingerprint() == _req().fingerprint()
    for change in (
        {"rows": 11},
        {"kind": "name"},
        {"principal": "bob"},
        {"purpose": "other"},
        {"justification": "case FR-2026-0043 chargeback"},
        {"dataset_id": "ds"},
        {"key_version": 2},
    ):
        assert _req(**change).fingerprint() != base.fingerprint(), change
    assert base.key_id == "tokenize.pan"


@pytest.mark.parametrize(
    "change",
    [
        {"rows": 0},
        {"kind": "PAN"},
        {"principal": "bad name"},
        {"purpose": ""},
        {"justification": 3},
    ],
)
def test_malformed_requests(change: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match=next(iter(change))):
        _req(**change)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"roles": {"r": {"kinds": ["pan"], "purposes": ["p"]}}}, "needs max_rows"),
        ({"roles": {"r": {"kinds": [], "purposes": ["p"], "max_rows": 1}}}, "kinds"),
        ({"roles": {"r": {"kinds": ["pan"], "purposes": [], "max_rows": 1}}}, "purposes"),
        ({"roles": {"r": {"kinds": ["pan"], "purposes": ["p"], "max_rows": 0}}}, "max_rows"),
        ({"roles": {"r": {"kinds": ["pan"], "purposes": ["p"], "max_rows": 1, "x": 1}}}, "'x'"),
        ({"roles": {"r": {"kinds": "pan", "purposes": ["p"], "max_rows": 1}}}, "list of strings"),
        ({"principals": {"a": {"roles": ["ghost"]}}}, "unknown role"),
        ({"principals": {"a": {"roles": [], "approver": "yes"}}}, "true or false"),
        ({"principals": {"a": {"roles": [], "admin": True}}}, "'admin'"),
        ({"principals": {"a b": {"roles": []}}}, "principal name"),
        ({"users": {}}, "unknown section"),
        ({"roles": []}, "malformed"),
    ],
)
def test_bad_policies(data: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        AccessPolicy.from_mapping(data)


def test_role_field_validation() -> None:
    with pytest.raises(ConfigError, match="justification_min_chars"):
        Role(name="r", kinds=frozenset({"pan"}), purposes=frozenset({"p"}), max_rows=1,
             justification_min_chars=0)  # fmt: skip
    with pytest.raises(ConfigError, match="rate_rows"):
        Role(name="r", kinds=frozenset({"pan"}), purposes=frozenset({"p"}), max_rows=1,
             rate_rows=-5)  # fmt: skip


def test_load_toml(tmp_path: Path) -> None:
    path = tmp_path / "policy.toml"
    path.write_text(
        '[roles.analyst]\nkinds = ["pan"]\npurposes = ["fraud"]\nmax_rows = 10\n'
        '[principals.alice]\nroles = ["analyst"]\n'
    )
    policy = AccessPolicy.load(path)
    assert policy.principal("alice") is not None
    req = _req(purpose="fraud")
    assert policy.evaluate(req, usage=lambda p, w: NONE, is_approved=False).allowed
    path.write_text("[roles\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        AccessPolicy.load(path)
    with pytest.raises(ConfigError, match="cannot read policy"):
        AccessPolicy.load(tmp_path / "absent.toml")


def test_empty_policy_denies_everything() -> None:
    policy = AccessPolicy.from_mapping({})
    decision = policy.evaluate(_req(), usage=lambda p, w: NONE, is_approved=True)
    assert not decision.allowed
    assert decision.rule == "unknown_principal"
