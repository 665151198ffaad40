from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from engine.errors import IntegrityError, PolicyDenied
from engine.keys import AuditLog
from engine.keys._local import audit_path_for, open_local
from engine.service import Client, openapi_document
from engine.service._openapi import SIGNED_ROUTES, UNSIGNED_ROUTES
from tests.engine.service.conftest import EMAILS, PANS, Running

SENT: list[str] = []  # Every raw value sent; none may appear in the server's logs.


def _client(running: Running, name: str, **kwargs: Any) -> Client:
    return Client(running.url, name, running.keys[name], **kwargs)


def _post(running: Running, name: str, body: bytes, *, key: bytes | None = None) -> httpx.Response:
    signer = Client(running.url, name, key or running.keys[name])
    headers = signer.sign_request("POST", "/v1/tokenize", body)
    signer.close()
    return httpx.post(running.url + "/v1/tokenize", content=body, headers=headers)


def _body(values: list[str]) -> bytes:
    SENT.extend(values)
    return json.dumps({"kind": "pan", "column": "card_number", "values": values}).encode()


def _audit(running: Running) -> list[dict[str, Any]]:
    reader, _ = open_local(running.keyring_path, create=False, audit=False)
    return AuditLog.read(audit_path_for(running.keyring_path), lambda v: reader.get("audit", v))


def test_health_metrics_and_openapi(running: Running) -> None:
    assert httpx.get(running.url + "/healthz").json() == {"status": "ok"}
    doc = httpx.get(running.url + "/openapi.json").json()
    assert doc["openapi"] == "3.1.0"
    assert doc == json.loads(json.dumps(openapi_document(max_values=2000)))
    metrics = httpx.get(running.url + "/metrics")
    assert metrics.status_code == 200
    assert "finveil_sidecar_request_seconds" in metrics.text


def test_every_route_is_in_the_openapi_document(running: Running) -> None:
    from engine.keys import AccessPolicy
    from engine.service import Sidecar, SidecarOptions, create_app

    app = create_app(
        Sidecar(running.ring, AccessPolicy(roles=[], principals=[]), options=SidecarOptions())
    )
    served = {(m, r.path) for r in app.routes for m in (r.methods or []) if m != "HEAD"}  # type: ignore[attr-defined]
    documented = {
        (method.upper(), path)
        for path, item in openapi_document()["paths"].items()
        for method in item
    }
    assert served == documented == set(SIGNED_ROUTES) | set(UNSIGNED_ROUTES)


def test_tokenize_column_and_records(running: Running) -> None:
    SENT.extend(PANS + EMAILS)
    with _client(running, "payments") as client:
        out = client.tokenize("pan", [*PANS, "12"], column="card_number")
        assert len(out["tokens"]) == 5
        assert out["tokens"][4] is None
        assert [e["index"] for e in out["errors"]] == [4]
        assert all(t is not None and t not in PANS for t in out["tokens"][:4])
        assert all(len(t) == len(p) for t, p in zip(out["tokens"], PANS, strict=False))
        again = client.tokenize("pan", PANS, column="card_number")
        assert again["tokens"] == out["tokens"][:4]  # Deterministic.
        # The tweak derives from the column name: the same name gives the same tokens.
        records = [
            {"card_number": PANS[0], "email": EMAILS[0], "amount_cents": 100},
            {"card_number": PANS[1], "email": "not an email", "amount_cents": 5},
        ]
        rec = client.tokenize_records(records, pii={"card_number": "pan", "email": "email"})
        assert rec["records"][0]["card_number"] == out["tokens"][0]
        assert rec["records"][0]["amount_cents"] == 100
        assert rec["records"][0]["email"] != EMAILS[0]
        assert rec["records"][1] is None
        assert rec["errors"][0]["column"] == "email"
        assert set(rec["protection"]) == {"card_number", "email"}


def test_round_trip_allowed_client_with_step_up_approval(running: Running) -> None:
    SENT.extend(PANS)
    with _client(running, "alice") as alice, _client(running, "bob") as bob:
        tokens = alice.tokenize("pan", PANS, column="card_number")["tokens"]
        fields: dict[str, Any] = {
            "column": "card_number",
            "purpose": "fraud-investigation",
            "justification": "case FR-2026-0042",
        }
        # The first use of a kind by a principal needs a second approver (anomaly step-up).
        with pytest.raises(PolicyDenied, match="step_up_required"):
            alice.detokenize("pan", tokens, **fields)
        bob.approve("alice", "pan", tokens, **fields)
        assert alice.detokenize("pan", tokens, **fields) == PANS
        # Known kind now: a later request of the same client goes through without approval.
        assert alice.detokenize("pan", tokens[:2], **fields) == PANS[:2]
    decisions = [(e["who"], e["decision"]) for e in _audit(running) if e["action"] == "detokenize"]
    assert decisions[-3:] == [("alice", "deny"), ("alice", "allow"), ("alice", "allow")]


def test_client_without_permission_gets_403_and_an_audit_entry(running: Running) -> None:
    SENT.extend(PANS)
    with _client(running, "payments") as client:
        tokens = client.tokenize("pan", PANS, column="card_number")["tokens"]
        before = len(_audit(running))
        with pytest.raises(PolicyDenied, match="HTTP 403"):
            client.detokenize(
                "pan",
                tokens,
                column="card_number",
                purpose="fraud-investigation",
                justification="case FR-2026-0042",
            )
    entries = _audit(running)[before:]
    assert [(e["who"], e["action"], e["decision"]) for e in entries] == [
        ("payments", "detokenize", "deny")
    ]
    assert entries[0]["reason"].startswith("unknown_principal")


