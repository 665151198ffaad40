from __future__ import annotations

import pytest

from enclaves.attestation import Policy, SignerRule, TCBStatus
from engine.errors import ConfigError


def test_default_policy_is_strict() -> None:
    policy = Policy()
    assert not policy.measurements
    assert not policy.signers
    assert not policy.allow_debug
    assert not policy.allow_simulated
    assert policy.accepted_tcb == frozenset({TCBStatus.UP_TO_DATE})


def test_from_mapping() -> None:
    policy = Policy.from_mapping(
        {
            "measurements": ["11" * 32],
            "signers": [{"signer_id": "22" * 32, "product_id": 3, "min_svn": 4}],
            "allow_simulated": True,
            "accepted_tcb": ["up-to-date", "sw-hardening-needed"],
            "max_age_s": 60,
        }
    )
    assert policy.measurements == frozenset({b"\x11" * 32})
    assert policy.signers == (SignerRule(signer_id=b"\x22" * 32, product_id=3, min_svn=4),)
    assert TCBStatus.SW_HARDENING_NEEDED in policy.accepted_tcb
    assert policy.max_age_s == 60


@pytest.mark.parametrize(
    "data",
    [
        {"measurements": ["00" * 32]},
        {"measurements": ["11" * 31]},
        {"measurements": ["zz"]},
        {"measurements": [17]},
        {"accepted_tcb": ["revoked"]},
        {"accepted_tcb": ["bogus"]},
        {"signers": [{"signer_id": "22" * 32}]},
        {"signers": [{"signer_id": "00" * 32, "product_id": 1}]},
        {"allow_debug": "yes"},
        {"max_age_s": 0},
        {"typo": 1},
    ],
)
def test_invalid_policies_are_config_errors(data: dict[str, object]) -> None:
    with pytest.raises(ConfigError):
        Policy.from_mapping(data)
