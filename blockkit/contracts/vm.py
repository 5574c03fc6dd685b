"""The gas-metered interpreter: runs a validated ``Program`` one metered step at a time.

Each statement and each expression node is one *step*, and every step follows the same four
labelled stages, like an EVM instruction in ethereum/execution-specs:

1. **operands** - evaluate the children (each one its own metered step);
2. **gas** - charge the step, plus storage, memory, call and event costs, *before* doing the work;
3. **operation** - do it, checking every limit (integer size, string length, memory);
4. **next** - return the value, or a control signal (break, continue, return) to the block.

Nothing here touches the chain directly: storage, coins, nested calls and events go through the
``Host`` (``blockkit.contracts.host``). A call that fails for any reason has every change undone
by ``host.revert`` to the checkpoint taken when it started, and still reports the gas it used.

Gas schedule (one unit = one step; a *word* is one list element, dict entry or 32 bytes):

=====================  =========================================================================
``GAS_STEP``           1 per statement or expression node evaluated
``GAS_MEMORY_WORD``    1 per word allocated (lists, dicts, strings, bytes; never given back)
``GAS_STORAGE_READ``   100 per slot read, + 1 per word of the value read
``GAS_STORAGE_WRITE``  500 per slot written or deleted, + 10 per word of the value written
``GAS_SELF_CALL``      20 per ``self.f(...)``
``GAS_CONTRACT_CALL``  700 per ``call(...)``, + the gas the called contract uses
``GAS_TRANSFER``       500 per ``transfer`` (and per nested call that sends ``value``)
``GAS_BALANCE``        100 per ``balance``
``GAS_EVENT``          200 per ``emit``, + 8 per word of its fields
``GAS_SHA256``         30 per ``sha256``, + 6 per word hashed
``GAS_BUILTIN``        5 per builtin or method call, + 1 per element it walks or compares
=====================  =========================================================================

Limits (each exceeded limit is a fault, except gas which is out-of-gas):
``MAX_CALL_DEPTH`` nested frames (contract calls *and* self-calls), ``MAX_MEMORY_WORDS`` per
call, integers ``abs(x) < 2**256``, strings and bytes of at most ``MAX_STRING_LENGTH``, values
nested at most ``MAX_NESTING`` deep when compared, and ``MAX_AST_DEPTH`` (in ``lang``), which
together keep the interpreter well inside Python's own recursion limit.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from blockkit.contracts.host import (
    FAULT,
    OK,
    OUT_OF_GAS,
    REVERTED,
    CallContext,
    CallResult,
    Event,
    Host,
    TraceStep,
    with_addresses,
)
from blockkit.contracts.lang import (
    MAX_INT_BITS,
    MAX_STRING_LENGTH,
    MUTATING_METHODS,
    Function,
    Program,
)
from blockkit.encoding import decode, encode
from blockkit.errors import ContractFault, EncodingError, OutOfGas, Revert
from blockkit.hashing import sha256 as _sha256
from blockkit.keys import Address

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "GAS_BALANCE",
    "GAS_BUILTIN",
    "GAS_CONTRACT_CALL",
    "GAS_EVENT",
    "GAS_MEMORY_WORD",
    "GAS_SELF_CALL",
    "GAS_SHA256",
    "GAS_STEP",
    "GAS_STORAGE_READ",
    "GAS_STORAGE_WRITE",
    "GAS_TRANSFER",
    "MAX_CALL_DEPTH",
    "MAX_MEMORY_WORDS",
    "MAX_NESTING",
    "MAX_TRACE_STEPS",
    "PYTHON_STACK_BUDGET",
    "deploy",
    "execute",
    "slot_key",
    "slot_name",
    "trace_df",
]

GAS_STEP = 1
GAS_MEMORY_WORD = 1
GAS_STORAGE_READ = 100
GAS_STORAGE_READ_WORD = 1
GAS_STORAGE_WRITE = 500
GAS_STORAGE_WRITE_WORD = 10
GAS_SELF_CALL = 20
GAS_CONTRACT_CALL = 700
GAS_TRANSFER = 500
GAS_BALANCE = 100
GAS_EVENT = 200
GAS_EVENT_WORD = 8
GAS_SHA256 = 30
GAS_SHA256_WORD = 6
GAS_BUILTIN = 5
GAS_ELEMENT = 1

#: Frames on the call stack at once: nested contract calls and ``self.f(...)`` calls together.
MAX_CALL_DEPTH = 8
#: Words (elements, entries, 32-byte chunks) one call may allocate in total.
MAX_MEMORY_WORDS = 1 << 18
#: Deepest nesting of lists/dicts that may be compared (``==``, ``<``, ``in``, ``sorted``…).
MAX_NESTING = 32
#: Python frames the interpreter may need for the deepest call the limits allow (measured by
#: tests/test_contracts_hostile.py). A transaction's call starts only with this much Python stack
#: free (raising the recursion limit if the caller is itself deep), so whether a call succeeds
#: never depends on who called it: every node gets the same answer.
PYTHON_STACK_BUDGET = 700
#: A trace keeps at most this many rows (the call itself runs on).
MAX_TRACE_STEPS = 100_000

_INT_LIMIT = 1 << MAX_INT_BITS
_WORD = 32
_CONTAINERS = (list, tuple, dict)
_CONSTRUCTOR = "__init__"


# --- slots ----------------------------------------------------------------------------------------


def slot_key(field_name: str, key: Any = None, *, entry: bool = False) -> bytes:
    """The canonical storage key of ``self.<field_name>`` (or of one mapping entry)."""
    return encode([field_name, key] if entry else [field_name])


def slot_name(field_name: str, key: Any = None, *, entry: bool = False) -> str:
    """A readable slot name for traces and tables: ``count``, ``balances[0x1a2b3c4d…]``."""
    return f"{field_name}[{_show(key)}]" if entry else field_name


def _show(value: Any) -> str:
    if isinstance(value, Address):
        return value.short
    if isinstance(value, bytes):
        text = "0x" + value.hex()
        return text if len(text) <= 12 else text[:10] + "…"
    if isinstance(value, list | tuple):
        return ", ".join(_show(v) for v in value)
    return repr(value) if isinstance(value, str) else str(value)


# --- control signals ------------------------------------------------------------------------------


class _Signal:
    """What a block tells its loop or function: stop the loop, go round again, or return."""

    __slots__ = ("value",)

    def __init__(self, value: Any = None) -> None:
        self.value = value


_BREAK = _Signal()
_CONTINUE = _Signal()


# --- the machine ----------------------------------------------------------------------------------


@dataclass
class _Meter:
    """Gas, memory and the trace of one call (nested contract calls have their own)."""

    gas_limit: int
    tracing: bool
    depth: int
    gas_left: int = 0
    memory: int = 0
    steps: list[TraceStep] = field(default_factory=list)
    step: int = 0

    def charge(self, gas: int, line: int, operation: str, *, row: bool = True) -> None:
        """Take ``gas`` (stage 2 of a step) or stop the call with ``OutOfGas``; ``row=False``
        adds the cost to the current trace row (memory, per-word costs) instead of a new one."""
        if gas > self.gas_left:
            self.gas_left = 0
            if self.tracing and len(self.steps) < MAX_TRACE_STEPS:
                # a last row for the charge that failed, so the rows account for all the gas
                self.step += 1
                self.steps.append(
                    TraceStep(self.step, line, f"out of gas: {operation}", 0, self.depth)
                )
            raise OutOfGas(
                f"out of gas at line {line} ({operation}): the call needs more than its limit "
                f"of {self.gas_limit}; raise the gas limit or do less work per call"
            )
        self.gas_left -= gas
        if not row:
            if self.tracing and self.steps:
                last = self.steps[-1]
                self.steps[-1] = TraceStep(
                    last.step, last.line, last.operation, self.gas_left, last.depth, last.storage
                )
            return
        self.step += 1
        if self.tracing and len(self.steps) < MAX_TRACE_STEPS:
            self.steps.append(TraceStep(self.step, line, operation, self.gas_left, self.depth))

    def note_storage(self, name: str, value: Any) -> None:
        """Attach a storage change to the latest trace row."""
        if self.tracing and self.steps:
            last = self.steps[-1]
            self.steps[-1] = TraceStep(
                last.step,
                last.line,
                last.operation,
                last.gas_left,
                last.depth,
                {**last.storage, name: value},
            )

    def allocate(self, words: int, line: int, what: str) -> None:
        """Charge memory before it is allocated; refuse past ``MAX_MEMORY_WORDS``."""
        if self.memory + words > MAX_MEMORY_WORDS:
            raise ContractFault(
                f"line {line}: {what} would use {self.memory + words} words of memory; the limit "
                f"per call is {MAX_MEMORY_WORDS}: work on smaller pieces"
            )
        self.charge(words * GAS_MEMORY_WORD, line, f"allocate {words} words", row=False)
        self.memory += words


class _Machine:
    """Interprets one call of one contract."""

    def __init__(
        self,
        program: Program,
        context: CallContext,
        host: Host,
        meter: _Meter,
    ) -> None:
        self.program = program
        self.context = context
        self.host = host
        self.meter = meter
        self.depth = context.depth
        self.events: list[Event] = []
        self.line = 0
        self.locals: dict[str, Any] = {}
        self.environment = {
            "caller": context.caller,
            "origin": context.origin,
            "value": context.value,
            "block_height": context.block_height,
            "timestamp": context.timestamp,
            "this": context.contract,
        }

    # -- helpers

    def fault(self, message: str) -> ContractFault:
        return ContractFault(f"line {self.line}: {message}")

    def step(self, node: ast.AST, operation: str, gas: int = GAS_STEP) -> None:
        self.line = getattr(node, "lineno", self.line)
        self.meter.charge(gas, self.line, operation)

    def words(self, value: Any) -> int:
        """Shallow size of a new value in words (its items already exist)."""
        if isinstance(value, str | bytes):
            return 1 + len(value) // _WORD
        if isinstance(value, list | tuple):
            return 1 + len(value)
        if isinstance(value, dict):
            return 1 + 2 * len(value)
        return 1

    def check_int(self, value: int) -> int:
        if not -_INT_LIMIT < value < _INT_LIMIT:
            raise self.fault(f"integer overflow: results must stay below 2**{MAX_INT_BITS} in size")
        return value

    def check_length(self, size: int, what: str) -> None:
        if size > MAX_STRING_LENGTH:
            raise self.fault(f"{what} of length {size} exceeds the limit of {MAX_STRING_LENGTH}")

    def check_nesting(self, *values: Any) -> None:
        """Walk containers (charging per element) and refuse nesting past ``MAX_NESTING``:
        Python compares nested lists recursively, so depth must be bounded first."""
        stack = [(v, 1) for v in values if isinstance(v, _CONTAINERS)]
        visited = 0
        while stack:
            value, depth = stack.pop()
            if depth > MAX_NESTING:
                raise self.fault(
                    f"a value nested more than {MAX_NESTING} levels (or containing itself) "
                    "cannot be compared"
                )
            items = value.values() if isinstance(value, dict) else value
            visited += len(items)
            stack.extend((v, depth + 1) for v in items if isinstance(v, _CONTAINERS))
        if visited:
            self.meter.charge(visited * GAS_ELEMENT, self.line, "walk values", row=False)

    def copy_in(self, value: Any, what: str) -> Any:
        """A private copy of a contract value (arguments, storage, return values): checks it
        is encodable and charges its memory."""
        try:
            data = encode(value)
        except EncodingError as exc:
            raise self.fault(
                f"{what} is not a contract value ({exc}); use None, bool, int, str, bytes, "
                "lists and dicts with str keys"
            ) from None
        self.meter.allocate(1 + len(data) // _WORD, self.line, what)
        return decode(data)

    # -- running a function

    def run(self, function: Function, args: list[Any]) -> Any:
        """Bind ``args`` to ``function``'s parameters and run its body."""
        if len(args) != len(function.params):
            raise self.fault(
                f"{function.name}() takes {len(function.params)} argument(s) "
                f"({', '.join(function.params) or 'none'}), {len(args)} given"
            )
        local: dict[str, Any] = {}
        for name, kind, arg in zip(function.params, function.types, args, strict=True):
            if kind is not None and not _is_type(arg, kind):
                raise self.fault(
                    f"{function.name}(): argument {name} must be {kind}, not {_type_name(arg)}"
                )
            local[name] = arg
        saved, self.locals = self.locals, local
        try:
            signal = self.exec_block(function.node.body)
        finally:
            self.locals = saved
        return None if signal is None else signal.value  # break/continue never escape a loop

    # -- statements

    def exec_block(self, body: list[ast.stmt]) -> _Signal | None:
        for stmt in body:
            signal = self.exec_stmt(stmt)
            if signal is not None:
                return signal
        return None

    def exec_stmt(self, node: ast.stmt) -> _Signal | None:
        if isinstance(node, ast.Assign):
            self.step(node, "assign")
            value = self.eval(node.value)
            for target in node.targets:
                self.assign(target, value)
        elif isinstance(node, ast.AugAssign):
            self.step(node, f"update {_op_symbol(node.op)}=")
            ref = self.reference(node.target)
            right = self.eval(node.value)
            ref.store(self.binary(node.op, ref.load(), right))
        elif isinstance(node, ast.Expr):
            if isinstance(node.value, ast.Call):
                self.step(node, "call")
                self.eval(node.value)
        elif isinstance(node, ast.If):
            self.step(node, "if")
            branch = node.body if self.truth(self.eval(node.test)) else node.orelse
            return self.exec_block(branch)
        elif isinstance(node, ast.While):
            while True:
                self.step(node, "while")
                if not self.truth(self.eval(node.test)):
                    break
                signal = self.exec_block(node.body)
                if signal is _BREAK:
                    break
                if signal is not None and signal is not _CONTINUE:
                    return signal
        elif isinstance(node, ast.For):
            self.step(node, "for")
            for item in self.iterate(node.iter):
                self.step(node, "for: next item")
                self.assign(node.target, item)
                signal = self.exec_block(node.body)
                if signal is _BREAK:
                    break
                if signal is not None and signal is not _CONTINUE:
                    return signal
        elif isinstance(node, ast.Return):
            self.step(node, "return")
            return _Signal(None if node.value is None else self.eval(node.value))
        elif isinstance(node, ast.Delete):
            self.step(node, "del")
            for target in node.targets:
                self.reference(target).delete()
        elif isinstance(node, ast.Break):
            self.step(node, "break")
            return _BREAK
        elif isinstance(node, ast.Continue):
            self.step(node, "continue")
            return _CONTINUE
        elif isinstance(node, ast.Pass):
            self.step(node, "pass")
        else:  # pragma: no cover - lang refuses every other statement
            raise self.fault(f"{type(node).__name__} cannot run")
        return None

    def assign(self, target: ast.expr, value: Any) -> None:
        if isinstance(target, ast.Tuple | ast.List):
            if not isinstance(value, list | tuple) or len(value) != len(target.elts):
                raise self.fault(f"cannot unpack {_type_name(value)} into {len(target.elts)} names")
            for item, part in zip(target.elts, value, strict=True):
                self.assign(item, part)
            return
        if (
            isinstance(target, ast.Attribute)
            and target.attr in self.program.mappings
            and isinstance(value, dict)
        ):
            for key, entry in value.items():  # a mapping is created entry by entry
                self.write_slot(target.attr, key, entry, entry=True)
            return
        self.reference(target).store(value)

    # -- references (what an assignment, del or += acts on)

    def reference(self, node: ast.expr) -> _Ref:
        if isinstance(node, ast.Name):
            return _LocalRef(self, node.id)
        root, keys = self.storage_path(node)
        if root is not None:
            return self.storage_ref(root, keys)
        if isinstance(node, ast.Subscript):
            container = self.eval(node.value)
            return _ItemRef(self, container, self.index(node.slice))
        raise self.fault(f"cannot assign to {type(node).__name__}")  # pragma: no cover

    def storage_path(self, node: ast.expr) -> tuple[str | None, list[ast.expr]]:
        """``self.f[k1][k2]`` → ``("f", [k1, k2])``; ``(None, [])`` if not rooted in storage."""
        keys: list[ast.expr] = []
        while isinstance(node, ast.Subscript):
            keys.append(node.slice)
            node = node.value
        if (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id == "self"
        ):
            return node.attr, keys[::-1]
        return None, []

    def storage_ref(self, name: str, key_nodes: list[ast.expr]) -> _StorageRef:
        keys = [self.index(k) for k in key_nodes]
        if name in self.program.mappings:
            return _StorageRef(self, name, self.mapping_key(keys[0]), keys[1:], entry=True)
        return _StorageRef(self, name, None, keys, entry=False)

    def mapping_key(self, key: Any) -> Any:
        if isinstance(key, list):
            if not all(_is_key(k) for k in key):
                raise self.fault("a mapping key pair may hold only str, int or bytes")
            return key
        if not _is_key(key):
            raise self.fault(
                f"a mapping key must be str, int or bytes (or a pair of them), not "
                f"{_type_name(key)}"
            )
        return key

    def read_slot(self, name: str, key: Any, *, entry: bool) -> Any:
        readable = slot_name(name, key, entry=entry)
        self.meter.charge(GAS_STORAGE_READ, self.line, f"storage read {readable}")
        value = self.host.storage_get(self.context.contract, slot_key(name, key, entry=entry))
        if value is None:
            return None
        data = encode(value)
        words = 1 + len(data) // _WORD
        self.meter.charge(words * GAS_STORAGE_READ_WORD, self.line, "read words", row=False)
        self.meter.allocate(words, self.line, f"reading {readable}")
        return decode(data)  # a private copy: changing it changes nothing until written back

    def write_slot(self, name: str, key: Any, value: Any, *, entry: bool) -> None:
        readable = slot_name(name, key, entry=entry)
        try:
            data = encode(value)
        except EncodingError as exc:
            raise self.fault(
                f"cannot store {_type_name(value)} in self.{readable}: {exc}; storage holds "
                "None, bool, int, str, bytes, lists and dicts with str keys"
            ) from None
        gas = GAS_STORAGE_WRITE + (len(data) // _WORD) * GAS_STORAGE_WRITE_WORD
        self.meter.charge(gas, self.line, f"storage write {readable}")
        self.host.storage_set(self.context.contract, slot_key(name, key, entry=entry), decode(data))
        self.meter.note_storage(readable, decode(data))

    # -- expressions

    def eval(self, node: ast.expr) -> Any:
        handler = _EVALUATORS.get(type(node))
        if handler is None:  # pragma: no cover - lang refuses every other expression
            raise self.fault(f"{type(node).__name__} cannot be evaluated")
        return handler(self, node)

    def eval_constant(self, node: ast.Constant) -> Any:
        self.step(node, "constant")
        if isinstance(node.value, str | bytes):
            self.meter.allocate(self.words(node.value), self.line, "a literal")
        return node.value

    def eval_name(self, node: ast.Name) -> Any:
        self.step(node, f"read {node.id}")
        if node.id in self.locals:
            return self.locals[node.id]
        if node.id in self.environment:
            return self.environment[node.id]
        raise self.fault(f"{node.id} is used before it is assigned")

    def eval_attribute(self, node: ast.Attribute) -> Any:
        self.step(node, f"read self.{node.attr}")
        return self.read_slot(node.attr, None, entry=False)

    def eval_subscript(self, node: ast.Subscript) -> Any:
        self.step(node, "subscript")
        root, keys = self.storage_path(node)
        if root is not None:
            return self.storage_ref(root, keys).load()
        container = self.eval(node.value)
        return self.get_item(container, self.index(node.slice))

    def index(self, node: ast.expr) -> Any:
        if isinstance(node, ast.Slice):
            parts = [
                None if p is None else self.eval(p) for p in (node.lower, node.upper, node.step)
            ]
            for part in parts:
                if part is not None and not _is_int(part):
                    raise self.fault("slice bounds must be int")
            if parts[2] == 0:
                raise self.fault("slice step cannot be zero")
            return slice(*parts)
        return self.eval(node)

    def get_item(self, container: Any, key: Any) -> Any:
        if isinstance(key, slice):
            if not isinstance(container, list | tuple | str | bytes):
                raise self.fault(f"cannot slice {_type_name(container)}")
            result = container[key]
            self.meter.allocate(self.words(result), self.line, "a slice")
            return list(result) if isinstance(result, tuple) else result
        if isinstance(container, dict):
            if not _is_key(key):
                raise self.fault(f"dict keys are str, int or bytes, not {_type_name(key)}")
            if key not in container:
                raise self.fault(
                    f"key {_show(key)} is missing; use d.get(key, default) or check key in d"
                )
            return container[key]
        if isinstance(container, list | tuple | str | bytes):
            if not _is_int(key):
                raise self.fault(f"indices must be int, not {_type_name(key)}")
            if not -len(container) <= key < len(container):
                raise self.fault(f"index {key} is out of range for length {len(container)}")
            return container[key]
        raise self.fault(f"{_type_name(container)} cannot be indexed")

    def set_item(self, container: Any, key: Any, value: Any) -> None:
        if isinstance(container, dict):
            if not _is_key(key):
                raise self.fault(f"dict keys are str, int or bytes, not {_type_name(key)}")
            if key not in container:
                self.meter.allocate(2, self.line, "a new dict entry")
            container[key] = value
        elif isinstance(container, list):
            if not _is_int(key):
                raise self.fault(f"list indices must be int, not {_type_name(key)}")
            if not -len(container) <= key < len(container):
                raise self.fault(f"index {key} is out of range for length {len(container)}")
            container[key] = value
        else:
            raise self.fault(f"{_type_name(container)} items cannot be assigned")

    def del_item(self, container: Any, key: Any) -> None:
        self.get_item(container, key)  # same checks and messages
        if isinstance(key, slice) or not isinstance(container, list | dict):
            raise self.fault(f"cannot delete from {_type_name(container)}")
        del container[key]

    def eval_list(self, node: ast.List | ast.Tuple) -> list[Any]:
        self.step(node, "build list")
        items = [self.eval(item) for item in node.elts]
        self.meter.allocate(self.words(items), self.line, "a list")
        return items

    def eval_dict(self, node: ast.Dict) -> dict[Any, Any]:
        self.step(node, "build dict")
        result: dict[Any, Any] = {}
        for key_node, value_node in zip(node.keys, node.values, strict=True):
            assert key_node is not None  # lang refuses ** unpacking
            key = self.eval(key_node)
            if not _is_key(key):
                raise self.fault(f"dict keys are str, int or bytes, not {_type_name(key)}")
            result[key] = self.eval(value_node)
        self.meter.allocate(self.words(result), self.line, "a dict")
        return result

    def eval_comprehension(self, node: ast.ListComp | ast.GeneratorExp | ast.DictComp) -> Any:
        self.step(node, "comprehension")
        result: Any = {} if isinstance(node, ast.DictComp) else []
        saved = dict(self.locals)
        try:
            self.comprehend(node, 0, result)
        finally:
            self.locals = saved
        return result

    def comprehend(self, node: Any, level: int, result: Any) -> None:
        if level == len(node.generators):
            if isinstance(result, dict):
                key = self.eval(node.key)
                if not _is_key(key):
                    raise self.fault(f"dict keys are str, int or bytes, not {_type_name(key)}")
                self.meter.allocate(2, self.line, "a dict entry")
                result[key] = self.eval(node.value)
            else:
                self.meter.allocate(1, self.line, "a list item")
                result.append(self.eval(node.elt))
            return
        generator = node.generators[level]
        for item in self.iterate(generator.iter):
            self.step(node, "comprehension: next item")
            self.assign(generator.target, item)
            if all(self.truth(self.eval(cond)) for cond in generator.ifs):
                self.comprehend(node, level + 1, result)

    def iterate(self, node: ast.expr) -> Any:
        """What ``for`` walks: a lazy range, a list, a string, bytes or a dict's keys (a copy,
        so the loop body may change the dict)."""
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id == "range"
        ):
            self.step(node, "range")
            bounds = [self.eval(arg) for arg in node.args]
            if not all(_is_int(b) for b in bounds):
                raise self.fault("range() takes int arguments")
            if len(bounds) == 3 and bounds[2] == 0:
                raise self.fault("range() step cannot be zero")
            return range(*bounds)
        iterable = self.eval(node)
        if isinstance(iterable, dict):
            keys = list(iterable)
            self.meter.allocate(self.words(keys), self.line, "the keys of a dict")
            return keys
        if isinstance(iterable, list | tuple | str | bytes):
            return iterable
        raise self.fault(f"cannot loop over {_type_name(iterable)}")

    def eval_ifexp(self, node: ast.IfExp) -> Any:
        self.step(node, "if-else expression")
        return self.eval(node.body if self.truth(self.eval(node.test)) else node.orelse)

    def eval_boolop(self, node: ast.BoolOp) -> Any:
        self.step(node, "and" if isinstance(node.op, ast.And) else "or")
        value: Any = None
        for part in node.values:
            value = self.eval(part)
            truth = self.truth(value)
            if isinstance(node.op, ast.And) and not truth:
                return value
            if isinstance(node.op, ast.Or) and truth:
                return value
        return value

    def truth(self, value: Any) -> bool:
        if isinstance(value, bool | int | str | bytes | list | tuple | dict) or value is None:
            return bool(value)
        raise self.fault(f"{_type_name(value)} has no truth value")  # pragma: no cover

    def eval_unary(self, node: ast.UnaryOp) -> Any:
        self.step(node, f"unary {type(node.op).__name__.lower()}")
        operand = self.eval(node.operand)
        if isinstance(node.op, ast.Not):
            return not self.truth(operand)
        if not _is_int(operand):
            raise self.fault(f"unary operator on {_type_name(operand)}: it needs an int")
        if isinstance(node.op, ast.USub):
            return self.check_int(-operand)
        if isinstance(node.op, ast.Invert):
            return self.check_int(~operand)
        return int(operand)

    def eval_binop(self, node: ast.BinOp) -> Any:
        self.step(node, f"operator {_op_symbol(node.op)}")
        left = self.eval(node.left)
        right = self.eval(node.right)
        return self.binary(node.op, left, right)

    def binary(self, op: ast.operator, left: Any, right: Any) -> Any:
        symbol = _op_symbol(op)
        if _is_int(left) and _is_int(right):
            return self.check_int(self.arithmetic(op, left, right))
        if isinstance(op, ast.Add) and _kind(left) == _kind(right):
            if isinstance(left, str | bytes):
                size = len(left) + len(right)
                self.check_length(size, _type_name(left))
                self.meter.allocate(1 + size // _WORD, self.line, "a concatenation")
                return left + right
            if isinstance(left, list | tuple):
                self.meter.allocate(1 + len(left) + len(right), self.line, "a concatenation")
                return list(left) + list(right)
        if isinstance(op, ast.Mult):
            sequence, count = (left, right) if _is_int(right) else (right, left)
            if isinstance(sequence, str | bytes | list) and _is_int(count):
                size = len(sequence) * max(count, 0)
                if isinstance(sequence, str | bytes):
                    self.check_length(size, type(sequence).__name__)
                    self.meter.allocate(1 + size // _WORD, self.line, "a repetition")
                else:
                    self.meter.allocate(1 + size, self.line, "a repeated list")
                return sequence * count
        raise self.fault(f"unsupported operation {_type_name(left)} {symbol} {_type_name(right)}")

    def arithmetic(self, op: ast.operator, a: int, b: int) -> int:
        if isinstance(op, ast.Add):
            return a + b
        if isinstance(op, ast.Sub):
            return a - b
        if isinstance(op, ast.Mult):
            return a * b
        if isinstance(op, ast.FloorDiv | ast.Mod):
            if b == 0:
                raise self.fault("division by zero: check the divisor with require first")
            return a // b if isinstance(op, ast.FloorDiv) else a % b
        if isinstance(op, ast.Pow):
            if b < 0:
                raise self.fault("negative exponent (it would make a fraction)")
            if abs(a) > 1 and b >= MAX_INT_BITS:  # |a|**b >= 2**b: overflow, without computing
                raise self.fault(f"integer overflow: {a} ** {b} exceeds 2**{MAX_INT_BITS}")
            return a**b
        if isinstance(op, ast.LShift | ast.RShift):
            if b < 0:
                raise self.fault("negative shift count")
            if isinstance(op, ast.RShift):
                return a >> min(b, MAX_INT_BITS + 1)
            if a != 0 and b >= MAX_INT_BITS:
                raise self.fault(f"integer overflow: {a} << {b} exceeds 2**{MAX_INT_BITS}")
            return a << b
        if isinstance(op, ast.BitAnd):
            return a & b
        if isinstance(op, ast.BitOr):
            return a | b
        if isinstance(op, ast.BitXor):
            return a ^ b
        raise self.fault(f"operator {_op_symbol(op)} is not supported")  # pragma: no cover

    def eval_compare(self, node: ast.Compare) -> bool:
        self.step(node, "compare")
        left = self.eval(node.left)
        for op, right_node in zip(node.ops, node.comparators, strict=True):
            if isinstance(op, ast.In | ast.NotIn):
                found = self.contains(left, right_node)
                result = found if isinstance(op, ast.In) else not found
            else:
                right = self.eval(right_node)
                result = self.compare(op, left, right)
                left = right
            if not result:
                return False
        return True

    def contains(self, item: Any, container_node: ast.expr) -> bool:
        root, keys = self.storage_path(container_node)
        if root is not None and not keys and root in self.program.mappings:
            key = self.mapping_key(item)
            return self.read_slot(root, key, entry=True) is not None
        container = self.eval(container_node)
        if isinstance(container, dict):
            return _is_key(item) and item in container
        if isinstance(container, str | bytes):
            if type(item) is not type(container) and not (
                isinstance(container, bytes) and isinstance(item, bytes)
            ):
                raise self.fault(f"'in {_type_name(container)}' needs a {_type_name(container)}")
            self.meter.charge(len(container) * GAS_ELEMENT // _WORD, self.line, "search", row=False)
            return item in container
        if isinstance(container, list | tuple):
            self.check_nesting(item, container)
            self.meter.charge(len(container) * GAS_ELEMENT, self.line, "search", row=False)
            return any(_equal(item, element) for element in container)
        raise self.fault(f"'in' needs a list, dict, str or bytes, not {_type_name(container)}")

    def compare(self, op: ast.cmpop, left: Any, right: Any) -> bool:
        if isinstance(op, ast.Is):
            return left is None
        if isinstance(op, ast.IsNot):
            return left is not None
        if isinstance(left, _CONTAINERS) or isinstance(right, _CONTAINERS):
            self.check_nesting(left, right)
        if isinstance(op, ast.Eq):
            return _equal(left, right)
        if isinstance(op, ast.NotEq):
            return not _equal(left, right)
        if not _orderable(left, right):
            raise self.fault(
                f"cannot order {_type_name(left)} and {_type_name(right)}: compare values "
                "of the same type"
            )
        if isinstance(op, ast.Lt):
            return bool(left < right)
        if isinstance(op, ast.LtE):
            return bool(left <= right)
        if isinstance(op, ast.Gt):
            return bool(left > right)
        return bool(left >= right)

    # -- calls

    def eval_call(self, node: ast.Call) -> Any:
        func = node.func
        if isinstance(func, ast.Attribute):
            if isinstance(func.value, ast.Name) and func.value.id == "self":
                return self.call_self(node, func.attr)
            return self.call_method(node, func)
        assert isinstance(func, ast.Name)
        return self.call_builtin(node, func.id)

    def call_self(self, node: ast.Call, name: str) -> Any:
        self.step(node, f"call self.{name}", GAS_SELF_CALL)
        args = [self.eval(arg) for arg in node.args]
        if self.depth + 1 > MAX_CALL_DEPTH:
            raise self.fault(
                f"call depth limit {MAX_CALL_DEPTH} reached (self-calls count too): use a loop "
                "instead of recursion"
            )
        function = self.program.functions[name]
        self.depth += 1
        self.meter.depth = self.depth
        try:
            return self.run(function, args)
        finally:
            self.depth -= 1
            self.meter.depth = self.depth

    def call_method(self, node: ast.Call, func: ast.Attribute) -> Any:
        self.step(node, f"call .{func.attr}()", GAS_BUILTIN)
        root, keys = self.storage_path(func.value)
        if root is not None and not keys and root in self.program.mappings:
            args = [self.eval(arg) for arg in node.args]  # self.m.get(key[, default])
            if not 1 <= len(args) <= 2:
                raise self.fault("get takes a key and an optional default")
            value = self.read_slot(root, self.mapping_key(args[0]), entry=True)
            return value if value is not None else (args[1] if len(args) == 2 else None)
        ref = self.storage_ref(root, keys) if root is not None else None
        receiver = ref.load() if ref is not None else self.eval(func.value)
        args = [self.eval(arg) for arg in node.args]
        result = self.apply_method(receiver, func.attr, args)
        if ref is not None and func.attr in MUTATING_METHODS:
            ref.store(receiver)  # a storage value changes only when written back
        return result

    def apply_method(self, receiver: Any, name: str, args: list[Any]) -> Any:
        method = _METHODS.get((_kind(receiver), name))
        if method is None:
            raise self.fault(f"{_type_name(receiver)} has no method {name}()")
        try:
            return method(self, receiver, *args)
        except TypeError as exc:
            raise self.fault(f"{name}(): wrong arguments ({exc})") from None

    def call_builtin(self, node: ast.Call, name: str) -> Any:
        self.step(node, f"call {name}", GAS_BUILTIN)
        if name == "isinstance":
            value = self.eval(node.args[0])
            kind = node.args[1]
            assert isinstance(kind, ast.Name)
            return _is_type(value, kind.id)
        args = [self.eval(arg) for arg in node.args]
        keywords = {k.arg: self.eval(k.value) for k in node.keywords if k.arg is not None}
        builtin = _BUILTINS[name]
        try:
            return builtin(self, *args, **keywords)
        except TypeError as exc:
            raise self.fault(f"{name}(): wrong arguments ({exc})") from None


# --- references -----------------------------------------------------------------------------------


class _Ref:
    """Something assignable: a local name, a container item or a storage slot."""

    def load(self) -> Any:
        raise NotImplementedError

    def store(self, value: Any) -> None:
        raise NotImplementedError

    def delete(self) -> None:
        raise NotImplementedError


class _LocalRef(_Ref):
    def __init__(self, machine: _Machine, name: str) -> None:
        self.machine, self.name = machine, name

    def load(self) -> Any:
        if self.name not in self.machine.locals:
            raise self.machine.fault(f"{self.name} is used before it is assigned")
        return self.machine.locals[self.name]

    def store(self, value: Any) -> None:
        self.machine.locals[self.name] = value


class _ItemRef(_Ref):
    def __init__(self, machine: _Machine, container: Any, key: Any) -> None:
        self.machine, self.container, self.key = machine, container, key

    def load(self) -> Any:
        return self.machine.get_item(self.container, self.key)

    def store(self, value: Any) -> None:
        self.machine.set_item(self.container, self.key, value)

    def delete(self) -> None:
        self.machine.del_item(self.container, self.key)


class _StorageRef(_Ref):
    """A slot, plus the in-memory path inside its value: ``self.f[k][i]`` on a mapping ``f`` is
    slot ``["f", k]`` and path ``[i]``; on a plain field it is slot ``["f"]``, path ``[k, i]``."""

    def __init__(
        self, machine: _Machine, name: str, key: Any, path: list[Any], *, entry: bool
    ) -> None:
        self.machine, self.name, self.key, self.path, self.entry = machine, name, key, path, entry

    def read(self) -> Any:
        value = self.machine.read_slot(self.name, self.key, entry=self.entry)
        if value is None and self.entry:
            raise self.machine.fault(
                f"self.{slot_name(self.name, self.key, entry=True)} is not set; use "
                f"self.{self.name}.get(key, default) or check key in self.{self.name}"
            )
        return value

    def load(self) -> Any:
        value = self.read()
        for key in self.path:
            value = self.machine.get_item(value, key)
        return value

    def store(self, value: Any) -> None:
        if not self.path:
            self.machine.write_slot(self.name, self.key, value, entry=self.entry)
            return
        whole = self.read()
        inner = whole
        for key in self.path[:-1]:
            inner = self.machine.get_item(inner, key)
        self.machine.set_item(inner, self.path[-1], value)
        self.machine.write_slot(self.name, self.key, whole, entry=self.entry)

    def delete(self) -> None:
        if not self.path:
            self.read()  # deleting a missing entry is an error, as in Python
            self.machine.write_slot(self.name, self.key, None, entry=self.entry)
            return
        whole = self.read()
        inner = whole
        for key in self.path[:-1]:
            inner = self.machine.get_item(inner, key)
        self.machine.del_item(inner, self.path[-1])
        self.machine.write_slot(self.name, self.key, whole, entry=self.entry)


_EVALUATORS: dict[type, Callable[[_Machine, Any], Any]] = {
    ast.Constant: _Machine.eval_constant,
    ast.Name: _Machine.eval_name,
    ast.Attribute: _Machine.eval_attribute,
    ast.Subscript: _Machine.eval_subscript,
    ast.List: _Machine.eval_list,
    ast.Tuple: _Machine.eval_list,
    ast.Dict: _Machine.eval_dict,
    ast.ListComp: _Machine.eval_comprehension,
    ast.GeneratorExp: _Machine.eval_comprehension,
    ast.DictComp: _Machine.eval_comprehension,
    ast.IfExp: _Machine.eval_ifexp,
    ast.BoolOp: _Machine.eval_boolop,
    ast.UnaryOp: _Machine.eval_unary,
    ast.BinOp: _Machine.eval_binop,
    ast.Compare: _Machine.eval_compare,
    ast.Call: _Machine.eval_call,
}


# --- values ---------------------------------------------------------------------------------------


def _is_int(value: Any) -> bool:
    return isinstance(value, int)


def _is_key(value: Any) -> bool:
    return isinstance(value, str | bytes) or (
        isinstance(value, int) and not isinstance(value, bool)
    )


def _is_type(value: Any, kind: str) -> bool:
    if kind == "int":
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == "list":
        return isinstance(value, list | tuple)
    return isinstance(value, {"bool": bool, "str": str, "bytes": bytes, "dict": dict}[kind])


def _type_name(value: Any) -> str:
    if value is None:
        return "None"
    if isinstance(value, bytes):
        return "bytes"
    if isinstance(value, tuple):
        return "list"
    return type(value).__name__


def _kind(value: Any) -> str:
    return _type_name(value)


def _orderable(left: Any, right: Any) -> bool:
    if _is_int(left) and _is_int(right):
        return True
    if isinstance(left, bytes) and isinstance(right, bytes):
        return True
    if isinstance(left, str) and isinstance(right, str):
        return True
    return isinstance(left, list) and isinstance(right, list)


def _equal(left: Any, right: Any) -> bool:
    """Python equality, except that bool is not equal to int (``True != 1``), as in encoding."""
    if isinstance(left, bool) != isinstance(right, bool):
        return False
    return bool(left == right)


_OP_SYMBOLS = {
    ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.FloorDiv: "//", ast.Mod: "%", ast.Pow: "**",
    ast.LShift: "<<", ast.RShift: ">>", ast.BitAnd: "&", ast.BitOr: "|", ast.BitXor: "^",
    ast.Div: "/",
}  # fmt: skip


def _op_symbol(op: ast.AST) -> str:
    return _OP_SYMBOLS.get(type(op), type(op).__name__)


# --- builtins -------------------------------------------------------------------------------------


def _walk_cost(machine: _Machine, items: Any) -> None:
    machine.meter.charge(len(items) * GAS_ELEMENT, machine.line, "walk items", row=False)


def _sequence(machine: _Machine, value: Any, name: str) -> list[Any]:
    if isinstance(value, dict):
        return list(value)
    if isinstance(value, list | tuple | str | bytes):
        return list(value)
    raise machine.fault(f"{name}() needs a list, dict, str or bytes, not {_type_name(value)}")


def _builtin_len(machine: _Machine, value: Any) -> int:
    if isinstance(value, list | tuple | dict | str | bytes):
        return len(value)
    raise machine.fault(f"len() of {_type_name(value)}: it needs a list, dict, str or bytes")


def _builtin_extreme(pick: Callable[..., Any], name: str) -> Callable[..., Any]:
    def extreme(machine: _Machine, *args: Any) -> Any:
        values = args[0] if len(args) == 1 else list(args)
        items = _sequence(machine, values, name)
        if not items:
            raise machine.fault(f"{name}() of an empty list")
        _walk_cost(machine, items)
        first = items[0]
        if not all(_orderable(first, item) for item in items):
            raise machine.fault(f"{name}() needs values of one type")
        machine.check_nesting(items)
        return pick(items)

    return extreme


def _builtin_abs(machine: _Machine, value: Any) -> int:
    if not _is_int(value):
        raise machine.fault(f"abs() needs an int, not {_type_name(value)}")
    return abs(value)


def _builtin_sum(machine: _Machine, values: Any) -> int:
    items = _sequence(machine, values, "sum")
    _walk_cost(machine, items)
    if not all(_is_int(v) for v in items):
        raise machine.fault("sum() adds ints only")
    return machine.check_int(sum(items))


def _builtin_sorted(machine: _Machine, values: Any) -> list[Any]:
    items = _sequence(machine, values, "sorted")
    machine.meter.allocate(machine.words(items), machine.line, "sorted()")
    _walk_cost(machine, items)
    if items and not all(_orderable(items[0], item) for item in items):
        raise machine.fault("sorted() needs values of one type")
    machine.check_nesting(items)
    machine.meter.charge(len(items).bit_length() * len(items), machine.line, "sort", row=False)
    return sorted(items)


def _builtin_reversed(machine: _Machine, values: Any) -> list[Any]:
    items = _sequence(machine, values, "reversed")
    machine.meter.allocate(machine.words(items), machine.line, "reversed()")
    return items[::-1]


def _builtin_enumerate(machine: _Machine, values: Any) -> list[list[Any]]:
    items = _sequence(machine, values, "enumerate")
    machine.meter.allocate(4 * len(items) + 1, machine.line, "enumerate()")
    return [[i, item] for i, item in enumerate(items)]


def _builtin_zip(machine: _Machine, *lists: Any) -> list[list[Any]]:
    sequences = [_sequence(machine, values, "zip") for values in lists]
    size = min((len(s) for s in sequences), default=0)
    machine.meter.allocate((len(sequences) + 2) * size + 1, machine.line, "zip()")
    return [list(group) for group in zip(*sequences, strict=False)]


def _builtin_any(machine: _Machine, values: Any) -> bool:
    items = _sequence(machine, values, "any")
    _walk_cost(machine, items)
    return any(machine.truth(v) for v in items)


def _builtin_all(machine: _Machine, values: Any) -> bool:
    items = _sequence(machine, values, "all")
    _walk_cost(machine, items)
    return all(machine.truth(v) for v in items)


def _builtin_str(machine: _Machine, value: Any = "") -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool) or value is None:
        return str(value)
    if isinstance(value, int):
        text = str(value)
    elif isinstance(value, bytes):
        machine.check_length(2 + 2 * len(value), "str")
        text = "0x" + value.hex()
    else:
        raise machine.fault(f"str() of {_type_name(value)}: it takes int, bool, bytes or None")
    machine.meter.allocate(machine.words(text), machine.line, "str()")
    return text


def _builtin_int(machine: _Machine, value: Any = 0) -> int:
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        text = value.strip()
        if not text or len(text) > 80 or not text.lstrip("+-").isdigit() or not text.isascii():
            raise machine.fault(f"int() cannot read {value[:20]!r}: it takes decimal digits")
        return machine.check_int(int(text))
    raise machine.fault(f"int() of {_type_name(value)}: it takes bool, int or a decimal str")


def _builtin_bool(machine: _Machine, value: Any = False) -> bool:
    return machine.truth(value)


def _builtin_list(machine: _Machine, values: Any = ()) -> list[Any]:
    items = _sequence(machine, values, "list") if values != () else []
    machine.meter.allocate(machine.words(items), machine.line, "list()")
    return items


def _builtin_dict(machine: _Machine) -> dict[Any, Any]:
    machine.meter.allocate(1, machine.line, "dict()")
    return {}


def _builtin_require(
    machine: _Machine, condition: Any, message: Any = "requirement failed"
) -> None:
    if not machine.truth(condition):
        raise Revert(str(message) if isinstance(message, str) else "requirement failed")


def _builtin_revert(machine: _Machine, message: Any = "reverted") -> None:
    raise Revert(str(message) if isinstance(message, str) else "reverted")


def _builtin_emit(machine: _Machine, event_name: Any, /, **fields: Any) -> None:
    # positional-only, so that an event may have a field called ``name`` (or ``event_name``)
    if not isinstance(event_name, str) or not event_name:
        raise machine.fault("emit() takes the event name as a str first: emit('Transfer', ...)")
    try:
        data = encode(fields)
    except EncodingError as exc:
        raise machine.fault(
            f"event {event_name}: a field is not a contract value ({exc})"
        ) from None
    machine.meter.charge(
        GAS_EVENT + (len(data) // _WORD) * GAS_EVENT_WORD, machine.line, f"emit {event_name}"
    )
    event = Event(machine.context.contract, event_name, with_addresses(decode(data)))
    machine.host.emit(event)
    machine.events.append(event)


def _address(machine: _Machine, value: Any, name: str) -> Address:
    if not isinstance(value, bytes):
        raise machine.fault(f"{name}() takes an address (20 bytes), not {_type_name(value)}")
    if len(value) != 20:
        raise machine.fault(f"{name}(): an address is 20 bytes, not {len(value)}")
    return value if isinstance(value, Address) else Address(value)


def _builtin_balance(machine: _Machine, address: Any) -> int:
    target = _address(machine, address, "balance")
    machine.meter.charge(GAS_BALANCE, machine.line, "balance")
    return machine.host.balance(target)


def _builtin_transfer(machine: _Machine, address: Any, amount: Any) -> None:
    target = _address(machine, address, "transfer")
    if not _is_int(amount) or isinstance(amount, bool) or amount < 0:
        raise machine.fault("transfer() takes an amount that is an int >= 0")
    machine.meter.charge(GAS_TRANSFER, machine.line, f"transfer {amount}")
    machine.host.transfer(machine.context.contract, target, amount)


def _builtin_sha256(machine: _Machine, data: Any) -> bytes:
    if isinstance(data, str):
        data = data.encode("utf-8")
    if not isinstance(data, bytes):
        raise machine.fault(f"sha256() takes bytes or str, not {_type_name(data)}")
    machine.meter.charge(
        GAS_SHA256 + (len(data) // _WORD + 1) * GAS_SHA256_WORD, machine.line, "sha256"
    )
    machine.meter.allocate(2, machine.line, "a digest")
    return _sha256(data)


def _builtin_call(
    machine: _Machine, address: Any, function: Any, *args: Any, value: Any = 0
) -> Any:
    target = _address(machine, address, "call")
    if not isinstance(function, str):
        raise machine.fault("call() takes the function name as a str: call(addr, 'f', ...)")
    if not _is_int(value) or isinstance(value, bool) or value < 0:
        raise machine.fault("call(): value must be an int >= 0")
    machine.meter.charge(GAS_CONTRACT_CALL, machine.line, f"call {function}")
    if machine.depth + 1 > MAX_CALL_DEPTH:
        raise machine.fault(f"call depth limit {MAX_CALL_DEPTH} reached")
    arguments = [machine.copy_in(arg, f"argument {i + 1} of call()") for i, arg in enumerate(args)]
    host = machine.host
    mark = host.checkpoint()
    if value:
        machine.meter.charge(GAS_TRANSFER, machine.line, f"send {value}")
        host.transfer(machine.context.contract, target, value)
    context = CallContext(
        contract=target,
        caller=machine.context.contract,
        origin=machine.context.origin,
        value=value,
        block_height=machine.context.block_height,
        timestamp=machine.context.timestamp,
        depth=machine.depth + 1,
    )
    result = host.call(context, target, function, arguments, machine.meter.gas_left)
    used = min(max(result.gas_used, 0), machine.meter.gas_left)
    if result.status != OK:
        host.revert(mark)
        what = f"call to {function} at {target.short} {result.status}: {result.error}"
        if result.status == REVERTED:
            machine.meter.charge(used, machine.line, f"{function} used gas")
            raise Revert(what)
        if result.status == OUT_OF_GAS:
            machine.meter.charge(machine.meter.gas_left + 1, machine.line, what)
        machine.meter.charge(used, machine.line, f"{function} used gas")
        raise machine.fault(what)
    machine.meter.charge(used, machine.line, f"{function} used gas")
    machine.events.extend(result.events)
    return machine.copy_in(result.return_value, f"the value returned by {function}")


_BUILTINS: dict[str, Callable[..., Any]] = {
    "len": _builtin_len,
    "min": _builtin_extreme(min, "min"),
    "max": _builtin_extreme(max, "max"),
    "abs": _builtin_abs,
    "sum": _builtin_sum,
    "sorted": _builtin_sorted,
    "reversed": _builtin_reversed,
    "enumerate": _builtin_enumerate,
    "zip": _builtin_zip,
    "any": _builtin_any,
    "all": _builtin_all,
    "str": _builtin_str,
    "int": _builtin_int,
    "bool": _builtin_bool,
    "list": _builtin_list,
    "dict": _builtin_dict,
    "require": _builtin_require,
    "revert": _builtin_revert,
    "emit": _builtin_emit,
    "balance": _builtin_balance,
    "transfer": _builtin_transfer,
    "call": _builtin_call,
    "sha256": _builtin_sha256,
}


# --- methods --------------------------------------------------------------------------------------


def _list_append(machine: _Machine, items: list[Any], value: Any) -> None:
    machine.meter.allocate(1, machine.line, "append")
    items.append(value)


def _list_extend(machine: _Machine, items: list[Any], values: Any) -> None:
    more = _sequence(machine, values, "extend")
    machine.meter.allocate(len(more), machine.line, "extend")
    items.extend(more)


def _list_insert(machine: _Machine, items: list[Any], index: Any, value: Any) -> None:
    if not _is_int(index):
        raise machine.fault("insert() takes an int index")
    machine.meter.allocate(1, machine.line, "insert")
    _walk_cost(machine, items)
    items.insert(index, value)


def _list_pop(machine: _Machine, items: list[Any], index: Any = -1) -> Any:
    if not items:
        raise machine.fault("pop() from an empty list")
    value = machine.get_item(items, index)
    del items[index]
    return value


def _list_index(machine: _Machine, items: list[Any], value: Any) -> int:
    machine.check_nesting(items, value)
    _walk_cost(machine, items)
    for i, item in enumerate(items):
        if _equal(item, value):
            return i
    raise machine.fault("index(): the value is not in the list")


def _list_count(machine: _Machine, items: list[Any], value: Any) -> int:
    machine.check_nesting(items, value)
    _walk_cost(machine, items)
    return sum(1 for item in items if _equal(item, value))


def _list_remove(machine: _Machine, items: list[Any], value: Any) -> None:
    del items[_list_index(machine, items, value)]


def _dict_get(machine: _Machine, mapping: dict[Any, Any], key: Any, default: Any = None) -> Any:
    if not _is_key(key):
        raise machine.fault(f"dict keys are str, int or bytes, not {_type_name(key)}")
    return mapping.get(key, default)


def _dict_view(part: str) -> Callable[..., list[Any]]:
    def view(machine: _Machine, mapping: dict[Any, Any]) -> list[Any]:
        size = len(mapping) * (4 if part == "items" else 1) + 1
        machine.meter.allocate(size, machine.line, f".{part}()")
        if part == "keys":
            return list(mapping)
        if part == "values":
            return list(mapping.values())
        return [[k, v] for k, v in mapping.items()]

    return view


def _dict_pop(machine: _Machine, mapping: dict[Any, Any], key: Any, *default: Any) -> Any:
    if not _is_key(key):
        raise machine.fault(f"dict keys are str, int or bytes, not {_type_name(key)}")
    if key not in mapping:
        if default:
            return default[0]
        raise machine.fault(f"pop(): key {_show(key)} is missing")
    return mapping.pop(key)


def _text_method(name: str) -> Callable[..., Any]:
    """A str or bytes method whose result is at most a few times its input (safe to compute,
    then measure)."""

    def method(machine: _Machine, text: Any, *args: Any) -> Any:
        for arg in args:
            if type(arg) is not type(text) and not (
                isinstance(arg, bytes) and isinstance(text, bytes)
            ):
                raise machine.fault(f".{name}() takes {_type_name(text)} arguments")
        machine.meter.charge(len(text) // _WORD + 1, machine.line, f".{name}()", row=False)
        result = getattr(text, name)(*args)
        if isinstance(result, list):
            machine.meter.allocate(machine.words(result) + len(result), machine.line, name)
        elif isinstance(result, str | bytes):
            machine.check_length(len(result), _type_name(result))
            machine.meter.allocate(machine.words(result), machine.line, name)
        return result

    return method


def _str_join(machine: _Machine, separator: str, values: Any) -> str:
    items = _sequence(machine, values, "join")
    if not all(isinstance(item, str) for item in items):
        raise machine.fault("join() joins str values only: convert with str(x) first")
    size = sum(len(item) for item in items) + len(separator) * max(len(items) - 1, 0)
    machine.check_length(size, "str")
    machine.meter.allocate(1 + size // _WORD, machine.line, "join")
    return separator.join(items)


def _str_find(machine: _Machine, text: str, part: Any) -> int:
    if not isinstance(part, str):
        raise machine.fault("find() takes a str")
    machine.meter.charge(len(text) // _WORD + 1, machine.line, ".find()", row=False)
    return text.find(part)


def _str_encode(machine: _Machine, text: str) -> bytes:
    result = text.encode("utf-8", "strict")
    machine.check_length(len(result), "bytes")
    machine.meter.allocate(machine.words(result), machine.line, "encode")
    return result


def _bytes_decode(machine: _Machine, data: bytes) -> str:
    try:
        result = data.decode("utf-8", "strict")
    except UnicodeDecodeError:
        raise machine.fault("decode(): the bytes are not valid UTF-8") from None
    machine.meter.allocate(machine.words(result), machine.line, "decode")
    return result


def _bytes_hex(machine: _Machine, data: bytes) -> str:
    machine.check_length(2 * len(data), "str")
    result = data.hex()
    machine.meter.allocate(machine.words(result), machine.line, "hex")
    return result


_METHODS: dict[tuple[str, str], Callable[..., Any]] = {
    ("list", "append"): _list_append,
    ("list", "extend"): _list_extend,
    ("list", "insert"): _list_insert,
    ("list", "pop"): _list_pop,
    ("list", "index"): _list_index,
    ("list", "count"): _list_count,
    ("list", "remove"): _list_remove,
    ("dict", "get"): _dict_get,
    ("dict", "keys"): _dict_view("keys"),
    ("dict", "values"): _dict_view("values"),
    ("dict", "items"): _dict_view("items"),
    ("dict", "pop"): _dict_pop,
    ("str", "upper"): _text_method("upper"),
    ("str", "lower"): _text_method("lower"),
    ("str", "strip"): _text_method("strip"),
    ("str", "startswith"): _text_method("startswith"),
    ("str", "endswith"): _text_method("endswith"),
    ("str", "split"): _text_method("split"),
    ("str", "join"): _str_join,
    ("str", "find"): _str_find,
    ("str", "encode"): _str_encode,
    ("bytes", "hex"): _bytes_hex,
    ("bytes", "decode"): _bytes_decode,
    ("bytes", "startswith"): _text_method("startswith"),
    ("bytes", "endswith"): _text_method("endswith"),
}


# --- entry points ---------------------------------------------------------------------------------


def execute(
    program: Program,
    function: str,
    args: list[Any] | tuple[Any, ...],
    context: CallContext,
    host: Host,
    gas_limit: int,
    *,
    trace: bool = False,
) -> CallResult:
    """Run public method ``function`` of ``program`` with ``args``; never raises for anything
    the contract does. On failure the host is reverted to its state at the start of the call."""
    target = program.functions.get(function)
    if target is None or not target.public or function == "__init__":
        # a fault pays for the work done, like any other: here one step of dispatch
        return _refuse(
            min(GAS_STEP, gas_limit) if isinstance(gas_limit, int) and gas_limit > 0 else 0,
            f"{program.name} has no public function {function!r}; it has "
            f"{', '.join(program.public_functions)}",
        )
    return _run(program, target, list(args), context, host, gas_limit, trace)


def deploy(
    program: Program,
    args: list[Any] | tuple[Any, ...],
    context: CallContext,
    host: Host,
    gas_limit: int,
    *,
    trace: bool = False,
) -> CallResult:
    """Run the constructor (``__init__``) of ``program`` once, for a new contract at
    ``context.contract``. A contract without ``__init__`` takes no arguments."""
    constructor = program.functions.get(_CONSTRUCTOR)
    if constructor is None:
        if args:
            return _refuse(0, f"{program.name} has no __init__, so it takes no arguments")
        return CallResult(OK, 0)
    return _run(program, constructor, list(args), context, host, gas_limit, trace)


def _refuse(gas_used: int, error: str) -> CallResult:
    return CallResult(FAULT, gas_used, error=error)


def _run(
    program: Program,
    function: Function,
    args: list[Any],
    context: CallContext,
    host: Host,
    gas_limit: int,
    trace: bool,
) -> CallResult:
    if not isinstance(gas_limit, int) or gas_limit < 0:
        return _refuse(0, f"gas limit must be an int >= 0, not {gas_limit!r}")
    if context.depth == 0:
        with _enough_stack():
            return _run_call(program, function, args, context, host, gas_limit, trace)
    return _run_call(program, function, args, context, host, gas_limit, trace)


@contextmanager
def _enough_stack() -> Iterator[None]:
    """Make sure ``PYTHON_STACK_BUDGET`` frames are free below the current one."""
    frame, depth = sys._getframe(), 0
    while frame is not None:
        depth += 1
        frame = frame.f_back  # type: ignore[assignment]
    old = sys.getrecursionlimit()
    needed = depth + PYTHON_STACK_BUDGET + 50
    if needed > old:
        sys.setrecursionlimit(needed)
    try:
        yield
    finally:
        if needed > old:
            sys.setrecursionlimit(old)


def _run_call(
    program: Program,
    function: Function,
    args: list[Any],
    context: CallContext,
    host: Host,
    gas_limit: int,
    trace: bool,
) -> CallResult:
    meter = _Meter(gas_limit=gas_limit, tracing=trace, depth=context.depth, gas_left=gas_limit)
    machine = _Machine(program, context, host, meter)
    mark = host.checkpoint()
    status, error, value = OK, "", None
    try:
        if context.depth > MAX_CALL_DEPTH:
            raise ContractFault(f"call depth limit {MAX_CALL_DEPTH} reached")
        arguments = [machine.copy_in(a, f"argument {i + 1}") for i, a in enumerate(args)]
        value = machine.run(function, arguments)
        value = machine.copy_in(value, f"the value returned by {function.name}")
    except OutOfGas as exc:
        status, error = OUT_OF_GAS, str(exc)
    except Revert as exc:
        status, error = REVERTED, str(exc)
    except ContractFault as exc:
        status, error = FAULT, str(exc)
    except RecursionError:  # pragma: no cover - the limits are set so this cannot happen
        status, error = FAULT, "the contract nested too deeply for the interpreter"
    except (ArithmeticError, LookupError, TypeError, ValueError) as exc:  # pragma: no cover
        # A safety net: every operation checks its operands first, so this means a gap in
        # those checks; it still ends the call as a fault, reverted, never a crash.
        status, error = FAULT, f"line {machine.line}: {type(exc).__name__}: {exc}"
    if status != OK:
        host.revert(mark)
        gas_used = gas_limit if status == OUT_OF_GAS else gas_limit - meter.gas_left
        return CallResult(status, gas_used, error=error, trace=tuple(meter.steps))
    return CallResult(
        OK,
        gas_limit - meter.gas_left,
        return_value=value,
        events=tuple(machine.events),
        trace=tuple(meter.steps),
    )


def trace_df(result: CallResult) -> pd.DataFrame:
    """The trace of ``result`` as a pandas table, one row per step (for lessons)."""
    import pandas as pd

    return pd.DataFrame(
        [
            {
                "step": s.step,
                "line": s.line,
                "operation": s.operation,
                "gas_left": s.gas_left,
                "depth": s.depth,
                "storage": ", ".join(f"{k} = {v!r}" for k, v in s.storage.items()),
            }
            for s in result.trace
        ],
        columns=["step", "line", "operation", "gas_left", "depth", "storage"],
    )
