"""Merkle trees: roots match a brute-force reference, proofs verify, altered proofs fail."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from blockkit.merkle import (
    EMPTY_ROOT,
    MerkleProof,
    MerkleTree,
    hash_leaf,
    merkle_proof,
    merkle_root,
    root_from_proof,
    verify_inclusion,
)

PROPERTY = settings(max_examples=150, deadline=None, derandomize=True)


def reference_root(leaves):
    """The tree written out the slow, obvious way (promote the odd node; bind the count)."""
    if not leaves:
        return hashlib.sha256(b"").digest()
    level = [hashlib.sha256(b"\x00" + leaf).digest() for leaf in leaves]
    while len(level) > 1:
        pairs = [level[i : i + 2] for i in range(0, len(level), 2)]
        level = [
            hashlib.sha256(b"\x01" + p[0] + p[1]).digest() if len(p) == 2 else p[0] for p in pairs
        ]
    return hashlib.sha256(b"\x02" + len(leaves).to_bytes(8, "big") + level[0]).digest()


leaf_lists = st.lists(st.binary(max_size=40), min_size=1, max_size=40)
# distinct leaves: with repeats, "leaf x at another index" can be true, and is then no forgery
distinct_leaf_lists = st.lists(st.binary(max_size=40), min_size=1, max_size=40, unique=True)


@pytest.mark.parametrize("count", [0, 1, 2, 3, 4, 5, 7, 8, 9, 16, 17])
def test_root_matches_the_reference_for_small_trees(count):
    leaves = [bytes([i]) * (i + 1) for i in range(count)]
    assert merkle_root(leaves) == reference_root(leaves) == MerkleTree(leaves).root
    assert (merkle_root([]) == EMPTY_ROOT) and len(MerkleTree(leaves)) == count


@PROPERTY
@given(leaf_lists)
def test_every_proof_of_every_leaf_verifies(leaves):
    tree = MerkleTree(leaves)
    assert tree.root == reference_root(leaves)
    for index, leaf in enumerate(leaves):
        proof = tree.proof(index)
        assert proof == merkle_proof(leaves, index)
        assert verify_inclusion(tree.root, leaf, proof)
        assert len(proof.siblings) <= max(1, len(leaves) - 1).bit_length()


def alterations(proof):
    """Every one-step change to a proof: index, count, each sibling bit region, siblings list."""
    for index in {proof.index - 1, proof.index + 1, proof.index ^ 1, 0, proof.leaf_count - 1}:
        if index != proof.index:
            yield MerkleProof(index, proof.leaf_count, proof.siblings)
    for count in {proof.leaf_count - 1, proof.leaf_count + 1, proof.leaf_count * 2, 2**64}:
        if count != proof.leaf_count:
            yield MerkleProof(proof.index, count, proof.siblings)
    for i, sibling in enumerate(proof.siblings):
        for byte in (0, 31):
            flipped = bytearray(sibling)
            flipped[byte] ^= 0x80
            yield MerkleProof(
                proof.index,
                proof.leaf_count,
                (*proof.siblings[:i], bytes(flipped), *proof.siblings[i + 1 :]),
            )
        yield MerkleProof(
            proof.index, proof.leaf_count, proof.siblings[:i] + proof.siblings[i + 1 :]
        )
    yield MerkleProof(proof.index, proof.leaf_count, (*proof.siblings, b"\x00" * 32))
    if len(set(proof.siblings)) > 1:
        yield MerkleProof(proof.index, proof.leaf_count, proof.siblings[::-1])


@PROPERTY
@given(distinct_leaf_lists, st.data())
def test_every_altered_proof_fails(leaves, data):
    tree = MerkleTree(leaves)
    index = data.draw(st.integers(0, len(leaves) - 1))
    proof = tree.proof(index)
    for altered in alterations(proof):
        if altered.siblings == proof.siblings and altered.index == proof.index:
            assert altered.leaf_count != proof.leaf_count
        assert not verify_inclusion(tree.root, leaves[index], altered), altered
    other = data.draw(st.binary(max_size=40).filter(lambda leaf: leaf != leaves[index]))
    assert not verify_inclusion(tree.root, other, proof)
    assert not verify_inclusion(hashlib.sha256(tree.root).digest(), leaves[index], proof)


def test_a_proof_for_one_position_does_not_prove_another_position_or_size():
    """Replays an unbound root allowed: leaf 2 of 3 as leaf 1 of 2, leaf 0 of 3 as 0 of 4."""
    tree = MerkleTree([b"a", b"b", b"c"])
    third, first = tree.proof(2), tree.proof(0)
    assert verify_inclusion(tree.root, b"c", third)
    assert not verify_inclusion(tree.root, b"c", MerkleProof(1, 2, third.siblings))
    assert not verify_inclusion(tree.root, b"a", MerkleProof(0, 4, first.siblings))


def test_an_inner_node_cannot_pass_as_a_leaf():
    """Second-preimage trick: the 64 bytes under a node presented as a leaf of a smaller tree."""
    leaves = [b"a", b"b", b"c", b"d"]
    tree = MerkleTree(leaves)
    left, right = tree.levels[1]
    forged_leaf = left + right  # what an undifferentiated tree would hash to reach the top
    assert merkle_root([forged_leaf]) != tree.root
    for index in (0, 1):
        fake = MerkleProof(index, 2, (right if index == 0 else left,))
        assert not verify_inclusion(tree.root, left, fake)
        assert root_from_proof(left, fake) != tree.root
    # hashing a pair as a leaf differs from hashing it as a node
    assert hash_leaf(left + right) != tree.levels[2][0]


def test_odd_trees_do_not_collide_with_their_duplicated_extension():
    """CVE-2012-2459: Bitcoin's [a, b, c] and [a, b, c, c] share a root; these must not."""
    assert merkle_root([b"a", b"b", b"c"]) != merkle_root([b"a", b"b", b"c", b"c"])


def test_malformed_proofs_are_refused_not_crashed_on():
    tree = MerkleTree([b"a", b"b", b"c"])
    for bad in (
        MerkleProof(-1, 3, tree.proof(0).siblings),
        MerkleProof(3, 3, tree.proof(0).siblings),
        MerkleProof(0, 0, ()),
        MerkleProof(0, 3, (b"short",)),
        MerkleProof(0, 3, ("not bytes", "x")),
        MerkleProof(True, 3, tree.proof(1).siblings),
    ):
        assert root_from_proof(hash_leaf(b"a"), bad) is None or not verify_inclusion(
            tree.root, b"a", bad
        )
    with pytest.raises(IndexError, match="outside a tree of 3 leaves"):
        tree.proof(3)


@PROPERTY
@given(leaf_lists)
def test_tree_from_hashes_agrees(leaves):
    hashed = MerkleTree.from_hashes([hash_leaf(leaf) for leaf in leaves])
    tree = MerkleTree(leaves)
    assert hashed.root == tree.root
    assert all(hashed.proof(i) == tree.proof(i) for i in range(len(leaves)))
