"""Random single changes to valid transactions and blocks are **all** rejected (thousands of cases).

A chain that accepts one altered transaction or block is broken, so these tests generate changes
to every field (and to every byte of the encodings) and require a rejection each time. Block
mutations are mined again so that proof of work cannot be what rejects them: the rule about the
changed field has to. And after all that, the genuine block must still be accepted: no forgery may
poison the chain against the real thing.
"""

from __future__ import annotations

import dataclasses

import pytest
from helpers import ALICE, BOB, CAROL, DAVE, FUNDS, MINER_A, new_chain, pay
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from blockkit.blocks import Block, Header
from blockkit.encoding import decode
from blockkit.errors import EncodingError, InvalidBlock, InvalidTransaction, OrphanBlock
from blockkit.hashing import MAX_TARGET, meets_target
from blockkit.keys import Address, PrivateKey
from blockkit.params import CLASSROOM
from blockkit.transactions import MAX_AMOUNT, MAX_NONCE, Transaction, validate_transaction

MANY = settings(
    max_examples=1_500,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
SOME = settings(MANY, max_examples=600)

SIGNERS = [
    ALICE,
    PrivateKey.from_seed(b"mutations-ed25519", suite="ed25519"),
    PrivateKey.from_seed(b"mutations-secp256k1", suite="secp256k1"),
]
OTHER_KEYS = [
    PrivateKey.from_seed(f"other-{s}".encode(), suite=s) for s in ("p256", "ed25519", "secp256k1")
]
ORDERS = {
    "p256": 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551,
    "secp256k1": 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141,
}


def signed(signer):
    return pay(new_chain(), signer, BOB, 25, fee=2, nonce=7, data=b"invoice 42")


TRANSACTIONS = [signed(s) for s in SIGNERS]

# --- transactions -----------------------------------------------------------------------------

ints = st.one_of(
    st.integers(0, 3),
    st.integers(0, MAX_NONCE),
    st.integers(0, MAX_AMOUNT),
    st.integers(min_value=-(2**130), max_value=2**130),
    st.booleans(),
    st.just("1"),
)
field_values = {
    "chain_id": ints,
    "nonce": ints,
    "value": ints,
    "fee": ints,
    "recipient": st.one_of(
        st.binary(min_size=20, max_size=20).map(Address), st.binary(max_size=40)
    ),
    "data": st.one_of(
        st.binary(max_size=64), st.binary(min_size=4_097, max_size=4_200), st.just("x")
    ),
    "public_key": st.sampled_from([k.public_key for k in OTHER_KEYS + SIGNERS]),
    "signature": st.binary(max_size=80),
}


@st.composite
def signature_tweaks(draw, tx):
    """Flip one bit of the signature, or swap in the other valid-looking S (high S)."""
    sig = tx.signature
    suite = tx.public_key.suite
    if suite in ORDERS and draw(st.booleans()):
        half = len(sig) // 2
        r, s = sig[:half], int.from_bytes(sig[half:], "big")
        return r + (ORDERS[suite] - s).to_bytes(half, "big")
    bit = draw(st.integers(0, len(sig) * 8 - 1))
    flipped = bytearray(sig)
    flipped[bit // 8] ^= 1 << (bit % 8)
    return bytes(flipped)


def assert_transaction_rejected(tx):
    with pytest.raises(InvalidTransaction) as failure:
        validate_transaction(tx, CLASSROOM)
    assert str(failure.value)


def test_the_unmutated_transactions_are_valid():
    for tx in TRANSACTIONS:
        validate_transaction(tx, CLASSROOM)


@MANY
@given(st.sampled_from(TRANSACTIONS), st.data())
def test_any_change_to_one_field_of_a_signed_transaction_is_rejected(tx, data):
    name = data.draw(st.sampled_from(sorted(field_values)), label="field")
    if name == "signature" and data.draw(st.booleans(), label="tweak"):
        value = data.draw(signature_tweaks(tx))
    else:
        value = data.draw(field_values[name], label=name)
    assume(type(value) is not type(getattr(tx, name)) or value != getattr(tx, name))
    assert_transaction_rejected(dataclasses.replace(tx, **{name: value}))


@MANY
@given(st.sampled_from(TRANSACTIONS), st.data())
def test_any_bit_flip_in_an_encoded_transaction_is_rejected(tx, data):
    raw = bytearray(tx.encoded)
    bit = data.draw(st.integers(0, len(raw) * 8 - 1), label="bit")
    raw[bit // 8] ^= 1 << (bit % 8)
    try:
        mutated = Transaction.decode(bytes(raw))
    except (EncodingError, InvalidTransaction):
        return  # refused at the parser: rejected
    assert mutated != tx  # canonical decoding: different bytes never give the same transaction
    assert_transaction_rejected(mutated)


# --- blocks -----------------------------------------------------------------------------------

NOW = 10_000


@pytest.fixture(scope="module")
def scene():
    """A chain one block high with a clock, and a valid next block carrying three payments."""
    chain = new_chain(clock=lambda: NOW)
    first = chain.mine_block([pay(chain, ALICE, CAROL, 5)], proposer=MINER_A.address, timestamp=100)
    chain.add_block(first)
    txs = [
        pay(chain, ALICE, BOB, 10),
        pay(chain, BOB, CAROL, 20, fee=3),
        pay(chain, DAVE, ALICE, 1),
    ]
    block = chain.mine_block(txs, proposer=MINER_A.address, timestamp=200)
    spare = pay(chain, CAROL, DAVE, 7)  # valid, but not in the block
    return chain, block, spare


def header_changes(chain, block):
    """Strategies for a changed value of each header field that no valid block could have."""
    h = block.header
    parent = chain.head.header
    drift = chain.params.max_future_drift
    return {
        "parent": st.one_of(
            st.binary(min_size=32, max_size=32).filter(lambda v: v != h.parent),
            st.just(chain.genesis.hash),
        ),
        "height": st.integers(0, 2**20).filter(lambda v: v != h.height),
        "timestamp": st.one_of(
            st.integers(0, parent.timestamp), st.integers(NOW + drift + 1, MAX_NONCE)
        ),
        "transactions_root": st.binary(min_size=32, max_size=32).filter(
            lambda v: v != h.transactions_root
        ),
        "state_root": st.binary(min_size=32, max_size=32).filter(lambda v: v != h.state_root),
        # harder targets are capped so that mining again stays quick
        "target": st.integers(h.target // 16, MAX_TARGET).filter(lambda v: v != h.target),
        "proposer": st.binary(min_size=20, max_size=20)
        .map(Address)
        .filter(lambda v: v != h.proposer),
        "seal": st.binary(min_size=1, max_size=96),
    }


def body_changes(block, spare):
    """Every way to change the transaction list by one step."""
    txs = list(block.transactions)
    changes = [txs[:i] + txs[i + 1 :] for i in range(len(txs))]  # drop one
    changes += [[*txs[: i + 1], txs[i], *txs[i + 1 :]] for i in range(len(txs))]  # duplicate one
    changes += [[*txs[:i], spare, *txs[i:]] for i in range(len(txs) + 1)]  # insert one
    changes += [[*txs[:i], spare, *txs[i + 1 :]] for i in range(len(txs))]  # replace one
    for i in range(len(txs)):  # swap two
        for j in range(i + 1, len(txs)):
            swapped = list(txs)
            swapped[i], swapped[j] = swapped[j], swapped[i]
            changes.append(swapped)
    changes += [
        [dataclasses.replace(tx, value=tx.value + 1) if k == i else tx for k, tx in enumerate(txs)]
        for i in range(len(txs))
    ]  # alter one (signature breaks)
    return changes


def assert_block_rejected(chain, block):
    before = (chain.head_hash, chain.state.root())
    with pytest.raises((InvalidBlock, OrphanBlock)) as failure:
        chain.add_block(block)
    assert str(failure.value)
    assert (chain.head_hash, chain.state.root()) == before


def test_the_unmutated_block_is_valid(scene):
    chain, block, _ = scene
    probe = new_chain(clock=lambda: NOW)
    probe.add_block(chain.head)
    assert probe.add_block(block).status == "extended"


@SOME
@given(st.data())
def test_any_change_to_one_header_field_is_rejected_even_with_valid_proof_of_work(scene, data):
    chain, block, _ = scene
    changes = header_changes(chain, block)
    name = data.draw(st.sampled_from(sorted(changes)), label="field")
    value = data.draw(changes[name], label=name)
    header = dataclasses.replace(block.header, nonce=0, **{name: value})
    assert_block_rejected(chain, chain.consensus.seal(Block(header, block.transactions)))


@SOME
@given(st.data())
def test_any_change_to_the_transaction_list_is_rejected(scene, data):
    chain, block, spare = scene
    transactions = data.draw(st.sampled_from(body_changes(block, spare)), label="transactions")
    remine_header = data.draw(st.booleans(), label="remine")
    header = block.header
    if remine_header:  # the header as it was but a fresh nonce: a distinct block hash
        header = chain.consensus.seal(
            Block(dataclasses.replace(header, nonce=header.nonce + 1))
        ).header
    assert_block_rejected(chain, Block(header, tuple(transactions)))


@MANY
@given(st.data())
def test_any_bit_flip_in_an_encoded_block_is_rejected(scene, data):
    chain, block, _ = scene
    raw = bytearray(block.encoded)
    bit = data.draw(st.integers(0, len(raw) * 8 - 1), label="bit")
    raw[bit // 8] ^= 1 << (bit % 8)
    try:
        mutated = Block.decode(bytes(raw))
    except InvalidBlock:
        return  # refused at the parser
    assert mutated != block
    # Only a changed nonce that happens to meet the target again is a genuinely valid block.
    same_but_nonce = mutated.transactions == block.transactions and (
        dataclasses.replace(mutated.header, nonce=block.header.nonce) == block.header
    )
    assume(not (same_but_nonce and meets_target(mutated.hash, block.header.target)))
    assert_block_rejected(chain, mutated)


def test_after_every_forgery_the_genuine_block_is_still_accepted(scene):
    """Runs last in this module: none of the thousands of rejected forgeries poisoned the chain."""
    chain, block, _ = scene
    assert chain.add_block(block).status == "extended"
    assert chain.head_hash == block.hash


def test_decoded_encodings_are_canonical(scene):
    _, block, _ = scene
    assert Block.decode(block.encoded) == block
    assert isinstance(decode(block.header.encoded), list)
    assert Header.from_canonical(decode(block.header.encoded)) == block.header
    assert FUNDS  # the scene spends from funded accounts
