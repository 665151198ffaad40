"""Mutual TLS 1.3 links between session nodes, with framed CBOR messages and a deadline.

Each node listens on its own address. Node ``i`` connects to every node ``j > i``. A server
must know its clients' certificates to verify them, so each node first *probes* the nodes
that will connect to it (a TLS handshake without a client certificate, which only fetches the
server's certificate) and pins what it gets against the spec's SHA-256 fingerprint. Only then
are the real, mutually authenticated links made; both ends check the fingerprint again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
import struct
import time
from dataclasses import dataclass, field
from pathlib import Path

import cbor2

from engine.errors import SessionAborted
from engine.smpc._identity import matches

logger = logging.getLogger(__name__)

_VERSION = 1
_MAX_FRAME = 1 << 30
_HEADER = struct.Struct(">I")
_RETRY_S = 0.02
# Stream buffer: large frames are read without pausing the transport every 128 KiB.
_STREAM_LIMIT = 1 << 24
_CLOSED = "\x00closed"
_ABORT = "\x00abort"


@dataclass(frozen=True, slots=True, kw_only=True)
class Node:
    """A session member (party or dealer) as the spec lists it."""

    name: str
    host: str
    port: int
    fingerprint: str


@dataclass(slots=True)
class _Link:
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    inbox: asyncio.Queue[tuple[str, bytes]] = field(default_factory=asyncio.Queue)
    send_seq: int = 0
    task: asyncio.Task[None] | None = None
    culprit: str | None = None  # set when the peer sent an abort frame


def _contexts(cert: Path, key: Path) -> tuple[ssl.SSLContext, ssl.SSLContext, ssl.SSLContext]:
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    client = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    probe = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    for ctx in (server, client, probe):
        ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    for ctx in (server, client):
        ctx.load_cert_chain(cert, key)
    # SECURITY: the server verifies client chains against the pinned, probed certificates
    # (loaded later); a client without a certificate is a probe and gets nothing but ours.
    server.verify_mode = ssl.CERT_OPTIONAL
    # Clients pin the server's certificate by fingerprint after the handshake (TLS 1.3
    # CertificateVerify still proves possession of its key); no CA is involved.
    for ctx in (client, probe):
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    return server, client, probe


def _peer_der(writer: asyncio.StreamWriter) -> bytes | None:
    obj = writer.get_extra_info("ssl_object")
    return None if obj is None else obj.getpeercert(binary_form=True)


class Mesh:
    """A node's authenticated links to the other nodes of one session (implements ``Net``).

    ``me`` and ``n`` count parties only; the dealer, if any, is node index ``n``.
    """

    def __init__(
        self,
        nodes: list[Node],
        *,
        me: int,
        n_parties: int,
        session_id: str,
        cert: Path,
        key: Path,
        timeout_s: float,
    ) -> None:
        self.nodes, self.me, self.n = nodes, me, n_parties
        self.session_id = session_id
        self.timeout_s = timeout_s
        self.deadline = time.monotonic() + timeout_s
        self.bytes_sent = 0
        self.linked_after_s: float | None = None
        self._server_ctx, self._client_ctx, self._probe_ctx = _contexts(cert, key)
        self._links: dict[int, _Link] = {}
        #: Each linked node's DER certificate, pinned by the spec (read after ``connect``).
        self.peer_certs: dict[int, bytes] = {}
        self._server: asyncio.Server | None = None
        self._all_linked = asyncio.Event()
        self._expected: set[int] = set()

    def remaining(self) -> float:
        """Seconds left before the session deadline (never negative)."""
        return max(0.0, self.deadline - time.monotonic())

    def peer_name(self, peer: int) -> str:
        """Return the spec name of node ``peer``."""
        return self.nodes[peer].name

    def _abort(self, peer: int, reason: str) -> SessionAborted:
        name = self.nodes[peer].name
        return SessionAborted(f"party {name!r} {reason}", party=name)

    async def connect(self, peers: list[int]) -> None:
        """Listen, probe, and link to every node in ``peers`` before the deadline."""
        self._expected = set(peers)
        node = self.nodes[self.me]
        self._server = await asyncio.start_server(
            self._accept,
            node.host,
            node.port,
            ssl=self._server_ctx,
            ssl_handshake_timeout=max(1.0, min(5.0, self.remaining())),
            reuse_address=True,
            limit=_STREAM_LIMIT,
        )

        async def trust(peer: int) -> None:
            self._server_ctx.load_verify_locations(cadata=await self._probe(peer))

        # Probes and dials run together, so a bad certificate on any link is reported at once
        # instead of after a probe of a node that has already aborted times out.
        await asyncio.gather(
            *(trust(p) for p in peers if p < self.me),
            *(self._dial(p) for p in peers if p > self.me),
        )
        try:
            await asyncio.wait_for(self._wait_linked(), self.remaining())
        except TimeoutError:
            missing = sorted(self._expected - set(self._links))
            raise self._abort(missing[0], "did not connect before the timeout") from None
        self.linked_after_s = self.timeout_s - self.remaining()

    async def _wait_linked(self) -> None:
        while not self._expected <= set(self._links):
            self._all_linked.clear()
            await self._all_linked.wait()

    async def _probe(self, peer: int) -> bytes:
        node = self.nodes[peer]
        while True:
            try:
                _, writer = await asyncio.wait_for(
                    asyncio.open_connection(node.host, node.port, ssl=self._probe_ctx),
                    max(0.05, min(2.0, self.remaining())),
                )
            except (OSError, TimeoutError, ssl.SSLError):
                if self.remaining() <= _RETRY_S:
                    raise self._abort(peer, "did not come up before the timeout") from None
                await asyncio.sleep(_RETRY_S)
                continue
            der = _peer_der(writer)
            writer.close()
            with contextlib.suppress(OSError, ssl.SSLError):
                await writer.wait_closed()
            if der is None or not matches(der, node.fingerprint):
                raise self._abort(peer, "presented a certificate that does not match the spec")
            return der

    async def _dial(self, peer: int) -> None:
        node = self.nodes[peer]
        while True:
            try:
                reader, writer = await asyncio.wait_for(
                    asyncio.open_connection(
                        node.host, node.port, ssl=self._client_ctx, limit=_STREAM_LIMIT
                    ),
                    max(0.05, min(2.0, self.remaining())),
                )
                der = _peer_der(writer)
                if der is None or not matches(der, node.fingerprint):
                    writer.close()
                    raise self._abort(peer, "presented a certificate that does not match the spec")
                link = _Link(reader, writer)
                await self._write(link, "link", self.nodes[self.me].name.encode())
                kind, _ = await asyncio.wait_for(self._read_frame(link), min(2.0, self.remaining()))
                if kind != "link_ok":
                    raise ConnectionError("link refused")
            except SessionAborted:
                raise
            except (OSError, EOFError, TimeoutError, ssl.SSLError, ValueError):
                # The server may not have probed us yet (it rejects our certificate then).
                if self.remaining() <= _RETRY_S:
                    raise self._abort(peer, "did not accept our link before the timeout") from None
                await asyncio.sleep(_RETRY_S)
                continue
            self._register(peer, link, der)
            return

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        der = _peer_der(writer)
        peer = next(
            (
                p
                for p in self._expected
                if p < self.me and der and matches(der, self.nodes[p].fingerprint)
            ),
            None,
        )
        if peer is None or peer in self._links:
            # A probe, a stranger or a duplicate: it learns our public certificate, nothing else.
            writer.close()
            return
        link = _Link(reader, writer)
        try:
            kind, body = await asyncio.wait_for(self._read_frame(link), min(2.0, self.remaining()))
            if kind != "link" or body != self.nodes[peer].name.encode():
                raise ConnectionError("bad link request")
            await self._write(link, "link_ok", b"")
        except (OSError, EOFError, TimeoutError, ssl.SSLError, ValueError):
            writer.close()
            return
        self._register(peer, link, der or b"")

    def _register(self, peer: int, link: _Link, der: bytes) -> None:
        self._links[peer] = link
        self.peer_certs[peer] = der
        link.task = asyncio.get_running_loop().create_task(self._pump(peer, link))
        self._all_linked.set()

    async def _write(self, link: _Link, kind: str, body: bytes) -> None:
        frame = cbor2.dumps(
            {
                "v": _VERSION,
                "sid": self.session_id,
                "seq": link.send_seq,
                "kind": kind,
                "body": body,
            }
        )
        link.send_seq += 1
        link.writer.write(_HEADER.pack(len(frame)) + frame)
        self.bytes_sent += _HEADER.size + len(frame)
        await link.writer.drain()

    async def _read_frame(
        self, link: _Link, expected_seq: list[int] | None = None
    ) -> tuple[str, bytes]:
        (size,) = _HEADER.unpack(await link.reader.readexactly(_HEADER.size))
        if size > _MAX_FRAME:
            raise ValueError("frame too large")
        msg = cbor2.loads(await link.reader.readexactly(size))
        if (
            not isinstance(msg, dict)
            or msg.get("v") != _VERSION
            or msg.get("sid") != self.session_id
        ):
            raise ValueError("frame from another protocol version or session")
        kind, body, seq = msg.get("kind"), msg.get("body"), msg.get("seq")
        if not isinstance(kind, str) or not isinstance(body, bytes) or not isinstance(seq, int):
            raise ValueError("malformed frame")
        if expected_seq is not None:
            if seq != expected_seq[0]:
                raise ValueError("frame out of sequence")
            expected_seq[0] += 1
        return kind, body

    async def _pump(self, peer: int, link: _Link) -> None:
        seq = [1]  # frame 0 was the link request or its answer
        try:
            while True:
                frame = await self._read_frame(link, seq)
                if frame[0] == "abort":
                    link.culprit = frame[1].decode(errors="replace")[:64]
                link.inbox.put_nowait(frame)
        except (
            OSError,
            asyncio.IncompleteReadError,
            ssl.SSLError,
            ValueError,
            cbor2.CBORDecodeError,
        ):
            link.inbox.put_nowait((_CLOSED, b""))

    async def send(self, peer: int, kind: str, body: bytes) -> None:
        """Send one framed message to ``peer`` within the deadline."""
        link = self._links[peer]
        try:
            await asyncio.wait_for(self._write(link, kind, body), self.remaining())
        except TimeoutError:
            raise self._abort(peer, "stopped reading (stalled) before the timeout") from None
        except (OSError, ssl.SSLError):
            raise await self._dropped(peer, link) from None

    async def _dropped(self, peer: int, link: _Link) -> SessionAborted:
        # A peer that aborted closes its links right after its abort frame, so our write may
        # fail before we read that frame: let the reader drain, then report the abort.
        if link.task is not None and link.culprit is None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(
                    asyncio.shield(link.task), max(0.0, min(0.5, self.remaining()))
                )
        if link.culprit is not None:
            return SessionAborted(
                f"party {self.nodes[peer].name!r} aborted the session (blames {link.culprit!r})",
                party=link.culprit,
            )
        return self._abort(peer, "dropped the connection")

    async def recv(self, peer: int, kind: str) -> bytes:
        """Return the next message from ``peer``, which must be tagged ``kind``."""
        try:
            got, body = await asyncio.wait_for(self._links[peer].inbox.get(), self.remaining())
        except TimeoutError:
            raise self._abort(peer, "stalled: no message before the timeout") from None
        if got == _ABORT or got == "abort":
            culprit = body.decode(errors="replace")[:64]
            raise SessionAborted(
                f"party {self.nodes[peer].name!r} aborted the session (blames {culprit!r})",
                party=culprit,
            )
        if got == _CLOSED:
            raise self._abort(peer, "dropped the connection or sent a malformed frame")
        if got != kind:
            raise self._abort(peer, f"sent {got!r} where {kind!r} was expected")
        return body

    async def abort(self, culprit: str) -> None:
        """Tell every peer the session is aborted because of ``culprit`` (best effort)."""
        for link in list(self._links.values()):
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._write(link, "abort", culprit.encode()), 1.0)

    async def close(self) -> None:
        """Close every link and the listener."""
        for link in self._links.values():
            if link.task is not None:
                link.task.cancel()
            link.writer.close()
        if self._server is not None:
            self._server.close()
        for link in self._links.values():
            with contextlib.suppress(Exception):
                await asyncio.wait_for(link.writer.wait_closed(), 1.0)
        if self._server is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 1.0)
