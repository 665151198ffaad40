"""Typed request bodies of the sidecar, validated from parsed JSON.

SECURITY: validation messages name the field and index, never a value.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from engine.errors import ConfigError, InputError
from engine.tokenize import FormatOptions, Kind, Scheme

__all__ = [
    "OPTION_FIELDS",
    "ApproveBody",
    "ColumnBody",
    "DetokenizeBody",
    "RecordsBody",
    "ScanBody",
    "dataset_digest",
    "parse_approve",
    "parse_detokenize",
    "parse_scan",
    "parse_tokenize",
]

#: FormatOptions fields a request may set, with their JSON types.
OPTION_FIELDS: dict[str, type] = {
    "scheme": str,
    "tweak_label": str,
    "allow_missing": bool,
    "pan_keep_first": int,
    "pan_keep_last": int,
    "pan_luhn_valid": bool,
    "iban_valid_check_digits": bool,
    "email_tokenize_domain": bool,
    "date_format": str,
    "date_keep_year": bool,
}
_KINDS = {k.value for k in Kind}


@dataclass(frozen=True, slots=True, kw_only=True)
class ColumnBody:
    """One column of values of one kind (the column form)."""

    kind: Kind
    column: str
    values: tuple[str | None, ...] = field(repr=False)
    options: FormatOptions


@dataclass(frozen=True, slots=True, kw_only=True)
class RecordsBody:
    """Records (JSON objects) with named PII fields (the records form)."""

    pii: Mapping[str, Kind]
    records: tuple[Mapping[str, Any], ...] = field(repr=False)
    options: FormatOptions


@dataclass(frozen=True, slots=True, kw_only=True)
class DetokenizeBody:
    """A column of tokens to turn back into values, with the policy fields."""

    column: ColumnBody
    purpose: str
    justification: str = field(repr=False)
    dataset_id: str | None
    key_version: int | None


@dataclass(frozen=True, slots=True, kw_only=True)
class ApproveBody:
    """Another principal's detokenization request to approve (fields as it will send them)."""

    principal: str
    kind: str
    rows: int
    purpose: str
    justification: str = field(repr=False)
    dataset_id: str
    key_version: int | None


@dataclass(frozen=True, slots=True, kw_only=True)
class ScanBody:
    """Text or a JSON document to scan for identifiers in clear."""

    target: Any = field(repr=False)
    kinds: tuple[str, ...] | None
    min_confidence: float


def _object(data: Any, allowed: set[str], required: set[str]) -> Mapping[str, Any]:
    if not isinstance(data, dict):
        raise InputError("body must be a JSON object")
    extra = sorted(set(data) - allowed)
    if extra:
        raise InputError(f"body has unknown field(s) {extra}")
    missing = sorted(required - set(data))
    if missing:
        raise InputError(f"body lacks field(s) {missing}")
    return data


def _str(data: Mapping[str, Any], name: str, *, max_len: int = 128) -> str:
    value = data[name]
    if not isinstance(value, str) or not 0 < len(value) <= max_len:
        raise InputError(f"field {name!r} must be a non-empty string of at most {max_len}")
    return value


def _kind(value: Any, where: str) -> Kind:
    if not isinstance(value, str) or value not in _KINDS:
        raise InputError(f"{where} must be one of {sorted(_KINDS)}")
    return Kind(value)


def _options(data: Mapping[str, Any]) -> FormatOptions:
    raw = data.get("options", {})
    if not isinstance(raw, dict):
        raise InputError("field 'options' must be an object")
    kwargs: dict[str, Any] = {}
    for name, value in raw.items():
        want = OPTION_FIELDS.get(name)
        if want is None:
            raise InputError(f"options has unknown field {name!r}")
        if type(value) is not want:
            raise InputError(f"options.{name} must be of JSON type {want.__name__}")
        kwargs[name] = value
    if "scheme" in kwargs:
        try:
            kwargs["scheme"] = Scheme(kwargs["scheme"])
        except ValueError:
            raise InputError(f"options.scheme must be one of {[s.value for s in Scheme]}") from None
    try:
        return FormatOptions(**kwargs)
    except ConfigError as exc:
        raise InputError(f"options: {exc}") from None


def _values(data: Mapping[str, Any], *, max_values: int) -> tuple[str | None, ...]:
    values = data["values"]
    if not isinstance(values, list) or not values:
        raise InputError("field 'values' must be a non-empty array")
    if len(values) > max_values:
        raise InputError(f"field 'values' has more than {max_values} items")
    for i, value in enumerate(values):
        if value is not None and not isinstance(value, str):
            raise InputError(f"values[{i}] must be a string or null")
    return tuple(values)


_COLUMN = {"kind", "column", "values", "options"}


def _column(data: Mapping[str, Any], *, max_values: int) -> ColumnBody:
    return ColumnBody(
        kind=_kind(data["kind"], "field 'kind'"),
        column=_str(data, "column"),
        values=_values(data, max_values=max_values),
        options=_options(data),
    )


