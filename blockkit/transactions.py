"""Signed transactions in the account model: "move ``value`` from me to ``recipient``, and here is
my ``fee`` for whoever includes this in a block".

A transaction names its sender by carrying the sender's public key; the sender's address is the
address of that key, and the signature over every other field proves the key's owner agreed to
exactly these fields. Two fields stop replays:

* ``chain_id`` is signed, so a transaction made for a test network is invalid on the main one;
* ``nonce`` must equal the number of transactions the sender has already had included, so the
  same signed transaction cannot be applied twice, and a sender's transactions apply in order.

This module checks what can be checked without the chain's state (*stateless* validity): field
types and ranges, the chain id, the data size and the signature. Whether the nonce is next and the
balance suffices is the state's business (``blockkit.state``).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import cached_property
from typing import TYPE_CHECKING, Any

from blockkit.encoding import decode, encode
from blockkit.errors import (
    ForgedTransaction,
    InvalidKey,
    InvalidTransaction,
    WrongChain,
)
from blockkit.hashing import tagged_hash
from blockkit.keys import ADDRESS_SIZE, Address, PrivateKey, PublicKey

if TYPE_CHECKING:
    from blockkit.params import Params

__all__ = [
    "MAX_AMOUNT",
    "MAX_NONCE",
    "Transaction",
    "sign_transaction",
    "validate_transaction",
]

#: Amounts (value, fee) fit in 128 bits; nonces in 64 bits.
MAX_AMOUNT = 2**128 - 1
MAX_NONCE = 2**64 - 1

SIGNING_DOMAIN = b"blockkit/transaction/v1"
HASH_TAG = b"blockkit/tx"


@dataclass(frozen=True)
class Transaction:
    """A signed transfer. Build one with ``sign_transaction``; never edit one (it is frozen)."""

    chain_id: int
    """Which chain this transaction is for; must equal the chain's ``Params.chain_id``."""
    nonce: int
    """The sender's transaction count before this one: 0 for a sender's first transaction."""
    recipient: Address
    """Address that receives ``value``."""
    value: int
    """Amount moved from sender to recipient."""
    fee: int
    """Amount paid to the block's proposer for including the transaction."""
    data: bytes
    """Free-form payload (a memo now; contract calls in later lessons)."""
    public_key: PublicKey
    """The sender's public key; the sender's address is derived from it."""
    signature: bytes
    """The sender's signature over ``signing_message``."""

    @property
    def sender(self) -> Address:
        """Address of the sender: the address of ``public_key``."""
        return self.public_key.address

    def unsigned_fields(self) -> list[Any]:
        """Every field the signature covers, in canonical order."""
        return [
            self.chain_id,
            self.nonce,
            self.recipient,
            self.value,
            self.fee,
            self.data,
            self.public_key,
        ]

    @cached_property
    def _unsigned_items(self) -> bytes:
        # The encoded unsigned fields, shared by the signing message and the full encoding so
        # that validating a block encodes each field once (see bench/ validate_ratio).
        return b"".join(encode(item) for item in self.unsigned_fields())

    @cached_property
    def signing_message(self) -> bytes:
        """The exact bytes the sender signs: a domain tag, then the canonical unsigned fields.

        Equal to ``SIGNING_DOMAIN + b"\\x00" + encode(self.unsigned_fields())``.
        """
        return SIGNING_DOMAIN + b"\x00" + _list_prefix(7) + self._unsigned_items

    def to_canonical(self) -> list[Any]:
        """Plain fields for canonical encoding: the unsigned fields, then the signature."""
        return [*self.unsigned_fields(), self.signature]

    @cached_property
    def encoded(self) -> bytes:
        """Canonical bytes of the whole signed transaction: ``encode(self.to_canonical())``."""
        return _list_prefix(8) + self._unsigned_items + encode(self.signature)

    @cached_property
    def hash(self) -> bytes:
        """Transaction id: tagged SHA-256 of the canonical bytes, signature included."""
        return tagged_hash(HASH_TAG, self.encoded)

    @property
    def total_cost(self) -> int:
        """What the sender's balance must cover: ``value + fee``."""
        return self.value + self.fee

    @classmethod
    def from_canonical(cls, value: Any) -> Transaction:
        """Rebuild from ``to_canonical()`` output; raise ``InvalidTransaction`` when malformed."""
        if not isinstance(value, list) or len(value) != 8:
            raise InvalidTransaction("a transaction is a list of 8 fields")
        chain_id, nonce, recipient, amount, fee, data, public_key, signature = value
        if not isinstance(recipient, bytes) or len(recipient) != ADDRESS_SIZE:
            raise InvalidTransaction(f"recipient must be a {ADDRESS_SIZE}-byte address")
        try:
            key = PublicKey.from_canonical(public_key)
        except InvalidKey as exc:
            raise InvalidTransaction(f"bad sender public key: {exc}") from exc
        tx = cls(chain_id, nonce, Address(recipient), amount, fee, data, key, signature)
        _check_fields(tx)
        return tx

    @classmethod
    def decode(cls, data: bytes) -> Transaction:
        """Parse canonical bytes; raise ``EncodingError`` or ``InvalidTransaction`` when bad."""
        return cls.from_canonical(decode(data))

    def __repr__(self) -> str:
        return (
            f"Transaction({self.sender.short} -> {self.recipient.short}, value={self.value}, "
            f"fee={self.fee}, nonce={self.nonce}, hash={self.hash.hex()[:12]}…)"
        )


