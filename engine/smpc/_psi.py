"""ECDH private set intersection over ristretto255 (libsodium), for two or more parties.

Each identifier is hashed to the group (SHA-512, then ``crypto_core_ristretto255_from_hash``)
and every party raises every set to its secret scalar: each set travels around the ring of
parties and returns to its owner as ``H(x)^(k_1 ... k_n)``, in the owner's order. Under DDH these
tags are pseudorandom to anyone lacking all keys. The owners send their tags, sorted, to the
leader (party 0), which intersects them and sends back only the common tags (``psi``) or only
their number (``psi-size``). Leakage, stated: the leader also learns how many tags any subset
of the other parties share.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import hashlib
from functools import cache

from engine.errors import SessionAborted, ShareMismatch, SMPCError
from engine.smpc._protocol import Net

POINT_BYTES = 32
_HASH_BYTES = 64


@cache
def _sodium() -> ctypes.CDLL:
    path = ctypes.util.find_library("sodium")
    if path is None:
        raise SMPCError("libsodium is not installed (Debian: apt-get install libsodium23)")
    lib = ctypes.CDLL(path)
    if lib.sodium_init() < 0:
        raise SMPCError("libsodium failed to initialise")
    for name in ("crypto_core_ristretto255_from_hash", "crypto_scalarmult_ristretto255"):
        if not hasattr(lib, name):
            raise SMPCError("libsodium lacks ristretto255 (need libsodium >= 1.0.18)")
    return lib


def random_scalar() -> bytes:
    """Return a uniform non-zero ristretto255 scalar (libsodium's CSPRNG)."""
    out = ctypes.create_string_buffer(32)
    _sodium().crypto_core_ristretto255_scalar_random(out)
    return out.raw


def hash_to_group(identifiers: list[bytes], *, domain: bytes) -> list[bytes]:
    """Map identifiers to ristretto255: ``from_hash(SHA-512(len(domain) || domain || id))``."""
    lib = _sodium()
    out = ctypes.create_string_buffer(POINT_BYTES)
    prefix = len(domain).to_bytes(2, "big") + domain
    points = []
    for ident in identifiers:
        lib.crypto_core_ristretto255_from_hash(out, hashlib.sha512(prefix + ident).digest())
        points.append(out.raw)
    return points


def exponentiate(points: list[bytes], scalar: bytes) -> list[bytes]:
    """Raise every point to ``scalar``.

    Raises:
        ShareMismatch: If a point is not a valid ristretto255 encoding (or maps to identity).
    """
    lib = _sodium()
    out = ctypes.create_string_buffer(POINT_BYTES)
    n = ctypes.create_string_buffer(scalar, 32)
    result = []
    for point in points:
        if len(point) != POINT_BYTES or lib.crypto_scalarmult_ristretto255(out, n, point) != 0:
            raise ShareMismatch("received an invalid group element")
        result.append(out.raw)
    return result


def _pack(points: list[bytes]) -> bytes:
    return b"".join(points)


def _unpack(data: bytes) -> list[bytes]:
    if len(data) % POINT_BYTES:
        raise ShareMismatch("group elements have the wrong length")
    return [data[i : i + POINT_BYTES] for i in range(0, len(data), POINT_BYTES)]


def _blame(net: Net, peer: int) -> SessionAborted:
    name = net.peer_name(peer)
    return SessionAborted(f"party {name!r} sent malformed group elements", party=name)


async def _points(net: Net, peer: int, kind: str) -> list[bytes]:
    """Receive group elements from ``peer``; a malformed message aborts, blaming it."""
    try:
        return _unpack(await net.recv(peer, kind))
    except ShareMismatch:
        raise _blame(net, peer) from None


async def intersect(
    net: Net,
    identifiers: list[bytes],
    *,
    domain: bytes,
    reveal_to: frozenset[int],
    size_only: bool,
) -> list[bytes] | int | None:
    """Run the PSI; return own identifiers in the intersection, its size, or None if not told."""
    mine = sorted(set(identifiers))
    key = random_scalar()
    me, n = net.me, net.n
    held = exponentiate(hash_to_group(mine, domain=domain), key)
    nxt, prv = (me + 1) % n, (me - 1) % n
    for _ in range(n - 1):
        await net.send(nxt, "psi_ring", _pack(held))
        received = await _points(net, prv, "psi_ring")
        try:
            held = exponentiate(received, key)
        except ShareMismatch:
            raise _blame(net, prv) from None
    # `held` is now party `me + 1`'s set under every key; hand it back to its owner.
    await net.send(nxt, "psi_done", _pack(held))
    tags = await _points(net, prv, "psi_done")
    if len(tags) != len(mine):
        name = net.peer_name(prv)
        raise SessionAborted(f"party {name!r} returned a set of the wrong size", party=name)
    leader = 0
    if me != leader:
        await net.send(leader, "psi_tags", _pack(sorted(tags)))
        result = await net.recv(leader, "psi_result") if me in reveal_to else None
    else:
        common = set(tags)
        for p in range(1, n):
            common &= set(await _points(net, p, "psi_tags"))
        body = len(common).to_bytes(8, "big") if size_only else _pack(sorted(common))
        for p in sorted(reveal_to - {leader}):
            await net.send(p, "psi_result", body)
        result = body if leader in reveal_to else None
    if result is None:
        return None
    if size_only:
        if len(result) != 8:
            raise ShareMismatch("intersection size has the wrong length")
        return int.from_bytes(result, "big")
    found = set(_unpack(result))
    return [ident for ident, tag in zip(mine, tags, strict=True) if tag in found]
