"""``finveil enclave``: measure, sign, run and verify enclave apps on the simulated platform.

Also the key-release adapter :func:`release_key_with_manifest`, which signs a compliance
manifest for each key release (``enclaves`` itself never imports ``engine.compliance``).
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import os
import secrets
import time
import tomllib
import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    load_pem_private_key,
)

from enclaves.attestation import NonceRegistry, Policy, QuoteClaims, verify_quote
from enclaves.attestation.hazmat import inspect_quote
from enclaves.keyrelease import KeyRelease, release_key
from enclaves.platform import SimulatedPlatform
from enclaves.runtime import Enclave, EnclaveIdentity, SimulatedEnclave, measure_app, sign_app
from engine.compliance import write_signed_manifest
from engine.errors import ConfigError, InputError, IntegrityError, KeyManagementError
from engine.keys import KeyPurpose, KeyRing

__all__ = ["RELEASE_RECORD", "register", "release_key_with_manifest"]

#: The release record a key-release manifest signs (JSON, no key bytes).
RELEASE_RECORD = "release.json"

_DEFAULT_PLATFORM = Path("~/.finveil/simulated-platform")


def register(subparsers: Any) -> None:
    """Add the ``enclave`` command group."""
    parser = subparsers.add_parser("enclave", help="simulated TEE: measure, run, verify")
    commands = parser.add_subparsers(dest="enclave_command", metavar="SUBCOMMAND", required=True)

    measure = commands.add_parser("measure", help="print an app's measurement")
    measure.add_argument("app_dir", type=Path, metavar="APP_DIR")
    measure.set_defaults(handler=_measure)

    sign = commands.add_parser("sign", help="sign an app as its vendor (writes enclave.sig)")
    sign.add_argument("app_dir", type=Path, metavar="APP_DIR")
    sign.add_argument("--key", type=Path, required=True, help="Ed25519 private key (PEM)")
    sign.add_argument("--new-key", action="store_true", help="create --key first (mode 0600)")
    sign.set_defaults(handler=_sign)

    run = commands.add_parser("run", help="start an app, print its identity and a quote")
    run.add_argument("app_dir", type=Path, metavar="APP_DIR")
    _add_platform(run)
    run.add_argument("--debug", action="store_true", help="load in debug mode")
    run.add_argument("--nonce", help="verifier nonce (hex); default: a random one")
    run.add_argument("--quote-out", type=Path, help="write the quote (COSE_Sign1) here")
    run.add_argument("--call", metavar="METHOD", help="call METHOD on the app")
    run.add_argument("--args", default="null", help="JSON arguments for --call")
    run.set_defaults(handler=_run)

    verify = commands.add_parser("verify", help="verify a quote against a policy")
    verify.add_argument("quote", type=Path, metavar="QUOTE")
    verify.add_argument("--policy", type=Path, required=True, help="policy (TOML or JSON)")
    verify.add_argument("--nonce", required=True, help="the nonce you gave the enclave (hex)")
    verify.add_argument("--root", type=Path, action="append", help="trusted root CA (PEM)")
    _add_platform(verify)
    verify.set_defaults(handler=_verify)


def _add_platform(parser: argparse.ArgumentParser) -> None:
    default = os.environ.get("FINVEIL_PLATFORM_DIR", str(_DEFAULT_PLATFORM))
    parser.add_argument(
        "--platform",
        type=Path,
        default=Path(default),
        help="simulated platform directory (default: $FINVEIL_PLATFORM_DIR or %(default)s)",
    )


def _measure(args: argparse.Namespace) -> int:
    print(measure_app(args.app_dir).hex())
    return 0


def _sign(args: argparse.Namespace) -> int:
    path: Path = args.key
    if args.new_key:
        key = Ed25519PrivateKey.generate()
        pem = key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption())
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(pem)
    else:
        try:
            loaded = load_pem_private_key(path.read_bytes(), None)
        except (OSError, ValueError) as exc:
            raise InputError(f"cannot read signing key {path}") from exc
        if not isinstance(loaded, Ed25519PrivateKey):
            raise InputError(f"signing key {path} is not an Ed25519 key")
        key = loaded
    _print_identity(sign_app(args.app_dir, key))
    return 0


def _print_identity(identity: Any) -> None:
    print(f"measurement {identity.measurement.hex()}")
    print(f"signer_id   {identity.signer_id.hex()}")
    print(f"product_id  {identity.product_id}")
    print(f"svn         {identity.svn}")


def _hex_arg(value: str, name: str) -> bytes:
    try:
        return bytes.fromhex(value)
    except ValueError:
        raise ConfigError(f"{name} must be hex") from None


def _run(args: argparse.Namespace) -> int:
    platform = SimulatedPlatform.open(args.platform.expanduser())
    nonce = _hex_arg(args.nonce, "--nonce") if args.nonce else secrets.token_bytes(32)
    try:
        call_args = json.loads(args.args)
    except ValueError:
        raise ConfigError("--args must be JSON") from None
    with SimulatedEnclave.load(args.app_dir, platform=platform, is_debug=args.debug) as enclave:
        _print_identity(enclave.identity)
        print(f"debug       {str(enclave.is_debug).lower()}")
        quote = enclave.attest(nonce)
        print(f"nonce       {nonce.hex()}")
        if args.quote_out:
            args.quote_out.write_bytes(quote)
            print(f"quote       {args.quote_out} ({len(quote)} bytes, SIMULATED platform)")
        if args.call:
            print(json.dumps(_jsonable(enclave.call(args.call, call_args)), sort_keys=True))
    return 0


def _jsonable(value: Any) -> Any:
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value


def _load_policy(path: Path) -> Policy:
    try:
        text = path.read_text()
        data = tomllib.loads(text) if path.suffix == ".toml" else json.loads(text)
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot read policy {path}") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"policy {path} must be a table")
    return Policy.from_mapping(data)


def _verify(args: argparse.Namespace) -> int:
    policy = _load_policy(args.policy)
    if args.root:
        try:
            roots = [x509.load_pem_x509_certificate(p.read_bytes()) for p in args.root]
        except (OSError, ValueError) as exc:
            raise InputError("cannot read a --root certificate") from exc
    else:
        roots = [SimulatedPlatform.open(args.platform.expanduser()).root_certificate]
    nonces = NonceRegistry()
    nonces.add(_hex_arg(args.nonce, "--nonce"))
    try:
        quote = args.quote.read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read quote {args.quote}") from exc
    verdict = verify_quote(quote, policy, roots=roots, nonces=nonces)
    print(f"ACCEPTED measurement {verdict.claims.measurement.hex()}")
    for reason in verdict.reasons:
        print(f"  ok: {reason}")
    return 0


class _QuoteRecorder:
    """An :class:`Enclave` that forwards to ``enclave`` and keeps the quotes it returns."""

    def __init__(self, enclave: Enclave) -> None:
        self._enclave = enclave
        self.quotes: list[bytes] = []

    @classmethod
    def load(
        cls, app_dir: Path, *, platform: Any, is_debug: bool = False, timeout_s: float = 10.0
    ) -> Self:
        """Refuse: a recorder wraps an enclave that is already loaded."""
        raise TypeError("_QuoteRecorder wraps a loaded enclave; load the backend instead")

    @property
    def measurement(self) -> bytes:
        """The wrapped enclave's measurement."""
        return self._enclave.measurement

    @property
    def identity(self) -> EnclaveIdentity:
        """The wrapped enclave's identity."""
        return self._enclave.identity

    @property
    def is_debug(self) -> bool:
        """Whether the wrapped enclave runs in debug mode."""
        return self._enclave.is_debug

    def call(self, method: str, args: Any = None) -> Any:
        """Forward a plain call."""
        return self._enclave.call(method, args)

    def attest(self, nonce: bytes) -> bytes:
        """Forward and record the quote."""
        quote = self._enclave.attest(nonce)
        self.quotes.append(quote)
        return quote

    def open_channel(self, quote: bytes, hello: bytes) -> bytes:
        """Forward."""
        return self._enclave.open_channel(quote, hello)

    def send_secure(self, session: bytes, record: bytes) -> bytes:
        """Forward an encrypted record."""
        return self._enclave.send_secure(session, record)

    def close(self) -> None:
        """Leave the wrapped enclave open: its owner closes it."""

    def __enter__(self) -> Self:
        """Return the recorder."""
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        """Do nothing (see :meth:`close`)."""


