from __future__ import annotations

import json
import os
import stat
from base64 import b64decode, b64encode
from pathlib import Path
from typing import Any

import pytest

from engine.errors import IntegrityError, KeyManagementError, KeyNotFound, KeyringLocked
from engine.keys import KeyInfo, KeyMaterial, KeyPurpose, KeyRing, KeyState
from engine.keys._envelope import canonical_json
from engine.keys.backends import LocalWrapper

PASSPHRASE = "correct horse battery staple"  # noqa: S105 - test passphrase


def _snapshot(directory: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(directory.iterdir()) if p.is_file()}


def _load(path: Path) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(path.read_bytes())
    return doc


def _remac(doc: dict[str, Any], root_file: Path) -> bytes:
    """Re-MAC an edited document with the real root key (an attacker who has the root)."""
    body = {k: v for k, v in doc.items() if k != "mac"}
    doc["mac"] = b64encode(LocalWrapper(root_file.read_bytes()).mac(canonical_json(body))).decode()
    return json.dumps(doc).encode()


# -- round trips ------------------------------------------------------------------------


def test_passphrase_round_trip(ring_path: Path) -> None:
    ring = KeyRing.create(ring_path, passphrase=PASSPHRASE)
    key = ring.ensure("tokenize.pan", KeyPurpose.TOKENIZE)
    assert key.version == 1
    assert len(key.secret) == 32
    reopened = KeyRing.open(ring_path, passphrase=PASSPHRASE)
    assert reopened.primary("tokenize.pan") == key
    header = _load(ring_path)["root"]
    assert header["kind"] == "scrypt"
    assert (header["n"], header["r"], header["p"]) == (2**15, 8, 1)
    assert reopened.root_kind == "scrypt"


def test_every_operation_round_trips(ring: KeyRing, ring_path: Path, root_file: Path) -> None:
    v1 = ring.primary("tokenize.pan")
    assert ring.rotate("tokenize.pan") == 2
    v2 = ring.primary("tokenize.pan")
    assert v2.version == 2
    assert v2.secret != v1.secret
    assert ring.get("tokenize.pan", 1) == v1
    ring.record_usage("ds-1", "tokenize.pan", 1)
    ring.record_usage("ds-1", "tokenize.pan", 1)  # idempotent
    ring.record_usage("ds-2", "tokenize.pan", 2)
    assert ring.datasets_using("tokenize.pan", 1) == ["ds-1"]
    assert ring.rotate("tokenize.pan") == 3
    ring.drop_usage("ds-1")
    ring.retire("tokenize.pan", 1)
    ring.retire("tokenize.pan", 1)  # retiring twice does nothing
    manifest = ring.ensure("manifest", KeyPurpose.MANIFEST)
    assert ring.ensure("manifest", KeyPurpose.MANIFEST) == manifest
    short = ring.ensure("client.x", KeyPurpose.CLIENT, size=16)
    assert len(short.secret) == 16

    reopened = KeyRing.open(ring_path, root_key_file=root_file)
    infos = {info.key_id: info for info in reopened.list()}
    assert sorted(infos) == ["client.x", "manifest", "tokenize.pan"]
    pan = infos["tokenize.pan"]
    assert [(v.version, v.state) for v in pan.versions] == [
        (1, KeyState.RETIRED),
        (2, KeyState.ACTIVE),
        (3, KeyState.PRIMARY),
    ]
    assert pan.primary_version == 3
    assert pan.versions[1].datasets == ("ds-2",)
    assert reopened.get("tokenize.pan", 2) == v2
    assert reopened.primary("manifest") == manifest
    assert reopened.info("tokenize.pan") == pan
    assert reopened.path == ring_path
    assert reopened.location == str(ring_path)


def test_list_and_reprs_hold_no_secret(ring: KeyRing) -> None:
    key = ring.primary("tokenize.pan")
    text = repr(ring.list()) + repr(ring) + repr(key)
    for encoding in (key.secret.hex(), b64encode(key.secret).decode()):
        assert encoding not in text
    assert all(isinstance(info, KeyInfo) for info in ring.list())


