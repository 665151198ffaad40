"""HMAC-SHA256 HTTP message signatures in the profile of RFC 9421, with RFC 9530 digests.

Pure functions over bytes and strings: no I/O, no clock (callers pass ``created``), no
logging. The sidecar and :class:`~engine.service.Client` share them, so both sides build
the signature base the same way.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from dataclasses import dataclass, field

from engine.errors import IntegrityError

__all__ = [
    "ALG",
    "LABEL",
    "REQUEST_COMPONENTS",
    "REQUEST_TAG",
    "RESPONSE_TAG",
    "SignatureParams",
    "content_digest",
    "parse_signature",
    "parse_signature_input",
    "request_base",
    "response_base",
    "sign",
    "verify_digest",
]

ALG = "hmac-sha256"
LABEL = "sig1"
REQUEST_TAG = "finveil-request"
RESPONSE_TAG = "finveil-response"
#: The components every request signature must cover, in this order.
REQUEST_COMPONENTS = ('"@method"', '"@path"', '"@query"', '"content-digest"')
RESPONSE_COMPONENTS = ('"@status"', '"content-digest"', f'"signature";req;key="{LABEL}"')

_NONCE = re.compile(r"^[A-Za-z0-9_-]{16,128}$")
_KEYID = re.compile(r"^client\.[a-z0-9][a-z0-9._-]{0,119}$")
_PARAM = re.compile(r'^(created|nonce|keyid|alg|tag)=("[^"\\]*"|[0-9]{1,12})$')
_SIG = re.compile(rf"^{LABEL}=:([A-Za-z0-9+/]{{43}}=):$")
_DIGEST = re.compile(r"^sha-256=:([A-Za-z0-9+/]{43}=):$")


@dataclass(frozen=True, slots=True, kw_only=True)
class SignatureParams:
    """The parameters of one signature (the ``Signature-Input`` member ``sig1``).

    Args:
        components: The covered components, as serialized (e.g. ``'"@method"'``).
        created: Creation time, UNIX seconds.
        nonce: A random, single-use string (16-128 characters of base64url).
        keyid: The signing key, ``client.<name>``.
        tag: ``finveil-request`` or ``finveil-response``.
    """

    components: tuple[str, ...]
    created: int
    nonce: str = field(repr=False)
    keyid: str
    tag: str

    def serialize(self) -> str:
        """Return the inner list with parameters, as in ``@signature-params``."""
        inner = " ".join(self.components)
        return (
            f'({inner});created={self.created};nonce="{self.nonce}";keyid="{self.keyid}";'
            f'alg="{ALG}";tag="{self.tag}"'
        )


def content_digest(body: bytes) -> str:
    """Return the RFC 9530 ``Content-Digest`` value of ``body`` (``sha-256=:...:``)."""
    return "sha-256=:" + base64.b64encode(hashlib.sha256(body).digest()).decode("ascii") + ":"


def verify_digest(header: str | None, body: bytes) -> str:
    """Check a ``Content-Digest`` header against ``body`` and return it.

    Raises:
        IntegrityError: The header is absent, malformed or does not match the body.
    """
    if header is None or not _DIGEST.match(header):
        raise IntegrityError("content-digest header missing or malformed")
    if not hmac.compare_digest(header, content_digest(body)):
        raise IntegrityError("content-digest does not match the body")
    return header


def request_base(
    params: SignatureParams, *, method: str, path: str, query: str, digest: str
) -> bytes:
    """Return the RFC 9421 signature base of a request (section 2.5)."""
    values = {
        '"@method"': method.upper(),
        '"@path"': path,
        '"@query"': "?" + query,
        '"content-digest"': digest,
    }
    return _base(params, values)


def response_base(
    params: SignatureParams, *, status: int, digest: str, request_signature: str
) -> bytes:
    """Return the signature base of a response bound to its request's signature."""
    values = {
        '"@status"': str(status),
        '"content-digest"': digest,
        RESPONSE_COMPONENTS[2]: request_signature,
    }
    return _base(params, values)


def _base(params: SignatureParams, values: dict[str, str]) -> bytes:
    lines = []
    for component in params.components:
        value = values.get(component)
        if value is None or "\n" in value or "\r" in value:
            raise IntegrityError(f"signature covers an unsupported component {component}")
        lines.append(f"{component}: {value}")
    lines.append(f'"@signature-params": {params.serialize()}')
    return "\n".join(lines).encode("utf-8")


def sign(base: bytes, secret: bytes) -> str:
    """Return the ``Signature`` header value (``sig1=:base64:``) of ``base`` under ``secret``."""
    mac = hmac.new(secret, base, hashlib.sha256).digest()
    return f"{LABEL}=:" + base64.b64encode(mac).decode("ascii") + ":"


def parse_signature(header: str | None) -> bytes:
    """Return the MAC in a ``Signature`` header.

    Raises:
        IntegrityError: The header is absent or malformed.
    """
    match = _SIG.match(header or "")
    if match is None:
        raise IntegrityError("signature header missing or malformed")
    return base64.b64decode(match.group(1))


def parse_signature_input(header: str | None, *, expected: tuple[str, ...]) -> SignatureParams:
    """Parse ``Signature-Input: sig1=(...);created=...;nonce=...;keyid=...;alg=...;tag=...``.

    Args:
        header: The header value.
        expected: The components the signature must cover, exactly and in order.

    Raises:
        IntegrityError: The header is absent or malformed, or covers other components, or
            names another algorithm.
    """
    prefix = f"{LABEL}=("
    if header is None or not header.startswith(prefix) or ")" not in header:
        raise IntegrityError("signature-input header missing or malformed")
    inner, _, rest = header[len(prefix) :].partition(")")
    if tuple(inner.split(" ")) != expected:
        raise IntegrityError("signature-input must cover exactly the required components")
    params: dict[str, str] = {}
    for item in rest.split(";")[1:] if rest.startswith(";") else ["<bad>"]:
        match = _PARAM.match(item)
        if match is None or match.group(1) in params:
            raise IntegrityError("signature-input has a malformed or repeated parameter")
        params[match.group(1)] = match.group(2).strip('"')
    if set(params) != {"created", "nonce", "keyid", "alg", "tag"} or params["alg"] != ALG:
        raise IntegrityError(f"signature-input needs created, nonce, keyid, tag and alg={ALG}")
    if not params["created"].isdigit() or not _NONCE.match(params["nonce"]):
        raise IntegrityError("signature-input: created or nonce is malformed")
    if not _KEYID.match(params["keyid"]):
        raise IntegrityError("signature-input: keyid must be client.<name>")
    result = SignatureParams(
        components=expected,
        created=int(params["created"]),
        nonce=params["nonce"],
        keyid=params["keyid"],
        tag=params["tag"],
    )
    # The base is rebuilt from the parsed parameters, so only the canonical form is accepted.
    if header != f"{LABEL}={result.serialize()}":
        raise IntegrityError("signature-input is not in canonical form")
    return result