def test_unsigned_forged_replayed_and_expired_get_401(running: Running) -> None:
    body = _body(PANS[:1])
    unsigned = httpx.post(running.url + "/v1/tokenize", content=body)
    assert unsigned.status_code == 401
    forged = _post(running, "alice", body, key=bytes(32))
    assert forged.status_code == 401
    unknown = Client(running.url, "nobody", running.keys["alice"])
    headers = unknown.sign_request("POST", "/v1/tokenize", body)
    assert (
        httpx.post(running.url + "/v1/tokenize", content=body, headers=headers).status_code == 401
    )
    # A signature over another body (the digest header kept) fails too.
    alice = _client(running, "alice")
    headers = alice.sign_request("POST", "/v1/tokenize", body)
    other = _body(PANS[1:2])
    assert (
        httpx.post(running.url + "/v1/tokenize", content=other, headers=headers).status_code == 401
    )
    headers = alice.sign_request("POST", "/v1/tokenize", body)
    first = httpx.post(running.url + "/v1/tokenize", content=body, headers=headers)
    assert first.status_code == 200
    alice.verify_response(first, request_signature=headers["signature"])
    replay = httpx.post(running.url + "/v1/tokenize", content=body, headers=headers)
    assert replay.status_code == 401
    assert "replay" in replay.json()["message"]
    for skew in (-120, 120):
        stale = _client(running, "alice", clock=lambda s=skew: __import__("time").time() + s)
        with pytest.raises(IntegrityError, match="window"):
            stale.tokenize("pan", PANS[:1], column="card_number")
        stale.close()
    alice.close()
    assert all(r.status_code == 401 for r in [unsigned, forged])
    assert "4111111111111111" not in unsigned.text + forged.text + replay.text


def test_tampered_response_is_rejected_by_the_client(running: Running) -> None:
    alice = _client(running, "alice")
    body = _body(PANS[:1])
    headers = alice.sign_request("POST", "/v1/tokenize", body)
    response = httpx.post(running.url + "/v1/tokenize", content=body, headers=headers)
    alice.verify_response(response, request_signature=headers["signature"])
    forged = httpx.Response(
        200, headers=response.headers, content=response.content.replace(b"4", b"5")
    )
    with pytest.raises(IntegrityError, match="content-digest"):
        alice.verify_response(forged, request_signature=headers["signature"])
    with pytest.raises(IntegrityError, match="does not verify"):
        alice.verify_response(response, request_signature="sig1=:" + "A" * 43 + "=:")
    wrong_status = httpx.Response(500, headers=response.headers, content=response.content)
    with pytest.raises(IntegrityError, match="does not verify"):
        alice.verify_response(wrong_status, request_signature=headers["signature"])
    alice.close()


def test_oversized_body_gets_413(running: Running) -> None:
    body = _body(["4111111111111111"] * 5000)  # About 100 KB > the 64 KiB cap.
    response = _post(running, "alice", body)
    assert response.status_code == 413
    small_cap_many = json.dumps({"kind": "pan", "column": "c", "values": ["1"] * 2001}).encode()
    assert len(small_cap_many) < 64 * 1024  # Under the byte cap, over the value cap.
    response = _post(running, "alice", small_cap_many)
    assert response.status_code == 413
    assert response.json()["error"] == "too_many_values"


@pytest.mark.parametrize(
    "body",
    [
        b'{"kind": "pan", "values": ["4111111111111111"',
        b"\xff\xfe4111111111111111",
        b'{"values": [4111111111111111, NaN]}',
        b"[" * 10000 + b"]" * 10000,
        b"",
    ],
)
def test_malformed_json_gets_400_without_echo(running: Running, body: bytes) -> None:
    response = _post(running, "alice", body)
    assert response.status_code == 400
    assert response.json()["error"] == "malformed_json"
    assert b"4111" not in response.content


def test_schema_errors_get_400_naming_the_field_only(running: Running) -> None:
    pan = "5500005555555559"
    SENT.append(pan)
    bad = json.dumps({"kind": "pan", "column": "c", "values": [pan], "extra": pan})
    response = _post(running, "alice", bad.encode())
    assert response.status_code == 400
    assert pan not in response.text
    with _client(running, "alice") as alice:
        report = alice.scan(text=f"card {pan} on file")
        assert report["summary"]["findings"] == 1
        assert pan not in json.dumps(report)


def test_oversized_chunked_body_gets_413(running: Running) -> None:
    body = _body(["4111111111111111"] * 5000)
    signer = _client(running, "alice")
    headers = signer.sign_request("POST", "/v1/tokenize", body)
    signer.close()

    def chunks() -> Iterator[bytes]:  # No Content-Length: the streamed size is capped.
        for i in range(0, len(body), 8192):
            yield body[i : i + 8192]

    response = httpx.post(running.url + "/v1/tokenize", content=chunks(), headers=headers)
    assert response.status_code == 413


def test_a_value_in_an_unknown_path_is_neither_echoed_nor_logged(running: Running) -> None:
    pan = "4929000000006"
    SENT.append(pan)
    response = httpx.get(f"{running.url}/v1/tokenize/{pan}")
    assert response.status_code == 404
    assert pan not in response.text


def test_no_value_in_the_server_log(running: Running) -> None:
    text = running.logs.text()
    assert "POST /v1/tokenize" in text  # The log is captured at all.
    leaked = sorted({v for v in SENT if len(v) >= 6 and v in text})
    assert leaked == []
