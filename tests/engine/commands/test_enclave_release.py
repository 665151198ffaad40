"""``release_key_with_manifest``: an attested key release with a signed manifest."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from enclaves.apps import app_dir
from enclaves.attestation import NonceRegistry, Policy
from enclaves.keyrelease import RELEASE_ACTION, client_id_of
from enclaves.platform import SimulatedPlatform
from enclaves.runtime import Enclave, SimulatedEnclave, sign_app
from engine.commands.enclave import RELEASE_RECORD, release_key_with_manifest
from engine.compliance import verify_manifest
from engine.compliance._dsse import public_key_pem
from engine.errors import AttestationError, IntegrityError
from engine.keys import KeyPurpose, KeyRing
from tests.enclaves.conftest import copy_app
from tests.enclaves.keyrelease.conftest import make_keyring

KEY_ID = "tokenize.pan"


@pytest.fixture(scope="module")
def identity() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> SimulatedPlatform:
    return SimulatedPlatform.open(tmp_path_factory.mktemp("platform") / "install")


@pytest.fixture(scope="module")
def enclave(
    tmp_path_factory: pytest.TempPathFactory,
    platform: SimulatedPlatform,
    identity: Ed25519PrivateKey,
) -> Iterator[SimulatedEnclave]:
    trusted = json.dumps([client_id_of(identity).hex()])
    app = copy_app(
        app_dir("echo"), tmp_path_factory.mktemp("app") / "echo", trusted_clients=trusted
    )
    sign_app(app, Ed25519PrivateKey.generate())
    with SimulatedEnclave.load(app, platform=platform) as loaded:
        yield loaded


class Watching:
    """A host that keeps the quotes it relays."""

    def __init__(self, enclave: SimulatedEnclave) -> None:
        self.enclave = enclave
        self.quotes: list[bytes] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self.enclave, name)

    def attest(self, nonce: bytes) -> bytes:
        self.quotes.append(self.enclave.attest(nonce))
        return self.quotes[-1]


def _release(
    keyring: KeyRing,
    out: Path,
    enclave: SimulatedEnclave | Watching,
    platform: SimulatedPlatform,
    identity: Ed25519PrivateKey,
    policy: Policy | None = None,
) -> object:
    return release_key_with_manifest(
        keyring, KEY_ID, manifest_dir=out, enclave=cast(Enclave, enclave),
        policy=policy or Policy(measurements=frozenset({enclave.measurement}),
                                allow_simulated=True),
        roots=[platform.root_certificate], nonces=NonceRegistry(), client_key=identity,
        method="remember",
    )  # fmt: skip


def test_release_writes_a_manifest_that_verifies_with_the_public_key(
    tmp_path: Path,
    enclave: SimulatedEnclave,
    platform: SimulatedPlatform,
    identity: Ed25519PrivateKey,
) -> None:
    keyring = make_keyring(tmp_path / "keys")
    key = keyring.ensure(KEY_ID, KeyPurpose.TOKENIZE)
    out = tmp_path / "release"
    host = Watching(enclave)
    _release(keyring, out, host, platform, identity)
    assert enclave.call("digest") == hashlib.sha256(key.secret).digest()
    assert sorted(p.name for p in out.iterdir()) == [
        "manifest.json", "manifest.pub", RELEASE_RECORD,
    ]  # fmt: skip
    pub = public_key_pem(keyring.ensure("manifest", KeyPurpose.MANIFEST))
    report = verify_manifest(
        out, public_key=pub, audit_path=tmp_path / "keys" / "audit.jsonl",
        audit_key=keyring.get("audit", 1),
    )  # fmt: skip
    assert report.subjects.keys() == {RELEASE_RECORD}
    p = report.predicate
    assert p["job"]["kind"] == "enclave-key-release"
    assert p["key_release"] == {"key_id": KEY_ID, "key_version": 1, "method": "remember"}
    [entry] = p["enclaves"]
    assert entry["measurement"] == enclave.measurement.hex()
    assert entry["signer_id"] == enclave.identity.signer_id.hex()
    assert (entry["svn"], entry["is_debug"], entry["tcb_status"]) == (1, False, "up-to-date")
    assert entry["is_simulated"] is True
    assert entry["quote_sha256"] == hashlib.sha256(host.quotes[-1]).hexdigest()
    assert len(entry["platform_fingerprint"]) == 64
    # The release entry itself lies in the signed audit range.
    assert p["audit"]["summary"]["actions"][RELEASE_ACTION] == 1
    text = (out / "manifest.json").read_text() + (out / RELEASE_RECORD).read_text()
    assert key.secret.hex() not in text
    # A changed release record fails verification.
    record = json.loads((out / RELEASE_RECORD).read_text())
    record["enclave"]["measurement"] = "00" * 32
    (out / RELEASE_RECORD).write_text(json.dumps(record))
    with pytest.raises(IntegrityError, match=r"release\.json: sha256 differs"):
        verify_manifest(out, public_key=pub)


def test_no_manifest_for_a_refused_release_or_a_used_directory(
    tmp_path: Path,
    enclave: SimulatedEnclave,
    platform: SimulatedPlatform,
    identity: Ed25519PrivateKey,
) -> None:
    keyring = make_keyring(tmp_path / "keys")
    keyring.ensure(KEY_ID, KeyPurpose.TOKENIZE)
    out = tmp_path / "release"
    wrong = Policy(measurements=frozenset({b"\x01" * 32}), allow_simulated=True)
    with pytest.raises(AttestationError):
        _release(keyring, out, enclave, platform, identity, policy=wrong)
    assert not out.exists()
    out.mkdir()
    (out / "old.txt").write_text("x")
    assert keyring.audit_log is not None
    before = len(keyring.audit_log.read_entries())
    with pytest.raises(ValueError, match="not empty"):
        _release(keyring, out, enclave, platform, identity)
    assert len(keyring.audit_log.read_entries()) == before  # refused before anything happened
