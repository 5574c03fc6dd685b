"""Nakamoto consensus on the simulated network: miners find blocks at random, gossip them, and
every node follows the heaviest chain it knows.

*When* a block is found and *by whom* comes from the hash-power model (``MiningClock``): block
discovery network-wide is a Poisson process with mean ``block_interval`` seconds, and the finder
is drawn in proportion to its hash-power share. The block itself is real: the finder proposes it
on its own best tip with ``Chain.propose_block``, mines the nonce with ``mine`` (the ``NETWORK``
preset's target takes about 16 hashes), timestamps it in milliseconds of simulated time, adds it
to its own chain and gossips it. Every node checks every block with its own ``Chain``.

Gossip: a node relays a block to its peers the first time it accepts it. A block whose parent is
unknown (an *orphan*) waits in a buffer while the parent is requested from the sender; invalid
blocks are recorded and dropped, never relayed. After a partition heals or a node restarts, nodes
ask their peers for what they miss (``getblocks`` with a block locator, as Bitcoin does).

Faulty miners (``Network("pow", behaviours={0: "selfish"})``):

* ``selfish``: Eyal & Sirer's selfish mining: withhold blocks, publish to override honest ones;
* ``withhold``: never publish its own blocks (all its work is wasted);
* ``double-spend``: pay a merchant, mine a conflicting chain in private, publish it once the
  merchant has delivered and the private chain is longer.

The measurements at the end of the module (stale rate, double-spend success, selfish revenue)
return pandas DataFrames next to the closed-form models from the literature.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from blockkit.blocks import Block
from blockkit.chain import AddResult, Chain
from blockkit.consensus.pow import ProofOfWork
from blockkit.errors import BlockkitError, InvalidBlock, OrphanBlock, UnknownTransaction
from blockkit.keys import Address, PrivateKey
from blockkit.mempool import Mempool
from blockkit.network.sim import Message, NetworkCore, Node, ProgressBar, Timer
from blockkit.transactions import Transaction, sign_transaction

if TYPE_CHECKING:
    import pandas as pd

    from blockkit.network import Network

__all__ = [
    "DoubleSpender",
    "Miner",
    "MiningClock",
    "SelfishMiner",
    "WithholdingMiner",
    "double_spend_experiment",
    "double_spend_probability",
    "double_spend_trial",
    "eyal_sirer_move",
    "make_miner",
    "nakamoto_probability",
    "node_address",
    "node_key",
    "propagation_delay",
    "selfish_mining_experiment",
    "selfish_mining_run",
    "selfish_revenue",
    "stale_rate_model",
    "stale_rate_sweep",
    "withholding_experiment",
]

#: Bytes added to every message for framing (a Bitcoin message header is 24 bytes, plus TCP/IP).
MESSAGE_OVERHEAD = 40
#: At most this many blocks in one ``blocks`` reply to ``getblocks``.
MAX_BATCH = 500


@lru_cache(maxsize=4096)
def node_key(node_id: int, label: str = "node") -> PrivateKey:
    """The reproducible key of simulated node ``node_id`` (``label`` names a second key)."""
    return PrivateKey.from_seed(f"pow-{label}-{node_id}")


def node_address(node_id: int, label: str = "node") -> Address:
    """The address simulated node ``node_id`` mines to (``label="vault"``: its second address)."""
    return node_key(node_id, label).address


def _size(block: Block) -> int:
    return len(block.encoded) + MESSAGE_OVERHEAD


# --- the hash-power model ---------------------------------------------------------------------


class MiningClock:
    """Who finds the next block, and when: one Poisson process for the whole network.

    The time to the next block is exponential with mean ``block_interval``; the finder is drawn
    with probability equal to its hash-power share (both from ``network.rng``). This is the same
    as every miner hashing independently at its own rate: the first of many independent
    exponential clocks rings after an exponential time, and it is miner ``i``'s with probability
    ``share[i]``. A crashed finder's block is simply never found (its hash power is offline).
    """

    def __init__(
        self, network: NetworkCore, shares: Sequence[float], block_interval: float
    ) -> None:
        if len(shares) != len(network.nodes):
            raise ValueError("one hash-power share per node")
        self.network = network
        self.shares = tuple(shares)
        self.block_interval = block_interval
        self._cumulative = [0.0] * len(shares)
        total = 0.0
        for i, share in enumerate(shares):
            total += share
            self._cumulative[i] = total
        self._total = total
        self._timer: Timer | None = None
        self.running = False
        self.found = 0
        """Blocks found so far (including those of crashed finders, which are lost)."""

    @classmethod
    def attach(
        cls, network: NetworkCore, shares: Sequence[float], block_interval: float
    ) -> MiningClock:
        """Make a clock for ``network``, keep it as ``network.mining`` and start it."""
        clock = cls(network, shares, block_interval)
        network.mining = clock  # type: ignore[attr-defined]
        clock.start()
        return clock

    def start(self) -> None:
        """Start (or resume) mining: the next block comes an exponential time from now."""
        if not self.running:
            self.running = True
            self._schedule()

    def stop(self, at: float | None = None) -> None:
        """Stop mining now or at time ``at`` (let the network settle, then compare chains)."""
        sim = self.network.sim
        if at is not None and at > sim.now:
            sim.schedule(at - sim.now, self.stop)
            return
        self.running = False
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _schedule(self) -> None:
        sim = self.network.sim
        self._timer = sim.schedule(sim.rng.expovariate(1.0 / self.block_interval), self._ring)

    def finder(self) -> int:
        """Draw the next finder by hash-power share."""
        point = self.network.rng.random() * self._total
        index = bisect.bisect_right(self._cumulative, point)
        return min(index, len(self.shares) - 1)

    def _ring(self) -> None:
        self.found += 1
        node = self.network.nodes[self.finder()]
        if node.up:
            node.found_block()  # type: ignore[attr-defined]
        self._schedule()


# --- honest miners ----------------------------------------------------------------------------


class Miner(Node):
    """An honest miner: mines on its best tip, relays every valid block once, fetches orphans'
    parents, catches up after partitions and restarts, and can act as a merchant."""

    behaviour = "honest"

    def __init__(self, network: NetworkCore, node_id: int, consensus: ProofOfWork) -> None:
        super().__init__(network, node_id)
        self.consensus = consensus
        self.chain = Chain(consensus.params, consensus=consensus, allocations=consensus.allocations)
        self.address = node_address(node_id)
        self.mempool = Mempool(consensus.params)
        self.seen: set[bytes] = set()
        """Hashes of blocks received or mined: a block is handled once, however many peers send
        it (checked before the chain is touched)."""
        self.orphans: dict[bytes, list[Block]] = {}
        """Blocks waiting for their parent, by parent hash."""
        self.orders: dict[bytes, tuple[int, int]] = {}
        """As a merchant: transaction hash -> (buyer, confirmations to wait for)."""
        self._handlers: dict[str, Callable[[Message], None]] = {
            "block": self._on_block,
            "blocks": self._on_batch,
            "getblock": self._on_getblock,
            "getblocks": self._on_getblocks,
            "tx": self._on_tx,
            "order": self._on_order,
            "delivered": self._on_delivered,
        }

    # --- mining -----------------------------------------------------------------------------

    def found_block(self) -> None:
        """The mining clock says this node found the next block: build it, mine it, act."""
        block = self.mine_block(self.chain)
        self.accept_own(block)
        self.on_mined(block)

    def mine_block(self, chain: Chain, transactions: Sequence[Transaction] | None = None) -> Block:
        """A real block on ``chain``'s best tip: proposed, nonce mined, timestamp in ms."""
        parent = chain.head
        if transactions is None:
            transactions = self.mempool.select(chain.state) if len(self.mempool) else ()
        timestamp = max(parent.timestamp + 1, round(self.now * 1000))
        block = chain.propose_block(transactions, self.address, timestamp)
        block = self.consensus.seal(block)
        self.network.block_created(self.id, block)
        self.record("mined", height=block.height, block=block.hash.hex())
        return block

    def accept_own(self, block: Block) -> None:
        """Add a block this node mined to its own chain."""
        self.seen.add(block.hash)
        self.after_add(self.chain.add_block(block))

    def on_mined(self, block: Block) -> None:
        """What to do with a freshly mined block: an honest miner publishes it at once."""
        self.publish([block])

    def publish(self, blocks: Sequence[Block], exclude: int | None = None) -> None:
        """Send ``blocks`` to every peer (except ``exclude``): one ``block`` or one ``blocks``."""
        if not blocks:
            return
        if len(blocks) == 1:
            kind, payload, size = "block", blocks[0], _size(blocks[0])
        else:
            kind, payload = "blocks", tuple(blocks)
            size = sum(len(b.encoded) for b in blocks) + MESSAGE_OVERHEAD
        send = self.network.send
        me = self.id
        for dst in self.network.peers[me]:
            if dst != exclude:
                send(me, dst, kind, payload, size)

    # --- receiving blocks -------------------------------------------------------------------

    def receive(self, message: Message) -> None:
        """Dispatch by message kind; a block already seen is dropped before anything else (the
        common case: every peer relays the same block)."""
        if message.kind == "block":
            block = message.payload
            if block.header.hash not in self.seen:
                self.on_blocks((block,), message.src)
            return
        handler = self._handlers.get(message.kind)
        if handler is not None:
            handler(message)

    def _on_block(self, message: Message) -> None:
        block = message.payload
        if block.header.hash not in self.seen:
            self.on_blocks((block,), message.src)

    def _on_batch(self, message: Message) -> None:
        blocks = message.payload
        self.on_blocks(blocks, message.src)
        if len(blocks) >= MAX_BATCH:  # there may be more: ask again from our new tip
            self.send(message.src, "getblocks", self.locator(), size=self._locator_size())

    def on_blocks(self, blocks: Sequence[Block], src: int) -> None:
        """Handle blocks from peer ``src``: add the new ones, then relay what was accepted."""
        accepted = self.accept(blocks, src)
        if accepted:
            self.relay(accepted, src)

    def accept(self, blocks: Iterable[Block], src: int) -> list[Block]:
        """Add each block not seen before to the chain; returns the blocks accepted (orphans
        whose parent arrived included), in the order they were connected."""
        accepted: list[Block] = []
        seen = self.seen
        for block in blocks:
            if block.hash in seen:
                continue
            seen.add(block.hash)
            self.network.block_seen(self.id, block)
            self._add(block, src, accepted)
        return accepted

    def _add(self, block: Block, src: int, accepted: list[Block]) -> None:
        stack = [block]
        while stack:
            block = stack.pop()
            try:
                result = self.chain.add_block(block)
            except OrphanBlock:
                self.orphans.setdefault(block.parent, []).append(block)
                self.record("orphan", block=block.hash.hex(), parent=block.parent.hex(), src=src)
                self.send(src, "getblock", block.parent, size=32 + MESSAGE_OVERHEAD)
                continue
            except InvalidBlock as exc:
                self.record("invalid", block=block.hash.hex(), reason=exc.reason, src=src)
                stack.extend(self.orphans.pop(block.hash, ()))  # rejected with their parent
                continue
            accepted.append(block)
            self.after_add(result)
            stack.extend(self.orphans.pop(block.hash, ()))

    def relay(self, blocks: Sequence[Block], src: int) -> None:
        """Pass newly accepted blocks on to every peer but the one they came from."""
        self.publish(blocks, exclude=src)

    def after_add(self, result: AddResult) -> None:
        """Bookkeeping after the chain took a block: reorg events, mempool, merchant orders."""
        if result.disconnected:
            self.record(
                "reorg",
                depth=len(result.disconnected),
                old_head=result.disconnected[0].hash.hex(),
                new_head=result.head.hex(),
            )
        if len(self.mempool) or any(b.transactions for b in result.disconnected):
            self.mempool.on_block(result, self.chain.state)
        if self.orders and result.connected:
            self._check_orders()

    # --- serving blocks and catching up -----------------------------------------------------

    def public_block(self, block_hash: bytes) -> Block | None:
        """A block this node is willing to hand to a peer (honest: any valid one it has)."""
        return self.chain.block(block_hash) if block_hash in self.chain else None

    def public_main_chain(self) -> list[Block]:
        """The blocks this node shows peers as its main chain (honest: its whole main chain)."""
        return list(self.chain.main_chain())

    def _on_getblock(self, message: Message) -> None:
        block = self.public_block(message.payload)
        if block is not None:
            self.send(message.src, "block", block, size=_size(block))

    def locator(self) -> tuple[bytes, ...]:
        """Main-chain hashes from the tip back to genesis, dense first, then doubling gaps: lets a
        peer find the fork point with a short message (Bitcoin's block locator)."""
        chain = self.chain
        heights: list[int] = []
        height, step = chain.height, 1
        while height > 0:
            heights.append(height)
            if len(heights) >= 10:
                step *= 2
            height -= step
        heights.append(0)
        return tuple(chain.block_at(h).hash for h in heights)

    def _locator_size(self) -> int:
        return 32 * len(self.locator()) + MESSAGE_OVERHEAD

    def _on_getblocks(self, message: Message) -> None:
        main = self.public_main_chain()
        index = {block.hash: i for i, block in enumerate(main)}
        start = next((index[h] for h in message.payload if h in index), None)
        if start is None:
            return
        batch = main[start + 1 : start + 1 + MAX_BATCH]
        if batch:
            size = sum(len(b.encoded) for b in batch) + MESSAGE_OVERHEAD
            self.send(message.src, "blocks", tuple(batch), size=size)

    def sync(self) -> None:
        """Ask every peer for the blocks it has after our main chain (after a heal or restart)."""
        locator = self.locator()
        size = 32 * len(locator) + MESSAGE_OVERHEAD
        for peer in self.network.peers[self.id]:
            self.send(peer, "getblocks", locator, size=size)

    def on_heal(self) -> None:
        """The partition is gone: catch up with the other side."""
        self.sync()

    def on_restart(self) -> None:
        """Back from a crash: the chain (disk) survived; orphans and mempool (memory) did not."""
        for waiting in self.orphans.values():
            for block in waiting:
                self.seen.discard(block.hash)
        self.orphans.clear()
        self.mempool = Mempool(self.consensus.params)
        self.sync()

    # --- transactions and merchants ---------------------------------------------------------

    def _on_tx(self, message: Message) -> None:
        tx = message.payload
        if tx.hash in self.mempool:
            return
        try:
            self.chain.transaction(tx.hash)
            return  # already in our best chain
        except UnknownTransaction:
            pass
        try:
            self.mempool.add(tx, self.chain.state)
        except BlockkitError as exc:
            self.record("tx-rejected", tx=tx.hash.hex(), reason=str(exc))
            return
        size = len(tx.encoded) + MESSAGE_OVERHEAD
        for peer in self.network.peers[self.id]:
            if peer != message.src:
                self.send(peer, "tx", tx, size=size)

    def _on_order(self, message: Message) -> None:
        tx_hash, confirmations = message.payload
        self.orders[tx_hash] = (message.src, confirmations)
        self.record("order", tx=tx_hash.hex(), buyer=message.src, confirmations=confirmations)
        self._check_orders()

    def _check_orders(self) -> None:
        """Deliver every order whose payment has enough confirmations in our best chain."""
        for tx_hash, (buyer, confirmations) in list(self.orders.items()):
            try:
                where = self.chain.transaction(tx_hash)
            except UnknownTransaction:
                continue
            depth = self.chain.height - where.height + 1
            if depth >= confirmations:
                del self.orders[tx_hash]
                self.record("delivered", tx=tx_hash.hex(), buyer=buyer, confirmations=depth)
                # The work of our chain tells the buyer how long the public chain is at least.
                self.send(buyer, "delivered", (tx_hash, self.chain.total_work))

    def _on_delivered(self, message: Message) -> None:
        """Only buyers care (``DoubleSpender``)."""


