"""The shared front end of FF1 and FF3-1: argument checks, alphabets, batching, messages."""

from __future__ import annotations

import numpy as np
import pytest

from engine.errors import DomainError
from engine.tokenize._ff1 import FF1
from engine.tokenize._ff3 import FF3_1

KEY = bytes(range(16))
CLASSES = [FF1, FF3_1]
TWEAK = b"\x01\x02\x03\x04\x05\x06\x07"  # Valid for both modes.


@pytest.fixture(params=CLASSES, ids=["FF1", "FF3-1"])
def cls(request: pytest.FixtureRequest) -> type[FF1] | type[FF3_1]:
    kind: type[FF1] | type[FF3_1] = request.param
    return kind


def test_properties_and_default_alphabet(cls: type[FF1] | type[FF3_1]) -> None:
    cipher = cls(KEY, 16)
    assert cipher.radix == 16
    assert cipher.alphabet == "0123456789abcdef"
    assert cipher.minlen == 5  # 16^5 >= 10^6 > 16^4.
    assert cls(KEY).alphabet == "0123456789"


def test_repr_hides_the_key(cls: type[FF1] | type[FF3_1]) -> None:
    text = repr(cls(b"\xab" * 16))
    assert "ab" not in text.lower().replace("radix", "")
    assert "radix=10" in text


@pytest.mark.parametrize("size", [0, 15, 17, 31, 33])
def test_key_of_wrong_size_is_a_domain_error(cls: type[FF1] | type[FF3_1], size: int) -> None:
    with pytest.raises(DomainError, match="key"):
        cls(bytes(size))


def test_key_of_wrong_type_is_a_type_error(cls: type[FF1] | type[FF3_1]) -> None:
    with pytest.raises(TypeError, match="key"):
        cls("00" * 16)  # type: ignore[arg-type]


@pytest.mark.parametrize("radix", [0, 1, 65537])
def test_radix_outside_domain(cls: type[FF1] | type[FF3_1], radix: int) -> None:
    with pytest.raises(DomainError, match="radix"):
        cls(KEY, radix, "x" * max(radix, 0))


def test_radix_type(cls: type[FF1] | type[FF3_1]) -> None:
    with pytest.raises(TypeError, match="radix"):
        cls(KEY, 10.0)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="radix"):
        cls(KEY, True)


def test_alphabet_rules(cls: type[FF1] | type[FF3_1]) -> None:
    with pytest.raises(DomainError, match="alphabet"):
        cls(KEY, 40)
    with pytest.raises(DomainError, match="alphabet"):
        cls(KEY, 10, "0123456789a")
    with pytest.raises(DomainError, match="distinct"):
        cls(KEY, 10, "0123456788")
    with pytest.raises(TypeError, match="alphabet"):
        cls(KEY, 10, list("0123456789"))  # type: ignore[arg-type]


def test_large_unicode_alphabet_round_trips(cls: type[FF1] | type[FF3_1]) -> None:
    alphabet = "".join(chr(0x4E00 + i) for i in range(3000))
    cipher = cls(KEY, 3000, alphabet)
    values = [alphabet[5:9], alphabet[-4:], alphabet[100:106]]
    tokens = cipher.encrypt(values, TWEAK)
    assert [len(t) for t in tokens] == [4, 4, 6]
    assert all(ch in alphabet for t in tokens for ch in t)
    assert cipher.decrypt(tokens, TWEAK) == values


def test_custom_ascii_alphabet_maps_numerals(cls: type[FF1] | type[FF3_1]) -> None:
    shuffled = "9876543210"
    plain = cls(KEY).encrypt(["0123456789"], TWEAK)[0]
    mapped = cls(KEY, 10, shuffled).encrypt(["9876543210"], TWEAK)[0]
    assert mapped == "".join(shuffled[int(ch)] for ch in plain)


def test_length_outside_domain_names_index_not_value(cls: type[FF1] | type[FF3_1]) -> None:
    cipher = cls(KEY)
    with pytest.raises(DomainError, match=r"values\[1\]") as info:
        cipher.encrypt(["1234567", "98765"], TWEAK)
    assert "98765" not in str(info.value)


def test_character_outside_alphabet_names_index_not_value(cls: type[FF1] | type[FF3_1]) -> None:
    cipher = cls(KEY)
    values = ["12345678", "87654321", "8765x321", "9876543é"]
    with pytest.raises(DomainError, match=r"values\[2\]") as info:
        cipher.encrypt(values, TWEAK)
    assert "8765" not in str(info.value)
    assert "x" not in str(info.value).replace("index", "")
    with pytest.raises(DomainError, match=r"values\[1\]"):
        cipher.decrypt(["12345678", "9876543é"], TWEAK)


@pytest.mark.parametrize("char", [" ", "/", ":", "\x00", "\x7f", "\u0660"])
def test_characters_next_to_a_contiguous_alphabet_are_rejected(
    cls: type[FF1] | type[FF3_1], char: str
) -> None:
    cipher = cls(KEY)
    with pytest.raises(DomainError, match=r"values\[1\]"):
        cipher.encrypt(["12345678", f"1234{char}678"], TWEAK)


def test_alphabet_with_nul_and_surrogates(cls: type[FF1] | type[FF3_1]) -> None:
    alphabet = "\x00" + "".join(chr(0xD800 + i) for i in range(1, 100)) + "abc"
    cipher = cls(KEY, len(alphabet), alphabet)
    values = ["\x00\x00\x00\x00", alphabet[:4], alphabet[-5:]]
    tokens = cipher.encrypt(values, TWEAK)
    assert [len(t) for t in tokens] == [4, 4, 5]
    assert cipher.decrypt(tokens, TWEAK) == values


