"""Blocks: a header that commits to everything, and the ordered transactions it commits to.

A block is a single link in the chain. Its header names its parent by hash, so changing any old
block changes every hash after it; it commits to its transactions through a Merkle root and to the
resulting world state through the state root; and it carries the proof that makes it costly or
authorised to produce (a proof-of-work ``nonce`` under ``target``, or a ``seal`` signed by an
authority).

The header's canonical bytes end with the 8-byte nonce, so a miner hashes a fixed prefix and only
the last 8 bytes change between attempts (see ``HeaderTemplate``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import Any

from blockkit.encoding import decode, encode
from blockkit.errors import EncodingError, InvalidBlock, InvalidTransaction
from blockkit.hashing import HASH_SIZE, MAX_TARGET, ZERO_HASH
from blockkit.keys import ADDRESS_SIZE, Address
from blockkit.merkle import hash_leaf, merkle_root_of_hashes
from blockkit.transactions import MAX_NONCE, Transaction

__all__ = ["HEADER_TAG", "Block", "Header", "HeaderTemplate", "transactions_root"]

#: Prefix of the bytes a header hash covers: a length byte, then the tag (as ``tagged_hash``).
HEADER_TAG = b"blockkit/header/v1"
_HEADER_PREFIX = bytes((len(HEADER_TAG),)) + HEADER_TAG
NONCE_SIZE = 8
ZERO_ADDRESS = Address(bytes(ADDRESS_SIZE))


@dataclass(frozen=True)
class Header:
    """Everything a block commits to, in 10 fields. Its hash is the block's identity."""

    parent: bytes
    """Hash of the parent block's header (``ZERO_HASH`` for genesis)."""
    height: int
    """Distance from genesis: the parent's height plus one."""
    timestamp: int
    """Seconds since the epoch, as claimed by the proposer; must exceed the parent's."""
    transactions_root: bytes
    """Merkle root of the transaction hashes, in block order (``transactions_root``)."""
    state_root: bytes
    """State root after applying the transactions, reward and fees (``State.root``)."""
    target: int
    """Proof-of-work target: the header hash, read as a number, must be at most this."""
    proposer: Address
    """Who produced the block; receives the block reward and the fees."""
    seal: bytes = b""
    """Consensus evidence beyond proof of work: an authority's signature, commit votes."""
    nonce: int = 0
    """The number a miner varies until the hash meets ``target`` (8 bytes, last in the encoding)."""

    def fields_before_nonce(self) -> list[Any]:
        """Every field but the nonce, in canonical order."""
        return [
            self.parent,
            self.height,
            self.timestamp,
            self.transactions_root,
            self.state_root,
            self.target,
            self.proposer,
            self.seal,
        ]

    def to_canonical(self) -> list[Any]:
        """Plain fields for canonical encoding; the nonce is fixed-width bytes, last."""
        return [*self.fields_before_nonce(), self.nonce.to_bytes(NONCE_SIZE, "big")]

    @cached_property
    def encoded(self) -> bytes:
        """Canonical bytes of the header."""
        return encode(self.to_canonical())

    @cached_property
    def hash(self) -> bytes:
        """The block hash: ``tagged_hash(HEADER_TAG, encoded)``."""
        return hashlib.sha256(_HEADER_PREFIX + self.encoded).digest()

    @property
    def seal_message(self) -> bytes:
        """What an authority signs to seal this header: every field except seal and nonce."""
        fields = self.fields_before_nonce()
        fields[-1] = b""
        return HEADER_TAG + b"/seal\x00" + encode(fields)

    @classmethod
    def from_canonical(cls, value: Any) -> Header:
        """Rebuild from ``to_canonical()`` output; raise ``InvalidBlock`` when malformed."""
        if not isinstance(value, list) or len(value) != 9:
            raise InvalidBlock("malformed-header", "a header is a list of 9 fields")
        parent, height, timestamp, tx_root, state_root, target, proposer, seal, nonce = value
        if not isinstance(nonce, bytes) or len(nonce) != NONCE_SIZE:
            raise InvalidBlock("malformed-header", "the nonce is 8 bytes")
        if not isinstance(proposer, bytes) or len(proposer) != ADDRESS_SIZE:
            raise InvalidBlock("malformed-header", "the proposer is a 20-byte address")
        header = cls(
            parent,
            height,
            timestamp,
            tx_root,
            state_root,
            target,
            Address(proposer),
            seal,
            int.from_bytes(nonce, "big"),
        )
        check_header_fields(header)
        return header

    def __repr__(self) -> str:
        return (
            f"Header(height={self.height}, hash={self.hash.hex()[:12]}…, "
            f"parent={self.parent.hex()[:12]}…, time={self.timestamp}, nonce={self.nonce})"
        )


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def check_header_fields(header: Header) -> None:
    """Types and ranges of every header field; raise ``InvalidBlock("malformed-header")``."""

    def bad(message: str) -> InvalidBlock:
        return InvalidBlock("malformed-header", message)

    if not isinstance(header, Header):
        raise bad(f"expected a Header, got {type(header).__name__}")
    for name in ("parent", "transactions_root", "state_root"):
        value = getattr(header, name)
        if not isinstance(value, bytes) or len(value) != HASH_SIZE:
            raise bad(f"{name} must be a {HASH_SIZE}-byte hash")
    for name in ("height", "timestamp", "nonce"):
        value = getattr(header, name)
        if not _is_int(value) or not 0 <= value <= MAX_NONCE:
            raise bad(f"{name} must be an int from 0 to 2**64 - 1, not {value!r}")
    if not _is_int(header.target) or not 0 < header.target <= MAX_TARGET:
        raise bad("target must be an int from 1 to 2**256 - 1")
    if not isinstance(header.proposer, Address):
        raise bad("proposer must be an Address")
    if not isinstance(header.seal, bytes) or len(header.seal) > 4096:
        raise bad("seal must be at most 4096 bytes")