class WithholdingMiner(Miner):
    """Mines like everyone, relays others' blocks, but never publishes its own: its work is
    wasted (it shows that hash power only counts when its blocks reach the others)."""

    behaviour = "withhold"

    def on_mined(self, block: Block) -> None:
        """Keep it."""

    def public_block(self, block_hash: bytes) -> Block | None:
        """Never hand out its own blocks."""
        block = super().public_block(block_hash)
        return None if block is None or block.header.proposer == self.address else block

    def public_main_chain(self) -> list[Block]:
        """Its main chain up to the first of its own blocks."""
        shown: list[Block] = []
        for block in self.chain.main_chain():
            if block.header.proposer == self.address:
                break
            shown.append(block)
        return shown


#: The moves of a selfish miner (lesson 06, exercise 06.4).
SELFISH_MOVES = ("hide", "publish-all", "publish-one", "match", "adopt")

#: ``policy(lead, event, racing) -> move``: how a selfish miner decides.
SelfishPolicy = Callable[[int, str, bool], str]


def eyal_sirer_move(lead: int, event: str, racing: bool) -> str:
    """Eyal & Sirer's Algorithm 1 as a rule: ``lead`` is the private branch's lead *before* the
    event, ``event`` is ``"pool"`` (we found a block) or ``"others"`` (they did), ``racing``
    is true while two equal branches are public."""
    if event == "pool":
        return "publish-all" if racing and lead == 0 else "hide"
    if event != "others":
        raise ValueError(f"event is 'pool' or 'others', not {event!r}")
    return {0: "adopt", 1: "match", 2: "publish-all"}.get(lead, "publish-one")


