"""Attestation-bound key release through real enclave processes, with a watching host."""

from __future__ import annotations

import base64
import hashlib
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from enclaves.apps import app_dir
from enclaves.attestation import NonceRegistry, Policy, SignerRule
from enclaves.channel import RECORD_FORMAT_VERSION
from enclaves.keyrelease import RELEASE_ACTION, client_id_of, release_key
from enclaves.platform import SimulatedPlatform
from enclaves.runtime import Enclave, SimulatedEnclave, sign_app
from engine.errors import AttestationError, KeyManagementError, KeyNotFound, PolicyDenied
from engine.keys import KeyPurpose, KeyRing
from tests.enclaves.conftest import copy_app
from tests.enclaves.keyrelease.conftest import make_keyring

KEY_ID = "tokenize.pan"


class WatchingHost:
    """Relays between keyring and enclave and keeps a copy of every byte it sees."""

    def __init__(self, enclave: SimulatedEnclave) -> None:
        self.enclave = enclave
        self.seen: list[bytes] = []
        self.nonces: NonceRegistry | None = None

    def __getattr__(self, name: str) -> Any:
        return getattr(self.enclave, name)

    def attest(self, nonce: bytes) -> bytes:
        if self.nonces is not None:
            # A hostile host answers with a quote for another (valid, unused) nonce.
            nonce = self.nonces.issue()
        quote = self.enclave.attest(nonce)
        self.seen += [nonce, quote]
        return quote

    def open_channel(self, quote: bytes, hello: bytes) -> bytes:
        session = self.enclave.open_channel(quote, hello)
        self.seen += [quote, hello, session]
        return session

    def send_secure(self, session: bytes, record: bytes) -> bytes:
        reply = self.enclave.send_secure(session, record)
        self.seen += [record, reply]
        return reply


@pytest.fixture(scope="module")
def trusted_dir(
    tmp_path_factory: pytest.TempPathFactory,
    signer_key: Ed25519PrivateKey,
    keyring_identity: Ed25519PrivateKey,
) -> Path:
    trusted = json.dumps([client_id_of(keyring_identity).hex()])
    path = copy_app(
        app_dir("echo"), tmp_path_factory.mktemp("release") / "echo", trusted_clients=trusted
    )
    sign_app(path, signer_key)
    return path


@pytest.fixture(scope="module")
def enclave(trusted_dir: Path, platform: SimulatedPlatform) -> Iterator[SimulatedEnclave]:
    with SimulatedEnclave.load(trusted_dir, platform=platform) as loaded:
        yield loaded


@pytest.fixture
def policy(enclave: SimulatedEnclave) -> Policy:
    return Policy(measurements=frozenset({enclave.measurement}), allow_simulated=True)


def release(
    keyring: KeyRing,
    enclave: Any,
    policy: Policy,
    platform: SimulatedPlatform,
    identity: Ed25519PrivateKey,
    **kwargs: Any,
) -> Any:
    return release_key(
        keyring, KEY_ID, enclave=cast(Enclave, enclave), policy=policy,
        roots=[platform.root_certificate], nonces=kwargs.pop("nonces", NonceRegistry()),
        client_key=identity, method="remember", **kwargs,
    )  # fmt: skip


def releases(keyring: KeyRing) -> list[dict[str, Any]]:
    assert keyring.audit_log is not None
    return [e for e in keyring.audit_log.read_entries() if e["action"] == RELEASE_ACTION]


def test_release_to_matching_enclave_is_delivered_and_audited(
    keyring: KeyRing,
    enclave: SimulatedEnclave,
    policy: Policy,
    platform: SimulatedPlatform,
    keyring_identity: Ed25519PrivateKey,
) -> None:
    key = keyring.ensure(KEY_ID, KeyPurpose.TOKENIZE)
    record = release(keyring, enclave, policy, platform, keyring_identity)
    assert enclave.call("digest") == hashlib.sha256(key.secret).digest()
    assert (record.key_id, record.version) == (KEY_ID, 1)
    assert record.measurement == enclave.measurement
    assert record.signer_id == enclave.identity.signer_id
    assert record.svn == 1
    assert "nonce fresh" in record.reasons
    [entry] = releases(keyring)
    assert entry["decision"] == "allow"
    assert (entry["key_id"], entry["key_version"]) == (KEY_ID, 1)
    for fact in (
        f"measurement={enclave.measurement.hex()}",
        f"signer={enclave.identity.signer_id.hex()}",
        "svn=1",
        f"platform={record.platform_fingerprint.hex()}",
        f"nonce_sha256={record.nonce_sha256.hex()}",
        "measurement in allowlist",
    ):
        assert fact in entry["reason"]
    assert entry["when"]


