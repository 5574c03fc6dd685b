"""The SQLite store: restart, refusal of foreign or tampered files, and crashes mid-append."""

from __future__ import annotations

import dataclasses
import os
import random
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time

import pytest

from blockkit.blocks import Block
from blockkit.errors import InvalidBlock, StorageError
from blockkit.keys import PrivateKey
from blockkit.params import CLASSROOM
from blockkit.storage import FORMAT, SQLiteStore, open_chain
from blockkit.transactions import sign_transaction

ALICE = PrivateKey.from_seed(b"storage-alice")
BOB = PrivateKey.from_seed(b"storage-bob")
MINER = PrivateKey.from_seed(b"storage-miner").address
FUNDS = {ALICE.address: 10_000}


def grow(chain, blocks, *, start_time=None, proposer=MINER):
    """Mine ``blocks`` blocks on the best tip, each paying BOB from ALICE."""
    for _ in range(blocks):
        tx = sign_transaction(
            ALICE, BOB.address, 3, nonce=chain.nonce(ALICE.address), chain_id=1337, fee=1
        )
        timestamp = (start_time or chain.head.header.timestamp) + 10
        start_time = None
        chain.add_block(chain.mine_block([tx], proposer=proposer, timestamp=timestamp))


def test_a_chain_survives_a_restart(tmp_path):
    path = tmp_path / "chain.db"
    chain = open_chain(path, CLASSROOM, allocations=FUNDS, genesis_time=100)
    grow(chain, 12)  # crosses a retarget boundary, so replay re-checks the difficulty rule
    expected = (chain.head_hash, chain.height, chain.state.root(), chain.balance(BOB.address))
    chain.store.close()

    again = open_chain(path)
    assert (again.head_hash, again.height, again.state.root(), again.balance(BOB.address)) == (
        expected
    )
    assert again.params == CLASSROOM and again.genesis.header.timestamp == 100
    assert again.store.rejected == []
    grow(again, 1)  # and it keeps writing
    again.store.close()
    assert open_chain(path).height == 13


def test_side_branches_and_reorgs_are_replayed(tmp_path):
    path = tmp_path / "chain.db"
    chain = open_chain(path, allocations=FUNDS)
    grow(chain, 2)
    fork_point = chain.head_hash
    grow(chain, 2)
    old_head = chain.head_hash
    # a heavier branch from the fork point, built on a second in-memory view of the same chain
    other = open_chain(":memory:", allocations=FUNDS)
    for block in chain.main_chain():
        other.add_block(block)
        if block.hash == fork_point:
            break
    other_miner = PrivateKey.from_seed(b"other-miner").address
    grow(other, 3, proposer=other_miner)
    for block in list(other.main_chain())[3:]:
        result = chain.add_block(block)
    assert result.status == "reorganized" and chain.head_hash == other.head_hash
    chain.store.close()

    again = open_chain(path)
    assert again.head_hash == other.head_hash
    assert again.state == other.state
    assert old_head in again and not again.is_main(old_head)


def test_a_block_rejected_by_its_state_transition_is_logged_and_rejected_again(tmp_path):
    path = tmp_path / "chain.db"
    chain = open_chain(path, allocations=FUNDS)
    grow(chain, 1)
    block = chain.propose_block([], MINER, timestamp=chain.head.header.timestamp + 10)
    bad = Block(dataclasses.replace(block.header, state_root=bytes(32)), block.transactions)
    bad = chain.consensus.seal(bad)
    with pytest.raises(InvalidBlock) as failure:
        chain.add_block(bad)
    assert failure.value.reason == "bad-state-root"
    head = chain.head_hash
    chain.store.close()

    again = open_chain(path)
    assert again.head_hash == head
    assert [(r.block_hash, r.reason) for r in again.store.rejected] == [
        (bad.hash, "bad-state-root")
    ]
    assert again.status(bad.hash) == "invalid"


def test_reopening_with_other_settings_is_refused(tmp_path):
    path = tmp_path / "chain.db"
    open_chain(path, CLASSROOM, allocations=FUNDS, genesis_time=5).store.close()
    cases = [
        ({"params": dataclasses.replace(CLASSROOM, block_reward=1)}, "block_reward"),
        ({"allocations": {ALICE.address: 1}}, "allocations"),
        ({"genesis_time": 6}, "genesis_time"),
    ]
    for kwargs, named in cases:
        with pytest.raises(StorageError, match=named):
            open_chain(path, **kwargs)
    # the same settings, given explicitly, are fine
    open_chain(path, CLASSROOM, allocations=FUNDS, genesis_time=5).store.close()