class SelfishMiner(Miner):
    """Eyal & Sirer's selfish miner (2014, Algorithm 1): keep found blocks private; when the
    honest network catches up, publish just enough to override or tie with its blocks.

    Its chain's best tip is always its private tip (it adds its blocks to its own chain first,
    and adopts the public chain as soon as it is longer). ``lead`` is the private branch's height
    minus the public one's. When the others find a block:

    * lead was 0: adopt their chain (nothing to lose);
    * lead was 1: publish the private block: a tie, a race (``gamma`` of the honest miners, those
      that saw our block first, mine on it);
    * lead was 2: publish everything: we are one ahead, the honest block goes stale;
    * lead was more: publish up to their height; stay ahead in private.

    When the selfish miner finds a block during a race it publishes it at once and wins. It relays
    no other miner's block (relaying would only help the competing branch).
    """

    behaviour = "selfish"

    def __init__(self, network: NetworkCore, node_id: int, consensus: ProofOfWork) -> None:
        super().__init__(network, node_id, consensus)
        self.unpublished: list[Block] = []
        self.public_height = 0
        self.racing: bytes | None = None
        """Our published block while a race (tie) is on."""
        self.races = 0
        """Ties it created by publishing in response to an honest block."""
        self.races_decided = 0
        """Races an honest block decided (the others the pool decided by finding a block)."""
        self.races_won_by_gamma = 0
        """Races that an honest block decided by building on our block (estimates gamma)."""
        self.policy: SelfishPolicy = eyal_sirer_move
        """``policy(lead, event, racing) -> move`` decides each step (see ``eyal_sirer_move``);
        lesson 06 plugs a student's rule in here."""

    def _decide(self, lead: int, event: str) -> str:
        racing = self.racing is not None
        move = self.policy(lead, event, racing)
        if move not in SELFISH_MOVES:
            raise ValueError(
                f"a selfish-mining policy returns one of {', '.join(SELFISH_MOVES)}, "
                f"not {move!r} (for lead={lead}, event={event!r}, racing={racing})"
            )
        self.record("decision", lead=lead, on=event, racing=racing, move=move)
        return move

    def on_mined(self, block: Block) -> None:
        """Keep it, unless the policy says publish (in a race: publish and win)."""
        lead = self.chain.height - 1 - self.public_height  # before this block
        self.unpublished.append(block)
        if self._decide(max(lead, 0), "pool") == "publish-all":
            if self.racing is not None and block.parent == self.racing:
                self.record("race-won", block=block.hash.hex(), by="selfish")
            self.racing = None
            self._publish_upto(block.height)

    def on_blocks(self, blocks: Sequence[Block], src: int) -> None:
        """Others' blocks: add them (no relay) and react when the public chain grew."""
        private_height = self.chain.height  # our best tip is our private tip
        accepted = self.accept(blocks, src)
        new_public = max((b.height for b in accepted), default=0)
        if new_public <= self.public_height:
            return
        self.public_height = new_public
        lead = private_height - (new_public - 1)  # Eyal & Sirer's lead before their block
        move = self._decide(max(lead, 0), "others")
        if lead <= 0:
            # They caught up or got ahead: the chain's fork choice already moved our tip to
            # theirs, so adopting is forced whatever the policy said.
            if self.racing is not None:
                won = self.chain.is_main(self.racing)
                self.races_decided += 1
                self.races_won_by_gamma += won
                event = "race-won" if won else "race-lost"
                self.record(event, block=self.racing.hex(), by="honest")
            self.racing = None
            self.unpublished.clear()
        elif not self.unpublished or move == "hide":
            return
        elif move == "adopt":  # abandon the private blocks: they are never published
            self.unpublished.clear()
        elif move == "publish-all":
            self._publish_upto(private_height)
        else:  # "match" or "publish-one": reveal as much as they have, keep the rest private
            if private_height == new_public:
                self.racing = self.unpublished[-1].hash
                self.races += 1
                self.record("race", block=self.racing.hex(), height=new_public)
            self._publish_upto(new_public)

    def _publish_upto(self, height: int) -> None:
        out = [b for b in self.unpublished if b.height <= height]
        self.unpublished = [b for b in self.unpublished if b.height > height]
        if out:
            self.public_height = max(self.public_height, out[-1].height)
            self.record("publish", blocks=len(out), height=out[-1].height)
            self.publish(out)

    def relay(self, blocks: Sequence[Block], src: int) -> None:
        """Relay nothing of the others'."""

    def public_block(self, block_hash: bytes) -> Block | None:
        """Never hand out unpublished blocks."""
        if any(b.hash == block_hash for b in self.unpublished):
            return None
        return super().public_block(block_hash)

    def public_main_chain(self) -> list[Block]:
        """The main chain without the unpublished tail."""
        hidden = {b.hash for b in self.unpublished}
        return [b for b in self.chain.main_chain() if b.hash not in hidden]


