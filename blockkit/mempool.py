"""The mempool: transactions waiting for a block, and the order a proposer picks them in.

A node keeps every valid transaction it hears about until one of its blocks (or someone else's)
includes it. Proposers are paid fees, so they pick the highest-paying transactions first, but a
sender's transactions must go in nonce order: nonce 5 cannot be included before nonce 4. A
transaction whose nonce skips ahead (a *nonce gap*) waits until the gap is filled.

The pool rejects, with a reason, what could never be included: statelessly invalid transactions,
replays (nonce already used), exact duplicates, senders who cannot pay for everything they have
queued. When full, it evicts the cheapest transaction that no other pending one depends on
(a sender's last queued nonce), and only for a transaction that pays more.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from blockkit.errors import (
    BlockkitError,
    DuplicateTransaction,
    InsufficientFunds,
    MempoolError,
    MempoolFull,
    NonceMismatch,
)
from blockkit.params import CLASSROOM, Params
from blockkit.state import State
from blockkit.transactions import Transaction, validate_transaction

if TYPE_CHECKING:
    import pandas as pd

    from blockkit.chain import AddResult

__all__ = ["Mempool"]


@dataclass(frozen=True)
class _Entry:
    tx: Transaction
    arrival: int


class Mempool:
    """Pending transactions by sender and nonce, with fee ordering, nonce gaps and eviction."""

    def __init__(
        self, params: Params = CLASSROOM, *, max_size: int = 10_000, max_nonce_gap: int = 64
    ) -> None:
        if max_size < 1:
            raise ValueError("max_size is at least 1")
        self.params = params
        self.max_size = max_size
        self.max_nonce_gap = max_nonce_gap
        self._by_hash: dict[bytes, _Entry] = {}
        self._by_sender: dict[bytes, dict[int, _Entry]] = {}
        self._arrivals = 0

    # --- adding ---------------------------------------------------------------------------------

    def add(self, tx: Transaction, state: State) -> None:
        """Accept ``tx`` for inclusion in a later block, or raise saying why not.

        ``state`` is the state at the node's best tip (``chain.state``): it tells the sender's next
        nonce and balance. Raises ``InvalidTransaction`` subclasses (bad fields, wrong chain,
        forged signature, nonce already used, funds too low), ``DuplicateTransaction``,
        ``MempoolFull``, or ``MempoolError`` (nonce gap too large, replacement fee too low).
        """
        if tx.hash in self._by_hash:
            raise DuplicateTransaction(f"transaction {tx.hash.hex()[:12]}… is already pending")
        validate_transaction(tx, self.params)
        sender = bytes(tx.sender)
        account = state.account(sender)
        if tx.nonce < account.nonce:
            raise NonceMismatch(
                f"nonce {tx.nonce} of {tx.sender.short} was already used (next is "
                f"{account.nonce}): the transaction is in the chain already, or a replay"
            )
        if tx.nonce > account.nonce + self.max_nonce_gap:
            raise MempoolError(
                f"nonce {tx.nonce} is more than {self.max_nonce_gap} ahead of {tx.sender.short}'s "
                f"next nonce {account.nonce}; send the missing nonces first"
            )
        queue = self._by_sender.get(sender, {})
        replaced = queue.get(tx.nonce)
        if replaced is not None and tx.fee <= replaced.tx.fee:
            raise MempoolError(
                f"{tx.sender.short} already has nonce {tx.nonce} pending with fee "
                f"{replaced.tx.fee}; a replacement must pay a higher fee"
            )
        committed = sum(e.tx.total_cost for e in queue.values() if e is not replaced)
        if account.balance < committed + tx.total_cost:
            raise InsufficientFunds(
                f"{tx.sender.short} has {account.balance}; its pending transactions already "
                f"spend {committed} and this one needs {tx.total_cost}"
            )
        if replaced is None and len(self._by_hash) >= self.max_size:
            self._evict_for(tx)
        if replaced is not None:
            self._remove(replaced.tx)
        self._insert(tx)

    def _insert(self, tx: Transaction) -> None:
        self._arrivals += 1
        entry = _Entry(tx, self._arrivals)
        self._by_hash[tx.hash] = entry
        self._by_sender.setdefault(bytes(tx.sender), {})[tx.nonce] = entry

    def _evict_for(self, tx: Transaction) -> None:
        """Drop the cheapest sender-last transaction if ``tx`` pays more; else ``MempoolFull``."""
        own = bytes(tx.sender)  # evicting the sender's own tail would open a gap before tx
        tails = [q[max(q)] for sender, q in self._by_sender.items() if sender != own]
        cheapest = min(tails, key=lambda e: (e.tx.fee, -e.arrival), default=None)
        if cheapest is None or cheapest.tx.fee >= tx.fee:
            raise MempoolFull(
                f"the pool holds {self.max_size} transactions and none that another sender "
                f"queued last pays less than {tx.fee}; raise the fee"
            )
        self._remove(cheapest.tx)

    def _remove(self, tx: Transaction) -> None:
        entry = self._by_hash.pop(tx.hash, None)
        if entry is None:
            return
        sender = bytes(tx.sender)
        queue = self._by_sender[sender]
        del queue[tx.nonce]
        if not queue:
            del self._by_sender[sender]

    # --- picking transactions for a block -------------------------------------------------------

    def select(self, state: State, max_count: int | None = None) -> list[Transaction]:
        """Transactions for the next block: highest fee first, each sender's in nonce order.

        Only transactions that apply in sequence to ``state`` are chosen: a sender's run stops at
        a nonce gap or when its balance runs out. Ties on fee go to the earlier arrival.
        """
        limit = self.params.max_block_transactions if max_count is None else max_count
        heap: list[tuple[int, int, bytes, int]] = []
        balances: dict[bytes, int] = {}
        for sender, queue in self._by_sender.items():
            account = state.account(sender)
            balances[sender] = account.balance
            entry = queue.get(account.nonce)
            if entry is not None:
                heap.append((-entry.tx.fee, entry.arrival, sender, account.nonce))
        heapq.heapify(heap)
        chosen: list[Transaction] = []
        while heap and len(chosen) < limit:
            _, _, sender, nonce = heapq.heappop(heap)
            tx = self._by_sender[sender][nonce].tx
            if balances[sender] < tx.total_cost:
                continue  # this sender cannot pay; its later nonces wait
            balances[sender] -= tx.total_cost
            chosen.append(tx)
            following = self._by_sender[sender].get(nonce + 1)
            if following is not None:
                heapq.heappush(heap, (-following.tx.fee, following.arrival, sender, nonce + 1))
        return chosen

    # --- keeping up with the chain --------------------------------------------------------------

    def remove(self, transactions: Iterable[Transaction]) -> None:
        """Forget these transactions (for example, because a block included them)."""
        for tx in transactions:
            self._remove(tx)

    def prune(self, state: State) -> int:
        """Drop transactions whose nonce the state has already used; return how many."""
        stale = [
            entry.tx
            for sender, queue in self._by_sender.items()
            for nonce, entry in queue.items()
            if nonce < state.nonce(sender)
        ]
        self.remove(stale)
        return len(stale)

    def on_block(self, result: AddResult, state: State) -> None:
        """Update after ``chain.add_block``: drop what was included, take back what a
        reorganisation un-included (if still valid), prune replays."""
        for block in result.connected:
            self.remove(block.transactions)
        for block in result.disconnected:
            for tx in block.transactions:
                try:
                    self.add(tx, state)
                except BlockkitError:
                    continue  # no longer valid against the new tip (or a replay): it is gone
        self.prune(state)

    # --- looking ------------------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self._by_hash)

    def __contains__(self, tx_hash: object) -> bool:
        return tx_hash in self._by_hash

    def __iter__(self) -> Iterator[Transaction]:
        return iter([e.tx for e in sorted(self._by_hash.values(), key=lambda e: e.arrival)])

    def pending(self, sender: bytes) -> list[Transaction]:
        """A sender's pending transactions in nonce order."""
        queue = self._by_sender.get(bytes(sender), {})
        return [queue[nonce].tx for nonce in sorted(queue)]

    def to_dataframe(self) -> pd.DataFrame:
        """The pool as a table, in arrival order."""
        import pandas as pd

        rows = [
            {
                "hash": e.tx.hash.hex(),
                "sender": str(e.tx.sender),
                "recipient": str(e.tx.recipient),
                "nonce": e.tx.nonce,
                "value": e.tx.value,
                "fee": e.tx.fee,
                "arrival": e.arrival,
            }
            for e in sorted(self._by_hash.values(), key=lambda e: e.arrival)
        ]
        columns = ["hash", "sender", "recipient", "nonce", "value", "fee", "arrival"]
        return pd.DataFrame(rows, columns=columns)

    def __repr__(self) -> str:
        return f"Mempool({len(self)} pending from {len(self._by_sender)} senders)"