def test_a_file_that_is_not_a_database_is_refused_and_left_alone(tmp_path):
    path = tmp_path / "notes.db"
    path.write_bytes(b"these are my lecture notes, not a chain\n" * 50)
    before = path.read_bytes()
    with pytest.raises(StorageError, match="not a blockkit chain store"):
        open_chain(path)
    assert path.read_bytes() == before


def test_another_sqlite_database_is_refused_and_left_alone(tmp_path):
    path = tmp_path / "grades.db"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE grades (student TEXT, points INTEGER)")
    with pytest.raises(StorageError, match=r"something else.*grades"):
        open_chain(path)
    with sqlite3.connect(path) as db:
        tables = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")]
    assert tables == ["grades"]


def test_a_directory_is_refused(tmp_path):
    with pytest.raises(StorageError, match="directory"):
        open_chain(tmp_path)


def test_a_store_of_another_format_is_refused(tmp_path):
    path = tmp_path / "chain.db"
    open_chain(path).store.close()
    with sqlite3.connect(path) as db:
        db.execute("UPDATE meta SET value = ? WHERE key = 'format'", (b"blockkit-store/99",))
    with pytest.raises(StorageError, match="blockkit-store/99"):
        open_chain(path)
    assert FORMAT != "blockkit-store/99"


def _tamper(path, sql, *args):
    with sqlite3.connect(path) as db:
        db.execute(sql, args)


def test_a_corrupted_block_row_is_reported_not_replayed(tmp_path):
    path = tmp_path / "chain.db"
    chain = open_chain(path, allocations=FUNDS)
    grow(chain, 3)
    chain.store.close()
    _tamper(path, "UPDATE blocks SET data = substr(data, 1, 40) WHERE seq = 2")
    with pytest.raises(StorageError, match=r"block #2 .*corrupt"):
        open_chain(path)


def test_a_block_whose_bytes_changed_under_its_hash_is_reported(tmp_path):
    path = tmp_path / "chain.db"
    chain = open_chain(path, allocations=FUNDS)
    grow(chain, 2)
    first = chain.block_at(1)
    chain.store.close()
    changed = Block(dataclasses.replace(first.header, timestamp=first.header.timestamp + 1))
    _tamper(path, "UPDATE blocks SET data = ? WHERE seq = 1", changed.encoded)
    with pytest.raises(StorageError, match="does not match its recorded hash"):
        open_chain(path)


def test_a_forged_block_with_a_consistent_row_is_still_rejected_by_validation(tmp_path):
    """Rewriting a row and its hash does not get past replay: the block is validated again."""
    path = tmp_path / "chain.db"
    chain = open_chain(path, allocations=FUNDS)
    grow(chain, 2)
    first = chain.block_at(1)
    chain.store.close()
    thief = PrivateKey.from_seed(b"thief").address
    forged = Block(dataclasses.replace(first.header, proposer=thief), first.transactions)
    _tamper(
        path,
        "UPDATE blocks SET data = ?, hash = ? WHERE seq = 1",
        forged.encoded,
        forged.hash,
    )
    with pytest.raises(StorageError):  # its child now comes before a parent it names
        open_chain(path)
    _tamper(path, "DELETE FROM blocks WHERE seq = 2")
    again = open_chain(path)
    assert again.height == 0 and again.balance(thief) == 0
    assert [r.reason for r in again.store.rejected] == ["bad-pow"]


def test_missing_chain_description_with_blocks_is_refused(tmp_path):
    path = tmp_path / "chain.db"
    chain = open_chain(path, allocations=FUNDS)
    grow(chain, 1)
    chain.store.close()
    _tamper(path, "DELETE FROM meta WHERE key = 'chain'")
    with pytest.raises(StorageError, match="no chain description"):
        open_chain(path)


def test_append_is_idempotent_and_in_memory_stores_work():
    chain = open_chain(":memory:", allocations=FUNDS)
    grow(chain, 2)
    store = chain.store
    assert len(store) == 2
    store.append(chain.head)
    assert len(store) == 2
    assert [block.hash for _, block in store.blocks()] == [b.hash for b in chain.blocks()][1:]


def test_a_closed_store_reports_a_storage_error(tmp_path):
    chain = open_chain(tmp_path / "chain.db", allocations=FUNDS)
    chain.store.close()
    block = chain.mine_block(proposer=MINER, timestamp=10)
    with pytest.raises(StorageError, match="could not write block"):
        chain.add_block(block)


