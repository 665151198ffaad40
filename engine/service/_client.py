"""A small Python client of the sidecar that signs requests and verifies signed responses."""

from __future__ import annotations

import hmac
import json
import secrets
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import httpx

from engine.errors import (
    FinVeilError,
    InputError,
    IntegrityError,
    KeyManagementError,
    PolicyDenied,
    TokenizationError,
)
from engine.keys import KeyMaterial
from engine.service._bodies import dataset_digest
from engine.service._signing import (
    REQUEST_COMPONENTS,
    REQUEST_TAG,
    RESPONSE_COMPONENTS,
    RESPONSE_TAG,
    SignatureParams,
    content_digest,
    parse_signature,
    parse_signature_input,
    request_base,
    response_base,
    sign,
    verify_digest,
)

__all__ = ["Client"]

_ERRORS: dict[int, type[FinVeilError]] = {
    400: InputError,
    401: IntegrityError,
    403: PolicyDenied,
    409: KeyManagementError,
    413: InputError,
    422: TokenizationError,
    503: IntegrityError,
}


class Client:
    """Call the sidecar with signed requests; every response signature is verified.

    Args:
        base_url: The sidecar, e.g. ``"http://127.0.0.1:8787"``.
        client_id: The client name; its key is the keyring key ``client.<client_id>``.
        key: That key's secret (bytes) or ``KeyMaterial``.
        timeout_s: Per-request timeout.
        clock: Returns UNIX seconds (for tests).

    Example: ``with Client(url, "payments", key) as c: c.tokenize("pan", pans, column="pan")``.
    """

    __slots__ = ("_base_url", "_clock", "_http", "_keyid", "_secret", "client_id")

    def __init__(
        self,
        base_url: str,
        client_id: str,
        key: bytes | KeyMaterial,
        *,
        timeout_s: float = 30.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.client_id = client_id
        self._keyid = f"client.{client_id}"
        self._secret = key.secret if isinstance(key, KeyMaterial) else bytes(key)
        if len(self._secret) < 16:
            raise ValueError("key must be at least 16 bytes")
        self._base_url = base_url.rstrip("/")
        self._clock = clock
        self._http = httpx.Client(base_url=self._base_url, timeout=timeout_s)

    def __repr__(self) -> str:
        return f"Client({self._base_url!r}, {self.client_id!r})"

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    def tokenize(
        self,
        kind: str,
        values: Sequence[str | None],
        *,
        column: str,
        options: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Tokenize one column; return ``{"tokens": [...], "errors": [...], ...}``."""
        body: dict[str, Any] = {"kind": kind, "column": column, "values": list(values)}
        if options:
            body["options"] = dict(options)
        return self.call("/v1/tokenize", body)

    def tokenize_records(
        self,
        records: Sequence[Mapping[str, Any]],
        *,
        pii: Mapping[str, str],
        options: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Tokenize the ``pii`` fields of ``records``; return ``{"records": [...], ...}``."""
        body: dict[str, Any] = {"pii": dict(pii), "records": [dict(r) for r in records]}
        if options:
            body["options"] = dict(options)
        return self.call("/v1/tokenize", body)

    def detokenize(
        self,
        kind: str,
        tokens: Sequence[str],
        *,
        column: str,
        purpose: str,
        justification: str,
        key_version: int | None = None,
        options: Mapping[str, Any] | None = None,
    ) -> list[str]:
        """Detokenize one column, if the policy allows it; return the values.

        Raises:
            PolicyDenied: The sidecar's policy denied it (HTTP 403, audited).
        """
        body: dict[str, Any] = {
            "kind": kind,
            "column": column,
            "values": list(tokens),
            "purpose": purpose,
            "justification": justification,
        }
        if key_version is not None:
            body["key_version"] = key_version
        if options:
            body["options"] = dict(options)
        values: list[str] = self.call("/v1/detokenize", body)["values"]
        return values

    def approve(
        self,
        principal: str,
        kind: str,
        tokens: Sequence[str],
        *,
        column: str,
        purpose: str,
        justification: str,
        key_version: int | None = None,
    ) -> dict[str, Any]:
        """Approve ``principal``'s detokenize request of exactly these tokens and fields."""
        body: dict[str, Any] = {
            "principal": principal,
            "kind": kind,
            "rows": len(tokens),
            "purpose": purpose,
            "justification": justification,
            "dataset_id": dataset_digest(kind, column, list(tokens)),
        }
        if key_version is not None:
            body["key_version"] = key_version
        return self.call("/v1/approve", body)

    def scan(self, *, text: str | None = None, document: Any = None) -> dict[str, Any]:
        """Scan text or a JSON document; return the report (masked previews only)."""
        body = {"text": text} if text is not None else {"document": document}
        return self.call("/v1/scan", body)

    def call(self, path: str, body: Any) -> dict[str, Any]:
        """POST ``body`` as JSON to ``path``, signed; verify and return the JSON response.

        Raises:
            IntegrityError: The response is unsigned, forged or not bound to the request,
                or the sidecar rejected the request's signature (401).
            PolicyDenied, InputError, TokenizationError, KeyManagementError: The sidecar's
                error for 403, 400/413, 422 and 409 (the message is the sidecar's).
        """
        raw = json.dumps(body, separators=(",", ":")).encode("utf-8")
        headers = self.sign_request("POST", path, raw)
        response = self._http.post(path, content=raw, headers=headers)
        if response.status_code == 401:
            raise IntegrityError(f"sidecar rejected the request signature: {_message(response)}")
        self.verify_response(response, request_signature=headers["signature"])
        data: dict[str, Any] = response.json()
        if response.status_code != 200:
            error = _ERRORS.get(response.status_code, FinVeilError)
            raise error(f"sidecar HTTP {response.status_code}: {data.get('message', '')}")
        return data

    def sign_request(
        self, method: str, path: str, body: bytes, *, query: str = ""
    ) -> dict[str, str]:
        """Return the ``Content-Digest``, ``Signature-Input`` and ``Signature`` headers."""
        digest = content_digest(body)
        params = SignatureParams(
            components=REQUEST_COMPONENTS,
            created=int(self._clock()),
            nonce=secrets.token_urlsafe(24),
            keyid=self._keyid,
            tag=REQUEST_TAG,
        )
        base = request_base(params, method=method, path=path, query=query, digest=digest)
        return {
            "content-type": "application/json",
            "content-digest": digest,
            "signature-input": f"sig1={params.serialize()}",
            "signature": sign(base, self._secret),
        }

    def verify_response(self, response: httpx.Response, *, request_signature: str) -> None:
        """Check a response's signature: our key, its status and body, bound to our request.

        Raises:
            IntegrityError: The response signature is missing, malformed or wrong.
        """
        headers = response.headers
        params = parse_signature_input(headers.get("signature-input"), expected=RESPONSE_COMPONENTS)
        parse_signature(headers.get("signature"))
        if params.tag != RESPONSE_TAG or params.keyid != self._keyid:
            raise IntegrityError("response signature has the wrong tag or key id")
        digest = verify_digest(headers.get("content-digest"), response.content)
        base = response_base(
            params, status=response.status_code, digest=digest, request_signature=request_signature
        )
        if not hmac.compare_digest(sign(base, self._secret), headers["signature"]):
            raise IntegrityError("response signature does not verify")


def _message(response: httpx.Response) -> str:
    try:
        return str(response.json().get("message", ""))[:200]
    except ValueError:
        return ""
