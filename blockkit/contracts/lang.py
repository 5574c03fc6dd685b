"""The contract language: a small, deterministic subset of Python, checked before anything runs.

A contract is Python source with one class; ``compile_contract`` parses it with ``ast`` (never
``compile``/``exec``/``eval``) and walks every node against a whitelist. Anything outside the
subset (imports, dunder names, ``lambda``, ``try``, floats, f-strings, unknown names, attributes
other than ``self.<field>`` and a few methods, nesting deeper than ``MAX_AST_DEPTH``) is refused
with ``InvalidContract(reason, line)`` at deployment, so the interpreter (``vm``) only ever meets
node types it knows how to meter. The package docstring (``blockkit.contracts``) teaches the
language; this module enforces it.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from blockkit.errors import InvalidContract
from blockkit.hashing import tagged_hash

__all__ = [
    "BUILTINS",
    "ENVIRONMENT",
    "MAX_AST_DEPTH",
    "MAX_INT_BITS",
    "MAX_SOURCE_CHARS",
    "MAX_STRING_LENGTH",
    "METHODS",
    "Function",
    "Program",
    "compile_contract",
]

#: Source longer than this is refused before parsing (it also bounds how deep ``ast.parse`` goes).
MAX_SOURCE_CHARS = 65_536
#: Deepest nesting of statements and expressions; keeps the interpreter far from Python's own
#: recursion limit (a ``((((…))))`` of 10,000 levels is refused at deployment).
MAX_AST_DEPTH = 32
#: ``for`` clauses in one comprehension (each one nests the interpreter one level deeper).
MAX_GENERATORS = 3
#: Integers must satisfy ``abs(x) < 2**MAX_INT_BITS``, in literals and after every operation.
MAX_INT_BITS = 256
#: Longest ``str`` (characters) or ``bytes`` a contract may hold, in literals and at runtime.
MAX_STRING_LENGTH = 65_536

#: Names a contract can read: the call's context (see ``CallContext``).
ENVIRONMENT = frozenset({"caller", "origin", "value", "block_height", "timestamp", "this"})
#: Functions a contract can call by name: safe builtins and the chain's services.
BUILTINS = frozenset(
    {
        # pure helpers
        "len", "range", "min", "max", "abs", "sum", "sorted", "reversed", "enumerate", "zip",
        "any", "all", "str", "int", "bool", "list", "dict", "isinstance",
        # the chain
        "require", "revert", "emit", "balance", "transfer", "call", "sha256",
    }
)  # fmt: skip
#: Type names usable in ``isinstance(x, T)`` and as parameter annotations.
TYPE_NAMES = frozenset({"int", "bool", "str", "bytes", "list", "dict"})
#: Methods on values, by receiver type (checked again at runtime against the actual type).
METHODS: Mapping[str, frozenset[str]] = MappingProxyType(
    {
        "list": frozenset({"append", "pop", "insert", "extend", "index", "count", "remove"}),
        "dict": frozenset({"get", "keys", "values", "items", "pop"}),
        "str": frozenset(
            {"upper", "lower", "strip", "startswith", "endswith", "split", "join", "find",
             "encode"}
        ),
        "bytes": frozenset({"hex", "decode", "startswith", "endswith"}),
    }
)  # fmt: skip
_ALL_METHODS = frozenset().union(*METHODS.values())
#: Methods that change their receiver: on a storage value they read, change and write it back.
MUTATING_METHODS = frozenset({"append", "pop", "insert", "extend", "remove"})

_CODE_TAG = b"blockkit/contract-code"

_BINARY_OPS = (
    ast.Add, ast.Sub, ast.Mult, ast.FloorDiv, ast.Mod, ast.Pow,
    ast.LShift, ast.RShift, ast.BitAnd, ast.BitOr, ast.BitXor,
)  # fmt: skip
_COMPARE_OPS = (ast.Eq, ast.NotEq, ast.Lt, ast.LtE, ast.Gt, ast.GtE, ast.In, ast.NotIn)

#: Node types that carry no behaviour of their own (contexts and operators).
_PASSIVE = (ast.expr_context, ast.operator, ast.unaryop, ast.cmpop, ast.boolop)

#: Why a node type is refused, in words that say what to write instead.
_REFUSED: Mapping[type, str] = MappingProxyType(
    {
        ast.Import: "imports are not allowed: a contract can only use the builtins listed in "
        "blockkit.contracts",
        ast.ImportFrom: "imports are not allowed: a contract can only use the builtins listed in "
        "blockkit.contracts",
        ast.Lambda: "lambda is not allowed: write a method of the contract instead",
        ast.Global: "global is not allowed: keep state in storage (self.<name>)",
        ast.Nonlocal: "nonlocal is not allowed: keep state in storage (self.<name>)",
        ast.Try: "try/except is not allowed: a failing contract call is reverted as a whole; "
        "check conditions with require(cond, 'message')",
        ast.Raise: "raise is not allowed: use revert('message') or require(cond, 'message')",
        ast.With: "with is not allowed in contracts",
        ast.AsyncWith: "async is not allowed in contracts",
        ast.AsyncFor: "async is not allowed in contracts",
        ast.AsyncFunctionDef: "async is not allowed in contracts",
        ast.Await: "await is not allowed in contracts",
        ast.Yield: "yield (generators) is not allowed: build and return a list",
        ast.YieldFrom: "yield (generators) is not allowed: build and return a list",
        ast.ClassDef: "a contract has exactly one class, at the top level",
        ast.Assert: "assert is not allowed: use require(cond, 'message'), which reverts the call",
        ast.JoinedStr: "f-strings are not allowed: build text with + and str(x)",
        ast.FormattedValue: "f-strings are not allowed: build text with + and str(x)",
        ast.Set: "sets are not allowed (their order is not deterministic): use a list or a dict",
        ast.SetComp: "sets are not allowed (their order is not deterministic): use a list or a "
        "dict",
        ast.Starred: "starred arguments and targets (*x) are not allowed: pass values one by one",
        ast.NamedExpr: "the walrus operator := is not allowed: assign on its own line",
        ast.AnnAssign: "annotated assignments are not allowed: write x = value",
        ast.Match: "match is not allowed: use if/elif/else",
    }
)


@dataclass(frozen=True)
class Function:
    """One method of the contract, as the interpreter needs it."""

    name: str
    params: tuple[str, ...]
    """Parameter names after ``self``."""
    types: tuple[str | None, ...]
    """The annotation of each parameter (``"int"``, ``"bytes"``…) or None: checked on each call."""
    node: ast.FunctionDef = field(repr=False, compare=False)
    line: int

    @property
    def public(self) -> bool:
        """Callable from outside (a transaction or another contract): no leading underscore."""
        return not self.name.startswith("_")


@dataclass(frozen=True)
class Program:
    """A validated contract, ready for ``vm.execute`` and ``vm.deploy``."""

    name: str
    """The class name (``Token``)."""
    source: str = field(repr=False)
    code_hash: bytes
    """``tagged_hash(b"blockkit/contract-code", source as UTF-8)``: names the code on chain."""
    functions: Mapping[str, Function] = field(repr=False)
    """Every method, ``__init__`` included, by name."""
    mappings: frozenset[str]
    """Storage fields that are mappings (one slot per key): the fields ``__init__`` sets to a
    dict display ``self.x = {}`` (or a dict comprehension)."""

    @property
    def public_functions(self) -> tuple[str, ...]:
        """Names callable from outside, in source order."""
        return tuple(name for name, f in self.functions.items() if f.public and name != "__init__")

    def __repr__(self) -> str:
        return (
            f"Program({self.name}, code_hash={self.code_hash.hex()[:12]}…, "
            f"functions={list(self.public_functions)})"
        )


def compile_contract(source: str) -> Program:
    """Parse and validate contract ``source``; raise ``InvalidContract(reason, line)`` if it
    steps outside the language. Nothing of the source is ever executed by Python."""
    if not isinstance(source, str):
        raise InvalidContract(f"contract source must be str, not {type(source).__name__}")
    if len(source) > MAX_SOURCE_CHARS:
        raise InvalidContract(
            f"source is {len(source)} characters; the limit is {MAX_SOURCE_CHARS}: split the "
            "contract into several contracts"
        )
    tree = _parse(source)
    _check_depth(tree)
    class_node = _find_class(tree)
    functions = _collect_functions(class_node)
    mappings = _find_mappings(class_node)
    checker = _Checker(functions, mappings)
    for function in functions.values():
        checker.check_function(function)
    return Program(
        name=class_node.name,
        source=source,
        code_hash=tagged_hash(_CODE_TAG, source.encode("utf-8", "surrogatepass")),
        functions=MappingProxyType(functions),
        mappings=frozenset(mappings),
    )


# --- parsing and shape ----------------------------------------------------------------------------


def _parse(source: str) -> ast.Module:
    """``ast.parse`` with every way it can fail turned into ``InvalidContract``."""
    try:
        return ast.parse(source, mode="exec")
    except SyntaxError as exc:
        raise InvalidContract(f"syntax error: {exc.msg}", exc.lineno or 0) from None
    except (RecursionError, MemoryError):
        raise InvalidContract(
            f"the source is nested too deeply to parse (the limit is {MAX_AST_DEPTH} levels)"
        ) from None
    except ValueError as exc:  # e.g. NUL bytes, an integer literal of more than 4300 digits
        raise InvalidContract(f"source cannot be parsed: {exc}") from None


def _children(node: ast.AST) -> Iterator[ast.AST]:
    for child in ast.iter_child_nodes(node):
        if not isinstance(child, _PASSIVE):
            yield child


def _check_depth(tree: ast.Module) -> None:
    """Refuse nesting deeper than ``MAX_AST_DEPTH``, walking with an explicit stack (no
    recursion, so even a 10,000-level tree is measured safely)."""
    stack: list[tuple[ast.AST, int]] = [(tree, 0)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_AST_DEPTH:
            raise InvalidContract(
                f"code is nested more than {MAX_AST_DEPTH} levels deep: split the expression "
                "into several assignments",
                getattr(node, "lineno", 0),
            )
        stack.extend((child, depth + 1) for child in _children(node))


def _is_docstring(stmt: ast.stmt) -> bool:
    return (
        isinstance(stmt, ast.Expr)
        and isinstance(stmt.value, ast.Constant)
        and isinstance(stmt.value.value, str)
    )


def _find_class(tree: ast.Module) -> ast.ClassDef:
    classes = []
    for stmt in tree.body:
        if isinstance(stmt, ast.ClassDef):
            classes.append(stmt)
        elif not _is_docstring(stmt):
            reason = _REFUSED.get(type(stmt), "only one class (and a docstring) may appear at "
                                  "the top level of a contract")  # fmt: skip
            raise InvalidContract(reason, stmt.lineno)
    if len(classes) != 1:
        line = classes[1].lineno if len(classes) > 1 else 0
        raise InvalidContract(
            f"a contract is exactly one class; found {len(classes)}: put every method in one class",
            line,
        )
    node = classes[0]
    if node.bases or node.keywords or node.decorator_list:
        raise InvalidContract(
            "the contract class takes no base classes, keywords or decorators", node.lineno
        )
    if node.name.startswith("__"):
        raise InvalidContract("names starting with __ are not allowed", node.lineno)
    return node


def _collect_functions(class_node: ast.ClassDef) -> dict[str, Function]:
    functions: dict[str, Function] = {}
    for stmt in class_node.body:
        if _is_docstring(stmt):
            continue
        if not isinstance(stmt, ast.FunctionDef):
            reason = _REFUSED.get(
                type(stmt),
                "the class body holds only methods (def) and a docstring: keep state in "
                "self.<name>, set in __init__",
            )
            raise InvalidContract(reason, stmt.lineno)
        functions[_check_signature(stmt, functions)] = _function(stmt)
    if not any(f.public and name != "__init__" for name, f in functions.items()):
        raise InvalidContract(
            "the contract has no public method: add a method whose name does not start with _",
            class_node.lineno,
        )
    return functions


def _check_signature(node: ast.FunctionDef, seen: Mapping[str, Function]) -> str:
    line = node.lineno
    if node.decorator_list:
        raise InvalidContract("decorators are not allowed", line)
    if node.name.startswith("__") and node.name != "__init__":
        raise InvalidContract(
            f"method {node.name}: names starting with __ are not allowed (only __init__)", line
        )
    if node.name in seen:
        raise InvalidContract(f"method {node.name} is defined twice", line)
    args = node.args
    if args.vararg or args.kwarg or args.kwonlyargs or args.posonlyargs:
        raise InvalidContract(
            f"method {node.name}: only plain parameters are allowed (no *args, **kwargs, "
            "keyword-only or positional-only)",
            line,
        )
    if args.defaults or args.kw_defaults:
        raise InvalidContract(f"method {node.name}: default values are not allowed", line)
    if not args.args or args.args[0].arg != "self":
        raise InvalidContract(f"method {node.name}: the first parameter must be self", line)
    if node.returns is not None and not _is_type_annotation(node.returns):
        raise InvalidContract(
            f"method {node.name}: the return annotation must be one of "
            f"{', '.join(sorted(TYPE_NAMES))} or None",
            line,
        )
    names = [a.arg for a in args.args[1:]]
    for arg in args.args[1:]:
        _check_local_name(arg.arg, arg.lineno)
        if arg.annotation is not None and not _is_type_annotation(arg.annotation, none=False):
            raise InvalidContract(
                f"parameter {arg.arg}: annotation must be one of {', '.join(sorted(TYPE_NAMES))}",
                arg.lineno,
            )
    if len(set(names)) != len(names):
        raise InvalidContract(f"method {node.name}: a parameter name is repeated", line)
    return node.name


def _is_type_annotation(node: ast.expr, *, none: bool = True) -> bool:
    if none and isinstance(node, ast.Constant) and node.value is None:
        return True
    return isinstance(node, ast.Name) and node.id in TYPE_NAMES


def _function(node: ast.FunctionDef) -> Function:
    params = node.args.args[1:]
    types = tuple(a.annotation.id if isinstance(a.annotation, ast.Name) else None for a in params)
    return Function(node.name, tuple(a.arg for a in params), types, node, node.lineno)


def _check_local_name(name: str, line: int) -> None:
    if name.startswith("__"):
        raise InvalidContract(f"names starting with __ are not allowed ({name})", line)
    if name in ENVIRONMENT or name in BUILTINS or name in TYPE_NAMES or name == "self":
        raise InvalidContract(
            f"{name} is a builtin name of the contract language: choose another name", line
        )


def _is_self_field(node: ast.AST) -> bool:
    return (
        isinstance(node, ast.Attribute)
        and isinstance(node.value, ast.Name)
        and node.value.id == "self"
    )


def _find_mappings(class_node: ast.ClassDef) -> set[str]:
    """Fields set to a dict display in ``__init__``: those are mappings (one slot per key)."""
    mappings: set[str] = set()
    for function in class_node.body:
        if not isinstance(function, ast.FunctionDef):
            continue
        for node in ast.walk(function):
            if not isinstance(node, ast.Assign) or not isinstance(
                node.value, ast.Dict | ast.DictComp
            ):
                continue
            for target in node.targets:
                if _is_self_field(target):
                    assert isinstance(target, ast.Attribute)
                    if function.name != "__init__":
                        raise InvalidContract(
                            f"self.{target.attr} = {{…}} outside __init__: a mapping is created "
                            "once, in __init__; later change it entry by entry "
                            f"(self.{target.attr}[key] = value, del self.{target.attr}[key]). "
                            "To store a whole dict as one value, build it in a local first: "
                            f"record = {{…}}; self.{target.attr} = record",
                            node.lineno,
                        )
                    mappings.add(target.attr)
    return mappings


# --- the whitelist walk ---------------------------------------------------------------------------


class _Checker:
    """Walks each method and refuses any node, name or attribute outside the language."""

    def __init__(self, functions: Mapping[str, Function], mappings: set[str]) -> None:
        self.functions = functions
        self.mappings = mappings
        self.locals: set[str] = set()
        self.function = ""
        self.loops = 0

    def fail(self, message: str, node: ast.AST) -> InvalidContract:
        return InvalidContract(message, getattr(node, "lineno", 0))

    def check_function(self, function: Function) -> None:
        self.function = function.name
        self.locals = set(function.params) | self._assigned_names(function.node)
        self._block(function.node.body, function.node)

    def _assigned_names(self, node: ast.FunctionDef) -> set[str]:
        names: set[str] = set()
        for child in ast.walk(node):
            if isinstance(child, ast.Name) and isinstance(child.ctx, ast.Store | ast.Del):
                _check_local_name(child.id, child.lineno)
                names.add(child.id)
        return names

    def _block(self, body: list[ast.stmt], owner: ast.AST) -> None:
        for stmt in body:
            self._stmt(stmt)

    def _loop_body(self, body: list[ast.stmt], owner: ast.AST) -> None:
        self.loops += 1
        try:
            self._block(body, owner)
        finally:
            self.loops -= 1

    # statements

    def _stmt(self, node: ast.stmt) -> None:
        if type(node) in _REFUSED:
            raise self.fail(_REFUSED[type(node)], node)
        if isinstance(node, ast.FunctionDef):
            raise self.fail("functions inside methods are not allowed: add a method", node)
        if isinstance(node, ast.Assign):
            for target in node.targets:
                self._target(target, node)
            self._expr(node.value)
        elif isinstance(node, ast.AugAssign):
            if not isinstance(node.op, _BINARY_OPS):
                raise self.fail(self._operator_reason(node.op), node)
            if isinstance(node.target, ast.Tuple | ast.List):
                raise self.fail("augmented assignment takes one target", node)
            self._target(node.target, node)
            self._expr(node.value)
        elif isinstance(node, ast.Delete):
            for target in node.targets:
                if not isinstance(target, ast.Subscript):
                    raise self.fail(
                        "del only removes an entry: del d[key], del self.m[key], del l[i]", node
                    )
                self._target(target, node)
        elif isinstance(node, ast.If | ast.While):
            self._expr(node.test)
            if isinstance(node, ast.While):
                self._loop_body(node.body, node)
            else:
                self._block(node.body, node)
            if isinstance(node, ast.While) and node.orelse:
                raise self.fail("while … else is not allowed", node)
            self._block(node.orelse, node)
        elif isinstance(node, ast.For):
            if node.orelse:
                raise self.fail("for … else is not allowed", node)
            self._target(node.target, node, loop=True)
            self._iterable(node.iter)
            self._loop_body(node.body, node)
        elif isinstance(node, ast.Return):
            if node.value is not None:
                self._expr(node.value)
        elif isinstance(node, ast.Expr):
            if type(node.value) in _REFUSED:
                raise self.fail(_REFUSED[type(node.value)], node)
            if not (_is_docstring(node) or isinstance(node.value, ast.Call)):
                raise self.fail(
                    "an expression on its own line does nothing: assign it or call a function",
                    node,
                )
            if isinstance(node.value, ast.Call):
                self._expr(node.value)
        elif isinstance(node, ast.Break | ast.Continue):
            if not self.loops:
                raise self.fail(f"{type(node).__name__.lower()} outside a loop", node)
        elif not isinstance(node, ast.Pass):
            raise self.fail(f"{type(node).__name__} statements are not allowed", node)

    def _target(self, node: ast.expr, stmt: ast.stmt, *, loop: bool = False) -> None:
        if isinstance(node, ast.Name):
            return  # checked by _assigned_names
        if isinstance(node, ast.Tuple | ast.List):
            for item in node.elts:
                if not isinstance(item, ast.Name | ast.Subscript | ast.Attribute):
                    raise self.fail("unpack into names only: a, b = pair", stmt)
                self._target(item, stmt, loop=loop)
            return
        if loop:
            raise self.fail("a for loop assigns to names only: for x in items", stmt)
        if _is_self_field(node):
            assert isinstance(node, ast.Attribute)
            self._field_name(node)
            if node.attr in self.mappings and not (
                self.function == "__init__"
                and isinstance(stmt, ast.Assign)
                and isinstance(stmt.value, ast.Dict | ast.DictComp)
            ):
                raise self.fail(
                    f"self.{node.attr} is a mapping: set entries one by one "
                    f"(self.{node.attr}[key] = value)",
                    stmt,
                )
            return
        if isinstance(node, ast.Subscript):
            self._subscript_base(node.value)
            self._index(node.slice)
            return
        if isinstance(node, ast.Attribute):
            raise self.fail(
                f"cannot assign to .{node.attr}: only self.<field> and names are assignable", stmt
            )
        raise self.fail(f"cannot assign to a {type(node).__name__}", stmt)

    def _field_name(self, node: ast.Attribute) -> None:
        if node.attr.startswith("__"):
            raise self.fail(f"self.{node.attr}: names starting with __ are not allowed", node)
        if node.attr in self.functions:
            raise self.fail(
                f"self.{node.attr} is a method; call it with self.{node.attr}(...) (a field "
                "cannot share a method's name)",
                node,
            )

    def _subscript_base(self, node: ast.expr) -> None:
        """The ``x`` of ``x[i]``: a mapping field is allowed here (and only in such places)."""
        if _is_self_field(node):
            assert isinstance(node, ast.Attribute)
            self._field_name(node)
        else:
            self._expr(node)

    def _index(self, node: ast.expr) -> None:
        if isinstance(node, ast.Slice):
            for part in (node.lower, node.upper, node.step):
                if part is not None:
                    self._expr(part)
        else:
            self._expr(node)

    def _iterable(self, node: ast.expr) -> None:
        """What a for loop or comprehension walks: ``range(...)`` is allowed only here."""
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            if node.func.id == "range":
                if not 1 <= len(node.args) <= 3 or node.keywords:
                    raise self.fail("range takes 1 to 3 positional arguments", node)
                for arg in node.args:
                    self._expr(arg)
                return
        self._expr(node)

    # expressions

    def _expr(self, node: ast.expr) -> None:
        if type(node) in _REFUSED:
            raise self.fail(_REFUSED[type(node)], node)
        if isinstance(node, ast.Constant):
            self._constant(node)
        elif isinstance(node, ast.Name):
            self._name(node)
        elif isinstance(node, ast.BinOp):
            if not isinstance(node.op, _BINARY_OPS):
                raise self.fail(self._operator_reason(node.op), node)
            if (
                isinstance(node.op, ast.Mod)
                and isinstance(node.left, ast.Constant)
                and isinstance(node.left.value, str | bytes)
            ):
                raise self.fail("% formatting is not allowed: build text with + and str(x)", node)
            self._expr(node.left)
            self._expr(node.right)
        elif isinstance(node, ast.UnaryOp):
            self._expr(node.operand)
        elif isinstance(node, ast.BoolOp):
            for value in node.values:
                self._expr(value)
        elif isinstance(node, ast.Compare):
            self._compare(node)
        elif isinstance(node, ast.IfExp):
            self._expr(node.test)
            self._expr(node.body)
            self._expr(node.orelse)
        elif isinstance(node, ast.Call):
            self._call(node)
        elif isinstance(node, ast.Attribute):
            if _is_self_field(node):
                self._field_name(node)
                if node.attr in self.mappings:
                    raise self.fail(
                        f"self.{node.attr} is a mapping and cannot be read whole: use "
                        f"self.{node.attr}[key], self.{node.attr}.get(key, default) or "
                        f"key in self.{node.attr}",
                        node,
                    )
                return
            raise self.fail(
                f"attribute .{node.attr} is not allowed: only self.<field> and method calls "
                f"such as x.append(v) ({', '.join(sorted(_ALL_METHODS))})",
                node,
            )
        elif isinstance(node, ast.Subscript):
            self._subscript_base(node.value)
            self._index(node.slice)
        elif isinstance(node, ast.List | ast.Tuple):
            for item in node.elts:
                self._expr(item)
        elif isinstance(node, ast.Dict):
            for key, value in zip(node.keys, node.values, strict=True):
                if key is None:
                    raise self.fail("** unpacking in a dict is not allowed", node)
                self._expr(key)
                self._expr(value)
        elif isinstance(node, ast.ListComp | ast.GeneratorExp | ast.DictComp):
            self._comprehension(node)
        elif isinstance(node, ast.Slice):
            raise self.fail("a slice is only allowed inside [ ]", node)
        else:
            raise self.fail(f"{type(node).__name__} expressions are not allowed", node)

    def _operator_reason(self, op: ast.AST) -> str:
        if isinstance(op, ast.Div):
            return "/ is not allowed (it makes floats): use // for whole-number division"
        return f"the operator {type(op).__name__} is not allowed"

    def _constant(self, node: ast.Constant) -> None:
        value = node.value
        if isinstance(value, bool) or value is None:
            return
        if isinstance(value, int):
            if abs(value) >= 1 << MAX_INT_BITS:
                raise self.fail(f"integer literal exceeds 2**{MAX_INT_BITS}", node)
            return
        if isinstance(value, str | bytes):
            if len(value) > MAX_STRING_LENGTH:
                raise self.fail(
                    f"literal of {len(value)} characters; the limit is {MAX_STRING_LENGTH}", node
                )
            return
        raise self.fail(
            f"{type(value).__name__} literals are not allowed (no floats: count in whole units, "
            "e.g. cents)",
            node,
        )

    def _name(self, node: ast.Name) -> None:
        name = node.id
        if name.startswith("__"):
            raise self.fail(f"names starting with __ are not allowed ({name})", node)
        if name == "self":
            raise self.fail("self can only be used as self.<field> or self.<method>(...)", node)
        if name in BUILTINS or name in TYPE_NAMES:
            raise self.fail(f"{name} can only be called, as {name}(...)", node)
        if name in ENVIRONMENT or name in self.locals:
            return
        raise self.fail(
            f"unknown name {name!r}: assign it first, or use one of the builtins "
            f"({', '.join(sorted(BUILTINS))}) or context names ({', '.join(sorted(ENVIRONMENT))})",
            node,
        )

    def _compare(self, node: ast.Compare) -> None:
        for op, right in zip(node.ops, node.comparators, strict=True):
            if isinstance(op, ast.Is | ast.IsNot):
                if not (isinstance(right, ast.Constant) and right.value is None):
                    raise self.fail("is / is not are only allowed with None: x is None", node)
            elif not isinstance(op, _COMPARE_OPS):
                raise self.fail(f"comparison {type(op).__name__} is not allowed", node)
        self._expr(node.left)
        for op, right in zip(node.ops, node.comparators, strict=True):
            if isinstance(op, ast.In | ast.NotIn) and _is_self_field(right):
                assert isinstance(right, ast.Attribute)
                self._field_name(right)  # `key in self.mapping` reads one slot
            else:
                self._expr(right)

    def _comprehension(self, node: ast.ListComp | ast.GeneratorExp | ast.DictComp) -> None:
        if len(node.generators) > MAX_GENERATORS:
            raise self.fail(
                f"a comprehension may have at most {MAX_GENERATORS} for clauses: use loops", node
            )
        for generator in node.generators:
            if generator.is_async:
                raise self.fail("async comprehensions are not allowed", node)
            if not isinstance(generator.target, ast.Name | ast.Tuple):
                raise self.fail("a comprehension assigns to names only", node)
            for name in ast.walk(generator.target):
                if isinstance(name, ast.Name):
                    _check_local_name(name.id, node.lineno)
                    self.locals.add(name.id)
            self._iterable(generator.iter)
            for condition in generator.ifs:
                self._expr(condition)
        if isinstance(node, ast.DictComp):
            self._expr(node.key)
            self._expr(node.value)
        else:
            self._expr(node.elt)

    def _call(self, node: ast.Call) -> None:
        func = node.func
        is_isinstance = isinstance(func, ast.Name) and func.id == "isinstance"
        for keyword in node.keywords:
            if keyword.arg is None:
                raise self.fail("** unpacking in a call is not allowed", node)
            if keyword.arg.startswith("__"):
                raise self.fail("names starting with __ are not allowed", node)
        if isinstance(func, ast.Name):
            self._call_builtin(node, func.id)  # the function first: its name is the better hint
        for arg in node.args[:1] if is_isinstance else node.args:
            self._expr(arg)
        for keyword in node.keywords:
            self._expr(keyword.value)
        if isinstance(func, ast.Attribute):
            if node.keywords:
                raise self.fail("methods take positional arguments only", node)
            if isinstance(func.value, ast.Name) and func.value.id == "self":
                if func.attr not in self.functions:
                    raise self.fail(
                        f"self.{func.attr}(...): the contract has no method {func.attr}", node
                    )
                if func.attr == "__init__":
                    raise self.fail("__init__ runs once, at deployment; it cannot be called", node)
                return
            if _is_self_field(func.value) and func.value.attr in self.mappings:
                if func.attr != "get":
                    raise self.fail(
                        f"self.{func.value.attr} is a mapping: its only method is "
                        f".get(key, default); use self.{func.value.attr}[key] otherwise",
                        node,
                    )
            if func.attr.startswith("_") or func.attr not in _ALL_METHODS:
                raise self.fail(
                    f"method .{func.attr}() is not allowed; the allowed methods are "
                    f"{', '.join(sorted(_ALL_METHODS))}",
                    node,
                )
            self._subscript_base(func.value)
        elif not isinstance(func, ast.Name):
            raise self.fail("only named functions and methods can be called", node)

    def _call_builtin(self, node: ast.Call, name: str) -> None:
        if name in self.functions or (name not in BUILTINS and name not in TYPE_NAMES):
            hint = f" (call a method as self.{name}(...))" if name in self.functions else ""
            raise self.fail(f"unknown function {name!r}{hint}", node)
        if name == "range":
            raise self.fail(
                "range(...) is only allowed as what a for loop or comprehension walks over", node
            )
        if name == "bytes":
            raise self.fail("bytes(...) is not a function here: use s.encode() or b'...'", node)
        allowed_keywords = {"emit": None, "call": {"value"}}.get(name, set())
        for keyword in node.keywords:
            if allowed_keywords is not None and keyword.arg not in allowed_keywords:
                raise self.fail(f"{name}() takes no keyword argument {keyword.arg!r}", node)
        if name == "isinstance":
            if len(node.args) != 2 or not (
                isinstance(node.args[1], ast.Name) and node.args[1].id in TYPE_NAMES
            ):
                raise self.fail(
                    f"isinstance(x, T) takes one of {', '.join(sorted(TYPE_NAMES))} as T", node
                )
