"""Lesson 05, blocks, chain and proof of work: links, nonces, validation, and fork choice."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from blockkit.blocks import Block, Header
from blockkit.chain import Chain
from blockkit.consensus.pow import mine
from blockkit.errors import InvalidBlock
from blockkit.grading.registry import Case, add_cases, define
from blockkit.hashing import target_from_difficulty, work_from_target
from blockkit.keys import PrivateKey
from blockkit.params import CLASSROOM
from blockkit.transactions import sign_transaction

ALICE, BOB, MINER = (PrivateKey.from_seed(n) for n in ("alice", "bob", "miner"))
ALLOCATIONS = {ALICE.address: 100}


def _chain() -> Chain:
    return Chain(CLASSROOM, allocations=dict(ALLOCATIONS))


def _blocks(n: int) -> list[Block]:
    """A valid sequence of n mined blocks on a fresh chain (with a payment in block 2)."""
    chain, blocks = _chain(), []
    for height in range(1, n + 1):
        txs = []
        if height == 2:
            txs = [sign_transaction(ALICE, BOB.address, 10, nonce=0, chain_id=1337, fee=1)]
        block = chain.mine_block(txs, proposer=MINER.address, timestamp=10 * height)
        chain.add_block(block)
        blocks.append(block)
    return blocks


_VALID = _blocks(4)
_GENESIS = _chain().genesis.header
_H1, _H2 = _VALID[0].header, _VALID[1].header

define(
    "05.1",
    "Does a header link to its parent?",
    function="links_to",
    points=1,
    hint="a child names its parent's hash (header.parent == parent.hash) and sits one higher "
    "(header.height == parent.height + 1)",
)
add_cases(
    "05.1",
    [
        Case("block 1 on genesis", (_GENESIS, _H1), True),
        Case("block 2 on block 1", (_H1, _H2), True),
        Case(
            "block 2 on genesis",
            (_GENESIS, _H2),
            False,
            hint="compare the hash the child names with the parent's actual hash",
        ),
        Case(
            "the right parent hash but a wrong height",
            (_H1, replace(_H2, height=5)),
            False,
            hint="the height must be exactly the parent's height + 1",
        ),
        Case("a block as its own parent", (_H1, _H1), False),
        Case(
            "the right height but another parent",
            (_H1, replace(_H2, parent=_GENESIS.hash)),
            False,
            hint="the height alone proves nothing: check header.parent == parent.hash",
        ),
    ],
)

_EASY = replace(_H1, target=target_from_difficulty(256), nonce=0)


def _nonce(header: Header, max_attempts: int) -> int | None:
    solved = mine(replace(header, nonce=0), max_attempts=max_attempts)
    return None if solved is None else solved.nonce


define(
    "05.2",
    "Find a nonce",
    function="find_nonce",
    points=3,
    hint="for nonce in range(max_attempts): candidate = dataclasses.replace(header, nonce=nonce); "
    "return nonce when meets_target(candidate.hash, header.target); after the loop return None",
)
add_cases(
    "05.2",
    [
        Case(
            "the easiest target: nonce 0 already works",
            (replace(_EASY, target=target_from_difficulty(1)), 10),
            0,
            hint="start counting at nonce 0",
        ),
        Case("difficulty 256", (_EASY, 10_000), _nonce(_EASY, 10_000)),
        Case(
            "another header",
            (replace(_EASY, timestamp=11), 10_000),
            _nonce(replace(_EASY, timestamp=11), 10_000),
            hint="return the smallest nonce, counting from 0",
        ),
        Case(
            "a harder target",
            (replace(_EASY, target=target_from_difficulty(2048)), 50_000),
            _nonce(replace(_EASY, target=target_from_difficulty(2048)), 50_000),
        ),
        Case(
            "too few attempts",
            (replace(_EASY, target=target_from_difficulty(2**20)), 50),
            None,
            hint="give up after max_attempts nonces (0 .. max_attempts - 1) and return None",
        ),
    ],
)


def _fault(chain: Chain, blocks: list[Block]) -> str | None:
    for block in blocks:
        try:
            chain.add_block(block)
        except InvalidBlock as error:
            return error.reason
    return None


def _altered_payment() -> list[Block]:
    b2 = _VALID[1]
    (tx,) = b2.transactions
    other = sign_transaction(ALICE, BOB.address, 90, nonce=0, chain_id=1337, fee=1)
    assert other != tx
    return [_VALID[0], Block(b2.header, (other,)), *_VALID[2:]]


def _remined_state_lie() -> list[Block]:
    b1 = _VALID[0]
    lie = mine(replace(b1.header, state_root=bytes(32), nonce=0))
    assert lie is not None
    return [Block(lie, b1.transactions), *_VALID[1:]]


_FAULTS: dict[str, list[Block]] = {
    "a valid chain": list(_VALID),
    "a nonce that is not a solution": [
        _VALID[0],
        Block(replace(_H2, nonce=_H2.nonce + 1), _VALID[1].transactions),
    ],
    "a payment altered after mining": _altered_payment(),
    "a re-mined block that lies about the state": _remined_state_lie(),
    "blocks out of order": [_VALID[0], _VALID[2]],
    "a timestamp going backwards": [
        _VALID[0],
        Block(mine(replace(_H2, timestamp=5, nonce=0)) or _H2, _VALID[1].transactions),
    ],
}


def _chain_args(blocks: list[Block]) -> Any:
    return lambda: (_chain(), list(blocks))


define(
    "05.3",
    "Name the first fault",
    function="first_fault",
    points=2,
    hint="add the blocks in order with chain.add_block; catch InvalidBlock and return its "
    ".reason; an OrphanBlock (unknown parent) is a fault too: return 'orphan'; all fine: None",
)
add_cases(
    "05.3",
    [
        Case(
            name,
            _chain_args(blocks),
            _fault(_chain(), blocks) if name != "blocks out of order" else "orphan",
        )
        for name, blocks in _FAULTS.items()
    ],
)


def _heaviest(branches: list[list[Header]]) -> int:
    weights = [sum(work_from_target(h.target) for h in branch) for branch in branches]
    return weights.index(max(weights))


def _branch(*difficulties: int) -> list[Header]:
    return [
        replace(_H1, height=i + 1, target=target_from_difficulty(d))
        for i, d in enumerate(difficulties)
    ]


_BRANCHES = {
    "longer and equally hard wins": [_branch(16, 16), _branch(16, 16, 16)],
    "shorter but harder wins": [_branch(16, 16, 16, 16), _branch(256)],
    "a tie keeps the first seen": [_branch(64, 64), _branch(128)],
    "three branches": [_branch(16), _branch(32, 32), _branch(16, 16, 16)],
}
assert {name: _heaviest(b) for name, b in _BRANCHES.items()} == {
    "longer and equally hard wins": 1,
    "shorter but harder wins": 1,
    "a tie keeps the first seen": 0,
    "three branches": 1,
}

define(
    "05.4",
    "Choose the heaviest branch",
    function="heaviest_branch",
    points=2,
    hint="a branch's weight is the sum of work_from_target(header.target) over its headers — "
    "not its length; return the index of the heaviest, the first one on a tie",
)
add_cases(
    "05.4",
    [Case(name, (branches,), _heaviest(branches)) for name, branches in _BRANCHES.items()],
)