class DoubleSpender(Miner):
    """Pays a merchant, mines a conflicting chain in private, and publishes it to undo the payment.

    The attack (Nakamoto 2008, section 11, with Rosenfeld's pre-mined block):

    1. mine, in private, one block holding ``D``: ``value`` sent back to the attacker's own vault
       address with the same nonce as the payment (so at most one of the two can ever be in a
       chain). Until that block is found, follow the public tip;
    2. then broadcast the payment ``P`` to the merchant and send the merchant an ``order``; keep
       all hash power on the private chain;
    3. the merchant (an honest node) delivers once ``P`` has ``confirmations`` blocks in its
       chain, and tells the buyer;
    4. as soon as the merchant has delivered and the private chain is heavier than the public
       one (as the attacker sees it, or as the merchant reported it on delivery), publish it:
       honest nodes reorganise onto it, ``P`` becomes invalid (its nonce is used by ``D``) and
       the merchant's payment is gone;
    5. give up when ``give_up`` blocks behind the public chain.

    Configure with ``plan(...)`` before running; ``phase`` says how far it got.
    """

    behaviour = "double-spend"

    def __init__(self, network: NetworkCore, node_id: int, consensus: ProofOfWork) -> None:
        super().__init__(network, node_id, consensus)
        self.phase = "idle"
        """``idle`` → ``premining`` → ``waiting`` (payment out) → ``published`` or ``gave-up``."""
        self.merchant: int | None = None
        self.confirmations = 0
        self.give_up = 0
        self.payment: Transaction | None = None
        self.conflict: Transaction | None = None
        self.private: Chain | None = None
        self.withheld: list[Block] = []
        self.delivered = False
        self.merchant_work = 0
        """The merchant's chain work when it delivered: the public chain is at least this heavy
        even if the block that confirmed the payment has not reached the attacker yet."""

    def plan(
        self,
        merchant: int,
        *,
        value: int = 100,
        confirmations: int = 2,
        give_up: int = 8,
        fee: int = 1,
    ) -> DoubleSpender:
        """Pay ``value`` to node ``merchant``, who delivers after ``confirmations`` blocks; give up
        ``give_up`` blocks behind. The attacker's address (``node_address(id)``) needs funds:
        ``Network("pow", ..., allocations={node_address(id): 1_000})``."""
        if not isinstance(merchant, int) or not 0 <= merchant < len(self.network.nodes):
            raise ValueError(f"merchant is a node id, 0 to {len(self.network.nodes) - 1}")
        if merchant == self.id:
            raise ValueError("the merchant is another node than the attacker")
        if not isinstance(confirmations, int) or confirmations < 1:
            raise ValueError("confirmations is at least 1 (the payment must be in a block)")
        if not isinstance(give_up, int) or give_up < 1:
            raise ValueError("give_up is a number of blocks behind, at least 1")
        key = node_key(self.id)
        nonce = self.chain.nonce(key.address)
        if self.chain.balance(key.address) < value + fee:
            raise ValueError(
                f"the attacker (node {self.id}) has {self.chain.balance(key.address)} coins and "
                f"must pay {value + fee}: fund it with Network('pow', ..., "
                f"allocations={{node_address({self.id}): {value + fee}}})"
            )
        chain_id = self.consensus.params.chain_id
        self.payment = _signed(key, node_address(merchant), value, nonce, chain_id, fee)
        self.conflict = _signed(key, node_address(self.id, "vault"), value, nonce, chain_id, fee)
        self.merchant, self.confirmations, self.give_up = merchant, confirmations, give_up
        self.phase = "premining"
        return self

    @property
    def finished(self) -> bool:
        """True once the attack was published or abandoned."""
        return self.phase in ("published", "gave-up")

    def found_block(self) -> None:
        """Mine on the private chain while attacking; like an honest miner otherwise."""
        if self.phase == "premining":
            block = self.mine_block(self.chain, [self.conflict])  # type: ignore[list-item]
            self.private = Chain(
                self.consensus.params,
                consensus=self.consensus,
                allocations=self.consensus.allocations,
            )
            for old in list(self.chain.main_chain())[1:]:
                self.private.add_block(old)
            self._withhold(block)
            self.phase = "waiting"
            payment = self.payment
            assert payment is not None and self.merchant is not None
            self.record("pay", tx=payment.hash.hex(), merchant=self.merchant)
            self.send(self.merchant, "order", (payment.hash, self.confirmations))
            size = len(payment.encoded) + MESSAGE_OVERHEAD
            for peer in self.network.peers[self.id]:
                self.send(peer, "tx", payment, size=size)
            self._check()
        elif self.phase == "waiting":
            assert self.private is not None
            self._withhold(self.mine_block(self.private, ()))
            self._check()
        else:
            super().found_block()

    def _withhold(self, block: Block) -> None:
        assert self.private is not None
        self.private.add_block(block)
        self.withheld.append(block)

    def on_blocks(self, blocks: Sequence[Block], src: int) -> None:
        """Public blocks: handle like an honest node, then see whether to publish or give up."""
        super().on_blocks(blocks, src)
        if self.phase == "waiting":
            self._check()

    def _on_delivered(self, message: Message) -> None:
        tx_hash, merchant_work = message.payload
        if self.payment is not None and tx_hash == self.payment.hash:
            self.delivered = True
            self.merchant_work = merchant_work
            self.record("goods-received", tx=self.payment.hash.hex())
            self._check()

    def _check(self) -> None:
        private = self.private
        if self.phase != "waiting" or private is None:
            return
        public_work = max(self.chain.total_work, self.merchant_work)
        if self.delivered and private.total_work > public_work:
            self.phase = "published"
            self.record("publish", blocks=len(self.withheld), height=private.height)
            for block in self.withheld:
                self.seen.add(block.hash)
                self.after_add(self.chain.add_block(block))
            self.publish(self.withheld)
        elif self.chain.height - private.height >= self.give_up:
            self.phase = "gave-up"
            self.record("gave-up", behind=self.chain.height - private.height)


