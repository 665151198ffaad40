from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from enclaves.apps import app_dir
from enclaves.platform import SimulatedPlatform
from enclaves.runtime import SimulatedEnclave, measure_app, sign_app
from engine.errors import EnclaveError, IntegrityError
from tests.enclaves.conftest import copy_app


@pytest.fixture
def echo_copy(tmp_path: Path) -> Path:
    return copy_app(app_dir("echo"), tmp_path / "echo")


def test_measurement_is_stable_and_ignores_signature_and_pycache(echo_copy: Path) -> None:
    before = measure_app(echo_copy)
    assert len(before) == 32
    sign_app(echo_copy, Ed25519PrivateKey.generate())
    (echo_copy / "__pycache__").mkdir()
    (echo_copy / "__pycache__" / "app.cpython-311.pyc").write_bytes(b"junk")
    assert measure_app(echo_copy) == before
    assert measure_app(app_dir("echo")) == before


def test_one_byte_changed_in_an_app_file_gives_a_new_measurement(echo_copy: Path) -> None:
    before = measure_app(echo_copy)
    code = bytearray((echo_copy / "app.py").read_bytes())
    code[-2] ^= 0x01
    (echo_copy / "app.py").write_bytes(bytes(code))
    assert measure_app(echo_copy) != before


def test_added_file_and_config_change_give_new_measurements(echo_copy: Path) -> None:
    before = measure_app(echo_copy)
    (echo_copy / "data.bin").write_bytes(b"\x00")
    with_file = measure_app(echo_copy)
    assert with_file != before
    manifest = echo_copy / "enclave.toml"
    manifest.write_text(manifest.read_text().replace("hello from", "hi from"))
    assert measure_app(echo_copy) not in (before, with_file)


def test_manifest_is_measured_in_canonical_form(echo_copy: Path) -> None:
    before = measure_app(echo_copy)
    manifest = echo_copy / "enclave.toml"
    manifest.write_text("# reformatted\n" + manifest.read_text().replace(" = ", "="))
    assert measure_app(echo_copy) == before
    data = {
        "enclave": {"name": "echo", "entry": "app:create", "product_id": 1, "svn": 1},
        "config": {"greeting": "hello from the enclave", "trusted_clients": []},
    }
    manifest.unlink()
    (echo_copy / "enclave.json").write_text(json.dumps(data))
    assert measure_app(echo_copy) == before


def test_changed_file_after_signing_is_refused_at_load(
    echo_copy: Path, platform: SimulatedPlatform
) -> None:
    sign_app(echo_copy, Ed25519PrivateKey.generate())
    with (echo_copy / "app.py").open("ab") as handle:
        handle.write(b"\n# patched\n")
    with pytest.raises(IntegrityError, match="does not match its measurement"):
        SimulatedEnclave.load(echo_copy, platform=platform)


def test_unsigned_or_badly_signed_app_is_refused(
    echo_copy: Path, platform: SimulatedPlatform
) -> None:
    with pytest.raises(IntegrityError, match="not signed"):
        SimulatedEnclave.load(echo_copy, platform=platform)
    (echo_copy / "enclave.sig").write_bytes(b"\xa0")
    with pytest.raises(IntegrityError, match="malformed"):
        SimulatedEnclave.load(echo_copy, platform=platform)


def test_signer_id_is_hash_of_public_key(echo_copy: Path) -> None:
    import hashlib

    key = Ed25519PrivateKey.generate()
    identity = sign_app(echo_copy, key)
    assert identity.signer_id == hashlib.sha256(key.public_key().public_bytes_raw()).digest()
    assert (identity.product_id, identity.svn) == (1, 1)
    assert identity.measurement == measure_app(echo_copy)


def test_symlinks_are_refused(echo_copy: Path) -> None:
    os.symlink(echo_copy / "app.py", echo_copy / "link.py")
    with pytest.raises(EnclaveError, match="not a regular file"):
        measure_app(echo_copy)


@pytest.mark.parametrize(
    ("manifest", "message"),
    [
        (None, "no enclave manifest"),
        ("not toml ===", "unreadable"),
        ("[config]\n", r"\[enclave\] table"),
        ('[enclave]\nname = "x"\nentry = "app"\nproduct_id = 1\nsvn = 1\n', "entry"),
        ('[enclave]\nname = "x"\nentry = "app:create"\nproduct_id = 1\nsvn = -1\n', "svn"),
        ('[enclave]\nname = "x"\nentry = "app:create"\nproduct_id = true\nsvn = 1\n', "product_id"),
        (
            '[enclave]\nname = "x"\nentry = "nope:create"\nproduct_id = 1\nsvn = 1\n',
            "not in the app",
        ),
        (
            'config = 3\n[enclave]\nname = "x"\nentry = "app:create"\nproduct_id = 1\nsvn = 1\n',
            "must be a table",
        ),
        (
            '[enclave]\nname = "x"\nentry = "app:create"\nproduct_id = 1\nsvn = 1\n'
            "[config]\nwhen = 2024-01-01\n",
            "must be a string",
        ),
    ],
)
def test_invalid_manifests(echo_copy: Path, manifest: str | None, message: str) -> None:
    (echo_copy / "enclave.toml").unlink()
    if manifest is not None:
        (echo_copy / "enclave.toml").write_text(manifest)
    with pytest.raises(EnclaveError, match=message):
        measure_app(echo_copy)
