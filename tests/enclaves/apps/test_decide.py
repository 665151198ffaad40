"""The decide app in a real enclave process: CKKS key by release, decisions per policy."""

from __future__ import annotations

import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from enclaves.apps import app_dir
from enclaves.apps.decide.app import DecisionPolicy
from enclaves.attestation import NonceRegistry, Policy
from enclaves.keyrelease import KeyRelease, release_key, wrap_payload
from enclaves.platform import SimulatedPlatform
from enclaves.runtime import AttestedClient, Enclave, SimulatedEnclave, sign_app
from engine.errors import ConfigError, ContextMismatch, IntegrityError, PolicyDenied
from engine.he import CKKSKeys, CKKSParams, EncryptedFrame, EncryptedVector
from engine.keys import KeyPurpose, KeyRing
from tests.enclaves.apps.conftest import hex_ids
from tests.enclaves.conftest import copy_app
from tests.enclaves.keyrelease.test_release import WatchingHost

KEY_ID = "ckks.owner"
FEATURES = np.array([[0.5, 1.0], [-1.0, 2.0], [3.0, 0.1], [0.0, 0.0], [2.0, -2.0]])
WEIGHTS = [1.0, -0.5]
INTERCEPT = 0.1


@pytest.fixture(scope="module")
def job_key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


@pytest.fixture(scope="module")
def ckks() -> CKKSKeys:
    return CKKSKeys.generate(CKKSParams.DEFAULT)


@pytest.fixture(scope="module")
def margins() -> np.ndarray:
    return np.asarray(FEATURES @ np.array(WEIGHTS) + INTERCEPT)


@pytest.fixture(scope="module")
def scores(ckks: CKKSKeys) -> bytes:
    frame = EncryptedFrame.encrypt(FEATURES, ckks.public_context())
    return frame.linear(WEIGHTS, intercept=INTERCEPT).to_bytes()


def build(
    tmp: Path,
    signer: Ed25519PrivateKey,
    keyring_identity: Ed25519PrivateKey,
    job: Ed25519PrivateKey,
    **config: str,
) -> Path:
    lines = {"trusted_clients": hex_ids(keyring_identity), "clients": hex_ids(job), **config}
    path = copy_app(app_dir("decide"), tmp, svn=None, **lines)
    sign_app(path, signer)
    return path


class Deployment:
    """One decide enclave, its policy, and helpers to release the key and ask it."""

    def __init__(self, enclave: SimulatedEnclave, platform: SimulatedPlatform) -> None:
        self.enclave = enclave
        self.platform = platform
        self.policy = Policy(measurements=frozenset({enclave.measurement}), allow_simulated=True)

    def release(
        self, keyring: KeyRing, identity: Ed25519PrivateKey, payload: bytes, host: Any = None
    ) -> KeyRelease:
        return release_key(
            keyring, KEY_ID, enclave=host or self.enclave, policy=self.policy,
            roots=[self.platform.root_certificate], nonces=NonceRegistry(),
            client_key=identity, extra={"payload": payload},
        )  # fmt: skip

    def client(self, key: Ed25519PrivateKey | None) -> AttestedClient:
        return AttestedClient.connect(
            self.enclave, policy=self.policy, roots=[self.platform.root_certificate],
            nonces=NonceRegistry(), client_key=key,
        )  # fmt: skip


@pytest.fixture(scope="module")
def deployment(
    tmp_path_factory: pytest.TempPathFactory,
    platform: SimulatedPlatform,
    signer_key: Ed25519PrivateKey,
    keyring_identity: Ed25519PrivateKey,
    job_key: Ed25519PrivateKey,
) -> Iterator[Deployment]:
    path = build(tmp_path_factory.mktemp("decide") / "app", signer_key, keyring_identity, job_key)
    with SimulatedEnclave.load(path, platform=platform) as enclave:
        yield Deployment(enclave, platform)


