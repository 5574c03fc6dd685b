"""World state: every account's balance and nonce, contracts' code and storage, one root hash
over all of them, and proofs.

Blocks do not store balances; they store transactions. The state is what you get by applying every
transaction from genesis on, and its *state root* (a Merkle root over all accounts, sorted by
address) goes into each block header. Two nodes that applied the same blocks hold the same root;
a node that computed a different root rejects the block. A light client holding only a header can
check one account's balance against the root with an ``AccountProof``, and one storage slot of a
contract with a ``StorageProof``.

A *contract* is an account with a ``code_hash``: the hash of its source, which the state keeps by
that hash. Each contract has its own storage, a map from slots (canonical bytes) to values, and
its own *storage root* (a Merkle root over its slots sorted by key). A contract's leaf in the state
tree commits to that storage root, so the state root covers every slot of every contract, and a
plain account's leaf is exactly what it was before contracts existed (``[address, balance,
nonce]``): chains without contracts keep their roots.

Every change is journalled, storage writes included, so a failed transaction or block is undone
exactly, and a block's undo record lets the chain roll the state back during a reorganisation.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from blockkit.encoding import decode, encode
from blockkit.errors import InsufficientFunds, NonceMismatch
from blockkit.hashing import HASH_SIZE
from blockkit.keys import Address
from blockkit.merkle import (
    EMPTY_ROOT,
    MerkleProof,
    MerkleTree,
    hash_leaf,
    merkle_root_of_hashes,
    root_from_proof,
)
from blockkit.transactions import MAX_AMOUNT, Transaction

__all__ = [
    "EMPTY_ACCOUNT",
    "Account",
    "AccountProof",
    "State",
    "StorageProof",
    "UndoRecord",
    "verify_account",
    "verify_storage",
]


@dataclass(frozen=True)
class Account:
    """One account's entry in the state: a balance, a nonce, and for a contract its code hash."""

    balance: int = 0
    """Coins the account holds."""
    nonce: int = 0
    """How many transactions the account has sent; its next transaction must carry this nonce."""
    code_hash: bytes = b""
    """Hash of the contract's source (``Program.code_hash``); empty for a plain account."""

    @property
    def is_contract(self) -> bool:
        """True when the account holds contract code."""
        return bool(self.code_hash)

    def __repr__(self) -> str:
        # plain accounts print as before contracts existed; a contract shows its code hash
        code = f", code_hash={self.code_hash.hex()[:16]}…" if self.code_hash else ""
        return f"Account(balance={self.balance}, nonce={self.nonce}{code})"

    def leaf(self, address: bytes, storage_root: bytes = EMPTY_ROOT) -> bytes:
        """The Merkle leaf for this account.

        A plain account: canonical ``[address, balance, nonce]``. A contract: canonical
        ``[address, balance, nonce, code_hash, storage_root]``, so the state root commits to the
        contract's code and to every slot of its storage.
        """
        if not self.code_hash:
            return encode([address, self.balance, self.nonce])
        return encode([address, self.balance, self.nonce, self.code_hash, storage_root])


EMPTY_ACCOUNT = Account()

#: Undo data of one block: (key, value before) pairs in the order they were changed. An account
#: change has a 20-byte address as key and the old ``Account`` (``None``: it did not exist); a
#: storage write has ``(address, slot)`` as key and the slot's old canonical bytes (``None``:
#: empty).
UndoRecord = tuple[tuple[Any, Any], ...]


@dataclass(frozen=True)
class AccountProof:
    """Evidence that ``address`` holds ``account`` in the state with a given root."""

    address: Address
    account: Account
    proof: MerkleProof
    storage_root: bytes = EMPTY_ROOT
    """The contract's storage root (part of a contract's leaf; ignored for a plain account)."""

    def verify(self, state_root: bytes) -> bool:
        """True when this proof shows the account under ``state_root``."""
        return verify_account(state_root, self)


def verify_account(state_root: bytes, proof: AccountProof) -> bool:
    """True when ``proof.account`` is what ``proof.address`` holds under ``state_root``."""
    leaf = hash_leaf(proof.account.leaf(bytes(proof.address), proof.storage_root))
    return root_from_proof(leaf, proof.proof) == state_root


def _slot_leaf(slot: bytes, value: bytes) -> bytes:
    """The Merkle leaf of one storage slot: canonical ``[slot, canonical value bytes]``."""
    return encode([slot, value])


