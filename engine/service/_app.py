"""The sidecar's ASGI app (Starlette): signed routes, limits, errors, metrics and OpenAPI.

SECURITY: nothing here logs or echoes a request value: log lines carry the route, client,
status, count and duration; error bodies carry a code and a message naming the field.
"""

from __future__ import annotations

import hmac
import json
import logging
import os
import secrets
import time
from collections.abc import Awaitable, Callable
from typing import Any

from anyio import CapacityLimiter, to_thread
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram
from prometheus_client import generate_latest as prometheus_text
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from engine.errors import (
    ConfigError,
    FinVeilError,
    InputError,
    IntegrityError,
    KeyManagementError,
    PolicyDenied,
    TokenizationError,
)
from engine.service._bodies import parse_approve, parse_detokenize, parse_scan, parse_tokenize
from engine.service._openapi import SIGNED_ROUTES, openapi_document
from engine.service._replay import ReplayGuard
from engine.service._sidecar import Sidecar
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

__all__ = ["create_app"]

logger = logging.getLogger("engine.service")

Operation = Callable[[Any, str], dict[str, Any]]


class _Reject(Exception):  # noqa: N818 - internal control flow, never leaves this module
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


class _Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "finveil_sidecar_requests",
            "Requests by route and status",
            ["route", "status"],
            registry=self.registry,
        )
        self.seconds = Histogram(
            "finveil_sidecar_request_seconds",
            "Request latency by route",
            ["route"],
            registry=self.registry,
            buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
        )
        self.values = Counter(
            "finveil_sidecar_values", "Values processed by route", ["route"], registry=self.registry
        )
        self.auth_failures = Counter(
            "finveil_sidecar_auth_failures",
            "Rejected signatures by reason",
            ["reason"],
            registry=self.registry,
        )


def _json_bytes(data: Any) -> bytes:
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def _no_constants(name: str) -> Any:
    raise ValueError("non-finite number")


def _error_of(exc: Exception) -> tuple[int, str, str]:
    # SECURITY: FinVeil messages never carry values; other exceptions are named by type.
    if isinstance(exc, InputError | ConfigError):
        return 400, "invalid_request", str(exc)
    if isinstance(exc, PolicyDenied):
        return 403, "policy_denied", str(exc)
    if isinstance(exc, KeyManagementError):
        return 409, "key_unavailable", str(exc)
    if isinstance(exc, TokenizationError):
        return 422, "not_a_token", str(exc)
    if isinstance(exc, IntegrityError):
        return 503, "audit_unavailable", str(exc)
    return 500, "internal_error", f"internal error ({type(exc).__name__})"


