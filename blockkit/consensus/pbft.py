"""PBFT: 3f+1 replicas agree on each block in three signed rounds, and survive f Byzantine ones.

Practical Byzantine Fault Tolerance (Castro and Liskov, OSDI 1999; TOCS 2002) orders requests
among ``n = 3f + 1`` replicas of which at most ``f`` may be arbitrarily faulty: silent, lying,
sending different things to different replicas. Here a request is a block and its sequence number
is its height. In view ``v`` the *primary* (replica ``v mod n``) proposes; the others are backups.

Normal case, for sequence number ``seq`` (every message signed by its sender)::

    primary ──PRE-PREPARE(v, seq, d, block)──▶ backups     d = block hash
    backup  ──PREPARE(v, seq, d, i)─────────▶ everyone    once the block checks out on its tip
            prepared  = pre-prepare + 2f matching prepares from different backups
    replica ──COMMIT(v, seq, d, i)──────────▶ everyone
            committed = prepared + 2f+1 matching commits  → add the block to the chain, in order

Why ``2f+1``: any two sets of ``2f+1`` replicas out of ``3f+1`` share at least ``f+1``, so at
least one honest replica; an honest replica prepares one digest per ``(v, seq)``, so two digests
can never both be prepared in the same view, and a committed block is known to an honest member
of every future quorum. With ``f+1`` silent replicas only ``2f`` remain: nothing can commit.

Every ``checkpoint_interval`` blocks a replica multicasts CHECKPOINT(seq, block hash); ``2f+1``
matching ones make a *stable checkpoint* (a proof), the log at or below it is dropped, and the
watermarks move: pre-prepares are accepted only for ``h < seq <= h + window``.

If the primary is faulty, backups stop seeing progress; after ``view_timeout`` they multicast
VIEW-CHANGE(v+1, stable checkpoint and its proof, P = their prepared certificates above it). The
new primary collects ``2f+1`` valid ones and multicasts NEW-VIEW(v+1, V, O), where O re-issues a
pre-prepare for every sequence number prepared in V (the certificate from the highest view wins).
Replicas recompute O from V and refuse a NEW-VIEW that does not match. Timeouts double with each
failed view change.

One departure from the paper, forced by ``seq = height``: the paper fills a gap in O with a
*null request*, but a block chain has no empty heights. An honest replica prepares a block only
once it has executed the block's parent, so a certificate for ``seq`` implies ``seq - 1`` was
committed and therefore appears in any 2f+1 view changes: with at most ``f`` faults there are no
gaps. If one appears anyway, O stops at it (nothing above a gap can commit: its parent is not).

A replica that missed commits (a partition, a crash, lost messages) catches up by asking peers for
committed blocks with their *commit certificates* (2f+1 signed commits), which it verifies before
adding the blocks: nothing a peer says is taken on trust.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import TYPE_CHECKING, Any

from blockkit.blocks import Block
from blockkit.chain import Chain
from blockkit.consensus.committee import Committee, committee_keys, verify_signature
from blockkit.encoding import encode
from blockkit.errors import InvalidBlock, OrphanBlock
from blockkit.keys import PrivateKey, PublicKey
from blockkit.network.sim import Message, Node, Timer
from blockkit.params import CLASSROOM, Params

if TYPE_CHECKING:
    import pandas as pd

    from blockkit.network.sim import NetworkCore

__all__ = [
    "PBFT",
    "Checkpoint",
    "NewView",
    "PBFTReplica",
    "PreparedCertificate",
    "ViewChange",
    "Vote",
    "compute_new_view_o",
    "pbft_expected_messages",
    "pbft_message_stats",
]

TAG = "blockkit/pbft/v1"
VOTE_SIZE = 150  # bytes on the wire of a small signed message (4 ints, a hash, a signature)
FETCH_BATCH = 20  # blocks per catch-up reply
MAX_BUFFERED = 4_096  # messages kept for a view this replica has not entered yet
MAX_BACKOFF = 6  # timeouts double at most this many times (64 times view_timeout)


# --- messages ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Vote:
    """A signed PRE-PREPARE, PREPARE, COMMIT or CHECKPOINT: ``kind(view, seq, digest)`` by
    ``replica``. A pre-prepare carries the block it names (the signature covers its hash)."""

    kind: str
    """``"pre-prepare"``, ``"prepare"``, ``"commit"`` or ``"checkpoint"``."""
    view: int
    """The view it was sent in (0 for checkpoints, which outlive views)."""
    seq: int
    """Sequence number: the height of the block."""
    digest: bytes
    """The block's hash."""
    replica: int
    """Who sent and signed it."""
    signature: bytes = b""
    """``replica``'s signature over ``body``."""
    block: Block | None = field(default=None, compare=False, repr=False)
    """The block itself (pre-prepares only); receivers check ``block.hash == digest``."""

    @cached_property
    def body(self) -> bytes:
        """The canonical bytes the signature covers (every field but signature and block)."""
        return encode([TAG, self.kind, self.view, self.seq, self.digest, self.replica])

    def to_canonical(self) -> list[Any]:
        """``[body, signature]``: how a vote is embedded in a larger signed message."""
        return [self.body, self.signature]


@dataclass(frozen=True)
class PreparedCertificate:
    """Proof that a block was prepared: its pre-prepare and 2f matching prepares from backups."""

    pre_prepare: Vote
    prepares: tuple[Vote, ...]

    @property
    def view(self) -> int:
        """The view the block was prepared in."""
        return self.pre_prepare.view

    @property
    def seq(self) -> int:
        """The sequence number (height) it was prepared for."""
        return self.pre_prepare.seq

    def to_canonical(self) -> list[Any]:
        """Plain value for signing inside a VIEW-CHANGE."""
        return [self.pre_prepare.to_canonical(), [p.to_canonical() for p in self.prepares]]


Checkpoint = Vote
"""A CHECKPOINT is a ``Vote`` of kind ``"checkpoint"`` with view 0."""


@dataclass(frozen=True)
class ViewChange:
    """VIEW-CHANGE(new_view, stable checkpoint + proof, prepared certificates) by ``replica``."""

    new_view: int
    stable_seq: int
    """The sender's last stable checkpoint."""
    stable_digest: bytes
    """The block hash at ``stable_seq``."""
    checkpoint_proof: tuple[Vote, ...]
    """2f+1 signed CHECKPOINT messages for it (empty for the genesis checkpoint, seq 0)."""
    prepared: tuple[PreparedCertificate, ...]
    """Its prepared certificates above ``stable_seq``, one per sequence number."""
    replica: int
    signature: bytes = b""

    @cached_property
    def body(self) -> bytes:
        """The canonical bytes the signature covers."""
        return encode(
            [
                TAG,
                "view-change",
                self.new_view,
                self.stable_seq,
                self.stable_digest,
                [c.to_canonical() for c in self.checkpoint_proof],
                [c.to_canonical() for c in self.prepared],
                self.replica,
            ]
        )

    def to_canonical(self) -> list[Any]:
        """``[body, signature]``, for embedding in a NEW-VIEW."""
        return [self.body, self.signature]


