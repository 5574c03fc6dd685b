"""Hashing helpers and target arithmetic, checked against hashlib and by hand."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from blockkit.encoding import encode
from blockkit.hashing import (
    MAX_TARGET,
    difficulty_from_target,
    hash_hex,
    hash_to_int,
    hash_value,
    meets_target,
    tagged_hash,
    target_from_difficulty,
    work_from_target,
)


def test_tags_are_length_prefixed_so_they_cannot_run_into_the_data():
    assert tagged_hash(b"ab", b"c") != tagged_hash(b"a", b"bc")
    assert tagged_hash(b"", b"x") == hashlib.sha256(b"\x00x").digest()
    with pytest.raises(ValueError, match="255"):
        tagged_hash(b"t" * 256, b"")


def test_hash_value_hashes_the_canonical_encoding():
    value = {"to": b"\x01" * 20, "amount": 5}
    assert hash_value(b"tag", value) == tagged_hash(b"tag", encode(value))


def test_display_and_number_forms():
    digest = hashlib.sha256(b"x").digest()
    assert hash_hex(digest) == digest.hex() and hash_hex(digest, 8) == digest.hex()[:8]
    assert hash_to_int(digest) == int(digest.hex(), 16)


def test_meets_target_is_at_most_inclusive():
    digest = (1000).to_bytes(32, "big")
    assert meets_target(digest, 1000) and meets_target(digest, 1001)
    assert not meets_target(digest, 999)


@settings(max_examples=200, derandomize=True)
@given(st.integers(1, 2**64))
def test_difficulty_and_target_invert_each_other(difficulty):
    target = target_from_difficulty(difficulty)
    assert 0 < target <= MAX_TARGET
    assert difficulty_from_target(target) == pytest.approx(difficulty, rel=1e-9)
    assert difficulty - 1 <= work_from_target(target) <= difficulty  # integer work rounds down


@settings(max_examples=200, derandomize=True)
@given(st.integers(1, MAX_TARGET - 1))
def test_a_smaller_target_is_more_work(target):
    assert work_from_target(target) >= work_from_target(target + 1)


def test_target_and_work_limits():
    assert work_from_target(MAX_TARGET) == 1
    assert target_from_difficulty(1) == MAX_TARGET
    for bad in (0, MAX_TARGET + 1, -5):
        with pytest.raises(ValueError, match="target"):
            work_from_target(bad)
    with pytest.raises(ValueError, match="difficulty"):
        target_from_difficulty(0)
