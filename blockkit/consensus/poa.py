"""Proof of authority: a fixed list of known authorities take turns to seal blocks, one per slot.

Time is cut into slots of ``period`` seconds. Header timestamps count **milliseconds** of
(simulated) time, so a block's slot is ``timestamp // (period * 1000)``, and the authority whose
turn it is in slot ``s`` is ``validators[s % n]`` (the "Aura" rotation of OpenEthereum and
Substrate). A block is valid when it is sealed — signed over ``Header.seal_message`` — by the
authority in turn for its slot, and its slot comes after its parent's. There is no work to do and
no lottery: who may write next is public, so a missing block means a missing (crashed) authority,
whose slot is simply skipped.

What proof of authority cannot stop by rules alone is an authority that signs *two* different
blocks for its own slot and shows each to half of the network (equivocation). Both blocks are
valid; the network forks until the next authority builds on one of them. But the two signed
headers are evidence that names the culprit, so honest nodes record it (``detected``) and a
consortium can remove the authority: permissioned chains replace "costly to cheat" with
"cheaters are known".

On the simulated network (``blockkit.network.Network("poa", ...)``) every node runs a ``Chain``
with this rule; authorities seal at the start of their slots, everyone relays the blocks it
accepts. Faults: ``"equivocate"``, ``"out-of-turn"`` and ``"intruder"`` (see ``PoANode``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from blockkit.blocks import Block, Header
from blockkit.chain import Chain
from blockkit.consensus.base import HeaderLookup
from blockkit.consensus.committee import Committee, committee_keys, verify_signature
from blockkit.errors import InvalidBlock, OrphanBlock
from blockkit.keys import Address, PrivateKey, PublicKey
from blockkit.network.sim import Message, NetworkCore, Node
from blockkit.params import CLASSROOM, Params
from blockkit.transactions import Transaction

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["PoANode", "ProofOfAuthority", "detected"]

#: How many blocks a node keeps while it fetches their missing parents.
_ORPHAN_LIMIT = 256
#: Blocks sent in one answer to a request for a missing block (it and its ancestors).
_SYNC_BATCH = 32
#: Seconds before the same missing block is asked for again (the request may have been lost).
_ASK_AGAIN = 0.5


class ProofOfAuthority(Committee):
    """Authorities seal blocks in turn, one slot of ``period`` seconds each (Aura rotation).

    >>> keys = committee_keys(3, "poa-demo")
    >>> poa = ProofOfAuthority([k.public_key for k in keys], period=5.0, keys=keys)
    >>> chain = Chain(consensus=poa)
    >>> block = poa.propose(chain, slot=1)           # sealed by validators[1], stamped 5000 ms
    >>> chain.add_block(block).status
    'extended'

    ``authority_nodes`` (set by ``for_network``) maps validator ``i`` to the network node that
    holds its key; the other nodes are observers that follow the chain without sealing.
    """

    name = "poa"
    behaviours = ("equivocate", "out-of-turn", "intruder")

    def __init__(
        self,
        validators: Sequence[PublicKey],
        params: Params = CLASSROOM,
        *,
        period: float = 5.0,
        keys: Sequence[PrivateKey] = (),
        authority_nodes: Sequence[int] | None = None,
    ) -> None:
        super().__init__(validators, params, keys=keys)
        if not isinstance(period, int | float) or isinstance(period, bool) or not period > 0:
            raise ValueError(f"period is the slot length in seconds (> 0), not {period!r}")
        period_ms = round(period * 1000)
        if period_ms < 1:
            raise ValueError(f"period {period!r} s is shorter than one millisecond")
        self.period = float(period)
        self.period_ms = period_ms
        """Slot length in milliseconds: the unit header timestamps count in."""
        if authority_nodes is None:
            authority_nodes = range(len(self.validators))
        self.authority_nodes: tuple[int, ...] = tuple(authority_nodes)
        if len(self.authority_nodes) != len(self.validators):
            raise ValueError("authority_nodes names one node per validator")

    # --- slots and turns --------------------------------------------------------------------

    def slot_of(self, timestamp: int) -> int:
        """The slot a timestamp (milliseconds) falls in."""
        return timestamp // self.period_ms

    def slot_start(self, slot: int) -> int:
        """The first millisecond of ``slot``: the timestamp an in-turn authority seals with."""
        return slot * self.period_ms

    def in_turn(self, slot: int) -> int:
        """Index (into ``validators``) of the authority whose turn ``slot`` is."""
        return slot % len(self.validators)

    def check_turn(self, chain: HeaderLookup, parent: Header, header: Header, index: int) -> None:
        """Validator ``index`` may seal ``header`` only in its own slot, after the parent's slot."""
        slot = self.slot_of(header.timestamp)
        parent_slot = self.slot_of(parent.timestamp)
        if slot <= parent_slot:
            raise InvalidBlock(
                "slot-not-after-parent",
                f"the block is in slot {slot}, its parent in slot {parent_slot}: "
                "one block per slot, and slots only move forward",
            )
        expected = self.in_turn(slot)
        if index != expected:
            raise InvalidBlock(
                "out-of-turn",
                f"slot {slot} belongs to validator {expected}, but validator {index} sealed it",
            )

    # --- building blocks --------------------------------------------------------------------

    def propose(
        self,
        chain: Chain,
        slot: int,
        transactions: Sequence[Transaction] = (),
        *,
        key: PrivateKey | None = None,
        offset_ms: int = 0,
    ) -> Block:
        """A block on ``chain``'s tip for ``slot``, sealed by ``key`` (default: the in-turn key).

        ``offset_ms`` moves the timestamp inside the slot (an equivocating authority uses it to
        sign a second, different block for the same slot). The block is not added anywhere.
        """
        if not isinstance(slot, int) or slot < 0:
            raise ValueError(f"slot is a slot number >= 0, not {slot!r}")
        if not 0 <= offset_ms < self.period_ms:
            raise ValueError(f"offset_ms must stay inside the slot: 0 to {self.period_ms - 1}")
        if key is None:
            wanted = self.validators[self.in_turn(slot)].address
            matching = [k for k in self.keys if k.address == wanted]
            if not matching:
                raise ValueError(f"no key held for validator {self.in_turn(slot)}; pass key=...")
            key = matching[0]
        block = chain.propose_block(
            list(transactions), key.address, self.slot_start(slot) + offset_ms
        )
        return self.seal(block, key)

    # --- on the network ---------------------------------------------------------------------

    @classmethod
    def for_network(  # type: ignore[override]
        cls,
        nodes: int,
        *,
        authorities: int | Sequence[int] | None = None,
        period: float = 5.0,
        params: Params | None = None,
    ) -> ProofOfAuthority:
        """Proof of authority for ``nodes`` nodes; ``authorities`` are the sealing nodes.

        ``authorities`` is a count (nodes ``0 … k-1``) or a list of node ids; by default every
        node is one. The others are observers: they follow and check the chain. Every node gets
        a key from ``committee_keys(nodes, "poa-authority")``, so an observer turned intruder has
        a real key of its own to forge with.
        """
        if not isinstance(nodes, int) or nodes < 1:
            raise ValueError(f"nodes is the number of nodes, at least 1, not {nodes!r}")
        if authorities is None:
            chosen = list(range(nodes))
        elif isinstance(authorities, int) and not isinstance(authorities, bool):
            if not 1 <= authorities <= nodes:
                raise ValueError(f"authorities is a count from 1 to {nodes}, not {authorities}")
            chosen = list(range(authorities))
        else:
            chosen = list(authorities)
            if not chosen or any(not isinstance(a, int) or not 0 <= a < nodes for a in chosen):
                raise ValueError(
                    f"authorities lists node ids from 0 to {nodes - 1} (at least one), "
                    f"not {authorities!r}"
                )
            if len(set(chosen)) != len(chosen):
                raise ValueError("a node appears twice in authorities")
        keys = committee_keys(nodes, "poa-authority")
        return cls(
            [keys[i].public_key for i in chosen],
            params if params is not None else CLASSROOM,
            period=period,
            keys=keys,
            authority_nodes=chosen,
        )

    def make_node(self, network: NetworkCore, node_id: int, behaviour: str = "honest") -> PoANode:
        """Node ``node_id``: an authority if it holds a validator's key, else an observer."""
        if len(self.keys) <= node_id:
            raise ValueError(
                f"no key for node {node_id}: build the network with Network('poa', nodes=...) "
                "or give ProofOfAuthority one key per node"
            )
        if behaviour == "intruder" and node_id in self.authority_nodes:
            raise ValueError(
                f"an intruder is an observer, but node {node_id} is an authority; choose fewer "
                "authorities, e.g. Network('poa', nodes=5, authorities=4, behaviours={4: "
                "'intruder'})"
            )
        if behaviour in ("equivocate", "out-of-turn") and node_id not in self.authority_nodes:
            raise ValueError(f"behaviour {behaviour!r} needs an authority; node {node_id} is not")
        return PoANode(network, node_id, self, behaviour)

    def detected(self, network: NetworkCore) -> pd.DataFrame:
        """Misbehaviour the honest nodes of ``network`` caught; see ``detected``."""
        return detected(network)

    def __repr__(self) -> str:
        return f"ProofOfAuthority({self.size} authorities, period={self.period:g} s)"


