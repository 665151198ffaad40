"""Enclave apps on disk: manifest, file hashes, measurement and the signer's signature."""

from __future__ import annotations

import hashlib
import json
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from enclaves.encoding import decode, encode
from engine.errors import EnclaveError, IntegrityError

#: Manifest file names, in order of preference.
MANIFEST_NAMES = ("enclave.toml", "enclave.json")
#: The signer's signature over the measurement (like SGX SIGSTRUCT).
SIGNATURE_NAME = "enclave.sig"
#: Identifies the enclave-side runtime protocol; part of every measurement.
RUNTIME_ID = "finveil-sim-runtime/1"
_MEASUREMENT_DOMAIN = b"finveil-enclave-measurement-v1\x00"
_SIGSTRUCT_DOMAIN = b"finveil-enclave-sigstruct-v1\x00"
_MAX_APP_BYTES = 16 * 1024 * 1024
_SKIPPED_DIRS = frozenset({"__pycache__"})


@dataclass(frozen=True, slots=True, kw_only=True)
class EnclaveIdentity:
    """Who an enclave is: what a quote attests and sealing keys are derived from.

    Args:
        measurement: SHA-256 over the manifest and every app file's hash.
        signer_id: SHA-256 of the signer's raw Ed25519 public key.
        product_id: Product id from the manifest (0..65535).
        svn: Security version number from the manifest (0..65535).
    """

    measurement: bytes
    signer_id: bytes
    product_id: int
    svn: int


@dataclass(frozen=True, slots=True, kw_only=True)
class AppImage:
    """An enclave app read from disk: exactly the bytes that were measured."""

    name: str
    entry: str
    product_id: int
    svn: int
    config: Mapping[str, Any]
    files: Mapping[str, bytes] = field(repr=False)
    measurement: bytes


def _check_value(value: Any, where: str) -> None:
    if isinstance(value, Mapping):
        for key, item in value.items():
            _check_value(item, f"{where}.{key}")
    elif isinstance(value, list):
        for item in value:
            _check_value(item, where)
    elif not isinstance(value, str | int | float | bool):
        raise EnclaveError(f"manifest value {where} must be a string, number, boolean or table")


def _read_manifest(app_dir: Path) -> tuple[str, dict[str, Any]]:
    for name in MANIFEST_NAMES:
        path = app_dir / name
        if path.is_file():
            try:
                raw = path.read_bytes()
                data = tomllib.loads(raw.decode()) if name.endswith(".toml") else json.loads(raw)
            except (OSError, ValueError) as exc:
                raise EnclaveError(f"enclave manifest {name} is unreadable") from exc
            if not isinstance(data, dict):
                raise EnclaveError(f"enclave manifest {name} must be a table")
            return name, data
    raise EnclaveError(f"no enclave manifest ({' or '.join(MANIFEST_NAMES)}) in {app_dir}")


def _read_files(app_dir: Path, *, skip: frozenset[str]) -> dict[str, bytes]:
    files: dict[str, bytes] = {}
    total = 0
    for root, dirs, names in os.walk(app_dir, followlinks=False):
        dirs[:] = sorted(d for d in dirs if d not in _SKIPPED_DIRS)
        for name in sorted(names):
            path = Path(root) / name
            rel = path.relative_to(app_dir).as_posix()
            if rel in skip:
                continue
            if path.is_symlink() or not path.is_file():
                raise EnclaveError(f"enclave app file {rel} is not a regular file")
            data = path.read_bytes()
            total += len(data)
            if total > _MAX_APP_BYTES:
                raise EnclaveError("enclave app is larger than 16 MiB")
            files[rel] = data
    return files


def _parse(manifest: Mapping[str, Any]) -> tuple[str, str, int, int, Mapping[str, Any]]:
    section = manifest.get("enclave")
    if not isinstance(section, Mapping):
        raise EnclaveError("enclave manifest needs an [enclave] table")
    name, entry = section.get("name"), section.get("entry")
    product_id, svn = section.get("product_id"), section.get("svn")
    if not isinstance(name, str) or not isinstance(entry, str) or entry.count(":") != 1:
        raise EnclaveError("enclave manifest: name and entry ('module:callable') are required")
    for label, number in (("product_id", product_id), ("svn", svn)):
        if not isinstance(number, int) or isinstance(number, bool) or not 0 <= number <= 0xFFFF:
            raise EnclaveError(f"enclave manifest: {label} must be an integer in 0..65535")
    config = manifest.get("config", {})
    if not isinstance(config, Mapping):
        raise EnclaveError("enclave manifest: [config] must be a table")
    _check_value(manifest, "manifest")
    return name, entry, int(product_id), int(svn), config  # type: ignore[arg-type]


