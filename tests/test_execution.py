"""Contracts on the chain: deploys and calls in blocks, receipts, events, gas, failures, and the
same contract state on every node, across restarts and reorganisations."""

from __future__ import annotations

import pytest
from helpers import ALICE, BOB, FUNDS, MINER_A, MINER_B, extend, new_chain, pay, remine

from blockkit.blocks import ZERO_ADDRESS, Block, transactions_root
from blockkit.contracts.host import CallContext, Event
from blockkit.encoding import encode
from blockkit.errors import ContractFault, InvalidBlock, InvalidTransaction, Revert
from blockkit.execution import (
    GAS_PER_DATA_BYTE,
    INTRINSIC_GAS,
    StateHost,
    call_transaction,
    contract_address,
    deploy_transaction,
    intrinsic_gas,
)
from blockkit.hashing import tagged_hash
from blockkit.params import CLASSROOM
from blockkit.state import State
from blockkit.storage import open_chain
from blockkit.transactions import sign_transaction

CHAIN_ID = CLASSROOM.chain_id
GAS = 200_000

TOKEN = """
class Token:
    def __init__(self, supply: int):
        self.owner = caller
        self.balances = {}
        self.balances[caller] = supply

    def transfer(self, to: bytes, amount: int):
        require(amount > 0, "amount must be positive")
        have = self.balances.get(caller, 0)
        require(have >= amount, "not enough tokens")
        self.balances[caller] = have - amount
        self.balances[to] = self.balances.get(to, 0) + amount
        emit("Transfer", sender=caller, to=to, amount=amount)

    def balance_of(self, who: bytes) -> int:
        return self.balances.get(who, 0)

    def spin(self):
        while True:
            pass
"""

VAULT = """
class Vault:
    def __init__(self):
        self.deposits = {}

    def deposit(self):
        self.deposits[caller] = self.deposits.get(caller, 0) + value
        emit("Deposit", who=caller, amount=value)

    def withdraw(self, amount: int):
        transfer(caller, amount)

    def pay_through(self, token: bytes, to: bytes, amount: int):
        call(token, "transfer", to, amount)
        emit("Forwarded", amount=amount)
"""


def deploy(chain, key, source, args=(), *, value=0, gas=GAS):
    """Deploy in a block of its own; return (address, receipt)."""
    tx = deploy_transaction(
        key, source, list(args), nonce=chain.nonce(key.address), chain_id=CHAIN_ID, gas=gas,
        value=value,
    )  # fmt: skip
    extend(chain, [tx])
    return contract_address(key.address, tx.nonce), chain.receipt(tx.hash)


def call(chain, key, contract, function, args=(), *, value=0, gas=GAS, nonce=None):
    """A signed call transaction with the sender's next nonce."""
    return call_transaction(
        key, contract, function, list(args), chain_id=CHAIN_ID, gas=gas, value=value,
        nonce=chain.nonce(key.address) if nonce is None else nonce,
    )  # fmt: skip


@pytest.fixture
def chain():
    return new_chain()


@pytest.fixture
def token(chain):
    address, receipt = deploy(chain, ALICE, TOKEN, [1_000])
    assert receipt.ok, receipt.error
    return address


# --- deploying ------------------------------------------------------------------------------


def test_deploy_installs_code_storage_and_a_receipt(chain):
    before = chain.balance(ALICE.address)
    address, receipt = deploy(chain, ALICE, TOKEN, [1_000])
    assert receipt.ok and receipt.contract_address == address
    assert address == tagged_hash(b"blockkit/contract", bytes(ALICE.address) + bytes(8))[:20]
    account = chain.account(address)
    assert account.code_hash == tagged_hash(b"blockkit/contract-code", TOKEN.encode())
    assert chain.code(address) == TOKEN
    assert chain.storage(address) == {
        "owner": bytes(ALICE.address),
        f"balances[{ALICE.address}]": 1_000,
    }
    assert receipt.gas_used >= intrinsic_gas(chain.block_at(1).transactions[0])
    assert receipt.fee_paid == receipt.gas_used  # unused gas refunded
    assert chain.balance(ALICE.address) == before - receipt.fee_paid
    assert chain.nonce(ALICE.address) == 1


