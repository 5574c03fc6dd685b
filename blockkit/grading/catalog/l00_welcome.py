"""Lesson 00, welcome: three warm-up exercises on bits and bytes, to learn how checks work."""

from __future__ import annotations

from blockkit.grading.registry import Case, add_cases, define


def _bits(data: bytes) -> str:
    return "".join(f"{byte:08b}" for byte in data)


def _leading_zero_bits(data: bytes) -> int:
    bits = _bits(data)
    return len(bits) - len(bits.lstrip("0"))


define(
    "00.1",
    "Bytes as a string of bits",
    function="to_bits",
    points=1,
    hint="format each byte with f'{byte:08b}' (8 digits, leading zeros kept) and join them",
)
add_cases(
    "00.1",
    [
        Case("no bytes", (b"",), ""),
        Case("one zero byte", (b"\x00",), "00000000", hint="keep the leading zeros: 8 per byte"),
        Case("the letter A", (b"A",), "01000001"),
        Case("two bytes", (b"\x01\xff",), "0000000111111111"),
        Case("32 bytes", (bytes(range(32)),), _bits(bytes(range(32)))),
    ],
)

define(
    "00.2",
    "Count the leading zero bits",
    function="leading_zero_bits",
    points=1,
    hint="count the '0' characters before the first '1' in to_bits(data)",
)
add_cases(
    "00.2",
    [
        Case("starts with a one", (b"\x80",), 0),
        Case("one zero byte then a one", (b"\x00\x01",), 15),
        Case("all zeros", (bytes(4),), 32, hint="with no '1' at all, every bit is a leading zero"),
        Case("no bytes", (b"",), 0),
        Case("a hash", (bytes.fromhex("000f" + "ab" * 30),), 12),
    ],
)

define(
    "00.3",
    "Does a hash meet a difficulty?",
    function="meets_difficulty",
    points=1,
    hint="a hash meets a difficulty of n zero bits when leading_zero_bits(digest) >= n",
)
add_cases(
    "00.3",
    [
        Case("exactly enough", (bytes.fromhex("0fff"), 4), True),
        Case("one short", (bytes.fromhex("1fff"), 4), False),
        Case("more than enough", (bytes.fromhex("00ff"), 4), True),
        Case("zero difficulty", (b"\xff", 0), True, hint="every hash meets a difficulty of 0"),
        Case("a real target", (bytes.fromhex("0007" + "ff" * 30), 13), True),
    ],
)
