"""Fork choice and reorganisation: the heaviest valid branch wins, and state follows it exactly."""

from __future__ import annotations

import dataclasses

import pytest
from helpers import ALICE, BOB, CAROL, DAVE, FUNDS, MINER_A, MINER_B, extend, new_chain, pay, remine
from hypothesis import given, settings
from hypothesis import strategies as st

from blockkit.chain import Chain
from blockkit.errors import InvalidBlock
from blockkit.params import CLASSROOM

PAYERS = [ALICE, BOB, CAROL, DAVE]


def replica(chain: Chain, up_to: bytes) -> Chain:
    """A second node that has seen ``chain``'s best branch up to block ``up_to``."""
    other = new_chain(chain.params)
    for block in chain.main_chain():
        if block.height:
            other.add_block(block)
        if block.hash == up_to:
            return other
    raise AssertionError("up_to is not on the best branch")


def built_directly(blocks, params=CLASSROOM) -> Chain:
    """A fresh node fed only ``blocks`` (a branch from genesis), in order."""
    fresh = new_chain(params)
    for block in blocks:
        if block.height:
            assert fresh.add_block(block).status == "extended"
    return fresh


def test_a_longer_branch_takes_over_and_state_matches_it():
    chain = new_chain()
    extend(chain, [pay(chain, ALICE, BOB, 100)])
    fork = chain.head_hash
    losing = [extend(chain, [pay(chain, BOB, CAROL, 7)]) for _ in range(2)]

    rival = replica(chain, fork)
    winning = [extend(rival, [pay(rival, CAROL, DAVE, 5)], miner=MINER_B) for _ in range(3)]
    results = [chain.add_block(block) for block in winning]

    assert [r.status for r in results] == ["side-branch", "side-branch", "reorganized"]
    assert results[-1].disconnected == tuple(reversed(losing))  # newest first
    assert results[-1].connected == tuple(winning)  # oldest first
    assert results[-1].reorg_depth == 2
    assert chain.head_hash == rival.head_hash
    assert chain.state == rival.state == built_directly(rival.main_chain()).state
    assert chain.state.root() == chain.head.header.state_root
    # the losing branch is kept, off the main chain, and its transactions are no longer found
    assert all(b.hash in chain and not chain.is_main(b.hash) for b in losing)
    assert chain.status(losing[-1].hash) == "valid"
    assert chain.transaction(winning[0].transactions[0].hash).height == 2
    assert chain.balance(DAVE.address) == FUNDS[DAVE.address] + 15
    assert chain.nonce(BOB.address) == 0  # BOB's payments were undone with the losing branch


def test_fork_choice_counts_work_not_blocks():
    """A shorter branch with harder blocks (after a retarget) beats a longer, easier one."""
    chain = new_chain()
    fork = extend(chain).hash
    for _ in range(CLASSROOM.retarget_interval + 3):
        extend(chain, gap=CLASSROOM.target_block_time)  # on pace: difficulty stays
    easy_tip, easy_height = chain.head_hash, chain.height

    rival = replica(chain, fork)
    for _ in range(CLASSROOM.retarget_interval - 1):
        extend(rival, miner=MINER_B, gap=1)  # fast blocks: the next retarget makes them 4x harder
    hard = [extend(rival, miner=MINER_B, gap=1) for _ in range(2)]
    assert rival.height < easy_height
    assert hard[-1].header.target < chain.head.header.target

    statuses = [chain.add_block(b).status for b in rival.main_chain() if b.height > 1]
    assert "reorganized" in statuses
    assert chain.head_hash == rival.head_hash != easy_tip
    assert chain.height < easy_height
    assert chain.total_work == rival.total_work
    assert chain.state == built_directly(rival.main_chain()).state


def test_equal_work_keeps_the_branch_seen_first():
    chain = new_chain()
    first = extend(chain, miner=MINER_A)
    rival = new_chain()
    second = extend(rival, miner=MINER_B)
    assert chain.add_block(second).status == "side-branch"
    assert chain.head_hash == first.hash
    assert [tip.hash for tip in chain.tips()] == [first.hash, second.hash]