@dataclass(frozen=True)
class NewView:
    """NEW-VIEW(view, V = 2f+1 view changes, O = re-issued pre-prepares) by the new primary."""

    view: int
    view_changes: tuple[ViewChange, ...]
    pre_prepares: tuple[Vote, ...]
    replica: int
    signature: bytes = b""

    @cached_property
    def body(self) -> bytes:
        """The canonical bytes the signature covers."""
        return encode(
            [
                TAG,
                "new-view",
                self.view,
                [vc.to_canonical() for vc in self.view_changes],
                [pp.to_canonical() for pp in self.pre_prepares],
                self.replica,
            ]
        )


def _well_formed(vote: Vote) -> bool:
    """Field types of a vote (a forger may put anything in them)."""
    return (
        type(vote.view) is int
        and type(vote.seq) is int
        and type(vote.digest) is bytes
        and type(vote.signature) is bytes
    )


def _size_of_view_change(vc: ViewChange) -> int:
    blocks = sum(len(c.pre_prepare.block.encoded) for c in vc.prepared if c.pre_prepare.block)
    return len(vc.body) + 64 + blocks


def _vote_size(vote: Vote) -> int:
    return VOTE_SIZE + (len(vote.block.encoded) if vote.block is not None else 0)


# --- validity checks shared by every replica ---------------------------------------------------


def compute_new_view_o(
    view_changes: Iterable[ViewChange],
) -> tuple[int, ViewChange | None, list[tuple[int, bytes, Block | None]]]:
    """What a NEW-VIEW must re-issue, computed from its view changes (any replica can check it).

    Returns ``(min_s, source, O)``: ``min_s`` is the highest stable checkpoint among them,
    ``source`` the view change that proves it, and ``O`` a list of ``(seq, digest, block)`` for
    ``min_s < seq <= max_s``, taking at each ``seq`` the certificate prepared in the highest
    view. O stops at the first sequence number no certificate covers (see the module docstring).
    """
    view_changes = list(view_changes)
    source = max(view_changes, key=lambda vc: (vc.stable_seq, -vc.replica), default=None)
    min_s = source.stable_seq if source is not None else 0
    best: dict[int, PreparedCertificate] = {}
    for vc in view_changes:
        for cert in vc.prepared:
            if cert.seq > min_s and (cert.seq not in best or cert.view > best[cert.seq].view):
                best[cert.seq] = cert
    reissue: list[tuple[int, bytes, Block | None]] = []
    seq = min_s + 1
    while seq in best:
        pp = best[seq].pre_prepare
        reissue.append((seq, pp.digest, pp.block))
        seq += 1
    return min_s, source, reissue


# --- the protocol object ----------------------------------------------------------------------


class PBFT(Committee):
    """PBFT among a fixed committee of ``3f+1`` (or more) replicas; see the module docstring.

    As a chain rule it is the committee's: a block is valid when a replica sealed it. What makes
    it final is the three-round protocol the replicas (``PBFTReplica``) run on the network.
    """

    name = "pbft"
    behaviours = ("silent", "equivocate", "byzantine")

    def __init__(
        self,
        validators: Sequence[PublicKey],
        params: Params = CLASSROOM,
        *,
        keys: Sequence[PrivateKey] = (),
        f: int | None = None,
        block_interval: float = 1.0,
        view_timeout: float | None = None,
        checkpoint_interval: int = 10,
        window: int | None = None,
    ) -> None:
        super().__init__(validators, params, keys=keys)
        n = self.size
        if f is None:
            f = (n - 1) // 3
        if not isinstance(f, int) or isinstance(f, bool) or f < 0:
            raise ValueError(f"f is the number of faults to tolerate, an int >= 0, not {f!r}")
        if n < 3 * f + 1:
            raise ValueError(
                f"PBFT needs n >= 3f + 1 replicas: {n} replicas tolerate at most "
                f"f = {(n - 1) // 3}; use more replicas or a smaller f"
            )
        if not (isinstance(block_interval, int | float) and block_interval > 0):
            raise ValueError(f"block_interval is seconds > 0, not {block_interval!r}")
        if view_timeout is None:
            view_timeout = 3.0 * block_interval + 3.0
        if not (isinstance(view_timeout, int | float) and view_timeout > 0):
            raise ValueError(f"view_timeout is seconds > 0, not {view_timeout!r}")
        if not isinstance(checkpoint_interval, int) or checkpoint_interval < 1:
            raise ValueError(
                f"checkpoint_interval is a block count >= 1, not {checkpoint_interval!r}"
            )
        if window is None:
            window = 2 * checkpoint_interval
        if not isinstance(window, int) or window < checkpoint_interval:
            raise ValueError(
                f"window (high minus low watermark) must be an int >= checkpoint_interval "
                f"({checkpoint_interval}), or replicas would stop before the next checkpoint; "
                f"got {window!r}"
            )
        self.f = f
        self.block_interval = float(block_interval)
        self.view_timeout = float(view_timeout)
        self.checkpoint_interval = checkpoint_interval
        self.window = window
        self.retransmit_interval = min(self.block_interval + 1.0, self.view_timeout / 3)
        """After this long without progress a replica repeats its recent messages and asks peers
        for committed blocks (PBFT assumes lost messages are retransmitted); a fixed period,
        while ``view_timeout`` doubles, so a lost vote costs seconds, not a view change."""

    @classmethod
    def for_network(  # type: ignore[override]
        cls,
        nodes: int,
        *,
        f: int | None = None,
        block_interval: float = 1.0,
        view_timeout: float | None = None,
        checkpoint_interval: int = 10,
        window: int | None = None,
        params: Params | None = None,
    ) -> PBFT:
        """PBFT for ``nodes`` replicas with reproducible keys ``pbft-replica-0``, ``-1``, …

        ``f`` defaults to ``(nodes - 1) // 3``; ``block_interval`` is the time between proposals,
        ``view_timeout`` how long a replica waits for progress before it suspects the primary
        (default ``3 * block_interval + 3`` s), ``checkpoint_interval`` the blocks between
        checkpoints and ``window`` the distance between the watermarks (default twice that).
        """
        keys = committee_keys(nodes, "pbft-replica", "ed25519")
        return cls(
            [k.public_key for k in keys],
            params if params is not None else CLASSROOM,
            keys=keys,
            f=f,
            block_interval=block_interval,
            view_timeout=view_timeout,
            checkpoint_interval=checkpoint_interval,
            window=window,
        )

    @property
    def quorum(self) -> int:
        """``2f + 1``: matching votes needed to prepare (with the pre-prepare) or commit."""
        return 2 * self.f + 1

    def primary(self, view: int) -> int:
        """The primary of ``view``: replica ``view mod n``."""
        return view % self.size

    def make_node(
        self, network: NetworkCore, node_id: int, behaviour: str = "honest"
    ) -> PBFTReplica:
        """Replica ``node_id``; ``behaviour`` is ``"honest"`` or one of ``behaviours``."""
        if not self.keys or len(self.keys) != self.size:
            raise ValueError("PBFT.make_node needs every replica's key: use PBFT.for_network")
        classes: dict[str, type[PBFTReplica]] = {
            "honest": PBFTReplica,
            "silent": SilentReplica,
            "equivocate": EquivocatingReplica,
            "byzantine": ByzantineReplica,
        }
        try:
            cls = classes[behaviour]
        except KeyError:
            raise ValueError(
                f"PBFT replicas know behaviours {', '.join(classes)}, not {behaviour!r}"
            ) from None
        return cls(network, node_id, self)

    def __repr__(self) -> str:
        return (
            f"PBFT(n={self.size}, f={self.f}, block_interval={self.block_interval}, "
            f"view_timeout={self.view_timeout}, checkpoint_interval={self.checkpoint_interval})"
        )