def test_rotated_key_releases_the_requested_version(
    keyring: KeyRing,
    enclave: SimulatedEnclave,
    policy: Policy,
    platform: SimulatedPlatform,
    keyring_identity: Ed25519PrivateKey,
) -> None:
    old = keyring.ensure(KEY_ID, KeyPurpose.TOKENIZE)
    keyring.rotate(KEY_ID)
    assert release(keyring, enclave, policy, platform, keyring_identity).version == 2
    release(keyring, enclave, policy, platform, keyring_identity, version=1)
    assert enclave.call("digest") == hashlib.sha256(old.secret).digest()


def test_key_bytes_cross_the_host_only_as_ciphertext(
    keyring: KeyRing,
    enclave: SimulatedEnclave,
    policy: Policy,
    platform: SimulatedPlatform,
    keyring_identity: Ed25519PrivateKey,
) -> None:
    secret = keyring.ensure(KEY_ID, KeyPurpose.TOKENIZE).secret
    host = WatchingHost(enclave)
    release(keyring, host, policy, platform, keyring_identity)
    records = host.seen[-2:]
    assert all(r[0] == RECORD_FORMAT_VERSION for r in records)
    forms = (secret, secret.hex().encode(), base64.b64encode(secret))
    for blob in host.seen:
        assert not any(form in blob for form in forms)
    assert keyring.audit_log is not None
    log = keyring.audit_log.path.read_bytes()
    assert not any(form in log for form in forms)
    assert not any(form.upper() in log for form in forms[1:2])


def test_one_byte_changed_in_an_app_file_is_refused_and_audited(
    tmp_path: Path,
    keyring: KeyRing,
    trusted_dir: Path,
    policy: Policy,
    platform: SimulatedPlatform,
    signer_key: Ed25519PrivateKey,
    keyring_identity: Ed25519PrivateKey,
) -> None:
    keyring.ensure(KEY_ID, KeyPurpose.TOKENIZE)
    changed = copy_app(trusted_dir, tmp_path / "changed")
    data = bytearray((changed / "app.py").read_bytes())
    assert data[:4] == b'"""E'
    data[3] ^= 0x01  # One byte of the module docstring: "Echo" becomes "Dcho".
    (changed / "app.py").write_bytes(bytes(data))
    sign_app(changed, signer_key)
    with SimulatedEnclave.load(changed, platform=platform) as other:
        with pytest.raises(AttestationError, match="measurement and signer not allowed"):
            release(keyring, other, policy, platform, keyring_identity)
        assert other.call("digest") is None
        [entry] = releases(keyring)
        assert entry["decision"] == "deny"
        assert f"claimed (unverified) measurement={other.measurement.hex()}" in entry["reason"]


def test_debug_enclave_is_refused_and_audited(
    keyring: KeyRing,
    trusted_dir: Path,
    policy: Policy,
    platform: SimulatedPlatform,
    keyring_identity: Ed25519PrivateKey,
) -> None:
    keyring.ensure(KEY_ID, KeyPurpose.TOKENIZE)
    with SimulatedEnclave.load(trusted_dir, platform=platform, is_debug=True) as debug:
        assert debug.measurement in policy.measurements
        with pytest.raises(AttestationError, match="debug enclave refused"):
            release(keyring, debug, policy, platform, keyring_identity)
        assert debug.call("digest") is None
    [entry] = releases(keyring)
    assert entry["decision"] == "deny"
    assert "debug=true" in entry["reason"]


def test_stale_quote_is_refused(
    keyring: KeyRing,
    enclave: SimulatedEnclave,
    policy: Policy,
    platform: SimulatedPlatform,
    keyring_identity: Ed25519PrivateKey,
) -> None:
    keyring.ensure(KEY_ID, KeyPurpose.TOKENIZE)
    later = time.time() + policy.max_age_s + 60
    with pytest.raises(AttestationError, match="quote is stale"):
        release(keyring, enclave, policy, platform, keyring_identity, now=later)
    assert releases(keyring)[-1]["decision"] == "deny"


