"""Shared CKKS keys: key generation is the slow part, so it happens once per session."""

from __future__ import annotations

import pytest

from engine.he import CKKSKeys, CKKSParams, PublicContext


@pytest.fixture(scope="session")
def keys() -> CKKSKeys:
    return CKKSKeys.generate(CKKSParams.DEFAULT)


@pytest.fixture(scope="session")
def public(keys: CKKSKeys) -> PublicContext:
    # What a worker holds: loaded from the shipped bytes, not the owner's object.
    return PublicContext.from_bytes(keys.public_context().to_bytes())


@pytest.fixture(scope="session")
def other_keys() -> CKKSKeys:
    return CKKSKeys.generate(CKKSParams.DEFAULT)


@pytest.fixture(scope="session")
def deep_keys() -> CKKSKeys:
    return CKKSKeys.generate(CKKSParams.LOGISTIC)
