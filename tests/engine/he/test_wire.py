from __future__ import annotations

import pytest

from engine.errors import IntegrityError
from engine.he import _wire


def _message() -> _wire.Message:
    return _wire.Message(
        kind=_wire.Kind.VECTOR, fingerprint=bytes(16), header={"a": 1}, parts=(b"xy", b"")
    )


def test_round_trip_and_version_byte_first() -> None:
    blob = _wire.pack(_message())
    assert blob[0] == _wire.FORMAT_VERSION
    assert _wire.unpack(blob, expected=_wire.Kind.VECTOR) == _message()


@pytest.mark.parametrize(
    ("mutate", "match"),
    [
        (lambda b: b"\x09" + b[1:], "version 9"),
        (lambda b: b[:1] + b"XXXX" + b[5:], "not a FinVeil"),
        (lambda b: b[:5] + b"\x03" + b[6:], "holds a FRAME"),
        (lambda b: b[:5] + b"\x63" + b[6:], "unknown kind"),
        (lambda b: b[:10], "truncated"),
        (lambda b: b[: 1 + 4 + 1 + 16 + 4 + 7], "truncated"),
        (lambda b: b[: 1 + 4 + 1 + 16 + 4 + 7 + 4 + 3], "truncated"),
        (lambda b: b[: 1 + 4 + 1 + 16 + 4 + 7 + 4 + 8 + 1], "truncated"),
        (lambda b: b[:-1], "truncated"),
        (lambda b: b + b"\x00", "trailing"),
    ],
)
def test_bad_payloads(mutate: object, match: str) -> None:
    blob = _wire.pack(_message())
    with pytest.raises(IntegrityError, match=match):
        _wire.unpack(mutate(blob), expected=_wire.Kind.VECTOR)  # type: ignore[operator]


def test_header_must_be_a_json_object() -> None:
    blob = bytearray(_wire.pack(_message()))
    start = 1 + 4 + 1 + 16 + 4
    blob[start : start + 7] = b"[1, 2] "
    with pytest.raises(IntegrityError, match="header"):
        _wire.unpack(bytes(blob), expected=_wire.Kind.VECTOR)
    blob[start : start + 7] = b"{{{{{{{"
    with pytest.raises(IntegrityError, match="header"):
        _wire.unpack(bytes(blob), expected=_wire.Kind.VECTOR)


def test_header_field_readers() -> None:
    h = {"i": 3, "b": True, "f": 1.5, "s": "x", "l": [1, 2], "nan": float("nan")}
    assert _wire.get_int(h, "i") == 3
    assert _wire.get_float(h, "i") == 3.0
    assert _wire.get_str(h, "s") == "x"
    assert _wire.get_list(h, "l", int) == [1, 2]
    for reader, name in [
        (_wire.get_int, "b"),
        (_wire.get_int, "missing"),
        (_wire.get_float, "nan"),
        (_wire.get_float, "s"),
        (_wire.get_str, "i"),
    ]:
        with pytest.raises(IntegrityError, match=name):
            reader(h, name)
    with pytest.raises(IntegrityError, match="'s'"):
        _wire.get_list(h, "s", int)
