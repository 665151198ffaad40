"""Decide app: receives the CKKS key by key release, turns encrypted scores into decisions."""

from __future__ import annotations

import enum
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from enclaves.keyrelease import client_ids, receive_key, require_client, unwrap_payload
from enclaves.runtime import EnclaveContext, Request
from engine.errors import ConfigError, PolicyDenied
from engine.he import CKKSKeys, EncryptedVector, VectorKind
from engine.keys import KeyPurpose


class Output(enum.Enum):
    """What leaves the enclave per record (see ``enclave.toml``)."""

    DECISION = "decision"
    THRESHOLDED = "thresholded"
    SCORE = "score"
    MARGIN = "margin"


class Score(enum.Enum):
    """How decrypted values become the score that is compared to the threshold."""

    PROBABILITY = "probability"
    RAW = "raw"


@dataclass(frozen=True, slots=True, kw_only=True)
class DecisionPolicy:
    """Threshold, labels and what may be revealed.

    Args:
        score: How decrypted values become scores.
        threshold: Records with a score at or above it get ``labels[1]``.
        labels: Labels below and at-or-above the threshold.
        output: What is returned per record.
        score_decimals: Rounding of returned scores (coarsens what a caller learns).
        reveal_margins: Must be true for ``output = "margin"``.
        max_records: Largest request.
    """

    score: Score
    threshold: float
    labels: tuple[str, str]
    output: Output
    score_decimals: int
    reveal_margins: bool
    max_records: int

    def __post_init__(self) -> None:
        if not math.isfinite(self.threshold):
            raise ConfigError("decide config threshold: must be a finite number")
        if self.score is Score.PROBABILITY and not 0.0 < self.threshold < 1.0:
            raise ConfigError("decide config threshold: must lie in (0, 1) for probabilities")
        if len(set(self.labels)) != 2 or not all(self.labels):
            raise ConfigError("decide config labels: two distinct non-empty labels are needed")
        if not 0 <= self.score_decimals <= 6:
            raise ConfigError("decide config score_decimals: must lie in [0, 6]")
        if self.output is Output.MARGIN and not self.reveal_margins:
            raise ConfigError("decide config output 'margin' needs reveal_margins = true")
        if self.max_records < 1:
            raise ConfigError("decide config max_records: must be positive")

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> DecisionPolicy:
        """Parse the app config.

        Raises:
            ConfigError: A value is missing or invalid.
        """
        try:
            labels = config.get("labels", ["approve", "review"])
            if not isinstance(labels, list) or len(labels) != 2:
                raise ConfigError("decide config labels: must be a list of two labels")
            return cls(
                score=Score(config.get("score", "probability")),
                threshold=float(config.get("threshold", 0.5)),
                labels=(str(labels[0]), str(labels[1])),
                output=Output(config.get("output", "decision")),
                score_decimals=int(config.get("score_decimals", 2)),
                reveal_margins=config.get("reveal_margins", False) is True,
                max_records=int(config.get("max_records", 1_000_000)),
            )
        except (TypeError, ValueError) as exc:
            if isinstance(exc, ConfigError):
                raise
            raise ConfigError(f"decide config is invalid ({exc})") from None

    def describe(self) -> dict[str, Any]:
        """Return the policy as a CBOR-friendly map (public: it is measured)."""
        return {
            "score": self.score.value,
            "threshold": self.threshold,
            "labels": list(self.labels),
            "output": self.output.value,
            "score_decimals": self.score_decimals,
            "reveal_margins": self.reveal_margins,
            "max_records": self.max_records,
        }

    def apply(self, scores: np.ndarray, margins: np.ndarray | None) -> dict[str, Any]:
        """Turn decrypted per-record scores into the reply this policy allows.

        Args:
            scores: One score per record (probabilities or raw values per ``score``).
            margins: The raw decrypted values, needed only for ``output = "margin"``.
        """
        if not np.all(np.isfinite(scores)):
            raise ConfigError("decide: a decrypted score is not finite (wrong key or scale?)")
        high = scores >= self.threshold
        reply: dict[str, Any] = {
            "count": int(scores.shape[0]),
            "decisions": [self.labels[int(h)] for h in high],
        }
        rounded = _rounded(scores, self.score_decimals)
        if self.output is Output.THRESHOLDED:
            reply["scores"] = [s if h else None for s, h in zip(rounded, high, strict=True)]
        elif self.output in (Output.SCORE, Output.MARGIN):
            reply["scores"] = rounded
        if self.output is Output.MARGIN and margins is not None:
            reply["margins"] = [float(m) for m in margins]
        return reply


