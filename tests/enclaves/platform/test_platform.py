from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

import pytest

from enclaves.attestation import TCBStatus
from enclaves.platform import SimulatedPlatform
from engine.errors import EnclaveError


def test_installation_is_private_and_persistent(tmp_path: Path) -> None:
    directory = tmp_path / "platform"
    first = SimulatedPlatform.open(directory)
    assert stat.S_IMODE(directory.stat().st_mode) == 0o700
    files = sorted(p.name for p in directory.iterdir())
    assert files == sorted(
        ["root_ca.key", "root_ca.pem", "platform.key", "platform.pem", "sealing.secret", "tcb.json"]
    )
    for path in directory.iterdir():
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path.name
    again = SimulatedPlatform.open(directory)
    assert again.root_certificate == first.root_certificate
    keys: dict[str, Any] = {
        "measurement": b"m" * 32,
        "signer_id": b"s" * 32,
        "product_id": 1,
        "svn": 1,
        "is_debug": False,
    }
    assert again.sealing_keys(**keys).measurement_key == first.sealing_keys(**keys).measurement_key


def test_each_installation_has_its_own_root(tmp_path: Path) -> None:
    one = SimulatedPlatform.open(tmp_path / "one")
    two = SimulatedPlatform.open(tmp_path / "two")
    assert one.root_certificate != two.root_certificate


def test_certificates_are_labelled_simulated(tmp_path: Path) -> None:
    platform = SimulatedPlatform.open(tmp_path / "p")
    assert "SIMULATED" in platform.root_certificate.subject.rfc4514_string()


def test_tcb_status_is_settable_and_persisted(tmp_path: Path) -> None:
    platform = SimulatedPlatform.open(tmp_path / "p")
    assert platform.tcb_status is TCBStatus.UP_TO_DATE
    platform.set_tcb_status(TCBStatus.REVOKED)
    assert SimulatedPlatform.open(tmp_path / "p").tcb_status is TCBStatus.REVOKED
    assert stat.S_IMODE((tmp_path / "p" / "tcb.json").stat().st_mode) == 0o600


def test_partial_or_corrupt_installation_is_refused(tmp_path: Path) -> None:
    SimulatedPlatform.open(tmp_path / "p")
    os.remove(tmp_path / "p" / "platform.key")
    with pytest.raises(EnclaveError, match="partial installation"):
        SimulatedPlatform.open(tmp_path / "p")
    SimulatedPlatform.open(tmp_path / "q")
    (tmp_path / "q" / "sealing.secret").write_bytes(b"short")
    with pytest.raises(EnclaveError, match="sealing secret"):
        SimulatedPlatform.open(tmp_path / "q")
    SimulatedPlatform.open(tmp_path / "r")
    (tmp_path / "r" / "tcb.json").write_text("{}")
    with pytest.raises(EnclaveError, match="TCB status"):
        SimulatedPlatform.open(tmp_path / "r")
    SimulatedPlatform.open(tmp_path / "s")
    (tmp_path / "s" / "root_ca.pem").write_text("not a certificate")
    with pytest.raises(EnclaveError, match="unreadable"):
        SimulatedPlatform.open(tmp_path / "s")
