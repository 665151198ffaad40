from __future__ import annotations

import pytest

from engine.errors import ParameterError
from engine.he import CKKSParams
from engine.he._params import SECURITY_128_MAX_LOG_Q


def test_presets_are_128_bit_secure_and_documented_depths() -> None:
    default, deep = CKKSParams.DEFAULT, CKKSParams.LOGISTIC
    assert (default.poly_modulus_degree, default.log_q, default.depth) == (8192, 160, 1)
    assert default.log_q <= SECURITY_128_MAX_LOG_Q[8192] == 218
    assert (deep.poly_modulus_degree, deep.log_q, deep.depth) == (16384, 360, 6)
    assert deep.log_q <= SECURITY_128_MAX_LOG_Q[16384] == 438
    assert default.slot_count == 4096
    assert deep.slot_count == 8192
    # 2^19 minus the 1/64 margin: 1e6 is out, 5e5 is in.
    assert 500_000 < default.value_limit < 2**19 < 1e6
    assert default.expected_error < 1e-7


def test_log_q_beyond_the_standard_is_rejected() -> None:
    with pytest.raises(ParameterError, match="exceeds 218"):
        CKKSParams(
            name="x",
            poly_modulus_degree=8192,
            coeff_mod_bit_sizes=(60, 40, 40, 40, 60),
            scale_bits=40,
        )


def test_scale_too_small_for_the_precision_asked() -> None:
    with pytest.raises(ParameterError, match="above atol"):
        CKKSParams(
            name="x", poly_modulus_degree=8192, coeff_mod_bit_sizes=(40, 25, 40), scale_bits=25
        )
    # The same chain is fine when less precision is asked for.
    p = CKKSParams(
        name="x",
        poly_modulus_degree=8192,
        coeff_mod_bit_sizes=(40, 25, 40),
        scale_bits=25,
        atol=1e-3,
    )
    assert p.expected_error <= 1e-3


@pytest.mark.parametrize(
    ("degree", "sizes", "scale", "match"),
    [
        (3000, (60, 40, 60), 40, "poly_modulus_degree"),
        (8192, (60,), 40, "at least two"),
        (8192, (60, 61, 60), 40, "20 to 60"),
        (8192, (60, 30, 60), 40, "middle prime"),
        (8192, (60, 40, 50), 40, "special"),
        (8192, (42, 40, 60), 40, "first prime"),
    ],
)
def test_invalid_chains(degree: int, sizes: tuple[int, ...], scale: int, match: str) -> None:
    with pytest.raises(ParameterError, match=match):
        CKKSParams(
            name="x", poly_modulus_degree=degree, coeff_mod_bit_sizes=sizes, scale_bits=scale
        )


def test_atol_must_be_positive() -> None:
    with pytest.raises(ParameterError, match="atol"):
        CKKSParams(
            name="x",
            poly_modulus_degree=8192,
            coeff_mod_bit_sizes=(60, 40, 60),
            scale_bits=40,
            atol=0,
        )


def test_json_round_trip_and_malformed() -> None:
    assert CKKSParams.from_json(CKKSParams.LOGISTIC.to_json()) == CKKSParams.LOGISTIC
    with pytest.raises(ParameterError, match="malformed"):
        CKKSParams.from_json('{"name": "x"}')
    with pytest.raises(ParameterError, match="exceeds"):
        CKKSParams.from_json(
            '{"name":"x","poly_modulus_degree":4096,"coeff_mod_bit_sizes":[60,40,60],'
            '"scale_bits":40,"atol":1e-6}'
        )