def _rounded(values: Sequence[float] | np.ndarray, decimals: int) -> list[float]:
    return [round(float(v), decimals) for v in values]


_PER_RECORD = (VectorKind.SCORE, VectorKind.PROBABILITY)


class DecideApp:
    """Answer ``info`` (plain), ``load_key`` (keyring only) and ``decide`` (job clients)."""

    def __init__(self, context: EnclaveContext) -> None:
        self._context = context
        self._policy = DecisionPolicy.from_config(context.config)
        self._key_id = str(context.config.get("key_id", "ckks.owner"))
        self._clients = client_ids(context.config, "clients")
        client_ids(context.config, "trusted_clients")  # Validated at load, used per release.
        self._keys: CKKSKeys | None = None

    def handle(self, request: Request) -> Any:
        """Dispatch one request."""
        if request.method == "info":
            return {
                "policy": self._policy.describe(),
                "key_id": self._key_id,
                "has_key": self._keys is not None,
                "fingerprint": None if self._keys is None else self._keys.fingerprint,
            }
        if request.method == "load_key":
            return self._load_key(request)
        if request.method == "decide":
            require_client(request, self._clients, what="decide")
            return self._decide(request.args)
        raise PolicyDenied(f"unknown method {request.method!r}")

    def _load_key(self, request: Request) -> dict[str, Any]:
        received = receive_key(request, self._context, accepted_key_ids=[self._key_id])
        payload = received.extra.get("payload")
        if not isinstance(payload, bytes):
            raise ConfigError("load_key: the wrapped CKKS keys are required as 'payload'")
        # SECURITY: the CKKS secret key exists in the clear only here, inside the enclave;
        # the host relayed it wrapped under a key that travelled inside the channel.
        keys = CKKSKeys.from_bytes(unwrap_payload(received.material, payload,
                                                  purpose=KeyPurpose.CKKS))  # fmt: skip
        self._keys = keys
        return {"fingerprint": keys.fingerprint}

    def _decide(self, args: Any) -> dict[str, Any]:
        if self._keys is None:
            raise PolicyDenied("decide: no CKKS key has been released to this enclave")
        blobs = args.get("vectors") if isinstance(args, Mapping) else None
        if not isinstance(blobs, list) or not blobs or not all(isinstance(b, bytes) for b in blobs):
            raise ConfigError("decide: 'vectors' must be a non-empty list of serialized vectors")
        scores: list[np.ndarray] = []
        margins: list[np.ndarray] = []
        total = 0
        for blob in blobs:
            vector = EncryptedVector.from_bytes(blob, self._keys.public_context())
            if vector.kind not in _PER_RECORD:
                raise PolicyDenied(
                    f"decide: only per-record scores are decrypted, not {vector.kind.value!r}"
                )
            total += vector.count
            if total > self._policy.max_records:
                raise PolicyDenied(f"decide: more than {self._policy.max_records} records")
            value, margin = self._scores(vector)
            scores.append(value)
            margins.append(margin)
        return self._policy.apply(np.concatenate(scores), np.concatenate(margins))

    def _scores(self, vector: EncryptedVector) -> tuple[np.ndarray, np.ndarray]:
        assert self._keys is not None  # noqa: S101 (checked by the caller)
        if vector.kind is VectorKind.PROBABILITY:
            if self._policy.score is Score.RAW or self._policy.output is Output.MARGIN:
                raise PolicyDenied(
                    "decide: this policy needs SCORE vectors (raw values or margins), "
                    "not probabilities"
                )
            # Margins outside the polynomial's range get the exact sigmoid, inside the enclave.
            probabilities = self._keys.decrypt(vector, on_out_of_range="exact")
            return probabilities, probabilities
        values = self._keys.decrypt(vector)
        if self._policy.score is Score.PROBABILITY:
            return 1.0 / (1.0 + np.exp(-np.clip(values, -700.0, 700.0))), values
        return values, values


def create(context: EnclaveContext) -> DecideApp:
    """Entry point named in ``enclave.toml``."""
    return DecideApp(context)