def test_drop_usage_of_one_key(ring: KeyRing) -> None:
    ring.ensure("quarantine", KeyPurpose.QUARANTINE)
    ring.record_usage("ds", "tokenize.pan", 1)
    ring.record_usage("ds", "quarantine", 1)
    ring.drop_usage("ds", "tokenize.pan")
    assert ring.datasets_using("tokenize.pan", 1) == []
    assert ring.datasets_using("quarantine", 1) == ["ds"]
    ring.drop_usage("ds", "quarantine")
    ring.drop_usage("unknown")
    assert ring.datasets_using("quarantine", 1) == []


# -- refusals ---------------------------------------------------------------------------


def test_create_refuses_to_overwrite(ring: KeyRing, ring_path: Path, root_file: Path) -> None:
    before = ring_path.read_bytes()
    with pytest.raises(KeyManagementError, match="already exists"):
        KeyRing.create(ring_path, root_key_file=root_file)
    assert ring_path.read_bytes() == before


def test_exactly_one_root_source(ring_path: Path, root_file: Path) -> None:
    with pytest.raises(ValueError, match="exactly one"):
        KeyRing.create(ring_path)
    with pytest.raises(ValueError, match="exactly one"):
        KeyRing.create(ring_path, passphrase=PASSPHRASE, root_key_file=root_file)


def test_unknown_key_and_version(ring: KeyRing) -> None:
    with pytest.raises(KeyNotFound, match=r"'tokenize\.iban'"):
        ring.primary("tokenize.iban")
    with pytest.raises(KeyNotFound, match=r"'tokenize.pan' has no version 7 \(versions: 1\)"):
        ring.get("tokenize.pan", 7)
    with pytest.raises(KeyNotFound):
        ring.rotate("nope")


def test_retired_version_is_never_released(ring: KeyRing) -> None:
    ring.rotate("tokenize.pan")
    ring.retire("tokenize.pan", 1)
    with pytest.raises(KeyManagementError, match="version 1 is retired"):
        ring.get("tokenize.pan", 1)
    with pytest.raises(KeyManagementError, match="retired"):
        ring.record_usage("ds", "tokenize.pan", 1)


def test_retire_refused_while_in_use(ring: KeyRing) -> None:
    ring.rotate("tokenize.pan")
    ring.record_usage("payments-2026", "tokenize.pan", 1)
    with pytest.raises(KeyManagementError, match=r"1 recorded dataset\(s\).*payments-2026"):
        ring.retire("tokenize.pan", 1)
    ring.drop_usage("payments-2026")
    with pytest.raises(KeyManagementError, match="still use it"):
        ring.retire("tokenize.pan", 1, in_use={"other"})
    with pytest.raises(KeyManagementError, match="still use it"):
        ring.retire("tokenize.pan", 1, in_use=lambda key_id, version: ["m"] if version == 1 else [])
    assert ring.info("tokenize.pan").versions[0].state is KeyState.ACTIVE
    ring.retire("tokenize.pan", 1, in_use=lambda key_id, version: [])
    assert ring.info("tokenize.pan").versions[0].state is KeyState.RETIRED


def test_retire_primary_refused(ring: KeyRing) -> None:
    with pytest.raises(KeyManagementError, match="primary; rotate it first"):
        ring.retire("tokenize.pan", 1)
    with pytest.raises(KeyNotFound, match="no version 5"):
        ring.retire("tokenize.pan", 5)


def test_purpose_and_argument_checks(ring: KeyRing) -> None:
    with pytest.raises(KeyManagementError, match="purpose 'tokenize', not 'audit'"):
        ring.ensure("tokenize.pan", KeyPurpose.AUDIT)
    with pytest.raises(ValueError, match="key_id"):
        ring.ensure("Bad Id", KeyPurpose.TOKENIZE)
    with pytest.raises(ValueError, match="size"):
        ring.ensure("x", KeyPurpose.TOKENIZE, size=20)
    with pytest.raises(TypeError, match="KeyPurpose"):
        ring.ensure("x", "tokenize")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="dataset_id"):
        ring.record_usage("", "tokenize.pan", 1)


# -- unlocking and integrity ------------------------------------------------------------


def test_wrong_passphrase_is_clear_and_writes_nothing(ring_path: Path) -> None:
    KeyRing.create(ring_path, passphrase=PASSPHRASE).ensure("audit", KeyPurpose.AUDIT)
    before = _snapshot(ring_path.parent)
    with pytest.raises(KeyringLocked, match="wrong passphrase"):
        KeyRing.open(ring_path, passphrase=PASSPHRASE + "!")
    assert _snapshot(ring_path.parent) == before


