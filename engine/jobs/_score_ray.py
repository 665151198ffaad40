"""The Ray adapter of the encrypt and score stages: workers hold only the public context."""

from __future__ import annotations

import numpy as np
import ray

from engine.he import CKKSKeys, EncryptedFrame, PublicContext


@ray.remote
def _encrypt_chunk(context: bytes, features: np.ndarray) -> bytes:
    # Ingest worker of the data owner: plaintext features in, ciphertexts out.
    public = PublicContext.from_bytes(context)
    return EncryptedFrame.encrypt(features, public).to_bytes()


@ray.remote
def _score_chunk(context: bytes, encrypted: bytes, weights: np.ndarray, intercept: float) -> bytes:
    # Compute worker: sees ciphertexts, the public context and plaintext weights only.
    public = PublicContext.from_bytes(context)
    frame = EncryptedFrame.from_bytes(encrypted, public)
    return frame.linear(weights, intercept).to_bytes()


def score_on_ray(
    features: np.ndarray,
    public: PublicContext,
    *,
    weights: np.ndarray,
    intercept: float,
    chunk_rows: int,
) -> list[bytes]:
    """Encrypt ``features`` and score them on Ray; return the encrypted margins per chunk.

    The public context is put into the object store once; each chunk of ``chunk_rows`` rows
    (a multiple of the slot count) becomes one encrypt task and one score task.
    """
    context = ray.put(public.to_bytes())
    weights_ref = ray.put(np.asarray(weights, dtype="float64"))
    scored = []
    for start in range(0, len(features), chunk_rows):
        encrypted = _encrypt_chunk.remote(context, features[start : start + chunk_rows])
        scored.append(_score_chunk.remote(context, encrypted, weights_ref, float(intercept)))
    return list(ray.get(scored))


def decrypt_scores(blobs: list[bytes], keys: CKKSKeys) -> np.ndarray:
    """Decrypt per-chunk encrypted margins on the owner's side (the secret key never moves)."""
    parts = [keys.decrypt(blob) for blob in blobs]
    return np.concatenate(parts) if parts else np.empty(0)
