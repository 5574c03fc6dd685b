"""Canonical encoding: round trips, one encoding per value, strict rejection of anything else."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from blockkit.encoding import MAX_DEPTH, MAX_INT_BYTES, decode, encode
from blockkit.errors import EncodingError

PROPERTY = settings(max_examples=400, deadline=None, derandomize=True)

LIMIT = 256**MAX_INT_BYTES - 1
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-LIMIT, LIMIT),
    st.integers(-(2**70), 2**70),
    st.binary(max_size=64),
    st.text(max_size=32),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=6),
        st.dictionaries(st.text(max_size=8), inner, max_size=6),
    ),
    max_leaves=30,
)


@PROPERTY
@given(values)
def test_decode_inverts_encode(value):
    assert decode(encode(value)) == value
    assert encode(decode(encode(value))) == encode(value)


@PROPERTY
@given(st.dictionaries(st.text(max_size=6), st.integers(), min_size=2, max_size=8), st.randoms())
def test_dict_insertion_order_does_not_change_the_bytes(mapping, rnd):
    items = list(mapping.items())
    rnd.shuffle(items)
    assert encode(dict(items)) == encode(mapping)


@PROPERTY
@given(st.binary(max_size=64))
def test_random_bytes_decode_canonically_or_raise_encoding_error(data):
    try:
        value = decode(data)
    except EncodingError as exc:
        assert str(exc)
        return
    assert encode(value) == data  # accepted bytes are exactly the canonical encoding


@pytest.mark.parametrize(
    ("value", "hex_bytes"),
    [
        (None, "00"),
        (False, "01"),
        (True, "02"),
        (0, "0300000000"),
        (255, "0300000001ff"),
        (256, "03000000020100"),
        (-1, "040000000101"),
        (b"\xab", "0500000001ab"),
        ("é", "0600000002c3a9"),
        ([], "0700000000"),
        ([1, None], "07000000020300000001010" + "0"),
        ({"b": 1, "a": True}, "080000000206000000016102" + "060000000162" + "030000000101"),
    ],
)
def test_known_encodings(value, hex_bytes):
    assert encode(value).hex() == hex_bytes
    assert decode(bytes.fromhex(hex_bytes)) == value


def test_tuples_encode_as_lists_and_objects_through_to_canonical():
    class Point:
        def to_canonical(self):
            return [3, 4]

    assert encode((1, 2)) == encode([1, 2])
    assert encode({"p": Point()}) == encode({"p": [3, 4]})


@pytest.mark.parametrize(
    ("hex_bytes", "message"),
    [
        ("", "truncated"),
        ("03000000", "truncated"),
        ("0300000002ff", "truncated"),
        ("0000", "trailing"),
        ("09", "unknown tag"),
        ("ff", "unknown tag"),
        ("030000000100", "leading zero"),
        ("04000000020001", "leading zero"),
        ("0400000000", "negative zero"),
        ("0600000001ff", "UTF-8"),
        ("0700000002" + "00", "truncated"),
        ("08000000020600000001620006000000016100", "out of order"),
        ("08000000020600000001610006000000016100", "out of order or repeated"),
        ("0800000001030000000101" + "00", "not a string"),
    ],
)
def test_malformed_bytes_are_rejected_with_a_clear_error(hex_bytes, message):
    with pytest.raises(EncodingError, match=message):
        decode(bytes.fromhex(hex_bytes))


def test_integers_beyond_the_limit_are_refused_both_ways():
    encode(LIMIT)
    with pytest.raises(EncodingError):
        encode(LIMIT + 1)
    too_long = b"\x03" + (MAX_INT_BYTES + 1).to_bytes(4, "big") + b"\x01" * (MAX_INT_BYTES + 1)
    with pytest.raises(EncodingError, match="longer than"):
        decode(too_long)


def test_nesting_is_limited_so_hostile_bytes_cannot_exhaust_the_stack():
    deep: list = []
    for _ in range(MAX_DEPTH + 5):
        deep = [deep]
    with pytest.raises(EncodingError, match="nested"):
        encode(deep)
    hostile = bytes.fromhex("0700000001") * 100_000 + b"\x00"
    with pytest.raises(EncodingError, match="nested"):
        decode(hostile)


@pytest.mark.parametrize(
    "value", [1.5, {1, 2}, {1: "int key"}, object(), "\ud800", {"\udfff": 1}, [1.0]]
)
def test_values_without_a_canonical_form_are_refused(value):
    with pytest.raises(EncodingError):
        encode(value)


def test_decode_takes_bytes_only():
    with pytest.raises(EncodingError, match="bytes"):
        decode("00")


def test_a_huge_declared_length_is_truncation_not_a_memory_error():
    with pytest.raises(EncodingError, match="truncated"):
        decode(b"\x05\xff\xff\xff\xff" + b"x" * 10)
    with pytest.raises(EncodingError, match="truncated"):
        decode(b"\x07\xff\xff\xff\xff")
