"""What a running contract may ask of the chain, and what a call returns.

The interpreter (``blockkit.contracts.vm``) never touches the state directly: it asks a ``Host``
(implemented by ``blockkit.execution`` over the chain's ``State``) to read and write storage, move
coins, call another contract and record events, and it charges gas for each request. Keeping that
boundary narrow is what makes the VM impossible to escape: a contract can only do what a ``Host``
method lets it do.

Values that cross the boundary (arguments, return values, storage values, event fields) are
*contract values*: ``None``, ``bool``, ``int``, ``str``, ``bytes``, ``list`` and ``dict`` with
``str`` / ``int`` / ``bytes`` keys — exactly what ``blockkit.encoding`` encodes canonically, so
they hash and compare the same on every node.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from blockkit.keys import Address

__all__ = ["CallContext", "CallResult", "Event", "Host", "TraceStep", "with_addresses"]


def with_addresses(value: Any) -> Any:
    """``value`` with every 20-byte ``bytes`` inside it (lists and dict values and keys too) shown
    as an ``Address`` (``0x…``), for people reading storage and events.

    Storage and event fields come back from their canonical encoding as plain ``bytes``, whose
    repr (``b'K\\xc2?\\t…'``) hides which account they name. ``Address`` is a ``bytes`` subclass,
    so the result compares, hashes and encodes exactly like the input; only its repr changes. (A
    20-byte value that is not an address, say a truncated hash, is shown as one too.)
    """
    if isinstance(value, bytes) and not isinstance(value, Address) and len(value) == 20:
        return Address(value)
    if isinstance(value, list):
        return [with_addresses(v) for v in value]
    if isinstance(value, dict):
        return {with_addresses(k): with_addresses(v) for k, v in value.items()}
    return value


#: Status of a finished call.
OK, REVERTED, OUT_OF_GAS, FAULT = "ok", "reverted", "out-of-gas", "fault"


@dataclass(frozen=True)
class CallContext:
    """Who is calling what, with how much, in which block."""

    contract: Address
    """The contract being run (its storage is the one ``self.x`` reads and writes)."""
    caller: Address
    """The direct caller: an account for a transaction, a contract for a nested call."""
    origin: Address
    """The account that signed the transaction (never a contract)."""
    value: int
    """Coins sent with this call (already moved to the contract's balance)."""
    block_height: int
    timestamp: int
    depth: int = 0
    """0 for the transaction's own call, +1 for each nested call."""


@dataclass(frozen=True)
class Event:
    """A record a contract emitted: ``emit("Transfer", to=..., amount=...)``."""

    contract: Address
    name: str
    fields: dict[str, Any]


@dataclass(frozen=True)
class TraceStep:
    """One step of an execution trace (shown row by row in lesson 08's stepper)."""

    step: int
    line: int
    operation: str
    """What ran: ``"assign balance"``, ``"call transfer"``, ``"compare"``, ``"storage read"``…"""
    gas_left: int
    depth: int = 0
    storage: dict[str, Any] = field(default_factory=dict)
    """Storage changes made by this step: slot (readable) -> new value."""


@dataclass(frozen=True)
class CallResult:
    """How a call ended. State changes of a failed call are already undone by the host."""

    status: str
    """``"ok"``, ``"reverted"``, ``"out-of-gas"`` or ``"fault"``."""
    gas_used: int
    return_value: Any = None
    error: str = ""
    """Why it failed, in words a student can act on (empty when ``ok``)."""
    events: tuple[Event, ...] = ()
    """Events of this call and its nested calls (none when it failed: they are reverted too)."""
    trace: tuple[TraceStep, ...] = ()
    """Filled only when the call was run with ``trace=True``."""

    @property
    def ok(self) -> bool:
        """True when the call succeeded."""
        return self.status == OK


class Host(Protocol):
    """The chain as a contract sees it. Every method may raise ``ContractFault`` with a reason."""

    def storage_get(self, contract: Address, key: bytes) -> Any:
        """The contract value stored under ``key`` (canonical bytes of the slot), or None."""
        ...

    def storage_set(self, contract: Address, key: bytes, value: Any) -> None:
        """Store a contract value (None deletes the slot)."""
        ...

    def balance(self, address: Address) -> int:
        """Coins held by ``address``."""
        ...

    def transfer(self, source: Address, target: Address, amount: int) -> None:
        """Move coins; raises ``ContractFault`` when ``source`` has too few."""
        ...

    def call(
        self, context: CallContext, target: Address, function: str, args: list[Any], gas: int
    ) -> CallResult:
        """Run ``function`` of the contract at ``target`` with ``context`` (caller, value, depth
        already set by the VM) and at most ``gas``; the host reverts its changes if it fails.

        The VM has already moved ``context.value`` to ``target`` (after its own checkpoint, so a
        failure takes the coins back too): the host must not move it again."""
        ...

    def emit(self, event: Event) -> None:
        """Record an event (dropped with everything else if the transaction fails)."""
        ...

    def checkpoint(self) -> int:
        """A mark to ``revert`` to: the VM reverts a failed nested call's changes with it."""
        ...

    def revert(self, checkpoint: int) -> None:
        """Undo storage writes, transfers and events made after ``checkpoint``."""
        ...
