"""Length-prefixed CBOR frames over a stream socket (the only host-enclave interface)."""

from __future__ import annotations

import socket
import struct
from typing import Any

from enclaves.encoding import MAX_MESSAGE_BYTES, decode, encode
from engine.errors import IntegrityError

_LENGTH = struct.Struct(">I")


class ChannelClosed(Exception):  # noqa: N818 (internal signal, never escapes the runtime)
    """The other end closed the socket."""


def send_frame(sock: socket.socket, message: Any) -> None:
    """Send one CBOR message with a 4-byte big-endian length prefix."""
    data = encode(message)
    if len(data) > MAX_MESSAGE_BYTES:
        raise IntegrityError("enclave message exceeds the size limit")
    sock.sendall(_LENGTH.pack(len(data)) + data)


def _recv_exactly(sock: socket.socket, size: int) -> bytes:
    chunks: list[bytes] = []
    remaining = size
    while remaining:
        chunk = sock.recv(min(remaining, 1 << 20))
        if not chunk:
            raise ChannelClosed
        chunks.append(chunk)
        remaining -= len(chunk)
    return b"".join(chunks)


def recv_frame(sock: socket.socket) -> Any:
    """Receive one message; the socket's timeout applies to each read.

    Raises:
        ChannelClosed: If the peer closed the socket.
        IntegrityError: If the frame is oversized or not canonical CBOR.
        TimeoutError: If the socket timed out.
    """
    (size,) = _LENGTH.unpack(_recv_exactly(sock, _LENGTH.size))
    if size > MAX_MESSAGE_BYTES:
        raise IntegrityError("enclave message exceeds the size limit")
    return decode(_recv_exactly(sock, size))
