"""Dealer material from an attested enclave, relayed by an untrusted dealer host.

The dealer host (``finveil smpc dealer`` with ``mode = "enclave"``) runs the dealer enclave
app and is a node of the session mesh like the process dealer, but it only relays. Each party:

1. sends a fresh nonce (``dealer_attest``) and gets the enclave's quote plus the platform root
   certificate (``dealer_quote``);
2. checks the root against the spec's ``root_fingerprint`` and the quote with
   :func:`enclaves.attestation.verify_quote` against the spec's ``[dealer]`` policy;
3. opens the enclave's secure channel (X25519 to the key in the quote, salted with its
   binding, the hello signed with the party's own Ed25519 TLS key) (``dealer_channel``);
4. asks ``open`` (session id, spec hash, every party's client id, the plan) and ``material``
   (in parts of at most 16 MiB) inside the channel (``dealer_record``), receives its
   ``PartyMaterial`` there, and ends with an empty ``dealer_record``.

SECURITY: the host sees nonces, quotes, hellos and AES-GCM records, never a seed or a
correction word; a party that cannot verify the quote aborts before any share is sent.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
from collections.abc import Callable
from typing import Any

import cbor2
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding

from enclaves.attestation import NonceRegistry, verify_quote
from enclaves.channel import SecureChannel, connect
from enclaves.encoding import decode, encode
from enclaves.runtime import Enclave
from engine.errors import (
    AttestationError,
    ConfigError,
    EnclaveError,
    IntegrityError,
    SessionAborted,
    ShareMismatch,
)
from engine.smpc._dealer import PartyMaterial, Request
from engine.smpc._identity import matches
from engine.smpc._spec import DealerTrust, SessionSpec
from engine.smpc._transport import Mesh

_QUOTE_FORMAT_VERSION = 1
#: At most this many material parts (16 MiB each in the shipped app) per party.
_MAX_PARTS = 64


def client_id(cert_der: bytes) -> bytes:
    """Return the client id the dealer enclave sees for a party's TLS certificate.

    It is SHA-256 of the certificate's raw Ed25519 public key (the key that signs the party's
    channel hello), as the dealer app's measured ``clients`` list holds it.

    Raises:
        ConfigError: If the certificate's key is not Ed25519.
    """
    public = x509.load_der_x509_certificate(cert_der).public_key()
    if not isinstance(public, Ed25519PublicKey):
        raise ConfigError("party certificates must carry Ed25519 keys")
    return hashlib.sha256(public.public_bytes_raw()).digest()


def wire_plan(plan: list[Request]) -> list[list[object]]:
    """Return the plan as the dealer app's ``open`` takes it."""
    return [[r.label, r.kind.value, r.count, r.frac_bits, list(r.owners)] for r in plan]


async def fetch_material(
    mesh: Mesh,
    spec: SessionSpec,
    *,
    dealer: int,
    plan: list[Request],
    me: int,
    client_key: Ed25519PrivateKey,
    client_ids: list[bytes],
) -> PartyMaterial:
    """Attest the dealer enclave through its host and fetch our material over the channel.

    Raises:
        SessionAborted: Naming the dealer if its quote fails the spec's policy (wrong
            measurement, debug, stale, replayed, untrusted root), if the host alters a record
            or stalls beyond ``dealer.timeout_s``, or if the enclave refuses.
    """
    trust = spec.dealer_trust
    if trust is None:
        raise ConfigError("the session spec pins no enclave dealer")
    name = mesh.peer_name(dealer)
    nonces = NonceRegistry()
    nonce = nonces.issue()
    await mesh.send(dealer, "dealer_attest", nonce)
    body = await _recv(mesh, dealer, "dealer_quote", trust)
    quote, root = _parse_quote(body, trust, name)
    try:
        verdict = verify_quote(quote, trust.policy, roots=[root], nonces=nonces)
    except AttestationError as exc:
        raise SessionAborted(
            f"dealer {name!r} failed attestation, nothing was shared: {exc}", party=name
        ) from exc
    # SECURITY: a quote must answer this very nonce (the registry holds only this one, so
    # this is belt and braces against a host substituting another verifier's quote).
    if not hmac.compare_digest(verdict.claims.nonce, nonce):
        raise SessionAborted(f"dealer {name!r} sent a quote for another nonce", party=name)
    channel, hello = connect(
        verdict.claims.public_key, binding=verdict.claims.binding, client_key=client_key
    )
    await mesh.send(dealer, "dealer_channel", hello)
    await _recv(mesh, dealer, "dealer_ready", trust)
    opened = {
        "session_id": spec.session_id,
        "spec_hash": spec.spec_hash,
        "parties": [c.hex() for c in client_ids],
        "plan": wire_plan(plan),
    }
    await _call(mesh, dealer, channel, trust, "open", opened)
    chunks: list[bytes] = []
    parts = 1
    while len(chunks) < parts:
        args = {"session_id": spec.session_id, "party": me, "part": len(chunks)}
        reply = await _call(mesh, dealer, channel, trust, "material", args)
        if (
            not isinstance(reply, dict)
            or not isinstance(reply.get("part"), bytes)
            or not isinstance(reply.get("parts"), int)
            or not 1 <= reply["parts"] <= _MAX_PARTS
        ):
            raise SessionAborted(f"dealer {name!r} sent malformed material", party=name)
        chunks.append(reply["part"])
        parts = reply["parts"]
    await mesh.send(dealer, "dealer_record", b"")  # done: the host stops relaying for us
    try:
        return PartyMaterial.from_wire(cbor2.loads(b"".join(chunks)))
    except (ShareMismatch, cbor2.CBORDecodeError, ValueError):
        raise SessionAborted(f"dealer {name!r} sent malformed material", party=name) from None


