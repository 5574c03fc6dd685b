"""What a student's kernel may send back to the grader: plain data, and nothing else.

When grading, a student's function runs in the student's kernel, but it is judged in the grader's
process. The kernel sends the result as tagged JSON built from a few exact builtin types (``None``,
``bool``, ``int``, ``float``, ``str``, ``bytes``, ``list``, ``tuple``, ``dict``). Decoding makes
only those types, checks depth and size, and never imports, calls or unpickles anything, so the
most hostile kernel can claim a return value, which is exactly what an honest function could do
too, but it cannot hand the grader an object whose ``__eq__`` lies.

A few of blockkit's own *value types* cross too (``VALUE_TYPES``: an ``Address``, a
``PublicKey``, a wrapped key, a credential, a certificate, a transaction...): the kernel sends
their canonical bytes (``blockkit.encoding``) and the grader rebuilds them with the library's own
parser, which checks their shape. Like plain data, a kernel can claim any such value an honest
function could return, never an object with behaviour of its own.

A few *mutable* blockkit objects cross too (a chain, a CA, a private collection, the
capstone's ``Service``): as snapshots, plain data the grader rebuilds with the library's own
constructors, replaying a chain's blocks through full validation (``blockkit.grading.snapshot``).
An object reached twice crosses once and is referred to after that, so what was shared in the
kernel (the registry's chain *is* the channel's chain) is shared in the grader.

Anything else a function returns (an instance of the student's own class, a subclass of ``int``)
travels as :class:`Unrepresentable`: its type name and a short repr, equal to nothing.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

__all__ = ["VALUE_TYPES", "Memo", "Table", "Unrepresentable", "WireError", "decode", "encode"]

MAX_DEPTH = 32
MAX_ITEMS = 100_000
MAX_TEXT = 1_000_000
"""Characters of one ``str`` (or hex characters of one ``bytes``) the decoder accepts."""
MAX_INT_DIGITS = 4_000


#: blockkit value types that cross as canonical bytes, rebuilt in the grader by ``_parse``.
VALUE_TYPES = frozenset(
    {
        "blockkit.keys.Address",
        "blockkit.keys.PublicKey",
        "blockkit.transactions.Transaction",
        "blockkit.blocks.Header",
        "blockkit.sharing.identity.MemberCertificate",
        "blockkit.sharing.identity.RevocationList",
        "blockkit.sharing.private.WrappedKey",
        "blockkit.sharing.private.SealedRecord",
        "blockkit.sharing.credentials.CredentialHeader",
        "blockkit.sharing.credentials.Credential",
        "blockkit.sharing.credentials.Presentation",
    }
)


def _parse(type_name: str, plain: Any) -> Any:
    """Rebuild a ``VALUE_TYPES`` value from its canonical form with the library's own parser
    (``from_canonical``, which checks the shape: a public key must be a point on its curve...).
    A credential is rebuilt as sent, not checked: whether it is right is for the case to judge."""
    import importlib

    module_name, _, class_name = type_name.rpartition(".")
    cls: Any = getattr(importlib.import_module(module_name), class_name)
    return cls(plain) if class_name == "Address" else cls.from_canonical(plain)


class WireError(ValueError):
    """A reply that is not well-formed tagged JSON within the limits."""


@dataclass(frozen=True)
class Unrepresentable:
    """A result of a type the grader does not compare (shown to the student, equal to nothing)."""

    type_name: str
    text: str

    def __eq__(self, other: object) -> bool:
        return False

    def __hash__(self) -> int:
        return hash((self.type_name, self.text))

    def __repr__(self) -> str:
        return f"<{self.type_name}: {self.text}>"


def _short_repr(value: Any) -> str:
    try:
        text = repr(value)
    except Exception as exc:
        text = f"(repr failed: {type(exc).__name__})"
    return text[:200]


class Memo:
    """The objects one reply has sent so far (kernel side), so an object reached again is sent as
    a reference. Pass the same memo to every ``encode`` of one reply, and decode its parts in the
    same order with one ``Table``."""

    def __init__(self) -> None:
        self.sent: dict[int, int] = {}
        self.keep: list[Any] = []  # keeps each object alive, so no id is reused meanwhile
        self.open: set[int] = set()


def _encode_snapshot(value: Any, depth: int, memo: Memo) -> Any | None:
    from blockkit.grading import snapshot

    if id(value) in memo.sent:
        return {"t": "ref", "v": memo.sent[id(value)]}
    if not snapshot.is_snapshot_type(value):
        return None
    if id(value) in memo.open:
        raise WireError(f"a {type(value).__name__} contains itself; it cannot be sent")
    memo.open.add(id(value))
    try:
        name, state = snapshot.dump(value)  # type: ignore[misc]
    except snapshot.SnapshotError as exc:
        raise WireError(str(exc)) from None
    encoded = encode(state, depth + 1, memo)
    memo.open.discard(id(value))
    memo.sent[id(value)] = len(memo.keep)  # numbered when finished, as the decoder does
    memo.keep.append(value)
    return {"t": "state", "type": name, "v": encoded}


def encode(value: Any, _depth: int = 0, memo: Memo | None = None) -> Any:
    """``value`` as tagged JSON-ready data (runs in the student's kernel)."""
    memo = memo if memo is not None else Memo()
    if _depth > MAX_DEPTH:
        raise WireError(f"the result is nested more than {MAX_DEPTH} levels deep")
    kind = type(value)
    if value is None:
        return {"t": "none"}
    if kind is bool:
        return {"t": "bool", "v": value}
    if kind is int:
        return {"t": "int", "v": str(value)}
    if kind is float:
        return {"t": "float", "v": repr(value)}
    if kind is str:
        return {"t": "str", "v": value}
    if kind is bytes:
        return {"t": "bytes", "v": value.hex()}
    if kind is list or kind is tuple:
        return {"t": kind.__name__, "v": [encode(item, _depth + 1, memo) for item in value]}
    if kind is dict:
        return {
            "t": "dict",
            "v": [
                [encode(k, _depth + 1, memo), encode(v, _depth + 1, memo)] for k, v in value.items()
            ],
        }
    name = f"{kind.__module__}.{kind.__qualname__}"
    if name in VALUE_TYPES:
        from blockkit.encoding import encode as canonical

        try:
            plain = bytes(value) if name == "blockkit.keys.Address" else value.to_canonical()
            return {"t": "value", "type": name, "v": canonical(plain).hex()}
        except Exception:  # a broken value falls through to "unrepresentable"
            pass
    snapshot = _encode_snapshot(value, _depth, memo)
    if snapshot is not None:
        return snapshot
    return {"t": "other", "type": name, "v": _short_repr(value)}


class Table:
    """What one reply's decoding has read so far: its size, and the snapshots rebuilt (numbered in
    the order they finished, the order ``Memo`` numbered them)."""

    def __init__(self) -> None:
        from blockkit.grading.snapshot import REPLAY_GAS

        self.items = 0
        self.objects: list[Any] = []
        self.gas_left = [REPLAY_GAS]  # shared by every chain this reply replays

    def spend(self) -> None:
        self.items += 1
        if self.items > MAX_ITEMS:
            raise WireError(f"the result has more than {MAX_ITEMS} parts")


def _text(data: dict[str, Any], limit: int = MAX_TEXT) -> str:
    value = data.get("v")
    if not isinstance(value, str) or len(value) > limit:
        raise WireError("a text field is missing or too long")
    return value


def decode(data: Any, _depth: int = 0, table: Table | None = None) -> Any:
    """The value ``encode`` described (runs in the grader; trusts nothing in ``data``)."""
    budget = table if table is not None else Table()
    budget.spend()
    if _depth > MAX_DEPTH + 1:
        raise WireError("the result is nested too deeply")
    if type(data) is not dict or type(data.get("t")) is not str:
        raise WireError("not a tagged value")
    tag = data["t"]
    if tag == "none":
        return None
    if tag == "bool":
        if type(data.get("v")) is not bool:
            raise WireError("a bool must be true or false")
        return data["v"]
    if tag == "int":
        digits = _text(data, MAX_INT_DIGITS + 1)
        body = digits[1:] if digits.startswith("-") else digits
        if not (body.isascii() and body.isdigit()):
            raise WireError("an int must be decimal digits")
        return int(digits)
    if tag == "float":
        text = _text(data, 64)
        try:
            number = float(text)
        except ValueError:
            raise WireError("a float must be a number") from None
        if not (math.isfinite(number) or text in ("inf", "-inf", "nan")):
            raise WireError("a float must be a number")
        return number
    if tag == "str":
        return _text(data)
    if tag == "bytes":
        try:
            return bytes.fromhex(_text(data, 2 * MAX_TEXT))
        except ValueError:
            raise WireError("bytes must be hex") from None
    if tag in ("list", "tuple"):
        items = data.get("v")
        if type(items) is not list:
            raise WireError(f"a {tag} must hold a list")
        values = [decode(item, _depth + 1, budget) for item in items]
        return values if tag == "list" else tuple(values)
    if tag == "dict":
        pairs = data.get("v")
        if type(pairs) is not list:
            raise WireError("a dict must hold a list of pairs")
        result: dict[Any, Any] = {}
        for pair in pairs:
            if type(pair) is not list or len(pair) != 2:
                raise WireError("a dict entry must be a [key, value] pair")
            key = decode(pair[0], _depth + 1, budget)
            try:
                result[key] = decode(pair[1], _depth + 1, budget)
            except TypeError:
                raise WireError("a dict key must be hashable") from None
        return result
    if tag == "value":
        name = data.get("type")
        if type(name) is not str or name not in VALUE_TYPES:
            raise WireError("a value must name one of blockkit's value types")
        from blockkit.encoding import decode as canonical

        try:
            return _parse(name, canonical(bytes.fromhex(_text(data, 2 * MAX_TEXT))))
        except WireError:
            raise
        except Exception as exc:  # the library's parser refused it: malformed, not dangerous
            raise WireError(f"not a valid {name.rsplit('.', 1)[-1]}: {exc}"[:300]) from None
    if tag == "state":
        from blockkit.grading import snapshot

        name = data.get("type")
        if type(name) is not str or name not in snapshot.CODECS:
            raise WireError("a snapshot must name one of the types that cross as snapshots")
        state = decode(data.get("v"), _depth + 1, budget)
        try:
            with snapshot.replay_budget(budget.gas_left):
                rebuilt = snapshot.load(name, state)
        except snapshot.SnapshotError as exc:
            raise WireError(str(exc)) from None
        budget.objects.append(rebuilt)
        return rebuilt
    if tag == "ref":
        number = data.get("v")
        if type(number) is not int or not 0 <= number < len(budget.objects):
            raise WireError("a reference must name a snapshot sent before it")
        return budget.objects[number]
    if tag == "other":
        name = data.get("type")
        if type(name) is not str or len(name) > 200:
            raise WireError("an unrepresentable value must name its type")
        return Unrepresentable(name, _text(data, 200))
    raise WireError(f"unknown tag {tag[:20]!r}")