def test_sqlite_store_is_a_context_manager(tmp_path):
    with SQLiteStore(tmp_path / "raw.db") as store:
        assert store.info() is None and len(store) == 0


# --- crash safety -----------------------------------------------------------------------------

WRITER = textwrap.dedent(
    """
    import os, signal, sys, time
    from blockkit.keys import PrivateKey
    from blockkit.storage import open_chain
    from blockkit.transactions import sign_transaction

    path, die_at_commit, pause = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
    alice = PrivateKey.from_seed(b"storage-alice")
    bob = PrivateKey.from_seed(b"storage-bob").address
    chain = open_chain(path, allocations={alice.address: 10**9})
    print("opened", chain.height, flush=True)

    class DieBeforeCommit:
        \"\"\"Let the INSERT reach SQLite, then die with the transaction still open.\"\"\"
        def __init__(self, db):
            self.db, self.commits = db, 0
        def execute(self, sql, *args):
            if sql == "COMMIT":
                self.commits += 1
                if self.commits == die_at_commit:
                    print("dying", flush=True)
                    os.kill(os.getpid(), signal.SIGKILL)
            return self.db.execute(sql, *args)
        def __getattr__(self, name):
            return getattr(self.db, name)

    chain.store._db = DieBeforeCommit(chain.store._db)
    while True:
        nonce = chain.nonce(alice.address)
        txs = [
            sign_transaction(alice, bob, 1, nonce=nonce + i, chain_id=1337, fee=1, data=b"x" * 2000)
            for i in range(20)
        ]
        block = chain.mine_block(txs, proposer=bob, timestamp=chain.head.header.timestamp + 10)
        chain.add_block(block)  # returns only once the block is committed to disk
        print("committed", block.hash.hex(), flush=True)
        time.sleep(pause)
    """
)


def _run_writer(path, committed, *, blocks, die_at_commit=0, kill_delay=0.0, pause=0.0):
    """Start a writer on ``path``, record the blocks it reports committed, and SIGKILL it.

    With ``die_at_commit`` the writer kills itself inside that append's open transaction;
    otherwise it is killed ``kill_delay`` seconds after reporting its ``blocks``-th block, while
    it builds or writes the next one.
    """
    writer = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(path), str(die_at_commit), str(pause)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        opened = writer.stdout.readline().split()
        assert opened[:1] == ["opened"], opened
        assert int(opened[1]) >= len(committed)  # the writer saw everything committed so far
        for _ in range(blocks):
            line = writer.stdout.readline().split()
            assert line[:1] == ["committed"], line
            committed.append(bytes.fromhex(line[1]))
        if die_at_commit:
            assert writer.stdout.readline().split() == ["dying"]
            writer.wait(timeout=60)
        else:
            time.sleep(kill_delay)
            os.kill(writer.pid, signal.SIGKILL)
    finally:
        writer.kill()
        writer.wait()
        writer.stdout.close()
    assert writer.returncode == -signal.SIGKILL


def _reopen_and_check(path, committed):
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    chain = open_chain(path)
    try:
        assert all(chain.is_main(h) for h in committed), "a committed block was lost"
        assert chain.store.rejected == []
        return chain.height
    finally:
        chain.store.close()


@pytest.mark.slow
def test_killing_a_writer_at_random_moments_loses_no_committed_block(tmp_path):
    """SIGKILL a writer (no clean-up runs) again and again; every committed block survives."""
    path = tmp_path / "chain.db"
    committed: list[bytes] = []
    rng = random.Random(2)
    for round_ in range(6):
        _run_writer(path, committed, blocks=1 + round_ % 3, kill_delay=rng.uniform(0, 0.03))
        assert _reopen_and_check(path, committed) >= len(committed)


@pytest.mark.slow
def test_a_writer_killed_inside_an_open_append_transaction_leaves_a_working_store(tmp_path):
    path = tmp_path / "chain.db"
    committed: list[bytes] = []
    _run_writer(path, committed, blocks=3, die_at_commit=4)
    # the fourth block never committed, so the chain is exactly the three reported blocks
    assert _reopen_and_check(path, committed) == 3
    _run_writer(path, committed, blocks=0, die_at_commit=1)  # dies on its very first append
    assert _reopen_and_check(path, committed) == 3
    _run_writer(path, committed, blocks=2, kill_delay=0)  # and the store still takes new blocks
    assert _reopen_and_check(path, committed) >= 5