def release_key_with_manifest(
    keyring: KeyRing,
    key_id: str,
    *,
    manifest_dir: Path,
    enclave: Enclave,
    policy: Policy,
    roots: Sequence[x509.Certificate],
    nonces: NonceRegistry,
    client_key: Ed25519PrivateKey,
    version: int | None = None,
    method: str = "load_key",
    extra: Mapping[str, Any] | None = None,
    principal: str = "keyring",
    now: float | None = None,
) -> KeyRelease:
    """Release a key with :func:`enclaves.keyrelease.release_key` and sign a manifest for it.

    Writes ``release.json`` (the release record: key id and version, the enclave's
    measurement, signer, SVN, TCB status, debug flag, platform fingerprint and the SHA-256
    of the quote that passed; no key bytes) into ``manifest_dir``, and a manifest signed by
    the keyring key ``manifest`` over it. The manifest anchors the audit range from this
    release's ``job.start`` to its ``manifest.sign`` entry, which holds the release entry.

    Args:
        keyring: The keyring holding the key; it needs an attached audit log.
        key_id: The key to release.
        manifest_dir: A new or empty directory for ``release.json`` and the manifest.
        enclave: The enclave (any backend).
        policy: What the enclave must satisfy.
        roots: Trusted platform root certificates.
        nonces: The verifier's nonce registry.
        client_key: The keyring's Ed25519 identity, listed by the app.
        version: The version to release (default: the primary).
        method: The app method that receives the key.
        extra: More (non-secret) arguments for ``method``.
        principal: Who releases, for the audit log.
        now: Verification time, Unix seconds (default: the clock; for tests).

    Returns:
        The release record.

    Raises:
        ValueError: ``manifest_dir`` holds files already (checked before anything is sent).
        KeyManagementError: The keyring has no audit log.
        IntegrityError: The recorded quote does not match the release record.
        AttestationError, KeyNotFound, PolicyDenied, EnclaveError: As ``release_key``
            (audited; no manifest is written).
    """
    manifest_dir = Path(manifest_dir)
    if manifest_dir.exists() and any(manifest_dir.iterdir()):
        raise ValueError(f"manifest_dir {manifest_dir} is not empty")
    audit = keyring.audit_log
    if audit is None:
        raise KeyManagementError("key release needs an audit log; attach one to the keyring")
    job: dict[str, Any] = {"kind": "enclave-key-release", "name": f"key release {key_id}",
           "id": str(uuid.uuid4()), "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
           "spec": {"key_id": key_id, "version": version, "method": method}}  # fmt: skip
    first = audit.append(who=principal, action="job.start", decision="allow",
                         subject={"job": job["id"]})  # fmt: skip
    recorder = _QuoteRecorder(enclave)
    t0 = time.perf_counter()
    release = release_key(
        keyring, key_id, enclave=recorder, policy=policy, roots=roots, nonces=nonces,
        client_key=client_key, version=version, method=method, extra=extra, audit=audit,
        principal=principal, now=now,
    )  # fmt: skip
    elapsed = time.perf_counter() - t0
    quote = recorder.quotes[-1]
    record = _release_record(release, quote, inspect_quote(quote))
    manifest_dir.mkdir(parents=True, exist_ok=True)
    text = json.dumps(record, indent=2, sort_keys=True) + "\n"
    (manifest_dir / RELEASE_RECORD).write_text(text, encoding="utf-8")
    predicate = _release_predicate(job, record, elapsed_s=elapsed)
    write_signed_manifest(
        manifest_dir, predicate, key=keyring.ensure("manifest", KeyPurpose.MANIFEST),
        audit=audit, audit_first_seq=first.seq, principal=principal,
    )  # fmt: skip
    return release


