"""SQLite chain store: every accepted block on disk, so a chain survives a restart or a crash.

The store is an append-only *log* of blocks, not a copy of the chain's memory. ``Chain.add_block``
appends a block once it passes the checks that need no state (header, proof of work, body), before
the state transition; reopening replays the log through ``add_block``, so a reopened chain has
been validated exactly like a live one, and a block whose state transition failed is simply
rejected again. Nothing on disk is trusted more than a block arriving from the network.

Crash safety comes from SQLite itself: each ``append`` is one transaction in write-ahead-log mode
with ``synchronous=FULL``, so when ``append`` returns the block is on disk, and a process killed
half-way through an append leaves the previous committed state, which SQLite restores on the next
open. The chain's identity (its params, genesis allocations and time, consensus) is written once
in a ``meta`` table; reopening with different settings is refused rather than silently forking.

    >>> chain = open_chain("course.db", CLASSROOM)       # doctest: +SKIP
    >>> chain.add_block(chain.mine_block(proposer=me, timestamp=10))   # doctest: +SKIP
    >>> open_chain("course.db").height                   # later, or after a crash  # doctest: +SKIP
    1
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING

from blockkit.blocks import Block
from blockkit.encoding import decode, encode
from blockkit.errors import EncodingError, InvalidBlock, OrphanBlock, StorageError
from blockkit.params import Params

if TYPE_CHECKING:
    from blockkit.chain import Admission, Chain
    from blockkit.consensus.base import Consensus

__all__ = ["FORMAT", "RejectedBlock", "SQLiteStore", "StoredChainInfo", "open_chain"]

FORMAT = "blockkit-store/1"
"""Written into every store; a file with another format is refused, not guessed at."""

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (
    key   TEXT PRIMARY KEY,
    value BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS blocks (
    seq    INTEGER PRIMARY KEY AUTOINCREMENT,
    hash   BLOB NOT NULL UNIQUE,
    parent BLOB NOT NULL,
    height INTEGER NOT NULL,
    data   BLOB NOT NULL
);
"""


@dataclass(frozen=True)
class StoredChainInfo:
    """What a store says about the chain it holds (its ``meta`` table, decoded)."""

    params: Params
    allocations: dict[bytes, int]
    genesis_time: int
    genesis_hash: bytes
    consensus: str


@dataclass(frozen=True)
class RejectedBlock:
    """A stored block that replay rejected (its state transition failed when it first arrived)."""

    seq: int
    block_hash: bytes
    reason: str