def test_a_deploy_that_does_not_compile_fails_but_pays_and_uses_the_nonce(chain):
    address, receipt = deploy(chain, ALICE, "import os\n", value=5)
    assert receipt.status == "fault" and "does not compile" in receipt.error
    assert receipt.contract_address is None and not chain.state.is_contract(address)
    assert chain.balance(address) == 0  # the value went back
    assert receipt.fee_paid == INTRINSIC_GAS + GAS_PER_DATA_BYTE * len(
        chain.block_at(1).transactions[0].data
    )
    assert chain.nonce(ALICE.address) == 1


def test_a_failing_constructor_leaves_no_contract(chain):
    source = (
        "class Bad:\n    def __init__(self):\n        self.x = 1\n        revert('no')\n"
        "    def f(self):\n        return 1\n"
    )
    address, receipt = deploy(chain, ALICE, source)
    assert receipt.status == "reverted" and "no" in receipt.error
    assert address not in chain.state and chain.state.storage(address) == {}


# --- calling ---------------------------------------------------------------------------------


def test_call_changes_storage_and_emits_events(chain, token):
    tx = call(chain, ALICE, token, "transfer", [BOB.address, 10])
    block = extend(chain, [tx])
    receipt = chain.receipt(tx.hash)
    assert receipt.ok and receipt.return_value is None
    assert receipt.events == (
        Event(token, "Transfer", {"sender": ALICE.address, "to": BOB.address, "amount": 10}),
    )
    assert chain.call_view(token, "balance_of", [BOB.address]) == 10
    assert chain.call_view(token, "balance_of", [ALICE.address]) == 990
    [logged] = chain.events(token, "Transfer")
    assert (logged.height, logged.block_hash, logged.tx_hash) == (2, block.hash, tx.hash)
    assert chain.events(name="Approval") == [] and chain.events(contract=BOB.address) == []
    table = chain.events_df()
    assert list(table.columns)[:5] == ["height", "block", "tx", "contract", "name"]
    assert set(table.columns[5:]) == {"sender", "to", "amount"}
    assert table.iloc[0]["to"] == str(BOB.address) and table.iloc[0]["amount"] == 10


def test_proposer_receives_exactly_the_fees_paid(chain, token):
    ok = call(chain, ALICE, token, "transfer", [BOB.address, 1])
    failing = call(chain, ALICE, token, "transfer", [BOB.address, 10**9], nonce=ok.nonce + 1)
    plain = pay(chain, BOB, ALICE, 3, fee=7)
    before = chain.balance(MINER_B.address)
    extend(chain, [ok, failing, plain], miner=MINER_B)
    paid = [chain.receipt(t.hash).fee_paid for t in (ok, failing, plain)]
    assert paid[2] == 7 and 0 < paid[0] < GAS and 0 < paid[1] < GAS
    assert chain.balance(MINER_B.address) - before == CLASSROOM.block_reward + sum(paid)
    rewards = CLASSROOM.block_reward * chain.height
    assert chain.state.total_supply() == sum(FUNDS.values()) + rewards


def test_a_reverted_call_keeps_nonce_and_gas_and_undoes_the_rest(chain, token):
    storage, alice = chain.storage(token), chain.balance(ALICE.address)
    tx = call(chain, ALICE, token, "transfer", [BOB.address, 10**9], value=25)
    extend(chain, [tx])
    receipt = chain.receipt(tx.hash)
    assert receipt.status == "reverted" and "not enough tokens" in receipt.error
    assert receipt.events == () and chain.events() == []
    assert chain.storage(token) == storage and chain.balance(token) == 0
    assert chain.balance(ALICE.address) == alice - receipt.fee_paid
    assert chain.nonce(ALICE.address) == tx.nonce + 1


