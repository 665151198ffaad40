"""The session spec (TOML): who takes part, what is computed, who learns the result."""

from __future__ import annotations

import hashlib
import math
import tomllib
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

import cbor2

from enclaves.attestation import Policy
from engine.errors import ConfigError
from engine.smpc._ring import MAX_ABS_BITS, FixedPoint
from engine.smpc._transport import Node

_DEFAULT_TIMEOUT_S = 30.0
_DEFAULT_DEALER_TIMEOUT_S = 10.0
# Keys of [dealer] that form the attestation policy each party applies to the dealer enclave.
_POLICY_KEYS = ("measurements", "signers", "accepted_tcb", "allow_simulated", "max_age_s")
_NODE_KEYS = ("name", "address", "cert_fingerprint")


class DealerMode(Enum):
    """Where a session's correlated randomness comes from."""

    ENCLAVE = "enclave"  # the dealer app in an attested enclave; the host only relays
    PROCESS = "process"  # a trusted ``finveil smpc dealer`` process (tests, benchmarks)


@dataclass(frozen=True, slots=True, kw_only=True)
class DealerTrust:
    """What every party pins about an enclave dealer (``mode = "enclave"``).

    Args:
        policy: The attestation policy the dealer's quote must pass (measurement allowlist
            or signer rules; debug enclaves are always refused).
        root_fingerprint: ``sha256:<hex>`` of the platform root CA certificate (DER).
        timeout_s: Longest wait for each step of the dealer exchange.
    """

    policy: Policy
    root_fingerprint: str
    timeout_s: float = _DEFAULT_DEALER_TIMEOUT_S


class Computation(Enum):
    """What a session computes."""

    SUM = "sum"
    MEAN = "mean"
    VARIANCE = "variance"
    COUNT = "count"
    HISTOGRAM = "histogram"
    DOT = "dot"
    LOGREG_SCORE = "logreg-score"
    THRESHOLD = "threshold"
    PSI = "psi"
    PSI_SIZE = "psi-size"

    @property
    def is_aligned(self) -> bool:
        """Whether every party's input rows must line up (same length, same order)."""
        return self in (Computation.DOT, Computation.LOGREG_SCORE, Computation.THRESHOLD)


@dataclass(frozen=True, slots=True, kw_only=True)
class Feature:
    """One logistic-regression feature: ``party`` holds ``column``, weighted by ``weight``."""

    party: str
    column: str
    weight: float


@dataclass(frozen=True, slots=True, kw_only=True)
class SessionSpec:
    """A validated session spec; ``spec_hash`` is SHA-256 over its canonical CBOR form."""

    session_id: str
    computation: Computation
    parties: tuple[Node, ...]
    reveal_to: frozenset[str]
    timeout_s: float = _DEFAULT_TIMEOUT_S
    column: str | None = None
    codec: FixedPoint = field(default_factory=FixedPoint)
    buckets: tuple[float, ...] = ()
    threshold: float | None = None
    bound: float | None = None
    left: str | None = None
    right: str | None = None
    features: tuple[Feature, ...] = ()
    intercept: float = 0.0
    dealer: Node | None = None
    dealer_mode: DealerMode = DealerMode.ENCLAVE
    dealer_trust: DealerTrust | None = None
    spec_hash: bytes = b""

    @property
    def names(self) -> list[str]:
        """Party names in spec order (the order fixes each party's index)."""
        return [p.name for p in self.parties]

    @property
    def needs_dealer(self) -> bool:
        """Whether the computation consumes dealer randomness."""
        return self.computation in (Computation.DOT, Computation.THRESHOLD) or (
            self.computation is Computation.LOGREG_SCORE and self.threshold is not None
        )

    def index(self, party: str) -> int:
        """Return the index of ``party``, raising ConfigError if it is not in the session."""
        if party not in self.names:
            raise ConfigError(f"unknown party {party!r}; the session lists {', '.join(self.names)}")
        return self.names.index(party)

    def columns_of(self, party: str) -> list[str]:
        """Return the input columns ``party`` must provide."""
        if self.computation is Computation.LOGREG_SCORE:
            return [f.column for f in self.features if f.party == party]
        if self.computation is Computation.DOT and party not in (self.left, self.right):
            return []
        return [self.column] if self.column else []

    def check_rows(self, rows: int) -> None:
        """Raise ConfigError if aligned ``rows`` would overflow the ring for this spec."""
        if self.computation is Computation.DOT and self.bound is not None:
            scale = self.codec.scale
            if rows * (self.bound * scale) ** 2 >= 2.0**MAX_ABS_BITS:
                raise ConfigError(
                    f"dot product of {rows} rows with |x| <= {self.bound} overflows Z_2^64 at "
                    f"scale {scale}; lower bound, frac_bits or decimals"
                )


