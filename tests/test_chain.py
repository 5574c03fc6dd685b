"""The chain: every rule that rejects a block, fees and rewards, retargeting, and the queries."""

from __future__ import annotations

import dataclasses

import pandas as pd
import pytest
from helpers import ALICE, BOB, CAROL, FUNDS, MINER_A, extend, new_chain, pay, remine
from helpers import with_transactions as with_txs

from blockkit.blocks import Block, transactions_root
from blockkit.chain import Chain, validate_header
from blockkit.errors import (
    InvalidBlock,
    OrphanBlock,
    UnknownBlock,
    UnknownTransaction,
)
from blockkit.hashing import difficulty_from_target
from blockkit.params import CLASSROOM
from blockkit.state import verify_account
from blockkit.transactions import sign_transaction


@pytest.fixture
def chain():
    chain = new_chain()
    extend(chain, [pay(chain, ALICE, BOB, 10)])
    return chain


def proposal(chain, transactions=(), gap=10):
    """A correctly mined block on the tip: tests below break exactly one thing in it."""
    return chain.mine_block(
        list(transactions),
        proposer=MINER_A.address,
        timestamp=chain.head.header.timestamp + gap,
    )


def snapshot(chain):
    return chain.head_hash, chain.height, chain.state.root(), len(list(chain.tips()))


def assert_rejected(chain, block, reason):
    """``block`` is rejected with ``reason`` and the chain is exactly as before."""
    before = snapshot(chain)
    with pytest.raises(InvalidBlock) as failure:
        chain.add_block(block)
    assert failure.value.reason == reason, str(failure.value)
    assert str(failure.value)  # a message a student can read
    assert snapshot(chain) == before
    return failure.value


def test_a_valid_block_extends_the_chain_and_pays_reward_and_fees(chain):
    before = chain.balance(MINER_A.address)
    txs = [pay(chain, ALICE, CAROL, 5, fee=3), pay(chain, BOB, CAROL, 7, fee=4)]
    block = proposal(chain, txs)
    result = chain.add_block(block)
    assert result.status == "extended" and result.head == block.hash == chain.head_hash
    assert chain.balance(MINER_A.address) == before + CLASSROOM.block_reward + 7
    assert chain.balance(CAROL.address) == FUNDS[CAROL.address] + 12
    assert chain.balance(ALICE.address) == FUNDS[ALICE.address] - 10 - 1 - 5 - 3
    assert chain.nonce(ALICE.address) == 2 and chain.nonce(BOB.address) == 1
    assert chain.add_block(block).status == "duplicate"


def test_bad_height_is_rejected(chain):
    block = proposal(chain)
    assert_rejected(chain, remine(chain, block, height=block.height + 1), "bad-height")


@pytest.mark.parametrize("delta", [0, -1])
def test_a_timestamp_not_after_the_parent_is_rejected(chain, delta):
    block = proposal(chain)
    late = remine(chain, block, timestamp=chain.head.header.timestamp + delta)
    assert_rejected(chain, late, "bad-timestamp")


def test_a_block_from_the_future_waits_for_the_clock_and_is_not_marked_invalid():
    now = [1_000]
    chain = new_chain(clock=lambda: now[0])
    ahead = chain.mine_block(
        proposer=MINER_A.address, timestamp=now[0] + CLASSROOM.max_future_drift + 1
    )
    assert_rejected(chain, ahead, "time-too-new")
    now[0] += 1  # the clock catches up: the very same block is now fine
    assert chain.add_block(ahead).status == "extended"


def test_a_wrong_parent_hash_is_rejected_by_validate_header(chain):
    block = proposal(chain)
    other = dataclasses.replace(block.header, parent=bytes(32))
    with pytest.raises(InvalidBlock) as failure:
        validate_header(chain, chain.head.header, other)
    assert failure.value.reason == "bad-parent"


def test_an_unknown_parent_is_an_orphan_not_an_invalid_block(chain):
    block = remine(chain, proposal(chain), parent=b"\x01" * 32)
    with pytest.raises(OrphanBlock, match="add the parent first"):
        chain.add_block(block)
    assert block.hash not in chain


def test_an_easier_target_is_rejected(chain):
    block = proposal(chain)
    easier = remine(chain, block, target=block.header.target * 2)
    assert_rejected(chain, easier, "bad-target")


