"""Smart contracts: programs that live on the chain, written in a small, safe subset of Python.

A contract is one class. ``__init__`` runs once, when the contract is deployed; every other method
whose name does not start with ``_`` can be called by a transaction or by another contract.
Persistent state is ``self.<name>``::

    class Token:
        def __init__(self, supply: int):
            self.owner = caller
            self.balances = {}                   # a mapping: one storage slot per key
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

Blockkit never hands contract code to Python's ``exec``/``eval``/``compile``: ``compile_contract``
parses it with ``ast``, checks every node against the rules below (``InvalidContract(reason,
line)`` otherwise), and ``vm`` interprets the tree itself, charging gas for every step.

**Values.** ``int`` (``abs(x) < 2**256``; beyond that is a fault), ``bool``, ``str``, ``bytes``,
``None``, ``list`` and ``dict`` (keys ``str``, ``int`` or ``bytes``). Tuples are lists: ``a, b =
b, a`` works. No floats: ``/`` is refused, use ``//``; no sets (their order is not deterministic).
Addresses are ``bytes`` of length 20 (``caller`` is a ``blockkit.keys.Address``, a ``bytes``
subclass; ``str(address)`` gives ``"0x…"``). Parameters may be annotated with ``int``, ``bool``,
``str``, ``bytes``, ``list`` or ``dict``: each call checks them.

**Statements.** ``=`` (also ``a, b = …`` and ``x[i] = …``), ``+=`` and friends, ``if``/``elif``/
``else``, ``for x in …`` (a list, str, bytes, a dict's keys, or ``range(…)``), ``while``,
``break``, ``continue``, ``return``, ``pass``, ``del d[key]``; list and dict comprehensions
(a generator expression is evaluated as a list).

**Builtins.** ``len range min max abs sum sorted reversed enumerate zip any all str int bool list
dict isinstance``; methods ``list.append/pop/insert/extend/index/count/remove``,
``dict.get/keys/values/items/pop``, ``str.upper/lower/strip/startswith/endswith/split/join/find/
encode``, ``bytes.hex/decode/startswith/endswith``. ``self.f(…)`` calls the contract's own
methods (``_private`` ones too).

**The chain.** Names ``caller`` (who called), ``origin`` (who signed the transaction), ``value``
(coins sent with the call), ``block_height``, ``timestamp``, ``this`` (the contract's address).
Functions ``require(cond, "message")`` and ``revert("message")`` (undo the whole call),
``emit("Name", field=value, …)``, ``balance(address)``, ``transfer(address, amount)``,
``call(address, "function", arg, …, value=0)`` (a nested call: if it fails, this call fails the
same way) and ``sha256(bytes or str)``.

**Storage.** ``self.x = v`` writes slot ``encode(["x"])``; reading ``self.x`` reads it (a field
never written reads ``None``). Lists and other values are stored whole: ``self.items.append(v)``
reads, changes and writes back the whole list. A field set to a dict display in ``__init__``
(``self.balances = {}``) is a *mapping*, as in Solidity: each entry is its own slot
``encode(["balances", key])``, so ``self.balances[a] += 1`` reads and writes one slot, however big
the mapping. A mapping is read one entry at a time (``self.m[key]``, ``self.m.get(key, default)``,
``key in self.m``, ``del self.m[key]``), never whole; for a two-level mapping use a pair as the
key: ``self.allowed[owner, spender]``. A value read from storage is a copy: change it and assign
it back. Storing ``None`` deletes a slot.

**Refused** (at deployment, with the line): imports, any name or attribute starting with ``__``,
attributes other than ``self.<field>`` and the methods above, ``lambda``, ``global``,
``nonlocal``, ``try``, ``raise``, ``assert`` (use ``require``), ``with``, ``yield``, ``async``,
nested classes and functions, decorators, ``*args``/``**kwargs``, default values, ``%`` on strings,
``.format``, f-strings, float literals, sets, unknown names (``open``, ``eval``, ``getattr``,
``type``… simply do not exist), and code nested more than ``MAX_AST_DEPTH`` levels.

**Gas and limits** are listed in ``blockkit.contracts.vm``: every step costs gas, storage much
more; out of gas, a failed ``require`` or a runtime error (division by zero, a missing key,
overflow, a limit exceeded) ends the call with every change undone and its gas still paid.

Try it without a chain: ``LocalHost`` (``blockkit.contracts.local``).
"""

from __future__ import annotations

from blockkit.contracts.host import CallContext, CallResult, Event, Host, TraceStep
from blockkit.contracts.lang import Program, compile_contract
from blockkit.contracts.local import LocalHost
from blockkit.contracts.vm import deploy, execute, trace_df

__all__ = [
    "CallContext",
    "CallResult",
    "Event",
    "Host",
    "LocalHost",
    "Program",
    "TraceStep",
    "compile_contract",
    "deploy",
    "execute",
    "trace_df",
]
