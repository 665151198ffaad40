"""Quote verification, driven by a platform directly (no enclave process needed)."""

from __future__ import annotations

import dataclasses
import secrets
import time
from typing import Any

import cbor2
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding

from enclaves.attestation import (
    NonceRegistry,
    Policy,
    QuoteClaims,
    SignerRule,
    TCBStatus,
    verify_quote,
)
from enclaves.attestation.hazmat import inspect_quote, sign_quote
from enclaves.encoding import decode, encode
from enclaves.platform import PlatformSecrets, SimulatedPlatform
from engine.errors import AttestationError

MEASUREMENT = b"\x11" * 32
SIGNER = b"\x22" * 32


@pytest.fixture(scope="module")
def platform_secrets() -> PlatformSecrets:
    return PlatformSecrets.generate(sealing_secret=secrets.token_bytes(32))


@pytest.fixture
def platform(platform_secrets: PlatformSecrets) -> SimulatedPlatform:
    return SimulatedPlatform(platform_secrets, tcb_status=TCBStatus.UP_TO_DATE)


POLICY = Policy(measurements=frozenset({MEASUREMENT}), allow_simulated=True)


def make_quote(platform: SimulatedPlatform, nonce: bytes, **overrides: Any) -> bytes:
    fields: dict[str, Any] = {
        "measurement": MEASUREMENT,
        "signer_id": SIGNER,
        "product_id": 1,
        "svn": 2,
        "is_debug": False,
        "nonce": nonce,
        "public_key": b"\x33" * 32,
    }
    fields.update(overrides)
    return platform.issue_quote(**fields)


def verify(platform: SimulatedPlatform, quote: bytes, nonces: NonceRegistry, **kw: Any) -> Any:
    policy = kw.pop("policy", POLICY)
    return verify_quote(quote, policy, roots=[platform.root_certificate], nonces=nonces, **kw)


def test_valid_quote_is_accepted_with_reasons(
    platform: SimulatedPlatform, nonces: NonceRegistry
) -> None:
    nonce = nonces.issue()
    verdict = verify(platform, make_quote(platform, nonce), nonces)
    assert verdict.claims.measurement == MEASUREMENT
    assert verdict.claims.nonce == nonce
    assert verdict.claims.is_simulated
    assert "SIMULATED" in verdict.claims.platform
    assert "allowed: measurement in allowlist" in verdict.reasons
    assert len(verdict.platform_fingerprint) == 32


def test_every_certificate_and_quote_says_simulated(
    platform: SimulatedPlatform, nonces: NonceRegistry
) -> None:
    assert "SIMULATED" in platform.root_certificate.subject.rfc4514_string()
    claims = inspect_quote(make_quote(platform, nonces.issue()))
    assert claims.is_simulated
    assert "SIMULATED" in claims.platform


def test_simulated_platform_refused_unless_policy_allows(
    platform: SimulatedPlatform, nonces: NonceRegistry
) -> None:
    strict = dataclasses.replace(POLICY, allow_simulated=False)
    with pytest.raises(AttestationError, match="simulated platform not allowed"):
        verify(platform, make_quote(platform, nonces.issue()), nonces, policy=strict)


def test_reused_nonce_is_refused(platform: SimulatedPlatform, nonces: NonceRegistry) -> None:
    quote = make_quote(platform, nonces.issue())
    verify(platform, quote, nonces)
    with pytest.raises(AttestationError, match="already used"):
        verify(platform, quote, nonces)


def test_unknown_nonce_is_refused(platform: SimulatedPlatform, nonces: NonceRegistry) -> None:
    with pytest.raises(AttestationError, match="unknown"):
        verify(platform, make_quote(platform, secrets.token_bytes(32)), nonces)


def test_expired_nonce_is_refused_and_burned(platform: SimulatedPlatform) -> None:
    clock = [1_000.0]
    nonces = NonceRegistry(ttl_s=60, clock=lambda: clock[0])
    nonce = nonces.issue()
    quote = make_quote(platform, nonce)
    clock[0] += 61
    with pytest.raises(AttestationError, match="expired"):
        verify(platform, quote, nonces)
    with pytest.raises(AttestationError, match="already used"):
        verify(platform, quote, nonces)


def test_stale_and_future_quotes_are_refused(
    platform: SimulatedPlatform, nonces: NonceRegistry
) -> None:
    with pytest.raises(AttestationError, match="stale"):
        verify(platform, make_quote(platform, nonces.issue()), nonces, now=time.time() + 301)
    with pytest.raises(AttestationError, match="future"):
        verify(platform, make_quote(platform, nonces.issue()), nonces, now=time.time() - 120)