class PoANode(Node):
    """A node of a proof-of-authority network: seals in its slots, checks and relays blocks.

    Behaviours:

    - ``"honest"``: at the start of each slot that is its turn, seal a block on its tip and send
      it to every peer; relay every block it accepts; record why it rejects the others.
    - ``"equivocate"``: in its own slots, seal **two** different blocks and send one to each half
      of its peers (the culprit is caught by its own two signatures).
    - ``"out-of-turn"``: seal a block in every slot, its own or not.
    - ``"intruder"``: an observer that forges blocks in every slot, alternately sealed with its
      own (non-authority) key and claiming the in-turn authority as proposer.

    Every node keeps the first validly sealed header it saw per (authority, slot); a second,
    different one is an ``"equivocation"`` event carrying both headers as evidence.
    """

    def __init__(
        self, network: NetworkCore, node_id: int, consensus: ProofOfAuthority, behaviour: str
    ) -> None:
        super().__init__(network, node_id)
        self.behaviour = behaviour
        self.consensus = consensus
        self.key = consensus.keys[node_id]
        self.index: int | None = (
            consensus.authority_nodes.index(node_id)
            if node_id in consensus.authority_nodes
            else None
        )
        """This node's position in the validator list, or None for an observer."""
        self.chain = Chain(consensus.params, consensus=consensus, clock=self._clock_ms)
        self.rejected: list[tuple[float, str, bytes]] = []
        """(time, reason, block hash) of every block this node refused."""
        self.evidence: dict[int, list[tuple[Header, Header]]] = {}
        """Equivocation evidence per validator index: pairs of conflicting sealed headers."""
        self._sealed: dict[tuple[int, int], Header] = {}
        self._seen: set[bytes] = set()
        self._refused: set[bytes] = set()
        self._orphans: dict[bytes, list[tuple[Block, int, float]]] = {}
        self._orphan_parent: dict[bytes, bytes] = {}
        self._asked: dict[bytes, float] = {}
        self._orphan_count = 0
        self._forgeries = 0

    def _clock_ms(self) -> int:
        # The chain rejects blocks stamped too far ahead of this clock ("time-too-new"); header
        # timestamps count milliseconds here, so Params.max_future_drift reads as milliseconds.
        return int(self.sim.now * 1000)

    # --- timers -----------------------------------------------------------------------------

    def start(self) -> None:
        """Wait for the first slot this node seals in."""
        self._schedule_next()

    def on_restart(self) -> None:
        """The chain survived on disk; forget orphans, ask peers for their tips, resume turns."""
        self._orphans.clear()
        self._orphan_parent.clear()
        self._orphan_count = 0
        self.broadcast("get-head")
        self._schedule_next()

    def _seals_every_slot(self) -> bool:
        return self.behaviour in ("out-of-turn", "intruder")

    def _schedule_next(self, after: int | None = None) -> None:
        """Set a timer for the start of the next slot after ``after`` (default: the current
        slot) in which this node will seal."""
        consensus = self.consensus
        if self.index is None and not self._seals_every_slot():
            return  # an observer never seals
        if after is None:
            after = round(self.sim.now * 1000) // consensus.period_ms
        slot = after + 1
        if not self._seals_every_slot():
            n = consensus.size
            slot += (self.index - slot) % n  # type: ignore[operator]
        delay = consensus.slot_start(slot) / 1000 - self.sim.now
        self.set_timer(max(0.0, delay), self._on_slot, slot)

    def _on_slot(self, slot: int) -> None:
        self._schedule_next(after=slot)
        consensus = self.consensus
        tip_slot = consensus.slot_of(self.chain.head.header.timestamp)
        if tip_slot >= slot:
            self.record("skip-slot", slot=slot, why="tip is not older than this slot")
            return
        self._forget_old_orphans()
        if self._orphan_count and self.honest:
            # Still fetching missing blocks: sealing on an old tip would only make a fork.
            self.record("skip-slot", slot=slot, why="catching up")
            return
        if self.behaviour == "intruder":
            self._forge(slot)
        elif self.behaviour == "equivocate":
            self._equivocate(slot)
        else:
            block = consensus.propose(self.chain, slot, key=self.key)
            in_turn = consensus.in_turn(slot) == self.index
            self._publish(block, slot, add=in_turn)

    def _publish(
        self, block: Block, slot: int, *, add: bool = True, to: Sequence[int] | None = None
    ) -> None:
        """Keep ``block`` (if ``add``) and send it to ``to``, or to every peer."""
        self.network.block_created(self.id, block)
        self._seen.add(block.hash)
        self.record("sealed", height=block.height, slot=slot, hash=block.hash.hex())
        if add:
            self.chain.add_block(block)
        self.broadcast("block", block, size=len(block.encoded), to=to)

    def _equivocate(self, slot: int) -> None:
        consensus = self.consensus
        first = consensus.propose(self.chain, slot, key=self.key)
        second = consensus.propose(self.chain, slot, key=self.key, offset_ms=1)
        peers = list(self.network.peers[self.id])
        half = len(peers) // 2
        self._publish(first, slot, to=peers[:half])
        self._publish(second, slot, add=False, to=peers[half:])

    def _forge(self, slot: int) -> None:
        """Forge a block for ``slot``: own key as proposer, or the in-turn authority's name."""
        consensus = self.consensus
        self._forgeries += 1
        if self._forgeries % 2:
            block = consensus.propose(self.chain, slot, key=self.key)
        else:
            claimed = consensus.validators[consensus.in_turn(slot)].address
            unsealed = self.chain.propose_block([], claimed, consensus.slot_start(slot))
            # Signed with the intruder's own key: a seal that does not verify as the claimed one.
            header = replace(unsealed.header, seal=self.key.sign(unsealed.header.seal_message))
            block = replace(unsealed, header=header)
        self._publish(block, slot, add=False)

    # --- receiving --------------------------------------------------------------------------

    def receive(self, message: Message) -> None:
        """Handle blocks (gossip and replies) and requests for blocks."""
        kind = message.kind
        if kind == "block" or kind == "block-reply":
            self._on_block(message.payload, message.src, relay=kind == "block")
        elif kind == "blocks-reply":
            for block in message.payload:
                self._on_block(block, message.src, relay=False)
        elif kind == "get-block":
            self._send_blocks(message.src, message.payload)
        elif kind == "get-head":
            head = self.chain.head
            if head.height > 0:
                self.send(message.src, "block-reply", head, size=len(head.encoded))

    def _send_blocks(self, dst: int, block_hash: bytes) -> None:
        """Send the asked-for block with up to ``_SYNC_BATCH - 1`` ancestors, oldest first: a
        node that fell behind catches up in a few round trips, not one per block."""
        if block_hash not in self.chain:
            return
        blocks = [self.chain.block(block_hash)]
        while len(blocks) < _SYNC_BATCH and blocks[-1].height > 1:
            blocks.append(self.chain.block(blocks[-1].parent))
        blocks.reverse()
        self.send(dst, "blocks-reply", tuple(blocks), size=sum(len(b.encoded) for b in blocks))

    def _on_block(self, block: Block, src: int, *, relay: bool) -> None:
        block_hash = block.hash
        if block_hash not in self._seen:
            self._seen.add(block_hash)
            self.network.block_seen(self.id, block)
            self._note_seal(block.header)
        elif block_hash in self.chain or block_hash in self._orphan_parent:
            return  # a copy of a block already handled (or waiting for its parent)
        elif block_hash in self._refused:
            return
        self._try_add(block, src, relay)

    def _try_add(self, block: Block, src: int, relay: bool) -> None:
        try:
            self.chain.add_block(block)
        except OrphanBlock:
            self._keep_orphan(block, src)
            return
        except InvalidBlock as exc:
            self._reject(block, src, exc.reason)
            return
        if relay:
            self.broadcast(
                "block",
                block,
                size=len(block.encoded),
                to=[p for p in self.network.peers[self.id] if p != src],
            )
        for child, child_src, _ in self._orphans.pop(block.hash, []):
            self._orphan_count -= 1
            self._orphan_parent.pop(child.hash, None)
            self._try_add(child, child_src, relay)

    def _forget_old_orphans(self) -> None:
        """Drop orphans whose parents did not come within two slots (a sender that lied)."""
        oldest = self.now - 2 * self.consensus.period
        for parent, waiting in list(self._orphans.items()):
            kept = [item for item in waiting if item[2] >= oldest]
            if len(kept) != len(waiting):
                for item in waiting:
                    if item[2] < oldest:
                        self._orphan_parent.pop(item[0].hash, None)
                self._orphan_count -= len(waiting) - len(kept)
                if kept:
                    self._orphans[parent] = kept
                else:
                    del self._orphans[parent]

    def _keep_orphan(self, block: Block, src: int) -> None:
        """Hold ``block`` until its parent arrives, and ask the sender for that parent."""
        if self._orphan_count >= _ORPHAN_LIMIT or self._authority_of(block.header) is None:
            return  # only blocks an authority really sealed are worth fetching parents for
        self._orphans.setdefault(block.parent, []).append((block, src, self.now))
        self._orphan_parent[block.hash] = block.parent
        self._orphan_count += 1
        # Ask for the oldest missing ancestor, on every orphan: a request can be lost too.
        missing = block.parent
        while missing in self._orphan_parent:
            missing = self._orphan_parent[missing]
        if self.now - self._asked.get(missing, -1.0) >= _ASK_AGAIN:
            self._asked[missing] = self.now
            self.send(src, "get-block", missing)

    def _reject(self, block: Block, src: int, reason: str) -> None:
        header = block.header
        self.rejected.append((self.now, reason, block.hash))
        self._refused.add(block.hash)
        self.record(
            "rejected",
            reason=reason,
            height=header.height,
            slot=self.consensus.slot_of(header.timestamp),
            offender=self._offender(header, src, reason),
            hash=block.hash.hex(),
        )

    def _offender(self, header: Header, src: int, reason: str) -> int:
        """Who to blame: the signer when the seal is valid (it proves who), else the sender."""
        if reason in ("not-a-validator", "bad-seal", "malformed-header"):
            return src
        consensus = self.consensus
        index = consensus._index.get(Address(header.proposer))
        return consensus.authority_nodes[index] if index is not None else src

    def _authority_of(self, header: Header) -> int | None:
        """The validator index whose valid seal ``header`` carries, or None."""
        consensus = self.consensus
        index = consensus._index.get(Address(header.proposer))
        if index is None or not verify_signature(
            consensus.validators[index], header.seal_message, header.seal
        ):
            return None
        return index

    def _note_seal(self, header: Header) -> None:
        """Remember the first sealed header per (authority, slot); a different second is caught."""
        consensus = self.consensus
        index = self._authority_of(header)
        if index is None:
            return
        slot = consensus.slot_of(header.timestamp)
        first = self._sealed.setdefault((index, slot), header)
        if first.hash != header.hash:
            self.evidence.setdefault(index, []).append((first, header))
            self.record(
                "equivocation",
                offender=consensus.authority_nodes[index],
                validator=index,
                slot=slot,
                height=header.height,
                evidence=(first, header),
            )


def detected(network: NetworkCore) -> pd.DataFrame:
    """What honest nodes caught: one row per (detector, misbehaviour) with who, what and when.

    ``what`` is ``"equivocation"`` (two headers signed by one authority for one slot; both are
    in ``evidence``) or the reason a block was rejected (``"out-of-turn"``, ``"not-a-validator"``,
    ``"bad-seal"``, ...). ``offender`` is the node that signed the block when its seal is valid,
    else the node that sent it; ``detector`` is the honest node that noticed.
    """
    import pandas as pd

    rows: list[dict[str, Any]] = []
    for time, node, event, details in network._events:
        if node is None or not network.nodes[node].honest:
            continue
        if event == "equivocation":
            what, evidence = "equivocation", details["evidence"]
        elif event == "rejected":
            what, evidence = details["reason"], None
        else:
            continue
        rows.append(
            {
                "time": time,
                "detector": node,
                "offender": details["offender"],
                "what": what,
                "slot": details["slot"],
                "height": details["height"],
                "evidence": evidence,
            }
        )
    columns = ["time", "detector", "offender", "what", "slot", "height", "evidence"]
    return pd.DataFrame(rows, columns=columns)