def test_out_of_gas_pays_the_whole_limit(chain, token):
    tx = call(chain, ALICE, token, "spin", gas=5_000)
    extend(chain, [tx])
    receipt = chain.receipt(tx.hash)
    assert receipt.status == "out-of-gas" and receipt.gas_used == receipt.fee_paid == 5_000


def test_too_little_gas_for_the_data_fails_before_running(chain, token):
    tx = call(chain, ALICE, token, "transfer", [BOB.address, 1], gas=INTRINSIC_GAS)
    extend(chain, [tx])
    receipt = chain.receipt(tx.hash)
    assert receipt.status == "out-of-gas" and "raise its fee" in receipt.error
    assert receipt.fee_paid == INTRINSIC_GAS
    assert chain.call_view(token, "balance_of", [BOB.address]) == 0


@pytest.mark.parametrize(
    ("to", "data", "error"),
    [
        ("token", b"\xff garbage", "not a call"),
        ("token", b"", "not a call"),
        ("token", encode(["deploy", "class A:\n    pass\n", []]), "not a call"),
        ("token", encode(["call", "no_such_function", []]), "no public function"),
        ("token", encode(["call", "_private", []]), "no public function"),
        ("zero", b"hello", "not a deploy"),
        ("bob", encode(["call", "transfer", [1]]), "no contract"),
    ],
)
def test_malformed_data_gives_a_failed_receipt_not_an_invalid_block(chain, token, to, data, error):
    recipient = {"token": token, "zero": ZERO_ADDRESS, "bob": BOB.address}[to]
    before = chain.balance(recipient)
    tx = sign_transaction(
        ALICE, recipient, 9, nonce=chain.nonce(ALICE.address), chain_id=CHAIN_ID, fee=GAS,
        data=data,
    )  # fmt: skip
    extend(chain, [tx])
    receipt = chain.receipt(tx.hash)
    assert receipt.status == "fault" and error in receipt.error
    assert chain.balance(recipient) == before  # the value did not move
    assert chain.nonce(ALICE.address) == tx.nonce + 1 and receipt.fee_paid > 0


def test_a_memo_to_a_plain_account_is_a_plain_transfer(chain):
    tx = pay(chain, ALICE, BOB, 5, fee=3, data=b"invoice 42")
    extend(chain, [tx])
    receipt = chain.receipt(tx.hash)
    assert receipt.ok and (receipt.gas_used, receipt.fee_paid) == (0, 3)
    assert chain.balance(BOB.address) == FUNDS[BOB.address] + 5


def test_a_sender_who_cannot_pay_value_plus_gas_is_still_an_invalid_transaction(chain, token):
    too_much = call(chain, ALICE, token, "transfer", [BOB.address, 1], gas=FUNDS[ALICE.address])
    with pytest.raises(InvalidTransaction, match="needs"):
        chain.propose_block([too_much], MINER_A.address, chain.head.header.timestamp + 1)
    good = extend(chain, [call(chain, ALICE, token, "transfer", [BOB.address, 1])])
    replay = chain.block_at(2).transactions[0]
    block = chain.mine_block([], proposer=MINER_A.address, timestamp=good.header.timestamp + 5)
    replayed = Block(block.header, (replay,))
    forged = remine(chain, replayed, transactions_root=transactions_root((replay,)))
    with pytest.raises(InvalidBlock, match=r"nonce 1 .* already used"):
        chain.add_block(forged)


