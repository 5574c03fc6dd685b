"""A complete ``Host`` in memory: run contracts without a chain (tests, lessons, experiments).

``LocalHost`` keeps balances, contract code, storage and events in dicts, and records every
change in a journal so ``checkpoint``/``revert`` can undo them — the same contract the chain's
host honours. Storage values are kept as canonical bytes, so what a contract reads back is always
a fresh copy and never an object some other code could change behind the journal's back.

>>> host = LocalHost()
>>> alice = host.account("alice", 100)
>>> counter, result = host.deploy(COUNTER_EXAMPLE, sender=alice)
>>> host.transact(alice, counter, "increment").return_value
1
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from blockkit.contracts.host import FAULT, CallContext, CallResult, Event, with_addresses
from blockkit.contracts.lang import Program, compile_contract
from blockkit.contracts.vm import deploy as vm_deploy
from blockkit.contracts.vm import execute as vm_execute
from blockkit.encoding import decode, encode
from blockkit.errors import ContractFault
from blockkit.hashing import tagged_hash
from blockkit.keys import Address

__all__ = ["COUNTER_EXAMPLE", "DEFAULT_GAS_LIMIT", "LocalHost"]

#: Gas given to a call when none is named: plenty for lessons, small enough to stop a loop fast.
DEFAULT_GAS_LIMIT = 1_000_000

COUNTER_EXAMPLE = """
class Counter:
    def __init__(self):
        self.count = 0

    def increment(self):
        self.count += 1
        return self.count
