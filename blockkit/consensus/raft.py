"""Raft: an elected leader orders blocks, and a block is final once a majority has stored it.

Raft (Ongaro and Ousterhout, "In Search of an Understandable Consensus Algorithm", 2014) keeps a
replicated log consistent among ``2f + 1`` servers while up to ``f`` of them are crashed. Each
server is a *follower*, a *candidate* or the *leader*. Time is divided into *terms*; each term
begins with an election, and at most one leader wins it, because a server votes once per term and
a winner needs a majority. The leader appends entries to its log and sends them to the others
(AppendEntries, doubling as heartbeat); an entry is *committed* once a majority stores it, and a
server applies committed entries to its state machine in log order.

Here the log entries are blocks and the state machine is the node's ``Chain``: a block enters a
node's chain only once committed, in order, so a committed block is never undone — there are no
forks to resolve, unlike proof of work or proof of authority. The leader builds each block with
``chain.propose_block`` on its committed tip and seals it with its key; it proposes the next block
only once everything in its log is committed (one uncommitted block at a time), every
``block_interval`` seconds.

Raft tolerates **crashes, not lies**: a crashed or partitioned server simply stops, and the
others carry on while a majority is up and connected. A server that sends false votes or forged
entries breaks it; that needs a Byzantine protocol (PBFT). So the only fault here is the crash
(``network.crash(node, at=..., restart_at=...)``), plus the network's loss and partitions.

Details that follow the paper:

- **Persistent state** (current term, vote, log) survives a crash; so does the chain, which is
  the durable state machine, and with it the index of the last applied entry. Everything else
  (role, leader, commit index beyond what was applied, replication progress) is forgotten.
- **Election restriction** (§5.4.1): a server votes only for a candidate whose log is at least
  as up to date as its own (later last term, or same last term and at least as long).
- **Log matching** (§5.3): AppendEntries names the entry before the new ones; a follower whose
  log does not hold it refuses, and the leader backs up (to the first index of the conflicting
  term, the paper's optimisation) until the logs match; conflicting entries after that point are
  deleted and replaced.
- **Commit rule** (§5.4.2): a leader counts replicas only for entries of its *current* term;
  earlier entries commit with them. To commit what it inherited without waiting for a client,
  a new leader appends a no-op entry at the start of its term (§8). No-op entries carry no block,
  so a block's height is its position among the block entries, not its log index.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from blockkit.blocks import Block
from blockkit.chain import Chain
from blockkit.consensus.committee import Committee, committee_keys
from blockkit.errors import BlockkitError
from blockkit.keys import PrivateKey, PublicKey
from blockkit.network.sim import Message, NetworkCore, Node
from blockkit.params import CLASSROOM, Params

__all__ = ["AppendEntries", "AppendReply", "Entry", "Raft", "RaftNode", "RequestVote", "Vote"]

#: A leader's commit rule: (match_index, log_terms, current_term, commit_index) -> commit index.
CommitRule = Callable[[list[int], list[int], int, int], int]

FOLLOWER, CANDIDATE, LEADER = "follower", "candidate", "leader"

#: At most this many entries in one AppendEntries (a lagging follower catches up in batches).
_BATCH = 64


@dataclass(frozen=True, slots=True)
class Entry:
    """One log entry: the term it was created in, and its block (None for a leader's no-op)."""

    term: int
    block: Block | None


@dataclass(frozen=True, slots=True)
class RequestVote:
    """A candidate asks for a vote, showing how up to date its log is."""

    term: int
    candidate: int
    last_index: int
    last_term: int


@dataclass(frozen=True, slots=True)
class Vote:
    """The answer to ``RequestVote``."""

    term: int
    granted: bool


@dataclass(frozen=True, slots=True)
class AppendEntries:
    """The leader's entries after ``prev_index`` (none: a heartbeat), and its commit index."""

    term: int
    leader: int
    prev_index: int
    prev_term: int
    entries: tuple[Entry, ...]
    leader_commit: int


@dataclass(frozen=True, slots=True)
class AppendReply:
    """Success with the index now matched, or failure with where the leader should retry."""

    term: int
    success: bool
    match_index: int
    conflict_index: int


class Raft(Committee):
    """Crash-fault-tolerant block ordering among ``2f + 1`` nodes; see the module docstring.

    Every node holds a key and any of them may lead, so the validator set is all nodes. As a
    chain rule a Raft block needs only a validator's seal; what makes it final is the majority
    that stored it, which the nodes track and the chain never sees.
    """

    name = "raft"
    behaviours = ()  # crashes are network faults (network.crash); Raft does not survive lies

    def __init__(
        self,
        validators: Sequence[PublicKey],
        params: Params = CLASSROOM,
        *,
        keys: Sequence[PrivateKey] = (),
        election_timeout: tuple[float, float] | None = None,
        heartbeat: float = 0.05,
        block_interval: float = 0.5,
        commit_rule: CommitRule | None = None,
    ) -> None:
        super().__init__(validators, params, keys=keys)
        self.commit_rule = commit_rule
        """Replaces the leader's commit rule when given (lesson 07 plugs a student's in):
        ``commit_rule(match_index, log_terms, current_term, commit_index) -> new commit index``,
        where ``match_index`` lists every node's highest stored index, the leader's first, and
        ``log_terms[i]`` is the term of the entry at index ``i + 1``."""
        if not (isinstance(heartbeat, int | float) and heartbeat > 0):
            raise ValueError(f"heartbeat is seconds > 0, not {heartbeat!r}")
        if not (isinstance(block_interval, int | float) and block_interval > 0):
            raise ValueError(f"block_interval is seconds > 0, not {block_interval!r}")
        self.heartbeat = float(heartbeat)
        self.block_interval = float(block_interval)
        self.election_timeout: tuple[float, float] | None = None
        """(shortest, longest) election timeout in seconds; None: chosen from the link latency
        (``timeouts_for``)."""
        if election_timeout is not None:
            self.election_timeout = self._check_timeouts(election_timeout)

    def _check_timeouts(self, election_timeout: object) -> tuple[float, float]:
        try:
            low, high = (float(x) for x in election_timeout)  # type: ignore[attr-defined]
        except (TypeError, ValueError):
            raise TypeError(
                f"election_timeout is (shortest, longest) in seconds, not {election_timeout!r}"
            ) from None
        if not 0 < low <= high:
            raise ValueError(f"election_timeout needs 0 < shortest <= longest, got {low}, {high}")
        if not self.heartbeat < low:
            raise ValueError(
                f"heartbeat ({self.heartbeat} s) must be shorter than the shortest election "
                f"timeout ({low} s), or followers start elections against a live leader"
            )
        return low, high

    def timeouts_for(self, network: NetworkCore) -> tuple[float, float]:
        """The election timeout range nodes of ``network`` draw from.

        Raft needs the timeout well above a round trip (the paper: broadcast time much shorter
        than the election timeout), or a follower gives up on a leader whose first heartbeat is
        still in flight and elections repeat. So unless ``election_timeout`` was given, it is the
        paper's 150 to 300 ms, stretched to 10 to 20 times the network's mean one-way latency
        when that is longer (1 to 2 s for the default 0.1 s links).
        """
        if self.election_timeout is not None:
            return self.election_timeout
        latency = network.link.latency
        return self._check_timeouts((max(0.15, 10 * latency), max(0.3, 20 * latency)))

    @property
    def majority(self) -> int:
        """Votes or replicas needed: more than half of the nodes."""
        return self.size // 2 + 1

    @classmethod
    def for_network(  # type: ignore[override]
        cls,
        nodes: int,
        *,
        election_timeout: tuple[float, float] | None = None,
        heartbeat: float = 0.05,
        block_interval: float = 0.5,
        commit_rule: CommitRule | None = None,
        params: Params | None = None,
    ) -> Raft:
        """Raft among ``nodes`` nodes, each with a key from ``committee_keys(nodes, "raft")``.

        ``election_timeout`` is the range (seconds) a follower's timeout is drawn from, e.g. the
        paper's ``(0.15, 0.3)``; by default it is chosen from the link latency
        (``timeouts_for``). Keep it well above a round trip, or elections split and repeat.
        """
        if not isinstance(nodes, int) or nodes < 1:
            raise ValueError(f"nodes is the number of nodes, at least 1, not {nodes!r}")
        keys = committee_keys(nodes, "raft")
        return cls(
            [k.public_key for k in keys],
            params if params is not None else CLASSROOM,
            keys=keys,
            election_timeout=election_timeout,
            heartbeat=heartbeat,
            block_interval=block_interval,
            commit_rule=commit_rule,
        )

    def make_node(self, network: NetworkCore, node_id: int, behaviour: str = "honest") -> RaftNode:
        """Node ``node_id``; Raft nodes are all honest (crash them with ``network.crash``)."""
        if behaviour != "honest":
            raise ValueError(
                "Raft tolerates crashes, not lies: use network.crash(node, at=..., restart_at=...)"
            )
        if len(self.keys) <= node_id:
            raise ValueError(f"no key for node {node_id}: use Raft.for_network(nodes)")
        return RaftNode(network, node_id, self)

    def __repr__(self) -> str:
        return f"Raft({self.size} nodes, majority {self.majority})"


class RaftNode(Node):
    """One Raft server whose state machine is its ``chain`` (committed blocks only)."""

    def __init__(self, network: NetworkCore, node_id: int, consensus: Raft) -> None:
        super().__init__(network, node_id)
        self.consensus = consensus
        self.key = consensus.keys[node_id]
        self.chain = Chain(consensus.params, consensus=consensus)
        self.others = [i for i in range(consensus.size) if i != node_id]
        self.timeouts = consensus.timeouts_for(network)
        """The (shortest, longest) election timeout this node draws from."""
        # persistent state (survives a crash): term, vote, log; log[0] is a sentinel so that
        # log[i] is the entry at index i, as in the paper
        self.current_term = 0
        self.voted_for: int | None = None
        self.log: list[Entry] = [Entry(0, None)]
        self.last_applied = 0
        """Index of the last entry applied to the chain (durable with the chain)."""
        self._reset_volatile()

    def _reset_volatile(self) -> None:
        """Volatile state as after a (re)start: a follower that knows no leader."""
        self.role = FOLLOWER
        self.leader: int | None = None
        self.commit_index = self.last_applied
        self.votes: set[int] = set()
        self.next_index: dict[int, int] = {}
        self.match_index: dict[int, int] = {}
        self._deadline = 0.0
        self._election_timer = False

    @property
    def last_index(self) -> int:
        """Index of the last log entry (0 when the log is empty)."""
        return len(self.log) - 1

    @property
    def last_term(self) -> int:
        """Term of the last log entry (0 when the log is empty)."""
        return self.log[-1].term

    # --- timers -----------------------------------------------------------------------------

    def start(self) -> None:
        """Begin as a follower waiting for a leader."""
        self._reset_election_deadline()

    def on_restart(self) -> None:
        """Forget volatile state; keep term, vote, log and the applied chain."""
        self._reset_volatile()
        self._reset_election_deadline()

    def _reset_election_deadline(self) -> None:
        """Push the election deadline a fresh random timeout into the future."""
        low, high = self.timeouts
        self._deadline = self.sim.now + self.network.rng.uniform(low, high)
        # One timer at a time: it re-arms itself when the deadline moved (cheaper than
        # cancelling and rescheduling on every heartbeat).
        if not self._election_timer:
            self._election_timer = True
            self.set_timer(self._deadline - self.sim.now, self._election_check)

    def _election_check(self) -> None:
        if self.role == LEADER:
            self._election_timer = False
            return
        if self.sim.now < self._deadline:
            self.set_timer(self._deadline - self.sim.now, self._election_check)
            return
        self._election_timer = False
        self._start_election()

    # --- elections --------------------------------------------------------------------------

    def _start_election(self) -> None:
        self.role = CANDIDATE
        self.current_term += 1
        self.voted_for = self.id
        self.votes = {self.id}
        self.leader = None
        self.record("election-start", term=self.current_term)
        self._reset_election_deadline()
        request = RequestVote(self.current_term, self.id, self.last_index, self.last_term)
        self.broadcast("request-vote", request, to=self.others)
        self._count_votes()

    def _count_votes(self) -> None:
        if self.role == CANDIDATE and len(self.votes) >= self.consensus.majority:
            self._become_leader()

    def _become_leader(self) -> None:
        self.role = LEADER
        self.leader = self.id
        self.record("elected", term=self.current_term, last_index=self.last_index)
        following = self.last_index + 1
        self.next_index = {peer: following for peer in self.others}
        self.match_index = {peer: 0 for peer in self.others}
        # A no-op of this term lets the leader commit what it inherited (§5.4.2, §8).
        self.log.append(Entry(self.current_term, None))
        self._advance_commit()  # a one-node cluster commits on its own
        self._heartbeat(self.current_term)
        self.set_timer(self.consensus.block_interval, self._propose, self.current_term)

    def _step_down(self, term: int) -> None:
        """A higher term was seen, or a leader of this term: adopt the term and follow."""
        if self.role != FOLLOWER:
            self.record("stepped-down", term=self.current_term, new_term=term, was=self.role)
        if term > self.current_term:
            self.current_term = term
            self.voted_for = None  # a new term, a new vote (never twice in one term)
        self.role = FOLLOWER
        self.leader = None
        self._reset_election_deadline()

    def _on_request_vote(self, request: RequestVote) -> None:
        if request.term > self.current_term:
            self._step_down(request.term)
        up_to_date = (request.last_term, request.last_index) >= (self.last_term, self.last_index)
        granted = (
            request.term == self.current_term
            and self.voted_for in (None, request.candidate)
            and up_to_date
        )
        if granted:
            self.voted_for = request.candidate
            self.record("vote", term=request.term, candidate=request.candidate)
            self._reset_election_deadline()
        self.send(request.candidate, "vote", Vote(self.current_term, granted))

    def _on_vote(self, src: int, vote: Vote) -> None:
        if vote.term > self.current_term:
            self._step_down(vote.term)
        elif vote.granted and vote.term == self.current_term:
            self.votes.add(src)
            self._count_votes()

    # --- replication (leader) ---------------------------------------------------------------

    def _heartbeat(self, term: int) -> None:
        if self.role != LEADER or self.current_term != term:
            return
        for peer in self.others:
            self._send_append(peer)
        self.set_timer(self.consensus.heartbeat, self._heartbeat, term)

    def _send_append(self, peer: int) -> None:
        following = self.next_index[peer]
        prev = following - 1
        entries = tuple(self.log[following : following + _BATCH])
        size = 100 + sum(len(e.block.encoded) for e in entries if e.block is not None)
        message = AppendEntries(
            self.current_term, self.id, prev, self.log[prev].term, entries, self.commit_index
        )
        self.send(peer, "append-entries", message, size=size)

    def _propose(self, term: int) -> None:
        """Every ``block_interval``: seal the next block once everything before it committed."""
        if self.role != LEADER or self.current_term != term:
            return
        self.set_timer(self.consensus.block_interval, self._propose, term)
        if self.commit_index < self.last_index or self.last_applied < self.last_index:
            return  # one uncommitted block at a time
        parent = self.chain.head.header
        timestamp = max(int(self.sim.now * 1000), parent.timestamp + 1)
        block = self.chain.propose_block([], self.key.address, timestamp)
        block = self.consensus.seal(block, self.key)
        self.log.append(Entry(term, block))
        self.network.block_created(self.id, block)
        self.record("proposed", term=term, index=self.last_index, height=block.height)
        for peer in self.others:
            self._send_append(peer)
        self._advance_commit()

    def _on_append_reply(self, src: int, reply: AppendReply) -> None:
        if reply.term > self.current_term:
            self._step_down(reply.term)
            return
        if self.role != LEADER or reply.term != self.current_term:
            return
        if reply.success:
            if reply.match_index > self.match_index[src]:
                self.match_index[src] = reply.match_index
                self._advance_commit()
            self.next_index[src] = max(self.next_index[src], reply.match_index + 1)
        else:
            lowest = self.match_index[src] + 1
            self.next_index[src] = max(lowest, min(reply.conflict_index, self.next_index[src] - 1))
            self._send_append(src)

    def _advance_commit(self) -> None:
        """Commit the highest entry of this term that a majority (leader included) stores."""
        if self.consensus.commit_rule is not None:
            self._advance_commit_by_rule(self.consensus.commit_rule)
            return
        majority = self.consensus.majority
        for index in range(self.last_index, self.commit_index, -1):
            if self.log[index].term != self.current_term:
                break  # terms only fall further back; older entries commit with a newer one
            replicas = 1 + sum(1 for m in self.match_index.values() if m >= index)
            if replicas >= majority:
                self.commit_index = index
                self._apply()
                break

    def _advance_commit_by_rule(self, rule: CommitRule) -> None:
        match = [self.last_index] + [self.match_index.get(peer, 0) for peer in self.others]
        terms = [entry.term for entry in self.log[1:]]
        new = rule(match, terms, self.current_term, self.commit_index)
        if not isinstance(new, int) or not self.commit_index <= new <= self.last_index:
            self.record("error", what=f"commit rule returned {new!r}", term=self.current_term)
            return
        if new > self.commit_index:
            self.commit_index = new
            self._apply()

    # --- replication (follower) -------------------------------------------------------------

    def _on_append_entries(self, src: int, request: AppendEntries) -> None:
        if request.term < self.current_term:
            self.send(src, "append-reply", AppendReply(self.current_term, False, 0, 0))
            return
        if request.term > self.current_term or self.role != FOLLOWER:
            self._step_down(request.term)
        self.leader = request.leader
        self._reset_election_deadline()
        prev = request.prev_index
        if prev > self.last_index:
            reply = AppendReply(self.current_term, False, 0, self.last_index + 1)
            self.send(src, "append-reply", reply)
            return
        if self.log[prev].term != request.prev_term:
            conflict_term = self.log[prev].term
            first = prev
            while first - 1 > self.commit_index and self.log[first - 1].term == conflict_term:
                first -= 1
            self.send(src, "append-reply", AppendReply(self.current_term, False, 0, first))
            return
        index = prev
        for entry in request.entries:
            index += 1
            if index <= self.last_index:
                if self.log[index].term == entry.term:
                    continue  # already have it (log matching: same index and term, same entry)
                if index <= self.commit_index:
                    # Cannot happen in Raft; recorded so a test would catch a broken variant.
                    self.record("error", what="leader overwrote a committed entry", index=index)
                    return
                self.record("truncated", index=index, dropped=self.last_index - index + 1)
                del self.log[index:]
            self.log.append(entry)
            if entry.block is not None:
                self.network.block_seen(self.id, entry.block)
        if request.leader_commit > self.commit_index:
            self.commit_index = min(request.leader_commit, index)
            self._apply()
        self.send(src, "append-reply", AppendReply(self.current_term, True, index, 0))

    def _apply(self) -> None:
        """Add newly committed blocks to the chain, in log order."""
        while self.last_applied < self.commit_index:
            self.last_applied += 1
            entry = self.log[self.last_applied]
            if entry.block is None:
                continue
            try:
                self.chain.add_block(entry.block)
            except BlockkitError as exc:  # a committed block the chain refuses: a protocol bug
                self.record("error", what=f"committed block rejected: {exc}")
                continue
            self.record(
                "committed",
                index=self.last_applied,
                term=entry.term,
                height=entry.block.height,
                hash=entry.block.hash.hex(),
            )

    # --- dispatch ---------------------------------------------------------------------------

    def receive(self, message: Message) -> None:
        """Route one Raft message to its handler."""
        kind = message.kind
        payload: Any = message.payload
        if kind == "append-entries":
            self._on_append_entries(message.src, payload)
        elif kind == "append-reply":
            self._on_append_reply(message.src, payload)
        elif kind == "request-vote":
            self._on_request_vote(payload)
        elif kind == "vote":
            self._on_vote(message.src, payload)

    def __repr__(self) -> str:
        state = "up" if self.up else "crashed"
        return (
            f"RaftNode({self.id}, {self.role}, term {self.current_term}, "
            f"log {self.last_index}, committed {self.commit_index}, {state})"
        )