@pytest.fixture(scope="module")
def payload(module_keyring: KeyRing, ckks: CKKSKeys) -> bytes:
    kek = module_keyring.ensure(KEY_ID, KeyPurpose.CKKS)
    return wrap_payload(kek, ckks.to_bytes(), purpose=KeyPurpose.CKKS)


def test_decisions_only_and_the_ckks_key_crossed_the_host_wrapped(
    deployment: Deployment,
    module_keyring: KeyRing,
    keyring_identity: Ed25519PrivateKey,
    job_key: Ed25519PrivateKey,
    payload: bytes,
    ckks: CKKSKeys,
    scores: bytes,
    margins: np.ndarray,
) -> None:
    with pytest.raises(PolicyDenied, match="no CKKS key"):
        deployment.client(job_key).call("decide", {"vectors": [scores]})
    host = WatchingHost(deployment.enclave)
    record = deployment.release(module_keyring, keyring_identity, payload, host=host)
    assert record.key_id == KEY_ID
    info = deployment.enclave.call("info")
    assert info["has_key"] is True
    assert info["fingerprint"] == ckks.fingerprint
    # The secret-key part of the serialized keys never crossed the host in the clear.
    tail = ckks.to_bytes()[-256:]
    assert not any(tail in blob for blob in host.seen)
    reply = deployment.client(job_key).call("decide", {"vectors": [scores]})
    expected = ["review" if p >= 0.5 else "approve" for p in 1 / (1 + np.exp(-margins))]
    assert reply == {"count": len(FEATURES), "decisions": expected}


def test_only_listed_clients_over_the_channel_may_ask(
    deployment: Deployment,
    keyring_identity: Ed25519PrivateKey,
    scores: bytes,
) -> None:
    with pytest.raises(PolicyDenied, match="attested secure channel"):
        deployment.enclave.call("decide", {"vectors": [scores]})
    with pytest.raises(PolicyDenied, match="listed in the enclave config"):
        deployment.client(None).call("decide", {"vectors": [scores]})
    with pytest.raises(PolicyDenied, match="listed in the enclave config"):
        deployment.client(keyring_identity).call("decide", {"vectors": [scores]})


def test_aggregates_and_foreign_contexts_are_refused(
    deployment: Deployment,
    module_keyring: KeyRing,
    keyring_identity: Ed25519PrivateKey,
    job_key: Ed25519PrivateKey,
    payload: bytes,
    ckks: CKKSKeys,
) -> None:
    deployment.release(module_keyring, keyring_identity, payload)
    client = deployment.client(job_key)
    sums = EncryptedFrame.encrypt(FEATURES, ckks.public_context()).column_sums().to_bytes()
    with pytest.raises(PolicyDenied, match="per-record scores"):
        client.call("decide", {"vectors": [sums]})
    other = CKKSKeys.generate()
    foreign = EncryptedFrame.encrypt(FEATURES, other.public_context()).linear(WEIGHTS).to_bytes()
    with pytest.raises(ContextMismatch, match="context"):
        client.call("decide", {"vectors": [foreign]})


def test_tampered_payload_is_refused_inside_the_enclave(
    deployment: Deployment,
    module_keyring: KeyRing,
    keyring_identity: Ed25519PrivateKey,
    payload: bytes,
) -> None:
    bad = payload[:-1] + bytes([payload[-1] ^ 1])
    with pytest.raises(IntegrityError, match="failed authentication"):
        deployment.release(module_keyring, keyring_identity, bad)
    assert module_keyring.audit_log is not None
    assert module_keyring.audit_log.read_entries()[-1]["decision"] == "error"


def test_thresholded_output_reveals_rounded_scores_above_the_threshold_only(
    ckks: CKKSKeys, scores: bytes, margins: np.ndarray
) -> None:
    # The same DecisionPolicy code runs inside the enclave (see the end-to-end test above).
    policy = DecisionPolicy.from_config({"output": "thresholded", "threshold": 0.6})
    values = ckks.decrypt(scores)
    reply = policy.apply(1 / (1 + np.exp(-values)), values)
    probabilities = 1 / (1 + np.exp(-margins))
    for p, shown in zip(probabilities, reply["scores"], strict=True):
        assert shown is None if p < 0.6 else shown == pytest.approx(round(p, 2), abs=0.011)
    assert "margins" not in reply
    assert reply["decisions"] == ["review" if p >= 0.6 else "approve" for p in probabilities]