def _node(raw: Any, where: str) -> Node:
    if not isinstance(raw, dict):
        raise ConfigError(f"{where} must be a table")
    try:
        name, address, fp = str(raw["name"]), str(raw["address"]), str(raw["cert_fingerprint"])
    except KeyError as exc:
        raise ConfigError(f"{where} lacks {exc.args[0]!r}") from None
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ConfigError(f"{where}.address must be HOST:PORT")
    if not fp.startswith("sha256:") or len(fp) != 71:
        raise ConfigError(f"{where}.cert_fingerprint must be 'sha256:' and 64 hex digits")
    return Node(name=name, host=host, port=int(port), fingerprint=fp.lower())


def parse_spec(text: str) -> SessionSpec:
    """Parse and validate a session spec from TOML text.

    Raises:
        ConfigError: If the TOML is invalid or the spec is incomplete or inconsistent.
    """
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"session spec is not valid TOML: {exc}") from None
    digest = hashlib.sha256(cbor2.dumps(raw, canonical=True)).digest()
    s = raw.get("session")
    if not isinstance(s, dict):
        raise ConfigError("session spec lacks a [session] table")
    try:
        computation = Computation(s.get("computation"))
    except ValueError:
        choices = " | ".join(c.value for c in Computation)
        raise ConfigError(f"session.computation must be one of {choices}") from None
    parties = tuple(_node(p, f"party[{i}]") for i, p in enumerate(raw.get("party", [])))
    names = [p.name for p in parties]
    if len(parties) < 2:
        raise ConfigError(f"a session needs at least 2 parties, the spec lists {len(parties)}")
    if len(set(names)) != len(names) or len({(p.host, p.port) for p in parties}) != len(names):
        raise ConfigError("party names and addresses must be unique")
    reveal = s.get("reveal_to", names)
    if not isinstance(reveal, list) or not reveal or not set(reveal) <= set(names):
        raise ConfigError("session.reveal_to must list parties of the session")
    timeout = float(s.get("timeout_s", _DEFAULT_TIMEOUT_S))
    if not 0 < timeout <= 3600:
        raise ConfigError("session.timeout_s must be in (0, 3600]")
    dealer = _node(raw["dealer"], "dealer") if "dealer" in raw else None
    mode, trust = _dealer(raw["dealer"]) if "dealer" in raw else (DealerMode.ENCLAVE, None)
    spec = SessionSpec(
        session_id=str(s.get("id", "")),
        computation=computation,
        parties=parties,
        reveal_to=frozenset(reveal),
        timeout_s=timeout,
        column=str(s["column"]) if "column" in s else None,
        codec=_codec(s),
        buckets=tuple(float(b) for b in s.get("buckets", [])),
        threshold=float(s["threshold"]) if "threshold" in s else None,
        bound=float(s["bound"]) if "bound" in s else None,
        left=str(s.get("left", names[0])),
        right=str(s.get("right", names[1])),
        features=tuple(_features(raw.get("feature", []))),
        intercept=float(raw.get("model", {}).get("intercept", 0.0)),
        dealer=dealer,
        dealer_mode=mode,
        dealer_trust=trust,
        spec_hash=digest,
    )
    _check(spec)
    return spec


