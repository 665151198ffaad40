"""Key rotation and retirement as the sidecar sees them (its own server and keyring)."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.errors import IntegrityError, KeyManagementError
from engine.keys import AccessPolicy
from engine.service import BackgroundServer, Client, Sidecar, SidecarOptions, create_app
from tests.engine.service.conftest import PANS, POLICY, make_ring


def test_client_key_rotation_and_retired_token_version(tmp_path: Path) -> None:
    ring, _, keys = make_ring(tmp_path)
    options = SidecarOptions(key_refresh_s=0.0)
    app = create_app(Sidecar(ring, AccessPolicy.from_mapping(POLICY), options=options))
    with BackgroundServer(app) as server:
        old = Client(server.url, "alice", keys["alice"])
        tokens = old.tokenize("pan", PANS, column="pan")["tokens"]
        ring.rotate("client.alice")
        new = Client(server.url, "alice", ring.primary("client.alice"))
        # Both live versions verify: a rotation needs no downtime.
        assert new.tokenize("pan", PANS, column="pan")["tokens"] == tokens
        assert old.tokenize("pan", PANS, column="pan")["tokens"] == tokens
        ring.retire("client.alice", 1)
        with pytest.raises(IntegrityError, match="rejected the request signature"):
            old.tokenize("pan", PANS, column="pan")
        # Tokens of a retired tokenization key version are never detokenized (409).
        ring.rotate("tokenize.pan")
        ring.retire("tokenize.pan", 1)
        with pytest.raises(KeyManagementError, match="HTTP 409"):
            new.detokenize(
                "pan",
                tokens,
                column="pan",
                key_version=1,
                purpose="fraud-investigation",
                justification="case FR-2026-0042",
            )
        assert new.tokenize("pan", PANS, column="pan")["key_version"] == 2
        old.close()
        new.close()


def test_options_are_validated() -> None:
    with pytest.raises(ValueError, match="max_body_bytes"):
        SidecarOptions(max_body_bytes=0)
