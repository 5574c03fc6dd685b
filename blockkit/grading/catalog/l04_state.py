"""Lesson 04, transactions and state: an account ledger, blocks of payments, state roots, proofs."""

from __future__ import annotations

from typing import Any

from blockkit.encoding import encode
from blockkit.grading.registry import Case, add_cases, define
from blockkit.keys import PrivateKey
from blockkit.merkle import merkle_root, verify_inclusion
from blockkit.state import Account, State

Payment = tuple[str, str, int, int, int]  # sender, recipient, value, fee, nonce


def _apply(balances: dict[str, int], nonces: dict[str, int], payment: Payment) -> Any:
    sender, recipient, value, fee, nonce = payment
    if nonce != nonces.get(sender, 0):
        raise ValueError("bad nonce")
    if balances.get(sender, 0) < value + fee:
        raise ValueError("insufficient funds")
    balances, nonces = dict(balances), dict(nonces)
    balances[sender] -= value + fee
    balances[recipient] = balances.get(recipient, 0) + value
    nonces[sender] = nonce + 1
    return balances, nonces


def _ledger() -> tuple[dict[str, int], dict[str, int]]:
    return {"alice": 100, "bob": 20}, {"alice": 0, "bob": 3}


define(
    "04.1",
    "Apply one payment",
    function="apply_payment",
    points=2,
    hint="check the nonce first, then that value + fee <= balance; return NEW dicts: sender loses "
    "value + fee, recipient gains value, sender's nonce goes up by one",
)
add_cases(
    "04.1",
    [
        Case(
            "a simple payment",
            lambda: (*_ledger(), ("alice", "bob", 30, 0, 0)),
            _apply(*_ledger(), ("alice", "bob", 30, 0, 0)),
        ),
        Case(
            "a payment with a fee",
            lambda: (*_ledger(), ("alice", "bob", 30, 2, 0)),
            _apply(*_ledger(), ("alice", "bob", 30, 2, 0)),
            hint="the sender pays value + fee; the recipient receives only the value",
        ),
        Case(
            "a new recipient",
            lambda: (*_ledger(), ("bob", "carol", 5, 1, 3)),
            _apply(*_ledger(), ("bob", "carol", 5, 1, 3)),
            hint="an account that does not exist yet starts at balance 0 (dict.get(name, 0))",
        ),
        Case(
            "spending everything",
            lambda: (*_ledger(), ("alice", "bob", 99, 1, 0)),
            _apply(*_ledger(), ("alice", "bob", 99, 1, 0)),
        ),
        Case(
            "a reused nonce (replay)",
            lambda: (*_ledger(), ("bob", "alice", 1, 0, 2)),
            raises=ValueError,
            hint="the nonce must equal the sender's next nonce exactly",
        ),
        Case(
            "a nonce from the future",
            lambda: (*_ledger(), ("alice", "bob", 1, 0, 1)),
            raises=ValueError,
        ),
        Case(
            "value plus fee too high",
            lambda: (*_ledger(), ("alice", "bob", 100, 1, 0)),
            raises=ValueError,
            hint="the fee counts too: value + fee must not exceed the balance",
        ),
        Case(
            "an unknown sender",
            lambda: (*_ledger(), ("mallory", "bob", 1, 0, 0)),
            raises=ValueError,
        ),
    ],
)


def _block(
    balances: dict[str, int],
    nonces: dict[str, int],
    payments: list[Payment],
    proposer: str,
    reward: int,
) -> Any:
    rejected, fees = [], 0
    for index, payment in enumerate(payments):
        try:
            balances, nonces = _apply(balances, nonces, payment)
            fees += payment[3]
        except ValueError:
            rejected.append(index)
    balances = dict(balances)
    balances[proposer] = balances.get(proposer, 0) + reward + fees
    return balances, nonces, rejected


_BLOCKS: dict[str, tuple[list[Payment], str]] = {
    "two good payments": ([("alice", "bob", 10, 1, 0), ("bob", "carol", 5, 1, 3)], "miner"),
    "a double spend (same nonce twice)": (
        [("alice", "bob", 80, 2, 0), ("alice", "carol", 80, 2, 0)],
        "miner",
    ),
    "a double spend (not enough for both)": (
        [("alice", "bob", 80, 1, 0), ("alice", "carol", 80, 1, 1)],
        "miner",
    ),
    "payments in the wrong order": (
        [("alice", "bob", 1, 0, 1), ("alice", "bob", 1, 0, 0)],
        "miner",
    ),
    "the proposer is also a sender": ([("bob", "alice", 20, 0, 3)], "bob"),
    "an empty block": ([], "miner"),
}

