"""The functions behind lesson 03's tree drawings."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import pytest

from blockkit.merkle import merkle_proof, merkle_root_of_hashes
from blockkit.widgets.merkle import draw_tree, proof_path, tree_levels


@pytest.mark.parametrize("n", range(1, 18))
def test_levels_end_in_the_top_node_of_the_real_root(n):
    leaves = [bytes([i]) for i in range(n)]
    levels = tree_levels(leaves)
    assert len(levels[-1]) == 1
    assert merkle_root_of_hashes(levels[0]) is not None
    from blockkit.merkle import hash_root, merkle_root

    assert hash_root(levels[-1][0], n) == merkle_root(leaves)


@pytest.mark.parametrize("n", range(1, 18))
def test_the_orange_siblings_are_exactly_the_proof(n):
    leaves = [bytes([i]) for i in range(n)]
    levels = tree_levels(leaves)
    for index in range(n):
        path, siblings = proof_path(n, index)
        shown = [levels[level][i] for level, i in sorted(siblings)]
        assert shown == list(merkle_proof(leaves, index).siblings)
        assert (0, index) in path and (len(levels) - 1, 0) in path


def test_draw_tree_draws_a_node_per_hash():
    ax = draw_tree([b"a", b"b", b"c"], highlight=1)
    assert len(ax.collections) == sum(len(level) for level in tree_levels([b"a", b"b", b"c"]))
    with pytest.raises(IndexError):
        proof_path(3, 3)
    assert tree_levels([]) == []