def test_a_block_claiming_the_wrong_outcome_of_a_call_is_rejected(chain, token):
    tx = call(chain, ALICE, token, "transfer", [BOB.address, 10**9])  # will revert
    honest = chain.propose_block([tx], MINER_A.address, chain.head.header.timestamp + 10)
    lying_state = chain.state.copy()  # as if the proposer kept the whole fee (no refund)
    lying_state.apply_transaction(tx)
    lying_state.credit(MINER_A.address, CLASSROOM.block_reward + tx.fee)
    lie = remine(chain, honest, state_root=lying_state.root())
    with pytest.raises(InvalidBlock, match="bad-state-root"):
        chain.add_block(lie)
    chain.add_block(chain.consensus.seal(honest))
    assert chain.receipt(tx.hash).status == "reverted"


# --- value, transfers, nested calls ------------------------------------------------------------


def test_value_goes_to_the_contract_and_can_come_back(chain):
    vault, _ = deploy(chain, BOB, VAULT)
    tx = call(chain, ALICE, vault, "deposit", value=500)
    extend(chain, [tx])
    assert chain.balance(vault) == 500
    assert chain.storage(vault) == {f"deposits[{ALICE.address}]": 500}
    out = call(chain, ALICE, vault, "withdraw", [200])
    too_much = call(chain, ALICE, vault, "withdraw", [10**6], nonce=out.nonce + 1)
    extend(chain, [out, too_much])
    assert chain.receipt(out.hash).ok and chain.balance(vault) == 300
    assert chain.receipt(too_much.hash).status == "fault"


def test_nested_calls_run_as_the_calling_contract_and_fail_together(chain, token):
    vault, _ = deploy(chain, BOB, VAULT)
    extend(chain, [call(chain, ALICE, token, "transfer", [vault, 50])])
    ok = call(chain, BOB, vault, "pay_through", [token, BOB.address, 20])
    failing = call(chain, BOB, vault, "pay_through", [token, BOB.address, 999], nonce=ok.nonce + 1)
    extend(chain, [ok, failing])
    receipt = chain.receipt(ok.hash)
    assert receipt.ok, receipt.error
    assert [e.name for e in receipt.events] == ["Transfer", "Forwarded"]
    assert receipt.events[0].fields["sender"] == vault  # the token saw the vault as caller
    assert chain.call_view(token, "balance_of", [vault]) == 30
    assert chain.receipt(failing.hash).status == "reverted"
    assert [e.name for e in chain.events(name="Forwarded")] == ["Forwarded"]


def test_state_host_revert_undoes_storage_transfers_and_events(chain, token):
    state = chain.state.copy()
    host = StateHost(state)
    root = state.root()
    mark = host.checkpoint()
    host.storage_set(token, encode(["x"]), 1)
    host.transfer(ALICE.address, token, 7)
    host.emit(Event(token, "E", {}))
    with pytest.raises(ContractFault, match="holds only"):
        host.transfer(BOB.address, token, 10**12)
    with pytest.raises(ContractFault):
        host.storage_set(token, encode(["y"]), 1.5)
    context = CallContext(token, ALICE.address, ALICE.address, 0, 1, 0, depth=1)
    assert host.call(context, BOB.address, "f", [], 1_000).status == "fault"
    host.revert(mark)
    assert state.root() == root and host.events == []


# --- read-only queries -----------------------------------------------------------------------


def test_call_view_changes_nothing_and_raises_on_failure(chain, token):
    root = chain.state.root()
    assert chain.call_view(token, "transfer", [BOB.address, 5], caller=ALICE.address) is None
    assert chain.state.root() == root and chain.call_view(token, "balance_of", [BOB.address]) == 0
    with pytest.raises(Revert, match="not enough tokens"):
        chain.call_view(token, "transfer", [BOB.address, 10**9])
    with pytest.raises(ContractFault, match="no contract"):
        chain.call_view(BOB.address, "balance_of", [BOB.address])
    assert chain.state.root() == root and chain.state.checkpoint() == 0


# --- the same everywhere, across restarts and reorganisations ------------------------------------


