from __future__ import annotations

import cbor2
import pytest

from enclaves.encoding import decode, encode
from engine.errors import IntegrityError


def test_round_trip_is_canonical() -> None:
    value = {"b": [1, b"x", "y"], "a": {"n": -3, "f": 1.5, "t": True}}
    assert decode(encode(value)) == value
    assert encode({"a": 1, "b": 2}) == encode({"b": 2, "a": 1})


@pytest.mark.parametrize(
    "data",
    [
        b"\x82\x01",  # truncated array
        encode(1) + b"\x00",  # trailing bytes
        cbor2.dumps({"b": 1, "a": 2}),  # map keys not in canonical order
        b"\x19\x00\x01",  # integer not in shortest form
    ],
)
def test_decode_rejects_malformed_or_non_canonical(data: bytes) -> None:
    with pytest.raises(IntegrityError):
        decode(data)


def test_encode_rejects_unknown_types() -> None:
    with pytest.raises(TypeError, match="CBOR"):
        encode(object())
