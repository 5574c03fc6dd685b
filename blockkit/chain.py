"""The chain: a tree of validated blocks, the heaviest branch through it, and the state at its tip.

Blocks arrive in any order and on any branch. ``Chain.add_block`` checks each one step by step,
like a recipe, and rejects it **as a whole** on the first broken rule:

1. ``validate_header``: parent known, height and timestamp follow on, the consensus evidence
   (target and proof of work) is valid;
2. ``validate_body``: the transactions match the header's root, each is statelessly valid, there
   are not too many and none twice;
3. ``apply_body``: on the state at the parent, apply each transaction, pay the proposer its reward
   and fees, and compare the resulting state root with the header's; undo everything on mismatch.

Step 3 runs when the block joins the best branch. A block on a lighter side branch is kept after
steps 1 and 2; if its branch later outweighs the current one, the chain *reorganises*: it undoes
the state back to the fork point with each block's undo record, then applies the new branch. If a
block there turns out invalid, the old branch is restored exactly and the bad block (with its
descendants) is remembered as invalid.

Time is injected: the chain never reads the wall clock. Give it a ``clock`` to reject blocks from
too far in the future.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from blockkit.blocks import ZERO_ADDRESS, Block, Header, check_header_fields, transactions_root
from blockkit.consensus.base import Consensus
from blockkit.consensus.pow import ProofOfWork
from blockkit.contracts.host import Event, with_addresses
from blockkit.errors import (
    ContractFault,
    InvalidBlock,
    InvalidTransaction,
    OrphanBlock,
    OutOfGas,
    Revert,
    UnknownBlock,
    UnknownTransaction,
)
from blockkit.execution import VIEW_GAS, Receipt, apply_transaction, readable_slot, simulate_call
from blockkit.hashing import ZERO_HASH
from blockkit.keys import ADDRESS_SIZE, Address
from blockkit.params import CLASSROOM, Params
from blockkit.state import Account, AccountProof, State, UndoRecord
from blockkit.transactions import Transaction, validate_transaction

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "AddResult",
    "Admission",
    "BlockStore",
    "Chain",
    "LoggedEvent",
    "TransactionLocation",
    "apply_body",
    "make_genesis",
    "process_body",
    "validate_body",
    "validate_header",
]

VALID = "valid"  # its state transition was checked (it is, or was, on the best branch)
PENDING = "pending"  # header and body checked; state not yet (lighter side branch)
INVALID = "invalid"


class BlockStore(Protocol):
    """Where a chain writes every block it accepts (``blockkit.storage`` has the SQLite one)."""

    def append(self, block: Block) -> None:
        """Durably store ``block``; return only once it is safe on disk."""
        ...


class Admission(Protocol):
    """Who may transact on a permissioned chain (``blockkit.sharing.permissioned`` has one).

    A public chain lets any key with coins transact. A permissioned chain asks an ``Admission``:
    ``install`` writes its configuration (the trusted organisations, say) into the genesis state,
    so the genesis hash commits to it and two nodes with different rules never share a chain;
    ``apply`` replaces ``blockkit.execution.apply_transaction`` for every transaction of every
    block: it raises an ``InvalidTransaction`` for a sender who may not act (so the block is
    invalid, as with a forged signature), applies its own system transactions (enrolments,
    revocations) to the state, and hands everything else to ``apply_transaction``.
    """

    def install(self, state: State) -> None:
        """Write the configuration into the genesis ``state``."""
        ...

    def apply(
        self, state: State, tx: Transaction, params: Params, block_height: int, timestamp: int
    ) -> Receipt:
        """Apply ``tx`` like ``apply_transaction`` does, or raise ``InvalidTransaction``."""
        ...


@dataclass(frozen=True)
class AddResult:
    """What ``add_block`` did with a block."""

    status: str
    """``"extended"`` (new tip of the best branch), ``"side-branch"`` (kept, not best),
    ``"reorganized"`` (its branch became the best) or ``"duplicate"`` (already known)."""
    block_hash: bytes
    head: bytes
    """The best tip after the call."""
    disconnected: tuple[Block, ...] = ()
    """Blocks that left the best branch in a reorganisation, newest first."""
    connected: tuple[Block, ...] = ()
    """Blocks that joined the best branch, oldest first."""

    @property
    def reorg_depth(self) -> int:
        """How many blocks were undone: 0 unless the chain reorganised."""
        return len(self.disconnected)

    def __repr__(self) -> str:
        moved = f", reorg_depth={self.reorg_depth}" if self.disconnected else ""
        return (
            f"AddResult({self.status!r}, block={self.block_hash.hex()[:12]}…, "
            f"head={self.head.hex()[:12]}…{moved})"
        )


@dataclass(frozen=True)
class TransactionLocation:
    """Where a transaction sits in the best chain."""

    transaction: Transaction
    block_hash: bytes
    height: int
    index: int


@dataclass(frozen=True)
class LoggedEvent:
    """An event where it happened: which best-branch block and transaction emitted it."""

    height: int
    block_hash: bytes
    tx_hash: bytes
    event: Event

    @property
    def contract(self) -> Address:
        """The contract that emitted the event."""
        return self.event.contract

    @property
    def name(self) -> str:
        """The event's name (``"Transfer"``)."""
        return self.event.name

    @property
    def fields(self) -> dict[str, Any]:
        """The event's fields."""
        return self.event.fields


