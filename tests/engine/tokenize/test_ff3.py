"""FF3-1 behaviour: 56-bit tweak, maxlen, and agreement with the ``ff3`` package."""

from __future__ import annotations

import secrets

import numpy as np
import pytest
from ff3 import FF3Cipher

from engine.errors import DomainError
from engine.tokenize._ff3 import FF3_1

KEY = bytes.fromhex("EF4359D8D580AA4F7F036D6F04FC6A94")
TWEAK = bytes.fromhex("D8E7920AFA330A")


@pytest.mark.parametrize(("radix", "maxlen", "minlen"), [(10, 56, 6), (2, 192, 20), (36, 36, 4)])
def test_domain_bounds(radix: int, maxlen: int, minlen: int) -> None:
    cipher = FF3_1(KEY, radix)
    assert cipher.maxlen == maxlen
    assert cipher.minlen == minlen


def test_maxlen_is_enforced() -> None:
    cipher = FF3_1(KEY)
    assert len(cipher.encrypt(["1" * 56], TWEAK)[0]) == 56
    with pytest.raises(DomainError, match="length"):
        cipher.encrypt(["1" * 57], TWEAK)


@pytest.mark.parametrize("size", [0, 6, 8, 16])
def test_tweak_must_be_seven_bytes(size: int) -> None:
    with pytest.raises(DomainError, match="tweak"):
        FF3_1(KEY).encrypt(["1234567890"], bytes(size))


def test_every_tweak_bit_matters() -> None:
    cipher = FF3_1(KEY)
    values = ["1234567890123456"] * 2
    base = cipher.encrypt(values, bytes(7))
    for bit in range(56):
        tweak = (1 << bit).to_bytes(7, "big")
        assert cipher.encrypt(values, tweak) != base, bit


@pytest.mark.parametrize("radix", [10, 26, 36, 62])
def test_matches_ff3_package(radix: int) -> None:
    alphabet = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"[:radix]
    rng = np.random.default_rng(radix)
    for key_size in (16, 24, 32):
        key, tweak = secrets.token_bytes(key_size), secrets.token_bytes(7)
        ours = FF3_1(key, radix, alphabet)
        reference = FF3Cipher.withCustomAlphabet(key.hex(), tweak.hex(), alphabet)
        for length in sorted({ours.minlen, ours.minlen + 1, 16, ours.maxlen - 1, ours.maxlen}):
            values = [
                "".join(alphabet[i] for i in rng.integers(0, radix, length)) for _ in range(8)
            ]
            tokens = ours.encrypt(values, tweak)
            assert tokens == [reference.encrypt(v) for v in values]
            assert ours.decrypt(tokens, tweak) == values


@pytest.mark.parametrize("length", [36, 37, 38, 56])
def test_exact_integer_path_round_trips(length: int) -> None:
    # radix 10: halves of 19 or more digits exceed 2^63, so the exact-integer path runs
    # (for 37 only the longer half does).
    cipher = FF3_1(KEY)
    rng = np.random.default_rng(length)
    batch = rng.integers(0, 10, size=(20, length))
    out = cipher.encrypt_numerals(batch, TWEAK)
    np.testing.assert_array_equal(cipher.decrypt_numerals(out, TWEAK), batch)
    np.testing.assert_array_equal(out[3:4], cipher.encrypt_numerals(batch[3:4], TWEAK))
