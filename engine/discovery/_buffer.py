"""Scan one byte buffer: shape-buffer patterns, raw candidates, labels; validate candidates."""

from __future__ import annotations

from typing import Final, NamedTuple

from engine.discovery._detectors import Detector, DetectorRegistry, NameDetector
from engine.discovery._finding import EntityKind
from engine.discovery._search import label_positions, shape_matches

__all__ = ["SHAPE", "Hit", "kinds_for_label", "scan_buffer"]


def _shape_table() -> bytes:
    table = bytearray(range(256))
    for c in b"0123456789":
        table[c] = ord("0")
    for c in range(ord("A"), ord("Z") + 1):
        table[c] = ord("A")
    for c in range(ord("a"), ord("z") + 1):
        table[c] = ord("a")
    for c in range(0x80, 0x100):
        table[c] = ord("a")
    return bytes(table)


#: Byte translation to the shape alphabet: digits -> "0", A-Z -> "A", a-z and non-ASCII -> "a".
SHAPE: Final = _shape_table()


class Hit(NamedTuple):
    """A validated value: byte span in the scanned buffer (never the value itself)."""

    kind: EntityKind
    start: int
    end: int
    confidence: float
    detector: str


def kinds_for_label(label: str) -> frozenset[EntityKind]:
    """Return the kinds a column header or JSON key announces (``dob`` -> DOB, ...)."""
    low = label.lower()
    key = "".join(ch for ch in low if ch.isalnum())
    out: set[EntityKind] = set()
    if any(w in low for w in ("dob", "d.o.b", "birth", "geboren", "geburt", "naissance")):
        out.add(EntityKind.DOB)
    if key in ("ssn", "socialsecuritynumber", "socialsecurity", "taxid") or low.endswith("ssn"):
        out.add(EntityKind.SSN)
    if any(w in key for w in ("phone", "mobile", "cell", "fax", "telephone", "telefon")) or key in (
        "tel",
        "msisdn",
    ):
        out.add(EntityKind.PHONE)
    if NameDetector.is_person_key(key):
        out.add(EntityKind.NAME)
    return frozenset(out)


def scan_buffer(
    buf: bytes,
    registry: DetectorRegistry,
    *,
    column_kinds: frozenset[EntityKind] = frozenset(),
) -> list[Hit]:
    r"""Return the validated hits in ``buf``, overlaps resolved, sorted by position.

    Args:
        buf: UTF-8 (or ASCII-compatible 8-bit) text. For a table column, the cells joined
            by ``\\n`` (cells must not contain newlines).
        registry: The detectors to run.
        column_kinds: Kinds the column header announces: their detectors then check every
            cell as a labelled value.
    """
    shape = buf.translate(SHAPE)
    hits: list[Hit] = []
    labelled = [
        det
        for det in registry
        if (det.labelled is not None or isinstance(det, NameDetector))
        and det.KIND not in column_kinds
    ]
    lower = buf.lower() if labelled else b""
    labels = tuple(lab for det in labelled for lab in _labels(det))
    found = label_positions(lower, labels) if labels else {}
    for det in registry:
        _pattern_hits(det, buf, shape, column_kinds, hits)
        if det.labelled is None and not isinstance(det, NameDetector):
            continue
        if det.KIND in column_kinds:
            _column_hits(det, buf, hits)
        else:
            _label_hits(det, buf, lower, found, hits)
    return _resolve(hits)


def _labels(det: Detector) -> tuple[bytes, ...]:
    return det.CONTEXT if det.LABELS is None else det.LABELS


def _pattern_hits(
    det: Detector, buf: bytes, shape: bytes, column_kinds: frozenset[EntityKind], hits: list[Hit]
) -> None:
    spans: list[tuple[int, int]] = []
    for pattern in det.patterns:
        for m in shape_matches(pattern, shape, buf, SHAPE):
            span = det.refine(buf, m.start(), m.end())
            if span is not None:
                spans.append(span)
    spans.extend(det.raw_candidates(buf))
    name = type(det).__name__
    for start, end in spans:
        conf = det.validate(buf[start:end].decode("utf-8", "replace"), labelled=False)
        if conf is None:
            continue
        if det.CONTEXT and conf < det.CONTEXT_CONFIDENCE:
            window = buf[max(0, start - det.CONTEXT_WINDOW) : start].lower()
            if det.KIND in column_kinds or any(label in window for label in det.CONTEXT):
                conf = det.CONTEXT_CONFIDENCE
        hits.append(Hit(det.KIND, start, end, conf, name))


def _column_hits(det: Detector, buf: bytes, hits: list[Hit]) -> None:
    name = type(det).__name__
    pos = 0
    for cell in buf.split(b"\n"):
        if isinstance(det, NameDetector):
            stripped = cell.strip()
            if stripped:
                conf = det.validate(stripped.decode("utf-8", "replace"), labelled=True)
                if conf is not None:
                    start = pos + cell.index(stripped)
                    hits.append(Hit(det.KIND, start, start + len(stripped), 0.95, name))
        elif det.labelled is not None and cell:
            for m in det.labelled.finditer(buf, pos, pos + len(cell)):
                conf = det.validate(m.group(1).decode("utf-8", "replace"), labelled=True)
                if conf is not None:
                    hits.append(Hit(det.KIND, m.start(1), m.end(1), max(conf, 0.95), name))
        pos += len(cell) + 1


def _label_hits(
    det: Detector, buf: bytes, lower: bytes, at: dict[bytes, list[int]], hits: list[Hit]
) -> None:
    name = type(det).__name__
    for label in _labels(det):
        for pos in at[label]:
            end = pos + len(label)
            if det.label_ok(lower, pos, end):
                if isinstance(det, NameDetector):
                    found = det.scan_label(buf, lower, pos, end)
                    if found is not None:
                        hits.append(Hit(det.KIND, found[0], found[1], found[2], name))
                elif det.labelled is not None:
                    _labelled_value(det, buf, end, hits, name)


def _labelled_value(det: Detector, buf: bytes, end: int, hits: list[Hit], name: str) -> None:
    m = det.labelled.match(buf, end) if det.labelled is not None else None
    if m is None:
        return
    span: tuple[int, int] | None = (m.start(1), m.end(1))
    if span is not None and det.REFINE_LABELLED:
        span = det.refine(buf, *span)
    if span is None:
        return
    conf = det.validate(buf[span[0] : span[1]].decode("utf-8", "replace"), labelled=True)
    if conf is not None:
        hits.append(Hit(det.KIND, span[0], span[1], conf, name))


def _resolve(hits: list[Hit]) -> list[Hit]:
    """Drop duplicates and overlaps, keeping the more confident (then longer) hit."""
    hits.sort(key=lambda h: (h.start, -h.confidence, h.start - h.end))
    kept: list[Hit] = []
    for hit in hits:
        if kept and hit.start < kept[-1].end:
            last = kept[-1]
            if (hit.confidence, hit.end - hit.start) > (last.confidence, last.end - last.start):
                kept[-1] = hit
            continue
        kept.append(hit)
    return kept
