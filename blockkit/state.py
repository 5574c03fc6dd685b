"""World state: every account's balance and nonce, one root hash over all of them, and proofs.

Blocks do not store balances; they store transactions. The state is what you get by applying every
transaction from genesis on, and its *state root* (a Merkle root over all accounts, sorted by
address) goes into each block header. Two nodes that applied the same blocks hold the same root;
a node that computed a different root rejects the block. A light client holding only a header can
check one account's balance against the root with an ``AccountProof``.

Every change is journalled, so a failed transaction or block is undone exactly, and a block's undo
record lets the chain roll the state back during a reorganisation.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from blockkit.encoding import encode
from blockkit.errors import InsufficientFunds, NonceMismatch
from blockkit.keys import Address
from blockkit.merkle import (
    MerkleProof,
    MerkleTree,
    hash_leaf,
    merkle_root_of_hashes,
    root_from_proof,
)
from blockkit.transactions import MAX_AMOUNT, Transaction

__all__ = ["EMPTY_ACCOUNT", "Account", "AccountProof", "State", "UndoRecord", "verify_account"]


@dataclass(frozen=True)
class Account:
    """One account's entry in the state. Contract code and storage will join these fields."""

    balance: int = 0
    """Coins the account holds."""
    nonce: int = 0
    """How many transactions the account has sent; its next transaction must carry this nonce."""

    def leaf(self, address: bytes) -> bytes:
        """The Merkle leaf for this account: canonical ``[address, balance, nonce]``."""
        return encode([address, self.balance, self.nonce])


EMPTY_ACCOUNT = Account()

#: Undo data of one block: (address, account before) pairs in the order they were changed;
#: ``None`` means the account did not exist.
UndoRecord = tuple[tuple[bytes, "Account | None"], ...]


@dataclass(frozen=True)
class AccountProof:
    """Evidence that ``address`` holds ``account`` in the state with a given root."""

    address: Address
    account: Account
    proof: MerkleProof

    def verify(self, state_root: bytes) -> bool:
        """True when this proof shows the account under ``state_root``."""
        return verify_account(state_root, self)


def verify_account(state_root: bytes, proof: AccountProof) -> bool:
    """True when ``proof.account`` is what ``proof.address`` holds under ``state_root``."""
    leaf = hash_leaf(proof.account.leaf(bytes(proof.address)))
    return root_from_proof(leaf, proof.proof) == state_root


class State:
    """Accounts by address, with a journal of changes and a cached state root.

    Accounts equal to ``EMPTY_ACCOUNT`` are not stored: sending nothing to a fresh address does not
    change the root, and the root depends only on the accounts' contents.
    """

    def __init__(self, balances: dict[bytes, int] | None = None) -> None:
        self._accounts: dict[bytes, Account] = {}
        self._leaves: dict[bytes, bytes] = {}  # address -> leaf hash, kept in step with _accounts
        self._journal: list[tuple[bytes, Account | None]] = []
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

    # --- the state root and proofs ------------------------------------------------------------

    def root(self) -> bytes:
        """Merkle root over all accounts sorted by address (cached until the next change)."""
        if self._root is None:
            leaves = self._leaves
            self._root = merkle_root_of_hashes([leaves[a] for a in sorted(leaves)])
        return self._root

    def prove(self, address: bytes) -> AccountProof:
        """A proof of ``address``'s account under ``root()``; raises KeyError if it has none."""
        if address not in self._accounts:
            raise KeyError(f"{Address(address)} has no account in this state")
        order = sorted(self._leaves)
        tree = MerkleTree.from_hashes([self._leaves[a] for a in order])
        proof = tree.proof(order.index(address))
        return AccountProof(Address(address), self._accounts[address], proof)

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
        else:
            self._accounts[key] = account
            self._leaves[key] = hash_leaf(account.leaf(key))

    def credit(self, address: bytes, amount: int) -> None:
        """Add ``amount`` to ``address``'s balance (block rewards and fees)."""
        account = self.account(address)
        self.set_account(address, Account(account.balance + amount, account.nonce))

    def apply_transaction(self, tx: Transaction) -> None:
        """Apply a statelessly valid transaction: check nonce and funds, then move the coins.

        Raises ``NonceMismatch`` or ``InsufficientFunds`` and changes nothing when a check fails.
        The fee is taken from the sender here; the block credits it to its proposer.
        """
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
        self.set_account(sender, Account(account.balance - tx.total_cost, account.nonce + 1))
        recipient = self.account(tx.recipient)
        self.set_account(tx.recipient, Account(recipient.balance + tx.value, recipient.nonce))

    # --- checkpoints and undo -----------------------------------------------------------------

    def checkpoint(self) -> int:
        """A mark in the journal to ``revert`` to or take ``changes_since``."""
        return len(self._journal)

    def revert(self, checkpoint: int) -> None:
        """Undo every change made after ``checkpoint``."""
        journal = self._journal
        while len(journal) > checkpoint:
            key, old = journal.pop()
            self._store(key, old)

    def changes_since(self, checkpoint: int) -> UndoRecord:
        """The journal entries after ``checkpoint`` (a block's undo record), then forget them."""
        record = tuple(self._journal[checkpoint:])
        del self._journal[checkpoint:]
        return record

    def undo(self, record: UndoRecord) -> None:
        """Roll back one block's changes from its undo record (newest change first)."""
        for key, old in reversed(record):
            self._store(key, old)

    def copy(self) -> State:
        """An independent copy with an empty journal."""
        twin = State()
        twin._accounts = dict(self._accounts)
        twin._leaves = dict(self._leaves)
        twin._root = self._root
        return twin

    def __eq__(self, other: object) -> bool:
        return isinstance(other, State) and self._accounts == other._accounts

    __hash__ = None  # type: ignore[assignment]  # mutable

    def __repr__(self) -> str:
        return f"State({len(self._accounts)} accounts, root={self.root().hex()[:16]}…)"
