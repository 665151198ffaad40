"""The replay guard: a bounded, thread-safe memory of recently seen (key id, nonce) pairs."""

from __future__ import annotations

import heapq
import threading

from engine.errors import IntegrityError

__all__ = ["ReplayGuard"]


class ReplayGuard:
    """Accept each (key id, nonce) once while its timestamp lies within ``window_s`` of now.

    A nonce is remembered until its ``created`` time plus the window has passed; after
    that, the timestamp check alone rejects it. The memory is bounded: when it is full,
    new requests are refused (fail closed) rather than forgetting nonces early.

    Args:
        window_s: Accepted clock skew and replay window, in seconds (either side).
        max_entries: Most nonces remembered at once.
    """

    __slots__ = ("_expiry", "_heap", "_lock", "_max_entries", "window_s")

    def __init__(self, *, window_s: int = 300, max_entries: int = 1_000_000) -> None:
        if type(window_s) is not int or window_s < 1:
            raise ValueError("window_s must be a positive int")
        if type(max_entries) is not int or max_entries < 1:
            raise ValueError("max_entries must be a positive int")
        self.window_s = window_s
        self._max_entries = max_entries
        self._expiry: dict[tuple[str, str], int] = {}
        self._heap: list[tuple[int, str, str]] = []
        self._lock = threading.Lock()

    def check(self, *, keyid: str, nonce: str, created: int, now: int) -> None:
        """Record the nonce, or raise if it was seen or ``created`` is outside the window.

        Raises:
            IntegrityError: Expired or future timestamp, replayed nonce, or memory full.
        """
        if abs(now - created) > self.window_s:
            raise IntegrityError("signature created outside the accepted window")
        with self._lock:
            self._prune(now)
            if (keyid, nonce) in self._expiry:
                raise IntegrityError("nonce was already used (replay)")
            if len(self._expiry) >= self._max_entries:
                raise IntegrityError("replay memory is full; request refused")
            expiry = created + self.window_s
            self._expiry[(keyid, nonce)] = expiry
            heapq.heappush(self._heap, (expiry, keyid, nonce))

    def __len__(self) -> int:
        return len(self._expiry)

    def _prune(self, now: int) -> None:
        while self._heap and self._heap[0][0] < now:
            _, keyid, nonce = heapq.heappop(self._heap)
            self._expiry.pop((keyid, nonce), None)