def _is_address(value: object) -> bool:
    return isinstance(value, bytes) and len(value) == ADDRESS_SIZE


@dataclass
class _Node:
    block: Block
    total_work: int
    status: str
    arrival: int
    children: list[bytes] = field(default_factory=list)


def make_genesis(
    params: Params,
    allocations: dict[bytes, int] | None = None,
    timestamp: int = 0,
    admission: Admission | None = None,
) -> tuple[Block, State]:
    """The first block and its state: the initial balances (and, on a permissioned chain, the
    admission rules' configuration), committed to by the state root."""
    state = State(allocations or {})
    if admission is not None:
        admission.install(state)
    header = Header(
        parent=ZERO_HASH,
        height=0,
        timestamp=timestamp,
        transactions_root=transactions_root(()),
        state_root=state.root(),
        target=params.initial_target,
        proposer=ZERO_ADDRESS,
    )
    return Block(header), state


# --- the three validation steps ---------------------------------------------------------------


def validate_header(chain: Chain, parent: Header, header: Header, now: int | None = None) -> None:
    """Step 1: the header follows on from ``parent`` and carries valid consensus evidence."""
    if header.parent != parent.hash:
        raise InvalidBlock("bad-parent", "header.parent is not the parent's hash")
    if header.height != parent.height + 1:
        raise InvalidBlock(
            "bad-height", f"height {header.height} does not follow parent height {parent.height}"
        )
    if header.timestamp <= parent.timestamp:
        raise InvalidBlock(
            "bad-timestamp",
            f"timestamp {header.timestamp} is not after the parent's {parent.timestamp}",
        )
    if now is not None and header.timestamp > now + chain.params.max_future_drift:
        raise InvalidBlock(
            "time-too-new",
            f"timestamp {header.timestamp} is more than {chain.params.max_future_drift} s "
            f"ahead of this node's clock ({now}); retry when the clock catches up",
        )
    chain.consensus.check_header(chain, parent, header)


def validate_body(block: Block, params: Params) -> None:
    """Step 2: transactions match the header's root and are each statelessly valid."""
    transactions = block.transactions
    if len(transactions) > params.max_block_transactions:
        raise InvalidBlock(
            "too-many-transactions",
            f"{len(transactions)} transactions, the limit is {params.max_block_transactions}",
        )
    if not all(isinstance(tx, Transaction) for tx in transactions):
        raise InvalidBlock("malformed-block", "every transaction must be a Transaction")
    if transactions_root(transactions) != block.header.transactions_root:
        raise InvalidBlock(
            "bad-transactions-root",
            "the transactions do not hash to the header's transactions_root "
            "(a transaction was added, removed, reordered or altered)",
        )
    if len({tx.hash for tx in transactions}) != len(transactions):
        raise InvalidBlock("duplicate-transaction", "the same transaction appears twice")
    for index, tx in enumerate(transactions):
        try:
            validate_transaction(tx, params)
        except InvalidTransaction as exc:
            raise InvalidBlock("bad-transaction", f"transaction {index}: {exc}") from exc


def _body_matches_header(block: Block) -> bool:
    """True when ``block``'s transactions are the ones its header commits to."""
    transactions = block.transactions
    return all(isinstance(tx, Transaction) for tx in transactions) and (
        transactions_root(transactions) == block.header.transactions_root
    )