def test_quote_from_another_platform_is_refused(
    platform: SimulatedPlatform, nonces: NonceRegistry
) -> None:
    other = SimulatedPlatform(
        PlatformSecrets.generate(sealing_secret=bytes(32)), tcb_status=TCBStatus.UP_TO_DATE
    )
    with pytest.raises(AttestationError, match="untrusted root"):
        verify(platform, make_quote(other, nonces.issue()), nonces)


def test_quote_signed_by_another_key_is_refused(
    platform: SimulatedPlatform, platform_secrets: PlatformSecrets, nonces: NonceRegistry
) -> None:
    genuine = inspect_quote(make_quote(platform, nonces.issue()))
    chain = [
        platform_secrets.platform_certificate.public_bytes(Encoding.DER),
        platform_secrets.root_certificate.public_bytes(Encoding.DER),
    ]
    forged = sign_quote(genuine, signing_key=Ed25519PrivateKey.generate(), chain=chain)
    with pytest.raises(AttestationError, match="signature does not verify"):
        verify(platform, forged, nonces)


def test_chain_with_forged_platform_certificate_is_refused(
    platform: SimulatedPlatform, platform_secrets: PlatformSecrets, nonces: NonceRegistry
) -> None:
    # An attacker issues itself a platform certificate under its own root but appends the
    # genuine root certificate at the end of the chain.
    attacker = PlatformSecrets.generate(sealing_secret=bytes(32))
    genuine = inspect_quote(make_quote(platform, nonces.issue()))
    chain = [
        attacker.platform_certificate.public_bytes(Encoding.DER),
        platform_secrets.root_certificate.public_bytes(Encoding.DER),
    ]
    forged = sign_quote(genuine, signing_key=attacker.attestation_key, chain=chain)
    with pytest.raises(AttestationError, match="chain signature is invalid"):
        verify(platform, forged, nonces)


def _rewrite_payload(quote: bytes, **changes: Any) -> bytes:
    tag = decode(quote)
    protected, unprotected, payload, signature = tag.value
    claims = dict(decode(payload))
    claims.update(changes)
    return encode(cbor2.CBORTag(18, [protected, dict(unprotected), encode(claims), signature]))


def test_valid_quote_with_swapped_public_key_is_refused(
    platform: SimulatedPlatform, nonces: NonceRegistry
) -> None:
    quote = make_quote(platform, nonces.issue())
    swapped = _rewrite_payload(quote, public_key=b"\x44" * 32)
    with pytest.raises(AttestationError, match="signature does not verify"):
        verify(platform, swapped, nonces)
    # Recomputing the binding does not help either: the signature covers it.
    claims = dataclasses.replace(inspect_quote(quote), public_key=b"\x44" * 32)
    rebound = _rewrite_payload(quote, **QuoteClaims.create(**_fields(claims)).to_mapping())
    with pytest.raises(AttestationError, match="signature does not verify"):
        verify(platform, rebound, nonces)


def _fields(claims: QuoteClaims) -> dict[str, Any]:
    return {
        f.name: getattr(claims, f.name) for f in dataclasses.fields(claims) if f.name != "binding"
    }


def test_binding_hash_mismatch_is_refused(
    platform: SimulatedPlatform, platform_secrets: PlatformSecrets, nonces: NonceRegistry
) -> None:
    claims = inspect_quote(make_quote(platform, nonces.issue()))
    unbound = dataclasses.replace(claims, public_key=b"\x44" * 32)  # binding left as it was
    chain = [
        platform_secrets.platform_certificate.public_bytes(Encoding.DER),
        platform_secrets.root_certificate.public_bytes(Encoding.DER),
    ]
    quote = sign_quote(unbound, signing_key=platform_secrets.attestation_key, chain=chain)
    with pytest.raises(AttestationError, match="binding hash does not match"):
        verify(platform, quote, nonces)


@pytest.mark.parametrize("status", [TCBStatus.OUT_OF_DATE, TCBStatus.REVOKED])
def test_out_of_date_or_revoked_tcb_is_refused(
    platform: SimulatedPlatform, nonces: NonceRegistry, status: TCBStatus
) -> None:
    platform.set_tcb_status(status)
    with pytest.raises(AttestationError, match=f"TCB status '{status.value}' not accepted"):
        verify(platform, make_quote(platform, nonces.issue()), nonces)


def test_out_of_date_tcb_accepted_when_policy_says_so(
    platform: SimulatedPlatform, nonces: NonceRegistry
) -> None:
    platform.set_tcb_status(TCBStatus.OUT_OF_DATE)
    lenient = dataclasses.replace(
        POLICY, accepted_tcb=frozenset({TCBStatus.UP_TO_DATE, TCBStatus.OUT_OF_DATE})
    )
    verify(platform, make_quote(platform, nonces.issue()), nonces, policy=lenient)