# --- one replica ------------------------------------------------------------------------------


@dataclass(slots=True)
class _Slot:
    """What a replica knows about one ``(view, seq)``: the pre-prepare and the votes."""

    view: int
    seq: int
    pre_prepare: Vote | None = None
    prepares: dict[bytes, dict[int, Vote]] = field(default_factory=dict)
    commits: dict[bytes, dict[int, Vote]] = field(default_factory=dict)
    accepted: bool = False  # the block checked out and (for a backup) a PREPARE was sent
    prepared: bool = False
    committed: bool = False
    rejected: bool = False  # the pre-prepared block is invalid


class PBFTReplica(Node):
    """An honest PBFT replica. ``chain`` holds only committed blocks, in sequence order.

    For lessons: ``view``, ``changing`` (waiting for a NEW-VIEW), ``stable_checkpoint``,
    ``slot_info(seq)`` (the pre-prepare, prepare and commit senders it holds for a height) and
    ``log_df()`` (the same for every height still in its log).
    """

    behaviour = "honest"

    def __init__(self, network: NetworkCore, node_id: int, consensus: PBFT) -> None:
        super().__init__(network, node_id)
        self.consensus = consensus
        self.key = consensus.keys[node_id]
        self.n = consensus.size
        self.f = consensus.f
        self.quorum = consensus.quorum
        sim = network.sim
        self.chain = Chain(consensus.params, consensus=consensus, clock=lambda: int(sim.now))
        self.view = 0
        """The current view (while ``changing``: the view it is trying to move to)."""
        self.changing = False
        """True between sending VIEW-CHANGE and accepting a NEW-VIEW."""
        self.slots: dict[tuple[int, int], _Slot] = {}
        self.prepared_certs: dict[int, PreparedCertificate] = {}
        self.commit_certs: dict[int, tuple[Vote, ...]] = {}
        """Commit certificate of every block in the chain (served to replicas catching up)."""
        self.ready: dict[int, tuple[Block, tuple[Vote, ...]]] = {}
        self.stable_seq = 0
        self.stable_digest = self.chain.genesis.hash
        self.stable_proof: tuple[Vote, ...] = ()
        self.checkpoint_votes: dict[int, dict[bytes, dict[int, Vote]]] = {}
        self.my_checkpoint: Vote | None = None
        self.view_changes: dict[int, dict[int, ViewChange]] = {}
        self.my_view_change: ViewChange | None = None
        self.new_views: dict[int, NewView] = {}
        self.truncated = 0
        """Log entries removed by garbage collection so far."""
        self._buffer: list[Message] = []
        self._backoff = 0
        self._timer: Timer | None = None
        self._retransmit_after = consensus.retransmit_interval
        self._last_progress = 0.0
        self._last_retransmit = -float("inf")
        self._propose_timer: Timer | None = None
        self._last_proposal = -float("inf")
        self._fetch_until = -1.0
        self._handlers = {
            "pre-prepare": self._on_vote,
            "prepare": self._on_vote,
            "commit": self._on_vote,
            "checkpoint": self._on_checkpoint_message,
            "view-change": self._on_view_change_message,
            "new-view": self._on_new_view_message,
            "fetch": self._on_fetch,
            "blocks": self._on_blocks,
        }

    # --- small helpers -------------------------------------------------------------------------

    @property
    def primary(self) -> int:
        """The primary of the current view."""
        return self.view % self.n

    @property
    def is_primary(self) -> bool:
        """True when this replica is the primary of its current view."""
        return self.view % self.n == self.id

    @property
    def stable_checkpoint(self) -> tuple[int, bytes]:
        """``(seq, block hash)`` of the last stable checkpoint: the low watermark."""
        return self.stable_seq, self.stable_digest

    def _timeout(self) -> float:
        return self.consensus.view_timeout * 2 ** min(self._backoff, MAX_BACKOFF)

    def _valid(self, vote: Vote | ViewChange | NewView) -> bool:
        """The signature is the claimed replica's (memoised: each message is checked once)."""
        replica = vote.replica
        return verify_signature(self.consensus.validators[replica], vote.body, vote.signature)

    def _sign(self, message: Any) -> Any:
        return replace(message, signature=self.key.sign(message.body))

    def _vote(
        self, kind: str, view: int, seq: int, digest: bytes, block: Block | None = None
    ) -> Vote:
        return self._sign(Vote(kind, view, seq, digest, self.id, block=block))

    def _multicast(
        self, kind: str, payload: Any, size: int, to: Iterable[int] | None = None
    ) -> None:
        """Send one signed object to every peer: signed once, the same object for everyone."""
        self.broadcast(kind, payload, size, to)

    def _reject(self, message: Message, reason: str, **details: Any) -> None:
        self.record("rejected", kind=message.kind, sender=message.src, reason=reason, **details)

    def _slot(self, view: int, seq: int) -> _Slot:
        slot = self.slots.get((view, seq))
        if slot is None:
            slot = self.slots[(view, seq)] = _Slot(view, seq)
        return slot

    # --- life cycle ----------------------------------------------------------------------------

    def start(self) -> None:
        """Arm the timers; the primary of view 0 schedules its first proposal."""
        self._arm()
        self.set_timer(self._retransmit_after / 2, self._tick)
        self._maybe_propose()

    def on_restart(self) -> None:
        """The log, checkpoints and chain are on disk; timers are not: set them again, catch up."""
        self._timer = self._propose_timer = None
        self._arm()
        self.set_timer(self._retransmit_after / 2, self._tick)
        self._fetch(force=True)
        self._maybe_propose()

    def on_heal(self) -> None:
        """After a partition, ask whether the others went on without us."""
        self._fetch(force=True)

    def _progress(self) -> None:
        """Something moved (a block executed, a view installed): reset the retransmission clock."""
        self._last_progress = self.now

    def _arm(self) -> None:
        """(Re)start the view-change timer: ``view_timeout``, doubled per failed view change."""
        if self._timer is not None:
            self._timer.cancel()
        self._timer = self.set_timer(self._timeout(), self._on_timeout)

    def _on_timeout(self) -> None:
        self._timer = None
        if not self.changing:
            self._start_view_change(self.view + 1)  # no progress: suspect the primary
        elif len(self.view_changes.get(self.view, {})) >= self.quorum:
            # 2f+1 replicas wanted this view and its primary still sent no valid NEW-VIEW.
            self._start_view_change(self.view + 1)
        else:
            self._arm()  # too few view changes yet: keep waiting (and retransmitting)

    def _tick(self) -> None:
        """Every half retransmission period: after a while without progress, messages may have
        been lost (PBFT assumes they are retransmitted). Repeat our recent ones, ask for blocks.
        The period is fixed, unlike the view-change timeout, so recovery stays quick."""
        self.set_timer(self._retransmit_after / 2, self._tick)
        wait = self._retransmit_after
        if self.now - self._last_progress >= wait and self.now - self._last_retransmit >= wait:
            self._last_retransmit = self.now
            self._retransmit()
            self._fetch(force=True)

    def _retransmit(self) -> None:
        if self.changing:
            vc = self.my_view_change
            if vc is not None:
                self._multicast("view-change", vc, _size_of_view_change(vc))
            return
        height = self.chain.height
        for seq in (height, height + 1):
            slot = self.slots.get((self.view, seq))
            if slot is None or slot.pre_prepare is None:
                continue
            pp = slot.pre_prepare
            if pp.replica == self.id and seq > height:
                self._multicast("pre-prepare", pp, _vote_size(pp))
            for kind, votes in (("prepare", slot.prepares), ("commit", slot.commits)):
                mine = votes.get(pp.digest, {}).get(self.id)
                if mine is not None:
                    self._multicast(kind, mine, VOTE_SIZE)
        if self.my_checkpoint is not None and self.my_checkpoint.seq > self.stable_seq:
            self._multicast("checkpoint", self.my_checkpoint, VOTE_SIZE)

    # --- receiving -----------------------------------------------------------------------------

    def receive(self, message: Message) -> None:
        """Dispatch one message by kind; anything unknown or malformed is rejected and logged."""
        handler = self._handlers.get(message.kind)
        if handler is None:
            self._reject(message, "unknown-kind")
            return
        handler(message)

    def _check_sender(self, message: Message, signed: Any, cls: type) -> bool:
        """Structure, sender and signature of a signed message; logs the reason when it fails."""
        if type(signed) is not cls:
            self._reject(message, "malformed")
            return False
        replica = signed.replica
        if type(replica) is not int or not 0 <= replica < self.n:
            self._reject(message, "unknown-sender", claimed=repr(replica))
            return False
        if cls is Vote and not _well_formed(signed):
            self._reject(message, "malformed")
            return False
        if not self._valid(signed):
            self._reject(message, "bad-signature", claimed=replica)
            return False
        return True

    def _on_vote(self, message: Message) -> None:
        vote: Vote = message.payload
        if not self._check_sender(message, vote, Vote):
            return
        if vote.kind != message.kind:
            self._reject(message, "malformed")
            return
        if vote.replica != message.src:
            self._reject(message, "sender-mismatch", claimed=vote.replica)
            return
        view = vote.view
        if view < self.view:
            self._reject(message, "wrong-view", view=view, current=self.view)
            return
        if view > self.view or self.changing:
            # For a view we have not entered yet (its NEW-VIEW may still be on its way).
            if len(self._buffer) < MAX_BUFFERED:
                self._buffer.append(message)
            return
        seq = vote.seq
        if seq <= self.stable_seq:
            return  # below the low watermark: already settled by a stable checkpoint
        if seq > self.stable_seq + self.consensus.window:
            self._reject(message, "outside-watermarks", seq=seq, low=self.stable_seq)
            return
        if vote.kind == "pre-prepare":
            self._on_pre_prepare(message, vote)
            return
        if vote.kind == "prepare" and vote.replica == view % self.n:
            self._reject(message, "primary-cannot-prepare")
            return
        slot = self._slot(view, seq)
        pp = slot.pre_prepare
        if pp is not None and pp.digest != vote.digest:
            # Not the block the primary pre-prepared to us: a wrong vote, or proof that the
            # primary equivocated. Either way it cannot count towards our quorums.
            self._reject(message, "digest-mismatch", seq=seq, view=view)
            return
        if vote.kind == "prepare":
            slot.prepares.setdefault(vote.digest, {})[vote.replica] = vote
            self._check_prepared(slot)
        else:
            slot.commits.setdefault(vote.digest, {})[vote.replica] = vote
            self._check_committed(slot, vote.digest)

    def _on_pre_prepare(self, message: Message, pp: Vote) -> None:
        if pp.replica != pp.view % self.n:
            self._reject(message, "not-primary", view=pp.view)
            return
        block = pp.block
        if not isinstance(block, Block) or block.hash != pp.digest or block.height != pp.seq:
            self._reject(message, "digest-mismatch", seq=pp.seq)
            return
        slot = self._slot(pp.view, pp.seq)
        if slot.pre_prepare is not None:
            if slot.pre_prepare.digest != pp.digest:
                self._reject(message, "conflicting-pre-prepare", seq=pp.seq, view=pp.view)
            return
        self._take_pre_prepare(slot, pp)

    def _take_pre_prepare(self, slot: _Slot, pp: Vote) -> None:
        slot.pre_prepare = pp
        assert pp.block is not None
        self.network.block_seen(self.id, pp.block)
        self.record("pre-prepare", view=slot.view, seq=slot.seq, digest=pp.digest.hex()[:12])
        self._try_accept(slot)

    def _try_accept(self, slot: _Slot) -> None:
        """Prepare the pre-prepared block once it can be checked against the committed chain."""
        if slot.accepted or slot.rejected or slot.pre_prepare is None:
            return
        pp = slot.pre_prepare
        block = pp.block
        assert block is not None
        height = self.chain.height
        if slot.seq > height + 1:
            return  # keep it: it is checked once its parent is committed
        if slot.seq <= height:
            # Already executed here: vote for it again (the new view needs it) if it is ours.
            if self.chain.block_at(slot.seq).hash != pp.digest:
                slot.rejected = True
                self.record(
                    "rejected",
                    kind="pre-prepare",
                    sender=pp.replica,
                    reason="conflicts-with-committed",
                    seq=slot.seq,
                )
                return
        else:
            try:
                self.chain.check_block(block)
            except InvalidBlock as exc:
                slot.rejected = True
                self.record(
                    "rejected",
                    kind="pre-prepare",
                    sender=pp.replica,
                    reason=f"invalid-block:{exc.reason}",
                    seq=slot.seq,
                )
                return
        slot.accepted = True
        if pp.replica != self.id:
            prepare = self._vote("prepare", slot.view, slot.seq, pp.digest)
            slot.prepares.setdefault(pp.digest, {})[self.id] = prepare
            self._multicast("prepare", prepare, VOTE_SIZE)
        self._check_prepared(slot)

    def _check_prepared(self, slot: _Slot) -> None:
        if slot.prepared or not slot.accepted:
            return
        pp = slot.pre_prepare
        assert pp is not None
        votes = slot.prepares.get(pp.digest, {})
        if len(votes) < 2 * self.f:
            return
        slot.prepared = True
        cert = PreparedCertificate(pp, tuple(votes[r] for r in sorted(votes)[: 2 * self.f]))
        known = self.prepared_certs.get(slot.seq)
        if known is None or known.view <= slot.view:
            self.prepared_certs[slot.seq] = cert
        self.record("prepared", view=slot.view, seq=slot.seq, digest=pp.digest.hex()[:12])
        commit = self._vote("commit", slot.view, slot.seq, pp.digest)
        slot.commits.setdefault(pp.digest, {})[self.id] = commit
        self._multicast("commit", commit, VOTE_SIZE)
        self._check_committed(slot, pp.digest)

    def _check_committed(self, slot: _Slot, digest: bytes) -> None:
        if slot.committed:
            return
        votes = slot.commits.get(digest)
        if votes is None or len(votes) < self.quorum:
            return
        cert = tuple(votes[r] for r in sorted(votes)[: self.quorum])
        pp = slot.pre_prepare
        if slot.prepared and pp is not None and pp.digest == digest:
            slot.committed = True
            if slot.seq > self.chain.height:
                self.record("committed", view=slot.view, seq=slot.seq, digest=digest.hex()[:12])
            self._deliver(slot.seq, pp.block, cert)  # type: ignore[arg-type]
        elif pp is not None and pp.digest == digest and slot.seq > self.chain.height:
            # 2f+1 signed commits are a commit certificate even where we did not prepare (our
            # prepares were lost): the block is final, add it once its turn comes.
            slot.committed = True
            self.record("committed", view=slot.view, seq=slot.seq, digest=digest.hex()[:12])
            self._deliver(slot.seq, pp.block, cert)  # type: ignore[arg-type]
        elif slot.seq > self.chain.height:
            self._fetch()  # committed elsewhere and we lack the block: ask for it

    # --- executing -----------------------------------------------------------------------------

    def _deliver(self, seq: int, block: Block, cert: tuple[Vote, ...]) -> None:
        """A committed block: execute it now if it is next, else once its predecessors are in."""
        if seq <= self.chain.height:
            if self.chain.block_at(seq).hash != block.hash:
                self.record("safety-violation", seq=seq)
            return
        self.ready.setdefault(seq, (block, cert))
        self._execute()
        if self.ready and min(self.ready) > self.chain.height + 1:
            self._fetch()

    def _execute(self) -> None:
        chain = self.chain
        progressed = False
        while chain.height + 1 in self.ready:
            seq = chain.height + 1
            block, cert = self.ready.pop(seq)
            try:
                chain.add_block(block)
            except (InvalidBlock, OrphanBlock) as exc:
                reason = getattr(exc, "reason", "orphan")
                self.record(
                    "rejected",
                    kind="commit",
                    sender=None,
                    reason=f"committed-block-invalid:{reason}",
                    seq=seq,
                )
                break
            self.commit_certs[seq] = cert
            progressed = True
            if seq % self.consensus.checkpoint_interval == 0:
                self._send_checkpoint(seq, block.hash)
        if not progressed:
            return
        for seq in [s for s in self.ready if s <= chain.height]:
            del self.ready[seq]
        self._backoff = 0
        self._progress()
        if not self.changing:
            self._arm()
            slot = self.slots.get((self.view, chain.height + 1))
            if slot is not None:
                self._try_accept(slot)
            self._maybe_propose()

    # --- proposing (primary) -------------------------------------------------------------------

    def _maybe_propose(self) -> None:
        if not self.is_primary or self.changing or not self.up:
            return
        seq = self.chain.height + 1
        if seq <= self.stable_seq or seq > self.stable_seq + self.consensus.window:
            return  # behind the stable checkpoint (catching up) or at the high watermark
        if any(view == self.view and s >= seq for view, s in self.slots):
            return  # a proposal for this height (or a re-issued one above it) is under way
        wait = self._last_proposal + self.consensus.block_interval - self.now
        if wait > 1e-9:
            if self._propose_timer is None:
                self._propose_timer = self.set_timer(wait, self._propose_due)
            return
        self._propose(seq)

    def _propose_due(self) -> None:
        self._propose_timer = None
        self._maybe_propose()

    def _new_block(self, timestamp_bump: int = 0) -> Block:
        head = self.chain.head.header
        timestamp = max(head.timestamp + 1, int(self.now)) + timestamp_bump
        block = self.chain.propose_block([], self.key.address, timestamp)
        return self.consensus.seal(block, self.key)

    def _propose(self, seq: int) -> None:
        self._last_proposal = self.now
        block = self._new_block()
        self.network.block_created(self.id, block)
        pp = self._vote("pre-prepare", self.view, seq, block.hash, block=block)
        slot = self._slot(self.view, seq)
        slot.pre_prepare = pp
        slot.accepted = True
        self.record("pre-prepare", view=self.view, seq=seq, digest=block.hash.hex()[:12])
        self._multicast("pre-prepare", pp, _vote_size(pp))
        self._check_prepared(slot)  # with f = 0 (fewer than 4 replicas) nothing more is needed

    # --- checkpoints ---------------------------------------------------------------------------

    def _send_checkpoint(self, seq: int, digest: bytes) -> None:
        vote = self._vote("checkpoint", 0, seq, digest)
        self.my_checkpoint = vote
        self._multicast("checkpoint", vote, VOTE_SIZE)
        self._add_checkpoint(vote)

    def _on_checkpoint_message(self, message: Message) -> None:
        vote = message.payload
        if not self._check_sender(message, vote, Vote):
            return
        if vote.kind != "checkpoint" or vote.view != 0:
            self._reject(message, "malformed")
            return
        if vote.replica != message.src:
            self._reject(message, "sender-mismatch", claimed=vote.replica)
            return
        self._add_checkpoint(vote)

    def _add_checkpoint(self, vote: Vote) -> None:
        seq = vote.seq
        if seq <= self.stable_seq:
            return
        votes = self.checkpoint_votes.setdefault(seq, {}).setdefault(vote.digest, {})
        votes[vote.replica] = vote
        if len(votes) >= self.f + 1 and seq > self.chain.height:
            self._fetch()  # at least one honest replica is past us
        if len(votes) >= self.quorum:
            proof = tuple(votes[r] for r in sorted(votes)[: self.quorum])
            self._make_stable(seq, vote.digest, proof)

    def _make_stable(self, seq: int, digest: bytes, proof: tuple[Vote, ...]) -> None:
        """A proven checkpoint: move the low watermark and garbage-collect the log below it."""
        if seq <= self.stable_seq:
            return
        if seq <= self.chain.height and self.chain.block_at(seq).hash != digest:
            self.record("safety-violation", seq=seq, what="stable checkpoint differs")
            return
        self.stable_seq, self.stable_digest, self.stable_proof = seq, digest, proof
        before = len(self.slots) + len(self.prepared_certs) + len(self.checkpoint_votes)
        self.slots = {key: s for key, s in self.slots.items() if key[1] > seq}
        self.prepared_certs = {s: c for s, c in self.prepared_certs.items() if s > seq}
        self.checkpoint_votes = {s: v for s, v in self.checkpoint_votes.items() if s > seq}
        removed = before - len(self.slots) - len(self.prepared_certs) - len(self.checkpoint_votes)
        self.truncated += removed
        self.record("checkpoint", seq=seq, digest=digest.hex()[:12], truncated=removed)
        if seq > self.chain.height:
            self._fetch()
        self._maybe_propose()  # the high watermark moved

    def _valid_checkpoint_proof(self, seq: int, digest: bytes, proof: Sequence[Vote]) -> bool:
        if seq == 0:
            return digest == self.chain.genesis.hash
        replicas = set()
        for vote in proof:
            if (
                type(vote) is not Vote
                or vote.kind != "checkpoint"
                or vote.seq != seq
                or vote.digest != digest
                or type(vote.replica) is not int
                or not 0 <= vote.replica < self.n
                or not self._valid(vote)
            ):
                return False
            replicas.add(vote.replica)
        return len(replicas) >= self.quorum

    # --- view change ---------------------------------------------------------------------------

    def _start_view_change(self, new_view: int) -> None:
        """Stop accepting messages of the current view and vote to move to ``new_view``."""
        if new_view <= self.view and (self.changing or new_view < self.view):
            return
        if new_view == self.view and not self.changing:
            return
        self.view = new_view
        self.changing = True
        self._backoff += 1
        self._progress()
        if self._propose_timer is not None:
            self._propose_timer.cancel()
            self._propose_timer = None
        certs = tuple(self.prepared_certs[s] for s in sorted(self.prepared_certs))
        vc = self._sign(
            ViewChange(
                new_view,
                self.stable_seq,
                self.stable_digest,
                self.stable_proof,
                certs,
                self.id,
            )
        )
        self.my_view_change = vc
        self.record("view-change", view=new_view, stable=self.stable_seq, prepared=len(certs))
        self._multicast("view-change", vc, _size_of_view_change(vc))
        self._arm()
        self._add_view_change(vc)

    def _view_change_problem(self, vc: ViewChange) -> str | None:
        """Why ``vc`` is not a valid VIEW-CHANGE (None when it is): checked by every receiver."""
        if type(vc.new_view) is not int or vc.new_view < 1:
            return "bad-view"
        if not self._valid_checkpoint_proof(vc.stable_seq, vc.stable_digest, vc.checkpoint_proof):
            return "bad-checkpoint-proof"
        seen: set[int] = set()
        window = self.consensus.window
        for cert in vc.prepared:
            if type(cert) is not PreparedCertificate:
                return "malformed-certificate"
            problem = self._certificate_problem(cert, vc.new_view)
            if problem is not None:
                return problem
            if not vc.stable_seq < cert.seq <= vc.stable_seq + window or cert.seq in seen:
                return "certificate-out-of-range"
            seen.add(cert.seq)
        return None

    def _certificate_problem(self, cert: PreparedCertificate, new_view: int) -> str | None:
        pp = cert.pre_prepare
        if type(pp) is not Vote or pp.kind != "pre-prepare" or type(pp.view) is not int:
            return "malformed-certificate"
        if not 0 <= pp.view < new_view:
            return "certificate-from-future-view"
        primary = pp.view % self.n
        if pp.replica != primary or not self._valid(pp):
            return "certificate-pre-prepare-not-signed-by-primary"
        if not isinstance(pp.block, Block) or pp.block.hash != pp.digest:
            return "certificate-digest-mismatch"
        backups = set()
        for p in cert.prepares:
            if (
                type(p) is not Vote
                or p.kind != "prepare"
                or (p.view, p.seq, p.digest) != (pp.view, pp.seq, pp.digest)
                or type(p.replica) is not int
                or not 0 <= p.replica < self.n
                or p.replica == primary
            ):
                return "certificate-prepare-mismatch"
            if not self._valid(p):
                return "certificate-prepare-bad-signature"
            backups.add(p.replica)
        if len(backups) < 2 * self.f:
            return "certificate-too-few-prepares"
        return None

    def _on_view_change_message(self, message: Message) -> None:
        vc = message.payload
        if not self._check_sender(message, vc, ViewChange):
            return
        if vc.replica != message.src:
            self._reject(message, "sender-mismatch", claimed=vc.replica)
            return
        problem = self._view_change_problem(vc)
        if problem is not None:
            self._reject(message, f"bad-view-change:{problem}", view=vc.new_view)
            return
        if vc.new_view < self.view or (vc.new_view == self.view and not self.changing):
            # The sender is behind. If we hold the NEW-VIEW it is waiting for, pass it on.
            nv = self.new_views.get(vc.new_view)
            if nv is not None:
                self.send(message.src, "new-view", nv, len(nv.body) + 64)
            return
        self._add_view_change(vc)

    def _add_view_change(self, vc: ViewChange) -> None:
        self.view_changes.setdefault(vc.new_view, {})[vc.replica] = vc
        # f+1 replicas want a later view: at least one honest one timed out, so join them.
        later = {
            replica
            for view, senders in self.view_changes.items()
            if view > self.view
            for replica in senders
        }
        if len(later) >= self.f + 1:
            self._start_view_change(min(v for v in self.view_changes if v > self.view))
            return
        if (
            self.changing
            and vc.new_view == self.view
            and self.view % self.n == self.id
            and self.view not in self.new_views
            and len(self.view_changes[self.view]) >= self.quorum
        ):
            self._send_new_view(self.view)

    def _send_new_view(self, view: int) -> None:
        senders = self.view_changes[view]
        chosen = sorted(senders, key=lambda r: (r != self.id, r))[: self.quorum]
        vcs = tuple(senders[r] for r in sorted(chosen))
        _, _, reissue = compute_new_view_o(vcs)
        pps = tuple(
            self._vote("pre-prepare", view, seq, digest, block=block)
            for seq, digest, block in reissue
        )
        nv = self._sign(NewView(view, vcs, pps, self.id))
        self._multicast("new-view", nv, len(nv.body) + 64)
        self._install_new_view(nv)

    def _new_view_problem(self, nv: NewView) -> str | None:
        if type(nv.view) is not int or nv.view < 1 or nv.replica != nv.view % self.n:
            return "not-primary"
        senders: set[int] = set()
        for vc in nv.view_changes:
            if type(vc) is not ViewChange or vc.new_view != nv.view:
                return "view-change-for-another-view"
            if type(vc.replica) is not int or not 0 <= vc.replica < self.n or not self._valid(vc):
                return "view-change-bad-signature"
            problem = self._view_change_problem(vc)
            if problem is not None:
                return f"view-change-invalid:{problem}"
            senders.add(vc.replica)
        if len(senders) < self.quorum or len(senders) != len(nv.view_changes):
            return "too-few-view-changes"
        _, _, expected = compute_new_view_o(nv.view_changes)
        if len(expected) != len(nv.pre_prepares):
            return "new-view-mismatch"
        for (seq, digest, _block), pp in zip(expected, nv.pre_prepares, strict=True):
            if (
                type(pp) is not Vote
                or pp.kind != "pre-prepare"
                or (pp.view, pp.seq, pp.digest, pp.replica) != (nv.view, seq, digest, nv.replica)
                or pp.block is None
                or pp.block.hash != digest
            ):
                return "new-view-mismatch"
            if not self._valid(pp):
                return "new-view-pre-prepare-bad-signature"
        return None

    def _on_new_view_message(self, message: Message) -> None:
        nv = message.payload
        if not self._check_sender(message, nv, NewView):
            return
        if nv.view < self.view or (nv.view == self.view and not self.changing):
            return  # stale or already installed (new views are forwarded, so duplicates happen)
        problem = self._new_view_problem(nv)
        if problem is not None:
            self._reject(message, problem, view=nv.view)
            return
        self._install_new_view(nv)

    def _install_new_view(self, nv: NewView) -> None:
        """Enter ``nv.view``: adopt its checkpoint, take its re-issued pre-prepares, go on."""
        min_s, source, _ = compute_new_view_o(nv.view_changes)
        self.view = nv.view
        self.changing = False
        self._progress()
        self.new_views[nv.view] = nv
        self.view_changes = {v: s for v, s in self.view_changes.items() if v > nv.view}
        self.slots = {key: s for key, s in self.slots.items() if key[0] >= nv.view}
        self.record("new-view", view=nv.view, primary=nv.replica, reissued=len(nv.pre_prepares))
        if source is not None and min_s > self.stable_seq:
            self._make_stable(min_s, source.stable_digest, source.checkpoint_proof)
        for pp in nv.pre_prepares:
            if pp.seq <= self.stable_seq:
                continue
            slot = self._slot(nv.view, pp.seq)
            if slot.pre_prepare is None:
                if pp.replica == self.id:
                    slot.pre_prepare = pp
                    slot.accepted = True
                else:
                    self._take_pre_prepare(slot, pp)
        self._arm()
        buffered, self._buffer = self._buffer, []
        for message in buffered:
            if message.payload.view >= self.view:
                self.receive(message)
        if self.stable_seq > self.chain.height:
            self._fetch()
        self._maybe_propose()

    # --- catching up ---------------------------------------------------------------------------

    def _fetch(self, force: bool = False) -> None:
        """Ask every peer for committed blocks after our height (at most one request at a time)."""
        if not force and self.now < self._fetch_until:
            return
        self._fetch_until = self.now + self.consensus.view_timeout / 4
        self._multicast("fetch", self.chain.height + 1, 50)

    def _on_fetch(self, message: Message) -> None:
        start = message.payload
        if type(start) is not int or start < 1:
            self._reject(message, "malformed")
            return
        height = self.chain.height
        if start > height:
            return
        items = tuple(
            (self.chain.block_at(h), self.commit_certs[h])
            for h in range(start, min(height, start + FETCH_BATCH - 1) + 1)
            if h in self.commit_certs
        )
        if items:
            size = sum(len(b.encoded) + VOTE_SIZE * len(c) for b, c in items)
            self.send(message.src, "blocks", items, size)

    def _commit_cert_problem(self, block: Block, cert: Sequence[Vote]) -> str | None:
        if not isinstance(block, Block) or not isinstance(cert, tuple) or not cert:
            return "malformed"
        first = cert[0]
        replicas = set()
        for vote in cert:
            if (
                type(vote) is not Vote
                or vote.kind != "commit"
                or vote.view != first.view
                or vote.seq != block.height
                or vote.digest != block.hash
                or type(vote.replica) is not int
                or not 0 <= vote.replica < self.n
            ):
                return "commit-certificate-mismatch"
            if not self._valid(vote):
                return "commit-certificate-bad-signature"
            replicas.add(vote.replica)
        if len(replicas) < self.quorum:
            return "commit-certificate-too-few"
        return None

    def _on_blocks(self, message: Message) -> None:
        items = message.payload
        if not isinstance(items, tuple):
            self._reject(message, "malformed")
            return
        added = False
        for item in items:
            if not isinstance(item, tuple) or len(item) != 2:
                self._reject(message, "malformed")
                return
            block, cert = item
            problem = self._commit_cert_problem(block, cert)
            if problem is not None:
                self._reject(message, problem)
                return
            if block.height <= self.chain.height:
                continue
            self.network.block_seen(self.id, block)
            if block.height not in self.ready:
                self.ready[block.height] = (block, cert)
                added = True
        if added:
            before = self.chain.height
            self._execute()
            if self.chain.height > before:
                self.record("caught-up", height=self.chain.height, source=message.src)
            if len(items) >= FETCH_BATCH:
                self._fetch_until = -1.0  # there may be more: ask again (once, not per reply)
                self._fetch()

    # --- for lessons ---------------------------------------------------------------------------

    def slot_info(self, seq: int, view: int | None = None) -> dict[str, Any]:
        """What this replica holds for height ``seq`` in ``view`` (default: its current view)."""
        view = self.view if view is None else view
        slot = self.slots.get((view, seq))
        if slot is None:
            return {
                "view": view,
                "seq": seq,
                "in_log": False,
                "committed_here": seq <= self.chain.height,
            }
        digest = slot.pre_prepare.digest if slot.pre_prepare is not None else None
        return {
            "view": view,
            "seq": seq,
            "in_log": True,
            "digest": digest.hex()[:12] if digest else None,
            "prepares": sorted(slot.prepares.get(digest, {})) if digest else [],
            "commits": sorted(slot.commits.get(digest, {})) if digest else [],
            "prepared": slot.prepared,
            "committed": slot.committed,
            "committed_here": seq <= self.chain.height,
        }

    def log_df(self) -> pd.DataFrame:
        """One row per ``(view, seq)`` still in the log (above the stable checkpoint)."""
        import pandas as pd

        rows = [self.slot_info(seq, view) for view, seq in sorted(self.slots)]
        return pd.DataFrame(rows)

    def __repr__(self) -> str:
        state = "up" if self.up else "crashed"
        mode = " changing" if self.changing else ""
        return (
            f"PBFTReplica({self.id}, {self.behaviour}, {state}, view={self.view}{mode}, "
            f"height={self.chain.height}, stable={self.stable_seq})"
        )


