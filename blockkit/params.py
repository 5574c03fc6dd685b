"""Chain parameters as frozen presets: ``CLASSROOM`` for lessons and tests, ``REALISTIC`` for scale.

Every rule with a number in it (block reward, target block time, how often difficulty retargets,
how large a block may be) reads it from a ``Params`` value, never from a constant in the code. A
lesson that mines in a second and a simulation that mirrors Bitcoin's pace run the same code with
different presets; ``dataclasses.replace(CLASSROOM, block_reward=0)`` makes a variant.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

from blockkit.hashing import MAX_TARGET, target_from_difficulty

__all__ = ["CLASSROOM", "NETWORK", "PRESETS", "REALISTIC", "Params"]


@dataclass(frozen=True)
class Params:
    """The numbers that define one chain. Two nodes with different params disagree on validity."""

    name: str
    """Preset name, for display."""
    chain_id: int
    """Signed into every transaction, so a transaction for one chain is invalid on every other."""
    block_reward: int
    """New coins the block's proposer receives, on top of the block's fees."""
    target_block_time: int
    """Seconds between blocks that difficulty retargeting steers towards."""
    retarget_interval: int
    """Blocks between difficulty adjustments (Bitcoin: 2016)."""
    max_retarget_factor: int
    """One adjustment changes the target by at most this factor either way (Bitcoin: 4)."""
    initial_target: int
    """Target of the first blocks after genesis."""
    max_target: int
    """The easiest target retargeting may reach."""
    max_block_transactions: int
    """At most this many transactions in one block."""
    max_transaction_data: int
    """At most this many bytes in a transaction's ``data`` field."""
    max_future_drift: int
    """A block's timestamp may be at most this many seconds ahead of the validating node's clock."""

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name != "name" and (not isinstance(value, int) or value < 0):
                raise ValueError(f"Params.{f.name} must be a non-negative int, not {value!r}")
        if not 0 < self.initial_target <= self.max_target <= MAX_TARGET:
            raise ValueError("need 0 < initial_target <= max_target <= 2**256 - 1")
        if self.retarget_interval < 1 or self.max_retarget_factor < 1:
            raise ValueError("retarget_interval and max_retarget_factor are at least 1")
        if self.target_block_time < 1:
            raise ValueError("target_block_time is at least 1 second")


#: Mines a block in a few milliseconds (about 4,096 hashes), retargets every 10 blocks.
CLASSROOM = Params(
    name="classroom",
    chain_id=1337,
    block_reward=50,
    target_block_time=10,
    retarget_interval=10,
    max_retarget_factor=4,
    initial_target=target_from_difficulty(2**12),
    max_target=target_from_difficulty(2**4),
    max_block_transactions=1_000,
    max_transaction_data=16_384,
    max_future_drift=2 * 60 * 60,
)

#: Bitcoin-like pacing: 10-minute blocks, retargeting every 2,016 blocks, a real difficulty.
REALISTIC = Params(
    name="realistic",
    chain_id=1,
    block_reward=50 * 10**8,
    target_block_time=600,
    retarget_interval=2_016,
    max_retarget_factor=4,
    initial_target=target_from_difficulty(2**32),
    max_target=target_from_difficulty(2**32),
    max_block_transactions=10_000,
    max_transaction_data=65_536,
    max_future_drift=2 * 60 * 60,
)

#: For network simulations (``Network("pow", ...)``): a fixed, very easy target, so every node
#: mines and checks real proof of work in about 16 hashes per block. In a simulation, *when* a
#: block is found comes from the hash-power model (``blockkit.network.pow.MiningClock``: a Poisson
#: process over simulated time), not from how long hashing took; the nonce in every header is
#: still found for real and checked by every node's ``Chain``. Header timestamps are milliseconds
#: of simulated time. ``max_retarget_factor=1`` keeps the target fixed (no retargeting), so the
#: heaviest chain is simply the longest. No block reward: the state then holds only the genesis
#: accounts, so a 100-node run does not recompute a 100-account state root per block per node;
#: who earned what is read from ``Network.blocks_df()`` (``producer`` of main-chain blocks).
#: ``dataclasses.replace(NETWORK, block_reward=50)`` pays rewards (slower with many miners).
NETWORK = Params(
    name="network",
    chain_id=1338,
    block_reward=0,
    target_block_time=10,
    retarget_interval=1_000_000,
    max_retarget_factor=1,
    initial_target=target_from_difficulty(2**4),
    max_target=target_from_difficulty(2**4),
    max_block_transactions=1_000,
    max_transaction_data=4_096,
    max_future_drift=2 * 60 * 60,
)

PRESETS: dict[str, Params] = {p.name: p for p in (CLASSROOM, REALISTIC, NETWORK)}