def test_an_invalid_block_deep_in_a_heavier_branch_leaves_the_old_head_exactly():
    chain = new_chain()
    fork = extend(chain, [pay(chain, ALICE, BOB, 1)]).hash
    for _ in range(2):
        extend(chain, [pay(chain, BOB, CAROL, 2)])
    old = (chain.head_hash, chain.state.root(), chain.to_dataframe("transactions"))

    rival = replica(chain, fork)
    good = extend(rival, [pay(rival, CAROL, DAVE, 3)], miner=MINER_B)
    # its second block commits to a wrong state root: valid header and body, invalid transition
    bad = remine(
        rival,
        rival.propose_block([], MINER_B.address, good.header.timestamp + 10),
        state_root=b"\x0b" * 32,
    )
    # and the branch continues on top of it, heavier than the current best branch
    followers = []
    parent = bad
    for _ in range(3):
        header = dataclasses.replace(
            parent.header,
            parent=parent.hash,
            height=parent.height + 1,
            timestamp=parent.timestamp + 10,
            nonce=0,
        )
        parent = chain.consensus.seal(dataclasses.replace(bad, header=header))
        followers.append(parent)

    assert chain.add_block(good).status == "side-branch"
    assert chain.add_block(bad).status == "side-branch"  # state not checked on a side branch
    with pytest.raises(InvalidBlock) as failure:
        chain.add_block(followers[0])  # now heavier: the switch applies good, then fails on bad
    assert failure.value.reason == "bad-state-root"
    assert (chain.head_hash, chain.state.root()) == old[:2]
    assert chain.to_dataframe("transactions").equals(old[2])
    assert chain.status(bad.hash) == chain.status(followers[0].hash) == "invalid"
    # good's own transition was checked during the attempt: valid, but off the best branch
    assert chain.status(good.hash) == "valid" and not chain.is_main(good.hash)
    for follower in followers[1:]:  # the rest of the bad branch is refused outright
        with pytest.raises(InvalidBlock, match="invalid-parent"):
            chain.add_block(follower)
    assert (chain.head_hash, chain.state.root()) == old[:2]


# --- property: whatever order branches grow in, state equals the winning branch built directly --


@st.composite
def fork_scenarios(draw):
    """A list of steps: (which existing block to build on, which payers pay, time gap)."""
    steps = []
    for _ in range(draw(st.integers(2, 9))):
        steps.append(
            (
                draw(st.integers(0, 99)),  # index into known blocks, modulo their number
                draw(st.lists(st.sampled_from(range(len(PAYERS))), max_size=3, unique=True)),
                draw(st.integers(1, 30)),
            )
        )
    return steps


@settings(max_examples=40, deadline=None, derandomize=True)
@given(fork_scenarios())
def test_state_after_any_sequence_of_forks_equals_the_winner_built_directly(steps):
    chain = new_chain()
    builders = {chain.genesis.hash: new_chain()}  # one node per branch end, to build blocks on
    known = [chain.genesis.hash]
    for pick, payers, gap in steps:
        base = known[pick % len(known)]
        builder = builders.get(base)
        if builder is None:  # rebuild a node whose best tip is ``base``
            branch = []
            cursor = chain.block(base)
            while cursor.height:
                branch.append(cursor)
                cursor = chain.block(cursor.parent)
            builder = built_directly(reversed(branch))
        txs = [pay(builder, PAYERS[i], PAYERS[(i + 1) % 4], 1 + i) for i in payers]
        block = extend(builder, txs, miner=MINER_B if gap % 2 else MINER_A, gap=gap)
        builders.pop(base, None)
        builders[block.hash] = builder
        chain.add_block(block)
        known.append(block.hash)

        winner = built_directly(chain.main_chain())
        assert chain.head_hash == winner.head_hash
        assert chain.state == winner.state
        assert chain.state.root() == chain.head.header.state_root
        assert chain.tips()[0].hash == chain.head_hash
        every = chain.to_dataframe("blocks", include_side_branches=True)
        assert every["total_work"].max() == float(chain.total_work)
