from __future__ import annotations

from dataclasses import dataclass

import pytest

from engine.errors import KeyManagementError, KeyVersionMismatch
from engine.keys import check_groupable, check_joinable


@dataclass(frozen=True)
class Protection:
    key_id: str
    key_version: int


def test_same_versions_join() -> None:
    check_joinable({"pan": 2, "iban": 1}, {"pan": 2}, on=["pan"])
    check_joinable({"pan": 2}, {"pan": 2}, on=["pan", "amount"])  # amount: plain on both


def test_different_versions_refuse_to_join() -> None:
    with pytest.raises(KeyVersionMismatch, match=r"column 'pan'.*version 1.*version 2") as info:
        check_joinable({"pan": 1}, {"pan": 2}, on=["pan"])
    assert isinstance(info.value, KeyManagementError)
    assert "retokenize" in str(info.value)


def test_tokenized_against_plain_refuses() -> None:
    with pytest.raises(KeyVersionMismatch, match="right tokens are not tokenized"):
        check_joinable({"pan": 1}, {}, on=["pan"])


def test_manifest_records_and_objects() -> None:
    manifest = {"pan": {"kind": "pan", "key_id": "tokenize.pan", "key_version": 3}}
    check_joinable(manifest, {"pan": Protection("tokenize.pan", 3)}, on=["pan"])
    check_joinable(manifest, {"pan": 3}, on=["pan"])  # A bare version compares versions.
    with pytest.raises(KeyVersionMismatch, match=r"key tokenize\.id version 3"):
        check_joinable(manifest, {"pan": Protection("tokenize.id", 3)}, on=["pan"])


def test_group_by_across_parts() -> None:
    check_groupable([{"pan": 2}, {"pan": 2}, {"pan": 2}], by=["pan"])
    with pytest.raises(KeyVersionMismatch, match=r"group by on column 'pan'.*part 2 tokens use"):
        check_groupable([{"pan": 2}, {"pan": 2}, {"pan": 1}], by=["pan"])


def test_bad_arguments() -> None:
    with pytest.raises(TypeError, match="not a string"):
        check_groupable([{"pan": 1}], by="pan")
    with pytest.raises(TypeError, match="int"):
        check_joinable({"pan": True}, {"pan": 1}, on=["pan"])
    with pytest.raises(TypeError, match="key_version"):
        check_joinable({"pan": {"key_id": "x"}}, {"pan": 1}, on=["pan"])
    with pytest.raises(ValueError, match="names"):
        check_groupable([{"pan": 1}], by=["pan"], names=["a", "b"])