@lru_cache(maxsize=256)
def _signed(
    key: PrivateKey, recipient: Address, value: int, nonce: int, chain_id: int, fee: int
) -> Transaction:
    # Signatures are deterministic (RFC 6979), so every trial signs the same bytes: sign once.
    return sign_transaction(key, recipient, value, nonce=nonce, chain_id=chain_id, fee=fee)


_MINERS: dict[str, type[Miner]] = {
    "honest": Miner,
    "selfish": SelfishMiner,
    "withhold": WithholdingMiner,
    "double-spend": DoubleSpender,
}


def make_miner(
    consensus: ProofOfWork, network: NetworkCore, node_id: int, behaviour: str = "honest"
) -> Miner:
    """The miner class for ``behaviour`` (``ProofOfWork.make_node`` calls this)."""
    try:
        cls = _MINERS[behaviour]
    except KeyError:
        raise ValueError(
            f"proof-of-work miners know behaviours {', '.join(_MINERS)}, not {behaviour!r}"
        ) from None
    return cls(network, node_id, consensus)


# --- closed-form models -----------------------------------------------------------------------


def _check_share(name: str, value: float) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
        raise ValueError(f"{name} is a fraction from 0 to 1, not {value!r}")


def _check_z(z: int) -> None:
    if isinstance(z, bool) or not isinstance(z, int) or z < 0:
        raise ValueError(f"z is a number of confirmations >= 0, not {z!r}")


