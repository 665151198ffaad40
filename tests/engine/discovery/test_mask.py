from __future__ import annotations

import pytest

from engine.discovery import EntityKind, mask


@pytest.mark.parametrize(
    ("kind", "value", "preview"),
    [(EntityKind.PAN, "4111 1111 1111 1111", "411111******1111"),
     (EntityKind.PAN, "4222222222222", "422******2222"),
     (EntityKind.SSN, "123-45-6789", "***-**-6789"),
     (EntityKind.IBAN, "DE89 3704 0044 0532 0130 00", "DE****************3000"),
     (EntityKind.EMAIL, "john.doe@example.com", "j***@e***.com"),
     (EntityKind.EMAIL, "al@ab.io", "****@****.io"),
     (EntityKind.PHONE, "+1 415 555 2671", "+* *** *** **71"),
     (EntityKind.DOB, "12.03.1985", "**.**.****"),
     (EntityKind.NAME, "Jane Doe", "J*** D***")],
)  # fmt: skip
def test_previews(kind: EntityKind, value: str, preview: str) -> None:
    assert mask(kind, value) == preview
    assert value not in mask(kind, value)


def test_short_pan_hides_at_least_six_digits() -> None:
    preview = mask(EntityKind.PAN, "501800000000")  # 12-digit Maestro
    assert preview.count("*") >= 6