class SQLiteStore:
    """An append-only log of blocks in one SQLite file. Implements ``chain.BlockStore``.

    Open it with ``open_chain`` unless you want the raw log. ``path`` may be ``":memory:"``.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = str(path)
        self.rejected: list[RejectedBlock] = []
        """Blocks the last replay rejected (see ``open_chain``)."""
        if self.path != ":memory:" and Path(self.path).is_dir():
            raise StorageError(f"{self.path} is a directory; give a file name such as chain.db")
        try:
            self._db = sqlite3.connect(self.path, isolation_level=None)
            tables = {
                name
                for (name,) in self._db.execute(
                    "SELECT name FROM sqlite_master WHERE type = 'table'"
                )
            } - {"sqlite_sequence"}
            if tables and not {"meta", "blocks"} <= tables:
                self._db.close()
                raise StorageError(
                    f"{self.path} is an SQLite database of something else (tables: "
                    f"{', '.join(sorted(tables))}); blockkit leaves it untouched: choose a new file"
                )
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.executescript(_SCHEMA)
        except sqlite3.DatabaseError as exc:
            raise StorageError(
                f"{self.path} is not a blockkit chain store ({exc}); "
                "open a new file name or restore the file from a backup"
            ) from exc
        stored = self._meta("format")
        if stored is not None and stored != FORMAT.encode():
            self.close()
            raise StorageError(
                f"{self.path} holds format {stored!r}, this blockkit reads {FORMAT!r}"
            )

    # --- the log --------------------------------------------------------------------------------

    def append(self, block: Block) -> None:
        """Write ``block`` in one transaction; when this returns, it survives a crash.

        Appending a block already in the log does nothing.
        """
        try:
            with self._transaction():
                self._db.execute(
                    "INSERT OR IGNORE INTO blocks (hash, parent, height, data) VALUES (?, ?, ?, ?)",
                    (block.hash, block.parent, block.height, block.encoded),
                )
        except sqlite3.Error as exc:
            raise StorageError(f"could not write block {block.hash.hex()[:16]}…: {exc}") from exc

    def blocks(self) -> Iterator[tuple[int, Block]]:
        """Every stored block with its sequence number, in the order they were appended.

        Raises ``StorageError`` for a row that does not decode or whose hash does not match its
        bytes: SQLite never writes half a row, so that means the file was changed outside blockkit.
        """
        rows = self._db.execute("SELECT seq, hash, data FROM blocks ORDER BY seq")
        for seq, stored_hash, data in rows:
            try:
                block = Block.decode(bytes(data))
            except InvalidBlock as exc:
                raise StorageError(
                    f"block #{seq} in {self.path} is corrupt ({exc}); the file was modified "
                    "outside blockkit: restore it from a backup"
                ) from exc
            if block.hash != bytes(stored_hash):
                raise StorageError(
                    f"block #{seq} in {self.path} does not match its recorded hash; the file was "
                    "modified outside blockkit: restore it from a backup"
                )
            yield seq, block

    def __len__(self) -> int:
        return int(self._db.execute("SELECT COUNT(*) FROM blocks").fetchone()[0])

    # --- the chain's identity -------------------------------------------------------------------

    def info(self) -> StoredChainInfo | None:
        """The chain this store was created for, or ``None`` for a new, empty store."""
        raw = self._meta("chain")
        if raw is None:
            return None
        try:
            fields = decode(raw)
            params = Params(**fields["params"])
            allocations = {bytes.fromhex(k): v for k, v in fields["allocations"].items()}
            return StoredChainInfo(
                params,
                allocations,
                fields["genesis_time"],
                fields["genesis_hash"],
                fields["consensus"],
            )
        except (EncodingError, KeyError, TypeError, ValueError, AttributeError) as exc:
            raise StorageError(
                f"the chain description in {self.path} is unreadable ({exc}); "
                "restore the file from a backup"
            ) from exc

    def initialise(self, info: StoredChainInfo) -> None:
        """Record which chain this store holds. Only once: a store holds one chain for life."""
        if self._meta("chain") is not None:
            raise StorageError(f"{self.path} already holds a chain")
        record = {
            "params": asdict(info.params),
            "allocations": {bytes(k).hex(): v for k, v in info.allocations.items()},
            "genesis_time": info.genesis_time,
            "genesis_hash": info.genesis_hash,
            "consensus": info.consensus,
        }
        with self._transaction():
            self._db.execute("INSERT INTO meta VALUES ('format', ?)", (FORMAT.encode(),))
            self._db.execute("INSERT INTO meta VALUES ('chain', ?)", (encode(record),))

    # --- plumbing -------------------------------------------------------------------------------

    def _meta(self, key: str) -> bytes | None:
        row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else bytes(row[0])

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        """``BEGIN IMMEDIATE`` … ``COMMIT``, or ``ROLLBACK`` on any error."""
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    def close(self) -> None:
        """Close the file. Everything appended is already durable; closing loses nothing."""
        self._db.close()

    def __enter__(self) -> SQLiteStore:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"SQLiteStore({self.path!r})"


def open_chain(
    path: str | os.PathLike[str],
    params: Params | None = None,
    *,
    allocations: dict[bytes, int] | None = None,
    genesis_time: int | None = None,
    consensus: Consensus | None = None,
    clock: Callable[[], int] | None = None,
    admission: Admission | None = None,
) -> Chain:
    """Open (or create) the chain stored at ``path``, replaying every stored block.

    A new store records ``params`` (default ``CLASSROOM``), ``allocations`` and ``genesis_time``.
    An existing store supplies them itself; passing different ones raises ``StorageError``, because
    they would define a different chain. Like ``consensus``, a permissioned chain's ``admission``
    rules are given again at each opening; its configuration is in the genesis state, so different
    rules give a different genesis hash and are refused. Blocks stored but rejected on replay
    (their state transition failed when they first arrived) are listed in
    ``chain.store.rejected``.
    """
    from blockkit.chain import Chain
    from blockkit.consensus.pow import ProofOfWork
    from blockkit.params import CLASSROOM

    store = SQLiteStore(path)
    try:
        info = store.info()
        if info is not None:
            _check_matches(store.path, info, params, allocations, genesis_time, consensus)
            params, allocations, genesis_time = info.params, info.allocations, info.genesis_time
        params = params if params is not None else CLASSROOM
        consensus = consensus if consensus is not None else ProofOfWork(params)
        chain = Chain(
            params,
            allocations=allocations,
            genesis_time=genesis_time or 0,
            consensus=consensus,
            clock=None,  # replay accepts what was accepted before, whatever today's clock says
            admission=admission,
        )
        if info is None:
            if len(store):
                raise StorageError(
                    f"{store.path} holds blocks but no chain description; the file was "
                    "modified outside blockkit: restore it from a backup"
                )
            store.initialise(
                StoredChainInfo(
                    params,
                    dict(chain.allocations),
                    genesis_time or 0,
                    chain.genesis.hash,
                    type(consensus).__name__,
                )
            )
        elif info.genesis_hash != chain.genesis.hash:
            raise StorageError(
                f"{store.path} records genesis {info.genesis_hash.hex()[:16]}…, but its settings "
                f"give {chain.genesis.hash.hex()[:16]}…; the file was modified outside blockkit"
            )
        store.rejected = _replay(chain, store)
    except BaseException:
        store.close()
        raise
    chain.store = store
    chain.clock = clock
    return chain


def _replay(chain: Chain, store: SQLiteStore) -> list[RejectedBlock]:
    rejected: list[RejectedBlock] = []
    for seq, block in store.blocks():
        try:
            chain.add_block(block)
        except InvalidBlock as exc:
            rejected.append(RejectedBlock(seq, block.hash, exc.reason))
        except OrphanBlock as exc:
            raise StorageError(
                f"block #{seq} in {store.path} comes before its parent ({exc}); the file was "
                "modified outside blockkit: restore it from a backup"
            ) from exc
    return rejected


def _check_matches(
    path: str,
    info: StoredChainInfo,
    params: Params | None,
    allocations: dict[bytes, int] | None,
    genesis_time: int | None,
    consensus: Consensus | None,
) -> None:
    """Refuse to open a store with settings that define a different chain than the stored one."""
    differences: list[str] = []
    if params is not None and params != info.params:
        changed = [k for k, v in asdict(params).items() if asdict(info.params)[k] != v]
        differences.append(f"params ({', '.join(changed)})")
    if allocations is not None and {bytes(k): v for k, v in allocations.items()} != (
        info.allocations
    ):
        differences.append("allocations")
    if genesis_time is not None and genesis_time != info.genesis_time:
        differences.append(f"genesis_time ({genesis_time} != {info.genesis_time})")
    if consensus is not None and type(consensus).__name__ != info.consensus:
        differences.append(f"consensus ({type(consensus).__name__} != {info.consensus})")
    if differences:
        raise StorageError(
            f"{path} holds a different chain ({'; '.join(differences)} differ from the stored "
            "ones). Open it without those arguments to use the stored chain, or choose a new "
            "file for a new chain"
        )