def nakamoto_probability(q: float, z: int) -> float:
    """Nakamoto's estimate (whitepaper, section 11) that an attacker with hash-power share ``q``
    ever overtakes the honest chain after the merchant waited ``z`` blocks.

    The attacker's progress while the honest chain found ``z`` blocks is taken as Poisson with
    mean ``z * q / p``; from ``z - k`` behind it catches up with probability ``(q/p)**(z - k)``.
    """
    _check_share("q", q)
    _check_z(z)
    p = 1.0 - q
    if q >= p:
        return 1.0
    lam = z * (q / p)
    total = 1.0
    for k in range(z + 1):
        poisson = math.exp(-lam) * lam**k / math.factorial(k)
        total -= poisson * (1 - (q / p) ** (z - k))
    return total


def double_spend_probability(q: float, z: int) -> float:
    """The exact success probability of the same attack (Rosenfeld 2014): the attacker's blocks
    while the honest chain finds ``z`` are negative-binomial, not Poisson; the attacker pre-mined
    one block, so catching up means getting ahead. Nakamoto's Poisson figure is close but not a
    bound: above the exact value for small ``z``, below it for larger ones (q = 0.3, z = 6: 0.132
    against 0.156).

    ``1 - sum_{m=0}^{z} C(m + z - 1, m) (p**z q**m - q**z p**m)``.
    """
    _check_share("q", q)
    _check_z(z)
    p = 1.0 - q
    if q >= p:
        return 1.0
    if z == 0:
        return 1.0
    total = 1.0
    for m in range(z + 1):
        total -= math.comb(m + z - 1, m) * (p**z * q**m - q**z * p**m)
    return total


def selfish_revenue(alpha: float, gamma: float) -> float:
    """The selfish pool's share of main-chain blocks (Eyal & Sirer 2014, equation 8) with
    hash-power share ``alpha`` and ``gamma`` the share of honest miners that mine on the pool's
    block during a tie."""
    _check_share("alpha", alpha)
    _check_share("gamma", gamma)
    a = alpha
    numerator = a * (1 - a) ** 2 * (4 * a + gamma * (1 - 2 * a)) - a**3
    denominator = 1 - a * (1 + (2 - a) * a)
    return numerator / denominator


def stale_rate_model(propagation_delay: float, block_interval: float) -> float:
    """The simple model: a block goes stale when another is found while it propagates,
    ``1 - exp(-propagation_delay / block_interval)``."""
    if not block_interval > 0:
        raise ValueError("block_interval is seconds > 0")
    return 1.0 - math.exp(-propagation_delay / block_interval)


# --- measurements -----------------------------------------------------------------------------


def propagation_delay(network: NetworkCore) -> float:
    """Mean time for a block to reach another node, over every block and every node that
    received it, weighted by hash power (it is the time others keep mining on the old tip)."""
    clock: MiningClock | None = getattr(network, "mining", None)
    shares = clock.shares if clock is not None else (1.0,) * len(network.nodes)
    total = weight = 0.0
    for info in network.block_info.values():
        for node, seen in info.first_seen.items():
            if node != info.producer:
                total += shares[node] * (seen - info.created)
                weight += shares[node]
    return total / weight if weight else 0.0


def _progress(progress: bool | ProgressBar, description: str) -> ProgressBar | None:
    if isinstance(progress, ProgressBar):
        return progress
    return ProgressBar(description) if progress else None


def _network(**kwargs: Any) -> Network:
    from blockkit.network import Network

    return Network("pow", **kwargs)


def _attacker_network(share: float, behaviour: str, *, nodes: int, **options: Any) -> Network:
    """Node 0 with hash share ``share`` and ``behaviour``; the other nodes split the rest."""
    hashpower = [share] + [(1 - share) / (nodes - 1)] * (nodes - 1)
    return _network(
        nodes=nodes,
        hashpower=hashpower,
        behaviours={0: behaviour},
        record_messages=False,
        **options,
    )