class _Service:
    def __init__(self, sidecar: Sidecar, *, clock: Callable[[], float]) -> None:
        self.sidecar = sidecar
        self.options = sidecar.options
        self.replay = ReplayGuard(window_s=self.options.replay_window_s)
        self.metrics = _Metrics()
        self.clock = clock
        self._limiter: CapacityLimiter | None = None

    async def read_body(self, request: Request) -> bytes:
        cap = self.options.max_body_bytes
        length = request.headers.get("content-length")
        if length is not None and (not length.isdigit() or int(length) > cap):
            raise _Reject(413, "too_large", f"request body exceeds {cap} bytes")
        chunks, size = [], 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > cap:
                raise _Reject(413, "too_large", f"request body exceeds {cap} bytes")
            chunks.append(chunk)
        return b"".join(chunks)

    def authenticate(self, request: Request, body: bytes) -> tuple[SignatureParams, bytes, str]:
        """Return (params, secret, signature header) of a valid, fresh, first-seen request."""
        headers = request.headers
        try:
            params = parse_signature_input(
                headers.get("signature-input"), expected=REQUEST_COMPONENTS
            )
            parse_signature(headers.get("signature"))
            if params.tag != REQUEST_TAG:
                raise IntegrityError("signature tag is not finveil-request")
            digest = verify_digest(headers.get("content-digest"), body)
        except IntegrityError as exc:
            raise self._unauthorized("malformed", str(exc)) from None
        base = request_base(
            params,
            method=request.method,
            path=request.scope["path"],
            query=request.scope.get("query_string", b"").decode("latin-1"),
            digest=digest,
        )
        signature = headers["signature"]
        try:
            candidates = self.sidecar.client_secrets(params.keyid)
        except KeyManagementError:
            candidates = []
        # SECURITY: every live version is tried, in constant time per comparison, so a key
        # rotation needs no downtime; an unknown client fails exactly like a forgery.
        secret = next(
            (s for s in candidates if hmac.compare_digest(sign(base, s), signature)), None
        )
        if secret is None:
            raise self._unauthorized("bad_signature", "request signature does not verify")
        try:
            # Checked after the MAC, so unauthenticated traffic cannot fill the nonce memory.
            self.replay.check(
                keyid=params.keyid,
                nonce=params.nonce,
                created=params.created,
                now=int(self.clock()),
            )
        except IntegrityError as exc:
            reason = "replayed" if "replay" in str(exc) else "expired"
            raise self._unauthorized(reason, str(exc)) from None
        return params, secret, signature

    def _unauthorized(self, reason: str, message: str) -> _Reject:
        self.metrics.auth_failures.labels(reason=reason).inc()
        return _Reject(401, "unauthorized", message)

    def signed_response(
        self, status: int, data: Any, *, keyid: str, secret: bytes, request_signature: str
    ) -> Response:
        body = _json_bytes(data)
        digest = content_digest(body)
        params = SignatureParams(
            components=RESPONSE_COMPONENTS,
            created=int(self.clock()),
            nonce=secrets.token_urlsafe(16),
            keyid=keyid,
            tag=RESPONSE_TAG,
        )
        base = response_base(
            params, status=status, digest=digest, request_signature=request_signature
        )
        headers = {
            "content-digest": digest,
            "signature-input": f"sig1={params.serialize()}",
            "signature": sign(base, secret),
        }
        return Response(body, status_code=status, headers=headers, media_type="application/json")

    def route(self, name: str, operation: Operation) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            started = time.perf_counter()
            client, count = "-", 0
            try:
                body = await self.read_body(request)
                params, secret, signature = self.authenticate(request, body)
            except _Reject as rej:
                response: Response = JSONResponse(
                    {"error": rej.code, "message": rej.message}, status_code=rej.status
                )
            else:
                client = params.keyid.removeprefix("client.")
                status, data, count = await self._run(operation, body, client)
                response = self.signed_response(
                    status, data, keyid=params.keyid, secret=secret, request_signature=signature
                )
            elapsed = time.perf_counter() - started
            self.metrics.requests.labels(route=name, status=str(response.status_code)).inc()
            self.metrics.seconds.labels(route=name).observe(elapsed)
            self.metrics.values.labels(route=name).inc(count)
            logger.info(
                "%s %s client=%s status=%d values=%d ms=%.2f",
                request.method,
                name,
                client,
                response.status_code,
                count,
                elapsed * 1e3,
            )
            return response

        return endpoint

    async def _run(self, operation: Operation, body: bytes, client: str) -> tuple[int, Any, int]:
        try:
            data = json.loads(body, parse_constant=_no_constants)
        except (ValueError, RecursionError):
            # SECURITY: the decoder's message quotes the body around the error; drop it.
            return 400, {"error": "malformed_json", "message": "body is not valid JSON"}, 0
        try:
            if self._limiter is None:  # Made inside the event loop, on first use.
                # CPU-bound work under the GIL: more threads than cores only add contention.
                self._limiter = CapacityLimiter(max(1, min(4, os.cpu_count() or 1)))
            result = await to_thread.run_sync(operation, data, client, limiter=self._limiter)
        except _Reject as rej:
            return rej.status, {"error": rej.code, "message": rej.message}, 0
        except Exception as exc:  # Every error becomes a JSON response.
            status, code, message = _error_of(exc)
            if status >= 500:
                logger.error("operation failed: %s", type(exc).__name__)
            return status, {"error": code, "message": message}, 0
        return 200, result, _count(data)


def _count(data: Any) -> int:
    if isinstance(data, dict):
        items = data.get("values", data.get("records"))
        if isinstance(items, list):
            return len(items)
    return 0


def create_app(sidecar: Sidecar, *, clock: Callable[[], float] = time.time) -> Starlette:
    """Return the ASGI app serving ``sidecar`` (see docs/service.md for the API).

    Args:
        sidecar: The operations, keyring and policy.
        clock: Returns UNIX seconds, for signature timestamps (for tests).
    """
    svc = _Service(sidecar, clock=clock)
    max_values = sidecar.options.max_values

    def too_many(n: int) -> None:
        if n > max_values:
            raise _Reject(413, "too_many_values", f"more than {max_values} values")

    def tokenize(data: Any, client: str) -> dict[str, Any]:
        too_many(_count(data))
        return sidecar.tokenize(parse_tokenize(data, max_values=max_values))

    def detokenize(data: Any, client: str) -> dict[str, Any]:
        too_many(_count(data))
        return sidecar.detokenize(parse_detokenize(data, max_values=max_values), client=client)

    def approve(data: Any, client: str) -> dict[str, Any]:
        return sidecar.approve(parse_approve(data), approver=client)

    def scan(data: Any, client: str) -> dict[str, Any]:
        return sidecar.scan(parse_scan(data))

    operations: dict[str, Operation] = {
        "/v1/tokenize": tokenize,
        "/v1/detokenize": detokenize,
        "/v1/approve": approve,
        "/v1/scan": scan,
    }
    document = _json_bytes(openapi_document(max_values=max_values))

    async def healthz(request: Request) -> Response:
        try:
            await to_thread.run_sync(sidecar.check_ready)
        except FinVeilError as exc:
            return JSONResponse({"status": "unavailable", "message": str(exc)}, status_code=503)
        return JSONResponse({"status": "ok"})

    async def metrics(request: Request) -> Response:
        return Response(prometheus_text(svc.metrics.registry), media_type=CONTENT_TYPE_LATEST)

    async def openapi(request: Request) -> Response:
        return Response(document, media_type="application/json")

    routes = [
        Route(path, svc.route(path, operations[path]), methods=[method])
        for method, path in SIGNED_ROUTES
    ]
    routes += [
        Route("/healthz", healthz, methods=["GET"]),
        Route("/metrics", metrics, methods=["GET"]),
        Route("/openapi.json", openapi, methods=["GET"]),
    ]
    return Starlette(routes=routes)