def _measure(manifest: Mapping[str, Any], files: Mapping[str, bytes]) -> bytes:
    # SECURITY: the manifest is hashed in its parsed, canonical form, and every file by its
    # own hash, so the measurement changes with any byte of code or configuration.
    document = {
        "v": 1,
        "runtime": RUNTIME_ID,
        "manifest": manifest,
        "files": [[rel, hashlib.sha256(data).digest()] for rel, data in sorted(files.items())],
    }
    return hashlib.sha256(_MEASUREMENT_DOMAIN + encode(document)).digest()


def read_app(app_dir: Path) -> AppImage:
    """Read, validate and measure the enclave app in ``app_dir`` (re-hashing every file).

    Raises:
        EnclaveError: If the manifest or a file is missing, unreadable or invalid.
    """
    manifest_name, manifest = _read_manifest(app_dir)
    name, entry, product_id, svn, config = _parse(manifest)
    skip = frozenset({manifest_name, SIGNATURE_NAME})
    files = _read_files(app_dir, skip=skip)
    module = entry.split(":")[0].replace(".", "/")
    if f"{module}.py" not in files and f"{module}/__init__.py" not in files:
        raise EnclaveError(f"enclave manifest: entry module {module!r} is not in the app")
    return AppImage(
        name=name,
        entry=entry,
        product_id=product_id,
        svn=svn,
        config=config,
        files=files,
        measurement=_measure(manifest, files),
    )


def measure_app(app_dir: Path) -> bytes:
    """Return the 32-byte measurement of the enclave app in ``app_dir``.

    Args:
        app_dir: A directory with ``enclave.toml`` (or ``enclave.json``) and the app's code.

    Returns:
        SHA-256 over a canonical CBOR encoding of the runtime id, the parsed manifest and
        each file's path and SHA-256 (``__pycache__`` and ``enclave.sig`` excluded).

    Raises:
        EnclaveError: If the app is invalid.
    """
    return read_app(app_dir).measurement


def _sigstruct(image: AppImage) -> bytes:
    body = {"measurement": image.measurement, "product_id": image.product_id, "svn": image.svn}
    return _SIGSTRUCT_DOMAIN + encode(body)


def sign_app(app_dir: Path, signing_key: Ed25519PrivateKey) -> EnclaveIdentity:
    """Sign the app in ``app_dir`` as its vendor, writing ``enclave.sig``.

    Args:
        app_dir: The app directory.
        signing_key: The signer's Ed25519 key; its public key's SHA-256 is the signer id.

    Returns:
        The identity the app will attest to.

    Raises:
        EnclaveError: If the app is invalid.
    """
    image = read_app(app_dir)
    public = signing_key.public_key().public_bytes_raw()
    document = {"v": 1, "public_key": public, "signature": signing_key.sign(_sigstruct(image))}
    (app_dir / SIGNATURE_NAME).write_bytes(encode(document))
    return _identity(image, public)


def _identity(image: AppImage, public: bytes) -> EnclaveIdentity:
    return EnclaveIdentity(
        measurement=image.measurement,
        signer_id=hashlib.sha256(public).digest(),
        product_id=image.product_id,
        svn=image.svn,
    )


def verify_app(image: AppImage, app_dir: Path) -> EnclaveIdentity:
    """Check the signer's signature over ``image`` and return the enclave identity.

    Raises:
        IntegrityError: If the app is unsigned or the signature does not match its measurement.
    """
    try:
        document = decode((app_dir / SIGNATURE_NAME).read_bytes())
    except OSError as exc:
        raise IntegrityError(
            f"enclave app {image.name!r} is not signed ({SIGNATURE_NAME})"
        ) from exc
    if not isinstance(document, dict) or document.get("v") != 1:
        raise IntegrityError(f"{SIGNATURE_NAME} of enclave app {image.name!r} is malformed")
    public, signature = document.get("public_key"), document.get("signature")
    if not isinstance(public, bytes) or not isinstance(signature, bytes) or len(public) != 32:
        raise IntegrityError(f"{SIGNATURE_NAME} of enclave app {image.name!r} is malformed")
    try:
        Ed25519PublicKey.from_public_bytes(public).verify(signature, _sigstruct(image))
    except InvalidSignature:
        raise IntegrityError(
            f"signature of enclave app {image.name!r} does not match its measurement"
        ) from None
    return _identity(image, public)