def stale_rate_sweep(
    block_intervals: Sequence[float] = (2.0, 5.0, 10.0, 30.0),
    latencies: Sequence[float] = (0.1, 0.5, 1.0),
    seeds: Iterable[int] = (0, 1, 2),
    *,
    nodes: int = 20,
    blocks: int = 100,
    degree: int = 8,
    bandwidth: float | None = None,
    progress: bool | ProgressBar = False,
) -> pd.DataFrame:
    """Stale rate for every (block interval, latency, seed): one network run each, to ``blocks``
    blocks. Columns: ``block_interval``, ``latency``, ``seed``, ``produced``, ``stale``,
    ``stale_rate``, ``propagation_delay`` (measured, see ``propagation_delay``) and ``model``
    (``1 - exp(-propagation_delay / block_interval)``). Average over seeds with
    ``df.groupby(["block_interval", "latency"]).mean()``."""
    import pandas as pd

    seeds = list(seeds)
    runs = [(i, lat, s) for i in block_intervals for lat in latencies for s in seeds]
    bar = _progress(progress, "stale-rate sweep")
    rows = []
    for done, (interval, latency, seed) in enumerate(runs):
        if bar is not None:
            bar.update(done, len(runs))
        net = _network(
            nodes=nodes,
            seed=seed,
            latency=latency,
            bandwidth=bandwidth,
            block_interval=interval,
            degree=degree,
            record_messages=False,
        ).run(blocks=blocks)
        reference = net.reference_node().chain
        produced = len(net.block_info)
        stale = sum(not reference.is_main(h) for h in net.block_info)
        delay = propagation_delay(net)
        rows.append(
            {
                "block_interval": interval,
                "latency": latency,
                "seed": seed,
                "produced": produced,
                "stale": stale,
                "stale_rate": stale / produced if produced else 0.0,
                "propagation_delay": delay,
                "model": stale_rate_model(delay, interval),
            }
        )
    if bar is not None:
        bar.update(len(runs), len(runs))
        bar.close()
    return pd.DataFrame(rows)


@dataclass(frozen=True)
class DoubleSpendTrial:
    """What one double-spend attempt came to."""

    success: bool
    """The payment is in no honest node's best chain at the end."""
    phase: str
    """``published`` or ``gave-up`` (or ``waiting`` when ``max_time`` ran out)."""
    time: float
    attacker_blocks: int
    honest_height: int


def double_spend_trial(
    q: float,
    confirmations: int,
    *,
    seed: int = 0,
    nodes: int = 5,
    block_interval: float = 10.0,
    latency: float = 0.05,
    give_up: int = 8,
    settle: float = 30.0,
    max_time: float | None = None,
) -> DoubleSpendTrial:
    """One double-spend attempt: node 0 (hash share ``q``) attacks merchant node 1 (the other
    ``nodes - 1`` nodes share the rest); see ``DoubleSpender``. After the attacker publishes or
    gives up the network runs ``settle`` more seconds, then every honest chain is checked."""
    _check_share("q", q)
    if nodes < 2:
        raise ValueError("a double-spend needs an attacker and at least one honest node")
    net = _attacker_network(
        q,
        "double-spend",
        nodes=nodes,
        seed=seed,
        latency=latency,
        block_interval=block_interval,
        allocations={node_address(0): 1_000},
    )
    attacker: DoubleSpender = net.nodes[0]  # type: ignore[assignment]
    attacker.plan(1, confirmations=confirmations, give_up=give_up)
    limit = max_time if max_time is not None else 1_000 * block_interval
    net.run(until=limit, stop=lambda: attacker.finished)
    if attacker.finished:
        net.run(until=net.now + settle)
    payment = attacker.payment
    assert payment is not None
    honest = [n for n in net.honest_nodes if n.up]
    holding = 0
    for node in honest:
        try:
            node.chain.transaction(payment.hash)
            holding += 1
        except UnknownTransaction:
            pass
    return DoubleSpendTrial(
        success=attacker.phase == "published" and holding == 0,
        phase=attacker.phase,
        time=net.now,
        attacker_blocks=len(attacker.withheld),
        honest_height=max(n.chain.height for n in honest),
    )


def double_spend_experiment(
    q: float | Sequence[float] = (0.1, 0.2, 0.3),
    confirmations: int | Sequence[int] = (1, 2, 4),
    trials: int = 200,
    *,
    seed: int = 0,
    nodes: int = 5,
    block_interval: float = 10.0,
    latency: float = 0.05,
    give_up: int = 8,
    progress: bool | ProgressBar = False,
) -> pd.DataFrame:
    """Success rate of the double-spend over ``trials`` seeds for every (q, z), beside
    ``nakamoto`` (whitepaper) and ``exact`` (Rosenfeld) probabilities. ``stderr`` is the
    binomial standard error of ``measured``. Trial ``t`` uses seed ``seed + t``. ``q`` and
    ``confirmations`` are one value or several."""
    import pandas as pd

    if isinstance(q, int | float):
        q = (q,)
    if isinstance(confirmations, int):
        confirmations = (confirmations,)

    if not isinstance(trials, int) or trials < 1:
        raise ValueError(f"trials is a count >= 1, not {trials!r}")
    cells = [(qq, z) for qq in q for z in confirmations]
    bar = _progress(progress, "double-spend trials")
    rows = []
    for index, (qq, z) in enumerate(cells):
        successes = 0
        gave_up = 0
        for t in range(trials):
            if bar is not None and t % 10 == 0:
                bar.update(index * trials + t, len(cells) * trials)
            result = double_spend_trial(
                qq,
                z,
                seed=seed + t,
                nodes=nodes,
                block_interval=block_interval,
                latency=latency,
                give_up=give_up,
            )
            successes += result.success
            gave_up += result.phase == "gave-up"
        measured = successes / trials
        rows.append(
            {
                "q": qq,
                "z": z,
                "trials": trials,
                "successes": successes,
                "gave_up": gave_up,
                "measured": measured,
                "stderr": math.sqrt(measured * (1 - measured) / trials),
                "nakamoto": nakamoto_probability(qq, z),
                "exact": double_spend_probability(qq, z),
            }
        )
    if bar is not None:
        bar.update(len(cells) * trials, len(cells) * trials)
        bar.close()
    return pd.DataFrame(rows)


