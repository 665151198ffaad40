"""Shared fixtures: one platform, one signer and a few long-lived enclaves per session."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from enclaves.apps import app_dir
from enclaves.attestation import NonceRegistry, Policy, TCBStatus
from enclaves.platform import SimulatedPlatform
from enclaves.runtime import SimulatedEnclave, sign_app

FAULTY_APP = Path(__file__).parent / "apps" / "faulty"


def copy_app(source: Path, target: Path, *, svn: int | None = None, **config: str) -> Path:
    """Copy an app into ``target``, optionally with another SVN or config lines."""
    shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__", "enclave.sig"))
    manifest = target / "enclave.toml"
    lines = manifest.read_text().splitlines()
    if svn is not None:
        lines = [f"svn = {svn}" if line.startswith("svn =") else line for line in lines]
    for key, value in config.items():
        lines = [f"{key} = {value}" if line.startswith(f"{key} =") else line for line in lines]
    manifest.write_text("\n".join(lines) + "\n")
    return target


@pytest.fixture(scope="session")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SimulatedPlatform]:
    platform = SimulatedPlatform.open(tmp_path_factory.mktemp("platform") / "install")
    yield platform
    platform.set_tcb_status(TCBStatus.UP_TO_DATE)


@pytest.fixture(scope="session")
def signer_key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


@pytest.fixture(scope="session")
def echo_dir(tmp_path_factory: pytest.TempPathFactory, signer_key: Ed25519PrivateKey) -> Path:
    path = copy_app(app_dir("echo"), tmp_path_factory.mktemp("apps") / "echo")
    sign_app(path, signer_key)
    return path


@pytest.fixture(scope="session")
def echo_enclave(echo_dir: Path, platform: SimulatedPlatform) -> Iterator[SimulatedEnclave]:
    with SimulatedEnclave.load(echo_dir, platform=platform) as enclave:
        yield enclave


@pytest.fixture(scope="session")
def debug_enclave(echo_dir: Path, platform: SimulatedPlatform) -> Iterator[SimulatedEnclave]:
    with SimulatedEnclave.load(echo_dir, platform=platform, is_debug=True) as enclave:
        yield enclave


@pytest.fixture
def nonces() -> NonceRegistry:
    return NonceRegistry()


@pytest.fixture
def echo_policy(echo_enclave: SimulatedEnclave) -> Policy:
    return Policy(measurements=frozenset({echo_enclave.measurement}), allow_simulated=True)
