"""Verifier nonces: issued once, accepted once, within a time window."""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable

from engine.errors import AttestationError

NONCE_BYTES = 32


class NonceRegistry:
    """Issue nonces for quotes and accept each one at most once before it expires.

    Args:
        ttl_s: How long an issued nonce stays valid, in seconds.
        clock: Returns the current Unix time in seconds (tests pass a fake clock).
    """

    def __init__(self, *, ttl_s: float = 120.0, clock: Callable[[], float] = time.time) -> None:
        if ttl_s <= 0:
            raise ValueError("ttl_s must be positive")
        self._ttl_s = ttl_s
        self._clock = clock
        self._issued: dict[bytes, float] = {}
        self._used: dict[bytes, float] = {}
        self._lock = threading.Lock()

    def issue(self) -> bytes:
        """Return a fresh random nonce to send to the enclave host."""
        nonce = secrets.token_bytes(NONCE_BYTES)
        self.add(nonce)
        return nonce

    def add(self, nonce: bytes) -> None:
        """Register a nonce this verifier chose out of band (e.g. given on a command line).

        Raises:
            ValueError: If the nonce is shorter than 16 bytes or was already registered.
        """
        if len(nonce) < 16:
            raise ValueError("nonce must be at least 16 bytes")
        now = self._clock()
        with self._lock:
            self._prune(now)
            if nonce in self._issued or nonce in self._used:
                raise ValueError("nonce was already registered")
            self._issued[nonce] = now

    def consume(self, nonce: bytes) -> None:
        """Accept ``nonce`` once.

        Raises:
            AttestationError: If the nonce was never issued here, has expired or was used.
        """
        now = self._clock()
        with self._lock:
            if nonce in self._used:
                raise AttestationError("nonce was already used (replayed quote)")
            issued_at = self._issued.pop(nonce, None)
            if issued_at is None:
                raise AttestationError("nonce is unknown to this verifier")
            # SECURITY: a nonce is burned even when it has expired, so it can never count.
            self._used[nonce] = issued_at
            if now - issued_at > self._ttl_s:
                raise AttestationError("nonce has expired")

    def _prune(self, now: float) -> None:
        # Used nonces are kept for two lifetimes so that a replay is reported as such;
        # after that an old nonce is "unknown", which is refused just the same.
        horizon = now - 2 * self._ttl_s
        for table in (self._issued, self._used):
            for nonce in [n for n, t in table.items() if t < horizon]:
                del table[nonce]
