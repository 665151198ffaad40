from __future__ import annotations

import socket
import struct

import pytest

from enclaves.runtime import SimulatedEnclave
from enclaves.runtime._wire import ChannelClosed, recv_frame, send_frame
from engine.errors import EnclaveError, IntegrityError


def test_frames_round_trip_and_eof() -> None:
    left, right = socket.socketpair()
    with left, right:
        send_frame(left, {"op": "x", "data": b"\x00" * 100_000})
        assert recv_frame(right) == {"op": "x", "data": b"\x00" * 100_000}
        left.close()
        with pytest.raises(ChannelClosed):
            recv_frame(right)


def test_oversized_and_non_canonical_frames_are_refused() -> None:
    left, right = socket.socketpair()
    with left, right:
        left.sendall(struct.pack(">I", 2**31))
        with pytest.raises(IntegrityError, match="size limit"):
            recv_frame(right)
        body = b"\xa2\x61b\x01\x61a\x02"  # {"b": 1, "a": 2}: keys out of canonical order
        left.sendall(struct.pack(">I", len(body)) + body)
        with pytest.raises(IntegrityError, match="canonical"):
            recv_frame(right)


def test_enclave_refuses_unknown_operations(echo_enclave: SimulatedEnclave) -> None:
    with pytest.raises(EnclaveError, match="unknown or premature operation 'bogus'"):
        echo_enclave._request({"op": "bogus"})
    with pytest.raises(EnclaveError, match="app already loaded"):
        echo_enclave._request({"op": "load"})
    assert echo_enclave.call("echo", 1) == 1
