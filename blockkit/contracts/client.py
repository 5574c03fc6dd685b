"""Drive a contract from Python the same way on a ``LocalHost`` and on a ``Chain``.

Applications (``blockkit.sharing``'s credential registry, access policies, provenance) wrap a
contract in a Python class. The class should not care where the contract runs: on a
``LocalHost`` a write is a call from the signer's address, run at once; on a ``Chain`` it is a
signed transaction handed to ``submit`` (by default mined alone into the next block, as a
single-node classroom chain would), whose receipt says what happened. Reads are free either way:
``Chain.call_view``, or on a ``LocalHost`` a call that is undone afterwards.

``transact`` and ``deploy`` return an ``Outcome`` and never raise for what the contract did, so
each application can turn a refusal into its own error (a tagged ``AccessDenied``, say);
``contract_error`` is the plain mapping (``Revert``, ``OutOfGas``, ``ContractFault``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from blockkit.contracts.local import DEFAULT_GAS_LIMIT, LocalHost
from blockkit.errors import ContractError, ContractFault, OutOfGas, Revert
from blockkit.keys import Address

if TYPE_CHECKING:
    from blockkit.chain import Chain
    from blockkit.keys import PrivateKey
    from blockkit.transactions import Transaction

__all__ = ["Outcome", "contract_error", "deploy", "transact", "view", "where"]


@dataclass(frozen=True)
class Outcome:
    """How a write ended, the same on both backends (a ``CallResult`` or a ``Receipt``)."""

    status: str
    """``"ok"``, ``"reverted"``, ``"out-of-gas"`` or ``"fault"``."""
    error: str = ""
    value: Any = None
    """What the function returned (None unless ``ok``)."""

    @property
    def ok(self) -> bool:
        return self.status == "ok"


def contract_error(status: str, error: str, what: str) -> ContractError:
    """The exception for a failed ``status``: ``Revert``, ``OutOfGas`` or ``ContractFault``,
    saying ``"<what> failed: <error>"`` (as ``Chain.call_view`` does)."""
    kind = {"reverted": Revert, "out-of-gas": OutOfGas}.get(status, ContractFault)
    return kind(f"{what} failed: {error}")


def where(backend: LocalHost | Chain) -> str:
    """``"LocalHost"`` or ``"Chain"``, for reprs."""
    return "LocalHost" if isinstance(backend, LocalHost) else "Chain"


def _send(chain: Chain, tx: Transaction, submit: Callable[[Transaction], None] | None) -> Outcome:
    """Hand ``tx`` to ``submit`` (default: mine it alone into the next block) and read its
    receipt."""
    if submit is not None:
        submit(tx)
    else:
        block = chain.mine_block(
            [tx], proposer=tx.sender, timestamp=chain.head.header.timestamp + 1
        )
        chain.add_block(block)
    receipt = chain.receipt(tx.hash)
    return Outcome(receipt.status, receipt.error, receipt.return_value)


def deploy(
    backend: LocalHost | Chain,
    key: PrivateKey,
    source: str,
    args: list[Any],
    *,
    gas: int = DEFAULT_GAS_LIMIT,
    submit: Callable[[Transaction], None] | None = None,
) -> tuple[Address, Outcome]:
    """Deploy ``source`` with constructor ``args``, signed by ``key``; the new address and how
    the constructor ended. (Source outside the language raises ``InvalidContract`` on a
    ``LocalHost``; on a ``Chain`` it is a deploy transaction that fails, so it is an outcome.)"""
    if isinstance(backend, LocalHost):
        address, result = backend.deploy(source, *args, sender=key.address, gas_limit=gas)
        return address, Outcome(result.status, result.error)
    from blockkit.execution import contract_address, deploy_transaction

    nonce = backend.nonce(key.address)
    tx = deploy_transaction(
        key, source, args, nonce=nonce, chain_id=backend.params.chain_id, gas=gas
    )
    return contract_address(key.address, nonce), _send(backend, tx, submit)


def transact(
    backend: LocalHost | Chain,
    contract: Address,
    key: PrivateKey,
    function: str,
    args: list[Any],
    *,
    gas: int = DEFAULT_GAS_LIMIT,
    submit: Callable[[Transaction], None] | None = None,
) -> Outcome:
    """Call ``function(*args)`` of ``contract`` as ``key``: at once on a ``LocalHost``, as a
    signed transaction with the signer's next nonce on a ``Chain``."""
    if isinstance(backend, LocalHost):
        result = backend.transact(key.address, contract, function, *args, gas_limit=gas)
        return Outcome(result.status, result.error, result.return_value)
    from blockkit.execution import call_transaction

    tx = call_transaction(
        key, contract, function, args, nonce=backend.nonce(key.address),
        chain_id=backend.params.chain_id, gas=gas,
    )  # fmt: skip
    return _send(backend, tx, submit)


def view(backend: LocalHost | Chain, contract: Address, function: str, args: list[Any]) -> Any:
    """What ``function(*args)`` of ``contract`` returns, changing nothing; ``Revert``,
    ``OutOfGas`` or ``ContractFault`` when it fails (same message on both backends)."""
    if isinstance(backend, LocalHost):
        # a LocalHost has no read-only call: run it from the zero address and undo it
        mark = backend.checkpoint()
        result = backend.transact(Address(bytes(20)), contract, function, *args)
        backend.revert(mark)
        if not result.ok:
            what = f"{function} of {Address(bytes(contract)).short}"
            raise contract_error(result.status, result.error, what)
        return result.return_value
    return backend.call_view(contract, function, list(args))