def test_margins_need_reveal_margins_in_the_measured_policy() -> None:
    with pytest.raises(ConfigError, match="reveal_margins"):
        DecisionPolicy.from_config({"output": "margin"})
    with pytest.raises(ConfigError, match=r"\(0, 1\)"):
        DecisionPolicy.from_config({"threshold": 1.5})
    policy = DecisionPolicy.from_config(
        {"output": "margin", "reveal_margins": True, "score": "raw", "threshold": 0.0}
    )
    values = np.array([-0.25, 0.0, 1.5])
    reply = policy.apply(values, values)
    assert reply["decisions"] == ["approve", "review", "review"]
    assert reply["margins"] == [-0.25, 0.0, 1.5]
    assert DecisionPolicy.from_config({}).apply(values, values) == {
        "count": 3,
        "decisions": ["approve", "approve", "review"],
    }
    with pytest.raises(ConfigError, match="not finite"):
        policy.apply(np.array([np.nan]), None)


@pytest.mark.slow
def test_probability_vectors_with_the_logistic_preset(
    tmp_path: Path,
    platform: SimulatedPlatform,
    signer_key: Ed25519PrivateKey,
    keyring_identity: Ed25519PrivateKey,
    job_key: Ed25519PrivateKey,
    module_keyring: KeyRing,
    margins: np.ndarray,
) -> None:
    keys = CKKSKeys.generate(CKKSParams.LOGISTIC)
    kek = module_keyring.ensure("ckks.logistic", KeyPurpose.CKKS)
    wrapped = wrap_payload(kek, keys.to_bytes(), purpose=KeyPurpose.CKKS)
    vector = EncryptedFrame.encrypt(FEATURES, keys.public_context()).logistic(WEIGHTS, INTERCEPT)
    assert isinstance(vector, EncryptedVector)
    path = build(tmp_path / "p", signer_key, keyring_identity, job_key,
                 key_id='"ckks.logistic"', output='"score"')  # fmt: skip
    with SimulatedEnclave.load(path, platform=platform) as enclave:
        deployment = Deployment(enclave, platform)
        release_key(
            module_keyring, "ckks.logistic", enclave=enclave, policy=deployment.policy,
            roots=[platform.root_certificate], nonces=NonceRegistry(),
            client_key=keyring_identity, extra={"payload": wrapped},
        )  # fmt: skip
        reply = deployment.client(job_key).call("decide", {"vectors": [vector.to_bytes()]})
    assert np.allclose(reply["scores"], 1 / (1 + np.exp(-margins)), atol=0.03)


def test_a_key_for_another_key_id_is_refused(
    deployment: Deployment,
    module_keyring: KeyRing,
    keyring_identity: Ed25519PrivateKey,
    payload: bytes,
) -> None:
    module_keyring.ensure("ckks.other", KeyPurpose.CKKS)
    enclave: Enclave = deployment.enclave
    with pytest.raises(PolicyDenied, match="does not take key"):
        release_key(
            module_keyring, "ckks.other", enclave=enclave, policy=deployment.policy,
            roots=[deployment.platform.root_certificate], nonces=NonceRegistry(),
            client_key=keyring_identity, extra={"payload": payload},
        )  # fmt: skip


def test_the_shipped_manifest_parses_to_decisions_only() -> None:
    config = tomllib.loads((app_dir("decide") / "enclave.toml").read_text())["config"]
    assert (config["trusted_clients"], config["clients"]) == ([], [])
    policy = DecisionPolicy.from_config(config)
    assert policy.describe()["output"] == "decision"
    assert policy.reveal_margins is False