def _dealer(raw: dict[str, Any]) -> tuple[DealerMode, DealerTrust | None]:
    try:
        mode = DealerMode(raw.get("mode", DealerMode.ENCLAVE.value))
    except ValueError:
        raise ConfigError('dealer.mode must be "enclave" or "process"') from None
    extra = set(raw) - {"mode", *_NODE_KEYS}
    if mode is DealerMode.PROCESS:
        if extra:
            raise ConfigError(f'dealer: keys {sorted(extra)} need mode = "enclave"')
        return mode, None
    unknown = extra - {*_POLICY_KEYS, "root_fingerprint", "timeout_s"}
    if unknown:
        # allow_debug is deliberately not accepted: a debug enclave's memory is readable.
        raise ConfigError(f"dealer: unknown keys {sorted(unknown)}")
    if not raw.get("measurements") and not raw.get("signers"):
        raise ConfigError(
            'dealer: mode = "enclave" needs measurements = ["<64 hex>"] or [[dealer.signers]]'
        )
    root = str(raw.get("root_fingerprint", "")).lower()
    if not root.startswith("sha256:") or len(root) != 71:
        raise ConfigError("dealer.root_fingerprint must be 'sha256:' and 64 hex digits")
    timeout = raw.get("timeout_s", _DEFAULT_DEALER_TIMEOUT_S)
    if not isinstance(timeout, int | float) or not 0 < timeout <= 3600:
        raise ConfigError("dealer.timeout_s must be in (0, 3600]")
    policy = Policy.from_mapping({k: raw[k] for k in _POLICY_KEYS if k in raw})
    return mode, DealerTrust(policy=policy, root_fingerprint=root, timeout_s=float(timeout))


def _codec(s: dict[str, Any]) -> FixedPoint:
    try:
        return FixedPoint(
            frac_bits=int(s.get("frac_bits", 16)),
            decimals=int(s["decimals"]) if "decimals" in s else None,
        )
    except ValueError as exc:
        raise ConfigError(f"session: {exc}") from None


def _features(raw: Any) -> list[Feature]:
    if not isinstance(raw, list):
        raise ConfigError("[[feature]] must be an array of tables")
    try:
        return [
            Feature(party=str(f["party"]), column=str(f["column"]), weight=float(f["weight"]))
            for f in raw
        ]
    except (KeyError, TypeError, ValueError):
        raise ConfigError("each [[feature]] needs party, column and a numeric weight") from None


def _check(spec: SessionSpec) -> None:
    c = spec.computation
    if not spec.session_id or len(spec.session_id) > 128:
        raise ConfigError("session.id must have 1 to 128 characters")
    if c is not Computation.LOGREG_SCORE and not spec.column:
        raise ConfigError(f"computation {c.value!r} needs session.column")
    if c is Computation.HISTOGRAM and (
        len(spec.buckets) < 2
        or any(b >= a for b, a in zip(spec.buckets, spec.buckets[1:], strict=False))
    ):
        raise ConfigError("histogram needs session.buckets: at least 2 increasing edges")
    if c is Computation.THRESHOLD and spec.threshold is None:
        raise ConfigError("threshold needs session.threshold")
    if c is Computation.LOGREG_SCORE:
        if not spec.features or not {f.party for f in spec.features} <= set(spec.names):
            raise ConfigError("logreg-score needs [[feature]] tables naming parties of the session")
        if spec.threshold is not None and not 0 < spec.threshold < 1:
            raise ConfigError("logreg-score threshold is a probability in (0, 1)")
    if c is Computation.DOT:
        if spec.left == spec.right or not {spec.left, spec.right} <= set(spec.names):
            raise ConfigError("dot needs session.left and session.right: two different parties")
        if spec.bound is None or not spec.bound > 0 or not math.isfinite(spec.bound):
            raise ConfigError("dot needs session.bound: a public bound on |value|")
    if spec.needs_dealer and spec.dealer is None:
        raise ConfigError(f"computation {c.value!r} needs a [dealer] table")
