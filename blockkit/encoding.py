"""Canonical encoding: exactly one byte string for every value that is hashed or signed.

Two nodes must agree on a hash before they can agree on anything else, so everything a hash or a
signature covers is first turned into bytes by this module, never by ``repr``, ``str``, ``json``
or ``pickle`` (whose output can change with the Python version, dict order or float formatting).

The format is a small tag-length-value scheme, chosen to be read in one sitting:

========  ==========================  ===============================================
tag byte  value                        payload
========  ==========================  ===============================================
``00``    ``None``                     nothing
``01``    ``False``                    nothing
``02``    ``True``                     nothing
``03``    ``int`` >= 0                 4-byte length, then big-endian magnitude, no leading zero
``04``    ``int`` < 0                  4-byte length, then big-endian magnitude of ``-n``
``05``    ``bytes``                    4-byte length, then the bytes
``06``    ``str``                      4-byte length, then UTF-8
``07``    ``list`` / ``tuple``         4-byte item count, then each item
``08``    ``dict`` with ``str`` keys   4-byte pair count, then key, value, ... keys sorted
========  ==========================  ===============================================

Canonical means the decoder accepts only what the encoder produces: a leading zero byte in an
integer, unsorted or repeated dict keys, bad UTF-8 or trailing bytes are all rejected with
``EncodingError``. Otherwise two different byte strings could decode to the same transaction and
one signature would cover both. Floats are refused on purpose: ``0.1 + 0.2`` is not a value two
machines should have to agree on.

Objects can take part by offering ``to_canonical()``, which returns a plain value built from the
types above (records in blockkit return a list of their fields).
"""

from __future__ import annotations

import struct
from typing import Any, Protocol, runtime_checkable

from blockkit.errors import EncodingError

__all__ = ["MAX_DEPTH", "MAX_INT_BYTES", "Canonical", "decode", "encode"]

#: Integers are limited to 512 bits, more than any amount, nonce or target needs.
MAX_INT_BYTES = 64
#: Nesting deeper than this is refused, so hostile bytes cannot exhaust the Python stack.
MAX_DEPTH = 64

_NONE, _FALSE, _TRUE, _UINT, _NINT, _BYTES, _STR, _LIST, _DICT = range(9)
_LEN = struct.Struct(">I")
_MAX_LEN = 0xFFFF_FFFF


@runtime_checkable
class Canonical(Protocol):
    """An object that knows the plain value that stands for it in canonical bytes."""

    def to_canonical(self) -> Any:
        """Return a plain value (None, bool, int, bytes, str, list, dict) describing ``self``."""
        ...


def encode(value: Any) -> bytes:
    """Return the canonical bytes of ``value``.

    >>> encode([1, b"hi", "ok"]).hex()
    '07000000030300000001010500000002686906000000026f6b'
    """
    out: list[bytes] = []
    _encode(value, out, 0)
    return b"".join(out)


def _length(n: int) -> bytes:
    if n > _MAX_LEN:
        raise EncodingError(f"a value of length {n} is too long to encode (limit {_MAX_LEN})")
    return _LEN.pack(n)


def _encode(value: Any, out: list[bytes], depth: int) -> None:
    if depth > MAX_DEPTH:
        raise EncodingError(f"value is nested more than {MAX_DEPTH} levels deep")
    # bool before int: True is an int in Python but must not encode like 1.
    if value is None:
        out.append(b"\x00")
    elif value is False:
        out.append(b"\x01")
    elif value is True:
        out.append(b"\x02")
    elif isinstance(value, int):
        magnitude = -value if value < 0 else value
        size = (magnitude.bit_length() + 7) // 8
        if size > MAX_INT_BYTES:
            raise EncodingError(
                f"integer of {magnitude.bit_length()} bits is too large; "
                f"canonical integers are limited to {8 * MAX_INT_BYTES} bits"
            )
        out.append(bytes((_NINT if value < 0 else _UINT,)) + _LEN.pack(size))
        out.append(magnitude.to_bytes(size, "big"))
    elif isinstance(value, bytes | bytearray | memoryview):
        data = bytes(value)
        out.append(b"\x05" + _length(len(data)))
        out.append(data)
    elif isinstance(value, str):
        try:
            data = value.encode("utf-8", "strict")
        except UnicodeEncodeError as exc:
            raise EncodingError(f"string is not encodable as UTF-8 ({exc.reason})") from exc
        out.append(b"\x06" + _length(len(data)))
        out.append(data)
    elif isinstance(value, list | tuple):
        out.append(b"\x07" + _length(len(value)))
        for item in value:
            _encode(item, out, depth + 1)
    elif isinstance(value, dict):
        keys = []
        for key in value:
            if not isinstance(key, str):
                raise EncodingError(f"dict keys must be str, not {type(key).__name__}")
            try:
                keys.append((key.encode("utf-8"), key))
            except UnicodeEncodeError as exc:
                raise EncodingError(f"dict key is not encodable as UTF-8 ({exc.reason})") from exc
        keys.sort()
        out.append(b"\x08" + _length(len(keys)))
        for raw, key in keys:
            out.append(b"\x06" + _LEN.pack(len(raw)))
            out.append(raw)
            _encode(value[key], out, depth + 1)
    elif hasattr(value, "to_canonical"):  # the Canonical protocol, without its slow isinstance
        _encode(value.to_canonical(), out, depth + 1)
    elif isinstance(value, float):
        raise EncodingError("floats have no canonical encoding; use an int (e.g. amounts in cents)")
    else:
        raise EncodingError(
            f"cannot encode a {type(value).__name__}; use None, bool, int, bytes, str, list, "
            "dict with str keys, or an object with to_canonical()"
        )


