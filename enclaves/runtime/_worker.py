"""The enclave side of the simulated runtime: a process serving one app over a socket."""

from __future__ import annotations

import socket
import sys
from collections import OrderedDict
from collections.abc import Callable, Mapping
from typing import Any

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from enclaves.attestation.hazmat import inspect_quote
from enclaves.channel import SecureChannel, accept
from enclaves.encoding import decode, encode
from enclaves.runtime._context import EnclaveApp, EnclaveContext, Request
from enclaves.runtime._loader import install, resolve
from enclaves.runtime._manifest import EnclaveIdentity
from enclaves.runtime._wire import ChannelClosed, recv_frame, send_frame
from enclaves.sealing import SealingKeys
from engine.errors import EnclaveError, FinVeilError, IntegrityError

_MAX_PENDING = 64


def _error(exc: BaseException) -> dict[str, Any]:
    # SECURITY: only FinVeil errors, whose messages never hold values, keep their message;
    # any other exception from app code is reduced to its type name.
    message = (
        str(exc) if isinstance(exc, FinVeilError) else f"enclave app raised {type(exc).__name__}"
    )
    return {"ok": False, "error": type(exc).__name__, "message": message}


class _Enclave:
    def __init__(self) -> None:
        self._app: EnclaveApp | None = None
        self._context: EnclaveContext | None = None
        self._pending: OrderedDict[bytes, X25519PrivateKey] = OrderedDict()
        self._sessions: dict[bytes, tuple[SecureChannel, bytes | None]] = {}

    def dispatch(self, message: Any) -> dict[str, Any]:
        if not isinstance(message, Mapping) or not isinstance(message.get("op"), str):
            raise EnclaveError("malformed request")
        handler: Callable[[Mapping[str, Any]], dict[str, Any]] | None = getattr(
            self, f"_op_{message['op']}", None
        )
        if handler is None or (self._app is None and message["op"] != "load"):
            raise EnclaveError(f"unknown or premature operation {message['op']!r}")
        return handler(message)

    def _loaded(self) -> tuple[EnclaveApp, EnclaveContext]:
        if self._app is None or self._context is None:
            raise EnclaveError("no app loaded")
        return self._app, self._context

    def _op_load(self, message: Mapping[str, Any]) -> dict[str, Any]:
        if self._app is not None:
            raise EnclaveError("app already loaded")
        identity = EnclaveIdentity(**message["identity"])
        files: Mapping[str, bytes] = message["files"]
        keys = SealingKeys(**message["sealing"])
        install(files)
        self._context = EnclaveContext(
            identity=identity,
            is_debug=keys.is_debug,
            config=message["config"],
            files={k: v for k, v in files.items() if not k.endswith(".py")},
            sealing_keys=keys,
        )
        factory = resolve(message["entry"])
        if not callable(factory):
            raise EnclaveError("enclave entry point is not callable")
        self._app = factory(self._context)
        return {"ok": True}

    def _op_call(self, message: Mapping[str, Any]) -> dict[str, Any]:
        app, context = self._loaded()
        request = Request(method=str(message["method"]), args=message.get("args"), is_secure=False)
        result = app.handle(request)
        # SECURITY: a plain reply goes to the host, so it must not contain a protected secret.
        if context.leaks_secret(result):
            raise EnclaveError("reply withheld: it contains a protected enclave secret")
        return {"ok": True, "result": result}

    def _op_attest(self, message: Mapping[str, Any]) -> dict[str, Any]:
        private = X25519PrivateKey.generate()
        public = private.public_key().public_bytes_raw()
        self._pending[public] = private
        while len(self._pending) > _MAX_PENDING:
            self._pending.popitem(last=False)
        return {"ok": True, "public_key": public}

    def _op_open_channel(self, message: Mapping[str, Any]) -> dict[str, Any]:
        _, context = self._loaded()
        claims = inspect_quote(message["quote"])
        # The enclave checks that the quote is about itself and its own key; the verifier
        # checks the signature and policy, and its keys only match if the quote is this one.
        if claims.measurement != context.identity.measurement:
            raise IntegrityError("quote is for another enclave")
        private = self._pending.pop(claims.public_key, None)
        if private is None:
            raise IntegrityError("quote does not carry a pending key of this enclave")
        self._sessions[claims.binding] = accept(private, message["hello"], binding=claims.binding)
        return {"ok": True, "session": claims.binding}

    def _op_secure(self, message: Mapping[str, Any]) -> dict[str, Any]:
        app, context = self._loaded()
        session = self._sessions.get(message["session"])
        if session is None:
            raise IntegrityError("unknown secure channel session")
        channel, client_id = session
        inner = decode(channel.open(message["record"]))
        if not isinstance(inner, Mapping) or not isinstance(inner.get("method"), str):
            raise IntegrityError("malformed secure request")
        try:
            result = app.handle(
                Request(
                    method=inner["method"],
                    args=inner.get("args"),
                    is_secure=True,
                    client_id=client_id,
                )
            )
            # SECURITY: the host can open an anonymous channel itself, so an anonymous
            # channel gets the same protection as a plain reply.
            if client_id is None and context.leaks_secret(result):
                raise EnclaveError("reply withheld: it contains a protected enclave secret")
            reply: dict[str, Any] = {"ok": True, "result": result}
        except Exception as exc:  # Reported to the caller inside the channel.
            reply = _error(exc)
        return {"ok": True, "record": channel.seal(encode(reply))}

    def reply_is_safe(self, reply: Mapping[str, Any]) -> bool:
        return self._context is None or not self._context.leaks_secret(reply.get("message"))


def serve(sock: socket.socket) -> None:
    """Answer requests until the host closes the socket or asks to shut down."""
    enclave = _Enclave()
    while True:
        try:
            message = recv_frame(sock)
        except (ChannelClosed, OSError):
            return
        if isinstance(message, Mapping) and message.get("op") == "shutdown":
            return
        try:
            reply = enclave.dispatch(message)
        except Exception as exc:  # Every failure becomes an error reply.
            reply = _error(exc)
            if not enclave.reply_is_safe(reply):
                reply = {"ok": False, "error": "EnclaveError", "message": "error withheld"}
        try:
            send_frame(sock, reply)
        except TypeError:
            send_frame(sock, _error(EnclaveError("enclave reply is not CBOR-encodable")))


def main() -> None:
    """Entry point of the enclave process: ``argv[1]`` is the socket's file descriptor."""
    sock = socket.socket(fileno=int(sys.argv[1]))
    try:
        serve(sock)
    finally:
        sock.close()