def test_debug_refused_even_with_matching_measurement(
    platform: SimulatedPlatform, nonces: NonceRegistry
) -> None:
    with pytest.raises(AttestationError, match="debug enclave refused"):
        verify(platform, make_quote(platform, nonces.issue(), is_debug=True), nonces)
    dev = dataclasses.replace(POLICY, allow_debug=True)
    verify(platform, make_quote(platform, nonces.issue(), is_debug=True), nonces, policy=dev)


def test_empty_allowlist_denies_everything(
    platform: SimulatedPlatform, nonces: NonceRegistry
) -> None:
    with pytest.raises(AttestationError, match="empty allowlist"):
        verify(
            platform,
            make_quote(platform, nonces.issue()),
            nonces,
            policy=Policy(allow_simulated=True),
        )


def test_all_zero_measurement_always_refused(
    platform: SimulatedPlatform, nonces: NonceRegistry
) -> None:
    broad = Policy(signers=(SignerRule(signer_id=SIGNER, product_id=1),), allow_simulated=True)
    quote = make_quote(platform, nonces.issue(), measurement=bytes(32))
    with pytest.raises(AttestationError, match="all-zero measurement"):
        verify(platform, quote, nonces, policy=broad)


def test_signer_rule_with_minimum_svn(platform: SimulatedPlatform, nonces: NonceRegistry) -> None:
    rule = Policy(
        signers=(SignerRule(signer_id=SIGNER, product_id=1, min_svn=2),), allow_simulated=True
    )
    other = b"\x55" * 32
    verify(platform, make_quote(platform, nonces.issue(), measurement=other), nonces, policy=rule)
    with pytest.raises(AttestationError, match="SVN 1 below minimum 2"):
        verify(platform, make_quote(platform, nonces.issue(), svn=1), nonces, policy=rule)
    with pytest.raises(AttestationError, match="not allowed by policy"):
        verify(platform, make_quote(platform, nonces.issue(), product_id=2), nonces, policy=rule)


def test_attested_rule_plus_broad_rule_still_needs_a_valid_quote(
    platform: SimulatedPlatform, nonces: NonceRegistry
) -> None:
    # One exact-measurement rule and one broad signer rule (any SVN): the broad rule widens
    # which enclaves match, never whether a genuine, fresh quote is needed.
    policy = Policy(
        measurements=frozenset({MEASUREMENT}),
        signers=(SignerRule(signer_id=SIGNER, product_id=1, min_svn=0),),
        allow_simulated=True,
    )
    nonce = nonces.issue()
    quote = make_quote(platform, nonce, measurement=b"\x66" * 32)
    with pytest.raises(AttestationError, match="signature does not verify"):
        verify(platform, _rewrite_payload(quote, svn=9), nonces, policy=policy)
    with pytest.raises(AttestationError, match="unknown"):
        verify(platform, make_quote(platform, secrets.token_bytes(32)), nonces, policy=policy)
    with pytest.raises(AttestationError, match="not allowed"):
        verify(
            platform,
            make_quote(platform, nonces.issue(), signer_id=b"\x77" * 32, measurement=b"\x66" * 32),
            nonces,
            policy=policy,
        )
    verify(platform, quote, nonces, policy=policy)


def test_all_failures_are_listed(platform: SimulatedPlatform, nonces: NonceRegistry) -> None:
    platform.set_tcb_status(TCBStatus.REVOKED)
    quote = make_quote(platform, secrets.token_bytes(32), is_debug=True, measurement=b"\x99" * 32)
    with pytest.raises(AttestationError) as info:
        verify(platform, quote, nonces, policy=dataclasses.replace(POLICY, allow_simulated=False))
    message = str(info.value)
    for part in (
        "simulated platform",
        "measurement and signer not allowed",
        "debug",
        "revoked",
        "unknown",
    ):
        assert part in message


@pytest.mark.parametrize(
    "quote",
    [b"", b"\x00garbage", encode([1, 2, 3]), encode(cbor2.CBORTag(18, [b"", {}, b"", b""]))],
)
def test_malformed_quotes_are_refused(
    platform: SimulatedPlatform, nonces: NonceRegistry, quote: bytes
) -> None:
    with pytest.raises(AttestationError):
        verify(platform, quote, nonces)


def test_no_roots_is_refused(platform: SimulatedPlatform, nonces: NonceRegistry) -> None:
    with pytest.raises(AttestationError, match="no trusted root"):
        verify_quote(make_quote(platform, nonces.issue()), POLICY, roots=[], nonces=nonces)