def test_quote_for_another_nonce_of_the_same_registry_is_refused(
    keyring: KeyRing,
    enclave: SimulatedEnclave,
    policy: Policy,
    platform: SimulatedPlatform,
    keyring_identity: Ed25519PrivateKey,
) -> None:
    keyring.ensure(KEY_ID, KeyPurpose.TOKENIZE)
    nonces = NonceRegistry()
    host = WatchingHost(enclave)
    host.nonces = nonces
    with pytest.raises(AttestationError, match="another nonce"):
        release(keyring, host, policy, platform, keyring_identity, nonces=nonces)
    assert releases(keyring)[-1]["decision"] == "deny"


def test_attested_rule_plus_broad_rule_still_requires_a_passing_quote(
    tmp_path: Path,
    keyring: KeyRing,
    enclave: SimulatedEnclave,
    trusted_dir: Path,
    platform: SimulatedPlatform,
    keyring_identity: Ed25519PrivateKey,
) -> None:
    keyring.ensure(KEY_ID, KeyPurpose.TOKENIZE)
    broad = SignerRule(signer_id=enclave.identity.signer_id, product_id=1, min_svn=0)
    policy = Policy(
        measurements=frozenset({enclave.measurement}), signers=(broad,), allow_simulated=True
    )
    release(keyring, enclave, policy, platform, keyring_identity)  # The honest case works.
    with (
        SimulatedEnclave.load(trusted_dir, platform=platform, is_debug=True) as debug,
        pytest.raises(AttestationError, match="debug enclave refused"),
    ):
        release(keyring, debug, policy, platform, keyring_identity)
    with pytest.raises(AttestationError, match="quote is stale"):
        release(keyring, enclave, policy, platform, keyring_identity, now=time.time() + 3600)
    rogue = SimulatedPlatform.open(tmp_path / "rogue")
    with (
        SimulatedEnclave.load(trusted_dir, platform=rogue) as elsewhere,
        pytest.raises(AttestationError, match="untrusted root"),
    ):
        release(keyring, elsewhere, policy, platform, keyring_identity)
    decisions = [e["decision"] for e in releases(keyring)]
    assert decisions == ["allow", "deny", "deny", "deny"]


def test_enclave_refuses_a_key_from_an_untrusted_client_and_it_is_audited(
    keyring: KeyRing,
    enclave: SimulatedEnclave,
    policy: Policy,
    platform: SimulatedPlatform,
) -> None:
    key = keyring.ensure(KEY_ID, KeyPurpose.TOKENIZE)
    stranger = Ed25519PrivateKey.generate()
    with pytest.raises(PolicyDenied, match="trusted client"):
        release(keyring, enclave, policy, platform, stranger)
    assert enclave.call("digest") != hashlib.sha256(key.secret).digest()
    assert [e["decision"] for e in releases(keyring)] == ["allow", "error"]
    assert "enclave refused: PolicyDenied" in releases(keyring)[-1]["reason"]


def test_keyring_refusals_are_audited_and_the_audit_key_never_leaves(
    keyring: KeyRing,
    enclave: SimulatedEnclave,
    policy: Policy,
    platform: SimulatedPlatform,
    keyring_identity: Ed25519PrivateKey,
) -> None:
    with pytest.raises(KeyNotFound):
        release(keyring, enclave, policy, platform, keyring_identity)
    with pytest.raises(KeyManagementError, match="never released"):
        release_key(
            keyring, "audit", enclave=enclave, policy=policy,
            roots=[platform.root_certificate], nonces=NonceRegistry(),
            client_key=keyring_identity, method="remember",
        )  # fmt: skip
    entries = releases(keyring)
    assert [e["decision"] for e in entries] == ["deny", "deny"]
    assert all("keyring refused" in e["reason"] for e in entries)


def test_release_needs_an_audit_log(
    tmp_path: Path,
    enclave: SimulatedEnclave,
    policy: Policy,
    platform: SimulatedPlatform,
    keyring_identity: Ed25519PrivateKey,
) -> None:
    ring = make_keyring(tmp_path / "k")
    bare = KeyRing.open(ring.path, root_key_file=tmp_path / "k" / "root.key")
    with pytest.raises(KeyManagementError, match="needs an audit log"):
        release(bare, enclave, policy, platform, keyring_identity)


def test_extra_arguments_cannot_override_the_key(
    keyring: KeyRing,
    enclave: SimulatedEnclave,
    policy: Policy,
    platform: SimulatedPlatform,
    keyring_identity: Ed25519PrivateKey,
) -> None:
    with pytest.raises(ValueError, match="must not contain"):
        release(keyring, enclave, policy, platform, keyring_identity, extra={"secret": b"x"})
