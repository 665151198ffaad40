from __future__ import annotations

import pytest

from enclaves.attestation import NonceRegistry
from engine.errors import AttestationError


def test_issue_consume_once() -> None:
    nonces = NonceRegistry()
    first, second = nonces.issue(), nonces.issue()
    assert first != second
    assert len(first) == 32
    nonces.consume(first)
    with pytest.raises(AttestationError, match="already used"):
        nonces.consume(first)
    nonces.consume(second)


def test_add_validates() -> None:
    nonces = NonceRegistry()
    nonces.add(b"n" * 16)
    with pytest.raises(ValueError, match="already registered"):
        nonces.add(b"n" * 16)
    with pytest.raises(ValueError, match="16 bytes"):
        nonces.add(b"short")
    with pytest.raises(ValueError, match="ttl_s"):
        NonceRegistry(ttl_s=0)


def test_old_entries_are_pruned_but_still_refused() -> None:
    clock = [0.0]
    nonces = NonceRegistry(ttl_s=10, clock=lambda: clock[0])
    old = nonces.issue()
    nonces.consume(old)
    clock[0] = 100.0
    nonces.issue()  # prunes
    with pytest.raises(AttestationError, match="unknown"):
        nonces.consume(old)
