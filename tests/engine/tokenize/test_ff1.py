"""FF1 behaviour: domain, tweaks, long values (exact-integer path and S expansion)."""

from __future__ import annotations

from typing import cast

import numpy as np
import pytest

from engine.errors import DomainError
from engine.tokenize import _ff1
from engine.tokenize._ff1 import FF1

KEY = bytes.fromhex("2B7E151628AED2A6ABF7158809CF4F3C")


def test_domain_bounds() -> None:
    assert FF1(KEY).minlen == 6
    assert FF1(KEY).maxlen == 2**32 - 1
    assert FF1(KEY, 2).minlen == 20
    assert FF1(KEY, 65536, "".join(chr(0x100 + i) for i in range(65536))).minlen == 2


def test_tweak_may_be_empty_or_long() -> None:
    cipher = FF1(KEY)
    values = ["0123456789"] * 3
    outputs = {tuple(cipher.encrypt(values, t)) for t in (b"", b"a", b"b" * 16, b"c" * 100)}
    assert len(outputs) == 4
    for tweak in (b"", cast(bytes, bytearray(b"x" * 37))):
        assert cipher.decrypt(cipher.encrypt(values, tweak), tweak) == values


def test_tweak_longer_than_the_length_field_is_rejected(monkeypatch: pytest.MonkeyPatch) -> None:
    # A real 2^32-byte tweak does not fit in test memory: lower the bound instead.
    monkeypatch.setattr(_ff1, "_MAX_TWEAK_BYTES", 8)
    with pytest.raises(DomainError, match="tweak"):
        FF1(KEY).encrypt(["0123456789"], b"123456789")


def test_tweak_type() -> None:
    with pytest.raises(TypeError, match="tweak"):
        FF1(KEY).encrypt_numerals(np.zeros((1, 8), dtype=np.uint8), None)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("radix", "length"),
    [
        (10, 6),
        (10, 19),
        (10, 36),
        (10, 37),
        (10, 38),
        (10, 39),
        (10, 80),
        (36, 30),
        (2, 127),
        (2, 128),
        (65536, 9),
    ],
)
def test_long_values_round_trip_and_match_single_rows(radix: int, length: int) -> None:
    alphabet = None if radix <= 36 else "".join(chr(0x100 + i) for i in range(radix))
    cipher = FF1(KEY, radix, alphabet)
    rng = np.random.default_rng(radix * 1000 + length)
    batch = rng.integers(0, radix, size=(25, length))
    out = cipher.encrypt_numerals(batch, b"tweak")
    assert out.min() >= 0
    assert out.max() < radix
    np.testing.assert_array_equal(cipher.decrypt_numerals(out, b"tweak"), batch)
    np.testing.assert_array_equal(out[7:8], cipher.encrypt_numerals(batch[7:8], b"tweak"))


def test_key_sizes_give_different_outputs() -> None:
    values = ["12345678901234"]
    outputs = {FF1(bytes(size)).encrypt(values, b"")[0] for size in (16, 24, 32)}
    assert len(outputs) == 3


def test_bytearray_key_is_accepted() -> None:
    assert FF1(cast(bytes, bytearray(KEY))).encrypt(["0123456789"], b"") == FF1(KEY).encrypt(
        ["0123456789"], b""
    )


def test_domain_error_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="length"):
        FF1(KEY).encrypt(["12345"], b"")
    assert issubclass(DomainError, ValueError)