# --- faulty replicas --------------------------------------------------------------------------


class SilentReplica(PBFTReplica):
    """Says nothing at all, ever (a crashed or disconnected replica; as primary, never proposes)."""

    behaviour = "silent"

    def start(self) -> None:
        """Sets no timers."""

    def receive(self, message: Message) -> None:
        """Ignores everything."""

    def on_restart(self) -> None:
        """Stays silent."""

    def on_heal(self) -> None:
        """Stays silent."""


class EquivocatingReplica(PBFTReplica):
    """As primary, sends two different valid blocks for one sequence number, each to half the
    backups, then goes quiet on them (so neither half can commit without a view change). As a
    backup, prepares and commits every digest it sees for a sequence number, not just the first.
    """

    behaviour = "equivocate"

    def __init__(self, network: NetworkCore, node_id: int, consensus: PBFT) -> None:
        super().__init__(network, node_id, consensus)
        self._voted: set[tuple[str, int, int, bytes]] = set()

    def _propose(self, seq: int) -> None:
        self._last_proposal = self.now
        first, second = self._new_block(), self._new_block(timestamp_bump=1)
        peers = [p for p in self.network.peers[self.id] if p != self.id]
        half = len(peers) // 2
        for block, group in ((first, peers[:half]), (second, peers[half:])):
            self.network.block_created(self.id, block)
            pp = self._vote("pre-prepare", self.view, seq, block.hash, block=block)
            self._multicast("pre-prepare", pp, _vote_size(pp), to=group)
        # Remember the height as proposed (so it does not propose again), but hold no pre-prepare
        # of its own: it never prepares or commits either block.
        slot = self._slot(self.view, seq)
        slot.rejected = True
        self.record("equivocated", view=self.view, seq=seq)

    def _retransmit(self) -> None:
        """Repeats nothing."""

    def receive(self, message: Message) -> None:
        """Vote for whatever digest shows up, then carry on as an honest replica would."""
        vote = message.payload
        if (
            message.kind in ("pre-prepare", "prepare")
            and type(vote) is Vote
            and vote.view == self.view
            and not self.changing
            and not self.is_primary
            and self.stable_seq < vote.seq <= self.stable_seq + self.consensus.window
        ):
            for kind in ("prepare", "commit"):
                key = (kind, vote.view, vote.seq, vote.digest)
                if key not in self._voted:
                    self._voted.add(key)
                    own = self._vote(kind, vote.view, vote.seq, vote.digest)
                    PBFTReplica._multicast(self, kind, own, VOTE_SIZE)
        super().receive(message)

    def _multicast(
        self, kind: str, payload: Any, size: int, to: Iterable[int] | None = None
    ) -> None:
        # Its honest half would vote a second time for the digest it already voted for.
        if kind in ("prepare", "commit") and type(payload) is Vote and payload.replica == self.id:
            key = (kind, payload.view, payload.seq, payload.digest)
            if key in self._voted:
                return
            self._voted.add(key)
        super()._multicast(kind, payload, size, to)