def decode(data: bytes) -> Any:
    """Return the value whose canonical encoding is exactly ``data``.

    Raises ``EncodingError`` naming the first problem when ``data`` is not canonical: truncated,
    trailing bytes, unknown tag, non-minimal integer, unsorted or repeated dict key, bad UTF-8.
    Lists decode as ``list``; tuples encode like lists, so they come back as lists too.
    """
    if not isinstance(data, bytes | bytearray | memoryview):
        raise EncodingError(f"decode takes bytes, not {type(data).__name__}")
    view = bytes(data)
    value, end = _decode(view, 0, 0)
    if end != len(view):
        raise EncodingError(f"{len(view) - end} trailing byte(s) after the value at offset {end}")
    return value


def _read_length(data: bytes, pos: int) -> tuple[int, int]:
    if pos + 4 > len(data):
        raise EncodingError(f"truncated: a 4-byte length was expected at offset {pos}")
    return _LEN.unpack_from(data, pos)[0], pos + 4


def _read_payload(data: bytes, pos: int) -> tuple[bytes, int]:
    size, pos = _read_length(data, pos)
    end = pos + size
    if end > len(data):
        raise EncodingError(
            f"truncated: {size} bytes announced at offset {pos - 4}, only {len(data) - pos} remain"
        )
    return data[pos:end], end


def _decode(data: bytes, pos: int, depth: int) -> tuple[Any, int]:
    if depth > MAX_DEPTH:
        raise EncodingError(f"value is nested more than {MAX_DEPTH} levels deep")
    if pos >= len(data):
        raise EncodingError(f"truncated: a value was expected at offset {pos}")
    tag = data[pos]
    pos += 1
    if tag == _NONE:
        return None, pos
    if tag == _FALSE:
        return False, pos
    if tag == _TRUE:
        return True, pos
    if tag in (_UINT, _NINT):
        raw, end = _read_payload(data, pos)
        if len(raw) > MAX_INT_BYTES:
            raise EncodingError(f"integer at offset {pos - 1} is longer than {MAX_INT_BYTES} bytes")
        if raw[:1] == b"\x00":
            raise EncodingError(f"integer at offset {pos - 1} has a leading zero byte")
        magnitude = int.from_bytes(raw, "big")
        if tag == _NINT:
            if magnitude == 0:
                raise EncodingError(f"negative zero at offset {pos - 1}")
            return -magnitude, end
        return magnitude, end
    if tag == _BYTES:
        return _read_payload(data, pos)
    if tag == _STR:
        raw, end = _read_payload(data, pos)
        try:
            return raw.decode("utf-8", "strict"), end
        except UnicodeDecodeError as exc:
            raise EncodingError(f"string at offset {pos - 1} is not valid UTF-8") from exc
    if tag == _LIST:
        count, pos = _read_length(data, pos)
        if count > len(data) - pos:  # every item takes at least one byte
            raise EncodingError(f"truncated: list of {count} items at offset {pos - 5}")
        items = []
        for _ in range(count):
            item, pos = _decode(data, pos, depth + 1)
            items.append(item)
        return items, pos
    if tag == _DICT:
        start = pos - 1
        count, pos = _read_length(data, pos)
        if count > (len(data) - pos) // 2:  # every pair takes at least two bytes
            raise EncodingError(f"truncated: dict of {count} pairs at offset {start}")
        result: dict[str, Any] = {}
        previous: bytes | None = None
        for _ in range(count):
            if pos >= len(data) or data[pos] != _STR:
                raise EncodingError(f"dict key at offset {pos} is not a string")
            raw, pos = _read_payload(data, pos + 1)
            if previous is not None and raw <= previous:
                raise EncodingError(f"dict at offset {start} has keys out of order or repeated")
            previous = raw
            try:
                key = raw.decode("utf-8", "strict")
            except UnicodeDecodeError as exc:
                raise EncodingError(f"dict key in dict at offset {start} is not UTF-8") from exc
            result[key], pos = _decode(data, pos, depth + 1)
        return result, pos
    raise EncodingError(f"unknown tag 0x{tag:02x} at offset {pos - 1}")