async def _recv(mesh: Mesh, dealer: int, kind: str, trust: DealerTrust) -> bytes:
    wait = min(trust.timeout_s, mesh.remaining())
    try:
        return await asyncio.wait_for(mesh.recv(dealer, kind), wait)
    except TimeoutError:
        name = mesh.peer_name(dealer)
        raise SessionAborted(
            f"dealer {name!r} did not answer {kind!r} within {wait:.3g} s", party=name
        ) from None


def _parse_quote(body: bytes, trust: DealerTrust, name: str) -> tuple[bytes, x509.Certificate]:
    try:
        msg = cbor2.loads(body)
        if not isinstance(msg, dict) or msg.get("v") != _QUOTE_FORMAT_VERSION:
            raise ValueError("unknown format")
        quote, root_der = msg["quote"], msg["root"]
        if not isinstance(quote, bytes) or not isinstance(root_der, bytes):
            raise ValueError("malformed")
        # SECURITY: the root comes from the host, so it is only trusted if the spec pins it.
        if not matches(root_der, trust.root_fingerprint):
            raise SessionAborted(
                f"dealer {name!r} attests under a platform root the spec does not pin", party=name
            )
        return quote, x509.load_der_x509_certificate(root_der)
    except (ValueError, KeyError, cbor2.CBORDecodeError):
        raise SessionAborted(f"dealer {name!r} sent a malformed quote", party=name) from None


async def _call(
    mesh: Mesh, dealer: int, channel: SecureChannel, trust: DealerTrust, method: str, args: Any
) -> Any:
    name = mesh.peer_name(dealer)
    await mesh.send(dealer, "dealer_record", channel.seal(encode({"method": method, "args": args})))
    record = await _recv(mesh, dealer, "dealer_record", trust)
    try:
        reply = decode(channel.open(record))
    except IntegrityError:
        raise SessionAborted(
            f"dealer {name!r} relayed an altered or replayed channel record", party=name
        ) from None
    if not isinstance(reply, dict) or not isinstance(reply.get("ok"), bool):
        raise SessionAborted(f"dealer {name!r} sent a malformed secure reply", party=name)
    if not reply["ok"]:
        raise SessionAborted(
            f"dealer enclave refused {method!r}: {str(reply.get('message'))[:200]}", party=name
        )
    return reply.get("result")


async def relay_party(
    mesh: Mesh,
    enclave: Enclave,
    party: int,
    *,
    root: x509.Certificate,
    timeout_s: float,
    record: Callable[[bytes], None] | None = None,
) -> None:
    """Host side: relay one party's attestation, channel hello and channel records.

    SECURITY: everything relayed is public (nonce, quote, root certificate, hello) or
    AES-256-GCM under keys only the party and the enclave hold.

    Raises:
        SessionAborted: Naming the party if it misbehaves, or the dealer itself if the
            enclave fails.
    """
    name = mesh.peer_name(party)
    me = mesh.nodes[mesh.me].name
    log = record or (lambda _: None)

    async def recv(kind: str) -> bytes:
        body = await mesh.recv(party, kind)
        log(body)
        return body

    async def send(kind: str, body: bytes) -> None:
        log(body)
        await mesh.send(party, kind, body)

    async def enclave_op(op: Callable[..., Any], *args: Any) -> Any:
        try:
            return await asyncio.wait_for(
                asyncio.to_thread(op, *args), min(timeout_s, mesh.remaining())
            )
        except IntegrityError:
            raise SessionAborted(f"party {name!r} sent a bad channel message", party=name) from None
        except (EnclaveError, TimeoutError) as exc:
            raise SessionAborted(f"the dealer enclave failed: {exc}", party=me) from None

    nonce = await recv("dealer_attest")
    if not 16 <= len(nonce) <= 64:
        raise SessionAborted(f"party {name!r} sent a bad attestation nonce", party=name)
    quote = await enclave_op(enclave.attest, nonce)
    root_der = root.public_bytes(Encoding.DER)
    await send(
        "dealer_quote", cbor2.dumps({"v": _QUOTE_FORMAT_VERSION, "quote": quote, "root": root_der})
    )
    session = await enclave_op(enclave.open_channel, quote, await recv("dealer_channel"))
    await send("dealer_ready", b"")
    # Relay records until the party's empty record; the session deadline bounds the loop.
    while request := await recv("dealer_record"):
        reply = await enclave_op(enclave.send_secure, session, request)
        await send("dealer_record", reply)