@dataclass(frozen=True)
class StorageProof:
    """Evidence that slot ``slot`` of ``contract`` holds ``value`` under a state root.

    Two steps, like Ethereum's: the slot is in the contract's storage tree (``proof``, up to
    ``account_proof.storage_root``), and that contract account is in the state tree.
    """

    contract: Address
    slot: bytes
    value: Any
    proof: MerkleProof
    account_proof: AccountProof

    def verify(self, state_root: bytes) -> bool:
        """True when this proof shows the slot's value under ``state_root``."""
        return verify_storage(state_root, self)


def verify_storage(state_root: bytes, proof: StorageProof) -> bool:
    """True when ``proof.value`` is what ``proof.slot`` of ``proof.contract`` holds."""
    account = proof.account_proof
    if account.address != proof.contract or not account.account.is_contract:
        return False
    leaf = hash_leaf(_slot_leaf(proof.slot, encode(proof.value)))
    return root_from_proof(leaf, proof.proof) == account.storage_root and verify_account(
        state_root, account
    )


class State:
    """Accounts by address, contract storage and code, a journal of changes and a cached root.

    Accounts equal to ``EMPTY_ACCOUNT`` are not stored: sending nothing to a fresh address does not
    change the root, and the root depends only on the accounts' contents.
    """

    def __init__(self, balances: dict[bytes, int] | None = None) -> None:
        self._accounts: dict[bytes, Account] = {}
        self._leaves: dict[bytes, bytes] = {}  # address -> leaf hash, kept in step with _accounts
        self._storage: dict[bytes, dict[bytes, bytes]] = {}  # contract -> slot -> value bytes
        self._storage_roots: dict[bytes, bytes] = {}  # cache, dropped on each write
        self._dirty: set[bytes] = set()  # contracts whose leaf must be recomputed
        self._code: dict[bytes, str] = {}  # code hash -> source (content-addressed, never removed)
        self._journal: list[tuple[Any, Any]] = []
        self._root: bytes | None = None
        for address, balance in (balances or {}).items():
            if not isinstance(balance, int) or not 0 <= balance <= MAX_AMOUNT:
                raise ValueError(f"genesis balance of {Address(address)} must be 0..2**128-1")
            self.set_account(Address(address), Account(balance=balance))
        self._journal.clear()

    # --- reading ------------------------------------------------------------------------------

    def account(self, address: bytes) -> Account:
        """The account at ``address`` (``EMPTY_ACCOUNT`` if it never received anything)."""
        return self._accounts.get(address, EMPTY_ACCOUNT)

    def balance(self, address: bytes) -> int:
        """Balance of ``address``."""
        return self.account(address).balance

    def nonce(self, address: bytes) -> int:
        """Next nonce ``address`` must use."""
        return self.account(address).nonce

    def __contains__(self, address: object) -> bool:
        return address in self._accounts

    def __len__(self) -> int:
        return len(self._accounts)

    def items(self) -> Iterator[tuple[Address, Account]]:
        """(address, account) pairs sorted by address."""
        for address in sorted(self._accounts):
            yield Address(address), self._accounts[address]

    def total_supply(self) -> int:
        """Sum of all balances: changes only by block rewards."""
        return sum(account.balance for account in self._accounts.values())

    # --- contracts: code and storage ----------------------------------------------------------

    def is_contract(self, address: bytes) -> bool:
        """True when ``address`` holds contract code."""
        return self.account(address).is_contract

    def code(self, address: bytes) -> str:
        """The source of the contract at ``address``; raises KeyError for a plain account."""
        code_hash = self.account(address).code_hash
        if not code_hash:
            raise KeyError(f"{Address(address)} is not a contract (it has no code)")
        return self._code[code_hash]

    def source(self, code_hash: bytes) -> str:
        """The source stored under ``code_hash``; raises KeyError if none was ever installed."""
        return self._code[code_hash]

    def storage_get(self, address: bytes, slot: bytes) -> Any:
        """The value in ``slot`` of the contract at ``address`` (a fresh copy), or None."""
        stored = self._storage.get(bytes(address), {}).get(slot)
        return None if stored is None else decode(stored)

    def storage(self, address: bytes) -> dict[bytes, Any]:
        """Every non-empty slot of the contract at ``address``, sorted by slot."""
        slots = self._storage.get(bytes(address), {})
        return {slot: decode(slots[slot]) for slot in sorted(slots)}

    def storage_root(self, address: bytes) -> bytes:
        """Merkle root over the contract's slots sorted by key (``EMPTY_ROOT`` when empty)."""
        key = bytes(address)
        root = self._storage_roots.get(key)
        if root is None:
            slots = self._storage.get(key, {})
            leaves = [hash_leaf(_slot_leaf(slot, slots[slot])) for slot in sorted(slots)]
            root = self._storage_roots[key] = merkle_root_of_hashes(leaves)
        return root

    def install_code(self, address: bytes, code_hash: bytes, source: str) -> None:
        """Make ``address`` a contract running ``source`` (whose hash the caller computed).

        The account keeps its balance (coins may have been sent to the address before the deploy)
        and must not hold code yet. The source is kept under ``code_hash``.
        """
        key = bytes(address)
        account = self.account(key)
        if account.code_hash:
            raise ValueError(f"{Address(key)} already holds a contract; addresses are not reused")
        if not isinstance(code_hash, bytes) or len(code_hash) != HASH_SIZE:
            raise ValueError(f"a code hash is {HASH_SIZE} bytes")
        self._code.setdefault(code_hash, source)
        self.set_account(key, Account(account.balance, account.nonce, code_hash))

    def storage_set(self, address: bytes, slot: bytes, value: Any) -> None:
        """Write a contract value to ``slot`` of the contract at ``address`` (None empties it).

        Raises ``ValueError`` for an address without code: storage outside a contract would not
        be covered by the state root. Raises ``EncodingError`` for a value that is not a contract
        value.
        """
        key = bytes(address)
        if not self.account(key).code_hash:
            raise ValueError(f"{Address(key)} is not a contract: only contracts have storage")
        if not isinstance(slot, bytes):
            raise TypeError("a storage slot is canonical bytes")
        new = None if value is None else encode(value)
        old = self._storage.get(key, {}).get(slot)
        if new == old:
            return
        self._journal.append(((key, slot), old))
        self._store_slot(key, slot, new)

    def _store_slot(self, key: bytes, slot: bytes, value: bytes | None) -> None:
        self._root = None
        self._storage_roots.pop(key, None)
        self._dirty.add(key)
        if value is None:
            slots = self._storage.get(key)
            if slots is not None:
                slots.pop(slot, None)
                if not slots:
                    del self._storage[key]
        else:
            self._storage.setdefault(key, {})[slot] = value

    # --- the state root and proofs ------------------------------------------------------------

    def root(self) -> bytes:
        """Merkle root over all accounts sorted by address (cached until the next change)."""
        if self._dirty:
            for key in self._dirty:
                account = self._accounts.get(key)
                if account is not None:
                    self._leaves[key] = hash_leaf(account.leaf(key, self.storage_root(key)))
            self._dirty.clear()
        if self._root is None:
            leaves = self._leaves
            self._root = merkle_root_of_hashes([leaves[a] for a in sorted(leaves)])
        return self._root

    def prove(self, address: bytes) -> AccountProof:
        """A proof of ``address``'s account under ``root()``; raises KeyError if it has none."""
        if address not in self._accounts:
            raise KeyError(f"{Address(address)} has no account in this state")
        self.root()
        order = sorted(self._leaves)
        tree = MerkleTree.from_hashes([self._leaves[a] for a in order])
        proof = tree.proof(order.index(address))
        account = self._accounts[address]
        storage_root = self.storage_root(address) if account.code_hash else EMPTY_ROOT
        return AccountProof(Address(address), account, proof, storage_root)

    def prove_storage(self, address: bytes, slot: bytes) -> StorageProof:
        """A proof of one storage slot under ``root()``; raises KeyError for an empty slot."""
        key = bytes(address)
        slots = self._storage.get(key, {})
        if slot not in slots:
            raise KeyError(f"slot {slot.hex()} of {Address(key)} is empty: nothing to prove")
        order = sorted(slots)
        tree = MerkleTree.from_hashes([hash_leaf(_slot_leaf(s, slots[s])) for s in order])
        return StorageProof(
            Address(key), slot, decode(slots[slot]), tree.proof(order.index(slot)), self.prove(key)
        )

    # --- writing, with a journal --------------------------------------------------------------

    def set_account(self, address: bytes, account: Account) -> None:
        """Replace ``address``'s account, recording the old one in the journal."""
        key = bytes(address)
        self._journal.append((key, self._accounts.get(key)))
        self._store(key, account)

    def _store(self, key: bytes, account: Account | None) -> None:
        self._root = None
        if account is None or account == EMPTY_ACCOUNT:
            self._accounts.pop(key, None)
            self._leaves.pop(key, None)
            self._dirty.discard(key)
        elif account.code_hash:
            self._accounts[key] = account
            self._dirty.add(key)  # the leaf needs the storage root: computed by root()
        else:
            self._accounts[key] = account
            self._leaves[key] = hash_leaf(account.leaf(key))

    def credit(self, address: bytes, amount: int) -> None:
        """Add ``amount`` to ``address``'s balance (block rewards and fees)."""
        account = self.account(address)
        self.set_account(
            address, Account(account.balance + amount, account.nonce, account.code_hash)
        )

    def debit(self, address: bytes, amount: int) -> None:
        """Take ``amount`` from ``address``'s balance; raises ``InsufficientFunds`` if too few."""
        account = self.account(address)
        if account.balance < amount:
            raise InsufficientFunds(
                f"{Address(address).short} has {account.balance}, cannot pay {amount}"
            )
        self.set_account(
            address, Account(account.balance - amount, account.nonce, account.code_hash)
        )

    def apply_transaction(self, tx: Transaction) -> None:
        """Apply a statelessly valid transaction as a plain transfer: check nonce and funds, then
        move the coins (contract transactions go through ``blockkit.execution``).

        Raises ``NonceMismatch`` or ``InsufficientFunds`` and changes nothing when a check fails.
        The fee is taken from the sender here; the block credits it to its proposer.
        """
        self.take_nonce_and_fee(tx, tx.total_cost)
        recipient = self.account(tx.recipient)
        self.set_account(
            tx.recipient,
            Account(recipient.balance + tx.value, recipient.nonce, recipient.code_hash),
        )

    def take_nonce_and_fee(self, tx: Transaction, amount: int) -> None:
        """Check ``tx``'s nonce and that the sender holds ``tx.total_cost``; then take ``amount``
        from the sender and count the nonce as used. Changes nothing when a check fails."""
        sender = tx.sender
        account = self.account(sender)
        if tx.nonce != account.nonce:
            hint = "already used (replay?)" if tx.nonce < account.nonce else "skips ahead (gap)"
            raise NonceMismatch(
                f"nonce {tx.nonce} from {sender.short} is {hint}; the next nonce is {account.nonce}"
            )
        if account.balance < tx.total_cost:
            raise InsufficientFunds(
                f"{sender.short} has {account.balance}, needs {tx.total_cost} "
                f"(value {tx.value} + fee {tx.fee})"
            )
        self.set_account(
            sender, Account(account.balance - amount, account.nonce + 1, account.code_hash)
        )

    # --- checkpoints and undo -----------------------------------------------------------------

    def checkpoint(self) -> int:
        """A mark in the journal to ``revert`` to or take ``changes_since``."""
        return len(self._journal)

    def revert(self, checkpoint: int) -> None:
        """Undo every change made after ``checkpoint``, storage writes included."""
        journal = self._journal
        while len(journal) > checkpoint:
            key, old = journal.pop()
            self._restore(key, old)

    def _restore(self, key: Any, old: Any) -> None:
        if key.__class__ is tuple:
            self._store_slot(key[0], key[1], old)
        else:
            self._store(key, old)

    def changes_since(self, checkpoint: int) -> UndoRecord:
        """The journal entries after ``checkpoint`` (a block's undo record), then forget them."""
        record = tuple(self._journal[checkpoint:])
        del self._journal[checkpoint:]
        return record

    def undo(self, record: UndoRecord) -> None:
        """Roll back one block's changes from its undo record (newest change first)."""
        for key, old in reversed(record):
            self._restore(key, old)

    def copy(self) -> State:
        """An independent copy with an empty journal."""
        self.root()  # settle dirty leaves, so the twin starts from a clean cache
        twin = State()
        twin._accounts = dict(self._accounts)
        twin._leaves = dict(self._leaves)
        twin._storage = {key: dict(slots) for key, slots in self._storage.items()}
        twin._storage_roots = dict(self._storage_roots)
        twin._code = dict(self._code)
        twin._root = self._root
        return twin

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, State)
            and self._accounts == other._accounts
            and self._storage == other._storage
        )

    __hash__ = None  # type: ignore[assignment]  # mutable

    def __repr__(self) -> str:
        contracts = sum(1 for account in self._accounts.values() if account.code_hash)
        extra = f", {contracts} contracts" if contracts else ""
        return f"State({len(self._accounts)} accounts{extra}, root={self.root().hex()[:16]}…)"
