"""The enclave process: calls, error mapping, crashes, hangs and secrets that must stay in."""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from enclaves.apps import app_dir
from enclaves.attestation import NonceRegistry, Policy
from enclaves.platform import SimulatedPlatform
from enclaves.runtime import AttestedClient, Enclave, SimulatedEnclave, sign_app
from engine.errors import EnclaveError, PolicyDenied, SealingError
from tests.enclaves.conftest import FAULTY_APP, copy_app


@pytest.fixture(scope="module")
def faulty_dir(tmp_path_factory: pytest.TempPathFactory, signer_key: Ed25519PrivateKey) -> Path:
    path = copy_app(FAULTY_APP, tmp_path_factory.mktemp("faulty") / "faulty")
    sign_app(path, signer_key)
    return path


@pytest.fixture(scope="module")
def faulty(faulty_dir: Path, platform: SimulatedPlatform) -> Iterator[SimulatedEnclave]:
    with SimulatedEnclave.load(faulty_dir, platform=platform, timeout_s=5) as enclave:
        yield enclave


def test_enclave_runs_in_its_own_process(echo_enclave: SimulatedEnclave) -> None:
    assert isinstance(echo_enclave, Enclave)
    assert echo_enclave.pid != os.getpid()
    assert echo_enclave.call("echo", {"x": [1, b"2"]}) == {"x": [1, b"2"]}
    info = echo_enclave.call("info")
    assert info == {
        "greeting": "hello from the enclave",
        "svn": 1,
        "is_debug": False,
        "is_secure": False,
    }


def test_direct_construction_is_refused() -> None:
    with pytest.raises(TypeError, match="load"):
        SimulatedEnclave()


def test_app_errors_keep_their_class(echo_enclave: SimulatedEnclave) -> None:
    with pytest.raises(PolicyDenied, match="unknown method"):
        echo_enclave.call("nope")
    with pytest.raises(SealingError, match="truncated"):
        echo_enclave.call("unseal", {"blob": b"\x01"})
    assert echo_enclave.call("echo", "still alive") == "still alive"


def test_foreign_exception_messages_are_withheld(faulty: SimulatedEnclave) -> None:
    with pytest.raises(EnclaveError) as info:
        faulty.call("raise")
    assert "ValueError" in str(info.value)
    assert "4111" not in str(info.value)
    with pytest.raises(EnclaveError, match="not CBOR-encodable"):
        faulty.call("unencodable")
    assert faulty.call("ping") == "pong"


def test_secrets_arrive_only_encrypted_and_never_go_back_in_the_clear(
    tmp_path: Path, platform: SimulatedPlatform, signer_key: Ed25519PrivateKey
) -> None:
    owner = Ed25519PrivateKey.generate()
    owner_id = hashlib.sha256(owner.public_key().public_bytes_raw()).digest()
    app = copy_app(app_dir("echo"), tmp_path / "echo", trusted_clients=f'["{owner_id.hex()}"]')
    sign_app(app, signer_key)
    secret = os.urandom(32)
    with SimulatedEnclave.load(app, platform=platform) as enclave:
        with pytest.raises(PolicyDenied, match="secure channel"):
            enclave.call("remember", {"secret": secret})
        policy = Policy(measurements=frozenset({enclave.measurement}), allow_simulated=True)
        roots = [platform.root_certificate]
        # The host can open an anonymous channel itself, so anonymity is not enough.
        anonymous = AttestedClient.connect(
            enclave, policy=policy, roots=roots, nonces=NonceRegistry()
        )
        assert anonymous.call("whoami") is None
        with pytest.raises(PolicyDenied, match="trusted client"):
            anonymous.call("remember", {"secret": secret})
        client = AttestedClient.connect(
            enclave, policy=policy, roots=roots, nonces=NonceRegistry(), client_key=owner
        )
        assert client.call("whoami") == owner_id
        assert client.call("remember", {"secret": secret}) is None
        assert enclave.call("digest") == hashlib.sha256(secret).digest()
        with pytest.raises(EnclaveError, match="withheld"):
            enclave.call("reveal")
        with pytest.raises(EnclaveError, match="withheld"):
            anonymous.call("reveal")
        # The authenticated owner of the secret may read it back through the channel.
        assert client.call("reveal") == secret


def test_crashing_enclave_gives_a_clear_error(
    faulty_dir: Path, platform: SimulatedPlatform
) -> None:
    enclave = SimulatedEnclave.load(faulty_dir, platform=platform, timeout_s=5)
    started = time.monotonic()
    with pytest.raises(EnclaveError, match=r"exited \(code 3\) during 'call'"):
        enclave.call("crash")
    assert time.monotonic() - started < 3
    with pytest.raises(EnclaveError, match="closed"):
        enclave.call("ping")
    enclave.close()


def test_hanging_enclave_times_out_and_is_stopped(
    faulty_dir: Path, platform: SimulatedPlatform
) -> None:
    enclave = SimulatedEnclave.load(faulty_dir, platform=platform, timeout_s=0.5)
    started = time.monotonic()
    with pytest.raises(EnclaveError, match=r"did not answer 'call' within 0.5 s"):
        enclave.call("hang")
    assert time.monotonic() - started < 3
    assert enclave._process.poll() is not None  # the process was killed
    enclave.close()


def test_startup_failure_is_reported(tmp_path: Path, platform: SimulatedPlatform) -> None:
    app = copy_app(FAULTY_APP, tmp_path / "faulty")
    manifest = app / "enclave.toml"
    manifest.write_text(
        manifest.read_text().replace("fail_at_start = false", "fail_at_start = true")
    )
    sign_app(app, Ed25519PrivateKey.generate())
    with pytest.raises(EnclaveError, match="'load' failed: enclave app raised RuntimeError"):
        SimulatedEnclave.load(app, platform=platform)


def test_close_is_idempotent_and_stops_the_process(
    echo_dir: Path, platform: SimulatedPlatform
) -> None:
    with SimulatedEnclave.load(echo_dir, platform=platform) as enclave:
        assert enclave.call("echo", 1) == 1
    assert enclave._process.poll() is not None
    enclave.close()
    with pytest.raises(EnclaveError, match="closed"):
        enclave.call("echo", 1)


def test_nonce_length_is_checked(echo_enclave: SimulatedEnclave) -> None:
    with pytest.raises(ValueError, match="nonce"):
        echo_enclave.attest(b"short")
