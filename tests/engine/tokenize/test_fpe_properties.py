"""Hypothesis properties of FF1 and FF3-1: inversion, format, batching, tweaks, reference."""

from __future__ import annotations

from typing import Any

from ff3 import FF3Cipher
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.tokenize._ff1 import FF1
from engine.tokenize._ff3 import FF3_1

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
BASE62 = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"


@st.composite
def cases(draw: st.DrawFn, mode: str) -> tuple[Any, list[str], bytes]:
    radix = draw(st.sampled_from([2, 3, 10, 16, 26, 36, 62, 95, 300]))
    if radix <= 62:
        alphabet = "".join(draw(st.permutations(BASE62[:radix])))
    else:
        alphabet = "".join(chr(0x20 + i) if i < 95 else chr(0x400 + i) for i in range(radix))
    key = draw(st.binary(min_size=16, max_size=16) | st.binary(min_size=32, max_size=32))
    cls = FF1 if mode == "FF1" else FF3_1
    cipher = cls(key, radix, alphabet)
    top = min(cipher.maxlen, cipher.minlen + 40)
    lengths = st.integers(cipher.minlen, top)
    rows = draw(st.lists(lengths, min_size=1, max_size=12))
    texts = [draw(st.text(alphabet=alphabet, min_size=n, max_size=n)) for n in rows]
    tweak = draw(st.binary(min_size=7, max_size=7) if mode == "FF3-1" else st.binary(max_size=40))
    return cipher, texts, tweak


@SETTINGS
@given(case=st.sampled_from(["FF1", "FF3-1"]).flatmap(cases))
def test_decrypt_inverts_encrypt(case: tuple[Any, list[str], bytes]) -> None:
    cipher, values, tweak = case
    tokens = cipher.encrypt(values, tweak)
    assert cipher.decrypt(tokens, tweak) == values
    assert cipher.encrypt(cipher.decrypt(values, tweak), tweak) == values


@SETTINGS
@given(case=st.sampled_from(["FF1", "FF3-1"]).flatmap(cases))
def test_length_and_alphabet_preserved(case: tuple[Any, list[str], bytes]) -> None:
    cipher, values, tweak = case
    tokens = cipher.encrypt(values, tweak)
    assert [len(t) for t in tokens] == [len(v) for v in values]
    assert set("".join(tokens)) <= set(cipher.alphabet)


@SETTINGS
@given(case=st.sampled_from(["FF1", "FF3-1"]).flatmap(cases))
def test_batching_does_not_change_outputs(case: tuple[Any, list[str], bytes]) -> None:
    cipher, values, tweak = case
    assert cipher.encrypt(values, tweak) == [cipher.encrypt([v], tweak)[0] for v in values]


@SETTINGS
@given(
    mode=st.sampled_from([FF1, FF3_1]),
    key=st.binary(min_size=16, max_size=16),
    tweaks=st.lists(st.binary(min_size=7, max_size=7), min_size=2, max_size=2, unique=True),
)
def test_different_tweaks_give_different_outputs(
    mode: type[FF1] | type[FF3_1], key: bytes, tweaks: list[bytes]
) -> None:
    cipher = mode(key)
    # 8 values of 12 digits: a collision of all 8 under two tweaks has probability 10^-96.
    values = [f"{i:012d}" for i in range(8)]
    assert cipher.encrypt(values, tweaks[0]) != cipher.encrypt(values, tweaks[1])


@SETTINGS
@given(
    radix=st.sampled_from([10, 26, 36]),
    key=st.binary(min_size=16, max_size=16) | st.binary(min_size=24, max_size=24),
    tweak=st.binary(min_size=7, max_size=7),
    data=st.data(),
)
def test_ff3_1_matches_ff3_package(
    radix: int, key: bytes, tweak: bytes, data: st.DataObject
) -> None:
    alphabet = BASE62[:radix]
    ours = FF3_1(key, radix, alphabet)
    length = data.draw(st.integers(ours.minlen, ours.maxlen))
    values = data.draw(
        st.lists(
            st.text(alphabet=alphabet, min_size=length, max_size=length), min_size=1, max_size=6
        )
    )
    reference = FF3Cipher.withCustomAlphabet(key.hex(), tweak.hex(), alphabet)
    assert ours.encrypt(values, tweak) == [reference.encrypt(v) for v in values]
