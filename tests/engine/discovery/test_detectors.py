from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from engine.discovery import Detector, DetectorRegistry, EntityKind, scan
from engine.discovery._detectors import PANDetector
from engine.keys import KeyMaterial
from engine.tokenize import Kind, tokenize_frame


def kinds(text: str) -> list[str]:
    return [f.kind.value for f in scan(text).findings]


@pytest.mark.parametrize(
    ("text", "expected"),
    [("card 4111 1111 1111 1111 exp 12/29", ["pan"]),
     ("card=4111-1111-1111-1111", ["pan"]),
     ("amex 3782 822463 10005 ok", ["pan"]),
     ("pan:4111111111111111|12/29", ["pan"]),
     ("order 4111111111111112 shipped", []),
     ("ts=1700000000000 id=550e8400-e29b-41d4-a716-446655440000", []),
     ("masked 411111******1111", []),
     ("IBAN DE89 3704 0044 0532 0130 00.", ["iban"]),
     ("iban de89370400440532013000", ["iban"]),
     ("bad DE88 3704 0044 0532 0130 00", []),
     ("ssn 123-45-6789", ["ssn"]), ("SSN: 123456789", ["ssn"]),
     ("ref 123456789", []), ("ssn 666-12-3456", []), ("id 900-12-3456", []),
     ("mail John.Doe@Example.COM now", ["email"]),
     ("GET /img/logo@2x.png", []), ("ops@localhost", []),
     ("sms +44 20 7946 0958 sent", ["phone"]), ("call (415) 555-2671", ["phone"]),
     ("Tel: 030 12345678", ["phone"]), ("+00:00 offset, +1 555", []),
     ("DOB: 1985-03-12", ["dob"]), ("date of birth 12 March 1985", ["dob"]),
     ("created: 1985-03-12", []), ("dob: 2999-01-01", []),
     ('{"full_name": "Jane Doe"}', ["name"]), ("my name is Peter van der Berg.", ["name"]),
     ('{"merchant": {"name": "Blue Bottle Coffee"}}', []), ('"username": "jdoe42"', []),
     ('"name": "checkout-api"', [])],
)  # fmt: skip
def test_text_detection(text: str, expected: list[str]) -> None:
    assert kinds(text) == expected


def test_finfeil_tokens_are_not_reported() -> None:
    key = {k: KeyMaterial(key_id=f"tokenize.{k.value}", version=1, secret=bytes(32)) for k in Kind}
    df = pd.DataFrame({
        "pan": ["4111111111111111", "5500000000000004", "378282246310005"],
        "iban": ["DE89370400440532013000", "GB82WEST12345698765432", "FR1420041010050500013M02606"],
        "id": ["C-1", "C-2", "C-3"],
    })  # fmt: skip
    tokens = tokenize_frame(df, {"pan": "pan", "iban": "iban", "id": "id"}, key).frame
    assert scan(tokens).findings == ()
    text = " ".join(str(v) for v in tokens.to_numpy().ravel())
    assert scan(text).findings == ()
    assert len(scan(df).findings) == 6  # the raw frame is found


def test_tokenized_columns_suppress_format_valid_kinds_only() -> None:
    df = pd.DataFrame({"ssn": ["123-45-6789"], "pan": ["4111111111111111"]})
    report = scan(df, tokenized_columns=["ssn", "pan"])
    assert [f.kind for f in report.findings] == [EntityKind.PAN]
    assert report.suppressed == 1


def test_columns_announce_kinds() -> None:
    df = pd.DataFrame({
        "customer_name": ["Ana Silva", "checkout"], "dob": ["19850312", "n/a"],
        "phone": ["030 1234567", "12"], "ssn": ["123456789", "123"], "notes": ["ok", "Ana Silva"],
    })  # fmt: skip
    found = {(f.column, f.row, f.kind.value) for f in scan(df).findings}
    assert found == {("customer_name", 0, "name"), ("dob", 0, "dob"), ("phone", 0, "phone"),
                     ("ssn", 0, "ssn")}  # fmt: skip


def test_json_paths_and_rows() -> None:
    doc = [{"customer": {"email": "a.b@example.com"}}, {"customer": {"name": "Jane Doe"}}]
    report = scan(doc)
    found = [(f.row, f.column) for f in report.findings]
    assert found == [(0, "$.customer.email"), (1, "$.customer.name")]


def test_registry_and_kinds_filter() -> None:
    reg = DetectorRegistry.default(today=dt.date(2026, 1, 1))
    assert len(reg) == 7
    assert isinstance(reg.get(EntityKind.PAN), PANDetector)
    assert kinds("ssn 123-45-6789 card 4111111111111111") == ["ssn", "pan"]
    only = scan("ssn 123-45-6789 card 4111111111111111", kinds=["pan"])
    assert [f.kind.value for f in only.findings] == ["pan"]
    with pytest.raises(TypeError):
        reg.register(object())  # type: ignore[arg-type]


def test_custom_detector() -> None:
    class BadgeDetector(Detector):
        KIND = EntityKind.NAME
        PATTERNS = (rb"AAA-0000",)

        def validate(self, value: str, *, labelled: bool) -> float | None:
            return 0.5 if value.startswith("EMP") else None

    report = scan("badge EMP-1234 and ABC-9999", registry=DetectorRegistry((BadgeDetector(),)))
    assert [(f.offset, f.confidence) for f in report.findings] == [(6, 0.5)]


def test_location_and_no_value_in_repr() -> None:
    report = scan("line one\nsecond line card 4111111111111111\n")
    (f,) = report.findings
    assert (f.line, f.offset, f.length) == (2, 17, 16)
    assert "4111111111111111" not in repr(report) + str(report.to_dict())
    with pytest.raises(TypeError):
        scan(42)


def test_a_detector_without_validate_cannot_be_instantiated() -> None:
    class Incomplete(Detector):
        KIND = EntityKind.PAN

    with pytest.raises(TypeError, match="validate"):
        Incomplete()  # type: ignore[abstract]