define(
    "04.2",
    "Apply a block of payments",
    function="apply_block",
    points=3,
    hint="apply the payments in order with apply_payment; catch ValueError and record the index "
    "of each refused payment; finally credit the proposer with reward + the fees of the "
    "ACCEPTED payments",
)
add_cases(
    "04.2",
    [
        Case(
            name,
            lambda p=payments, w=proposer: (*_ledger(), list(p), w, 50),
            _block(*_ledger(), payments, proposer, 50),
        )
        for name, (payments, proposer) in _BLOCKS.items()
    ],
)

_ALICE, _BOB, _CAROL = (PrivateKey.from_seed(n).address for n in ("alice", "bob", "carol"))


def _state(accounts: dict[bytes, tuple[int, int]]) -> State:
    state = State()
    for address, (balance, nonce) in accounts.items():
        state.set_account(address, Account(balance, nonce))
    return state


_ACCOUNTS = {
    "one account": {bytes(_ALICE): (100, 0)},
    "three accounts, given unsorted": {
        bytes(_CAROL): (5, 2),
        bytes(_ALICE): (100, 1),
        bytes(_BOB): (7, 0),
    },
    "an empty account is left out": {bytes(_ALICE): (100, 0), bytes(_BOB): (0, 0)},
    "no accounts": {},
}

define(
    "04.3",
    "The state root",
    function="state_root",
    points=3,
    hint="leaves are encode([address, balance, nonce]) for each account sorted by address, "
    "skipping accounts with balance 0 and nonce 0; the root is merkle_root(leaves)",
)
add_cases(
    "04.3",
    [Case(name, (dict(accounts),), _state(accounts).root()) for name, accounts in _ACCOUNTS.items()]
    + [
        Case(
            "a nonce changes the root",
            ({bytes(_ALICE): (100, 1)},),
            _state({bytes(_ALICE): (100, 1)}).root(),
            hint="the nonce is part of each leaf: encode([address, balance, nonce])",
        )
    ],
)

_PROOF_STATE = _state({bytes(_ALICE): (100, 1), bytes(_BOB): (7, 0), bytes(_CAROL): (5, 2)})
_ROOT = _PROOF_STATE.root()
_ALICE_PROOF = _PROOF_STATE.prove(_ALICE).proof
_BOB_PROOF = _PROOF_STATE.prove(_BOB).proof
_AFTER = _PROOF_STATE.copy()
_AFTER.set_account(_ALICE, Account(60, 2))


def _verify(root: bytes, address: bytes, balance: int, nonce: int, proof: Any) -> bool:
    return verify_inclusion(root, encode([bytes(address), balance, nonce]), proof)


_PROOF_CASES = {
    "alice's real balance": (_ROOT, bytes(_ALICE), 100, 1, _ALICE_PROOF),
    "bob's real balance": (_ROOT, bytes(_BOB), 7, 0, _BOB_PROOF),
    "alice claims 1,000,000": (_ROOT, bytes(_ALICE), 1_000_000, 1, _ALICE_PROOF),
    "alice claims an old nonce": (_ROOT, bytes(_ALICE), 100, 0, _ALICE_PROOF),
    "bob uses alice's proof": (_ROOT, bytes(_BOB), 100, 1, _ALICE_PROOF),
    "a proof checked against a newer root": (_AFTER.root(), bytes(_ALICE), 100, 1, _ALICE_PROOF),
}
assert merkle_root([encode([bytes(_ALICE), 100, 0])]) == _state({bytes(_ALICE): (100, 0)}).root()

define(
    "04.4",
    "Check a balance proof",
    function="verify_balance",
    points=2,
    hint="rebuild the account's leaf, encode([address, balance, nonce]), and check it with "
    "verify_inclusion(state_root, leaf, proof)",
)
add_cases(
    "04.4",
    [Case(name, args, _verify(*args)) for name, args in _PROOF_CASES.items()],
)
