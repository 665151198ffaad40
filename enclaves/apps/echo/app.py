"""Echo enclave app: plain echo and info, sealing, and a secret that only arrives encrypted."""

from __future__ import annotations

import hashlib
from typing import Any

from enclaves.runtime import EnclaveContext, Request
from enclaves.sealing import SealPolicy
from engine.errors import PolicyDenied


class EchoApp:
    """Answer ``echo``, ``info``, ``seal``, ``unseal``, ``whoami``, ``remember``, ``digest``."""

    def __init__(self, context: EnclaveContext) -> None:
        self._context = context
        self._secret: bytes | None = None

    def handle(self, request: Request) -> Any:
        """Dispatch one request."""
        args = request.args if isinstance(request.args, dict) else {}
        if request.method == "echo":
            return request.args
        if request.method == "info":
            return {
                "greeting": self._context.config.get("greeting"),
                "svn": self._context.identity.svn,
                "is_debug": self._context.is_debug,
                "is_secure": request.is_secure,
            }
        if request.method == "seal":
            policy = SealPolicy[str(args.get("policy", "MEASUREMENT"))]
            return self._context.seal(bytes(args["data"]), policy=policy)
        if request.method == "unseal":
            return self._context.unseal(bytes(args["blob"]))
        if request.method == "whoami":
            return request.client_id
        if request.method == "remember":
            # SECURITY: secrets are accepted only over the attested channel, from a client
            # whose identity key the (measured) config lists.
            if not request.is_secure:
                raise PolicyDenied("'remember' is accepted only over a secure channel")
            trusted = {bytes.fromhex(c) for c in self._context.config.get("trusted_clients", [])}
            if request.client_id not in trusted:
                raise PolicyDenied("'remember' is accepted only from a trusted client")
            self._secret = bytes(args["secret"])
            self._context.protect(self._secret)
            return None
        if request.method == "digest":
            return None if self._secret is None else hashlib.sha256(self._secret).digest()
        if request.method == "reveal":
            # Deliberately tries to return the secret: the runtime withholds it from plain
            # calls and anonymous channels. (A real app would never do this.)
            return self._secret
        raise PolicyDenied(f"unknown method {request.method!r}")


def create(context: EnclaveContext) -> EchoApp:
    """Entry point named in ``enclave.toml``."""
    return EchoApp(context)
