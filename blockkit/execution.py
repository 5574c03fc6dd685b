"""Executing a transaction: a plain transfer, a contract deployment or a contract call, and the
receipt that says what happened.

A block's transactions are applied one by one with ``apply_transaction``. What a transaction does
depends on where it goes and what its ``data`` holds:

==============================  ==============================================================
recipient                       meaning
==============================  ==============================================================
``ZERO_ADDRESS``, data empty    a plain transfer (the coins are burnt), as before contracts
``ZERO_ADDRESS``, data          a **deploy**: ``data = encode(["deploy", source, args])``
a contract                      a **call**: ``data = encode(["call", function, args])``
a plain account                 a plain transfer; ``data`` is a memo (but data that encodes a
                                ``"call"`` or ``"deploy"`` is refused, see below)
==============================  ==============================================================

**Gas.** A contract transaction's ``fee`` is its *gas limit*, at a gas price of 1 coin per unit
(``GAS_PRICE``). The whole fee is taken from the sender before anything runs; what the call did
not use is refunded afterwards, so the sender pays ``fee_paid = gas_used`` and the block's
proposer receives exactly the fees paid. Before the contract runs, the transaction pays
``INTRINSIC_GAS`` plus ``GAS_PER_DATA_BYTE`` for each byte of ``data``: the work of reading and
decoding it, so that even a failing transaction costs something. A plain transfer runs no code: its
receipt shows ``gas_used=0`` and it pays its whole fee, as in the lessons before contracts.

**Failure.** A contract transaction that fails (``"reverted"``, ``"out-of-gas"``, ``"fault"``)
still uses its nonce and pays for its gas; every other change (the value sent, storage writes,
transfers, events) is undone, and its receipt carries the status and the error. The block stays
valid. Data that does not decode, names an unknown function, is not a deploy when sent to
``ZERO_ADDRESS``, or is a call or deploy sent to an address without code, also yields a failed
receipt (status ``"fault"``): the block's producer could not know, and charging for it keeps the
chain from carrying free junk. A transaction with a bad signature or nonce, or whose sender cannot
pay ``value + fee``, stays an *invalid transaction* and makes its block invalid, exactly as before.

The contract's address is ``tagged_hash(b"blockkit/contract", sender || nonce)[:20]`` with the
deploy transaction's nonce as 8 big-endian bytes (``contract_address``): anyone can compute it
before the deploy is mined.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from blockkit.blocks import ZERO_ADDRESS
from blockkit.contracts.host import FAULT, OK, OUT_OF_GAS, REVERTED, CallContext, CallResult, Event
from blockkit.encoding import decode, encode
from blockkit.errors import (
    ContractError,
    ContractFault,
    EncodingError,
    InsufficientFunds,
    InvalidContract,
    OutOfGas,
    Revert,
)
from blockkit.hashing import tagged_hash
from blockkit.keys import ADDRESS_SIZE, Address, PrivateKey
from blockkit.state import State
from blockkit.transactions import Transaction, sign_transaction

if TYPE_CHECKING:
    from blockkit.contracts.lang import Program
    from blockkit.params import Params

__all__ = [
    "CONTRACT_TAG",
    "GAS_PER_DATA_BYTE",
    "GAS_PRICE",
    "INTRINSIC_GAS",
    "VIEW_GAS",
    "Receipt",
    "StateHost",
    "apply_transaction",
    "call_transaction",
    "contract_address",
    "deploy_transaction",
    "intrinsic_gas",
    "readable_slot",
    "simulate_call",
]

#: Coins per unit of gas: a contract transaction's ``fee`` is its gas limit.
GAS_PRICE = 1
#: Gas every contract transaction pays before its code runs ...
INTRINSIC_GAS = 100
#: ... plus this much per byte of ``data`` (reading and decoding it, compiling a deploy's source).
GAS_PER_DATA_BYTE = 1
#: Gas given to a read-only query (``Chain.call_view``) unless the caller asks for another limit.
VIEW_GAS = 1_000_000

CONTRACT_TAG = b"blockkit/contract"
DEPLOY, CALL = "deploy", "call"


@dataclass(frozen=True)
class Receipt:
    """What applying one transaction did. Kept by the chain for every transaction on its best
    branch (``Chain.receipt``); not committed to in the header."""

    tx_hash: bytes
    """The transaction's hash."""
    status: str
    """``"ok"``, ``"reverted"``, ``"out-of-gas"`` or ``"fault"`` (``blockkit.contracts.host``)."""
    gas_used: int
    """Gas the transaction used, intrinsic gas included (0 for a plain transfer)."""
    fee_paid: int
    """Coins the sender paid and the proposer received: ``gas_used * GAS_PRICE`` for a contract
    transaction, the whole ``fee`` for a plain transfer."""
    events: tuple[Event, ...] = ()
    """Events the contracts emitted (none when the transaction failed)."""
    return_value: Any = None
    """What the called function returned (None for a deploy or a plain transfer)."""
    error: str = ""
    """Why it failed, in words a student can act on (empty when ``ok``)."""
    contract_address: Address | None = None
    """The new contract's address, for a deploy that succeeded."""

    @property
    def ok(self) -> bool:
        """True when the transaction succeeded."""
        return self.status == OK

    def __repr__(self) -> str:
        extra = f", error={self.error!r}" if self.error else ""
        if self.contract_address is not None:
            extra += f", contract={self.contract_address.short}"
        return (
            f"Receipt({self.status!r}, tx={self.tx_hash.hex()[:12]}…, gas_used={self.gas_used}, "
            f"fee_paid={self.fee_paid}, events={len(self.events)}{extra})"
        )


