"""Proof of work to look at: mine at a chosen difficulty, and watch retargeting steer block times.

* ``mine_at_difficulty(header, zero_bits)`` searches nonces for ``header`` with its target set to
  ``zero_bits`` leading zero bits, reporting progress; ``mining_widget`` puts a difficulty slider,
  a Mine button and a progress bar on it.
* ``simulate_retargeting(...)`` builds a real chain whose blocks are really mined, with timestamps
  drawn from a seeded model of miners whose total hash rate changes part-way; the table it returns
  shows how difficulty retargeting brings the block time back to ``target_block_time``.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

import pandas as pd

from blockkit.blocks import Header
from blockkit.chain import Chain
from blockkit.consensus.pow import MiningProgress, mine
from blockkit.hashing import MAX_TARGET, difficulty_from_target
from blockkit.params import CLASSROOM, Params

__all__ = [
    "MiningResult",
    "mine_at_difficulty",
    "mining_widget",
    "plot_retargeting",
    "simulate_retargeting",
    "target_for_zero_bits",
]


def target_for_zero_bits(zero_bits: int) -> int:
    """The target a hash meets exactly when it starts with ``zero_bits`` zero bits."""
    if not 0 <= zero_bits <= 255:
        raise ValueError("zero_bits is between 0 and 255")
    return MAX_TARGET >> zero_bits


@dataclass(frozen=True)
class MiningResult:
    """A solved header and what it cost."""

    header: Header
    attempts: int
    zero_bits: int

    def summary(self) -> str:
        """One line: difficulty, nonce, attempts and the winning hash."""
        return (
            f"{self.zero_bits} zero bits: nonce {self.header.nonce} after {self.attempts:,} "
            f"attempts (expected about {2**self.zero_bits:,}), hash {self.header.hash.hex()[:24]}…"
        )


def mine_at_difficulty(
    header: Header,
    zero_bits: int,
    *,
    progress: Callable[[MiningProgress], object] | None = None,
    progress_every: int = 4_096,
    max_attempts: int | None = None,
) -> MiningResult | None:
    """Mine ``header`` with its target replaced by ``zero_bits`` zero bits (a demonstration: a
    chain only accepts the target its retargeting rule computes). ``None`` if stopped early."""
    solved = mine(
        replace(header, target=target_for_zero_bits(zero_bits), nonce=0),
        progress=progress,
        progress_every=progress_every,
        max_attempts=max_attempts,
    )
    if solved is None:
        return None
    return MiningResult(solved, solved.nonce + 1, zero_bits)


def mining_widget(header: Header, zero_bits: int = 12) -> Any:
    """A difficulty slider, a Mine button, a progress bar and the result of each run."""
    import ipywidgets as widgets

    slider = widgets.IntSlider(value=zero_bits, min=0, max=22, description="zero bits")
    button = widgets.Button(description="Mine", button_style="primary")
    bar = widgets.IntProgress(value=0, min=0, max=1, description="attempts")
    result = widgets.HTML()

    def run(_: object = None) -> None:
        bits = slider.value
        bar.max = max(1, 3 * 2**bits)  # three times the expected work fills the bar
        bar.value = 0
        button.disabled = True

        def report(p: MiningProgress) -> None:
            bar.value = min(bar.max, p.attempts)

        try:
            found = mine_at_difficulty(header, bits, progress=report)
        finally:
            button.disabled = False
        assert found is not None  # no attempt limit: mining always ends with a nonce
        bar.value = min(bar.max, found.attempts)
        result.value = f'<span class="blockkit-mining-result">{found.summary()}</span>'

    button.on_click(run)
    return widgets.VBox([widgets.HBox([slider, button]), bar, result])


def simulate_retargeting(
    blocks: int = 60,
    hash_rates: Sequence[tuple[int, float]] = ((0, 409.6), (30, 1638.4)),
    *,
    params: Params = CLASSROOM,
    seed: int = 2026,
) -> tuple[Chain, pd.DataFrame]:
    """Mine ``blocks`` real blocks whose timestamps come from a model of the network's miners.

    ``hash_rates`` lists (from height, hashes per simulated second). The time to find a block is
    exponential with mean ``difficulty / hash rate`` (every hash is an independent lottery
    ticket), drawn from ``random.Random(seed)``. The chain retargets with its own rule; the table
    has one row per block: height, hash rate, difficulty, seconds since the parent.
    """
    rng = random.Random(seed)
    chain = Chain(params)
    miner = b"\x4d" * 20
    rows = []
    for height in range(1, blocks + 1):
        rate = [r for start, r in hash_rates if start <= height][-1]
        parent = chain.head.header
        target = chain.consensus.next_target(chain, parent)
        difficulty = difficulty_from_target(target)
        gap = max(1, round(rng.expovariate(rate / difficulty)))
        block = chain.mine_block(proposer=miner, timestamp=parent.timestamp + gap)
        chain.add_block(block)
        rows.append(
            {"height": height, "hash rate": rate, "difficulty": difficulty, "block time": gap}
        )
    return chain, pd.DataFrame(rows)


def plot_retargeting(table: pd.DataFrame, params: Params = CLASSROOM) -> Any:
    """Block times and difficulty per height, with the target block time and retarget points."""
    import matplotlib.pyplot as plt

    fig, (top, bottom) = plt.subplots(2, 1, figsize=(8, 5), sharex=True)
    top.bar(table["height"], table["block time"], color="#1f77b4", label="block time")
    rolling = table["block time"].rolling(params.retarget_interval, min_periods=1).mean()
    top.plot(
        table["height"], rolling, color="#ff7f0e", label=f"mean of last {params.retarget_interval}"
    )
    top.axhline(params.target_block_time, color="#2ca02c", linestyle="--", label="target")
    top.set_ylabel("seconds")
    top.legend(loc="upper right")
    bottom.step(
        table["height"], table["difficulty"], where="mid", color="#9467bd", label="difficulty"
    )
    bottom.plot(
        table["height"],
        table["hash rate"] * params.target_block_time,
        ":",
        color="#7f7f7f",
        label="ideal difficulty (hash rate x target time)",
    )
    bottom.set_ylabel("difficulty")
    bottom.set_xlabel("height")
    bottom.legend(loc="upper left")
    for height in range(
        params.retarget_interval, int(table["height"].max()) + 1, params.retarget_interval
    ):
        for ax in (top, bottom):
            ax.axvline(height + 0.5, color="#cccccc", linewidth=0.8, zorder=0)
    fig.tight_layout()
    return fig