def _list_prefix(count: int) -> bytes:
    """The canonical header of a list of ``count`` items (see ``blockkit.encoding``)."""
    return b"\x07" + count.to_bytes(4, "big")


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _check_fields(tx: Transaction) -> None:
    """Types and ranges of every field; raise ``InvalidTransaction`` naming the first bad one."""
    for name, limit in (("chain_id", MAX_NONCE), ("nonce", MAX_NONCE)):
        value = getattr(tx, name)
        if not _is_int(value) or not 0 <= value <= limit:
            raise InvalidTransaction(f"{name} must be an int from 0 to {limit}, not {value!r}")
    for name in ("value", "fee"):
        value = getattr(tx, name)
        if not _is_int(value) or not 0 <= value <= MAX_AMOUNT:
            raise InvalidTransaction(f"{name} must be an int from 0 to 2**128 - 1, not {value!r}")
    if not isinstance(tx.recipient, Address):
        raise InvalidTransaction("recipient must be an Address (20 bytes)")
    if not isinstance(tx.data, bytes):
        raise InvalidTransaction("data must be bytes")
    if not isinstance(tx.public_key, PublicKey):
        raise InvalidTransaction("public_key must be a PublicKey")
    if not isinstance(tx.signature, bytes):
        raise InvalidTransaction("signature must be bytes")


def sign_transaction(
    key: PrivateKey,
    recipient: Address | bytes | str,
    value: int,
    *,
    nonce: int,
    chain_id: int,
    fee: int = 0,
    data: bytes = b"",
) -> Transaction:
    """Make and sign a transaction from ``key``'s address.

    >>> from blockkit.keys import PrivateKey
    >>> alice, bob = PrivateKey.from_seed("alice"), PrivateKey.from_seed("bob")
    >>> tx = sign_transaction(alice, bob.address, 10, nonce=0, chain_id=1337, fee=1)
    >>> tx.sender == alice.address
    True
    """
    tx = Transaction(
        chain_id=chain_id,
        nonce=nonce,
        recipient=recipient if isinstance(recipient, Address) else Address(recipient),
        value=value,
        fee=fee,
        data=data,
        public_key=key.public_key,
        signature=b"",
    )
    _check_fields(tx)
    signature = key.sign(tx.signing_message)
    return replace(tx, signature=signature)


def validate_transaction(tx: Transaction, params: Params, *, check_signature: bool = True) -> None:
    """Stateless validity: fields, chain id, data size, signature. Return nothing or raise.

    Raises ``InvalidTransaction`` (or its subclasses ``WrongChain`` and ``ForgedTransaction``)
    with a message that names the broken rule.
    """
    if not isinstance(tx, Transaction):
        raise InvalidTransaction(f"expected a Transaction, got {type(tx).__name__}")
    _check_fields(tx)
    if tx.chain_id != params.chain_id:
        raise WrongChain(
            f"transaction is for chain {tx.chain_id}, this chain is {params.chain_id}; "
            "sign it again with this chain's id"
        )
    if len(tx.data) > params.max_transaction_data:
        raise InvalidTransaction(
            f"data is {len(tx.data)} bytes, the limit is {params.max_transaction_data}"
        )
    if check_signature and not tx.public_key.is_valid_signature(tx.signature, tx.signing_message):
        raise ForgedTransaction(
            f"signature of transaction {tx.hash.hex()[:12]}… does not verify for sender "
            f"{tx.sender.short}: the transaction was altered after signing or signed by another key"
        )