# --- building contract transactions -----------------------------------------------------------


def contract_address(sender: bytes, nonce: int) -> Address:
    """The address a deploy from ``sender`` with ``nonce`` creates."""
    return Address(
        tagged_hash(CONTRACT_TAG, bytes(sender) + nonce.to_bytes(8, "big"))[:ADDRESS_SIZE]
    )


def deploy_transaction(
    key: PrivateKey,
    source: str,
    args: list[Any] | tuple[Any, ...] = (),
    *,
    nonce: int,
    chain_id: int,
    gas: int,
    value: int = 0,
) -> Transaction:
    """A signed transaction deploying ``source`` with constructor ``args``; ``gas`` is its fee.

    The contract will live at ``contract_address(key.address, nonce)``.
    """
    data = encode([DEPLOY, source, list(args)])
    return sign_transaction(
        key, ZERO_ADDRESS, value, nonce=nonce, chain_id=chain_id, fee=gas, data=data
    )


def call_transaction(
    key: PrivateKey,
    contract: bytes,
    function: str,
    args: list[Any] | tuple[Any, ...] = (),
    *,
    nonce: int,
    chain_id: int,
    gas: int,
    value: int = 0,
) -> Transaction:
    """A signed transaction calling ``function(*args)`` of ``contract``; ``gas`` is its fee."""
    data = encode([CALL, function, list(args)])
    return sign_transaction(
        key, Address(bytes(contract)), value, nonce=nonce, chain_id=chain_id, fee=gas, data=data
    )


def intrinsic_gas(tx: Transaction) -> int:
    """Gas a contract transaction pays before any code runs."""
    return INTRINSIC_GAS + GAS_PER_DATA_BYTE * len(tx.data)


# --- the host: the chain as a running contract sees it ----------------------------------------


@lru_cache(maxsize=256)
def _compile(source: str) -> Program:
    """Compile once per distinct source: a ``Program`` is immutable, so it can be shared."""
    from blockkit.contracts.lang import compile_contract

    return compile_contract(source)


def _failed(status: str, gas_used: int, error: str) -> CallResult:
    return CallResult(status=status, gas_used=gas_used, error=error)


