"""Small builders shared by the chain tests: funded keys, signed payments, mined blocks."""

from __future__ import annotations

import dataclasses

from blockkit.blocks import Block
from blockkit.chain import Chain
from blockkit.keys import PrivateKey
from blockkit.params import CLASSROOM

KEYS = [PrivateKey.from_seed(f"test-key-{i}".encode()) for i in range(6)]
ALICE, BOB, CAROL, DAVE, MINER_A, MINER_B = KEYS
FUNDS = {key.address: 1_000_000 for key in (ALICE, BOB, CAROL, DAVE)}


def new_chain(params=CLASSROOM, **kwargs) -> Chain:
    kwargs.setdefault("allocations", FUNDS)
    return Chain(params, **kwargs)


def pay(chain: Chain, sender, recipient, value, *, fee=1, nonce=None, data=b""):
    """A payment signed for ``chain``, using the sender's next nonce at the best tip."""
    from blockkit.transactions import sign_transaction

    return sign_transaction(
        sender,
        recipient.address if hasattr(recipient, "address") else recipient,
        value,
        nonce=chain.nonce(sender.address) if nonce is None else nonce,
        chain_id=chain.params.chain_id,
        fee=fee,
        data=data,
    )


def extend(chain: Chain, transactions=(), *, miner=MINER_A, gap=10) -> Block:
    """Mine a block on the best tip ``gap`` seconds after it, add it, and return it."""
    block = chain.mine_block(
        list(transactions), proposer=miner.address, timestamp=chain.head.header.timestamp + gap
    )
    chain.add_block(block)
    return block


def remine(chain: Chain, block: Block, **header_changes) -> Block:
    """``block`` with header fields changed, mined again: only the change can be wrong."""
    header = dataclasses.replace(block.header, nonce=0, **header_changes)
    return chain.consensus.seal(Block(header, block.transactions))


def with_transactions(chain: Chain, block: Block, transactions) -> Block:
    """``block`` carrying other transactions, its header left as it was, re-mined."""
    return chain.consensus.seal(
        Block(dataclasses.replace(block.header, nonce=0), tuple(transactions))
    )


def fails(exercise_id: str, answer, case_name: str | None = None):
    """Run every case (hidden too) of ``exercise_id`` on a wrong ``answer``: it must fail, at
    ``case_name`` when given, and the verdict must name the first failing case."""
    from blockkit.grading import run_cases

    result = run_cases(exercise_id, answer, include_hidden=True)
    assert not result.passed, f"{exercise_id} accepted a wrong answer"
    if case_name:
        assert case_name in [f.case.name for f in result.failures], result.verdict()
    assert result.failures[0].case.name in result.verdict()  # the verdict names what failed
    return result