def _release_predicate(
    job: dict[str, Any], record: dict[str, Any], *, elapsed_s: float
) -> dict[str, Any]:
    return {
        "job": {**job, "finished_at": datetime.now(UTC).isoformat(timespec="seconds")},
        "inputs": [],
        "protection": {},
        "key_release": {k: record[k] for k in ("key_id", "key_version", "method")},
        "enclaves": [record["enclave"]],
        # A key release moves no data rows.
        "rows": {"in": 0, "out": 0, "quarantined": 0, "reconciled": True},
        "timings_s": {"release": round(elapsed_s, 6)},
    }


def _release_record(release: KeyRelease, quote: bytes, claims: QuoteClaims) -> dict[str, Any]:
    # release_key verified this very quote (its only attest call); the claims are read
    # again only to record them, after binding them to the verified release record.
    nonce_sha256 = hashlib.sha256(claims.nonce).digest()
    if not (
        hmac.compare_digest(nonce_sha256, release.nonce_sha256)
        and hmac.compare_digest(claims.measurement, release.measurement)
    ):
        raise IntegrityError("the recorded quote does not match the key release record")
    return {
        "key_id": release.key_id,
        "key_version": release.version,
        "method": release.method,
        "enclave": {
            "app": f"product {release.product_id}",
            "platform": claims.platform,
            "is_simulated": claims.is_simulated,
            "measurement": release.measurement.hex(),
            "signer_id": release.signer_id.hex(),
            "product_id": release.product_id,
            "svn": release.svn,
            "is_debug": claims.is_debug,
            "tcb_status": claims.tcb_status.value,
            "quote_sha256": hashlib.sha256(quote).hexdigest(),
            "platform_fingerprint": release.platform_fingerprint.hex(),
            "nonce_sha256": release.nonce_sha256.hex(),
            "policy_checks": list(release.reasons),
        },
    }