class StateHost:
    """The ``Host`` a contract runs against: storage, balances, transfers, nested calls and
    events, all on a ``State`` and undone together by ``checkpoint``/``revert``."""

    def __init__(self, state: State, *, trace: bool = False) -> None:
        self.state = state
        self.trace = trace
        self.events: list[Event] = []
        """Events emitted so far and not reverted."""
        self._marks: list[tuple[int, int]] = []  # (state journal mark, event count)

    def storage_get(self, contract: Address, key: bytes) -> Any:
        """The value in ``key`` of ``contract``'s storage, or None."""
        return self.state.storage_get(contract, key)

    def storage_set(self, contract: Address, key: bytes, value: Any) -> None:
        """Write ``value`` to ``key`` (None empties the slot)."""
        try:
            self.state.storage_set(contract, key, value)
        except (TypeError, ValueError) as exc:  # EncodingError is a ValueError
            raise ContractFault(f"cannot store {type(value).__name__} value: {exc}") from exc

    def balance(self, address: Address) -> int:
        """Coins held by ``address``."""
        return self.state.balance(address)

    def transfer(self, source: Address, target: Address, amount: int) -> None:
        """Move ``amount`` coins; ``ContractFault`` for a bad amount or when ``source`` is short."""
        if not isinstance(amount, int) or isinstance(amount, bool) or amount < 0:
            raise ContractFault(f"a transfer amount is an int >= 0, not {amount!r}")
        if not isinstance(target, bytes) or len(target) != ADDRESS_SIZE:
            raise ContractFault("a transfer goes to a 20-byte address")
        try:
            self.state.debit(source, amount)
        except InsufficientFunds as exc:
            raise ContractFault(
                f"cannot send {amount}: {Address(source).short} holds only "
                f"{self.state.balance(source)}"
            ) from exc
        self.state.credit(target, amount)

    def call(
        self, context: CallContext, target: Address, function: str, args: list[Any], gas: int
    ) -> CallResult:
        """Run ``function`` of the contract at ``target`` (the VM has already moved
        ``context.value`` and set the depth). Every change is undone when the call fails."""
        if not isinstance(target, bytes) or not self.state.is_contract(target):
            shown = Address(target).short if _is_address(target) else repr(target)
            return _failed(FAULT, 0, f"there is no contract at {shown}; check the address")
        mark = self.checkpoint()
        try:
            program = _compile(self.state.code(target))
            context = replace(context, contract=Address(bytes(target)))
            result = _execute(program, function, args, context, self, gas, self.trace)
        except ContractError as exc:
            result = _result_from_error(exc, gas)
        if not result.ok:
            self.revert(mark)
        return result

    def emit(self, event: Event) -> None:
        """Record an event; it is dropped if the call that emitted it is reverted."""
        self.events.append(event)

    def checkpoint(self) -> int:
        """A mark to ``revert`` to."""
        self._marks.append((self.state.checkpoint(), len(self.events)))
        return len(self._marks) - 1

    def revert(self, checkpoint: int) -> None:
        """Undo storage writes, transfers and events made after ``checkpoint``."""
        journal_mark, event_count = self._marks[checkpoint]
        self.state.revert(journal_mark)
        del self.events[event_count:]
        del self._marks[checkpoint:]


def _execute(
    program: Program,
    function: str,
    args: list[Any],
    context: CallContext,
    host: StateHost,
    gas: int,
    trace: bool,
) -> CallResult:
    from blockkit.contracts.vm import execute

    return execute(program, function, args, context, host, gas, trace=trace)


def _result_from_error(exc: BaseException, gas: int) -> CallResult:
    """A failed ``CallResult`` for an error the interpreter raised instead of returning."""
    if isinstance(exc, OutOfGas):
        return _failed(OUT_OF_GAS, gas, str(exc))
    if isinstance(exc, Revert):
        return _failed(REVERTED, 0, str(exc))
    return _failed(FAULT, 0, str(exc))


# --- applying a transaction -------------------------------------------------------------------


def _decode_data(data: bytes) -> Any:
    try:
        return decode(data)
    except EncodingError:
        return None


