"""World state: applying transactions, the state root, account proofs, journal and undo."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from blockkit.encoding import encode
from blockkit.errors import InsufficientFunds, InvalidTransaction, NonceMismatch
from blockkit.keys import Address, PrivateKey
from blockkit.merkle import EMPTY_ROOT, MerkleProof, merkle_root
from blockkit.params import CLASSROOM
from blockkit.state import EMPTY_ACCOUNT, Account, AccountProof, State, verify_account
from blockkit.transactions import MAX_AMOUNT, sign_transaction

ALICE, BOB, CAROL, DAVE = (PrivateKey.from_seed(s) for s in ("alice", "bob", "carol", "dave"))
A, B, C, D = ALICE.address, BOB.address, CAROL.address, DAVE.address
CHAIN_ID = CLASSROOM.chain_id
ADDRESSES = [Address(bytes([i]) * 20) for i in range(1, 9)]


def tx(key, to, value, *, nonce=0, fee=0):
    return sign_transaction(key, to.address, value, nonce=nonce, fee=fee, chain_id=CHAIN_ID)


def expected_root(accounts):
    """The state root computed independently: Merkle root of [address, balance, nonce] leaves."""
    leaves = [
        encode([bytes(address), account.balance, account.nonce])
        for address, account in sorted(accounts.items())
        if account != EMPTY_ACCOUNT
    ]
    return merkle_root(leaves)


@pytest.fixture
def state():
    return State({A: 1_000, B: 500})


# --- reading and genesis ------------------------------------------------------------------------


def test_genesis_balances_and_defaults(state):
    assert state.balance(A) == 1_000
    assert state.balance(B) == 500
    assert state.nonce(A) == 0
    assert state.account(C) == EMPTY_ACCOUNT
    assert state.balance(C) == 0 and state.nonce(C) == 0
    assert A in state and B in state and C not in state
    assert len(state) == 2
    assert state.total_supply() == 1_500


def test_items_are_sorted_by_address():
    state = State({address: i + 1 for i, address in enumerate(reversed(ADDRESSES))})
    addresses = [address for address, _ in state.items()]
    assert addresses == sorted(ADDRESSES)
    assert all(isinstance(address, Address) for address in addresses)


@pytest.mark.parametrize("balance", [-1, MAX_AMOUNT + 1, 1.5, "10"])
def test_genesis_rejects_bad_balances(balance):
    with pytest.raises(ValueError, match="genesis balance"):
        State({A: balance})


def test_genesis_accepts_max_amount():
    assert State({A: MAX_AMOUNT}).balance(A) == MAX_AMOUNT


def test_empty_state_root_is_empty_merkle_root():
    assert State().root() == EMPTY_ROOT
    assert State({A: 0}).root() == EMPTY_ROOT


def test_root_matches_independent_computation(state):
    assert state.root() == expected_root({A: Account(1_000), B: Account(500)})
    state.apply_transaction(tx(ALICE, CAROL, 100, fee=3))
    assert state.root() == expected_root({A: Account(897, 1), B: Account(500), C: Account(100)})


# --- applying transactions ----------------------------------------------------------------------


def test_apply_transaction_moves_value_and_takes_fee(state):
    state.apply_transaction(tx(ALICE, BOB, 100, fee=7))
    assert state.balance(A) == 1_000 - 100 - 7
    assert state.balance(B) == 500 + 100
    assert state.nonce(A) == 1
    assert state.nonce(B) == 0
    # The fee left the sender; the block credits it to its proposer, not the state.
    assert state.total_supply() == 1_500 - 7


def test_apply_transaction_creates_recipient_account(state):
    state.apply_transaction(tx(ALICE, CAROL, 25))
    assert C in state
    assert state.account(C) == Account(balance=25, nonce=0)
    assert len(state) == 3


def test_successive_nonces_apply_in_order(state):
    for nonce in range(5):
        state.apply_transaction(tx(ALICE, BOB, 10, nonce=nonce, fee=1))
    assert state.nonce(A) == 5
    assert state.balance(A) == 1_000 - 5 * 11
    assert state.balance(B) == 550


def test_transaction_to_self_costs_only_the_fee(state):
    state.apply_transaction(tx(ALICE, ALICE, 300, fee=2))
    assert state.balance(A) == 998
    assert state.nonce(A) == 1


def test_spending_the_whole_balance_is_allowed(state):
    state.apply_transaction(tx(BOB, ALICE, 490, fee=10))
    assert state.balance(B) == 0
    assert state.account(B) == Account(0, 1)
    assert B in state  # a used nonce keeps the account even at zero balance


def test_replayed_transaction_is_rejected_and_state_unchanged(state):
    t = tx(ALICE, BOB, 100)
    state.apply_transaction(t)
    before_root, before = state.root(), state.copy()
    with pytest.raises(NonceMismatch) as exc_info:
        state.apply_transaction(t)
    assert isinstance(exc_info.value, InvalidTransaction)
    message = str(exc_info.value)
    assert "already used" in message and "next nonce is 1" in message
    assert state.root() == before_root
    assert state == before


def test_nonce_gap_is_rejected_and_state_unchanged(state):
    before_root = state.root()
    with pytest.raises(NonceMismatch) as exc_info:
        state.apply_transaction(tx(ALICE, BOB, 1, nonce=2))
    message = str(exc_info.value)
    assert "skips ahead" in message and "next nonce is 0" in message
    assert state.root() == before_root
    assert state.nonce(A) == 0 and state.balance(A) == 1_000 and state.balance(B) == 500


def test_insufficient_funds_is_rejected_and_state_unchanged(state):
    before_root, before = state.root(), state.copy()
    checkpoint = state.checkpoint()
    with pytest.raises(InsufficientFunds) as exc_info:
        state.apply_transaction(tx(BOB, ALICE, 500, fee=1))  # 501 > 500
    assert isinstance(exc_info.value, InvalidTransaction)
    message = str(exc_info.value)
    assert "has 500" in message and "needs 501" in message
    assert state.root() == before_root
    assert state == before
    assert state.checkpoint() == checkpoint  # nothing journalled


def test_unknown_sender_has_no_funds():
    state = State({A: 10})
    with pytest.raises(InsufficientFunds):
        state.apply_transaction(tx(CAROL, ALICE, 1))
    assert C not in state


def test_zero_value_zero_fee_transaction_bumps_only_the_nonce(state):
    state.apply_transaction(tx(ALICE, DAVE, 0))
    assert state.account(A) == Account(1_000, 1)
    assert D not in state  # an empty recipient account is not stored


# --- credit -------------------------------------------------------------------------------------


def test_credit_adds_to_balance_and_keeps_nonce(state):
    state.apply_transaction(tx(ALICE, BOB, 1))
    state.credit(A, 50)
    assert state.account(A) == Account(1_000 - 1 + 50, 1)


def test_credit_creates_account(state):
    state.credit(C, 50)
    assert state.account(C) == Account(50, 0)
    assert state.total_supply() == 1_550


def test_credit_zero_to_new_address_changes_nothing(state):
    root = state.root()
    state.credit(C, 0)
    assert C not in state
    assert state.root() == root


# --- the root -----------------------------------------------------------------------------------


def test_root_changes_with_any_balance_change(state):
    seen = {state.root()}
    state.credit(A, 1)
    seen.add(state.root())
    state.credit(B, 1)
    seen.add(state.root())
    state.credit(C, 1)
    seen.add(state.root())
    assert len(seen) == 4


def test_root_changes_with_nonce_alone():
    with_nonce = State({A: 5})
    with_nonce.set_account(A, Account(5, 1))
    assert with_nonce.root() != State({A: 5}).root()


def test_root_depends_on_which_address_holds_what():
    assert State({A: 1, B: 2}).root() != State({A: 2, B: 1}).root()


@settings(derandomize=True, max_examples=60, deadline=None)
@given(
    balances=st.dictionaries(st.sampled_from(ADDRESSES), st.integers(0, MAX_AMOUNT), max_size=8),
    data=st.data(),
)
def test_root_is_independent_of_insertion_order(balances, data):
    order = data.draw(st.permutations(list(balances.items())))
    forward = State(balances)
    shuffled = State(dict(order))
    assert forward.root() == shuffled.root()
    assert forward == shuffled
    accounts = {address: Account(balance) for address, balance in balances.items()}
    assert forward.root() == expected_root(accounts)


@settings(derandomize=True, max_examples=60, deadline=None)
@given(
    balances=st.dictionaries(st.sampled_from(ADDRESSES), st.integers(1, 1_000), min_size=1),
    which=st.integers(0, 7),
    delta=st.integers(1, 1_000),
)
def test_any_balance_change_changes_root_property(balances, which, delta):
    state = State(balances)
    root = state.root()
    state.credit(ADDRESSES[which], delta)
    assert state.root() != root


def test_empty_accounts_are_not_stored():
    with_empty = State({A: 100, B: 0, C: 0})
    without = State({A: 100})
    assert with_empty.root() == without.root()
    assert B not in with_empty and C not in with_empty
    assert len(with_empty) == 1
    assert with_empty == without


def test_account_set_back_to_empty_is_removed(state):
    state.set_account(B, EMPTY_ACCOUNT)
    assert B not in state
    assert state.root() == State({A: 1_000}).root()


def test_root_is_cached_but_invalidated_on_change(state):
    first = state.root()
    assert state.root() is first
    state.credit(A, 1)
    assert state.root() != first
    assert state.root() == expected_root({A: Account(1_001), B: Account(500)})


# --- proofs -------------------------------------------------------------------------------------


@pytest.mark.parametrize("count", [1, 2, 3, 5, 8])
def test_every_account_proves_against_the_root(count):
    state = State({address: 10 * (i + 1) for i, address in enumerate(ADDRESSES[:count])})
    root = state.root()
    for i, address in enumerate(ADDRESSES[:count]):
        proof = state.prove(address)
        assert proof.address == address
        assert proof.account == Account(10 * (i + 1))
        assert verify_account(root, proof)
        assert proof.verify(root)


def test_proof_fails_for_wrong_balance(state):
    proof = state.prove(A)
    lie = dataclasses.replace(proof, account=Account(1_000_000, 0))
    assert not verify_account(state.root(), lie)


def test_proof_fails_for_wrong_nonce(state):
    proof = state.prove(A)
    lie = dataclasses.replace(proof, account=Account(1_000, 1))
    assert not verify_account(state.root(), lie)


def test_proof_fails_for_wrong_root(state):
    proof = state.prove(A)
    old_root = state.root()
    state.credit(B, 1)
    assert verify_account(old_root, proof)
    assert not verify_account(state.root(), proof)
    assert not verify_account(bytes(32), proof)


def test_proof_fails_for_another_address(state):
    proof = state.prove(A)
    assert not verify_account(state.root(), dataclasses.replace(proof, address=B))
    # Even claiming B's true account under A's proof fails: the path is A's.
    stolen = AccountProof(B, state.account(B), proof.proof)
    assert not verify_account(state.root(), stolen)


def test_proof_fails_with_tampered_siblings():
    state = State({address: 1 for address in ADDRESSES[:4]})
    proof = state.prove(ADDRESSES[1])
    siblings = list(proof.proof.siblings)
    siblings[0] = bytes(32)
    bad = MerkleProof(proof.proof.index, proof.proof.leaf_count, tuple(siblings))
    assert not verify_account(state.root(), dataclasses.replace(proof, proof=bad))


def test_proof_reflects_nonce_after_transaction(state):
    state.apply_transaction(tx(ALICE, BOB, 1))
    proof = state.prove(A)
    assert proof.account == Account(999, 1)
    assert verify_account(state.root(), proof)


def test_prove_missing_account_raises_key_error(state):
    with pytest.raises(KeyError):
        state.prove(C)


# --- checkpoints, undo, copies ------------------------------------------------------------------


def test_revert_restores_exact_root(state):
    root = state.root()
    snapshot = state.copy()
    checkpoint = state.checkpoint()
    state.apply_transaction(tx(ALICE, CAROL, 100, fee=5))
    state.apply_transaction(tx(BOB, DAVE, 10, fee=1))
    state.credit(A, 7)
    assert state.root() != root
    state.revert(checkpoint)
    assert state.root() == root
    assert state == snapshot
    assert C not in state and D not in state
    assert state.checkpoint() == checkpoint


def test_revert_to_middle_checkpoint(state):
    state.apply_transaction(tx(ALICE, BOB, 1))
    middle_root = state.root()
    middle = state.checkpoint()
    state.apply_transaction(tx(ALICE, BOB, 1, nonce=1))
    state.revert(middle)
    assert state.root() == middle_root
    assert state.nonce(A) == 1


@settings(derandomize=True, max_examples=30, deadline=None)
@given(
    steps=st.lists(
        st.tuples(st.sampled_from(ADDRESSES), st.integers(0, 1_000)), min_size=1, max_size=12
    ),
    cut=st.integers(0, 12),
)
def test_revert_restores_root_property(steps, cut):
    state = State({ADDRESSES[0]: 5})
    for address, amount in steps[:cut]:
        state.credit(address, amount)
    root, snapshot = state.root(), state.copy()
    checkpoint = state.checkpoint()
    for address, amount in steps[cut:]:
        state.credit(address, amount)
    state.revert(checkpoint)
    assert state.root() == root
    assert state == snapshot


def test_changes_since_and_undo_roll_back_a_block(state):
    root = state.root()
    checkpoint = state.checkpoint()
    state.apply_transaction(tx(ALICE, CAROL, 100, fee=5))
    state.credit(D, 55)
    record = state.changes_since(checkpoint)
    assert state.checkpoint() == checkpoint  # the journal entries were handed over
    assert {address for address, _ in record} == {A, C, D}
    after = state.root()
    state.undo(record)
    assert state.root() == root
    assert C not in state and D not in state
    assert after != root


def test_copy_is_independent(state):
    twin = state.copy()
    assert twin == state and twin.root() == state.root()
    twin.credit(A, 1)
    assert state.balance(A) == 1_000
    assert twin.balance(A) == 1_001
    assert twin != state
    state.apply_transaction(tx(BOB, CAROL, 5))
    assert twin.balance(B) == 500 and C not in twin
    assert twin.root() == expected_root({A: Account(1_001), B: Account(500)})


def test_copy_has_empty_journal(state):
    state.credit(A, 1)
    twin = state.copy()
    assert twin.checkpoint() == 0
    twin.revert(0)
    assert twin.balance(A) == 1_001


def test_equality():
    assert State({A: 1, B: 2}) == State({B: 2, A: 1})
    assert State({A: 1}) != State({A: 2})
    assert State({A: 1}) != State({B: 1})
    assert State() == State({A: 0})
    assert State({A: 1}) != {A: 1}
    with_nonce = State({A: 1})
    with_nonce.set_account(A, Account(1, 1))
    assert with_nonce != State({A: 1})


def test_state_is_unhashable():
    with pytest.raises(TypeError):
        hash(State())


# --- contracts: code and storage under the state root ------------------------------------------

CODE = b"\xc0" * 32
SLOT_X, SLOT_Y = encode("x"), encode(["balances", bytes(A)])


@pytest.fixture
def with_contract(state):
    state.install_code(C, CODE, "class Counter: ...")
    state.changes_since(0)  # a clean journal: the contract is "already deployed"
    return state


def expected_storage_root(slots):
    """The storage root computed independently: Merkle root of [slot, encode(value)] leaves."""
    return merkle_root([encode([slot, encode(value)]) for slot, value in sorted(slots.items())])


def test_plain_account_leaves_are_unchanged_by_contracts(state):
    assert Account(5, 1).leaf(bytes(A)) == encode([bytes(A), 5, 1])
    assert state.root() == expected_root({A: Account(1_000), B: Account(500)})


def test_contract_leaf_commits_to_code_and_storage(with_contract):
    state = with_contract
    state.storage_set(C, SLOT_X, 7)
    state.storage_set(C, SLOT_Y, [1, "two"])
    storage_root = expected_storage_root({SLOT_X: 7, SLOT_Y: [1, "two"]})
    assert state.storage_root(C) == storage_root
    leaves = sorted(
        [
            (bytes(A), encode([bytes(A), 1_000, 0])),
            (bytes(B), encode([bytes(B), 500, 0])),
            (bytes(C), encode([bytes(C), 0, 0, CODE, storage_root])),
        ]
    )
    assert state.root() == merkle_root([leaf for _, leaf in leaves])


def test_every_storage_write_changes_the_root(with_contract):
    state = with_contract
    seen = {state.root()}
    for value in (1, 2, "2", b"2", [2], None):
        state.storage_set(C, SLOT_X, value)
        seen.add(state.root())
    assert len(seen) == 6  # None empties the slot: back to the first root
    assert state.storage(C) == {}


def test_storage_reads_are_fresh_copies(with_contract):
    with_contract.storage_set(C, SLOT_X, [1, 2])
    value = with_contract.storage_get(C, SLOT_X)
    value.append(3)  # a contract mutating what it read must not change the state behind its back
    assert with_contract.storage_get(C, SLOT_X) == [1, 2]
    assert with_contract.storage_get(C, SLOT_Y) is None


def test_storage_of_a_plain_account_is_refused(state):
    with pytest.raises(ValueError, match="not a contract"):
        state.storage_set(A, SLOT_X, 1)


def test_storage_rejects_values_that_do_not_encode(with_contract):
    with pytest.raises(ValueError):
        with_contract.storage_set(C, SLOT_X, 1.5)
    assert with_contract.storage(C) == {}


def test_install_code_keeps_balance_and_refuses_twice(state):
    state.credit(D, 9)  # coins sent to the address before the deploy
    state.install_code(D, CODE, "source")
    assert state.account(D) == Account(9, 0, CODE)
    assert state.code(D) == "source" and state.source(CODE) == "source"
    assert state.is_contract(D) and not state.is_contract(A)
    with pytest.raises(ValueError, match="already holds a contract"):
        state.install_code(D, CODE, "source")
    with pytest.raises(KeyError, match="not a contract"):
        state.code(A)


def test_credit_and_transfers_keep_a_contracts_code(with_contract):
    with_contract.credit(C, 5)
    with_contract.debit(C, 2)
    with_contract.apply_transaction(tx(ALICE, CAROL, 4))
    assert with_contract.account(C) == Account(7, 0, CODE)


def test_revert_undoes_storage_writes_and_deploys(state):
    root = state.root()
    mark = state.checkpoint()
    state.install_code(C, CODE, "src")
    state.storage_set(C, SLOT_X, 1)
    inner = state.checkpoint()
    state.storage_set(C, SLOT_X, 2)
    state.storage_set(C, SLOT_Y, "y")
    state.revert(inner)
    assert state.storage(C) == {SLOT_X: 1}
    assert state.storage_root(C) == expected_storage_root({SLOT_X: 1})
    state.revert(mark)
    assert C not in state and state.storage(C) == {}
    assert state.root() == root


def test_undo_record_covers_storage(with_contract):
    state = with_contract
    state.storage_set(C, SLOT_X, 1)
    state.changes_since(0)
    before, snapshot = state.root(), state.copy()
    mark = state.checkpoint()
    state.storage_set(C, SLOT_X, 2)
    state.storage_set(C, SLOT_Y, "new")
    state.credit(C, 3)
    record = state.changes_since(mark)
    after = state.root()
    assert ((bytes(C), SLOT_X), encode(1)) in record
    state.undo(record)
    assert state.root() == before and state == snapshot
    assert after != before


def test_copy_and_equality_include_storage(with_contract):
    twin = with_contract.copy()
    assert twin == with_contract
    twin.storage_set(C, SLOT_X, 1)
    assert with_contract.storage(C) == {}
    assert twin != with_contract
    with_contract.storage_set(C, SLOT_X, 1)
    assert twin == with_contract and twin.root() == with_contract.root()


def test_account_proof_of_a_contract(with_contract):
    state = with_contract
    state.storage_set(C, SLOT_X, 42)
    proof = state.prove(C)
    assert proof.verify(state.root())
    assert proof.storage_root == state.storage_root(C)
    lie = dataclasses.replace(proof, storage_root=expected_storage_root({SLOT_X: 43}))
    assert not lie.verify(state.root())


def test_storage_proof_verifies_and_rejects_lies(with_contract):
    state = with_contract
    state.storage_set(C, SLOT_X, 42)
    state.storage_set(C, SLOT_Y, "hello")
    proof = state.prove_storage(C, SLOT_Y)
    assert proof.value == "hello" and proof.verify(state.root())
    assert not dataclasses.replace(proof, value="hullo").verify(state.root())
    assert not dataclasses.replace(proof, slot=SLOT_X).verify(state.root())
    assert not dataclasses.replace(proof, contract=A).verify(state.root())
    state.storage_set(C, SLOT_Y, "changed")
    assert not proof.verify(state.root())
    with pytest.raises(KeyError, match="empty"):
        state.prove_storage(C, encode("nothing"))