class ByzantineReplica(PBFTReplica):
    """Lies wherever it can and never helps: votes for wrong digests, forges and garbles messages,
    proposes invalid blocks, claims prepared certificates it does not have, sends NEW-VIEWs that
    do not match their view changes, checkpoints wrong states, and answers no catch-up request.

    It runs an honest replica's bookkeeping underneath (so it knows what to lie about) but every
    message it sends passes through ``_multicast``, which corrupts it.
    """

    behaviour = "byzantine"

    def __init__(self, network: NetworkCore, node_id: int, consensus: PBFT) -> None:
        super().__init__(network, node_id, consensus)
        self.rng = random.Random(network.rng.random())

    def _garbage(self) -> bytes:
        return self.rng.getrandbits(256).to_bytes(32, "big")

    def _on_fetch(self, message: Message) -> None:
        """Never helps a replica catch up."""

    def _retransmit(self) -> None:
        """Repeats nothing."""

    def _multicast(
        self, kind: str, payload: Any, size: int, to: Iterable[int] | None = None
    ) -> None:
        send = super()._multicast
        if kind in ("prepare", "commit", "checkpoint"):
            vote: Vote = payload
            # A vote for a digest nobody proposed,
            send(kind, self._sign(replace(vote, digest=self._garbage())), size, to)
            if kind == "checkpoint":
                return
            # one in another replica's name (signed with its own key: a forgery),
            other = (self.id + 1) % self.n
            forged = replace(vote, replica=other, signature=b"")
            send(kind, replace(forged, signature=self.key.sign(forged.body)), size, to)
            # one with a garbled signature, one from a replica that does not exist,
            send(kind, replace(vote, signature=self._garbage() * 2), size, to)
            fake = Vote(vote.kind, vote.view, vote.seq, vote.digest, self.n + 7)
            send(kind, replace(fake, signature=self._garbage() * 2), size, to)
            # and plain garbage.
            send(kind, b"\x00garbage", 16, to)
        elif kind == "pre-prepare":
            pp: Vote = payload
            assert pp.block is not None
            if self.rng.random() < 0.5:
                # A correctly sealed block whose state root is wrong: check_block rejects it.
                header = replace(pp.block.header, state_root=self._garbage())
                block = self.consensus.seal(Block(header, pp.block.transactions), self.key)
                send(kind, self._vote(kind, pp.view, pp.seq, block.hash, block=block), size, to)
            else:
                # A pre-prepare whose digest is not the block it carries.
                send(
                    kind,
                    self._vote(kind, pp.view, pp.seq, self._garbage(), block=pp.block),
                    size,
                    to,
                )
        elif kind == "view-change":
            vc: ViewChange = payload
            send(kind, self._lying_view_change(vc), size, to)
        elif kind == "new-view":
            nv: NewView = payload
            block = self._new_block()
            seq = self.chain.height + 1
            pps = (self._vote("pre-prepare", nv.view, seq, block.hash, block=block),)
            send(kind, self._sign(replace(nv, pre_prepares=pps)), size, to)
        # fetch requests and replies: it asks for blocks like anyone, but never answers.
        elif kind == "fetch":
            send(kind, payload, size, to)

    def _lying_view_change(self, vc: ViewChange) -> ViewChange:
        """Claim a prepared certificate for a block nobody prepared, with forged prepares."""
        seq = vc.stable_seq + 1
        view = max(vc.new_view - 1, 0)
        primary = view % self.n
        block = self._new_block()
        pp = Vote("pre-prepare", view, seq, block.hash, primary, self._garbage() * 2, block)
        if primary == self.id:
            pp = self._sign(pp)
        prepares = tuple(
            Vote("prepare", view, seq, block.hash, r, self._garbage() * 2)
            for r in range(self.n)
            if r != primary
        )[: 2 * self.f]
        others = tuple(c for c in vc.prepared if c.seq != seq)
        lie = PreparedCertificate(pp, prepares)
        return self._sign(replace(vc, prepared=(lie, *others), signature=b""))