def _parse(payload: Any, kind: str) -> tuple[str, list[Any]] | str:
    """``(name_or_source, args)`` when ``payload`` is ``[kind, str, list]``; else an error text."""
    usage = (
        'encode(["deploy", source, args])' if kind == DEPLOY else 'encode(["call", function, args])'
    )
    if (
        not isinstance(payload, list)
        or len(payload) != 3
        or payload[0] != kind
        or not isinstance(payload[1], str)
        or not isinstance(payload[2], list)
    ):
        return f"the data is not a {kind}: build it with {usage} ({kind}_transaction does)"
    return payload[1], payload[2]


def _is_contract_request(payload: Any) -> bool:
    return isinstance(payload, list) and bool(payload) and payload[0] in (DEPLOY, CALL)


def apply_transaction(
    state: State, tx: Transaction, params: Params, block_height: int, timestamp: int
) -> Receipt:
    """Apply one statelessly valid transaction to ``state`` and say what happened.

    Raises ``NonceMismatch`` or ``InsufficientFunds`` (and changes nothing) when the transaction
    cannot be included at all; otherwise returns a ``Receipt``, failed or not.
    """
    recipient = tx.recipient
    is_contract = bool(state.account(recipient).code_hash)
    if not tx.data and not is_contract:
        state.apply_transaction(tx)
        return Receipt(tx.hash, OK, 0, tx.fee)
    payload = _decode_data(tx.data)
    if recipient == ZERO_ADDRESS:
        request = _parse(payload, DEPLOY)
    elif is_contract:
        request = _parse(payload, CALL)
    elif _is_contract_request(payload):
        request = f"there is no contract at {recipient.short}: check the address (or deploy first)"
    else:
        state.apply_transaction(tx)  # a memo to a plain account
        return Receipt(tx.hash, OK, 0, tx.fee)
    return _apply_contract_transaction(state, tx, request, block_height, timestamp)


def _apply_contract_transaction(
    state: State,
    tx: Transaction,
    request: tuple[str, list[Any]] | str,
    block_height: int,
    timestamp: int,
) -> Receipt:
    """Buy the gas, run the deploy or call, undo it if it failed, refund the unused gas."""
    gas_limit = tx.fee // GAS_PRICE
    state.take_nonce_and_fee(tx, tx.fee)  # raises, changing nothing, if it cannot be included
    mark = state.checkpoint()
    intrinsic = intrinsic_gas(tx)
    new_contract: Address | None = None
    host = StateHost(state)
    if gas_limit < intrinsic:
        result = _failed(
            OUT_OF_GAS,
            gas_limit,
            f"the transaction needs {intrinsic} gas before any code runs "
            f"({INTRINSIC_GAS} + {GAS_PER_DATA_BYTE} per data byte); raise its fee to at "
            "least that",
        )
    elif isinstance(request, str):
        result = _failed(FAULT, intrinsic, request)
    else:
        if tx.recipient == ZERO_ADDRESS:
            new_contract = contract_address(tx.sender, tx.nonce)
            result = _run_deploy(
                host, tx, new_contract, request, gas_limit - intrinsic, block_height, timestamp
            )
        else:
            result = _run_call(host, tx, request, gas_limit - intrinsic, block_height, timestamp)
        result = replace(result, gas_used=min(gas_limit, intrinsic + result.gas_used))
    if not result.ok:
        state.revert(mark)
        new_contract = None
    fee_paid = result.gas_used * GAS_PRICE
    if tx.fee > fee_paid:
        state.credit(tx.sender, tx.fee - fee_paid)
    return Receipt(
        tx_hash=tx.hash,
        status=result.status,
        gas_used=result.gas_used,
        fee_paid=fee_paid,
        events=result.events if result.ok else (),
        return_value=result.return_value if result.ok else None,
        error=result.error,
        contract_address=new_contract,
    )


