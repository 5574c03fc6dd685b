"""One way to drive a contract from Python, on a LocalHost and on a Chain alike."""

from __future__ import annotations

import pytest
from helpers import ALICE, new_chain

from blockkit.contracts import LocalHost, client
from blockkit.errors import ContractFault, OutOfGas, Revert

SOURCE = """
class Box:
    def __init__(self, start: int):
        self.value = start

    def put(self, amount: int) -> int:
        require(amount >= 0, "put a value >= 0")
        self.value = amount
        return amount

    def peek_and_bump(self) -> int:
        self.value += 1
        return self.value
"""


@pytest.fixture(params=["local", "chain"])
def backend(request):
    if request.param == "local":
        host = LocalHost()
        host.account("alice", 10**6)
        return host
    return new_chain()


def test_the_same_outcomes_and_errors_on_both_backends(backend):
    box, outcome = client.deploy(backend, ALICE, SOURCE, [5], gas=100_000)
    assert outcome.ok
    assert client.transact(backend, box, ALICE, "put", [7], gas=10_000).value == 7
    refused = client.transact(backend, box, ALICE, "put", [-1], gas=10_000)
    assert (refused.status, refused.error, refused.value) == ("reverted", "put a value >= 0", None)
    assert client.transact(backend, box, ALICE, "put", [1], gas=5).status == "out-of-gas"
    # a view changes nothing, even when the function writes
    assert client.view(backend, box, "peek_and_bump", []) == 8
    assert client.view(backend, box, "peek_and_bump", []) == 8
    with pytest.raises(ContractFault, match=r"nothing of 0x[0-9a-f]{8}… failed: .*no public"):
        client.view(backend, box, "nothing", [])
    assert client.where(backend) == ("LocalHost" if isinstance(backend, LocalHost) else "Chain")


def test_a_failed_constructor_is_an_outcome_not_an_exception(backend):
    _, outcome = client.deploy(backend, ALICE, SOURCE, [], gas=100_000)
    assert outcome.status == "fault" and "argument" in outcome.error


def test_contract_error_maps_each_status():
    assert isinstance(client.contract_error("reverted", "no", "x"), Revert)
    assert isinstance(client.contract_error("out-of-gas", "no", "x"), OutOfGas)
    error = client.contract_error("fault", "bad", "put")
    assert isinstance(error, ContractFault) and str(error) == "put failed: bad"
