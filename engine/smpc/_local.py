"""In-process links between parties (asyncio queues): for tests, notebooks and simulation."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

from engine.errors import SessionAborted
from engine.smpc._dealer import Request, deal, expand
from engine.smpc._protocol import Party

T = TypeVar("T")


class LocalNet:
    """A party's end of a full mesh of in-memory queues, checking message kinds in order."""

    def __init__(
        self, me: int, queues: dict[tuple[int, int], asyncio.Queue[tuple[str, bytes]]], n: int
    ) -> None:
        self.me, self.n = me, n
        self._queues = queues
        self.bytes_sent = 0

    async def send(self, peer: int, kind: str, body: bytes) -> None:
        """Queue ``body`` for ``peer``."""
        self.bytes_sent += len(body)
        await self._queues[(self.me, peer)].put((kind, body))

    def peer_name(self, peer: int) -> str:
        """Return ``party<i>``."""
        return f"party{peer}"

    async def recv(self, peer: int, kind: str) -> bytes:
        """Take the next message from ``peer``, which must be tagged ``kind``."""
        got, body = await asyncio.wait_for(self._queues[(peer, self.me)].get(), timeout=30)
        if got != kind:
            raise SessionAborted(f"expected {kind!r}, got {got!r}", party=self.peer_name(peer))
        return body


def run_local(
    n_parties: int,
    program: Callable[[Party], Awaitable[T]],
    *,
    plan: list[Request] | None = None,
) -> list[T]:
    """Hazardous: run ``program`` for ``n_parties`` in-process parties with an in-process dealer.

    There is no isolation between the parties; use it only to test protocols.
    """
    materials = deal(plan or [], n_parties)

    async def main() -> list[T]:
        queues: dict[tuple[int, int], asyncio.Queue[tuple[str, bytes]]] = {
            (i, j): asyncio.Queue() for i in range(n_parties) for j in range(n_parties) if i != j
        }
        parties = [
            Party(
                LocalNet(i, queues, n_parties),
                expand(materials[i], plan or [], party=i, n_parties=n_parties),
            )
            for i in range(n_parties)
        ]
        return list(await asyncio.gather(*(program(p) for p in parties)))

    return asyncio.run(main())