def _run_deploy(
    host: StateHost,
    tx: Transaction,
    address: Address,
    request: tuple[str, list[Any]],
    gas: int,
    block_height: int,
    timestamp: int,
) -> CallResult:
    """Compile the source, install it at ``address``, move the value, run the constructor."""
    source, args = request
    state = host.state
    if state.is_contract(address):
        return _failed(FAULT, 0, f"{address.short} already holds a contract")
    try:
        program = _compile(source)
    except InvalidContract as exc:
        return _failed(FAULT, 0, f"the contract does not compile: {exc}")
    state.install_code(address, program.code_hash, source)
    context = CallContext(
        contract=address,
        caller=tx.sender,
        origin=tx.sender,
        value=tx.value,
        block_height=block_height,
        timestamp=timestamp,
    )
    try:
        host.transfer(tx.sender, address, tx.value)
        from blockkit.contracts.vm import deploy

        return deploy(program, args, context, host, gas)
    except ContractError as exc:
        return _result_from_error(exc, gas)


def _run_call(
    host: StateHost,
    tx: Transaction,
    request: tuple[str, list[Any]],
    gas: int,
    block_height: int,
    timestamp: int,
) -> CallResult:
    """Move the value to the contract, then run ``function(*args)``."""
    function, args = request
    context = CallContext(
        contract=tx.recipient,
        caller=tx.sender,
        origin=tx.sender,
        value=tx.value,
        block_height=block_height,
        timestamp=timestamp,
    )
    try:
        host.transfer(tx.sender, tx.recipient, tx.value)
        program = _compile(host.state.code(tx.recipient))
        return _execute(program, function, args, context, host, gas, False)
    except ContractError as exc:
        return _result_from_error(exc, gas)


# --- read-only queries ------------------------------------------------------------------------


def simulate_call(
    state: State,
    contract: bytes,
    function: str,
    args: list[Any] | tuple[Any, ...] = (),
    *,
    caller: bytes = ZERO_ADDRESS,
    value: int = 0,
    block_height: int = 0,
    timestamp: int = 0,
    gas: int = VIEW_GAS,
    trace: bool = False,
) -> CallResult:
    """Run a call on ``state`` as if in a transaction, then undo everything it changed.

    No nonce, no fee, no transaction: how wallets read a contract (``balance_of``), and how a
    lesson steps through a call (``trace=True``) before sending it. ``value`` is credited to the
    contract out of thin air for the duration of the call (and undone with it).
    """
    address = Address(bytes(contract))
    if not state.is_contract(address):
        return _failed(FAULT, 0, f"there is no contract at {address.short}; check the address")
    mark = state.checkpoint()
    try:
        host = StateHost(state, trace=trace)
        if value:
            state.credit(address, value)
        context = CallContext(
            contract=address,
            caller=Address(bytes(caller)),
            origin=Address(bytes(caller)),
            value=value,
            block_height=block_height,
            timestamp=timestamp,
        )
        try:
            program = _compile(state.code(address))
            result = _execute(program, function, list(args), context, host, gas, trace)
        except ContractError as exc:
            result = _result_from_error(exc, gas)
        return result
    finally:
        state.revert(mark)


def readable_slot(slot: bytes) -> str:
    """A storage slot for people: ``"count"``, ``"balances[0x1a2b…]"`` (full address).

    The interpreter stores field ``x`` under ``encode(["x"])`` and entry ``k`` of mapping ``m``
    under ``encode(["m", k])`` (``blockkit.contracts.vm.slot_key``). Keys are shown in full, so two
    slots never get the same name. A slot of any other shape is shown as hex.
    """
    try:
        path = decode(slot)
    except EncodingError:
        return "0x" + slot.hex()
    if isinstance(path, list) and len(path) in (1, 2) and isinstance(path[0], str):
        return path[0] if len(path) == 1 else f"{path[0]}[{_readable_key(path[1])}]"
    return "0x" + slot.hex()


def _is_address(value: object) -> bool:
    return isinstance(value, bytes) and len(value) == ADDRESS_SIZE


def _readable_key(key: Any) -> str:
    if _is_address(key):
        return str(Address(key))
    if isinstance(key, bytes):
        return "0x" + key.hex()
    if isinstance(key, list):
        return ", ".join(_readable_key(part) for part in key)
    return repr(key)
