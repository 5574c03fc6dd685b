"""The mempool: fee and nonce ordering, nonce gaps, replacement, eviction, every rejection."""

from __future__ import annotations

import random

import pytest

from blockkit.chain import Chain
from blockkit.errors import (
    DuplicateTransaction,
    ForgedTransaction,
    InsufficientFunds,
    InvalidTransaction,
    MempoolError,
    MempoolFull,
    NonceMismatch,
    WrongChain,
)
from blockkit.keys import PrivateKey
from blockkit.mempool import Mempool
from blockkit.params import CLASSROOM
from blockkit.state import State
from blockkit.transactions import sign_transaction

ALICE, BOB, CAROL, MINER = (PrivateKey.from_seed(s) for s in ("alice", "bob", "carol", "miner"))
CHAIN_ID = CLASSROOM.chain_id


def tx(key, nonce, fee=1, value=1, to=None, chain_id=CHAIN_ID):
    recipient = (to or MINER).address
    return sign_transaction(key, recipient, value, nonce=nonce, fee=fee, chain_id=chain_id)


@pytest.fixture
def state():
    return State({ALICE.address: 1_000, BOB.address: 1_000, CAROL.address: 1_000})


def test_select_orders_by_fee_across_senders_and_by_nonce_within(state):
    pool = Mempool()
    # Alice's nonce 1 pays the most, but must wait for her nonce 0.
    a0, a1 = tx(ALICE, 0, fee=1), tx(ALICE, 1, fee=50)
    b0 = tx(BOB, 0, fee=10)
    c0 = tx(CAROL, 0, fee=5)
    for t in (a1, a0, b0, c0):
        pool.add(t, state)
    assert pool.select(state) == [b0, c0, a0, a1]
    assert pool.select(state, max_count=2) == [b0, c0]


def test_selected_transactions_form_a_valid_block():
    chain = Chain(CLASSROOM, allocations={ALICE.address: 1_000, BOB.address: 500})
    pool = Mempool()
    rng = random.Random(7)
    nonces = {ALICE.address: 0, BOB.address: 0}
    for _ in range(40):
        key = rng.choice([ALICE, BOB])
        pool.add(tx(key, nonces[key.address], fee=rng.randint(0, 9), value=5), chain.state)
        nonces[key.address] += 1
    chosen = pool.select(chain.state)
    block = chain.mine_block(chosen, proposer=MINER.address, timestamp=10)
    result = chain.add_block(block)
    pool.on_block(result, chain.state)
    assert len(pool) == 40 - len(chosen)
    assert all(t.hash not in pool for t in chosen)


def test_nonce_gap_waits_until_filled(state):
    pool = Mempool()
    a2 = tx(ALICE, 2)
    pool.add(a2, state)
    assert pool.select(state) == []
    a0, a1 = tx(ALICE, 0), tx(ALICE, 1)
    pool.add(a0, state)
    assert pool.select(state) == [a0]  # 1 is still missing
    pool.add(a1, state)
    assert pool.select(state) == [a0, a1, a2]


def test_nonce_gap_too_large_is_rejected(state):
    pool = Mempool(max_nonce_gap=3)
    pool.add(tx(ALICE, 3), state)
    with pytest.raises(MempoolError, match="send the missing nonces first"):
        pool.add(tx(ALICE, 4), state)


def test_rejects_duplicates_replays_and_invalid(state):
    pool = Mempool()
    t = tx(ALICE, 0)
    pool.add(t, state)
    with pytest.raises(DuplicateTransaction):
        pool.add(t, state)
    used = State({ALICE.address: 1_000})
    used.apply_transaction(tx(ALICE, 0, value=2))
    with pytest.raises(NonceMismatch, match="already used"):
        Mempool().add(tx(ALICE, 0, value=3), used)
    with pytest.raises(WrongChain):
        pool.add(tx(BOB, 0, chain_id=CHAIN_ID + 1), state)
    forged = tx(BOB, 0)
    from dataclasses import replace

    with pytest.raises(ForgedTransaction):
        pool.add(replace(forged, value=999), state)
    assert len(pool) == 1


def test_sender_must_afford_everything_queued(state):
    pool = Mempool()
    pool.add(tx(ALICE, 0, value=600, fee=0), state)
    with pytest.raises(InsufficientFunds, match="pending transactions already spend 600"):
        pool.add(tx(ALICE, 1, value=401, fee=0), state)
    pool.add(tx(ALICE, 1, value=400, fee=0), state)
    assert isinstance(InsufficientFunds("x"), InvalidTransaction)


def test_replace_by_fee(state):
    pool = Mempool()
    low = tx(ALICE, 0, fee=2)
    pool.add(low, state)
    with pytest.raises(MempoolError, match="higher fee"):
        pool.add(tx(ALICE, 0, fee=2, value=2), state)
    high = tx(ALICE, 0, fee=3)
    pool.add(high, state)
    assert low.hash not in pool and high.hash in pool
    assert pool.pending(ALICE.address) == [high]


def test_eviction_drops_cheapest_tail_only_for_higher_fee(state):
    pool = Mempool(max_size=3)
    a0, a1 = tx(ALICE, 0, fee=1), tx(ALICE, 1, fee=9)
    b0 = tx(BOB, 0, fee=4)
    for t in (a0, a1, b0):
        pool.add(t, state)
    with pytest.raises(MempoolFull):
        pool.add(tx(CAROL, 0, fee=4), state)  # Bob's tail pays 4 as well: not enough
    c0 = tx(CAROL, 0, fee=5)
    pool.add(c0, state)
    # Alice's nonce 0 is the cheapest but her nonce 1 depends on it; Bob's is the cheapest tail.
    assert b0.hash not in pool
    assert {t.hash for t in pool} == {a0.hash, a1.hash, c0.hash}


def test_own_tail_is_never_evicted_to_open_a_gap(state):
    pool = Mempool(max_size=2)
    pool.add(tx(ALICE, 0, fee=1), state)
    pool.add(tx(ALICE, 1, fee=1), state)
    with pytest.raises(MempoolFull):
        pool.add(tx(ALICE, 2, fee=100), state)


def test_reorg_returns_transactions_to_the_pool():
    alloc = {ALICE.address: 1_000}
    chain = Chain(CLASSROOM, allocations=alloc)
    pool = Mempool()
    t = tx(ALICE, 0, value=10)
    pool.add(t, chain.state)
    result = chain.add_block(
        chain.mine_block(pool.select(chain.state), proposer=MINER.address, timestamp=10)
    )
    pool.on_block(result, chain.state)
    assert len(pool) == 0
    # A competing branch without t, two blocks long, wins.
    rival = Chain(CLASSROOM, allocations=alloc)
    for ts in (11, 12):
        rival.add_block(rival.mine_block([], proposer=BOB.address, timestamp=ts))
    for block in list(rival.main_chain())[1:]:
        result = chain.add_block(block)
        pool.on_block(result, chain.state)
    assert chain.head_hash == rival.head_hash
    assert t.hash in pool  # back in the pool, ready for the next block
    assert pool.select(chain.state) == [t]


def test_prune_and_dataframe(state):
    pool = Mempool()
    a0, a1 = tx(ALICE, 0), tx(ALICE, 1)
    pool.add(a0, state)
    pool.add(a1, state)
    state.apply_transaction(a0)
    assert pool.prune(state) == 1
    frame = pool.to_dataframe()
    assert list(frame["nonce"]) == [1]
    assert frame.loc[0, "hash"] == a1.hash.hex()
