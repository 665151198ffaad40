"""Guards against joining or grouping deterministic tokens made under different key versions."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from engine.errors import KeyVersionMismatch

__all__ = ["check_groupable", "check_joinable"]


class _Protection(Protocol):
    """What a dataset records per tokenized column (e.g. ``ColumnProtection``)."""

    @property
    def key_id(self) -> str: ...

    @property
    def key_version(self) -> int: ...


#: Column name -> key version, or the column's protection record (an object with
#: ``key_id`` and ``key_version``, or a manifest's ``protection`` mapping entry).
ColumnVersions = Mapping[str, int | _Protection | Mapping[str, Any]]


def check_joinable(
    left_versions: ColumnVersions, right_versions: ColumnVersions, on: Sequence[str]
) -> None:
    """Refuse a join on ``on`` unless each column's tokens use the same key and version.

    Deterministic tokens of one value under two key versions differ, so such a join would
    silently return no matches; it raises instead. A column tokenized on one side only is
    refused too (tokens never equal raw values). Columns tokenized on neither side pass.

    Args:
        left_versions: Per column of the left dataset, its key version (from its manifest).
        right_versions: The same for the right dataset.
        on: The join columns.

    Raises:
        KeyVersionMismatch: Naming the column and both key versions (never a value).

    Example:
        >>> check_joinable({"pan": 2}, {"pan": 2, "iban": 1}, on=["pan"])
        >>> check_joinable({"pan": 1}, {"pan": 2}, on=["pan"])
        Traceback (most recent call last):
        ...
        engine.errors.KeyVersionMismatch: cannot join on column 'pan': left tokens use key version 1, right tokens use key version 2; retokenize one side first
    """  # noqa: E501
    check_groupable([left_versions, right_versions], by=on, verb="join", names=("left", "right"))


def check_groupable(
    parts: Sequence[ColumnVersions],
    by: Sequence[str],
    *,
    verb: str = "group by",
    names: Sequence[str] | None = None,
) -> None:
    """Refuse a group-by (or union) on ``by`` over ``parts`` made under different key versions.

    Args:
        parts: Per dataset combined, its column key versions.
        by: The grouping columns.
        verb: The operation, for the message.
        names: Names of the parts for the message (default ``part 0``, ``part 1``, ...).

    Raises:
        KeyVersionMismatch: Naming the column and the key versions that differ.
    """
    if isinstance(by, str):
        raise TypeError("by must be a sequence of column names, not a string")
    labels = list(names) if names is not None else [f"part {i}" for i in range(len(parts))]
    if len(labels) != len(parts):
        raise ValueError("names must name every part")
    for column in by:
        seen = [(label, _key_of(part, column)) for label, part in zip(labels, parts, strict=True)]
        tokenized = [key for _, key in seen if key is not None]
        key_ids = {key_id for key_id, _ in tokenized if key_id is not None}
        versions = {version for _, version in tokenized}
        if not tokenized or (
            len(tokenized) == len(seen) and len(key_ids) <= 1 and len(versions) == 1
        ):
            continue
        described = ", ".join(f"{label} tokens {_describe(key)}" for label, key in seen)
        raise KeyVersionMismatch(
            f"cannot {verb} on column {column!r}: {described}; retokenize one side first"
        )


def _key_of(part: ColumnVersions, column: str) -> tuple[str | None, int] | None:
    if column not in part:
        return None
    value = part[column]
    if isinstance(value, bool):
        raise TypeError(f"column {column!r}: key version must be an int")
    if isinstance(value, int):
        return None, value
    if isinstance(value, Mapping):
        key_id, version = value.get("key_id"), value.get("key_version")
    else:
        key_id, version = value.key_id, value.key_version
    if type(version) is not int:
        raise TypeError(f"column {column!r}: the protection record has no integer key_version")
    return (str(key_id) if key_id is not None else None), version


def _describe(key: tuple[str | None, int] | None) -> str:
    if key is None:
        return "are not tokenized"
    key_id, version = key
    return f"use {'key ' + key_id + ' ' if key_id else 'key '}version {version}"
