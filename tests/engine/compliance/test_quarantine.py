import pytest
from hypothesis import given
from hypothesis import strategies as st

from engine.compliance import decrypt_records, encrypt_records
from engine.errors import DecryptionError
from engine.keys import KeyMaterial

KEY = KeyMaterial(key_id="quarantine", version=1, secret=bytes(range(32)))
OTHER = KeyMaterial(key_id="quarantine", version=2, secret=bytes(32))


@given(st.lists(st.dictionaries(st.text(), st.one_of(st.text(), st.integers(), st.none()))))
def test_round_trip(records: list[dict[str, object]]) -> None:
    rows = list(range(len(records)))
    blobs = encrypt_records(records, rows, KEY, context="job-1")
    assert decrypt_records(blobs, rows, KEY, context="job-1") == records


def test_blob_holds_no_plaintext_and_is_randomized() -> None:
    record = {"ssn": "123-45-6789"}
    a, b = encrypt_records([record, record], [0, 0], KEY, context="j")
    assert b"123-45-6789" not in a
    assert a != b


@pytest.mark.parametrize("change", ["key", "row", "job", "byte", "version", "truncate"])
def test_tampering_and_wrong_context_fail(change: str) -> None:
    (blob,) = encrypt_records([{"name": "Ann"}], [7], KEY, context="j")
    key, row, job = KEY, 7, "j"
    if change == "key":
        key = OTHER
    elif change == "row":
        row = 8
    elif change == "job":
        job = "k"
    elif change == "byte":
        blob = blob[:20] + bytes([blob[20] ^ 1]) + blob[21:]
    elif change == "version":
        blob = b"\x09" + blob[1:]
    else:
        blob = blob[:10]
    with pytest.raises(DecryptionError) as info:
        decrypt_records([blob], [row], key, context=job)
    assert "Ann" not in str(info.value)
