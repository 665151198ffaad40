"""Host side of key release: attest freshly, audit, then send the key over the channel."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from enclaves.attestation import NonceRegistry, Policy, QuoteClaims, Verdict, verify_quote
from enclaves.attestation.hazmat import inspect_quote
from enclaves.channel import connect
from enclaves.runtime import AttestedClient, Enclave
from engine.errors import AttestationError, EnclaveError, FinVeilError, KeyManagementError
from engine.keys import AuditLog, KeyMaterial, KeyRing

#: Audit action of every enclave key release decision.
RELEASE_ACTION = "enclave.key.release"
#: Arguments the release message itself uses; ``extra`` may not override them.
RESERVED_ARGS = frozenset({"key_id", "version", "secret"})
# The keyring's own audit key MACs the log that records releases; it never leaves.
_NEVER_RELEASED = frozenset({"audit"})


@dataclass(frozen=True, slots=True, kw_only=True)
class KeyRelease:
    """The audited record of one key released to an attested enclave (no key bytes).

    Args:
        key_id: The released key.
        version: The released version.
        measurement: The enclave measurement from the verified quote.
        signer_id: The enclave signer from the verified quote.
        product_id: The enclave product id.
        svn: The enclave security version number.
        platform_fingerprint: SHA-256 of the platform certificate that signed the quote.
        reasons: Why the quote passed the policy, one line per check.
        nonce_sha256: SHA-256 of the verifier nonce the quote answered.
        method: The enclave method that received the key.
    """

    key_id: str
    version: int
    measurement: bytes
    signer_id: bytes
    product_id: int
    svn: int
    platform_fingerprint: bytes
    reasons: tuple[str, ...]
    nonce_sha256: bytes
    method: str


def client_id_of(key: Ed25519PrivateKey) -> bytes:
    """Return the client id an enclave sees for identity ``key`` (SHA-256 of its public key).

    Put its hex form in an app's ``trusted_clients`` before measuring and signing the app.
    """
    return hashlib.sha256(key.public_key().public_bytes_raw()).digest()


def _describe(claims: QuoteClaims | None, *, verified: bool) -> str:
    if claims is None:
        return "quote unreadable"
    prefix = "" if verified else "claimed (unverified) "
    return (
        f"{prefix}measurement={claims.measurement.hex()} signer={claims.signer_id.hex()} "
        f"product={claims.product_id} svn={claims.svn} debug={str(claims.is_debug).lower()} "
        f"tcb={claims.tcb_status.value}"
    )


class _Auditor:
    """Writes one release decision per call; the entry is on disk before anything acts."""

    def __init__(self, audit: AuditLog, *, who: str, key_id: str, nonce: bytes) -> None:
        self._audit = audit
        self._who = who
        self._key_id = key_id
        self._nonce_hash = hashlib.sha256(nonce).hexdigest()

    def write(self, decision: str, detail: str, *, version: int | None = None) -> None:
        reason = f"{detail} nonce_sha256={self._nonce_hash}"
        self._audit.append(
            who=self._who, action=RELEASE_ACTION, decision=decision, reason=reason[:1000],
            key_id=self._key_id, key_version=version,
        )  # fmt: skip


def _verify(
    quote: bytes,
    nonce: bytes,
    *,
    policy: Policy,
    roots: Sequence[x509.Certificate],
    nonces: NonceRegistry,
    now: float | None,
) -> Verdict:
    verdict = verify_quote(quote, policy, roots=roots, nonces=nonces, now=now)
    # SECURITY: the quote must answer the nonce issued for THIS release; another nonce of
    # the same registry (still unused) would let the host replay a quote made earlier.
    if not hmac.compare_digest(verdict.claims.nonce, nonce):
        raise AttestationError("quote rejected: quote answers another nonce than this release's")
    return verdict


def _material(keyring: KeyRing, key_id: str, version: int | None) -> KeyMaterial:
    if key_id in _NEVER_RELEASED:
        raise KeyManagementError(f"key {key_id!r} is never released to an enclave")
    return keyring.primary(key_id) if version is None else keyring.get(key_id, version)


def release_key(
    keyring: KeyRing,
    key_id: str,
    *,
    enclave: Enclave,
    policy: Policy,
    roots: Sequence[x509.Certificate],
    nonces: NonceRegistry,
    client_key: Ed25519PrivateKey,
    version: int | None = None,
    method: str = "load_key",
    extra: Mapping[str, Any] | None = None,
    audit: AuditLog | None = None,
    principal: str = "keyring",
    now: float | None = None,
) -> KeyRelease:
    """Release ``key_id`` to ``enclave`` only if a fresh quote passes ``policy``.

    Steps: issue a nonce, get a quote for it, verify chain, signature, policy and that the
    quote answers this nonce; fetch the key; append the allow entry (fsynced); open a
    channel to the quote's X25519 key signed with ``client_key``; call ``method`` with
    ``{"key_id", "version", "secret", **extra}`` inside the channel. The host relays only
    channel records (AES-GCM ciphertext under keys only the attested enclave can derive).
    Every refusal is audited with decision ``"deny"`` (attestation or keyring) or
    ``"error"`` (the enclave refused or failed after the key was sent).

    Args:
        keyring: The keyring holding the key.
        key_id: The key to release (never the keyring's own ``"audit"`` key).
        enclave: The enclave (any backend).
        policy: What the enclave must satisfy; there is no way to skip this check.
        roots: Trusted platform root certificates.
        nonces: The verifier's nonce registry.
        client_key: The keyring's Ed25519 identity; the app must list its client id
            (:func:`client_id_of`) in ``trusted_clients`` of its measured config.
        version: The version to release (default: the primary).
        method: The app method that receives the key.
        extra: More (non-secret) arguments for ``method``, e.g. a payload wrapped under the
            key (:func:`wrap_payload`).
        audit: Where to audit (default: the keyring's attached audit log; one is required).
        principal: Who releases, for the audit log.
        now: Verification time, Unix seconds (default: the clock; for tests).

    Returns:
        The release record (also in the audit log).

    Raises:
        AttestationError: The quote failed verification or policy (audited).
        KeyNotFound: No such key or version (audited).
        KeyManagementError: No audit log, a retired version, or a key that is never
            released (audited).
        PolicyDenied: The enclave app refused the key, e.g. an untrusted client (audited).
        EnclaveError: The enclave failed (audited).
    """
    log = audit if audit is not None else keyring.audit_log
    if log is None:
        raise KeyManagementError("key release needs an audit log; attach one to the keyring")
    args = dict(extra or {})
    if RESERVED_ARGS & set(args):
        raise ValueError(f"extra must not contain {sorted(RESERVED_ARGS & set(args))}")
    nonce = nonces.issue()
    auditor = _Auditor(log, who=principal, key_id=key_id, nonce=nonce)
    quote, verdict = _attest(
        enclave, nonce, auditor, policy=policy, roots=roots, nonces=nonces, now=now
    )
    identity = (
        f"{_describe(verdict.claims, verified=True)} "
        f"platform={verdict.platform_fingerprint.hex()} method={method}"
    )
    try:
        material = _material(keyring, key_id, version)
    except KeyManagementError as exc:
        auditor.write("deny", f"keyring refused: {exc}; {identity};", version=version)
        raise
    # SECURITY: fail-closed: the allow entry is on disk before the key leaves the keyring.
    auditor.write(
        "allow", f"{identity}; verdict: {'; '.join(verdict.reasons)};", version=material.version
    )
    message = {"key_id": material.key_id, "version": material.version,
               "secret": material.secret, **args}  # fmt: skip
    try:
        _deliver(enclave, quote, verdict, client_key=client_key, method=method, args=message)
    except FinVeilError as exc:
        auditor.write(
            "error", f"enclave refused: {type(exc).__name__}: {exc}; {identity};",
            version=material.version,
        )  # fmt: skip
        raise
    claims = verdict.claims
    return KeyRelease(
        key_id=material.key_id, version=material.version, measurement=claims.measurement,
        signer_id=claims.signer_id, product_id=claims.product_id, svn=claims.svn,
        platform_fingerprint=verdict.platform_fingerprint, reasons=verdict.reasons,
        nonce_sha256=hashlib.sha256(nonce).digest(), method=method,
    )  # fmt: skip


def _attest(
    enclave: Enclave,
    nonce: bytes,
    auditor: _Auditor,
    *,
    policy: Policy,
    roots: Sequence[x509.Certificate],
    nonces: NonceRegistry,
    now: float | None,
) -> tuple[bytes, Verdict]:
    try:
        quote = enclave.attest(nonce)
    except FinVeilError as exc:
        auditor.write("deny", f"no quote: {type(exc).__name__}: {exc};")
        raise
    try:
        return quote, _verify(quote, nonce, policy=policy, roots=roots, nonces=nonces, now=now)
    except AttestationError as exc:
        try:
            claims: QuoteClaims | None = inspect_quote(quote)
        except AttestationError:
            claims = None
        auditor.write("deny", f"{exc}; {_describe(claims, verified=False)};")
        raise


def _deliver(
    enclave: Enclave,
    quote: bytes,
    verdict: Verdict,
    *,
    client_key: Ed25519PrivateKey,
    method: str,
    args: Mapping[str, Any],
) -> None:
    try:
        channel, hello = connect(
            verdict.claims.public_key, binding=verdict.claims.binding, client_key=client_key
        )
    except ValueError as exc:  # A key in a verified quote that X25519 refuses.
        raise EnclaveError("could not open a channel to the attested enclave") from exc
    session = enclave.open_channel(quote, hello)
    client = AttestedClient(enclave=enclave, verdict=verdict, channel=channel, session=session)
    # SECURITY: the key travels only inside the channel record, sealed with keys derived
    # from the X25519 key in the verified quote; the host relays ciphertext.
    client.call(method, dict(args))