def test_wrong_root_key_and_wrong_kind(ring: KeyRing, ring_path: Path, tmp_path: Path) -> None:
    other = tmp_path / "other.key"
    other.write_bytes(os.urandom(32))
    other.chmod(0o600)
    before = _snapshot(ring_path.parent)
    with pytest.raises(KeyringLocked, match="wrong root key"):
        KeyRing.open(ring_path, root_key_file=other)
    with pytest.raises(KeyringLocked, match="'keyfile' root"):
        KeyRing.open(ring_path, passphrase=PASSPHRASE)
    assert _snapshot(ring_path.parent) == before


def test_missing_keyring(tmp_path: Path, root_file: Path) -> None:
    with pytest.raises(KeyManagementError, match="no keyring at"):
        KeyRing.open(tmp_path / "absent.json", root_key_file=root_file)


@pytest.mark.parametrize(
    ("mangle", "error", "message"),
    [
        (lambda raw: raw[: len(raw) // 2], IntegrityError, "corrupt or truncated"),
        (lambda raw: b"", IntegrityError, "corrupt or truncated"),
        (lambda raw: b"\xff\xfe" + raw, IntegrityError, "corrupt or truncated"),
        (lambda raw: b"[1, 2]", IntegrityError, "not a FinVeil keyring"),
        (
            lambda raw: raw.replace(b'"format_version": 1', b'"format_version": 9'),
            IntegrityError,
            "unsupported format_version 9",
        ),
        (lambda raw: raw.replace(b'"generation"', b'"gen"'), IntegrityError, "failed authentic"),
        (lambda raw: raw.replace(b'"kcv"', b'"kcx"'), IntegrityError, "malformed"),
    ],
)
def test_corrupt_files(
    ring: KeyRing,
    ring_path: Path,
    root_file: Path,
    mangle: Any,
    error: type[Exception],
    message: str,
) -> None:
    ring_path.write_bytes(mangle(ring_path.read_bytes()))
    before = _snapshot(ring_path.parent)
    with pytest.raises(error, match=message):
        KeyRing.open(ring_path, root_key_file=root_file)
    assert _snapshot(ring_path.parent) == before


def test_flipped_wrapped_byte_fails_authentication(
    ring: KeyRing, ring_path: Path, root_file: Path
) -> None:
    doc = _load(ring_path)
    version = doc["keys"]["tokenize.pan"]["versions"][0]
    blob = bytearray(b64decode(version["wrapped"]))
    blob[-1] ^= 1
    version["wrapped"] = b64encode(bytes(blob)).decode()
    ring_path.write_text(json.dumps(doc))
    with pytest.raises(IntegrityError, match="failed authentication"):
        KeyRing.open(ring_path, root_key_file=root_file)


def test_tampered_version_field_fails_authentication(
    ring: KeyRing, ring_path: Path, root_file: Path
) -> None:
    doc = _load(ring_path)
    doc["keys"]["tokenize.pan"]["versions"][0]["version"] = 2
    ring_path.write_text(json.dumps(doc))
    with pytest.raises(IntegrityError, match="failed authentication"):
        KeyRing.open(ring_path, root_key_file=root_file)
    # Even with the document MAC recomputed, AES-GCM binds the version in the AAD.
    ring_path.write_bytes(_remac(doc, root_file))
    reopened = KeyRing.open(ring_path, root_key_file=root_file)
    with pytest.raises(IntegrityError, match=r"'tokenize\.pan' version 2 failed authentication"):
        reopened.get("tokenize.pan", 2)


def test_tampered_purpose_and_key_id_fail_unwrap(
    ring: KeyRing, ring_path: Path, root_file: Path
) -> None:
    doc = _load(ring_path)
    doc["keys"]["tokenize.ssn"] = doc["keys"]["tokenize.pan"]
    doc["keys"]["quarantine"] = json.loads(json.dumps(doc["keys"]["tokenize.pan"]))
    doc["keys"]["quarantine"]["purpose"] = "quarantine"
    ring_path.write_bytes(_remac(doc, root_file))
    reopened = KeyRing.open(ring_path, root_key_file=root_file)
    with pytest.raises(IntegrityError, match="tampered"):
        reopened.primary("tokenize.ssn")
    with pytest.raises(IntegrityError, match="tampered"):
        reopened.primary("quarantine")
    assert reopened.primary("tokenize.pan").version == 1


def test_state_edit_fails_authentication(ring: KeyRing, ring_path: Path, root_file: Path) -> None:
    ring.rotate("tokenize.pan")
    ring.retire("tokenize.pan", 1)
    raw = ring_path.read_bytes().replace(b'"retired"', b'"active"')
    ring_path.write_bytes(raw)
    with pytest.raises(IntegrityError, match="edited or corrupted"):
        KeyRing.open(ring_path, root_key_file=root_file)
    with pytest.raises(IntegrityError):
        ring.get("tokenize.pan", 1)


def test_rollback_is_refused(ring: KeyRing, ring_path: Path) -> None:
    old = ring_path.read_bytes()
    ring.rotate("tokenize.pan")
    ring_path.write_bytes(old)
    with pytest.raises(IntegrityError, match="rolled back"):
        ring.primary("tokenize.pan")


# -- files ------------------------------------------------------------------------------


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_files_are_0600_even_with_permissive_umask(tmp_path: Path) -> None:
    old = os.umask(0)
    try:
        ring, _ = KeyRing.open_default(tmp_path / "home" / "keyring.json")
        ring.rotate("audit")
    finally:
        os.umask(old)
    home = tmp_path / "home"
    for name in ("keyring.json", "keyring.json.lock", "keyring.root", "audit.jsonl"):
        assert _mode(home / name) == 0o600, name
    assert _mode(home) == 0o700


def test_new_file_is_0600_before_it_is_visible(
    ring: KeyRing, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_replace = os.replace
    modes: list[int] = []

    def spy(src: Any, dst: Any) -> None:
        modes.append(stat.S_IMODE(os.stat(src).st_mode))
        real_replace(src, dst)

    old = os.umask(0)
    try:
        monkeypatch.setattr(os, "replace", spy)
        ring.rotate("tokenize.pan")
    finally:
        os.umask(old)
    assert modes == [0o600]


def test_crash_mid_write_keeps_old_file(
    ring: KeyRing, ring_path: Path, root_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = _snapshot(ring_path.parent)

    def crash(src: Any, dst: Any) -> None:
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(KeyManagementError, match="previous file is unchanged"):
        ring.rotate("tokenize.pan")
    assert _snapshot(ring_path.parent) == before  # no temp file left behind
    monkeypatch.undo()
    assert ring.primary("tokenize.pan").version == 1
    assert ring.rotate("tokenize.pan") == 2
    assert KeyRing.open(ring_path, root_key_file=root_file).primary("tokenize.pan").version == 2


def test_stale_instances_reload_under_lock(ring: KeyRing, ring_path: Path, root_file: Path) -> None:
    other = KeyRing.open(ring_path, root_key_file=root_file)
    assert ring.rotate("tokenize.pan") == 2
    assert other.rotate("tokenize.pan") == 3
    other.ensure("quarantine", KeyPurpose.QUARANTINE)
    assert ring.rotate("tokenize.pan") == 4
    assert [v.state for v in ring.info("tokenize.pan").versions] == [KeyState.ACTIVE] * 3 + [
        KeyState.PRIMARY
    ]
    assert ring.primary("quarantine") == other.primary("quarantine")


def test_rotation_while_a_job_runs(ring: KeyRing, ring_path: Path, root_file: Path) -> None:
    job = KeyRing.open(ring_path, root_key_file=root_file)
    pinned: KeyMaterial = job.primary("tokenize.pan")  # the job pins its version at start
    admin = KeyRing.open(ring_path, root_key_file=root_file)
    admin.rotate("tokenize.pan")
    # The running job can still read under its pinned version; new data gets version 2.
    assert job.get("tokenize.pan", pinned.version) == pinned
    assert job.primary("tokenize.pan").version == 2
    job.record_usage("job-output", "tokenize.pan", pinned.version)
    with pytest.raises(KeyManagementError, match="job-output"):
        admin.retire("tokenize.pan", pinned.version)
