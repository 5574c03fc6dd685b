"""Proof of work: a block is valid only if its header hash is below a target; miners try nonces.

Finding such a nonce takes, on average, ``2**256 / target`` hashes; checking one takes a single
hash. Fork choice follows the branch with the most accumulated work, so rewriting history means
redoing its work faster than everyone else extends it.

Every ``retarget_interval`` blocks the target is rescaled so that blocks keep coming every
``target_block_time`` seconds as hash power changes. The chain *enforces* it: a header whose
target differs from ``next_target`` is rejected, or a miner could simply declare an easy target.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

from blockkit.blocks import Block, Header, HeaderTemplate
from blockkit.consensus.base import Consensus, HeaderLookup
from blockkit.errors import InvalidBlock
from blockkit.hashing import meets_target, work_from_target
from blockkit.params import CLASSROOM, Params

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
    """Nakamoto consensus: the heaviest chain of valid proof-of-work blocks wins."""

    name = "pow"

    def __init__(self, params: Params = CLASSROOM) -> None:
        self.params = params

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
