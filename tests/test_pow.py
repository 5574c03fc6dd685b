"""Proof of work: mining, progress and stopping, header checks, and difficulty retargeting."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from blockkit.blocks import Block, Header
from blockkit.chain import Chain
from blockkit.consensus import MiningProgress, ProofOfWork, mine, next_target
from blockkit.errors import InvalidBlock
from blockkit.hashing import MAX_TARGET, meets_target, sha256, work_from_target
from blockkit.keys import Address, PrivateKey
from blockkit.params import CLASSROOM

MINER = PrivateKey.from_seed("miner").address
EASY = MAX_TARGET // 64  # about 64 attempts per block
IMPOSSIBLE = 1  # no hash is <= 1 in practice


def header_with(target=EASY, nonce=0, seal=b"", **changes):
    fields = {
        "parent": sha256(b"parent"),
        "height": 1,
        "timestamp": 100,
        "transactions_root": sha256(b"txs"),
        "state_root": sha256(b"state"),
        "target": target,
        "proposer": MINER,
        "seal": seal,
        "nonce": nonce,
    }
    fields.update(changes)
    return Header(**fields)


def first_failing_nonce(header, start=0):
    nonce = start
    while meets_target(dataclasses.replace(header, nonce=nonce).hash, header.target):
        nonce += 1
    return nonce


# --- mine ---------------------------------------------------------------------------------------


def test_mine_finds_a_nonce_that_meets_the_target():
    header = header_with(target=EASY)
    mined = mine(header)
    assert mined is not None
    assert meets_target(mined.hash, EASY)
    assert int.from_bytes(mined.hash, "big") <= EASY
    assert dataclasses.replace(mined, nonce=header.nonce) == header  # only the nonce changed


def test_mine_returns_the_first_winning_nonce_from_start():
    header = header_with(target=EASY)
    for start in (0, 1_000):
        mined = mine(header, start_nonce=start)
        assert mined is not None and mined.nonce >= start
        for nonce in range(start, mined.nonce):
            assert not meets_target(dataclasses.replace(header, nonce=nonce).hash, EASY)


def test_mine_from_after_a_solution_finds_the_next_one():
    header = header_with(target=EASY)
    first = mine(header)
    second = mine(header, start_nonce=first.nonce + 1)
    assert second.nonce > first.nonce
    assert meets_target(second.hash, EASY)


def test_mine_with_max_target_takes_the_start_nonce():
    assert mine(header_with(target=MAX_TARGET), start_nonce=42).nonce == 42


def test_mine_gives_up_after_max_attempts():
    assert mine(header_with(target=IMPOSSIBLE), max_attempts=500) is None
    assert mine(header_with(target=MAX_TARGET), max_attempts=0) is None
    assert mine(header_with(target=MAX_TARGET), max_attempts=1).nonce == 0


def test_mine_max_attempts_is_exact():
    header = header_with(target=EASY)
    winner = mine(header).nonce
    assert winner > 0, "pick a header whose first winning nonce is not 0"
    assert mine(header, max_attempts=winner) is None  # nonces 0 .. winner-1 only
    assert mine(header, max_attempts=winner + 1).nonce == winner


def test_progress_is_reported_every_n_attempts_up_to_max_attempts():
    calls = []
    result = mine(
        header_with(target=IMPOSSIBLE),
        start_nonce=100,
        max_attempts=35,
        progress=calls.append,
        progress_every=10,
    )
    assert result is None
    assert all(isinstance(call, MiningProgress) for call in calls)
    assert [c.attempts for c in calls] == [10, 20, 30, 35]
    assert [c.nonce for c in calls] == [110, 120, 130, 135]


def test_progress_returning_false_stops_mining():
    calls = []

    def stop(progress):
        calls.append(progress)
        return False

    result = mine(header_with(target=IMPOSSIBLE), progress=stop, progress_every=50)
    assert result is None
    assert calls == [MiningProgress(attempts=50, nonce=50)]


def test_progress_stops_after_a_few_reports():
    calls = []

    def stop_at_three(progress):
        calls.append(progress.attempts)
        return len(calls) < 3

    assert mine(header_with(target=IMPOSSIBLE), progress=stop_at_three, progress_every=7) is None
    assert calls == [7, 14, 21]


@pytest.mark.parametrize("answer", [None, True, 0, "", "stop"])
def test_progress_only_stops_on_false(answer):
    calls = []

    def callback(progress):
        calls.append(progress)
        return answer

    result = mine(
        header_with(target=IMPOSSIBLE), max_attempts=40, progress=callback, progress_every=10
    )
    assert result is None
    assert len(calls) == 4  # it kept going until max_attempts


def test_progress_not_needed_when_solution_comes_first():
    calls = []
    mined = mine(header_with(target=MAX_TARGET), progress=calls.append, progress_every=10)
    assert mined.nonce == 0
    assert calls == []


def test_progress_every_must_be_positive():
    with pytest.raises(ValueError):
        mine(header_with(), progress_every=0)


def test_mine_stops_at_the_end_of_the_nonce_space():
    calls = []
    result = mine(header_with(target=IMPOSSIBLE), start_nonce=2**64 - 5, progress=calls.append)
    assert result is None
    assert [c.attempts for c in calls] == [5]
    assert calls[-1].nonce == 2**64


# --- ProofOfWork.check_header -------------------------------------------------------------------


@pytest.fixture(scope="module")
def chain_and_block():
    chain = Chain(CLASSROOM, genesis_time=0)
    block = chain.mine_block(proposer=MINER, timestamp=10)
    return chain, block


def test_mined_block_passes_check_header_and_joins_chain(chain_and_block):
    chain, block = chain_and_block
    pow_ = ProofOfWork(CLASSROOM)
    pow_.check_header(chain, chain.genesis.header, block.header)  # raises if invalid
    assert block.header.target == CLASSROOM.initial_target
    assert meets_target(block.hash, block.header.target)
    fresh = Chain(CLASSROOM, genesis_time=0)
    assert fresh.add_block(block).status == "extended"


def test_check_header_rejects_nonce_that_misses_target(chain_and_block):
    chain, block = chain_and_block
    bad = dataclasses.replace(block.header, nonce=first_failing_nonce(block.header))
    assert not meets_target(bad.hash, bad.target)
    with pytest.raises(InvalidBlock) as exc_info:
        ProofOfWork(CLASSROOM).check_header(chain, chain.genesis.header, bad)
    assert exc_info.value.reason == "bad-pow"
    assert "not enough work" in str(exc_info.value)


def test_chain_rejects_block_without_enough_work(chain_and_block):
    _, block = chain_and_block
    header = dataclasses.replace(block.header, nonce=first_failing_nonce(block.header))
    with pytest.raises(InvalidBlock) as exc_info:
        Chain(CLASSROOM, genesis_time=0).add_block(Block(header, block.transactions))
    assert exc_info.value.reason == "bad-pow"


@pytest.mark.parametrize(
    "wrong_target",
    [CLASSROOM.initial_target // 2, CLASSROOM.initial_target * 2, CLASSROOM.initial_target - 1],
)
def test_check_header_rejects_wrong_target_even_with_valid_work(chain_and_block, wrong_target):
    chain, block = chain_and_block
    header = mine(dataclasses.replace(block.header, target=wrong_target))
    assert meets_target(header.hash, header.target)  # the work is fine for its own target
    with pytest.raises(InvalidBlock) as exc_info:
        ProofOfWork(CLASSROOM).check_header(chain, chain.genesis.header, header)
    assert exc_info.value.reason == "bad-target"


def test_check_header_rejects_declared_easy_target(chain_and_block):
    chain, block = chain_and_block
    header = mine(dataclasses.replace(block.header, target=MAX_TARGET))
    with pytest.raises(InvalidBlock) as exc_info:
        ProofOfWork(CLASSROOM).check_header(chain, chain.genesis.header, header)
    assert exc_info.value.reason == "bad-target"


def test_check_header_rejects_a_seal(chain_and_block):
    chain, block = chain_and_block
    header = mine(dataclasses.replace(block.header, seal=b"authority signature"))
    assert meets_target(header.hash, header.target)
    with pytest.raises(InvalidBlock) as exc_info:
        ProofOfWork(CLASSROOM).check_header(chain, chain.genesis.header, header)
    assert exc_info.value.reason == "unexpected-seal"


def test_weight_is_work_of_target():
    pow_ = ProofOfWork(CLASSROOM)
    easy, hard = header_with(target=EASY), header_with(target=EASY // 4)
    assert pow_.weight(easy) == work_from_target(EASY) == 2**256 // (EASY + 1)
    assert pow_.weight(hard) > pow_.weight(easy)
    assert pow_.weight(header_with(target=MAX_TARGET)) == 1


def test_seal_mines_the_block_and_keeps_transactions():
    block = Block(header_with(target=EASY, nonce=0))
    sealed = ProofOfWork(CLASSROOM).seal(block)
    assert meets_target(sealed.hash, EASY)
    assert sealed.transactions == block.transactions
    assert dataclasses.replace(sealed.header, nonce=0) == block.header


def test_seal_raises_when_mining_gives_up():
    block = Block(header_with(target=IMPOSSIBLE))
    with pytest.raises(RuntimeError):
        ProofOfWork(CLASSROOM).seal(block, max_attempts=10)
    chain = Chain(CLASSROOM)
    with pytest.raises(RuntimeError):
        chain.mine_block(proposer=MINER, timestamp=1, max_attempts=0)


# --- next_target --------------------------------------------------------------------------------


class Headers:
    """A minimal HeaderLookup over one branch of headers."""

    def __init__(self, headers):
        self.by_hash = {h.hash: h for h in headers}

    def header(self, block_hash):
        return self.by_hash[block_hash]

    def ancestor(self, block_hash, height):
        header = self.by_hash[block_hash]
        while header.height > height:
            header = self.by_hash[header.parent]
        return header


def branch(timestamps, target):
    """Headers at heights 0.. with the given timestamps, all carrying ``target``."""
    headers, parent = [], bytes(32)
    for height, timestamp in enumerate(timestamps):
        header = header_with(target=target, parent=parent, height=height, timestamp=timestamp)
        headers.append(header)
        parent = header.hash
    return Headers(headers), headers


P = dataclasses.replace(
    CLASSROOM, retarget_interval=10, target_block_time=10, max_retarget_factor=4
)
T = 2**200  # well below P.max_target, so clamping to max_target does not interfere


def target_at_20(last_window_seconds, target=T, params=P):
    """next_target for height 20: the window runs from block 9 to block 19 (10 gaps)."""
    step = last_window_seconds / 10
    timestamps = [t * 10 for t in range(10)] + [90 + round(step * i) for i in range(1, 11)]
    assert timestamps[19] - timestamps[9] == last_window_seconds
    lookup, headers = branch(timestamps, target)
    return next_target(lookup, headers[-1], params)


def test_target_unchanged_between_retarget_heights():
    # Wildly irregular timestamps do not matter away from retarget heights.
    lookup, headers = branch([0, 1, 2, 1_000, 1_001, 50_000, 50_001, 50_002, 50_003], T)
    for parent in headers:  # children at heights 1..9
        assert next_target(lookup, parent, P) == T
    lookup, headers = branch(list(range(0, 300, 10)), T)
    for parent in headers[10:19] + headers[20:29]:
        assert next_target(lookup, parent, P) == T


def test_target_unchanged_when_blocks_are_on_time():
    assert target_at_20(100) == T


def test_twice_as_fast_halves_the_target():
    assert target_at_20(50) == T // 2


def test_twice_as_slow_doubles_the_target():
    assert target_at_20(200) == T * 2


def test_proportional_retarget():
    assert target_at_20(80) == T * 80 // 100
    assert target_at_20(300) == T * 3


def test_retarget_is_clamped_by_max_factor():
    assert target_at_20(400) == T * 4
    assert target_at_20(10_000) == T * 4  # 100x slower, only 4x easier
    assert target_at_20(25) == T // 4
    assert target_at_20(0) == T // 4  # no time at all, only 4x harder
    assert target_at_20(1) == T // 4


def test_retarget_respects_other_factors():
    params = dataclasses.replace(P, max_retarget_factor=2)
    assert target_at_20(10_000, params=params) == T * 2
    assert target_at_20(0, params=params) == T // 2
    params = dataclasses.replace(P, max_retarget_factor=1)
    assert target_at_20(10_000, params=params) == T
    assert target_at_20(0, params=params) == T


def test_retarget_never_exceeds_max_target():
    near_max = P.max_target // 2
    assert target_at_20(400, target=near_max) == P.max_target
    assert target_at_20(200, target=P.max_target) == P.max_target


def test_retarget_never_reaches_zero():
    assert target_at_20(0, target=1) == 1
    assert target_at_20(0, target=3) == 1


def test_first_window_measures_from_genesis():
    # Child height 10: the window is genesis (height 0) to block 9, i.e. 9 gaps, 90 s expected.
    lookup, headers = branch([5 * i for i in range(10)], T)  # 45 s for 9 gaps
    assert next_target(lookup, headers[-1], P) == T // 2
    lookup, headers = branch([20 * i for i in range(10)], T)  # 180 s
    assert next_target(lookup, headers[-1], P) == T * 2


def test_first_window_clamp_never_exceeds_max_factor():
    # 9 gaps make 90 s expected, not a multiple of the factor 4: still at most 4x either way.
    lookup, headers = branch([0] * 10, T)  # ten blocks in no time at all
    assert next_target(lookup, headers[-1], P) == T // P.max_retarget_factor
    lookup, headers = branch([1_000 * i for i in range(10)], T)
    assert next_target(lookup, headers[-1], P) == T * P.max_retarget_factor


def test_retarget_every_block_with_interval_one():
    params = dataclasses.replace(P, retarget_interval=1)
    lookup, headers = branch([0, 5, 10], T)
    assert next_target(lookup, headers[0], params) == T  # genesis: no gap to measure
    assert next_target(lookup, headers[1], params) == T // 2  # 5 s for a 10 s block
    assert next_target(lookup, headers[2], params) == T // 2


@settings(derandomize=True, max_examples=150, deadline=None)
@given(
    interval=st.integers(1, 8),
    factor=st.integers(1, 6),
    block_time=st.integers(1, 30),
    windows=st.integers(1, 3),
    gaps=st.lists(st.integers(0, 200), min_size=24, max_size=24),
    target_bits=st.integers(1, 250),
)
def test_retarget_bounds_property(interval, factor, block_time, windows, gaps, target_bits):
    params = dataclasses.replace(
        CLASSROOM,
        retarget_interval=interval,
        max_retarget_factor=factor,
        target_block_time=block_time,
    )
    height = interval * windows  # the child's height: a retarget height
    timestamps = [0]
    for gap in gaps[: height - 1]:
        timestamps.append(timestamps[-1] + gap)
    target = min(2**target_bits, params.max_target)
    lookup, headers = branch(timestamps, target)
    parent = headers[-1]
    assert parent.height + 1 == height
    new = next_target(lookup, parent, params)
    assert 1 <= new <= params.max_target
    assert new <= target * factor
    assert new >= min(target // factor, params.max_target)
    # Monotonic: slower blocks never give a harder target.
    slower, _ = branch([*timestamps[:-1], timestamps[-1] + 50], target)
    slower_parent = slower.by_hash[next(reversed(slower.by_hash))]
    assert next_target(slower, slower_parent, params) >= new


def test_proof_of_work_next_target_uses_its_params():
    lookup, headers = branch([5 * i for i in range(10)], T)
    assert ProofOfWork(P).next_target(lookup, headers[-1]) == T // 2
    slow = dataclasses.replace(P, target_block_time=5)  # now 5 s blocks are on time
    assert ProofOfWork(slow).next_target(lookup, headers[-1]) == T


# --- retargeting on a real chain ----------------------------------------------------------------


def test_chain_retargets_when_blocks_come_fast_then_slow():
    params = dataclasses.replace(CLASSROOM, retarget_interval=5, target_block_time=10)
    chain = Chain(params, genesis_time=0)
    start = params.initial_target
    timestamp = 0
    for _ in range(4):  # heights 1..4, twice as fast as intended
        timestamp += 5
        block = chain.mine_block(proposer=MINER, timestamp=timestamp)
        assert block.header.target == start
        chain.add_block(block)
    timestamp += 5
    block5 = chain.mine_block(proposer=MINER, timestamp=timestamp)
    assert block5.header.target == start * 20 // 40  # 4 gaps, 20 s instead of 40 s
    assert chain.add_block(block5).status == "extended"
    harder = block5.header.target
    for _ in range(4):  # heights 6..9, six times slower
        timestamp += 60
        block = chain.mine_block(proposer=MINER, timestamp=timestamp)
        assert block.header.target == harder
        chain.add_block(block)
    proposed = chain.propose_block([], MINER, timestamp + 60)
    # Window block 4 .. block 9: 5 gaps, 5 + 4 * 60 = 245 s instead of 50 s: clamped to 4x.
    assert proposed.header.target == min(params.max_target, harder * 4)
    assert chain.height == 9


def test_chain_rejects_stale_target_at_retarget_height():
    params = dataclasses.replace(CLASSROOM, retarget_interval=3, target_block_time=10)
    chain = Chain(params, genesis_time=0)
    for timestamp in (1, 2):
        chain.add_block(chain.mine_block(proposer=MINER, timestamp=timestamp))
    proposed = chain.propose_block([], MINER, 3)
    assert proposed.header.target != params.initial_target  # 2 s for 20 s: retargeted
    stale = mine(dataclasses.replace(proposed.header, target=params.initial_target))
    with pytest.raises(InvalidBlock) as exc_info:
        chain.add_block(Block(stale, proposed.transactions))
    assert exc_info.value.reason == "bad-target"
    good = ProofOfWork(params).seal(proposed)
    assert chain.add_block(good).status == "extended"
    assert isinstance(good.header.proposer, Address)
