"""The hazmat module exposes exactly the raw ciphers."""

from __future__ import annotations

from engine.tokenize import hazmat
from engine.tokenize._ff1 import FF1
from engine.tokenize._ff3 import FF3_1


def test_hazmat_exports_the_raw_ciphers() -> None:
    assert hazmat.__all__ == ["FF1", "FF3_1"]
    assert hazmat.FF1 is FF1
    assert hazmat.FF3_1 is FF3_1
    assert hazmat.__doc__ is not None
    assert hazmat.__doc__.startswith("Hazardous:")
    for cls in (FF1, FF3_1):
        assert cls.__doc__ is not None
        assert cls.__doc__.startswith("Hazardous:")
