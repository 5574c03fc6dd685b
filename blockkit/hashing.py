"""Hashing: SHA-256 from ``hashlib``, domain-separated hashes, and proof-of-work target arithmetic.

A hash is a 32-byte fingerprint: change one input bit and about half the output bits flip, and no
one knows how to find two inputs with the same fingerprint. Every identifier in blockkit (block
hash, transaction hash, address, Merkle node) is a SHA-256 hash.

Different kinds of objects are hashed under different *domain tags*, so a transaction can never be
confused with a Merkle node or a block header that happens to have the same bytes.

Proof of work compares a header hash, read as a 256-bit number, against a *target*: the smaller the
target, the rarer a hash below it, the more work a valid block proves.
"""

from __future__ import annotations

import hashlib
from typing import Any

__all__ = [
    "HASH_SIZE",
    "MAX_TARGET",
    "ZERO_HASH",
    "difficulty_from_target",
    "hash_hex",
    "hash_to_int",
    "hash_value",
    "meets_target",
    "sha256",
    "tagged_hash",
    "target_from_difficulty",
    "work_from_target",
]

HASH_SIZE = 32
ZERO_HASH = bytes(HASH_SIZE)
#: The easiest target there is: every hash meets it.
MAX_TARGET = (1 << 256) - 1


def sha256(data: bytes) -> bytes:
    """Return the SHA-256 digest of ``data`` (32 bytes)."""
    return hashlib.sha256(data).digest()


def tagged_hash(tag: bytes, data: bytes) -> bytes:
    """SHA-256 of ``data`` under a domain tag: ``sha256(len(tag) || tag || data)``.

    The length byte keeps tags from running into the data (``b"ab" + b"c"`` and ``b"a" + b"bc"``
    hash differently).
    """
    if len(tag) > 255:
        raise ValueError("a domain tag is at most 255 bytes")
    return hashlib.sha256(bytes((len(tag),)) + tag + data).digest()


def hash_value(tag: bytes, value: Any) -> bytes:
    """Hash any encodable value under a domain tag (its canonical bytes, see ``encoding``)."""
    from blockkit.encoding import encode

    return tagged_hash(tag, encode(value))


def hash_hex(digest: bytes, length: int | None = None) -> str:
    """Hex of a digest for display, optionally shortened to its first ``length`` characters."""
    text = digest.hex()
    return text if length is None else text[:length]


def hash_to_int(digest: bytes) -> int:
    """Read a digest as a big-endian unsigned integer, the way targets compare it."""
    return int.from_bytes(digest, "big")


def meets_target(digest: bytes, target: int) -> bool:
    """True when ``digest`` read as a number is at most ``target``: the proof-of-work test."""
    return int.from_bytes(digest, "big") <= target


def target_from_difficulty(difficulty: int) -> int:
    """The target for which, on average, ``difficulty`` hashes are tried before one meets it."""
    if difficulty < 1:
        raise ValueError("difficulty is at least 1 (every hash meets the target)")
    return MAX_TARGET // difficulty


def difficulty_from_target(target: int) -> float:
    """Expected number of hashes to find one at or below ``target`` (for display)."""
    return (MAX_TARGET + 1) / (target + 1)


def work_from_target(target: int) -> int:
    """The work a block at ``target`` proves: expected hashes, ``2**256 // (target + 1)``.

    Fork choice adds these up; the branch with the most accumulated work wins, not the longest.
    """
    if not 0 < target <= MAX_TARGET:
        raise ValueError(f"a target is between 1 and 2**256 - 1, not {target}")
    return (1 << 256) // (target + 1)
