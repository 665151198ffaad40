"""Known-answer tests: FF1 and FF3-1 against the 60 vectors in tests/vectors/."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from engine.tokenize._ff1 import FF1
from engine.tokenize._ff3 import FF3_1

_PATH = Path(__file__).resolve().parents[2] / "vectors" / "fpe_vectors.json.gz"


def _load() -> list[dict[str, Any]]:
    with gzip.open(_PATH, "rt", encoding="utf-8") as handle:
        vectors: list[dict[str, Any]] = json.load(handle)["vectors"]
    return vectors


VECTORS = _load()


def _cipher(vector: dict[str, Any]) -> FF1 | FF3_1:
    cls = FF1 if vector["mode"] == "FF1" else FF3_1
    return cls(bytes.fromhex(vector["key_hex"]), vector["radix"], vector["alphabet"])


def _ids(vector: dict[str, Any]) -> str:
    return f"{vector['mode']}-r{vector['radix']}-n{len(vector['plaintext'])}"


def test_vector_file_is_complete() -> None:
    assert len(VECTORS) == 60
    assert {v["mode"] for v in VECTORS} == {"FF1", "FF3-1"}


@pytest.mark.parametrize("vector", VECTORS, ids=[_ids(v) for v in VECTORS])
def test_encrypt_matches_vector(vector: dict[str, Any]) -> None:
    tweak = bytes.fromhex(vector["tweak_hex"])
    assert _cipher(vector).encrypt([vector["plaintext"]], tweak) == [vector["ciphertext"]]


@pytest.mark.parametrize("vector", VECTORS, ids=[_ids(v) for v in VECTORS])
def test_decrypt_matches_vector(vector: dict[str, Any]) -> None:
    tweak = bytes.fromhex(vector["tweak_hex"])
    assert _cipher(vector).decrypt([vector["ciphertext"]], tweak) == [vector["plaintext"]]


@pytest.mark.parametrize("vector", VECTORS, ids=[_ids(v) for v in VECTORS])
def test_numeral_api_matches_vector_in_a_batch(vector: dict[str, Any]) -> None:
    cipher = _cipher(vector)
    alphabet = vector["alphabet"]
    tweak = bytes.fromhex(vector["tweak_hex"])
    row = np.array([alphabet.index(ch) for ch in vector["plaintext"]], dtype=np.int64)
    expected = np.array([alphabet.index(ch) for ch in vector["ciphertext"]], dtype=np.int64)
    # The vector sits among other rows: batching must not change its result.
    rng = np.random.default_rng(7)
    batch = rng.integers(0, vector["radix"], size=(9, row.shape[0]))
    batch[4] = row
    out = cipher.encrypt_numerals(batch, tweak)
    np.testing.assert_array_equal(out[4], expected)
    np.testing.assert_array_equal(cipher.decrypt_numerals(out, tweak), batch)
