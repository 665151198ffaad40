"""End to end: attestation, the secure channel through a hostile host, sealing across enclaves."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from enclaves.apps import app_dir
from enclaves.attestation import NonceRegistry, Policy, SignerRule, TCBStatus
from enclaves.attestation.hazmat import inspect_quote
from enclaves.platform import SimulatedPlatform
from enclaves.runtime import AttestedClient, Enclave, SimulatedEnclave, measure_app, sign_app
from engine.errors import AttestationError, IntegrityError, SealingError
from tests.enclaves.conftest import copy_app


class HostileRelay:
    """Plays the host between client and enclave, and can tamper, replay or swap."""

    def __init__(self, enclave: SimulatedEnclave) -> None:
        self.enclave = enclave
        self.mode = "honest"
        self.last_record: bytes | None = None

    def __getattr__(self, name: str) -> Any:
        return getattr(self.enclave, name)

    def attest(self, nonce: bytes) -> bytes:
        return self.enclave.attest(nonce)

    def open_channel(self, quote: bytes, client_public_key: bytes) -> bytes:
        if self.mode == "swap-quote":
            # Hand the enclave another genuine quote (another key) than the client verified.
            quote = self.enclave.attest(b"n" * 32)
        return self.enclave.open_channel(quote, client_public_key)

    def send_secure(self, session: bytes, record: bytes) -> bytes:
        if self.mode == "tamper-request":
            record = record[:-1] + bytes([record[-1] ^ 1])
        elif self.mode == "replay" and self.last_record is not None:
            record = self.last_record
        self.last_record = record
        reply = self.enclave.send_secure(session, record)
        if self.mode == "tamper-reply":
            reply = reply[:-1] + bytes([reply[-1] ^ 1])
        return reply


def connect(enclave: Any, platform: SimulatedPlatform, policy: Policy) -> AttestedClient:
    return AttestedClient.connect(
        cast(Enclave, enclave),
        policy=policy,
        roots=[platform.root_certificate],
        nonces=NonceRegistry(),
    )


def test_attested_channel_end_to_end(
    echo_enclave: SimulatedEnclave, platform: SimulatedPlatform, echo_policy: Policy
) -> None:
    client = connect(echo_enclave, platform, echo_policy)
    assert client.verdict.claims.measurement == echo_enclave.measurement
    assert client.call("info")["is_secure"] is True
    assert client.call("echo", b"abc") == b"abc"


def test_debug_enclave_refused_by_default_even_with_matching_measurement(
    debug_enclave: SimulatedEnclave, platform: SimulatedPlatform, echo_policy: Policy
) -> None:
    assert debug_enclave.measurement in echo_policy.measurements
    with pytest.raises(AttestationError, match="debug enclave refused"):
        connect(debug_enclave, platform, echo_policy)


def test_tampered_request_is_rejected_in_the_enclave(
    echo_enclave: SimulatedEnclave, platform: SimulatedPlatform, echo_policy: Policy
) -> None:
    relay = HostileRelay(echo_enclave)
    client = connect(relay, platform, echo_policy)
    relay.mode = "tamper-request"
    with pytest.raises(IntegrityError, match="failed authentication"):
        client.call("echo", 1)


def test_replayed_request_is_rejected_in_the_enclave(
    echo_enclave: SimulatedEnclave, platform: SimulatedPlatform, echo_policy: Policy
) -> None:
    relay = HostileRelay(echo_enclave)
    client = connect(relay, platform, echo_policy)
    assert client.call("echo", "first") == "first"
    relay.mode = "replay"
    with pytest.raises(IntegrityError, match="replayed"):
        client.call("echo", "second")


def test_tampered_reply_is_rejected_by_the_client(
    echo_enclave: SimulatedEnclave, platform: SimulatedPlatform, echo_policy: Policy
) -> None:
    relay = HostileRelay(echo_enclave)
    client = connect(relay, platform, echo_policy)
    relay.mode = "tamper-reply"
    with pytest.raises(IntegrityError, match="failed authentication"):
        client.call("echo", 1)


def test_host_swapping_the_quote_behind_the_channel_fails(
    echo_enclave: SimulatedEnclave, platform: SimulatedPlatform, echo_policy: Policy
) -> None:
    relay = HostileRelay(echo_enclave)
    relay.mode = "swap-quote"
    client = connect(relay, platform, echo_policy)
    with pytest.raises(IntegrityError, match="failed authentication"):
        client.call("echo", 1)


def test_changed_app_is_not_accepted_by_the_old_policy(
    tmp_path: Path, platform: SimulatedPlatform, echo_policy: Policy, signer_key: Ed25519PrivateKey
) -> None:
    app = copy_app(app_dir("echo"), tmp_path / "echo")
    with (app / "app.py").open("ab") as handle:
        handle.write(b"#")
    sign_app(app, signer_key)
    assert measure_app(app) not in echo_policy.measurements
    with (
        SimulatedEnclave.load(app, platform=platform) as enclave,
        pytest.raises(AttestationError, match="measurement and signer not allowed"),
    ):
        connect(enclave, platform, echo_policy)


def test_out_of_date_tcb_refused_end_to_end(
    echo_enclave: SimulatedEnclave, platform: SimulatedPlatform, echo_policy: Policy
) -> None:
    platform.set_tcb_status(TCBStatus.OUT_OF_DATE)
    try:
        with pytest.raises(AttestationError, match="out-of-date"):
            connect(echo_enclave, platform, echo_policy)
    finally:
        platform.set_tcb_status(TCBStatus.UP_TO_DATE)


@pytest.fixture(scope="module")
def echo_v2(
    tmp_path_factory: pytest.TempPathFactory,
    platform: SimulatedPlatform,
    signer_key: Ed25519PrivateKey,
) -> Iterator[SimulatedEnclave]:
    app = copy_app(app_dir("echo"), tmp_path_factory.mktemp("v2") / "echo", svn=2)
    sign_app(app, signer_key)
    with SimulatedEnclave.load(app, platform=platform) as enclave:
        yield enclave


def test_sealed_blob_from_another_measurement_needs_migration(
    echo_enclave: SimulatedEnclave, echo_v2: SimulatedEnclave
) -> None:
    blob = echo_enclave.call("seal", {"data": b"state", "policy": "MEASUREMENT"})
    assert echo_v2.measurement != echo_enclave.measurement
    with pytest.raises(SealingError, match="migration required"):
        echo_v2.call("unseal", {"blob": blob})


def test_signer_sealing_moves_up_but_not_down(
    echo_enclave: SimulatedEnclave, echo_v2: SimulatedEnclave
) -> None:
    old = echo_enclave.call("seal", {"data": b"v1 state", "policy": "SIGNER"})
    assert echo_v2.call("unseal", {"blob": old}) == b"v1 state"
    new = echo_v2.call("seal", {"data": b"v2 state", "policy": "SIGNER"})
    with pytest.raises(SealingError, match="SVN >= 2"):
        echo_enclave.call("unseal", {"blob": new})


def test_debug_enclave_cannot_unseal_production_data(
    echo_enclave: SimulatedEnclave, debug_enclave: SimulatedEnclave
) -> None:
    blob = echo_enclave.call("seal", {"data": b"prod", "policy": "MEASUREMENT"})
    with pytest.raises(SealingError, match="debug enclaves cannot unseal"):
        debug_enclave.call("unseal", {"blob": blob})


def test_signer_rule_accepts_newer_svn_only(
    echo_enclave: SimulatedEnclave, echo_v2: SimulatedEnclave, platform: SimulatedPlatform
) -> None:
    rule = SignerRule(signer_id=echo_v2.identity.signer_id, product_id=1, min_svn=2)
    policy = Policy(signers=(rule,), allow_simulated=True)
    assert connect(echo_v2, platform, policy).verdict.claims.svn == 2
    with pytest.raises(AttestationError, match="SVN 1 below minimum 2"):
        connect(echo_enclave, platform, dataclasses.replace(policy))


def test_enclave_refuses_channels_for_foreign_quotes_and_unknown_sessions(
    echo_enclave: SimulatedEnclave, echo_v2: SimulatedEnclave
) -> None:
    from enclaves.channel import connect as open_client

    foreign = echo_v2.attest(b"n" * 32)
    claims = inspect_quote(foreign)
    _, hello = open_client(claims.public_key, binding=claims.binding)
    with pytest.raises(IntegrityError, match="another enclave"):
        echo_enclave.open_channel(foreign, hello)
    own = echo_enclave.attest(b"n" * 32)
    claims = inspect_quote(own)
    _, hello = open_client(claims.public_key, binding=claims.binding)
    echo_enclave.open_channel(own, hello)
    with pytest.raises(IntegrityError, match="pending key"):
        echo_enclave.open_channel(own, hello)  # the key is single-use
    with pytest.raises(IntegrityError, match="unknown secure channel session"):
        echo_enclave.send_secure(b"s" * 32, b"\x01" + bytes(40))