def test_radix_65536_strings_round_trip(cls: type[FF1] | type[FF3_1]) -> None:
    alphabet = "".join(chr(i) for i in range(65536))
    cipher = cls(KEY, 65536, alphabet)
    values = ["\x00\uffff\ud800", "abc", "\u4e00\u4e01\u4e02\u4e03"]
    tokens = cipher.encrypt(values, TWEAK)
    assert [len(t) for t in tokens] == [3, 3, 4]
    assert cipher.decrypt(tokens, TWEAK) == values
    with pytest.raises(DomainError, match=r"values\[0\]"):
        cipher.encrypt(["\U0001f600ab"], TWEAK)


def test_errors_are_raised_before_any_output(cls: type[FF1] | type[FF3_1]) -> None:
    cipher = cls(KEY)
    # A bad value in a later length group still fails the whole batch.
    with pytest.raises(DomainError, match=r"values\[2\]"):
        cipher.encrypt(["1234567", "12345678", "12a4567890"], TWEAK)


def test_values_type_checks(cls: type[FF1] | type[FF3_1]) -> None:
    cipher = cls(KEY)
    with pytest.raises(TypeError, match="values"):
        cipher.encrypt("1234567890", TWEAK)
    with pytest.raises(TypeError, match=r"values\[1\]"):
        cipher.encrypt(["1234567890", 1234567890], TWEAK)  # type: ignore[list-item]
    with pytest.raises(TypeError, match="tweak"):
        cipher.encrypt(["1234567890"], "abcdefg")  # type: ignore[arg-type]


def test_numpy_string_arrays_are_accepted(cls: type[FF1] | type[FF3_1]) -> None:
    cipher = cls(KEY)
    values = ["1234567890", "0987654321"]
    expected = cipher.encrypt(values, TWEAK)
    assert cipher.encrypt(np.array(values), TWEAK) == expected
    assert cipher.encrypt(np.array(values, dtype=object), TWEAK) == expected
    with pytest.raises(TypeError, match="values"):
        cipher.encrypt(np.array([values]), TWEAK)


def test_empty_batch(cls: type[FF1] | type[FF3_1]) -> None:
    cipher = cls(KEY)
    assert cipher.encrypt([], TWEAK) == []
    empty = np.zeros((0, 8), dtype=np.uint8)
    assert cipher.encrypt_numerals(empty, TWEAK).shape == (0, 8)


def test_mixed_lengths_keep_order(cls: type[FF1] | type[FF3_1]) -> None:
    cipher = cls(KEY)
    values = ["123456", "1234567890123456", "9876543", "000000", "1234567890123456789"]
    tokens = cipher.encrypt(values, TWEAK)
    assert [len(t) for t in tokens] == [len(v) for v in values]
    assert tokens == [cipher.encrypt([v], TWEAK)[0] for v in values]
    assert cipher.decrypt(tokens, TWEAK) == values
    assert tokens != values


def test_numeral_checks(cls: type[FF1] | type[FF3_1]) -> None:
    cipher = cls(KEY)
    good = np.arange(16, dtype=np.int32).reshape(2, 8) % 10
    out = cipher.encrypt_numerals(good, TWEAK)
    assert out.dtype == np.int32
    assert out.shape == good.shape
    assert not np.array_equal(out, good)
    bad = good.copy()
    bad[1, 3] = 10
    with pytest.raises(DomainError, match=r"numerals\[1\]"):
        cipher.encrypt_numerals(bad, TWEAK)
    bad[1, 3] = -1
    with pytest.raises(DomainError, match=r"numerals\[1\]"):
        cipher.decrypt_numerals(bad, TWEAK)
    with pytest.raises(DomainError, match="length"):
        cipher.encrypt_numerals(good[:, :3], TWEAK)
    with pytest.raises(TypeError, match="numerals"):
        cipher.encrypt_numerals(good[0], TWEAK)
    with pytest.raises(TypeError, match="numerals"):
        cipher.encrypt_numerals(good.astype(np.float64), TWEAK)
    with pytest.raises(TypeError, match="numerals"):
        cipher.encrypt_numerals(good.tolist(), TWEAK)  # type: ignore[arg-type]


def test_large_batch_spans_chunks(cls: type[FF1] | type[FF3_1]) -> None:
    cipher = cls(KEY)
    rng = np.random.default_rng(3)
    batch = rng.integers(0, 10, size=(70_001, 10), dtype=np.uint8)
    out = cipher.encrypt_numerals(batch, TWEAK)
    np.testing.assert_array_equal(out[-3:], cipher.encrypt_numerals(batch[-3:], TWEAK))
    np.testing.assert_array_equal(cipher.decrypt_numerals(out, TWEAK), batch)


def test_round_constant_memo_is_bounded(cls: type[FF1] | type[FF3_1]) -> None:
    cipher = cls(KEY)
    values = ["1234567890"]
    first = cipher.encrypt(values, bytes(7))
    for i in range(300):
        cipher.encrypt(values, i.to_bytes(7, "big"))
    assert len(cipher._plans) <= 256
    assert cipher.encrypt(values, bytes(7)) == first


def test_numerals_never_narrow_into_a_small_dtype(cls: type[FF1] | type[FF3_1]) -> None:
    cipher = cls(KEY, 1000, "".join(chr(0x100 + i) for i in range(1000)))
    small = np.arange(12, dtype=np.uint8).reshape(2, 6)
    out = cipher.encrypt_numerals(small, TWEAK)
    assert out.dtype == np.uint16
    assert out.max() < 1000
    np.testing.assert_array_equal(cipher.decrypt_numerals(out, TWEAK), small)
