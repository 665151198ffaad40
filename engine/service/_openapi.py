"""The sidecar's OpenAPI 3.1 document (served at ``/openapi.json``; a test keeps it in sync)."""

from __future__ import annotations

import copy
from typing import Any

from engine import __version__
from engine.service._bodies import OPTION_FIELDS
from engine.tokenize import Kind, Scheme

__all__ = ["SIGNED_ROUTES", "UNSIGNED_ROUTES", "openapi_document"]

#: (method, path) of the routes that need a signed request; their responses are signed.
SIGNED_ROUTES = (
    ("POST", "/v1/tokenize"),
    ("POST", "/v1/detokenize"),
    ("POST", "/v1/approve"),
    ("POST", "/v1/scan"),
)
UNSIGNED_ROUTES = (("GET", "/healthz"), ("GET", "/metrics"), ("GET", "/openapi.json"))

_JSON_TYPES = {str: "string", bool: "boolean", int: "integer"}
_KINDS = [k.value for k in Kind]


def _options() -> dict[str, Any]:
    props: dict[str, Any] = {n: {"type": _JSON_TYPES[t]} for n, t in OPTION_FIELDS.items()}
    props["scheme"] = {"type": "string", "enum": [s.value for s in Scheme]}
    props["tweak_label"] = {"type": "string", "minLength": 1}
    props["pan_keep_first"] = {"type": "integer", "minimum": 0, "maximum": 8}
    props["pan_keep_last"] = {"type": "integer", "minimum": 0, "maximum": 6}
    return {
        "type": "object",
        "additionalProperties": False,
        "properties": props,
        "description": "FormatOptions; detokenize with the same options as tokenize.",
    }


def _schemas(max_values: int) -> dict[str, Any]:
    kind = {"type": "string", "enum": _KINDS}
    name = {"type": "string", "minLength": 1, "maxLength": 128}
    opt = {"$ref": "#/components/schemas/FormatOptions"}
    values = {
        "type": "array",
        "minItems": 1,
        "maxItems": max_values,
        "items": {"type": ["string", "null"]},
    }
    tokens = {"type": "array", "minItems": 1, "maxItems": max_values, "items": {"type": "string"}}
    version = {"type": "integer", "minimum": 1, "maximum": 1_000_000}
    justification = {"type": "string", "maxLength": 1000}
    column = {
        "type": "object",
        "additionalProperties": False,
        "required": ["kind", "column", "values"],
        "properties": {"kind": kind, "column": name, "values": values, "options": opt},
    }
    records = {
        "type": "object",
        "additionalProperties": False,
        "required": ["pii", "records"],
        "properties": {
            "pii": {"type": "object", "minProperties": 1, "additionalProperties": kind},
            "records": {
                "type": "array",
                "minItems": 1,
                "maxItems": max_values,
                "items": {"type": "object"},
            },
            "options": opt,
        },
    }
    error = {
        "type": "object",
        "required": ["error", "message"],
        "properties": {"error": {"type": "string"}, "message": {"type": "string"}},
    }
    return {
        "FormatOptions": _options(),
        "TokenizeColumn": column,
        "TokenizeRecords": records,
        "TokenizeRequest": {
            "oneOf": [
                {"$ref": "#/components/schemas/TokenizeColumn"},
                {"$ref": "#/components/schemas/TokenizeRecords"},
            ]
        },
        "DetokenizeRequest": {
            "type": "object",
            "additionalProperties": False,
            "required": ["kind", "column", "values", "purpose", "justification"],
            "properties": {
                "kind": kind,
                "column": name,
                "values": tokens,
                "options": opt,
                "purpose": name,
                "justification": justification,
                "dataset_id": {"type": "string", "minLength": 1, "maxLength": 256},
                "key_version": version,
            },
        },
        "ApproveRequest": {
            "type": "object",
            "additionalProperties": False,
            "required": ["principal", "kind", "rows", "purpose", "justification", "dataset_id"],
            "properties": {
                "principal": name,
                "kind": kind,
                "rows": {"type": "integer", "minimum": 1},
                "purpose": name,
                "justification": justification,
                "dataset_id": {"type": "string", "minLength": 1, "maxLength": 256},
                "key_version": version,
            },
        },
        "ScanRequest": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "text": {"type": "string"},
                "document": {"type": ["object", "array"]},
                "kinds": {"type": "array", "items": {"type": "string"}},
                "min_confidence": {"type": "number", "minimum": 0, "maximum": 1},
            },
        },
        "Error": error,
    }


def _op(summary: str, schema: str | None, responses: dict[str, str]) -> dict[str, Any]:
    op: dict[str, Any] = {"summary": summary, "responses": {}}
    for code, text in responses.items():
        body = {"$ref": "#/components/schemas/Error"} if code[0] in "45" else {"type": "object"}
        op["responses"][code] = {
            "description": text,
            "content": {"application/json": {"schema": body}},
        }
    if schema is not None:
        op["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema}"}}},
        }
        op["security"] = [{"httpSignature": []}]
    return op


_SIGNED_ERRORS = {
    "400": "malformed JSON or a body that does not match the schema (no value is echoed)",
    "401": "unsigned, forged, replayed or expired request",
    "413": "body larger than the limit, or too many values",
}


def openapi_document(*, max_values: int = 100_000) -> dict[str, Any]:
    """Return the OpenAPI 3.1 document of the sidecar (a fresh copy)."""
    paths = {
        "/v1/tokenize": {
            "post": _op(
                "Tokenize a column or records",
                "TokenizeRequest",
                {"200": "tokens; failing values are null with a reason", **_SIGNED_ERRORS},
            )
        },
        "/v1/detokenize": {
            "post": _op(
                "Detokenize one column (policy-gated, anomaly-checked, audited)",
                "DetokenizeRequest",
                {
                    "200": "values",
                    **_SIGNED_ERRORS,
                    "403": "denied by policy (audited)",
                    "409": "key version unknown or retired",
                    "422": "a value is not a token",
                },
            )
        },
        "/v1/approve": {
            "post": _op(
                "Approve another client's exact detokenize request",
                "ApproveRequest",
                {"200": "approval recorded", **_SIGNED_ERRORS, "403": "not an approver (audited)"},
            )
        },
        "/v1/scan": {
            "post": _op(
                "Scan text or a JSON document for identifiers in clear",
                "ScanRequest",
                {"200": "scan report (masked previews)", **_SIGNED_ERRORS},
            )
        },
        "/healthz": {
            "get": _op(
                "Liveness and keyring readability", None, {"200": "ok", "503": "keyring unreadable"}
            )
        },
        "/metrics": {
            "get": {
                "summary": "Prometheus metrics",
                "responses": {
                    "200": {
                        "description": "text exposition format",
                        "content": {"text/plain": {"schema": {"type": "string"}}},
                    }
                },
            }
        },
        "/openapi.json": {"get": _op("This document", None, {"200": "OpenAPI 3.1"})},
    }
    doc = {
        "openapi": "3.1.0",
        "info": {
            "title": "FinVeil tokenization sidecar",
            "version": __version__,
            "description": "Signed requests: see docs/service.md.",
        },
        "paths": paths,
        "components": {
            "schemas": _schemas(max_values),
            "securitySchemes": {
                "httpSignature": {
                    "type": "apiKey",
                    "in": "header",
                    "name": "Signature",
                    "description": "HMAC-SHA256 HTTP message signature (RFC 9421 profile) with "
                    "Signature-Input and Content-Digest headers; see docs/service.md.",
                }
            },
        },
    }
    return copy.deepcopy(doc)
