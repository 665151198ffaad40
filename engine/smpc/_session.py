"""Run one party (or the dealer) of a session: validate, link, agree on the spec, compute."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import math
from pathlib import Path
from typing import Any

import cbor2
import numpy as np
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import load_pem_private_key

from enclaves.runtime import Enclave
from engine.errors import ConfigError, InputError, SessionAborted
from engine.smpc._attested import client_id, fetch_material, relay_party
from engine.smpc._dealer import Kind, PartyMaterial, Request, deal, expand
from engine.smpc._protocol import Party
from engine.smpc._psi import intersect
from engine.smpc._ring import MAX_ABS_BITS, FixedPoint
from engine.smpc._spec import Computation, DealerMode, SessionSpec
from engine.smpc._transport import Mesh

Inputs = dict[str, np.ndarray]


def _plan(spec: SessionSpec, rows: int) -> list[Request]:
    if spec.computation is Computation.DOT:
        owners = (spec.index(spec.left or ""), spec.index(spec.right or ""))
        return [Request(label="dot", kind=Kind.OWNED_DOT, count=rows, owners=owners)]
    if spec.needs_dealer:
        return [Request(label="cmp", kind=Kind.COMPARE, count=rows)]
    return []


def _aligned_codec(spec: SessionSpec) -> FixedPoint:
    # Headroom so that the sum over all parties, minus a threshold, stays below 2^62.
    bits = MAX_ABS_BITS - math.ceil(math.log2(len(spec.parties) + 1))
    return FixedPoint(frac_bits=spec.codec.frac_bits, decimals=spec.codec.decimals, bound_bits=bits)


def prepare_inputs(spec: SessionSpec, party: str, inputs: Inputs) -> tuple[int, Any]:
    """Check and encode ``party``'s inputs locally; return (rows, encoded), before any I/O.

    Raises:
        ConfigError: If ``party`` is not in the session.
        InputError: If a column is missing, lengths differ or a value is out of range.
    """
    spec.index(party)
    cols = spec.columns_of(party)
    for col in cols:
        if col not in inputs:
            raise InputError(f"input of party {party!r} lacks column {col!r}")
    lengths = {len(inputs[c]) for c in cols}
    if len(lengths) > 1:
        raise InputError(f"input columns of party {party!r} have different lengths")
    rows = lengths.pop() if lengths else -1  # -1: this party holds no input (a helper)
    c = spec.computation
    if c in (Computation.PSI, Computation.PSI_SIZE):
        return rows, [str(v).encode() for v in inputs[cols[0]]]
    if c is Computation.LOGREG_SCORE and rows >= 0:
        partial = np.full(rows, spec.intercept if spec.index(party) == 0 else 0.0)
        for f in spec.features:
            if f.party == party:
                partial = partial + f.weight * _floats(inputs[f.column], f.column)
        return rows, _aligned_codec(spec).encode(partial, field_name="partial score")
    if not cols:
        return rows, None
    x = _floats(inputs[cols[0]], cols[0])
    if c is Computation.THRESHOLD:
        return rows, _aligned_codec(spec).encode(x, field_name=cols[0])
    if c is Computation.DOT:
        if np.any(np.abs(x) > spec.bound):
            row = int(np.flatnonzero(np.abs(x) > spec.bound)[0])
            raise InputError(f"{cols[0]}: row {row} exceeds the session bound")
        return rows, spec.codec.encode(x, field_name=cols[0])
    return rows, _local_aggregate(spec, x, cols[0])


def _floats(values: np.ndarray, column: str) -> np.ndarray:
    try:
        if values.dtype.kind in "OSUT":  # text cells, as a CSV reader gives them
            text = np.asarray(values, dtype=str)
            x = np.where(np.char.str_len(text) == 0, "nan", text).astype(np.float64)
        else:
            x = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        raise InputError(f"column {column!r} is not numeric") from None
    if not np.isfinite(x).all():
        raise InputError(f"{column}: row {int(np.flatnonzero(~np.isfinite(x))[0])} is missing")
    return x


def _local_aggregate(spec: SessionSpec, x: np.ndarray, column: str) -> np.ndarray:
    n = len(spec.parties)
    per_party = FixedPoint(
        frac_bits=spec.codec.frac_bits,
        decimals=spec.codec.decimals,
        bound_bits=MAX_ABS_BITS - math.ceil(math.log2(n)),
    )
    c = spec.computation
    counts = np.array([x.size], dtype=np.int64).view(np.uint64)
    if c is Computation.COUNT:
        return counts
    if c is Computation.HISTOGRAM:
        edges = np.asarray(spec.buckets)
        idx = np.searchsorted(edges, x, side="right") - 1
        inside = (idx >= 0) & (idx < edges.size - 1)
        return np.bincount(idx[inside], minlength=edges.size - 1).astype(np.int64).view(np.uint64)
    encoded = spec.codec.encode(x, field_name=column).view(np.int64)
    # Exact local sum (integers); the bound check keeps every party's sum below 2^62 / n.
    if float(np.abs(encoded).astype(np.float64).sum()) >= 2.0**per_party.bound_bits:
        raise InputError(
            f"{column}: the sum of this party's values overflows the fixed-point range"
        )
    total = np.array([int(encoded.sum())], dtype=np.int64).view(np.uint64)
    if c is Computation.VARIANCE:
        squares = per_party.encode(np.array([float(np.sum(x * x))]), field_name=f"{column}^2")
        return np.concatenate([total, squares, counts])
    if c is Computation.MEAN:
        return np.concatenate([total, counts])
    return total


def _agreed_rows(spec: SessionSpec, hellos: dict[int, Any]) -> int:
    sizes = {h.get("rows") for h in hellos.values()} - {-1}
    if len(sizes) != 1 or not isinstance(rows := sizes.pop(), int) or rows < 0:
        raise InputError("the input holders disagree on the number of rows; nothing was shared")
    spec.check_rows(rows)
    return rows


def _hello(spec: SessionSpec, rows: int) -> bytes:
    return cbor2.dumps({"spec": spec.spec_hash, "rows": rows})


def _check_hellos(spec: SessionSpec, hellos: dict[int, Any], rows: int) -> None:
    names = spec.names
    for peer, h in hellos.items():
        if not isinstance(h, dict) or not isinstance(h.get("spec"), bytes):
            raise SessionAborted(f"party {names[peer]!r} sent a malformed hello", party=names[peer])
        if not hmac.compare_digest(h["spec"], spec.spec_hash):
            raise SessionAborted(
                f"party {names[peer]!r} holds a different session spec; nothing was shared",
                party=names[peer],
            )
    if spec.computation.is_aligned:
        sizes = {names[p]: h.get("rows") for p, h in hellos.items() if h.get("rows") != -1}
        if any(v != rows for v in sizes.values()) and rows != -1:
            shown = ", ".join(f"{k}={v}" for k, v in sizes.items())
            raise InputError(
                f"inputs have different lengths (ours {rows}, {shown}); nothing was shared"
            )
        spec.check_rows(rows)


async def _run_party(
    spec: SessionSpec, me: int, rows: int, data: Any, mesh: Mesh, client_key: Ed25519PrivateKey
) -> dict[str, Any]:
    n = len(spec.parties)
    peers = [p for p in range(n) if p != me]
    dealer = n if spec.needs_dealer else None
    await mesh.connect(peers + ([dealer] if dealer is not None else []))
    for p in peers + ([dealer] if dealer is not None else []):
        await mesh.send(p, "hello", _hello(spec, rows))
    hellos = {p: cbor2.loads(await mesh.recv(p, "hello")) for p in peers}
    _check_hellos(spec, hellos, rows)
    if rows == -1:
        rows = _agreed_rows(spec, hellos)
    pool = None
    if dealer is not None:
        plan = _plan(spec, rows)
        if spec.dealer_mode is DealerMode.ENCLAVE:
            # Every party's client id, from the certificates the spec pins (ours from our key).
            ids = [
                hashlib.sha256(client_key.public_key().public_bytes_raw()).digest()
                if p == me
                else client_id(mesh.peer_certs[p])
                for p in range(n)
            ]
            material = await fetch_material(
                mesh, spec, dealer=dealer, plan=plan, me=me, client_key=client_key, client_ids=ids
            )
        else:
            material = PartyMaterial.from_wire(cbor2.loads(await mesh.recv(dealer, "material")))
        pool = expand(material, plan, party=me, n_parties=n)
    return await _compute(spec, Party(mesh, pool), rows, data)


async def _compute(spec: SessionSpec, party: Party, rows: int, data: Any) -> dict[str, Any]:
    c = spec.computation
    to = frozenset(spec.index(name) for name in spec.reveal_to)
    if c in (Computation.PSI, Computation.PSI_SIZE):
        domain = b"finveil-smpc-psi/" + spec.session_id.encode() + b"/" + spec.spec_hash
        found = await intersect(
            party.net, data, domain=domain, reveal_to=to, size_only=c is Computation.PSI_SIZE
        )
        if found is None:
            return {}
        if isinstance(found, int):
            return {"intersection_size": found}
        return {"intersection": [f.decode() for f in found], "intersection_size": len(found)}
    if c is Computation.DOT:
        left, right = spec.index(spec.left or ""), spec.index(spec.right or "")
        shared = await party.dot_owned(data, left=left, right=right, label="dot")
        opened = await party.reveal(shared, to=to)
        return {} if opened is None else {"dot": float(spec.codec.decode(opened, scale_power=2)[0])}
    if c.is_aligned:
        # A party without features contributes zeros (it still holds shares).
        local = data if data is not None else np.zeros(rows, dtype=np.uint64)
        total = await party.sum_inputs(local)
        if spec.threshold is None:
            opened = await party.reveal(total, to=to)
            if opened is None:
                return {}
            z = _aligned_codec(spec).decode(opened)
            return {"score": (1.0 / (1.0 + np.exp(-z))).tolist()}
        t = (
            spec.threshold
            if c is Computation.THRESHOLD
            else math.log(spec.threshold / (1 - spec.threshold))
        )
        limit = _aligned_codec(spec).encode(np.full(rows, t), field_name="threshold")
        bits = await party.less_than_zero(party.constant(limit) - total, label="cmp")
        flags = await party.reveal_bits(bits, to=to)
        return {} if flags is None else {"flags": flags.tolist(), "flagged": int(flags.sum())}
    return _finish(spec, await party.reveal(await party.sum_inputs(data), to=to))


def _finish(spec: SessionSpec, opened: np.ndarray | None) -> dict[str, Any]:
    if opened is None:
        return {}
    ints = opened.view(np.int64)
    c = spec.computation
    if c is Computation.COUNT:
        return {"count": int(ints[0])}
    if c is Computation.HISTOGRAM:
        return {"buckets": list(spec.buckets), "counts": [int(v) for v in ints]}
    total = float(spec.codec.decode(opened[:1])[0])
    if c is Computation.SUM:
        return {"sum": total}
    count = int(ints[-1])
    if count == 0:
        raise InputError("no rows in any party's input: the mean is undefined")
    mean = total / count
    if c is Computation.MEAN:
        return {"mean": mean, "sum": total, "count": count}
    squares = float(spec.codec.decode(opened[1:2])[0])
    variance = max(0.0, squares / count - mean * mean)
    return {"variance": variance, "mean": mean, "count": count}


def join_session(
    spec: SessionSpec,
    *,
    party: str,
    inputs: Inputs,
    cert: Path,
    key: Path,
    stats: dict[str, float] | None = None,
) -> dict[str, Any]:
    """Take part in ``spec`` as ``party``; return the revealed result (``{}`` if not a recipient).

    Inputs are checked and encoded before any connection is made, so bad input never leaves.

    Args:
        spec: The parsed session spec (every party must hold the same one).
        party: Our party name.
        inputs: Our input columns by name (numbers, or text for PSI identifiers).
        cert: Our PEM certificate (its fingerprint is pinned in the spec).
        key: Our PEM private key.
        stats: If given, filled with ``bytes_sent`` (framed TLS payload), ``seconds`` and
            ``link_seconds`` (the part spent making the TLS links).

    Raises:
        ConfigError: Unknown party or spec problem.
        InputError: Missing column, different lengths, values out of the fixed-point range.
        SessionAborted: A peer dropped, stalled, misbehaved or holds another spec; ``party``
            names it. Nothing is revealed.
    """
    me = spec.index(party)
    rows, data = prepare_inputs(spec, party, inputs)
    client_key = _ed25519_key(key)
    nodes = list(spec.parties) + ([spec.dealer] if spec.dealer is not None else [])
    return asyncio.run(
        _guarded(
            spec,
            nodes,
            me,
            cert,
            key,
            lambda m: _run_party(spec, me, rows, data, m, client_key),
            stats,
        )
    )


def _ed25519_key(path: Path) -> Ed25519PrivateKey:
    try:
        loaded = load_pem_private_key(path.read_bytes(), password=None)
    except (OSError, ValueError, TypeError):
        raise ConfigError(f"cannot read the private key {path}") from None
    if not isinstance(loaded, Ed25519PrivateKey):
        raise ConfigError(f"{path} is not an Ed25519 key (make it with 'finveil smpc keygen')")
    return loaded


async def _guarded(
    spec: SessionSpec,
    nodes: list[Any],
    me: int,
    cert: Path,
    key: Path,
    body: Any,
    stats: dict[str, float] | None = None,
) -> Any:
    mesh = Mesh(
        nodes,
        me=me,
        n_parties=len(spec.parties),
        session_id=spec.session_id,
        cert=cert,
        key=key,
        timeout_s=spec.timeout_s,
    )
    try:
        return await body(mesh)
    except SessionAborted as exc:
        await mesh.abort(exc.party or nodes[me].name)
        raise
    except (InputError, ConfigError):
        await mesh.abort(nodes[me].name)
        raise
    finally:
        await mesh.close()
        if stats is not None:
            stats["bytes_sent"] = mesh.bytes_sent
            stats["seconds"] = spec.timeout_s - mesh.remaining()
            if mesh.linked_after_s is not None:
                stats["link_seconds"] = mesh.linked_after_s


def serve_dealer(
    spec: SessionSpec,
    *,
    cert: Path,
    key: Path,
    enclave: Enclave | None = None,
    root: x509.Certificate | None = None,
    stats: dict[str, float] | None = None,
    transcript: list[bytes] | None = None,
) -> int:
    """Act as the session's dealer: check every party's hello, then deal; return rows dealt.

    With ``mode = "enclave"`` (the default) this process is only the dealer *host*: it runs
    no dealer code itself but relays each party's attestation handshake and secure-channel
    records to ``enclave`` (the dealer app), so it never sees a seed or correction word.
    With ``mode = "process"`` it deals itself and must be trusted like the enclave.

    Args:
        spec: The parsed session spec.
        cert: The dealer host's PEM certificate (pinned in ``[dealer]``).
        key: Its PEM private key.
        enclave: The loaded dealer enclave app (``mode = "enclave"`` only).
        root: The enclave platform's root CA certificate, sent with each quote (parties
            accept it only if it matches ``dealer.root_fingerprint``).
        stats: As for :func:`join_session`.
        transcript: If given, every message body the host receives from or sends to a
            party is appended (for audits and tests).

    Raises:
        ConfigError: If the spec has no dealer, or ``enclave``/``root`` do not fit the mode.
        SessionAborted: If a party is missing, holds another spec or disagrees on rows, or
            the enclave fails.
    """
    if spec.dealer is None:
        raise ConfigError("the session spec has no [dealer]")
    attested = spec.dealer_mode is DealerMode.ENCLAVE
    if attested and (enclave is None or root is None or spec.dealer_trust is None):
        raise ConfigError('dealer mode "enclave" needs the dealer enclave and its platform root')
    if not attested and enclave is not None:
        raise ConfigError('dealer mode "process" deals in this process; pass no enclave')
    n = len(spec.parties)
    nodes = [*spec.parties, spec.dealer]
    record = transcript.append if transcript is not None else None

    async def body(mesh: Mesh) -> int:
        await mesh.connect(list(range(n)))
        hellos = {p: cbor2.loads(await mesh.recv(p, "hello")) for p in range(n)}
        rows = _check_hellos_dealer(spec, hellos)
        if enclave is not None and root is not None and spec.dealer_trust is not None:
            timeout = spec.dealer_trust.timeout_s
            await asyncio.gather(
                *(
                    relay_party(mesh, enclave, p, root=root, timeout_s=timeout, record=record)
                    for p in range(n)
                )
            )
            return rows
        materials = deal(_plan(spec, rows), n)
        for p, m in enumerate(materials):
            await mesh.send(p, "material", cbor2.dumps(m.to_wire()))
        return rows

    result: int = asyncio.run(_guarded(spec, nodes, n, cert, key, body, stats))
    return result


def _check_hellos_dealer(spec: SessionSpec, hellos: dict[int, Any]) -> int:
    rows = None
    for p, h in hellos.items():
        name = spec.names[p]
        if (
            not isinstance(h, dict)
            or not isinstance(h.get("spec"), bytes)
            or not isinstance(h.get("rows"), int)
        ):
            raise SessionAborted(f"party {name!r} sent a malformed hello", party=name)
        if not hmac.compare_digest(h["spec"], spec.spec_hash):
            raise SessionAborted(f"party {name!r} holds a different session spec", party=name)
        if h["rows"] == -1:
            continue
        if rows is not None and h["rows"] != rows:
            raise SessionAborted(f"party {name!r} disagrees on the number of rows", party=name)
        rows = int(h["rows"])
    if rows is None or rows < 0 or rows > 100_000_000:
        raise SessionAborted("the parties sent no usable row count", party=spec.names[0])
    spec.check_rows(rows)
    return rows