def busy_history(chain):
    """A deploy, calls that succeed and fail, value and a plain payment, in three blocks."""
    token, _ = deploy(chain, ALICE, TOKEN, [1_000])
    vault, _ = deploy(chain, BOB, VAULT)
    first = call(chain, ALICE, token, "transfer", [vault, 100])
    extend(
        chain,
        [
            first,
            call(chain, ALICE, token, "transfer", [BOB.address, 10**9], nonce=first.nonce + 1),
            call(chain, BOB, vault, "deposit", value=70),
            pay(chain, ALICE, BOB, 1, nonce=first.nonce + 2),
        ],
    )
    return token, vault


def test_two_nodes_reach_the_same_state_root():
    one, two = new_chain(), new_chain()
    busy_history(one)
    for block in list(one.main_chain())[1:]:
        assert two.add_block(block).status == "extended"
    assert two.state == one.state and two.state.root() == one.head.header.state_root
    assert [two.receipt(t.hash) for t in one.head.transactions] == [
        one.receipt(t.hash) for t in one.head.transactions
    ]
    # a third node proposing the same transactions computes the same header
    three = new_chain()
    for block in list(one.main_chain())[1:]:
        proposed = three.propose_block(block.transactions, block.header.proposer, block.timestamp)
        assert proposed.header.state_root == block.header.state_root
        three.add_block(block)


def test_contract_state_survives_a_restart(tmp_path):
    path = tmp_path / "chain.db"
    chain = open_chain(path, CLASSROOM, allocations=FUNDS)
    token, vault = busy_history(chain)
    chain.store.close()
    again = open_chain(path)
    assert again.head_hash == chain.head_hash and again.state == chain.state
    assert again.storage(token) == chain.storage(token) and again.balance(vault) == 70
    assert again.events_df().equals(chain.events_df())
    assert again.call_view(token, "balance_of", [vault]) == 100
    again.store.close()


def test_receipts_and_storage_follow_reorganisations(chain, token):
    fork = chain.head_hash
    storage_before = chain.storage(token)
    root_before = chain.state.root()
    tx = call(chain, ALICE, token, "transfer", [BOB.address, 10])
    with_call = extend(chain, [tx])
    assert chain.receipt(tx.hash).ok and len(chain.events()) == 1
    # a heavier branch without the call takes over: storage, receipts and events go back
    side = new_chain()
    for block in list(chain.main_chain())[1:-1]:
        side.add_block(block)
    assert side.head_hash == fork
    extend(side, [], miner=MINER_B, gap=11)
    extend(side, [], miner=MINER_B)
    for block in list(side.main_chain())[-2:]:
        chain.add_block(block)
    assert chain.head_hash == side.head_hash
    assert chain.storage(token) == storage_before and chain.events() == []
    assert chain.state.storage_root(token) == side.state.storage_root(token)
    with pytest.raises(KeyError):
        chain.receipt(tx.hash)
    assert chain.state == side.state
    # and back: the branch with the call becomes heavier again
    chain_b = new_chain()
    for block in list(chain.main_chain())[1:-2]:
        chain_b.add_block(block)
    chain_b.add_block(with_call)
    extend(chain_b, [], miner=MINER_A)
    extend(chain_b, [], miner=MINER_A)
    for block in list(chain_b.main_chain())[-2:]:
        chain.add_block(block)
    assert chain.head_hash == chain_b.head_hash
    assert chain.receipt(tx.hash).ok and len(chain.events()) == 1
    assert chain.call_view(token, "balance_of", [BOB.address]) == 10
    assert chain.state == chain_b.state and chain.state.root() != root_before
    assert chain.state.root() == chain.head.header.state_root


def test_a_state_with_contracts_copies_and_compares():
    chain = new_chain()
    token, _ = busy_history(chain)
    twin = chain.state.copy()
    assert twin == chain.state and twin.root() == chain.state.root()
    assert isinstance(twin, State) and twin.code(token) == TOKEN