def apply_body(
    state: State, block: Block, params: Params, admission: Admission | None = None
) -> UndoRecord:
    """Step 3: apply transactions, reward and fees; the state root must match. All or nothing.

    Returns the block's undo record. On any failure the state is exactly as before.
    """
    return process_body(state, block, params, admission)[0]


def process_body(
    state: State, block: Block, params: Params, admission: Admission | None = None
) -> tuple[UndoRecord, tuple[Receipt, ...]]:
    """``apply_body`` that also returns one ``Receipt`` per transaction, in block order.

    Each transaction goes through ``blockkit.execution.apply_transaction`` (plain transfers,
    deploys, calls), or through ``admission.apply`` on a permissioned chain (which refuses
    senders who may not act and handles its own system transactions); the proposer gets the
    reward plus the fees the receipts say were paid.
    """
    apply = apply_transaction if admission is None else admission.apply
    checkpoint = state.checkpoint()
    height, timestamp = block.header.height, block.header.timestamp
    receipts: list[Receipt] = []
    try:
        fees = 0
        for index, tx in enumerate(block.transactions):
            try:
                receipt = apply(state, tx, params, height, timestamp)
            except InvalidTransaction as exc:
                raise InvalidBlock(
                    "bad-transaction", f"transaction {index} ({tx.hash.hex()[:12]}…): {exc}"
                ) from exc
            fees += receipt.fee_paid
            receipts.append(receipt)
        state.credit(block.header.proposer, params.block_reward + fees)
        if state.root() != block.header.state_root:
            raise InvalidBlock(
                "bad-state-root",
                f"applying the block gives state root {state.root().hex()[:16]}…, "
                f"the header claims {block.header.state_root.hex()[:16]}…",
            )
    except BaseException:
        state.revert(checkpoint)
        raise
    return state.changes_since(checkpoint), tuple(receipts)


# --- the chain --------------------------------------------------------------------------------


