"""Quote verification: certificate chain, COSE signature, binding, policy, freshness, nonce."""

from __future__ import annotations

import datetime
import hashlib
import hmac
import itertools
import time
from collections.abc import Sequence
from dataclasses import dataclass

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding

from enclaves.attestation._claims import QuoteClaims, TCBStatus, compute_binding
from enclaves.attestation._cose import Sign1, parse_sign1, verify_sign1
from enclaves.attestation._nonces import NonceRegistry
from enclaves.attestation._policy import Policy
from enclaves.encoding import decode
from engine.errors import AttestationError, IntegrityError

#: Marker that every simulated certificate and quote carries.
SIMULATED_LABEL = "SIMULATED"
# Quotes up to this far in the future are tolerated (clock skew between hosts).
_MAX_SKEW_S = 30.0


@dataclass(frozen=True, slots=True, kw_only=True)
class Verdict:
    """An accepted quote: its claims and why each check passed.

    Args:
        claims: The verified claims (use ``claims.public_key`` and ``claims.binding`` to open
            a channel with :func:`enclaves.channel.connect`).
        reasons: One line per check that passed.
        platform_fingerprint: SHA-256 of the platform certificate that signed the quote.
    """

    claims: QuoteClaims
    reasons: tuple[str, ...]
    platform_fingerprint: bytes


def verify_quote(
    quote: bytes,
    policy: Policy,
    *,
    roots: Sequence[x509.Certificate],
    nonces: NonceRegistry,
    now: float | None = None,
) -> Verdict:
    """Verify a quote against trust anchors and a policy.

    Args:
        quote: The COSE_Sign1 quote.
        policy: What to accept.
        roots: Trusted root CA certificates.
        nonces: The registry that issued the nonce; the nonce is consumed.
        now: Current Unix time in seconds (default: the system clock).

    Returns:
        The verdict; it is only returned when every check passed.

    Raises:
        AttestationError: If any check fails; the message lists every failed check.
    """
    now = time.time() if now is None else now
    message = parse_sign1(quote)
    leaf = _verify_chain(message, roots=roots, now=now)
    verify_sign1(message, _ed25519(leaf))
    try:
        claims = QuoteClaims.from_mapping(decode(message.payload))
    except IntegrityError:
        raise AttestationError("quote payload is not canonical CBOR") from None
    if not hmac.compare_digest(claims.binding, compute_binding(claims)):
        raise AttestationError("quote binding hash does not match its claims")
    failures, passes = _check_policy(claims, leaf=leaf, policy=policy, now=now)
    # The quote is authentic from here on, so its nonce is burned whatever the policy says.
    try:
        nonces.consume(claims.nonce)
    except AttestationError as exc:
        failures.append(str(exc))
    if failures:
        raise AttestationError("quote rejected: " + "; ".join(failures))
    fingerprint = hashlib.sha256(leaf.public_bytes(_DER)).digest()
    return Verdict(
        claims=claims, reasons=(*passes, "nonce fresh"), platform_fingerprint=fingerprint
    )


def _verify_chain(
    message: Sign1, *, roots: Sequence[x509.Certificate], now: float
) -> x509.Certificate:
    if not roots:
        raise AttestationError("no trusted root certificates given")
    try:
        chain = [x509.load_der_x509_certificate(der) for der in message.chain]
    except ValueError:
        raise AttestationError("quote certificate chain is not DER X.509") from None
    if len(chain) < 2:
        raise AttestationError("quote certificate chain must hold platform and root")
    anchors = {hashlib.sha256(r.public_bytes(_DER)).digest() for r in roots}
    top = hashlib.sha256(chain[-1].public_bytes(_DER)).digest()
    if not any(hmac.compare_digest(top, anchor) for anchor in anchors):
        raise AttestationError("quote certificate chain ends in an untrusted root")
    moment = datetime.datetime.fromtimestamp(now, tz=datetime.UTC)
    for child, parent in itertools.pairwise(chain):
        try:
            child.verify_directly_issued_by(parent)
        except (ValueError, TypeError, InvalidSignature):
            raise AttestationError("quote certificate chain signature is invalid") from None
    for cert in chain:
        if not cert.not_valid_before_utc <= moment <= cert.not_valid_after_utc:
            raise AttestationError("a quote certificate is outside its validity period")
    return chain[0]


def _ed25519(cert: x509.Certificate) -> Ed25519PublicKey:
    key = cert.public_key()
    if not isinstance(key, Ed25519PublicKey):
        raise AttestationError("platform certificate does not hold an Ed25519 key")
    return key


def _is_simulated(cert: x509.Certificate) -> bool:
    return any(SIMULATED_LABEL in str(attr.value) for attr in cert.subject)


def _check_policy(
    claims: QuoteClaims, *, leaf: x509.Certificate, policy: Policy, now: float
) -> tuple[list[str], list[str]]:
    failures: list[str] = []
    passes: list[str] = []
    simulated = _is_simulated(leaf) or claims.is_simulated or SIMULATED_LABEL in claims.platform
    if simulated and not policy.allow_simulated:
        failures.append("simulated platform not allowed by policy")
    elif simulated:
        passes.append("simulated platform allowed by policy")
    if _is_simulated(leaf) and not claims.is_simulated:
        failures.append("platform certificate is SIMULATED but the quote claims otherwise")
    identity = _match_identity(claims, policy)
    (passes if identity.startswith("allowed") else failures).append(identity)
    if claims.is_debug and not policy.allow_debug:
        failures.append("debug enclave refused")
    elif claims.is_debug:
        passes.append("debug enclave allowed by policy (development only)")
    if claims.tcb_status is TCBStatus.REVOKED or claims.tcb_status not in policy.accepted_tcb:
        failures.append(f"platform TCB status {claims.tcb_status.value!r} not accepted")
    else:
        passes.append(f"platform TCB status {claims.tcb_status.value!r} accepted")
    age_s = now - claims.timestamp_ms / 1000
    if age_s > policy.max_age_s:
        failures.append(f"quote is stale ({age_s:.0f} s old, limit {policy.max_age_s:.0f} s)")
    elif age_s < -_MAX_SKEW_S:
        failures.append("quote timestamp is in the future")
    else:
        passes.append("quote is recent")
    return failures, passes


def _match_identity(claims: QuoteClaims, policy: Policy) -> str:
    # SECURITY: an all-zero measurement is what an uninitialised report holds; never trust it,
    # whatever a signer rule says.
    if claims.measurement == bytes(32):
        return "all-zero measurement refused"
    if not policy.measurements and not policy.signers:
        return "policy allows no enclave (empty allowlist)"
    if any(hmac.compare_digest(claims.measurement, m) for m in policy.measurements):
        return "allowed: measurement in allowlist"
    too_old: list[int] = []
    for rule in policy.signers:
        if (
            hmac.compare_digest(claims.signer_id, rule.signer_id)
            and claims.product_id == rule.product_id
        ):
            if claims.svn >= rule.min_svn:
                return f"allowed: signer rule for product {rule.product_id}, SVN >= {rule.min_svn}"
            too_old.append(rule.min_svn)
    if too_old:
        return f"enclave SVN {claims.svn} below minimum {min(too_old)}"
    return "measurement and signer not allowed by policy"


_DER = Encoding.DER
