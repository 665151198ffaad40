"""Fast exact search primitives for the buffer scanner.

Both functions return exactly what the plain loops would (``re.finditer`` over the shape
buffer, repeated ``bytes.find`` per label); they only skip the text that cannot match:

* :func:`shape_matches` plans each pattern once from its parse tree. A pattern whose
  matches can only consist of a few non-letter shape bytes (a PAN: digits, space, dash)
  and are at least ``min_width`` long is run only inside runs of those bytes that are
  long enough (found with ``bytes.find``, which skips at memory speed); a pattern that
  starts with a literal is run only where ``bytes.find`` finds the literal; any other
  pattern runs as ``finditer``.
* :func:`label_positions` finds every label at once with numpy: a bigram table lookup over
  the buffer, then a 4-byte comparison at the few candidate positions.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from functools import lru_cache
from typing import Any, Final, NamedTuple

import numpy as np

__all__ = ["label_positions", "shape_matches"]

#: Below this many bytes the plain ``bytes.find`` loop is faster than numpy.
NUMPY_MIN: Final = 1 << 15
#: Longest lookahead a run-planned pattern may have (bytes looked at past a run's end).
_LOOKAHEAD_MAX: Final = 32
#: Shape bytes for letters: a pattern that can consume one is not run-planned.
_LETTER_SHAPES: Final = frozenset(b"Aa")
_MIN_RUN: Final = 8
#: After this many runs closer than ``_DENSE_GAP`` bytes apart on average, the rest of the
#: buffer runs as one ``finditer`` (per-run calls would cost more than they skip).
_DENSE_RUNS: Final = 32
_DENSE_GAP: Final = 2048


class _Plan(NamedTuple):
    literal: bytes  # literal prefix (find + match), or b""
    run_table: bytes | None  # raw byte -> 1 if its shape may occur in a match
    min_width: int


def _consumed(items: Any) -> set[int] | None:
    """Return every byte a parsed (sub)pattern can consume, or ``None`` if unbounded."""
    from re import _constants as c  # type: ignore[attr-defined]

    out: set[int] = set()
    for op, av in items:
        if op is c.LITERAL:
            out.add(av)
        elif op is c.IN:
            for sop, sav in av:
                if sop is c.LITERAL:
                    out.add(sav)
                elif sop is c.RANGE:
                    out.update(range(sav[0], sav[1] + 1))
                else:  # NEGATE, CATEGORY: too wide
                    return None
        elif op in (c.MAX_REPEAT, c.MIN_REPEAT, c.POSSESSIVE_REPEAT):
            sub = _consumed(av[2])
            if sub is None:
                return None
            out |= sub
        elif op is c.SUBPATTERN:
            sub = _consumed(av[3])
            if sub is None:
                return None
            out |= sub
        elif op is c.ATOMIC_GROUP:
            sub = _consumed(av)
            if sub is None:
                return None
            out |= sub
        elif op is c.BRANCH:
            for alt in av[1]:
                sub = _consumed(alt)
                if sub is None:
                    return None
                out |= sub
        elif op in (c.ASSERT, c.ASSERT_NOT):
            # Lookarounds consume nothing; a long lookahead would see past the run.
            if av[0] == 1 and av[1].getwidth()[1] > _LOOKAHEAD_MAX:
                return None
        elif op is c.AT:
            continue
        else:
            return None
    return out


@lru_cache(maxsize=256)
def _plan(pattern: re.Pattern[bytes], shape_table: bytes) -> _Plan:
    try:
        from re import _constants as c  # type: ignore[attr-defined]
        from re import _parser  # type: ignore[attr-defined]

        if pattern.flags & (re.IGNORECASE | re.VERBOSE) or not isinstance(pattern.pattern, bytes):
            return _Plan(b"", None, 0)
        parsed = _parser.parse(pattern.pattern, pattern.flags)
        literal = bytearray()
        for op, av in parsed:
            if op is not c.LITERAL:
                break
            literal.append(av)
        min_width = int(parsed.getwidth()[0])
        consumed = _consumed(parsed)
    except (ImportError, AttributeError, TypeError, ValueError, IndexError, re.error):
        # An unplannable pattern (private parser API changed) simply runs as finditer.
        return _Plan(b"", None, 0)
    # A literal of shape classes only ("0000") occurs everywhere: finding it gains nothing.
    strong_literal = len(literal) >= 2 and (
        len(literal) >= 6 or any(b not in b"0Aa" for b in literal)
    )
    if (
        not strong_literal
        and consumed is not None
        and not consumed & _LETTER_SHAPES
        and min_width >= _MIN_RUN
    ):
        table = bytes(1 if shape_table[b] in consumed else 0 for b in range(256))
        return _Plan(b"", table, min_width)
    if strong_literal:
        return _Plan(bytes(literal), None, min_width)
    return _Plan(b"", None, min_width)


_NOT_RUN: Final = re.compile(b"[^\x01]")


def shape_matches(
    pattern: re.Pattern[bytes], shape: bytes, buf: bytes, shape_table: bytes
) -> Iterator[re.Match[bytes]]:
    """Yield exactly ``pattern.finditer(shape)``, skipping text that cannot match.

    Args:
        pattern: A compiled bytes pattern meant for the shape buffer.
        shape: ``buf.translate(shape_table)``.
        buf: The raw buffer (run planning classifies raw bytes by their shape).
        shape_table: The byte translation that made ``shape``.
    """
    plan = _plan(pattern, shape_table)
    if plan.run_table is not None:
        runs = buf.translate(plan.run_table)
        needle = b"\x01" * plan.min_width
        size = len(shape)
        pos = runs.find(needle)
        seen = 0
        while pos != -1:
            seen += 1
            if seen > _DENSE_RUNS and pos < seen * _DENSE_GAP:
                # Runs are dense: one finditer from this run's start costs less. No match
                # starts before ``pos`` and reaches into it, so the result is the same.
                yield from pattern.finditer(shape, pos)
                return
            stop = _NOT_RUN.search(runs, pos + plan.min_width)
            end = size if stop is None else stop.start()
            for m in pattern.finditer(shape, pos, min(size, end + _LOOKAHEAD_MAX)):
                if m.start() >= end:
                    break
                yield m
            pos = runs.find(needle, end)
    elif plan.literal:
        literal = plan.literal
        pos = shape.find(literal)
        while pos != -1:
            found = pattern.match(shape, pos)
            if found is not None:
                yield found
                pos = shape.find(literal, found.end())
            else:
                pos = shape.find(literal, pos + 1)
    else:
        yield from pattern.finditer(shape)


def _find_all(lower: bytes, label: bytes) -> list[int]:
    out: list[int] = []
    pos = lower.find(label)
    while pos != -1:
        out.append(pos)
        pos = lower.find(label, pos + len(label))
    return out


def _code(data: bytes) -> int:
    return int.from_bytes(data[:4].ljust(4, b"\0"), "little")


def label_positions(lower: bytes, labels: tuple[bytes, ...]) -> dict[bytes, list[int]]:
    """Return, per label, the start of each non-overlapping occurrence in ``lower``.

    Same result as ``bytes.find`` from the end of the previous occurrence, label by label.
    """
    out: dict[bytes, list[int]] = {}
    wide = tuple(lab for lab in dict.fromkeys(labels) if len(lab) >= 2)
    if len(lower) < NUMPY_MIN or len(wide) < 2:
        return {lab: _find_all(lower, lab) for lab in labels}
    table = np.zeros(1 << 16, dtype=np.bool_)
    for lab in wide:
        table[lab[0] | lab[1] << 8] = True
    n = len(lower)
    even = np.frombuffer(lower, dtype="<u2", count=n // 2)
    odd = np.frombuffer(lower, dtype="<u2", offset=1, count=(n - 1) // 2)
    cand = np.concatenate(
        (np.flatnonzero(table[even]) * 2, np.flatnonzero(table[odd]) * 2 + 1)
    ).astype(np.int64)
    raw = np.frombuffer(lower + b"\0\0\0\0", dtype=np.uint8)
    code = (
        raw[cand].astype(np.uint32)
        | raw[cand + 1].astype(np.uint32) << 8
        | raw[cand + 2].astype(np.uint32) << 16
        | raw[cand + 3].astype(np.uint32) << 24
    )
    for lab in labels:
        if lab in out:
            continue
        if len(lab) < 2:
            out[lab] = _find_all(lower, lab)
            continue
        width = min(len(lab), 4)
        mask = (1 << (8 * width)) - 1
        hits = sorted(cand[(code & np.uint32(mask)) == np.uint32(_code(lab) & mask)].tolist())
        keep: list[int] = []
        nxt = 0
        for pos in hits:
            if pos >= nxt and (width == len(lab) or lower.startswith(lab, pos)):
                keep.append(pos)
                nxt = pos + len(lab)
        out[lab] = keep
    return out
