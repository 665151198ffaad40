from __future__ import annotations

import numpy as np
import pytest
import tenseal as ts
import tenseal.sealapi as seal

from engine.errors import DecryptionError, HEError, IntegrityError, ParameterError, ScaleExhausted
from engine.he import CKKSKeys, CKKSParams, PublicContext


def _one_level(keys: CKKSKeys, value: float) -> float:
    # Encrypt a constant vector, multiply by 1 and rescale to the last level, then decrypt.
    backend = keys._backend
    ct = backend.encrypt(np.full(backend.slot_count, value))
    one = backend.encode_constant(1.0, like=ct, scale=backend.scale)
    last = backend.rescale(backend.multiply_plain(ct, one))
    return float(backend.decrypt(last, complex_slots=False)[0])


def test_the_value_limit_is_where_ckks_really_wraps(keys: CKKSKeys) -> None:
    # Raw SEAL/TenSEAL gives no error beyond the range: the value silently wraps (1e6 comes
    # back negative). This pins the limit the engine enforces to that real boundary.
    limit = keys.params.value_limit
    assert _one_level(keys, 0.999 * limit) == pytest.approx(0.999 * limit, abs=1e-4)
    assert _one_level(keys, 1e6) < 0
    assert _one_level(keys, 2**19 * 1.01) != pytest.approx(2**19 * 1.01, abs=1.0)


def test_more_values_than_slots_is_refused(public: PublicContext) -> None:
    backend = public._backend
    with pytest.raises(ParameterError, match="at most 4096 values"):
        backend.encrypt(np.zeros(backend.slot_count + 1))


def test_public_backend_cannot_decrypt(public: PublicContext) -> None:
    backend = public._backend
    assert not backend.can_decrypt
    ct = backend.encrypt(np.ones(4))
    with pytest.raises(HEError, match="no secret key"):
        backend.decrypt(ct, complex_slots=False)


def test_save_load_and_garbage(keys: CKKSKeys, public: PublicContext) -> None:
    backend = public._backend
    ct = backend.encrypt(np.arange(5.0))
    again = backend.load(backend.save(ct))
    got = keys._backend.decrypt(again, complex_slots=False)[:5]
    np.testing.assert_allclose(got, np.arange(5.0), atol=1e-7)
    with pytest.raises(IntegrityError, match="malformed"):
        backend.load(b"\x00" * 64)


def test_rescale_at_last_level_and_multiply_without_relin(public: PublicContext) -> None:
    backend = public._backend
    ct = backend.encrypt(np.ones(3))
    last = backend.rescale(backend.multiply_plain(ct, backend.encode_constant(2.0, like=ct)))
    with pytest.raises(ScaleExhausted, match="last level"):
        backend.rescale(last)
    with pytest.raises(ParameterError, match="relin"):
        backend.multiply(ct, ct)


def test_flat_chain_has_no_level() -> None:
    flat = CKKSParams(
        name="flat", poly_modulus_degree=8192, coeff_mod_bit_sizes=(60, 60), scale_bits=40
    )
    keys = CKKSKeys.generate(flat)
    assert keys.public_context()._backend.first_level == 0


def test_seal_rejection_is_a_parameter_error(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise ValueError("encryption parameters are not set correctly")

    monkeypatch.setattr(ts, "context", refuse)
    with pytest.raises(ParameterError, match="SEAL rejected"):
        CKKSKeys.generate()


def test_unrelinearized_ciphertexts_are_refused_on_load(deep_keys: CKKSKeys) -> None:
    backend = deep_keys.public_context()._backend
    ct = backend.encrypt(np.ones(4))
    three = seal.Ciphertext()
    backend._evaluator.multiply(ct, ct, three)  # size 3: no relinearization
    with pytest.raises(IntegrityError, match="unexpected shape"):
        backend.load(backend.save(three))


def test_decrypting_a_foreign_ciphertext_is_a_decryption_error(
    keys: CKKSKeys, deep_keys: CKKSKeys
) -> None:
    ct = deep_keys.public_context()._backend.encrypt(np.ones(4))
    with pytest.raises(DecryptionError):
        keys._backend.decrypt(ct, complex_slots=False)
