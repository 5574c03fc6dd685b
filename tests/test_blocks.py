"""Blocks and headers: hashing, encoding, field checks, transactions root, seal message."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from blockkit.blocks import (
    HEADER_TAG,
    Block,
    Header,
    HeaderTemplate,
    check_header_fields,
    transactions_root,
)
from blockkit.encoding import decode, encode
from blockkit.errors import InvalidBlock
from blockkit.hashing import MAX_TARGET, ZERO_HASH, sha256, tagged_hash
from blockkit.keys import Address, PrivateKey
from blockkit.merkle import EMPTY_ROOT, hash_leaf, hash_root, merkle_root, merkle_root_of_hashes
from blockkit.params import CLASSROOM
from blockkit.transactions import MAX_NONCE, sign_transaction

ALICE, BOB = PrivateKey.from_seed("alice"), PrivateKey.from_seed("bob")
MINER = PrivateKey.from_seed("miner").address


def make_txs(count):
    return tuple(
        sign_transaction(
            ALICE, BOB.address, 10 + i, nonce=i, fee=1, chain_id=CLASSROOM.chain_id, data=b"m"
        )
        for i in range(count)
    )


TXS = make_txs(3)


def make_header(**changes):
    fields = {
        "parent": sha256(b"parent"),
        "height": 7,
        "timestamp": 1_700_000_000,
        "transactions_root": transactions_root(TXS),
        "state_root": sha256(b"state"),
        "target": CLASSROOM.initial_target,
        "proposer": MINER,
        "seal": b"",
        "nonce": 12345,
    }
    fields.update(changes)
    return Header(**fields)


# Each field with a valid alternative value.
ALTERNATIVES = {
    "parent": sha256(b"other parent"),
    "height": 8,
    "timestamp": 1_700_000_001,
    "transactions_root": EMPTY_ROOT,
    "state_root": sha256(b"other state"),
    "target": CLASSROOM.initial_target - 1,
    "proposer": Address(bytes(20)),
    "seal": b"sig",
    "nonce": 12346,
}


# --- header hash --------------------------------------------------------------------------------


def test_header_hash_is_deterministic():
    assert make_header().hash == make_header().hash
    assert len(make_header().hash) == 32
    assert make_header() == make_header()


def test_header_hash_is_tagged_hash_of_encoding():
    header = make_header()
    assert header.encoded == encode(header.to_canonical())
    assert header.hash == tagged_hash(HEADER_TAG, header.encoded)


def test_header_encoding_ends_with_8_byte_nonce():
    header = make_header(nonce=0x0102030405060708)
    assert header.encoded.endswith(b"\x05\x00\x00\x00\x08" + bytes(range(1, 9)))
    assert header.to_canonical()[-1] == (0x0102030405060708).to_bytes(8, "big")
    assert len(header.to_canonical()) == 9


@pytest.mark.parametrize("field", sorted(ALTERNATIVES))
def test_header_hash_changes_with_each_field(field):
    header = make_header()
    changed = make_header(**{field: ALTERNATIVES[field]})
    assert getattr(changed, field) != getattr(header, field)
    assert changed.hash != header.hash
    assert changed.encoded != header.encoded


def test_header_hash_distinct_across_all_single_field_changes():
    hashes = {make_header().hash}
    hashes.update(make_header(**{f: v}).hash for f, v in ALTERNATIVES.items())
    assert len(hashes) == 1 + len(ALTERNATIVES)


@settings(derandomize=True, max_examples=100, deadline=None)
@given(nonce=st.integers(0, MAX_NONCE))
def test_header_template_hash_matches_full_hash(nonce):
    header = make_header(nonce=0)
    template = HeaderTemplate(header)
    assert template.hash_with(nonce) == make_header(nonce=nonce).hash
    assert template.with_nonce(nonce) == make_header(nonce=nonce)


def test_header_template_ignores_the_template_nonce():
    assert HeaderTemplate(make_header(nonce=5)).hash_with(9) == make_header(nonce=9).hash


# --- seal message -------------------------------------------------------------------------------


def test_seal_message_excludes_seal_and_nonce():
    header = make_header(seal=b"", nonce=0)
    sealed = make_header(seal=b"a signature" * 10, nonce=99)
    assert sealed.hash != header.hash
    assert sealed.seal_message == header.seal_message
    assert make_header(seal=b"x").seal_message == header.seal_message
    assert make_header(nonce=1).seal_message == header.seal_message


@pytest.mark.parametrize("field", sorted(set(ALTERNATIVES) - {"seal", "nonce"}))
def test_seal_message_covers_every_other_field(field):
    assert make_header(**{field: ALTERNATIVES[field]}).seal_message != make_header().seal_message


def test_seal_message_is_domain_separated_encoding():
    header = make_header(seal=b"whatever")
    fields = header.fields_before_nonce()
    fields[-1] = b""
    assert header.seal_message == HEADER_TAG + b"/seal\x00" + encode(fields)
    assert header.seal_message != header.encoded
    assert not header.seal_message.startswith(header.encoded)


# --- check_header_fields ------------------------------------------------------------------------


def test_check_header_fields_accepts_valid_header():
    check_header_fields(make_header())
    check_header_fields(make_header(target=MAX_TARGET, nonce=MAX_NONCE, height=0, timestamp=0))
    check_header_fields(make_header(target=1, seal=b"s" * 4096))


@pytest.mark.parametrize(
    "field, bad, word",
    [
        ("parent", b"\x00" * 31, "parent"),
        ("parent", b"\x00" * 33, "parent"),
        ("parent", "00" * 32, "parent"),
        ("transactions_root", b"", "transactions_root"),
        ("state_root", None, "state_root"),
        ("state_root", bytearray(32), "state_root"),
        ("height", -1, "height"),
        ("height", MAX_NONCE + 1, "height"),
        ("height", True, "height"),
        ("height", 1.0, "height"),
        ("timestamp", -5, "timestamp"),
        ("timestamp", 2**64, "timestamp"),
        ("nonce", -1, "nonce"),
        ("nonce", MAX_NONCE + 1, "nonce"),
        ("target", 0, "target"),
        ("target", MAX_TARGET + 1, "target"),
        ("target", -1, "target"),
        ("target", True, "target"),
        ("proposer", bytes(20), "proposer"),
        ("proposer", "0x" + "00" * 20, "proposer"),
        ("seal", b"s" * 4097, "seal"),
        ("seal", "text", "seal"),
    ],
)
def test_check_header_fields_rejects(field, bad, word):
    with pytest.raises(InvalidBlock) as exc_info:
        check_header_fields(make_header(**{field: bad}))
    assert exc_info.value.reason == "malformed-header"
    assert word in str(exc_info.value)


# --- transactions root --------------------------------------------------------------------------


def test_transactions_root_is_merkle_root_of_transaction_hashes():
    assert transactions_root(TXS) == merkle_root([tx.hash for tx in TXS])
    assert transactions_root(TXS) == merkle_root_of_hashes([hash_leaf(tx.hash) for tx in TXS])


def test_transactions_root_of_nothing_is_empty_root():
    assert transactions_root(()) == EMPTY_ROOT
    assert transactions_root([]) == EMPTY_ROOT


def test_transactions_root_of_one_transaction():
    assert transactions_root(TXS[:1]) == hash_root(hash_leaf(TXS[0].hash), 1)


def test_transactions_root_depends_on_order_and_membership():
    root = transactions_root(TXS)
    assert transactions_root(TXS[::-1]) != root
    assert transactions_root(TXS[:2]) != root
    assert transactions_root((*TXS, TXS[-1])) != root
    assert transactions_root(make_txs(4)) != root


# --- blocks -------------------------------------------------------------------------------------


def test_block_hash_and_shortcuts_come_from_header():
    header = make_header()
    block = Block(header, TXS)
    assert block.hash == header.hash
    assert block.height == header.height
    assert block.parent == header.parent
    assert Block(header).transactions == ()
    assert Block(header, ()).hash == block.hash  # the hash covers only the header


def test_block_encode_decode_round_trip():
    block = Block(make_header(seal=b"seal"), TXS)
    again = Block.decode(block.encoded)
    assert again == block
    assert again.hash == block.hash
    assert again.header.encoded == block.header.encoded
    assert isinstance(again.transactions, tuple)
    assert [tx.hash for tx in again.transactions] == [tx.hash for tx in TXS]
    assert isinstance(again.header.proposer, Address)
    assert block.encoded == encode(block.to_canonical())


def test_empty_block_round_trip():
    block = Block(make_header(transactions_root=EMPTY_ROOT))
    assert Block.decode(block.encoded) == block


@settings(derandomize=True, max_examples=60, deadline=None)
@given(
    parent=st.binary(min_size=32, max_size=32),
    height=st.integers(0, MAX_NONCE),
    timestamp=st.integers(0, MAX_NONCE),
    target=st.integers(1, MAX_TARGET),
    proposer=st.binary(min_size=20, max_size=20),
    seal=st.binary(max_size=64),
    nonce=st.integers(0, MAX_NONCE),
    tx_count=st.integers(0, 3),
)
def test_block_round_trip_property(
    parent, height, timestamp, target, proposer, seal, nonce, tx_count
):
    header = Header(
        parent,
        height,
        timestamp,
        transactions_root(TXS[:tx_count]),
        sha256(parent),
        target,
        Address(proposer),
        seal,
        nonce,
    )
    block = Block(header, TXS[:tx_count])
    again = Block.decode(block.encoded)
    assert again == block
    assert again.hash == block.hash


@pytest.mark.parametrize(
    "garbage",
    [
        b"",
        b"\x00",
        b"garbage",
        b"\xff" * 10,
        encode(None),
        encode([1, 2]),
        encode([b"x"]),
        encode([1, 2, 3]),
    ],
)
def test_block_decode_of_garbage_is_malformed_block(garbage):
    with pytest.raises(InvalidBlock) as exc_info:
        Block.decode(garbage)
    assert exc_info.value.reason == "malformed-block"
    assert str(exc_info.value).startswith("malformed-block")


def test_block_decode_rejects_trailing_and_truncated_bytes():
    encoded = Block(make_header(), TXS).encoded
    for bad in (encoded + b"\x00", encoded[:-1], encoded[: len(encoded) // 2]):
        with pytest.raises(InvalidBlock) as exc_info:
            Block.decode(bad)
        assert exc_info.value.reason == "malformed-block"


def test_block_decode_rejects_bad_transaction_as_malformed_block():
    fields = decode(Block(make_header(), TXS).encoded)
    fields[1][0][3] = -1  # a negative value
    with pytest.raises(InvalidBlock) as exc_info:
        Block.decode(encode(fields))
    assert exc_info.value.reason == "malformed-block"
    assert "value" in str(exc_info.value)


def test_block_decode_rejects_non_list_transactions():
    header = make_header()
    with pytest.raises(InvalidBlock) as exc_info:
        Block.decode(encode([header, b"not a list"]))
    assert exc_info.value.reason == "malformed-block"


@pytest.mark.parametrize(
    "index, bad",
    [
        (0, b"short"),
        (1, -1),
        (5, 0),
        (6, b"\x00" * 19),
        (7, "seal"),
        (8, b"\x00" * 7),
        (8, 5),
    ],
)
def test_block_decode_rejects_malformed_header(index, bad):
    fields = decode(Block(make_header(), TXS).encoded)
    fields[0][index] = bad
    with pytest.raises(InvalidBlock) as exc_info:
        Block.decode(encode(fields))
    # The header's own checks name the header as the problem.
    assert exc_info.value.reason == "malformed-header"


def test_header_from_canonical_round_trip_and_shape():
    header = make_header(seal=b"s")
    assert Header.from_canonical(decode(header.encoded)) == header
    with pytest.raises(InvalidBlock) as exc_info:
        Header.from_canonical(decode(header.encoded)[:8])
    assert exc_info.value.reason == "malformed-header"
    with pytest.raises(InvalidBlock):
        Header.from_canonical("not a list")


@settings(derandomize=True, max_examples=200, deadline=None)
@given(data=st.data())
def test_block_decode_of_corrupted_bytes_never_raises_other_errors(data):
    encoded = Block(make_header(), TXS[:1]).encoded
    position = data.draw(st.integers(0, len(encoded) - 1))
    byte = data.draw(st.integers(0, 255))
    corrupted = encoded[:position] + bytes((byte,)) + encoded[position + 1 :]
    try:
        block = Block.decode(corrupted)
    except InvalidBlock as exc:
        assert exc.reason in {"malformed-block", "malformed-header"}
    else:
        assert block.encoded == corrupted  # canonical: only one encoding per block


@settings(derandomize=True, max_examples=200, deadline=None)
@given(garbage=st.binary(max_size=200))
def test_block_decode_of_random_bytes_raises_only_invalid_block(garbage):
    with pytest.raises(InvalidBlock):
        Block.decode(garbage)


def test_genesis_parent_is_zero_hash():
    from blockkit.blocks import GENESIS_PARENT

    assert GENESIS_PARENT == ZERO_HASH == bytes(32)


def test_block_and_header_are_frozen():
    block = Block(make_header(), TXS)
    with pytest.raises(dataclasses.FrozenInstanceError):
        block.header.nonce = 1  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        block.transactions = ()  # type: ignore[misc]
