"""Proof of work: a block is valid only if its header hash is below a target; miners try nonces.

Finding such a nonce takes, on average, ``2**256 / target`` hashes; checking one takes a single
hash. Fork choice follows the branch with the most accumulated work, so rewriting history means
redoing its work faster than everyone else extends it.

Every ``retarget_interval`` blocks the target is rescaled so that blocks keep coming every
``target_block_time`` seconds as hash power changes. The chain *enforces* it: a header whose
target differs from ``next_target`` is rejected, or a miner could simply declare an easy target.

On the simulated network (``Network("pow", nodes=20, hashpower=[...], block_interval=10)``)
``ProofOfWork`` builds the miners of ``blockkit.network.pow``: who finds the next block, and when,
comes from the hash-power model; the nonce in every header is still mined and checked for real.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from blockkit.blocks import Block, Header, HeaderTemplate
from blockkit.consensus.base import Consensus, HeaderLookup
from blockkit.errors import InvalidBlock
from blockkit.hashing import meets_target, work_from_target
from blockkit.params import CLASSROOM, NETWORK, Params

if TYPE_CHECKING:
    from blockkit.network.sim import NetworkCore, Node

__all__ = ["MiningProgress", "ProofOfWork", "mine", "next_target"]

_NONCE_LIMIT = 2**64


@dataclass(frozen=True)
class MiningProgress:
    """What a mining progress callback is told: how many nonces were tried so far."""

    attempts: int
    nonce: int
    """The next nonce to try."""


def mine(
    header: Header,
    *,
    start_nonce: int = 0,
    max_attempts: int | None = None,
    progress: Callable[[MiningProgress], object] | None = None,
    progress_every: int = 16_384,
) -> Header | None:
    """Search nonces from ``start_nonce`` until the header hash meets ``header.target``.

    Returns the header with the winning nonce, or ``None`` when ``max_attempts`` ran out or the
    ``progress`` callback returned ``False`` (a notebook's stop button). The callback is called
    every ``progress_every`` attempts.
    """
    if progress_every < 1:
        raise ValueError("progress_every is at least 1")
    template = HeaderTemplate(header)
    midstate = template._midstate
    target = header.target
    end = _NONCE_LIMIT if max_attempts is None else min(_NONCE_LIMIT, start_nonce + max_attempts)
    from_bytes = int.from_bytes
    nonce = start_nonce
    while nonce < end:
        stop = min(end, nonce + progress_every)
        for candidate in range(nonce, stop):
            h = midstate.copy()
            h.update(candidate.to_bytes(8, "big"))
            if from_bytes(h.digest(), "big") <= target:
                return template.with_nonce(candidate)
        nonce = stop
        if progress is not None and progress(MiningProgress(nonce - start_nonce, nonce)) is False:
            return None
    return None


def next_target(chain: HeaderLookup, parent: Header, params: Params) -> int:
    """The target for the child of ``parent``: unchanged except at retarget heights.

    At a height divisible by ``retarget_interval`` the target is scaled by how long the last
    window of blocks actually took against how long it should have taken, clamped to a factor of
    ``max_retarget_factor`` either way and to ``max_target``. Blocks too fast: smaller target,
    harder; blocks too slow: larger target, easier.
    """
    height = parent.height + 1
    if height % params.retarget_interval != 0:
        return parent.target
    first = chain.ancestor(parent.hash, max(height - params.retarget_interval - 1, 0))
    gaps = parent.height - first.height
    if gaps == 0:
        return parent.target
    expected = params.target_block_time * gaps
    actual = parent.timestamp - first.timestamp
    factor = params.max_retarget_factor
    target = parent.target * max(actual, 0) // expected
    target = max(parent.target // factor, min(target, parent.target * factor))
    return max(1, min(params.max_target, target))


class ProofOfWork(Consensus):
    """Nakamoto consensus: the heaviest chain of valid proof-of-work blocks wins.

    The keyword arguments only matter on a simulated network (see ``for_network``).
    """

    name = "pow"

    #: Faults a simulated miner can have (``Network("pow", behaviours={3: "selfish"})``):
    #: ``selfish`` (Eyal & Sirer's withholding strategy), ``withhold`` (never publishes its own
    #: blocks: wasted work) and ``double-spend`` (pays a merchant, then overrides the payment
    #: with a privately mined chain).
    behaviours = ("selfish", "withhold", "double-spend")

    def __init__(
        self,
        params: Params = CLASSROOM,
        *,
        hashpower: Sequence[float] | None = None,
        block_interval: float = 10.0,
        degree: int = 8,
        allocations: Mapping[bytes, int] | None = None,
    ) -> None:
        self.params = params
        if not (isinstance(block_interval, int | float) and block_interval > 0):
            raise ValueError(
                f"block_interval is mean seconds between blocks > 0: {block_interval!r}"
            )
        if not isinstance(degree, int) or isinstance(degree, bool) or degree < 1:
            raise ValueError(f"degree is the number of gossip peers per node, >= 1: {degree!r}")
        self.hashpower: tuple[float, ...] | None = (
            None if hashpower is None else _normalise(hashpower)
        )
        """Each node's share of the hash power (sums to 1); None means equal shares."""
        self.block_interval = float(block_interval)
        """Mean simulated seconds between blocks, network-wide."""
        self.degree = degree
        """Gossip peers per node (``NetworkCore.connect_random``)."""
        self.allocations: dict[bytes, int] = dict(allocations or {})
        """Genesis balances of every simulated node's chain (fund a double-spender here)."""

    # --- on the network -------------------------------------------------------------------------

    @classmethod
    def for_network(  # type: ignore[override]
        cls,
        nodes: int,
        *,
        hashpower: Sequence[float] | None = None,
        block_interval: float = 10.0,
        degree: int = 8,
        params: Params | None = None,
        allocations: Mapping[bytes, int] | None = None,
    ) -> ProofOfWork:
        """Proof of work for ``nodes`` simulated miners.

        ``hashpower`` lists each node's share (any positive numbers; normalised to sum to 1;
        default equal). ``block_interval`` is the mean time between blocks network-wide,
        ``degree`` the number of gossip peers, ``params`` the chain preset (default ``NETWORK``:
        an easy fixed target), ``allocations`` genesis balances.
        """
        if hashpower is not None and len(hashpower) != nodes:
            raise ValueError(
                f"hashpower lists one share per node: got {len(hashpower)} shares for {nodes} nodes"
            )
        return cls(
            NETWORK if params is None else params,
            hashpower=hashpower,
            block_interval=block_interval,
            degree=degree,
            allocations=allocations,
        )

    def shares(self, nodes: int) -> tuple[float, ...]:
        """Hash-power shares of ``nodes`` nodes: ``hashpower`` or equal shares."""
        if self.hashpower is None:
            return (1.0 / nodes,) * nodes
        if len(self.hashpower) != nodes:
            raise ValueError(
                f"this ProofOfWork has {len(self.hashpower)} hash-power shares, the network "
                f"{nodes} nodes"
            )
        return self.hashpower

    def make_node(self, network: NetworkCore, node_id: int, behaviour: str = "honest") -> Node:
        """A miner (``blockkit.network.pow.Miner`` or the subclass for ``behaviour``)."""
        from blockkit.network.pow import make_miner

        return make_miner(self, network, node_id, behaviour)

    def connect(self, network: NetworkCore) -> None:
        """A random gossip graph of about ``degree`` peers each; then start the mining clock."""
        from blockkit.network.pow import MiningClock

        network.connect_random(self.degree)
        MiningClock.attach(network, self.shares(len(network.nodes)), self.block_interval)

    def next_target(self, chain: HeaderLookup, parent: Header) -> int:
        """See ``next_target``."""
        return next_target(chain, parent, self.params)

    def check_header(self, chain: HeaderLookup, parent: Header, header: Header) -> None:
        """The header carries the retargeted target, no seal, and its hash meets the target."""
        if header.seal:
            raise InvalidBlock("unexpected-seal", "proof-of-work headers carry an empty seal")
        expected = self.next_target(chain, parent)
        if header.target != expected:
            raise InvalidBlock(
                "bad-target",
                f"header target {header.target:#x} is not the retargeted {expected:#x}",
            )
        if not meets_target(header.hash, header.target):
            raise InvalidBlock(
                "bad-pow",
                f"header hash {header.hash.hex()[:16]}… is above the target: not enough work",
            )

    def weight(self, header: Header) -> int:
        """Expected hashes to produce this header: ``work_from_target(target)``."""
        return work_from_target(header.target)

    def seal(self, block: Block, **mine_options: object) -> Block:
        """Mine ``block``: find a nonce; raise ``RuntimeError`` if the nonce space runs out."""
        header = mine(block.header, **mine_options)  # type: ignore[arg-type]
        if header is None:
            raise RuntimeError("mining stopped before a valid nonce was found")
        return replace(block, header=header)


def _normalise(hashpower: Sequence[float]) -> tuple[float, ...]:
    """Shares that sum to 1; ValueError for negative, non-numeric or all-zero shares."""
    shares = list(hashpower)
    for share in shares:
        if isinstance(share, bool) or not isinstance(share, int | float) or not share >= 0:
            raise ValueError(f"hash-power shares are numbers >= 0, not {share!r}")
    total = float(sum(shares))
    if not total > 0:
        raise ValueError("at least one node needs hash power > 0")
    return tuple(share / total for share in shares)