class Chain:
    """A block tree with fork choice by accumulated work, and the state of its best tip.

    >>> chain = Chain(CLASSROOM, allocations={Address(bytes(20)): 100})
    >>> chain.height, chain.balance(Address(bytes(20)))
    (0, 100)
    """

    def __init__(
        self,
        params: Params = CLASSROOM,
        *,
        allocations: dict[bytes, int] | None = None,
        genesis_time: int = 0,
        consensus: Consensus | None = None,
        clock: Callable[[], int] | None = None,
        store: BlockStore | None = None,
        admission: Admission | None = None,
    ) -> None:
        self.params = params
        self.admission = admission
        self.consensus: Consensus = consensus if consensus is not None else ProofOfWork(params)
        self.clock = clock
        self.store = store
        self.allocations: dict[bytes, int] = dict(allocations or {})
        genesis, self._state = make_genesis(params, self.allocations, genesis_time, admission)
        self.genesis = genesis
        self._nodes: dict[bytes, _Node] = {
            genesis.hash: _Node(genesis, self.consensus.weight(genesis.header), VALID, 0)
        }
        self._main: list[bytes] = [genesis.hash]
        self._undo: dict[bytes, UndoRecord] = {}
        self._tx_index: dict[bytes, tuple[bytes, int]] = {}
        self._receipts: dict[bytes, tuple[Receipt, ...]] = {}  # best branch only, by block hash
        self._arrivals = 1

    # --- adding blocks --------------------------------------------------------------------------

    def add_block(self, block: Block) -> AddResult:
        """Validate ``block`` and add it to the tree; move the best tip if its branch is heavier.

        Raises ``InvalidBlock`` (with ``.reason``) for an invalid block, ``OrphanBlock`` when its
        parent is unknown. An invalid block changes nothing, however deep into a branch it sits.
        """
        if not isinstance(block, Block):
            raise InvalidBlock("malformed-block", f"expected a Block, got {type(block).__name__}")
        check_header_fields(block.header)
        block_hash = block.hash
        known = self._nodes.get(block_hash)
        if known is not None:
            if known.status == INVALID:
                raise InvalidBlock("known-invalid", "this block was already rejected")
            return AddResult("duplicate", block_hash, self.head_hash)
        parent = self._nodes.get(block.parent)
        if parent is None:
            raise OrphanBlock(
                f"parent {block.parent.hex()[:16]}… of block {block_hash.hex()[:16]}… is "
                "unknown; add the parent first"
            )
        if parent.status == INVALID:
            self._remember_invalid(block)
            raise InvalidBlock("invalid-parent", "the parent block was rejected")

        now = self.clock() if self.clock is not None else None
        try:
            validate_header(self, parent.block.header, block.header, now)
        except InvalidBlock as exc:
            if exc.reason != "time-too-new":  # a future block may become valid later
                self._remember_invalid(block)
            raise
        try:
            validate_body(block, self.params)
        except InvalidBlock:
            # The block hash covers the header only. A body that does not match the header's
            # transactions root is someone's tampering with a header that may be fine: marking
            # the hash invalid would let that someone censor the genuine block before it arrives.
            if _body_matches_header(block):
                self._remember_invalid(block)
            raise

        if self.store is not None:
            self.store.append(block)
        node = _Node(
            block,
            parent.total_work + self.consensus.weight(block.header),
            PENDING,
            self._next_arrival(),
        )
        self._nodes[block_hash] = node
        parent.children.append(block_hash)

        head = self._nodes[self.head_hash]
        if node.total_work <= head.total_work:
            return AddResult("side-branch", block_hash, self.head_hash)
        extends = block.parent == self.head_hash
        disconnected, connected = self._activate(block_hash)
        status = "extended" if extends else "reorganized"
        return AddResult(status, block_hash, self.head_hash, disconnected, connected)

    def check_block(self, block: Block) -> None:
        """Raise ``InvalidBlock`` unless ``block`` would be accepted on top of the best tip.

        All three steps run, state included, and everything is undone: the chain is unchanged.
        Permissioned replicas use this to vote on a proposal before it is final.
        """
        if not isinstance(block, Block):
            raise InvalidBlock("malformed-block", f"expected a Block, got {type(block).__name__}")
        check_header_fields(block.header)
        if block.parent != self.head_hash:
            raise InvalidBlock(
                "not-on-tip", f"the block's parent is not this chain's tip (height {self.height})"
            )
        now = self.clock() if self.clock is not None else None
        validate_header(self, self.head.header, block.header, now)
        validate_body(block, self.params)
        # apply_body undoes itself on failure; on success its undo record takes it back out
        self._state.undo(apply_body(self._state, block, self.params, self.admission))

    def _remember_invalid(self, block: Block) -> None:
        self._nodes[block.hash] = _Node(block, 0, INVALID, self._next_arrival())

    def _next_arrival(self) -> int:
        self._arrivals += 1
        return self._arrivals

    def _activate(self, tip: bytes) -> tuple[tuple[Block, ...], tuple[Block, ...]]:
        """Make ``tip`` the best tip, or the best valid block if its branch holds a bad block."""
        error: InvalidBlock | None = None
        candidate: bytes | None = tip
        while candidate is not None and candidate != self.head_hash:
            try:
                moved = self._switch_to(candidate)
                if error is not None:
                    raise error
                return moved
            except InvalidBlock as exc:
                error = error or exc
                candidate = self._best_valid_tip()
        if error is not None:
            raise error
        return (), ()

    def _best_valid_tip(self) -> bytes | None:
        """The heaviest block not known invalid (first arrival wins ties), if heavier than head."""
        head_work = self._nodes[self.head_hash].total_work
        best: _Node | None = None
        for node in self._nodes.values():
            if node.status == INVALID or node.total_work <= head_work:
                continue
            if best is None or (node.total_work, -node.arrival) > (best.total_work, -best.arrival):
                best = node
        return best.block.hash if best is not None else None

    def _switch_to(self, tip: bytes) -> tuple[tuple[Block, ...], tuple[Block, ...]]:
        """Undo back to the fork point with ``tip``'s branch, then apply that branch."""
        path: list[bytes] = []
        cursor = tip
        while not self.is_main(cursor):
            path.append(cursor)
            cursor = self._nodes[cursor].block.parent
        fork_height = self._nodes[cursor].block.height

        disconnected = [self._disconnect_head() for _ in range(self.height - fork_height)]
        connected: list[Block] = []
        for block_hash in reversed(path):
            block = self._nodes[block_hash].block
            try:
                self._connect(block)
            except InvalidBlock:
                self._mark_invalid(block_hash)
                for _ in connected:
                    self._disconnect_head()
                for old in reversed(disconnected):
                    self._connect(old)
                raise
            connected.append(block)
        return tuple(disconnected), tuple(connected)

    def _connect(self, block: Block) -> None:
        undo, receipts = process_body(self._state, block, self.params, self.admission)
        self._undo[block.hash] = undo
        self._receipts[block.hash] = receipts
        self._nodes[block.hash].status = VALID
        self._main.append(block.hash)
        for index, tx in enumerate(block.transactions):
            self._tx_index[tx.hash] = (block.hash, index)

    def _disconnect_head(self) -> Block:
        block_hash = self._main.pop()
        block = self._nodes[block_hash].block
        self._state.undo(self._undo.pop(block_hash))
        self._receipts.pop(block_hash, None)
        for tx in block.transactions:
            self._tx_index.pop(tx.hash, None)
        return block

    def _mark_invalid(self, block_hash: bytes) -> None:
        stack = [block_hash]
        while stack:
            node = self._nodes[stack.pop()]
            node.status = INVALID
            stack.extend(node.children)

    # --- building blocks ------------------------------------------------------------------------

    def propose_block(
        self,
        transactions: Sequence[Transaction],
        proposer: bytes,
        timestamp: int,
    ) -> Block:
        """An unsealed block on the best tip: roots computed, target set, nonce 0.

        Raises ``InvalidTransaction`` if a transaction does not apply to the tip's state, naming
        it (drop it and retry). Seal the result with ``chain.consensus.seal(block)``.
        """
        parent = self.head.header
        for tx in transactions:
            validate_transaction(tx, self.params)
        checkpoint = self._state.checkpoint()
        height = parent.height + 1
        try:
            fees = 0
            apply = apply_transaction if self.admission is None else self.admission.apply
            for tx in transactions:
                fees += apply(self._state, tx, self.params, height, timestamp).fee_paid
            self._state.credit(proposer, self.params.block_reward + fees)
            state_root = self._state.root()
        finally:
            self._state.revert(checkpoint)
        header = Header(
            parent=parent.hash,
            height=parent.height + 1,
            timestamp=timestamp,
            transactions_root=transactions_root(transactions),
            state_root=state_root,
            target=self.consensus.next_target(self, parent),
            proposer=Address(proposer),
        )
        return Block(header, tuple(transactions))

    def mine_block(
        self,
        transactions: Sequence[Transaction] = (),
        *,
        proposer: bytes,
        timestamp: int,
        **seal_options: Any,
    ) -> Block:
        """Propose a block on the best tip and seal it (for proof of work: mine it)."""
        block = self.propose_block(transactions, proposer, timestamp)
        return self.consensus.seal(block, **seal_options)  # type: ignore[call-arg]

    # --- queries --------------------------------------------------------------------------------

    @property
    def head_hash(self) -> bytes:
        """Hash of the best tip."""
        return self._main[-1]

    @property
    def head(self) -> Block:
        """The best tip."""
        return self._nodes[self._main[-1]].block

    @property
    def height(self) -> int:
        """Height of the best tip (genesis is 0)."""
        return len(self._main) - 1

    @property
    def state(self) -> State:
        """The state at the best tip. Read it; change it only through blocks."""
        return self._state

    @property
    def total_work(self) -> int:
        """Accumulated work of the best branch."""
        return self._nodes[self.head_hash].total_work

    def __len__(self) -> int:
        return len(self._main)

    def __contains__(self, block_hash: object) -> bool:
        return block_hash in self._nodes and self._nodes[block_hash].status != INVALID  # type: ignore[index]

    def is_main(self, block_hash: bytes) -> bool:
        """True when the block is on the best branch."""
        node = self._nodes.get(block_hash)
        if node is None:
            return False
        height = node.block.height
        return height < len(self._main) and self._main[height] == block_hash

    def status(self, block_hash: bytes) -> str:
        """``"valid"``, ``"pending"`` (side branch, state not yet checked) or ``"invalid"``."""
        return self._node(block_hash).status

    def _node(self, block_hash: bytes) -> _Node:
        try:
            return self._nodes[block_hash]
        except KeyError:
            raise UnknownBlock(f"no block with hash {block_hash.hex()[:16]}…") from None

    def block(self, block_hash: bytes) -> Block:
        """A known block by hash (on any branch)."""
        return self._node(block_hash).block

    def header(self, block_hash: bytes) -> Header:
        """A known header by hash."""
        return self._node(block_hash).block.header

    def block_at(self, height: int) -> Block:
        """The best branch's block at ``height``."""
        if not 0 <= height < len(self._main):
            raise UnknownBlock(f"no block at height {height}; the chain's height is {self.height}")
        return self._nodes[self._main[height]].block

    def ancestor(self, block_hash: bytes, height: int) -> Header:
        """The header at ``height`` on the branch that ends at ``block_hash``."""
        node = self._node(block_hash)
        if not 0 <= height <= node.block.height:
            raise UnknownBlock(f"height {height} is not below block {block_hash.hex()[:16]}…")
        cursor = node.block
        while cursor.height > height:
            if self.is_main(cursor.hash):
                return self.block_at(height).header
            cursor = self._nodes[cursor.parent].block
        return cursor.header

    def main_chain(self) -> Iterator[Block]:
        """The best branch's blocks from genesis to tip."""
        for block_hash in self._main:
            yield self._nodes[block_hash].block

    def tips(self) -> list[Block]:
        """Blocks with no children (branch ends), best first; invalid ones left out."""
        nodes = [
            n
            for n in self._nodes.values()
            if n.status != INVALID
            and all(self._nodes[child].status == INVALID for child in n.children)
        ]
        nodes.sort(key=lambda n: (-n.total_work, n.arrival))
        return [n.block for n in nodes]

    def transaction(self, tx_hash: bytes) -> TransactionLocation:
        """Find a transaction in the best branch by hash."""
        try:
            block_hash, index = self._tx_index[tx_hash]
        except KeyError:
            raise UnknownTransaction(
                f"no transaction {tx_hash.hex()[:16]}… in the best chain"
            ) from None
        block = self._nodes[block_hash].block
        return TransactionLocation(block.transactions[index], block_hash, block.height, index)

    def account(self, address: bytes) -> Account:
        """An account at the best tip."""
        return self._state.account(address)

    def balance(self, address: bytes) -> int:
        """A balance at the best tip."""
        return self._state.balance(address)

    def nonce(self, address: bytes) -> int:
        """The next nonce ``address`` must use at the best tip."""
        return self._state.nonce(address)

    def prove_account(self, address: bytes) -> AccountProof:
        """Proof of ``address``'s account under the tip header's ``state_root``."""
        return self._state.prove(address)

    # --- contracts: receipts, events, read-only calls -----------------------------------------

    def receipt(self, tx_hash: bytes) -> Receipt:
        """The receipt of a transaction in the best branch: status, gas, events, return value."""
        try:
            block_hash, index = self._tx_index[tx_hash]
        except KeyError:
            raise UnknownTransaction(
                f"no transaction {tx_hash.hex()[:16]}… in the best chain, so no receipt; "
                "it may still be pending, or its block was reorganised away"
            ) from None
        return self._receipts[block_hash][index]

    def receipts(self, block_hash: bytes) -> tuple[Receipt, ...]:
        """The receipts of a best-branch block, in transaction order."""
        if not self.is_main(block_hash):
            raise UnknownBlock(
                f"block {block_hash.hex()[:16]}… is not on the best branch; only its blocks "
                "have receipts"
            )
        return self._receipts.get(block_hash, ())

    def events(self, contract: bytes | None = None, name: str | None = None) -> list[LoggedEvent]:
        """Events emitted on the best branch, oldest first; filter by ``contract`` and ``name``."""
        found = []
        for block_hash in self._main:
            block = self._nodes[block_hash].block
            receipts = self._receipts.get(block_hash, ())
            for tx, receipt in zip(block.transactions, receipts, strict=True):
                for event in receipt.events:
                    if contract is not None and event.contract != contract:
                        continue
                    if name is not None and event.name != name:
                        continue
                    found.append(LoggedEvent(block.height, block_hash, tx.hash, event))
        return found

    def events_df(self, contract: bytes | None = None, name: str | None = None) -> pd.DataFrame:
        """``events`` as a pandas table: height, block, tx, contract, name, then one column per
        event field (empty where an event has no such field)."""
        import pandas as pd

        rows = []
        field_names: list[str] = []
        for logged in self.events(contract, name):
            event = logged.event
            row: dict[str, Any] = {
                "height": logged.height,
                "block": logged.block_hash.hex(),
                "tx": logged.tx_hash.hex(),
                "contract": str(event.contract),
                "name": event.name,
            }
            for key, value in event.fields.items():
                if key not in field_names:
                    field_names.append(key)
                row[key] = str(Address(value)) if _is_address(value) else value
            rows.append(row)
        columns = ["height", "block", "tx", "contract", "name"]
        return pd.DataFrame(rows, columns=columns + [f for f in field_names if f not in columns])

    def call_view(
        self,
        contract: bytes,
        function: str,
        args: list[Any] | tuple[Any, ...] = (),
        *,
        caller: bytes = ZERO_ADDRESS,
        gas: int = VIEW_GAS,
    ) -> Any:
        """Run ``function(*args)`` of ``contract`` on the tip's state and return its result.

        Read-only: no transaction, no fee, and every change the call makes is undone. Raises
        ``Revert``, ``OutOfGas`` or ``ContractFault`` (with the contract's reason) when it fails.
        """
        head = self.head.header
        result = simulate_call(
            self._state,
            contract,
            function,
            args,
            caller=caller,
            block_height=head.height,
            timestamp=head.timestamp,
            gas=gas,
        )
        if result.ok:
            return result.return_value
        error = {"reverted": Revert, "out-of-gas": OutOfGas}.get(result.status, ContractFault)
        raise error(f"{function} of {Address(bytes(contract)).short} failed: {result.error}")

    def storage(self, contract: bytes) -> dict[str, Any]:
        """The contract's storage at the tip, slot names made readable (``"balances[0x…]"``) and
        20-byte values shown as addresses."""
        return {
            readable_slot(slot): with_addresses(value)
            for slot, value in self._state.storage(contract).items()
        }

    def code(self, contract: bytes) -> str:
        """The source of the contract at ``contract``; ``KeyError`` for a plain account."""
        return self._state.code(contract)

    def blocks(self, include_side_branches: bool = False) -> Iterable[Block]:
        """Blocks of the best branch, or every known valid or pending block in arrival order."""
        if not include_side_branches:
            return list(self.main_chain())
        nodes = sorted(self._nodes.values(), key=lambda n: n.arrival)
        return [n.block for n in nodes if n.status != INVALID]

    def to_dataframe(
        self, what: str = "blocks", include_side_branches: bool = False
    ) -> pd.DataFrame:
        """A pandas table of ``"blocks"`` or ``"transactions"`` (best branch unless asked)."""
        import pandas as pd

        if what == "blocks":
            rows = [self._block_row(b) for b in self.blocks(include_side_branches)]
            return pd.DataFrame(rows, columns=_BLOCK_COLUMNS)
        if what == "transactions":
            rows = [
                _transaction_row(block, index, tx)
                for block in self.blocks(include_side_branches)
                for index, tx in enumerate(block.transactions)
            ]
            return pd.DataFrame(rows, columns=_TX_COLUMNS)
        raise ValueError(f"to_dataframe shows 'blocks' or 'transactions', not {what!r}")

    def _block_row(self, block: Block) -> dict[str, Any]:
        node = self._nodes[block.hash]
        header = block.header
        from blockkit.hashing import difficulty_from_target

        return {
            "height": header.height,
            "hash": block.hash.hex(),
            "parent": header.parent.hex(),
            "timestamp": header.timestamp,
            "transactions": len(block.transactions),
            "proposer": str(header.proposer),
            "difficulty": difficulty_from_target(header.target),
            "total_work": float(node.total_work),
            "main": self.is_main(block.hash),
            "status": node.status,
        }

    def __repr__(self) -> str:
        return (
            f"Chain({self.params.name}, height={self.height}, head={self.head_hash.hex()[:12]}…, "
            f"{len(self._nodes)} blocks known)"
        )


_BLOCK_COLUMNS = [
    "height",
    "hash",
    "parent",
    "timestamp",
    "transactions",
    "proposer",
    "difficulty",
    "total_work",
    "main",
    "status",
]
_TX_COLUMNS = [
    "height",
    "block",
    "index",
    "hash",
    "sender",
    "recipient",
    "value",
    "fee",
    "nonce",
]


def _transaction_row(block: Block, index: int, tx: Transaction) -> dict[str, Any]:
    return {
        "height": block.height,
        "block": block.hash.hex(),
        "index": index,
        "hash": tx.hash.hex(),
        "sender": str(tx.sender),
        "recipient": str(tx.recipient),
        "value": tx.value,
        "fee": tx.fee,
        "nonce": tx.nonce,
    }
