"""Dealer enclave app: a thin wrapper around ``engine.smpc.hazmat.deal``.

Parties call ``open`` with the session's plan (derived from the session spec and the agreed
row count, as ``engine.smpc`` derives it), then each fetches its own ``PartyMaterial`` with
``material`` over an attested channel; the protocols are unchanged. The untrusted dealer host
(``finveil smpc dealer`` with ``mode = "enclave"``) only relays the channel records.
SECURITY: material leaves only over a secure channel, to the client listed for that party,
once; seeds are registered with ``protect`` so no plain reply can carry them.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass, field
from typing import Any

from enclaves.encoding import encode
from enclaves.runtime import EnclaveContext, Request
from engine.errors import PolicyDenied
from engine.smpc.hazmat import Kind, PartyMaterial, deal
from engine.smpc.hazmat import Request as PlanItem


@dataclass(slots=True)
class _Session:
    key: tuple[Any, ...]
    parties: list[bytes]
    materials: dict[int, PartyMaterial] = field(default_factory=dict)
    # Party -> (its encoded material, the next part to hand out), while fetched in parts.
    pending: dict[int, tuple[bytes, int]] = field(default_factory=dict)


#: Largest slice of a party's encoded material in one reply (enclave frames hold 64 MiB).
PART_BYTES = 16 * 1024 * 1024


_PLAN_SHAPE = "'plan' must be a list of [label, kind, count, frac_bits(, [left, right])]"


def _item(raw: Any) -> PlanItem:
    label, kind, count, frac, *rest = raw
    owners = (0, 1)
    if rest:
        (pair,) = rest
        left, right = pair
        owners = (int(left), int(right))
    return PlanItem(
        label=str(label), kind=Kind(kind), count=int(count), frac_bits=int(frac), owners=owners
    )


def _plan(raw: Any, n_parties: int) -> list[PlanItem]:
    if not isinstance(raw, list):
        raise PolicyDenied(_PLAN_SHAPE)
    try:
        plan = [_item(item) for item in raw]
    except (TypeError, ValueError):
        raise PolicyDenied(_PLAN_SHAPE) from None
    if any(not 0 <= o < n_parties for p in plan for o in p.owners):
        raise PolicyDenied("plan owners must be parties of the session")
    return plan


class DealerApp:
    """Answer ``open``, ``material`` and ``info``."""

    def __init__(self, context: EnclaveContext) -> None:
        self._context = context
        self._clients = {bytes.fromhex(c) for c in context.config.get("clients", [])}
        self._max = int(context.config.get("max_sessions", 64))
        self._sessions: dict[str, _Session] = {}

    def _caller(self, request: Request) -> bytes:
        # SECURITY: only listed parties, over the attested channel, may open or fetch.
        if not request.is_secure or request.client_id is None:
            raise PolicyDenied("the dealer answers only over a secure channel")
        if request.client_id not in self._clients:
            raise PolicyDenied("the dealer answers only listed clients")
        return request.client_id

    def handle(self, request: Request) -> Any:
        """Dispatch one request."""
        args = request.args if isinstance(request.args, dict) else {}
        if request.method == "info":
            return {"sessions": len(self._sessions), "svn": self._context.identity.svn}
        if request.method == "open":
            return self._open(self._caller(request), args)
        if request.method == "material":
            return self._material(self._caller(request), args)
        raise PolicyDenied(f"unknown method {request.method!r}")

    def _open(self, caller: bytes, args: dict[str, Any]) -> dict[str, Any]:
        session_id, spec_hash = str(args.get("session_id", "")), args.get("spec_hash")
        parties = [bytes.fromhex(str(p)) for p in args.get("parties", [])]
        if not session_id or not isinstance(spec_hash, bytes) or len(parties) < 2:
            raise PolicyDenied("'open' needs session_id, spec_hash and at least 2 parties")
        if len(set(parties)) != len(parties):
            # SECURITY: one client listed twice could fetch two parties' material.
            raise PolicyDenied("the parties of a session must be distinct clients")
        if caller not in parties or not set(parties) <= self._clients:
            raise PolicyDenied("every party of the session must be a listed client")
        plan = _plan(args.get("plan"), len(parties))
        key = (
            spec_hash,
            tuple(parties),
            tuple((p.label, p.kind, p.count, p.frac_bits, p.owners) for p in plan),
        )
        existing = self._sessions.get(session_id)
        if existing is not None:
            if existing.key != key:
                raise PolicyDenied("the session is already open with another spec or plan")
            return {"session_id": session_id, "n_parties": len(parties)}
        if len(self._sessions) >= self._max:
            raise PolicyDenied("too many open sessions")
        materials = deal(plan, len(parties))
        for m in materials:
            self._context.protect(m.seed)
        self._sessions[session_id] = _Session(
            key=key, parties=parties, materials=dict(enumerate(materials))
        )
        return {"session_id": session_id, "n_parties": len(parties)}

    def _material(self, caller: bytes, args: dict[str, Any]) -> dict[str, object]:
        session_id = str(args.get("session_id", ""))
        session = self._sessions.get(session_id)
        party = args.get("party")
        if session is None or not isinstance(party, int) or not 0 <= party < len(session.parties):
            raise PolicyDenied("no such session or party")
        if not hmac.compare_digest(session.parties[party], caller):
            raise PolicyDenied("material goes only to the party's own client")
        if "part" not in args:
            # The whole material in one reply (fits while it is below the 64 MiB frame limit).
            material = self._take(session, party)
            self._forget_if_done(session_id, session)
            return material.to_wire()
        part = args["part"]
        if part == 0 and party not in session.pending:
            session.pending[party] = (encode(self._take(session, party).to_wire()), 0)
        blob, expected = session.pending.get(party, (b"", -1))
        if not isinstance(part, int) or part != expected:
            raise PolicyDenied("material parts are handed out once each, in order")
        parts = max(1, -(-len(blob) // PART_BYTES))
        if part + 1 == parts:
            del session.pending[party]
        else:
            session.pending[party] = (blob, part + 1)
        self._forget_if_done(session_id, session)
        return {"part": blob[part * PART_BYTES : (part + 1) * PART_BYTES], "parts": parts}

    @staticmethod
    def _take(session: _Session, party: int) -> PartyMaterial:
        material = session.materials.pop(party, None)
        if material is None:
            raise PolicyDenied("this party's material was already fetched")
        return material

    def _forget_if_done(self, session_id: str, session: _Session) -> None:
        if not session.materials and not session.pending:
            del self._sessions[session_id]


def create(context: EnclaveContext) -> DealerApp:
    """Entry point named in ``enclave.toml``."""
    return DealerApp(context)
