"""The functions behind lesson 09's role selector: one contract view asked as each party."""

from __future__ import annotations

import pytest
from helpers import ALICE, BOB, CAROL, DAVE, extend, new_chain

from blockkit.execution import call_transaction, deploy_transaction
from blockkit.keys import Address
from blockkit.widgets.tokens import ABSENT, readable, role_selector, view_table, views_by_role

ROLES = """
class Roles:
    def __init__(self, insurer: bytes):
        self.owner = caller
        self.insurer = insurer
        self.secret = "brakes worn"

    def view(self) -> dict:
        if caller == self.owner:
            return {"owner": self.owner, "notes": self.secret}
        if caller == self.insurer:
            return {"passed": False}
        return {"registered": True}

    def only_owner(self) -> int:
        require(caller == self.owner, "owner only")
        return 7
"""


@pytest.fixture(scope="module")
def world():
    chain = new_chain()
    tx = deploy_transaction(
        ALICE, ROLES, [BOB.address], nonce=0, chain_id=chain.params.chain_id, gas=50_000
    )
    extend(chain, [tx])
    contract = chain.receipt(tx.hash).contract_address
    parties = {"owner": ALICE.address, "insurer": BOB.address, "anyone": CAROL.address}
    return chain, contract, parties


def test_each_party_gets_its_own_answer(world):
    chain, contract, parties = world
    views = views_by_role(chain, contract, parties)
    assert views == {
        "owner": {"owner": ALICE.address, "notes": "brakes worn"},
        "insurer": {"passed": False},
        "anyone": {"registered": True},
    }
    refused = views_by_role(chain, contract, parties, "only_owner")
    assert refused["owner"] == 7
    assert refused["anyone"].startswith("refused: ") and "owner only" in refused["anyone"]


def test_the_table_lines_fields_up_and_marks_what_a_party_does_not_see(world):
    chain, contract, parties = world
    names = {bytes(ALICE.address): "alice"}
    table = view_table(views_by_role(chain, contract, parties), names)
    assert list(table.columns) == ["owner", "insurer", "anyone"]
    assert list(table.index) == ["notes", "owner", "passed", "registered"]  # canonical key order
    assert table.loc["owner", "owner"] == "alice"
    assert table.loc["notes", "anyone"] == ABSENT and table.loc["registered", "anyone"] == "True"
    answers = view_table({"a": 7, "b": "refused: no"})
    assert list(answers.index) == ["(answer)"] and answers.loc["(answer)", "b"] == "refused: no"


def test_readable_values():
    names = {bytes(DAVE.address): "dave"}
    assert readable(DAVE.address, names) == "dave"
    assert readable(bytes(BOB.address)) == Address(bytes(BOB.address)).short
    assert readable(b"\x01" * 32) == "0101010101010101…"
    assert readable({"to": DAVE.address, "log": [1, None]}, names) == "{to: dave, log: [1, None]}"


def test_the_selector_shows_the_chosen_party(world):
    chain, contract, parties = world
    box = role_selector(chain, contract, parties, names={bytes(ALICE.address): "alice"})
    toggle, out = box.children
    assert toggle.options == ("owner", "insurer", "anyone")
    assert "as <b>owner</b> (2 fields)" in out.value and "brakes worn" in out.value
    toggle.value = "anyone"
    assert "as <b>anyone</b> (1 field)" in out.value and "brakes worn" not in out.value


def test_a_signed_change_shows_up_in_the_next_query(world):
    chain, contract, _ = world
    tx = call_transaction(
        ALICE, contract, "view", [], nonce=1, chain_id=chain.params.chain_id, gas=20_000
    )
    extend(chain, [tx])
    assert chain.receipt(tx.hash).return_value == {"owner": ALICE.address, "notes": "brakes worn"}