def selfish_mining_run(
    alpha: float,
    *,
    fast_links: bool = True,
    seed: int = 0,
    nodes: int = 10,
    blocks: int = 500,
    block_interval: float = 10.0,
    latency: float = 0.1,
    policy: SelfishPolicy | None = None,
    progress: bool | ProgressBar = False,
) -> Network:
    """A network where node 0 (hash share ``alpha``) mines selfishly, run to ``blocks`` blocks.

    ``fast_links=True`` connects node 0 directly to every node over 1 ms links (honest links keep
    ``latency``), so in a tie its block reaches most honest miners first: a high ``gamma``.
    With ``False`` it is one gossip peer among others: a low ``gamma``. ``policy`` replaces the
    selfish miner's rule (``eyal_sirer_move``), e.g. with a student's."""
    _check_share("alpha", alpha)
    if nodes < 3:
        raise ValueError("selfish mining needs the pool and at least two honest nodes")
    net = _attacker_network(
        alpha, "selfish", nodes=nodes, seed=seed, latency=latency, block_interval=block_interval
    )
    if fast_links:
        net.peers[0] = list(range(1, nodes))
        for other in range(1, nodes):
            if 0 not in net.peers[other]:
                net.peers[other].append(0)
            net.set_latency(0, other, 0.001)
    if policy is not None:
        net.nodes[0].policy = policy  # type: ignore[attr-defined]
    return net.run(blocks=blocks, progress=progress)


def _main_share(net: NetworkCore, node: int) -> tuple[int, int]:
    reference = max(
        (n for n in net.nodes if n.honest and n.up), key=lambda n: (n.chain.total_work, -n.id)
    ).chain
    main = list(reference.main_chain())[1:]
    mine = sum(net.block_info[b.hash].producer == node for b in main if b.hash in net.block_info)
    return mine, len(main)


def selfish_mining_experiment(
    alphas: Sequence[float] = (0.1, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45),
    *,
    fast_links: bool = True,
    seeds: Iterable[int] = (0,),
    nodes: int = 10,
    blocks: int = 500,
    block_interval: float = 10.0,
    latency: float = 0.1,
    progress: bool | ProgressBar = False,
) -> pd.DataFrame:
    """The selfish miner's revenue (share of main-chain blocks) against its hash share ``alpha``.

    Columns: ``alpha``, ``seed``, ``main_blocks``, ``selfish_blocks``, ``revenue`` (measured),
    ``races`` (ties it created), ``gamma`` (measured: share of races an honest block decided in
    its favour; NaN without races), ``predicted`` (``selfish_revenue(alpha, gamma)``, gamma 0
    when unmeasured) and ``predicted_gamma0`` / ``predicted_gamma1`` (the bounds)."""
    import pandas as pd

    seeds = list(seeds)
    runs = [(a, s) for a in alphas for s in seeds]
    bar = _progress(progress, "selfish mining")
    rows = []
    for done, (alpha, seed) in enumerate(runs):
        if bar is not None:
            bar.update(done, len(runs))
        net = selfish_mining_run(
            alpha,
            fast_links=fast_links,
            seed=seed,
            nodes=nodes,
            blocks=blocks,
            block_interval=block_interval,
            latency=latency,
        )
        pool: SelfishMiner = net.nodes[0]  # type: ignore[assignment]
        selfish, main = _main_share(net, 0)
        decided = pool.races_decided
        gamma = pool.races_won_by_gamma / decided if decided else float("nan")
        rows.append(
            {
                "alpha": alpha,
                "seed": seed,
                "main_blocks": main,
                "selfish_blocks": selfish,
                "revenue": selfish / main if main else 0.0,
                "races": pool.races,
                "gamma": gamma,
                "predicted": selfish_revenue(alpha, 0.0 if math.isnan(gamma) else gamma),
                "predicted_gamma0": selfish_revenue(alpha, 0.0),
                "predicted_gamma1": selfish_revenue(alpha, 1.0),
            }
        )
    if bar is not None:
        bar.update(len(runs), len(runs))
        bar.close()
    return pd.DataFrame(rows)


def withholding_experiment(
    shares: Sequence[float] = (0.1, 0.3, 0.5),
    *,
    seeds: Iterable[int] = (0,),
    nodes: int = 10,
    blocks: int = 200,
    block_interval: float = 10.0,
    latency: float = 0.1,
    progress: bool | ProgressBar = False,
) -> pd.DataFrame:
    """Node 0 (hash share ``share``) never publishes: its blocks are all wasted and the main
    chain grows only at the honest rate. Columns: ``share``, ``seed``, ``withheld_blocks``,
    ``withheld_on_main`` (always 0), ``seconds_per_block`` (main chain, measured) and
    ``expected_seconds_per_block`` (``block_interval / (1 - share)``)."""
    import pandas as pd

    seeds = list(seeds)
    runs = [(share, s) for share in shares for s in seeds]
    bar = _progress(progress, "withholding")
    rows = []
    for done, (share, seed) in enumerate(runs):
        _check_share("share", share)
        if bar is not None:
            bar.update(done, len(runs))
        hashpower = [share] + [(1 - share) / (nodes - 1)] * (nodes - 1)
        net = _network(
            nodes=nodes,
            seed=seed,
            latency=latency,
            block_interval=block_interval,
            hashpower=hashpower,
            behaviours={0: "withhold"},
            record_messages=False,
        ).run(blocks=blocks)
        withheld = sum(info.producer == 0 for info in net.block_info.values())
        on_main, main = _main_share(net, 0)
        rows.append(
            {
                "share": share,
                "seed": seed,
                "withheld_blocks": withheld,
                "withheld_on_main": on_main,
                "seconds_per_block": net.now / main if main else float("nan"),
                "expected_seconds_per_block": block_interval / (1 - share),
            }
        )
    if bar is not None:
        bar.update(len(runs), len(runs))
        bar.close()
    return pd.DataFrame(rows)
