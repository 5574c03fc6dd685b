"""The function behind lesson 04's transaction history table and plot."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

from blockkit.keys import PrivateKey
from blockkit.params import CLASSROOM
from blockkit.state import State
from blockkit.transactions import sign_transaction
from blockkit.widgets.state import plot_balances, replay

A, B, M = (PrivateKey.from_seed(n) for n in ("alice", "bob", "miner"))
NAMES = {"alice": A.address, "bob": B.address, "miner": M.address}


def _pay(value, nonce):
    return sign_transaction(A, B.address, value, nonce=nonce, chain_id=CLASSROOM.chain_id, fee=1)


def test_replay_records_outcomes_balances_and_roots_without_touching_the_input():
    state = State({A.address: 50})
    before = state.root()
    table = replay(state, [_pay(10, 0), _pay(10, 0), _pay(45, 1)], NAMES, fee_recipient=M.address)
    assert list(table["outcome"]) == [
        "accepted",
        "refused: NonceMismatch",
        "refused: InsufficientFunds",
    ]
    assert list(table["alice"]) == [39, 39, 39]
    assert list(table["bob"]) == [10, 10, 10]
    assert list(table["miner"]) == [1, 1, 1]
    assert table["state root"][0] == table["state root"][2] != before.hex()[:16]
    assert state.root() == before  # replay worked on a copy
    ax = plot_balances(table, list(NAMES))
    assert len(ax.lines) == 3 + 2  # a line per account, a marker per refused step
