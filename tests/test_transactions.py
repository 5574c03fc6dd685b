"""Transactions: signing, stateless validation, canonical encoding, replay protection, limits."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from blockkit.encoding import encode
from blockkit.errors import (
    BlockkitError,
    EncodingError,
    ForgedTransaction,
    InvalidKey,
    InvalidSignature,
    InvalidTransaction,
    WrongChain,
)
from blockkit.keys import Address, PrivateKey
from blockkit.params import CLASSROOM, REALISTIC
from blockkit.transactions import (
    MAX_AMOUNT,
    MAX_NONCE,
    Transaction,
    sign_transaction,
    validate_transaction,
)

ALICE = PrivateKey.from_seed("alice")
BOB = PrivateKey.from_seed("bob")
MALLORY = PrivateKey.from_seed("mallory")
CHAIN_ID = CLASSROOM.chain_id
OTHER_CHAIN = dataclasses.replace(CLASSROOM, chain_id=CLASSROOM.chain_id + 1)


def make_tx(key=ALICE, to=BOB, value=10, *, nonce=0, fee=1, data=b"", chain_id=CHAIN_ID):
    return sign_transaction(
        key, to.address, value, nonce=nonce, chain_id=chain_id, fee=fee, data=data
    )


def assert_helpful(exc_info, *words):
    message = str(exc_info.value)
    assert message.strip(), "error messages must not be empty"
    for word in words:
        assert word in message, f"{word!r} not in {message!r}"


# --- signing and validity -----------------------------------------------------------------------


def test_signed_transaction_is_valid():
    tx = make_tx()
    validate_transaction(tx, CLASSROOM)  # raises if invalid
    assert tx.public_key.is_valid_signature(tx.signature, tx.signing_message)


def test_sign_transaction_sets_every_field():
    tx = make_tx(value=7, nonce=3, fee=2, data=b"memo")
    assert tx.chain_id == CHAIN_ID
    assert tx.nonce == 3
    assert tx.recipient == BOB.address
    assert isinstance(tx.recipient, Address)
    assert tx.value == 7
    assert tx.fee == 2
    assert tx.data == b"memo"
    assert tx.public_key == ALICE.public_key
    assert tx.total_cost == 9


def test_sender_is_the_address_of_the_signing_key():
    tx = make_tx()
    assert tx.sender == ALICE.address
    assert tx.sender == ALICE.public_key.address
    assert tx.sender != BOB.address
    assert make_tx(key=BOB, to=ALICE).sender == BOB.address


def test_recipient_given_as_hex_string_or_raw_bytes():
    as_str = sign_transaction(ALICE, str(BOB.address), 1, nonce=0, chain_id=CHAIN_ID)
    as_bytes = sign_transaction(ALICE, bytes(BOB.address), 1, nonce=0, chain_id=CHAIN_ID)
    assert as_str == as_bytes
    assert as_str.recipient == BOB.address
    validate_transaction(as_str, CLASSROOM)


@pytest.mark.parametrize("suite", ["p256", "secp256k1", "ed25519"])
def test_every_suite_signs_valid_transactions(suite):
    key = PrivateKey.from_seed("suite-user", suite=suite)
    tx = make_tx(key=key)
    validate_transaction(tx, CLASSROOM)
    assert tx.sender == key.address
    assert Transaction.decode(tx.encoded) == tx


def test_signing_is_deterministic():
    assert make_tx() == make_tx()
    assert make_tx().hash == make_tx().hash


def test_signing_message_is_domain_tag_plus_canonical_unsigned_fields():
    tx = make_tx(data=b"hello")
    assert tx.signing_message == b"blockkit/transaction/v1\x00" + encode(tx.unsigned_fields())
    assert tx.signature not in tx.signing_message


def test_encoded_is_canonical_encoding_of_all_fields():
    tx = make_tx(data=b"x" * 5)
    assert tx.encoded == encode(tx.to_canonical())
    assert tx.to_canonical()[-1] == tx.signature
    assert len(tx.to_canonical()) == 8


# --- encoding round trip and hashing ------------------------------------------------------------


def test_decode_round_trip():
    tx = make_tx(value=123, nonce=4, fee=5, data=b"\x00\xffdata")
    again = Transaction.decode(tx.encoded)
    assert again == tx
    assert again.hash == tx.hash
    assert again.encoded == tx.encoded
    assert again.sender == tx.sender
    assert isinstance(again.recipient, Address)
    validate_transaction(again, CLASSROOM)


@settings(derandomize=True, max_examples=40, deadline=None)
@given(
    value=st.integers(0, MAX_AMOUNT),
    fee=st.integers(0, MAX_AMOUNT),
    nonce=st.integers(0, MAX_NONCE),
    chain_id=st.integers(0, MAX_NONCE),
    data=st.binary(max_size=64),
    recipient=st.binary(min_size=20, max_size=20),
)
def test_decode_round_trip_property(value, fee, nonce, chain_id, data, recipient):
    tx = sign_transaction(
        ALICE, recipient, value, nonce=nonce, chain_id=chain_id, fee=fee, data=data
    )
    again = Transaction.decode(tx.encoded)
    assert again == tx
    assert again.hash == tx.hash
    params = dataclasses.replace(CLASSROOM, chain_id=chain_id)
    validate_transaction(again, params)


def test_decode_rejects_trailing_bytes_and_truncation():
    tx = make_tx()
    with pytest.raises(EncodingError):
        Transaction.decode(tx.encoded + b"\x00")
    with pytest.raises(EncodingError):
        Transaction.decode(tx.encoded[:-1])


def test_decode_rejects_wrong_shape():
    with pytest.raises(InvalidTransaction, match="8 fields"):
        Transaction.decode(encode(make_tx().to_canonical()[:7]))
    with pytest.raises(InvalidTransaction, match="8 fields"):
        Transaction.decode(encode(b"not a list"))


def test_decode_rejects_bad_public_key():
    fields = make_tx().to_canonical()
    fields[6] = ["p256", b"\x02" + b"\x00" * 5]
    with pytest.raises(InvalidTransaction, match="public key"):
        Transaction.decode(encode(fields))
    fields[6] = ["no-such-suite", ALICE.public_key.data]
    with pytest.raises(InvalidTransaction, match="public key"):
        Transaction.decode(encode(fields))


@pytest.mark.parametrize(
    "field, new_value",
    [
        ("chain_id", CHAIN_ID + 1),
        ("nonce", 1),
        ("recipient", MALLORY.address),
        ("value", 11),
        ("fee", 2),
        ("data", b"x"),
        ("public_key", MALLORY.public_key),
        ("signature", bytes(64)),
    ],
)
def test_hash_changes_with_every_field(field, new_value):
    tx = make_tx()
    assert getattr(tx, field) != new_value
    changed = dataclasses.replace(tx, **{field: new_value})
    assert changed.hash != tx.hash
    assert changed.encoded != tx.encoded
    if field != "signature":
        assert changed.signing_message != tx.signing_message
    else:
        assert changed.signing_message == tx.signing_message


def test_hash_is_32_bytes_and_covers_signature():
    tx = make_tx()
    assert len(tx.hash) == 32
    assert dataclasses.replace(tx, signature=tx.signature[:-1] + b"\x00").hash != tx.hash


# --- replay protection and forgeries ------------------------------------------------------------


def test_transaction_for_another_chain_is_rejected():
    tx = make_tx(chain_id=CHAIN_ID)
    validate_transaction(tx, CLASSROOM)
    with pytest.raises(WrongChain) as exc_info:
        validate_transaction(tx, OTHER_CHAIN)
    assert_helpful(exc_info, str(CHAIN_ID), str(OTHER_CHAIN.chain_id), "sign it again")
    assert isinstance(exc_info.value, InvalidTransaction)


def test_transaction_for_realistic_chain_is_rejected_on_classroom():
    tx = make_tx(chain_id=REALISTIC.chain_id)
    validate_transaction(tx, REALISTIC)
    with pytest.raises(WrongChain):
        validate_transaction(tx, CLASSROOM)


def test_changing_chain_id_after_signing_is_forgery():
    tx = make_tx(chain_id=CHAIN_ID)
    moved = dataclasses.replace(tx, chain_id=OTHER_CHAIN.chain_id)
    # The chain id now matches OTHER_CHAIN, but the signature covers the original id.
    with pytest.raises(ForgedTransaction) as exc_info:
        validate_transaction(moved, OTHER_CHAIN)
    assert_helpful(exc_info, "signature", "altered after signing")


def test_changing_nonce_after_signing_is_forgery():
    tx = make_tx(nonce=0)
    with pytest.raises(ForgedTransaction):
        validate_transaction(dataclasses.replace(tx, nonce=1), CLASSROOM)


@pytest.mark.parametrize(
    "field, new_value",
    [
        ("recipient", MALLORY.address),
        ("value", 1_000),
        ("fee", 0),
        ("data", b"injected"),
    ],
)
def test_changing_any_signed_field_is_forgery(field, new_value):
    tx = make_tx()
    with pytest.raises(ForgedTransaction):
        validate_transaction(dataclasses.replace(tx, **{field: new_value}), CLASSROOM)


def test_signature_from_another_key_is_rejected():
    tx = make_tx(key=ALICE)
    mallory_signature = MALLORY.sign(tx.signing_message)
    forged = dataclasses.replace(tx, signature=mallory_signature)
    with pytest.raises(ForgedTransaction) as exc_info:
        validate_transaction(forged, CLASSROOM)
    assert isinstance(exc_info.value, InvalidSignature)
    assert isinstance(exc_info.value, InvalidTransaction)
    assert_helpful(exc_info, forged.sender.short, "signed by another key")


def test_forged_transaction_is_caught_as_invalid_signature():
    tx = make_tx(key=ALICE)
    forged = dataclasses.replace(tx, public_key=MALLORY.public_key)  # claims to be from Mallory
    with pytest.raises(InvalidSignature):
        validate_transaction(forged, CLASSROOM)
    with pytest.raises(InvalidTransaction):
        validate_transaction(forged, CLASSROOM)


def test_tampered_signature_bytes_are_rejected():
    tx = make_tx()
    for index in (0, 31, 32, 63):
        flipped = bytearray(tx.signature)
        flipped[index] ^= 0x01
        with pytest.raises(ForgedTransaction):
            validate_transaction(dataclasses.replace(tx, signature=bytes(flipped)), CLASSROOM)
    for bad in (b"", tx.signature[:-1], tx.signature + b"\x00"):
        with pytest.raises(ForgedTransaction):
            validate_transaction(dataclasses.replace(tx, signature=bad), CLASSROOM)


def test_high_s_twin_signature_is_rejected():
    tx = make_tx()
    order = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551  # P-256 n
    r, s = tx.signature[:32], int.from_bytes(tx.signature[32:], "big")
    twin = r + (order - s).to_bytes(32, "big")
    assert twin != tx.signature
    with pytest.raises(ForgedTransaction):
        validate_transaction(dataclasses.replace(tx, signature=twin), CLASSROOM)


def test_check_signature_false_skips_only_the_signature():
    tx = make_tx()
    forged = dataclasses.replace(tx, signature=bytes(64))
    validate_transaction(forged, CLASSROOM, check_signature=False)
    with pytest.raises(WrongChain):
        validate_transaction(forged, OTHER_CHAIN, check_signature=False)
    with pytest.raises(InvalidTransaction):
        validate_transaction(
            dataclasses.replace(forged, value=-1), CLASSROOM, check_signature=False
        )


# --- ranges and limits --------------------------------------------------------------------------


def test_boundary_values_are_accepted():
    tx = make_tx(value=MAX_AMOUNT, fee=MAX_AMOUNT, nonce=MAX_NONCE)
    validate_transaction(tx, CLASSROOM)
    assert Transaction.decode(tx.encoded) == tx
    zero = make_tx(value=0, fee=0, nonce=0)
    validate_transaction(zero, CLASSROOM)


@pytest.mark.parametrize(
    "kwargs, field",
    [
        ({"value": -1}, "value"),
        ({"value": MAX_AMOUNT + 1}, "value"),
        ({"fee": -1}, "fee"),
        ({"fee": MAX_AMOUNT + 1}, "fee"),
        ({"nonce": -1}, "nonce"),
        ({"nonce": MAX_NONCE + 1}, "nonce"),
        ({"chain_id": -1}, "chain_id"),
        ({"chain_id": MAX_NONCE + 1}, "chain_id"),
        ({"value": True}, "value"),
        ({"nonce": 1.0}, "nonce"),
    ],
)
def test_sign_transaction_rejects_out_of_range_fields(kwargs, field):
    with pytest.raises(InvalidTransaction) as exc_info:
        make_tx(**kwargs)
    assert_helpful(exc_info, field, "must be an int")


@pytest.mark.parametrize(
    "field, bad",
    [
        ("value", -1),
        ("value", MAX_AMOUNT + 1),
        ("fee", -5),
        ("fee", MAX_AMOUNT + 1),
        ("nonce", MAX_NONCE + 1),
        ("nonce", -1),
        ("chain_id", -1),
        ("value", False),
    ],
)
def test_validate_rejects_out_of_range_fields(field, bad):
    tx = dataclasses.replace(make_tx(), **{field: bad})
    with pytest.raises(InvalidTransaction) as exc_info:
        validate_transaction(tx, CLASSROOM)
    assert not isinstance(exc_info.value, ForgedTransaction)  # caught before the signature
    assert_helpful(exc_info, field)


@pytest.mark.parametrize(
    "index, bad, field",
    [
        (3, MAX_AMOUNT + 1, "value"),
        (3, -1, "value"),
        (4, -1, "fee"),
        (4, MAX_AMOUNT + 1, "fee"),
        (1, MAX_NONCE + 1, "nonce"),
        (0, -1, "chain_id"),
        (5, "text", "data"),
        (7, "sig", "signature"),
    ],
)
def test_decode_rejects_out_of_range_fields(index, bad, field):
    fields = make_tx().to_canonical()
    fields[index] = bad
    with pytest.raises(InvalidTransaction) as exc_info:
        Transaction.decode(encode(fields))
    assert_helpful(exc_info, field)


@pytest.mark.parametrize("size", [0, 19, 21, 32])
def test_recipient_must_be_20_bytes(size):
    fields = make_tx().to_canonical()
    fields[2] = b"\x01" * size
    with pytest.raises(InvalidTransaction) as exc_info:
        Transaction.decode(encode(fields))
    assert_helpful(exc_info, "recipient", "20")

    bare = dataclasses.replace(make_tx(), recipient=b"\x01" * size)
    with pytest.raises(InvalidTransaction) as exc_info:
        validate_transaction(bare, CLASSROOM)
    assert_helpful(exc_info, "recipient", "20")


def test_sign_transaction_rejects_short_recipient():
    # The recipient is turned into an Address first, which refuses anything but 20 bytes.
    with pytest.raises(InvalidKey) as exc_info:
        sign_transaction(ALICE, b"\x01" * 19, 1, nonce=0, chain_id=CHAIN_ID)
    assert isinstance(exc_info.value, BlockkitError)
    assert_helpful(exc_info, "20 bytes")


def test_recipient_must_be_an_address_not_plain_bytes():
    tx = dataclasses.replace(make_tx(), recipient=bytes(BOB.address))
    with pytest.raises(InvalidTransaction, match="recipient"):
        validate_transaction(tx, CLASSROOM)


def test_data_up_to_the_limit_is_accepted():
    limit = CLASSROOM.max_transaction_data
    tx = make_tx(data=b"d" * limit)
    validate_transaction(tx, CLASSROOM)


def test_data_over_the_limit_is_rejected():
    limit = CLASSROOM.max_transaction_data
    tx = make_tx(data=b"d" * (limit + 1))
    with pytest.raises(InvalidTransaction) as exc_info:
        validate_transaction(tx, CLASSROOM)
    assert not isinstance(exc_info.value, ForgedTransaction)
    assert_helpful(exc_info, "data", str(limit + 1), str(limit))
    roomy = dataclasses.replace(CLASSROOM, max_transaction_data=limit + 1)
    validate_transaction(tx, roomy)


def test_data_limit_follows_params():
    tight = dataclasses.replace(CLASSROOM, max_transaction_data=0)
    validate_transaction(make_tx(data=b""), tight)
    with pytest.raises(InvalidTransaction, match="limit is 0"):
        validate_transaction(make_tx(data=b"x"), tight)


def test_non_transaction_is_rejected():
    with pytest.raises(InvalidTransaction) as exc_info:
        validate_transaction(make_tx().to_canonical(), CLASSROOM)
    assert_helpful(exc_info, "expected a Transaction", "list")


def test_wrong_types_for_data_public_key_signature():
    tx = make_tx()
    for field, bad, word in (
        ("data", "text", "data"),
        ("public_key", ALICE.public_key.data, "public_key"),
        ("signature", tx.signature.hex(), "signature"),
    ):
        with pytest.raises(InvalidTransaction) as exc_info:
            validate_transaction(dataclasses.replace(tx, **{field: bad}), CLASSROOM)
        assert not isinstance(exc_info.value, ForgedTransaction)
        assert_helpful(exc_info, word)


def test_transaction_is_frozen():
    tx = make_tx()
    with pytest.raises(dataclasses.FrozenInstanceError):
        tx.value = 1_000_000  # type: ignore[misc]


def test_repr_shows_parties_and_amounts():
    tx = make_tx(value=42, fee=3, nonce=9)
    text = repr(tx)
    assert "value=42" in text and "fee=3" in text and "nonce=9" in text
    assert ALICE.address.short in text and BOB.address.short in text
