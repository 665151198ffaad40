"""The fast search primitives return exactly what the plain loops return."""

from __future__ import annotations

import random
import re

import pytest

from engine.discovery._buffer import SHAPE
from engine.discovery._detectors import DetectorRegistry
from engine.discovery._search import NUMPY_MIN, _plan, label_positions, shape_matches
from tests.engine.discovery.corpus import Corpus

_ALPHABET = b"0123456789    --..()+@_/:=\n\tAZaziIbBnNsSxX\xc3\xa9"
_WORDS = (
    b"iban", b"IBAN", b"ssn", b"social security", b"phone", b"tel", b"mobil", b"cell", b"fax",
    b"call", b"reach ", b"text me", b"dob", b"d.o.b", b"birth", b"born", b"geb", b"naissance",
    b"nacimiento", b"name", b"holder", b"card", b"4111 1111 1111 1111", b"4111111111111111",
    b"378282246310005", b"5555-5555-5555-4444", b"123-45-6789", b"+1 415 555 2671",
    b"(415) 555-2671", b"415-555-2671", b"415.555.2671", b"GB82 WEST 1234 5698 7654 32",
    b"DE89370400440532013000", b"1772352000123", b"2026-03-01T12:00:00.000Z", b"ssssn",
    b"namename", b"aaaa", b"0000 0000 0000 0000 0000 000", b"            ",
)  # fmt: skip


def _texts(seed: int, count: int) -> list[bytes]:
    rng = random.Random(seed)  # noqa: S311 - reproducible test data
    out = []
    for _ in range(count):
        parts = []
        for _ in range(rng.randint(0, 400)):
            if rng.random() < 0.3:
                parts.append(rng.choice(_WORDS))
            else:
                parts.append(bytes(rng.choice(_ALPHABET) for _ in range(rng.randint(1, 12))))
        out.append(b"".join(parts))
    return out


def _patterns() -> list[re.Pattern[bytes]]:
    pats = [p for det in DetectorRegistry.default() for p in det.patterns]
    extra = [rb"0{8,}", rb"AA00", rb"(?i)aa00", rb"[^a]{9}", rb"00(?=0{40})", rb"\(0", rb"x|y"]
    return pats + [re.compile(p) for p in extra]


def _spans(it: object) -> list[tuple[int, int]]:
    return [m.span() for m in it]  # type: ignore[attr-defined]


def test_plans_cover_every_strategy() -> None:
    plans = [_plan(p, SHAPE) for p in _patterns()]
    assert any(p.run_table is not None for p in plans)
    assert any(p.literal for p in plans)
    assert any(p.run_table is None and not p.literal for p in plans)


@pytest.mark.parametrize("seed", range(4))
def test_shape_matches_equal_finditer(seed: int) -> None:
    for buf in _texts(seed, 25):
        shape = buf.translate(SHAPE)
        for pattern in _patterns():
            want = _spans(pattern.finditer(shape))
            assert _spans(shape_matches(pattern, shape, buf, SHAPE)) == want, pattern.pattern


def _find_loop(lower: bytes, label: bytes) -> list[int]:
    out = []
    pos = lower.find(label)
    while pos != -1:
        out.append(pos)
        pos = lower.find(label, pos + len(label))
    return out


@pytest.mark.parametrize("seed", range(3))
def test_label_positions_equal_find_loops(seed: int) -> None:
    labels = (*(w.lower() for w in _WORDS[:22]), b"ss", b"nana", b"a", b"aaa", b"\xc3\xa9")
    small = _texts(seed, 5)
    big = [b"".join(_texts(seed + 10, 40)) * 3]
    assert len(big[0]) >= NUMPY_MIN
    for buf in small + big + [b"", b"i", b"iban", big[0] + b"iban"]:
        lower = buf.lower()
        got = label_positions(lower, labels)
        assert got == {lab: _find_loop(lower, lab) for lab in labels}


def test_corpus_matches_equal_plain_loops(corpus: Corpus) -> None:
    registry = DetectorRegistry.default()
    for path in sorted(corpus.root.rglob("*")):
        if not path.is_file():
            continue
        buf = path.read_bytes()
        shape = buf.translate(SHAPE)
        lower = buf.lower()
        for det in registry:
            for pattern in det.patterns:
                want = _spans(pattern.finditer(shape))
                assert _spans(shape_matches(pattern, shape, buf, SHAPE)) == want
            labels = det.CONTEXT if det.LABELS is None else det.LABELS
            assert label_positions(lower, labels) == {lab: _find_loop(lower, lab) for lab in labels}