def parse_tokenize(data: Any, *, max_values: int) -> ColumnBody | RecordsBody:
    """Validate a ``POST /v1/tokenize`` body (column form or records form).

    Raises:
        InputError: The body does not match the schema (the message names the field).
    """
    if isinstance(data, dict) and "records" in data:
        body = _object(data, {"pii", "records", "options"}, {"pii", "records"})
        pii = body["pii"]
        if not isinstance(pii, dict) or not pii:
            raise InputError("field 'pii' must be a non-empty object of field name to kind")
        kinds = {name: _kind(kind, "pii values") for name, kind in pii.items()}
        records = body["records"]
        if not isinstance(records, list) or not records or len(records) > max_values:
            raise InputError(f"field 'records' must be an array of 1 to {max_values} objects")
        for i, record in enumerate(records):
            if not isinstance(record, dict):
                raise InputError(f"records[{i}] must be an object")
        return RecordsBody(pii=kinds, records=tuple(records), options=_options(body))
    return _column(_object(data, _COLUMN, {"kind", "column", "values"}), max_values=max_values)


def parse_detokenize(data: Any, *, max_values: int) -> DetokenizeBody:
    """Validate a ``POST /v1/detokenize`` body.

    Raises:
        InputError: The body does not match the schema.
    """
    allowed = _COLUMN | {"purpose", "justification", "dataset_id", "key_version"}
    body = _object(data, allowed, {"kind", "column", "values", "purpose", "justification"})
    column = _column(body, max_values=max_values)
    if any(v is None for v in column.values):
        raise InputError("field 'values' must hold only strings (tokens)")
    justification = body["justification"]
    if not isinstance(justification, str) or len(justification) > 1000:
        raise InputError("field 'justification' must be a string of at most 1000")
    return DetokenizeBody(
        column=column,
        purpose=_str(body, "purpose"),
        justification=justification,
        dataset_id=_dataset(body),
        key_version=_version(body),
    )


def parse_approve(data: Any) -> ApproveBody:
    """Validate a ``POST /v1/approve`` body.

    Raises:
        InputError: The body does not match the schema.
    """
    fields = {"principal", "kind", "rows", "purpose", "justification", "dataset_id"}
    body = _object(data, fields | {"key_version"}, fields)
    rows = body["rows"]
    if type(rows) is not int or rows < 1:
        raise InputError("field 'rows' must be a positive integer")
    justification = body["justification"]
    if not isinstance(justification, str) or len(justification) > 1000:
        raise InputError("field 'justification' must be a string of at most 1000")
    dataset = _dataset(body)
    if dataset is None:  # pragma: no cover - required above
        raise InputError("field 'dataset_id' is required")
    return ApproveBody(
        principal=_str(body, "principal"),
        kind=_kind(body["kind"], "field 'kind'").value,
        rows=rows,
        purpose=_str(body, "purpose"),
        justification=justification,
        dataset_id=dataset,
        key_version=_version(body),
    )


def parse_scan(data: Any) -> ScanBody:
    """Validate a ``POST /v1/scan`` body: ``text`` or ``document``, optional filters.

    Raises:
        InputError: The body does not match the schema.
    """
    body = _object(data, {"text", "document", "kinds", "min_confidence"}, set())
    if ("text" in body) == ("document" in body):
        raise InputError("body needs exactly one of 'text' and 'document'")
    target = body.get("text", body.get("document"))
    if "text" in body and not isinstance(target, str):
        raise InputError("field 'text' must be a string")
    if "document" in body and not isinstance(target, dict | list):
        raise InputError("field 'document' must be an object or an array")
    kinds = body.get("kinds")
    if kinds is not None and (
        not isinstance(kinds, list) or not all(isinstance(k, str) for k in kinds)
    ):
        raise InputError("field 'kinds' must be an array of strings")
    confidence = body.get("min_confidence", 0.0)
    if type(confidence) not in (int, float) or not 0.0 <= confidence <= 1.0:
        raise InputError("field 'min_confidence' must be a number in [0, 1]")
    return ScanBody(
        target=target,
        kinds=tuple(kinds) if kinds is not None else None,
        min_confidence=float(confidence),
    )


def _dataset(body: Mapping[str, Any]) -> str | None:
    if body.get("dataset_id") is None:
        return None
    return _str(body, "dataset_id", max_len=256)


def _version(body: Mapping[str, Any]) -> int | None:
    value = body.get("key_version")
    if value is None:
        return None
    if type(value) is not int or not 1 <= value <= 1_000_000:
        raise InputError("field 'key_version' must be a positive integer")
    return value


def dataset_digest(kind: str, column: str, values: Sequence[str]) -> str:
    """Return the dataset id of a batch of tokens: ``sha256:`` over kind, column and tokens.

    Requester and approver compute it alike, so an approval binds to exactly these tokens.
    """
    payload = json.dumps([kind, column, list(values)], separators=(",", ":")).encode()
    return "sha256:" + hashlib.sha256(payload).hexdigest()
