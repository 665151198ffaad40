"""Faulty enclave app: each method misbehaves in one way the runtime must contain."""

from __future__ import annotations

import os
import time
from typing import Any

from enclaves.runtime import EnclaveContext, Request


class FaultyApp:
    def __init__(self, context: EnclaveContext) -> None:
        if context.config.get("fail_at_start"):
            raise RuntimeError("startup failure")
        self._context = context

    def handle(self, request: Request) -> Any:
        if request.method == "ping":
            return "pong"
        if request.method == "crash":
            os._exit(3)
        if request.method == "hang":
            time.sleep(120)
        if request.method == "raise":
            # The message holds a "secret"; the runtime must not forward it.
            raise ValueError("secret-value-4111111111111111")
        if request.method == "unencodable":
            return object()
        return None


def create(context: EnclaveContext) -> FaultyApp:
    return FaultyApp(context)
