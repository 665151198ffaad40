from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from enclaves.sealing import (
    SEALED_FORMAT_VERSION,
    SealingKeys,
    SealPolicy,
    derive_sealing_keys,
    seal,
    unseal,
)
from engine.errors import SealingError

SECRET = bytes(range(32))
SIGNER = b"s" * 32


def keys(
    *,
    measurement: bytes = b"m" * 32,
    svn: int = 3,
    debug: bool = False,
    secret: bytes = SECRET,
    signer: bytes = SIGNER,
    product_id: int = 7,
) -> SealingKeys:
    return derive_sealing_keys(
        secret,
        measurement=measurement,
        signer_id=signer,
        product_id=product_id,
        svn=svn,
        is_debug=debug,
    )


@settings(max_examples=25, deadline=None)
@given(data=st.binary(max_size=2048), policy=st.sampled_from(list(SealPolicy)))
def test_seal_round_trip(data: bytes, policy: SealPolicy) -> None:
    k = keys()
    blob = seal(data, keys=k, policy=policy)
    assert blob[0] == SEALED_FORMAT_VERSION
    assert unseal(blob, keys=k) == data


def test_keys_are_not_in_repr() -> None:
    k = keys()
    assert k.measurement_key.hex() not in repr(k)
    assert "signer_chain_key" not in repr(k)


def test_other_measurement_needs_migration() -> None:
    blob = seal(b"state", keys=keys(measurement=b"m" * 32))
    with pytest.raises(SealingError, match="migration required"):
        unseal(blob, keys=keys(measurement=b"n" * 32))


def test_signer_policy_survives_upgrade_but_not_downgrade() -> None:
    old, new = keys(measurement=b"1" * 32, svn=3), keys(measurement=b"2" * 32, svn=5)
    assert unseal(seal(b"v3", keys=old, policy=SealPolicy.SIGNER), keys=new) == b"v3"
    blob = seal(b"v5", keys=new, policy=SealPolicy.SIGNER)
    with pytest.raises(SealingError, match="SVN >= 5"):
        unseal(blob, keys=old)


@pytest.mark.parametrize(
    "other", [{"signer": b"t" * 32}, {"product_id": 8}], ids=["signer", "product"]
)
def test_signer_policy_bound_to_signer_and_product(other: dict[str, object]) -> None:
    blob = seal(b"x", keys=keys(), policy=SealPolicy.SIGNER)
    with pytest.raises(SealingError, match="another signer or product"):
        unseal(blob, keys=keys(**other))  # type: ignore[arg-type]


@pytest.mark.parametrize("policy", list(SealPolicy))
def test_debug_enclave_cannot_unseal_production_data(policy: SealPolicy) -> None:
    blob = seal(b"prod", keys=keys(debug=False), policy=policy)
    with pytest.raises(SealingError, match="debug enclaves cannot unseal"):
        unseal(blob, keys=keys(debug=True))
    debug_blob = seal(b"dbg", keys=keys(debug=True), policy=policy)
    with pytest.raises(SealingError, match="sealed by a debug enclave"):
        unseal(debug_blob, keys=keys(debug=False))


def test_debug_flag_flipped_in_header_fails_authentication() -> None:
    blob = bytearray(seal(b"prod", keys=keys(debug=False)))
    blob[2] = 1
    with pytest.raises(SealingError, match="authentication"):
        unseal(bytes(blob), keys=keys(debug=True))


def test_other_platform_secret_fails_authentication() -> None:
    blob = seal(b"x", keys=keys())
    with pytest.raises(SealingError, match="authentication"):
        unseal(blob, keys=keys(secret=b"z" * 32))


@pytest.mark.parametrize("index", [5, 40, -1])
def test_tampered_blob_is_refused(index: int) -> None:
    blob = bytearray(seal(b"some state", keys=keys(), policy=SealPolicy.SIGNER))
    blob[index] ^= 1
    with pytest.raises(SealingError):
        unseal(bytes(blob), keys=keys())


@pytest.mark.parametrize(
    ("blob", "message"),
    [
        (b"\x01" * 10, "truncated"),
        (b"\x02" + b"\x00" * 80, "format version"),
        (b"\x01\x09" + b"\x00" * 80, "unknown sealing policy"),
    ],
)
def test_malformed_blobs(blob: bytes, message: str) -> None:
    with pytest.raises(SealingError, match=message):
        unseal(blob, keys=keys())


def test_derive_validates_inputs() -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        keys(secret=b"short")
    with pytest.raises(ValueError, match="svn"):
        keys(svn=70_000)
    with pytest.raises(ValueError, match="32 bytes"):
        keys(measurement=b"short")
