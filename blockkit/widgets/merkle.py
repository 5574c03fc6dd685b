"""Drawing Merkle trees: every level of the tree, with one leaf's proof path highlighted.

``tree_levels(leaves)`` returns the node hashes level by level (leaves first, as blockkit builds
them: odd nodes promoted); ``draw_tree`` draws them with matplotlib, marking the path from a leaf to
the top in green and the siblings a proof must carry in orange.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from blockkit.merkle import _build_levels, hash_leaf

__all__ = ["draw_tree", "proof_path", "tree_levels"]


def tree_levels(leaves: Sequence[bytes]) -> list[list[bytes]]:
    """Node hashes per level, from the hashed leaves up to the single top node."""
    if not leaves:
        return []
    return _build_levels([hash_leaf(leaf) for leaf in leaves])


def proof_path(leaf_count: int, index: int) -> tuple[set[tuple[int, int]], set[tuple[int, int]]]:
    """(path, siblings) as sets of (level, position): the nodes recomputed and the nodes supplied
    by a proof for leaf ``index``."""
    if not 0 <= index < leaf_count:
        raise IndexError(f"leaf {index} is outside a tree of {leaf_count} leaves")
    path, siblings = set(), set()
    level, i, count = 0, index, leaf_count
    while True:
        path.add((level, i))
        if count == 1:
            break
        if not (i % 2 == 0 and i == count - 1):  # a promoted node has no sibling
            siblings.add((level, i ^ 1))
        level, i, count = level + 1, i // 2, (count + 1) // 2
    return path, siblings


def draw_tree(
    leaves: Sequence[bytes], highlight: int | None = None, ax: Any = None, labels: bool = True
) -> Any:
    """Draw the tree over ``leaves``; with ``highlight``, show that leaf's inclusion proof."""
    import matplotlib.pyplot as plt

    levels = tree_levels(leaves)
    if ax is None:
        _, ax = plt.subplots(figsize=(max(6, 1.3 * len(leaves)), 1.1 * (len(levels) + 1)))
    path, siblings = proof_path(len(leaves), highlight) if highlight is not None else (set(), set())
    width = len(levels[0]) if levels else 1
    positions: dict[tuple[int, int], tuple[float, float]] = {}
    for level, nodes in enumerate(levels):
        span = 2**level
        for i, _ in enumerate(nodes):
            first = i * span
            last = min(first + span, width) - 1
            positions[(level, i)] = ((first + last) / 2, level)
    for (level, i), (x, y) in positions.items():
        if level + 1 < len(levels):
            px, py = positions[(level + 1, i // 2)]
            ax.plot([x, px], [y, py], color="#999999", zorder=1)
    for (level, i), (x, y) in positions.items():
        colour = (
            "#2ca02c" if (level, i) in path else "#ff7f0e" if (level, i) in siblings else "#c6dbef"
        )
        ax.scatter([x], [y], s=900, color=colour, zorder=2, edgecolors="#333333")
        ax.annotate(
            levels[level][i].hex()[:4], (x, y), ha="center", va="center", fontsize=8, zorder=3
        )
    if labels:
        for i, leaf in enumerate(leaves):
            text = leaf.decode("utf-8", "replace") if len(leaf) <= 12 else leaf.hex()[:8] + "…"
            ax.annotate(text, (i, -0.55), ha="center", va="center", fontsize=9)
    top = len(levels)
    ax.annotate(
        "root = H(0x02 ‖ count ‖ top)", ((width - 1) / 2, top - 0.35), ha="center", fontsize=9
    )
    ax.set_ylim(-0.9, top)
    ax.set_xlim(-0.7, width - 0.3)
    ax.axis("off")
    return ax