"""


class LocalHost:
    """Balances, contracts, storage and events in dicts, with a journal for revert."""

    def __init__(self, *, block_height: int = 1, timestamp: int = 0) -> None:
        self.block_height = block_height
        self.timestamp = timestamp
        self.balances: dict[Address, int] = {}
        self.programs: dict[Address, Program] = {}
        self.storage: dict[tuple[Address, bytes], bytes] = {}
        self.events: list[Event] = []
        self._journal: list[Callable[[], None]] = []
        self._deployed = 0

    def __repr__(self) -> str:
        return (
            f"LocalHost({len(self.balances)} accounts, {len(self.programs)} contracts, "
            f"{len(self.storage)} storage slots, {len(self.events)} events)"
        )

    # -- setting up

    def account(self, name: str, balance: int = 0) -> Address:
        """A deterministic address for ``name`` (``"alice"``), funded with ``balance``."""
        address = Address(tagged_hash(b"blockkit/local-account", name.encode())[:20])
        self.balances[address] = self.balances.get(address, 0) + balance
        return address

    def deploy(
        self,
        source: str | Program,
        *args: Any,
        sender: Address,
        value: int = 0,
        gas_limit: int = DEFAULT_GAS_LIMIT,
        trace: bool = False,
    ) -> tuple[Address, CallResult]:
        """Validate ``source`` (``InvalidContract`` if it is outside the language), give it a
        fresh address and run its ``__init__``; a failed constructor leaves nothing behind."""
        program = source if isinstance(source, Program) else compile_contract(source)
        self._deployed += 1
        address = Address(
            tagged_hash(b"blockkit/local-contract", encode([sender, self._deployed]))[:20]
        )
        mark = self.checkpoint()
        self._set(self.programs, address, program)
        result = self._start(sender, address, value, gas_limit)
        if result is None:
            result = vm_deploy(
                program, list(args), self._context(sender, address, value), self, gas_limit,
                trace=trace,
            )  # fmt: skip
        if not result.ok:
            self.revert(mark)
        return address, result

    def transact(
        self,
        sender: Address,
        contract: Address,
        function: str,
        *args: Any,
        value: int = 0,
        gas_limit: int = DEFAULT_GAS_LIMIT,
        trace: bool = False,
    ) -> CallResult:
        """Call ``function`` as if ``sender`` had signed a transaction (gas is not paid for in
        coins here: ``LocalHost`` has no fees)."""
        program = self.programs.get(contract)
        if program is None:
            return CallResult(FAULT, 0, error=f"no contract at {contract}: deploy one first")
        mark = self.checkpoint()
        result = self._start(sender, contract, value, gas_limit)
        if result is None:
            result = vm_execute(
                program, function, list(args), self._context(sender, contract, value), self,
                gas_limit, trace=trace,
            )  # fmt: skip
        if not result.ok:
            self.revert(mark)
        return result

    def _start(
        self, sender: Address, contract: Address, value: int, gas_limit: int
    ) -> CallResult | None:
        """Move ``value`` to the contract, or say why not."""
        if value < 0:
            return CallResult(FAULT, 0, error="value must be >= 0")
        try:
            self.transfer(sender, contract, value)
        except ContractFault as exc:
            return CallResult(FAULT, 0, error=str(exc))
        return None

    def _context(self, sender: Address, contract: Address, value: int) -> CallContext:
        return CallContext(
            contract=contract,
            caller=sender,
            origin=sender,
            value=value,
            block_height=self.block_height,
            timestamp=self.timestamp,
        )

    # -- reading (for tests and lessons)

    def read(self, contract: Address) -> dict[str, Any]:
        """Every storage slot of ``contract``, with readable names: ``{"count": 3,
        "balances[0x1a2b…]": 10}``."""
        from blockkit.contracts.vm import slot_name

        view: dict[str, Any] = {}
        for (owner, key), data in sorted(self.storage.items()):
            if owner != contract:
                continue
            path = decode(key)
            name = slot_name(path[0], path[1], entry=True) if len(path) == 2 else path[0]
            view[name] = with_addresses(decode(data))
        return view

    # -- the Host protocol

    def storage_get(self, contract: Address, key: bytes) -> Any:
        """The value under ``key``, freshly decoded, or None."""
        data = self.storage.get((contract, key))
        return None if data is None else decode(data)

    def storage_set(self, contract: Address, key: bytes, value: Any) -> None:
        """Store ``value`` (None deletes the slot), journaled."""
        slot = (contract, key)
        if value is None:
            self._pop(self.storage, slot)
        else:
            self._set(self.storage, slot, encode(value))

    def balance(self, address: Address) -> int:
        """Coins held by ``address`` (0 if never seen)."""
        return self.balances.get(address, 0)

    def transfer(self, source: Address, target: Address, amount: int) -> None:
        """Move ``amount`` coins, journaled; ``ContractFault`` if ``source`` has too few."""
        if amount < 0:
            raise ContractFault(f"cannot transfer a negative amount ({amount})")
        if amount == 0:
            return
        have = self.balance(source)
        if have < amount:
            raise ContractFault(
                f"{Address(source).short} has {have} coins, cannot send {amount}: send less"
            )
        self._set(self.balances, source, have - amount)
        self._set(self.balances, target, self.balance(target) + amount)

    def call(
        self, context: CallContext, target: Address, function: str, args: list[Any], gas: int
    ) -> CallResult:
        """Run a nested call (the VM has already moved ``context.value``)."""
        program = self.programs.get(target)
        if program is None:
            raise ContractFault(f"no contract at {Address(target).short}: check the address")
        return vm_execute(program, function, args, context, self, gas)

    def emit(self, event: Event) -> None:
        """Record ``event``, journaled."""
        self.events.append(event)
        self._journal.append(self.events.pop)

    def checkpoint(self) -> int:
        """A mark for ``revert``: the journal's length."""
        return len(self._journal)

    def revert(self, checkpoint: int) -> None:
        """Undo every change recorded after ``checkpoint``, newest first."""
        if not 0 <= checkpoint <= len(self._journal):
            raise ValueError(f"unknown checkpoint {checkpoint}")
        while len(self._journal) > checkpoint:
            self._journal.pop()()

    # -- journaled dict edits

    def _set(self, table: dict[Any, Any], key: Any, value: Any) -> None:
        self._remember(table, key)
        table[key] = value

    def _pop(self, table: dict[Any, Any], key: Any) -> None:
        if key in table:
            self._remember(table, key)
            del table[key]

    def _remember(self, table: dict[Any, Any], key: Any) -> None:
        if key in table:
            old = table[key]
            self._journal.append(lambda: table.__setitem__(key, old))
        else:
            self._journal.append(lambda: table.pop(key, None))
