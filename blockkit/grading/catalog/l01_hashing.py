"""Lesson 01, hashing: digests, the avalanche effect, hash chains and a preimage puzzle."""

from __future__ import annotations

import hashlib
from typing import Any

from blockkit.grading.catalog.l00_welcome import _leading_zero_bits
from blockkit.grading.registry import Case, add_cases, define


def _hex(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _chain(entries: list[str]) -> list[str]:
    links, previous = [], "0" * 64
    for entry in entries:
        previous = _hex(previous + entry)
        links.append(previous)
    return links


def _solve(challenge: str, zero_bits: int) -> int:
    nonce = 0
    while _leading_zero_bits(hashlib.sha256(f"{challenge}:{nonce}".encode()).digest()) < zero_bits:
        nonce += 1
    return nonce


define(
    "01.1",
    "SHA-256 of a text, in hex",
    function="sha256_hex",
    points=1,
    hint="hashlib.sha256(text.encode('utf-8')).hexdigest()",
)
add_cases(
    "01.1",
    [
        Case("'abc' (the FIPS 180 test vector)", ("abc",), _hex("abc")),
        Case("the empty text", ("",), _hex("")),
        Case("a sentence", ("blockkit",), _hex("blockkit")),
        Case(
            "non-ASCII text",
            ("héllo ✓",),
            _hex("héllo ✓"),
            hint="encode the text as UTF-8 before hashing: text.encode('utf-8')",
        ),
    ],
)

define(
    "01.2",
    "Count the bits that differ",
    function="bit_difference",
    points=2,
    hint="XOR each pair of bytes (a[i] ^ b[i]) and count the 1 bits: bin(x).count('1')",
)
add_cases(
    "01.2",
    [
        Case("equal inputs", (b"abc", b"abc"), 0),
        Case("all bits differ", (b"\x00", b"\xff"), 8),
        Case("one bit", (b"\x00\x00", b"\x00\x01"), 1),
        Case(
            "two hashes",
            (hashlib.sha256(b"a").digest(), hashlib.sha256(b"b").digest()),
            bin(
                int.from_bytes(hashlib.sha256(b"a").digest(), "big")
                ^ int.from_bytes(hashlib.sha256(b"b").digest(), "big")
            ).count("1"),
        ),
        Case(
            "different lengths",
            (b"ab", b"abc"),
            raises=ValueError,
            hint="inputs of different lengths cannot be compared bit by bit: raise ValueError",
        ),
    ],
)


def _changes_every_later_link(links: Any) -> str | None:
    original = _chain(["pay bob 5", "pay carol 7", "pay dave 1"])
    if not isinstance(links, list) or len(links) != 3:
        return "expected a list of 3 links"
    if any(a == b for a, b in zip(links, original, strict=True)):
        return "after tampering with the first entry, every link must change"
    return None


define(
    "01.3",
    "A hash chain",
    function="hash_chain",
    points=2,
    hint="start with previous = '0' * 64; for each entry: previous = sha256_hex(previous + entry)",
)
add_cases(
    "01.3",
    [
        Case("no entries", ([],), []),
        Case("one entry", (["genesis"],), _chain(["genesis"])),
        Case(
            "three entries",
            (["pay bob 5", "pay carol 7", "pay dave 1"],),
            _chain(["pay bob 5", "pay carol 7", "pay dave 1"]),
            hint="each link hashes the previous link's hex text followed by the entry",
        ),
        Case(
            "tampering with the first entry",
            (["pay bob 50", "pay carol 7", "pay dave 1"],),
            verify=_changes_every_later_link,
        ),
    ],
)

define(
    "01.4",
    "Solve a preimage puzzle",
    function="solve_puzzle",
    points=3,
    hint="try nonce = 0, 1, 2, ... and return the first whose hash of f'{challenge}:{nonce}' "
    "has at least zero_bits leading zero bits",
)
add_cases(
    "01.4",
    [
        Case("no work at all", ("lesson-01", 0), 0, hint="nonce 0 already meets 0 zero bits"),
        Case("4 zero bits", ("lesson-01", 4), _solve("lesson-01", 4)),
        Case("8 zero bits", ("alice", 8), _solve("alice", 8)),
        Case(
            "12 zero bits",
            ("bob", 12),
            _solve("bob", 12),
            hint="return the *smallest* nonce: count up from 0 and stop at the first that works",
        ),
    ],
)