def transactions_root(transactions: Sequence[Transaction]) -> bytes:
    """Merkle root over the transactions' hashes, in block order."""
    return merkle_root_of_hashes([hash_leaf(tx.hash) for tx in transactions])


@dataclass(frozen=True)
class Block:
    """A header and the transactions it commits to."""

    header: Header
    transactions: tuple[Transaction, ...] = field(default=())

    @property
    def hash(self) -> bytes:
        """The block's identity: its header's hash."""
        return self.header.hash

    @property
    def height(self) -> int:
        """Shortcut for ``header.height``."""
        return self.header.height

    @property
    def parent(self) -> bytes:
        """Shortcut for ``header.parent``."""
        return self.header.parent

    @property
    def timestamp(self) -> int:
        """Shortcut for ``header.timestamp``."""
        return self.header.timestamp

    def to_canonical(self) -> list[Any]:
        """Plain fields for canonical encoding: ``[header, [tx, ...]]``."""
        return [self.header, list(self.transactions)]

    @cached_property
    def encoded(self) -> bytes:
        """Canonical bytes of the whole block."""
        return encode(self.to_canonical())

    @classmethod
    def decode(cls, data: bytes) -> Block:
        """Parse canonical bytes; raise ``InvalidBlock`` (``malformed-block`` or ``-header``)."""
        try:
            value = decode(data)
            if not isinstance(value, list) or len(value) != 2 or not isinstance(value[1], list):
                raise InvalidBlock("malformed-block", "a block is [header, [transactions]]")
            header = Header.from_canonical(value[0])
            transactions = tuple(Transaction.from_canonical(tx) for tx in value[1])
        except (EncodingError, InvalidTransaction) as exc:
            raise InvalidBlock("malformed-block", str(exc)) from exc
        return cls(header, transactions)

    def __repr__(self) -> str:
        return (
            f"Block(height={self.height}, hash={self.hash.hex()[:12]}…, "
            f"{len(self.transactions)} transactions)"
        )


class HeaderTemplate:
    """A header with everything fixed but the nonce, hashed fast for mining.

    SHA-256 processes input in 64-byte chunks from left to right, so the state after the fixed
    prefix is computed once and copied for each nonce; only the last chunk is hashed per attempt.
    """

    def __init__(self, header: Header) -> None:
        self.header = header
        encoded = header.encoded
        self._midstate = hashlib.sha256(_HEADER_PREFIX + encoded[:-NONCE_SIZE])

    def hash_with(self, nonce: int) -> bytes:
        """The header hash if the nonce were ``nonce``."""
        h = self._midstate.copy()
        h.update(nonce.to_bytes(NONCE_SIZE, "big"))
        return h.digest()

    def with_nonce(self, nonce: int) -> Header:
        """The full header with ``nonce`` filled in."""
        return replace(self.header, nonce=nonce)


GENESIS_PARENT = ZERO_HASH
