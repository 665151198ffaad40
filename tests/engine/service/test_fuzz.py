"""Fuzz the running sidecar from its own OpenAPI document: no input may cause a 5xx."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.service import Client, openapi_document
from tests.engine.service.conftest import Running

DOC = openapi_document(max_values=2000)


def _inline(node: Any) -> Any:
    if isinstance(node, dict):
        ref = node.get("$ref")
        if ref is not None:
            return _inline(DOC["components"]["schemas"][ref.rsplit("/", 1)[1]])
        return {k: _inline(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_inline(v) for v in node]
    return node


def _body_schema(path: str) -> dict[str, Any]:
    op = DOC["paths"][path]["post"]
    schema: dict[str, Any] = _inline(op["requestBody"]["content"]["application/json"]["schema"])
    return schema


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)


_SCALARS: dict[str, st.SearchStrategy[Any]] = {
    "null": st.none(),
    "boolean": st.booleans(),
    "integer": st.integers(),
    "number": st.floats(allow_nan=False, allow_infinity=False),
}


def from_schema(schema: dict[str, Any]) -> st.SearchStrategy[Any]:
    """A strategy for the JSON Schema subset the OpenAPI document uses.

    (hypothesis-jsonschema does not work with this Hypothesis version.) Arrays are kept
    to at most 5 items: the fuzz looks for crashes, not for the size limit.
    """
    if "oneOf" in schema:
        return st.one_of([from_schema(s) for s in schema["oneOf"]])
    if "enum" in schema:
        return st.sampled_from(schema["enum"])
    kinds = schema.get("type", ["null", "boolean", "integer", "string", "array", "object"])
    if isinstance(kinds, list):
        return st.one_of([from_schema({**schema, "type": k}) for k in kinds])
    if kinds == "string":
        return st.text(
            min_size=schema.get("minLength", 0), max_size=min(schema.get("maxLength", 40), 40)
        )
    if kinds in ("integer", "number") and ("minimum" in schema or "maximum" in schema):
        lo, hi = schema.get("minimum"), schema.get("maximum")
        if kinds == "integer":
            return st.integers(min_value=lo, max_value=hi)
        return st.floats(min_value=lo, max_value=hi)
    if kinds in _SCALARS:
        return _SCALARS[kinds]
    if kinds == "array":
        items = from_schema(schema.get("items", {"type": ["string", "integer", "null"]}))
        return st.lists(items, min_size=schema.get("minItems", 0), max_size=5)
    props = schema.get("properties", {})
    required = set(schema.get("required", []))
    extra = schema.get("additionalProperties", True)
    if not props:
        values = from_schema(extra) if isinstance(extra, dict) else _json
        return st.dictionaries(
            st.text(max_size=8), values, min_size=schema.get("minProperties", 0), max_size=4
        )
    return st.fixed_dictionaries(
        {k: from_schema(v) for k, v in props.items() if k in required},
        optional={k: from_schema(v) for k, v in props.items() if k not in required},
    )


SIGNED = [p for p, item in DOC["paths"].items() if "post" in item]


@pytest.fixture(scope="module")
def signer(running: Running) -> Iterator[tuple[Client, httpx.Client]]:
    with (
        Client(running.url, "alice", running.keys["alice"]) as client,
        httpx.Client(base_url=running.url) as http,
    ):
        yield client, http


def _send(signer: tuple[Client, httpx.Client], path: str, body: bytes) -> httpx.Response:
    client, http = signer
    headers = client.sign_request("POST", path, body)
    response = http.post(path, content=body, headers=headers)
    assert response.status_code < 500, (path, response.status_code, response.text[:300])
    if response.status_code != 401:
        client.verify_response(response, request_signature=headers["signature"])
    return response


_FUZZ = settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))


@pytest.mark.parametrize("path", SIGNED)
def test_schema_valid_bodies_never_fail_with_5xx(
    signer: tuple[Client, httpx.Client], path: str
) -> None:
    statuses: set[int] = set()

    @_FUZZ
    @given(body=from_schema(_body_schema(path)))
    def run(body: Any) -> None:
        response = _send(signer, path, json.dumps(body).encode())
        statuses.add(response.status_code)
        # A body the document accepts is never a malformed-JSON error.
        assert response.json().get("error") != "malformed_json"

    run()
    if path in ("/v1/tokenize", "/v1/scan"):
        assert 200 in statuses  # The fuzz reaches the operations, not only the validation.


@pytest.mark.parametrize("path", SIGNED)
def test_arbitrary_json_and_bytes_never_fail_with_5xx(
    signer: tuple[Client, httpx.Client], path: str
) -> None:
    @_FUZZ
    @given(body=_json.map(lambda v: json.dumps(v).encode()) | st.binary(max_size=64))
    def run(body: bytes) -> None:
        _send(signer, path, body)

    run()


def test_unknown_routes_and_methods_are_4xx(running: Running) -> None:
    assert httpx.get(running.url + "/v1/tokenize").status_code == 405
    assert httpx.post(running.url + "/v2/nothing").status_code == 404