# --- measuring --------------------------------------------------------------------------------


def pbft_expected_messages(
    nodes: int, blocks: int, checkpoint_interval: int = 10
) -> dict[str, int]:
    """Messages the normal case sends for ``blocks`` blocks among ``nodes`` honest replicas.

    Per block: the primary sends ``n-1`` pre-prepares, each of ``n-1`` backups ``n-1`` prepares,
    each of ``n`` replicas ``n-1`` commits: ``(n-1)(2n)`` = O(n²). Every ``checkpoint_interval``
    blocks each replica multicasts a checkpoint: ``n(n-1)`` more.
    """
    n = nodes
    checkpoints = blocks // checkpoint_interval
    counts = {
        "pre-prepare": blocks * (n - 1),
        "prepare": blocks * (n - 1) * (n - 1),
        "commit": blocks * n * (n - 1),
        "checkpoint": checkpoints * n * (n - 1),
    }
    counts["total"] = sum(counts.values())
    return counts


def pbft_message_stats(network: Any, as_frame: bool = True) -> pd.DataFrame | dict[str, Any]:
    """Messages sent per committed block, in total and per kind (lost ones included).

    ``blocks`` is the height every honest replica has reached (the lowest honest height).
    """
    honest = [node for node in network.nodes if node.honest]
    blocks = min((node.chain.height for node in honest), default=0)
    counts = dict(sorted(network.message_counts.items()))
    total = sum(counts.values())
    per_block = {
        kind: (count / blocks if blocks else float("nan")) for kind, count in counts.items()
    }
    result = {
        "blocks": blocks,
        "messages": total,
        "per_block": total / blocks if blocks else float("nan"),
        "by_kind": counts,
        "per_block_by_kind": per_block,
    }
    if not as_frame:
        return result
    import pandas as pd

    rows = [
        {"kind": kind, "messages": count, "per_block": per_block[kind]}
        for kind, count in counts.items()
    ]
    rows.append({"kind": "total", "messages": total, "per_block": result["per_block"]})
    frame = pd.DataFrame(rows, columns=["kind", "messages", "per_block"]).set_index("kind")
    frame.attrs["blocks"] = blocks
    return frame