def test_a_harder_target_than_the_rule_is_rejected_too(chain):
    block = proposal(chain)
    assert_rejected(chain, remine(chain, block, target=block.header.target // 2), "bad-target")


def test_insufficient_proof_of_work_is_rejected(chain):
    block = proposal(chain)
    nonce = next(
        n
        for n in range(block.header.nonce + 1, 10**6)
        if int.from_bytes(dataclasses.replace(block.header, nonce=n).hash, "big")
        > block.header.target
    )
    weak = Block(dataclasses.replace(block.header, nonce=nonce), block.transactions)
    assert_rejected(chain, weak, "bad-pow")


def test_a_seal_on_a_proof_of_work_block_is_rejected(chain):
    block = proposal(chain)
    assert_rejected(chain, remine(chain, block, seal=b"signed by me"), "unexpected-seal")


def test_too_many_transactions_are_rejected():
    params = dataclasses.replace(CLASSROOM, max_block_transactions=1)
    chain = new_chain(params)
    txs = [pay(chain, ALICE, BOB, 1), pay(chain, CAROL, BOB, 1)]
    block = chain.propose_block(txs[:1], MINER_A.address, timestamp=10)
    block = with_txs(chain, block, txs)
    assert_rejected(chain, block, "too-many-transactions")


def test_transactions_that_do_not_match_the_root_are_rejected(chain):
    txs = [pay(chain, ALICE, CAROL, 5), pay(chain, BOB, CAROL, 5)]
    block = proposal(chain, txs)
    assert_rejected(chain, with_txs(chain, block, txs[::-1]), "bad-transactions-root")
    assert_rejected(chain, with_txs(chain, block, txs[:1]), "bad-transactions-root")
    extra = pay(chain, CAROL, ALICE, 1)
    assert_rejected(chain, with_txs(chain, block, [*txs, extra]), "bad-transactions-root")


def test_the_same_transaction_twice_is_rejected(chain):
    tx = pay(chain, ALICE, CAROL, 5)
    block = chain.propose_block([tx], MINER_A.address, chain.head.header.timestamp + 10)
    header = dataclasses.replace(block.header, transactions_root=transactions_root([tx, tx]))
    twice = chain.consensus.seal(Block(header, (tx, tx)))
    assert_rejected(chain, twice, "duplicate-transaction")


def test_a_transaction_for_another_chain_is_rejected_statelessly(chain):
    foreign = sign_transaction(ALICE, CAROL.address, 5, nonce=1, chain_id=1, fee=1)
    block = proposal(chain)
    header = dataclasses.replace(block.header, transactions_root=transactions_root([foreign]))
    error = assert_rejected(
        chain, chain.consensus.seal(Block(header, (foreign,))), "bad-transaction"
    )
    assert "chain" in str(error)


def test_a_transaction_that_does_not_apply_rejects_the_whole_block(chain):
    good = pay(chain, BOB, CAROL, 5)
    replayed = chain.block_at(1).transactions[0]  # ALICE's nonce-0 payment, already mined
    block = chain.propose_block([good], MINER_A.address, chain.head.header.timestamp + 10)
    header = dataclasses.replace(
        block.header, transactions_root=transactions_root([good, replayed])
    )
    error = assert_rejected(
        chain, chain.consensus.seal(Block(header, (good, replayed))), "bad-transaction"
    )
    assert "nonce" in str(error).lower()
    assert chain.nonce(BOB.address) == 0  # the good transaction was undone with the block


def test_overspending_rejects_the_block(chain):
    poor = pay(chain, CAROL, ALICE, FUNDS[CAROL.address])  # value + fee > balance
    block = proposal(chain)
    header = dataclasses.replace(block.header, transactions_root=transactions_root([poor]))
    assert_rejected(chain, chain.consensus.seal(Block(header, (poor,))), "bad-transaction")


def test_a_wrong_state_root_is_rejected(chain):
    block = proposal(chain, [pay(chain, ALICE, CAROL, 5)])
    assert_rejected(chain, remine(chain, block, state_root=b"\x07" * 32), "bad-state-root")


def test_a_stolen_reward_is_a_wrong_state_root(chain):
    """Changing the proposer redirects reward and fees, so the committed state root is wrong."""
    block = proposal(chain, [pay(chain, ALICE, CAROL, 5)])
    assert_rejected(chain, remine(chain, block, proposer=CAROL.address), "bad-state-root")


def test_an_invalid_block_is_remembered_and_its_children_refused(chain):
    block = remine(chain, proposal(chain), state_root=bytes(32))
    assert_rejected(chain, block, "bad-state-root")
    assert chain.status(block.hash) == "invalid" and block.hash not in chain
    assert_rejected(chain, block, "known-invalid")
    child = Block(
        dataclasses.replace(
            block.header, parent=block.hash, height=block.height + 1, timestamp=99_999
        )
    )
    assert_rejected(chain, child, "invalid-parent")


def test_something_that_is_not_a_block_is_rejected(chain):
    assert_rejected(chain, "a block, honest", "malformed-block")


def test_difficulty_retargets_and_validation_enforces_it():
    chain = new_chain()
    for _ in range(CLASSROOM.retarget_interval - 1):
        extend(chain, gap=1)  # ten times faster than the 10 s target
    block = proposal(chain, gap=1)
    assert block.height % CLASSROOM.retarget_interval == 0
    assert block.header.target == CLASSROOM.initial_target // CLASSROOM.max_retarget_factor
    assert_rejected(chain, remine(chain, block, target=CLASSROOM.initial_target), "bad-target")
    chain.add_block(block)
    assert difficulty_from_target(chain.head.header.target) == pytest.approx(
        difficulty_from_target(CLASSROOM.initial_target) * CLASSROOM.max_retarget_factor, rel=1e-6
    )


def test_queries_by_hash_height_transaction_and_account(chain):
    tx = pay(chain, BOB, CAROL, 42)
    block = extend(chain, [tx])
    assert chain.block(block.hash) == block and chain.header(block.hash) == block.header
    assert chain.block_at(2) == block and chain.block_at(0) == chain.genesis
    where = chain.transaction(tx.hash)
    assert (where.transaction, where.block_hash, where.height, where.index) == (
        tx,
        block.hash,
        2,
        0,
    )
    assert chain.account(CAROL.address).balance == FUNDS[CAROL.address] + 42
    proof = chain.prove_account(CAROL.address)
    assert verify_account(chain.head.header.state_root, proof)
    assert chain.ancestor(block.hash, 1) == chain.block_at(1).header
    with pytest.raises(UnknownBlock, match="height 3"):
        chain.block_at(3)
    with pytest.raises(UnknownBlock):
        chain.block(b"\x09" * 32)
    with pytest.raises(UnknownTransaction):
        chain.transaction(b"\x09" * 32)


def test_dataframes_list_blocks_and_transactions(chain):
    extend(chain, [pay(chain, BOB, CAROL, 1), pay(chain, ALICE, CAROL, 2)])
    blocks = chain.to_dataframe("blocks")
    assert isinstance(blocks, pd.DataFrame)
    assert list(blocks["height"]) == [0, 1, 2]
    assert list(blocks["hash"]) == [b.hash.hex() for b in chain.main_chain()]
    assert blocks["main"].all() and (blocks["status"] == "valid").all()
    txs = chain.to_dataframe("transactions")
    assert list(txs["value"]) == [10, 1, 2] and list(txs["height"]) == [1, 2, 2]
    with pytest.raises(ValueError, match="'blocks' or 'transactions'"):
        chain.to_dataframe("accounts")


def test_the_chain_never_reads_the_clock_unless_given_one():
    chain = Chain(CLASSROOM, allocations=FUNDS)
    far_future = chain.mine_block(proposer=MINER_A.address, timestamp=10**12)
    assert chain.add_block(far_future).status == "extended"


def test_check_block_is_a_dry_run_that_names_the_fault_and_changes_nothing(chain):
    root, height = chain.state.root(), chain.height
    good = proposal(chain, [pay(chain, ALICE, BOB, 5)])
    chain.check_block(good)
    assert chain.state.root() == root and chain.height == height
    assert chain.add_block(good).status == "extended"  # the dry run left nothing behind
    with pytest.raises(InvalidBlock) as stale:
        chain.check_block(good)
    assert stale.value.reason == "not-on-tip"
    root = chain.state.root()
    lying = remine(chain, proposal(chain), state_root=bytes(32))
    with pytest.raises(InvalidBlock) as bad:
        chain.check_block(lying)
    assert bad.value.reason == "bad-state-root"
    assert chain.state.root() == root and chain.height == height + 1
