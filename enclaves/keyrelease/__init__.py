"""Attestation-bound key release: keys go only to enclaves whose fresh quote passes a policy."""

from enclaves.keyrelease._receive import (
    ReceivedKey,
    client_ids,
    receive_key,
    require_client,
    unwrap_payload,
    wrap_payload,
)
from enclaves.keyrelease._release import RELEASE_ACTION, KeyRelease, client_id_of, release_key

__all__ = [
    "RELEASE_ACTION",
    "KeyRelease",
    "ReceivedKey",
    "client_id_of",
    "client_ids",
    "receive_key",
    "release_key",
    "require_client",
    "unwrap_payload",
    "wrap_payload",
]
