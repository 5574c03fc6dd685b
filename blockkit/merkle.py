"""Merkle trees: one 32-byte root that commits to a whole list, and short proofs of membership.

A block header holds the root of its transactions; a light client that trusts the header can be
convinced that one transaction is in the block with ``log2(n)`` sibling hashes instead of all ``n``
transactions.

Two design choices close known holes:

* **Domain separation.** Leaves are hashed as ``H(0x00 || data)`` and inner nodes as
  ``H(0x01 || left || right)`` (as in RFC 6962). Without it, the 64 bytes of an inner node could be
  presented as a leaf, and a proof for a "leaf" that is really a subtree would verify (the second
  preimage trick).
* **Odd levels promote, never duplicate.** When a level has an odd number of nodes, the last one
  moves up unchanged. Bitcoin instead hashes it with itself, so ``[a, b, c]`` and ``[a, b, c, c]``
  share a root (CVE-2012-2459); here they do not.

* **The root commits to the leaf count.** The root is ``H(0x02 || count || top)``, where ``top``
  is the node at the top of the tree and ``count`` is 8 bytes. Without it the same siblings can
  be shown to verify for another position in a tree of another size (a proof for leaf 2 of 3
  also "proves" leaf 1 of 2, and leaf 0 of 3 also "proves" leaf 0 of 4), so a proof would not
  really say *where* a leaf is, or how many leaves there are.

A proof records the leaf's index and the leaf count; the verifier recomputes from them which
levels have a sibling and binds the count through the root, so a proof cannot be replayed for
another position or another tree size.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

from blockkit.hashing import HASH_SIZE

__all__ = [
    "EMPTY_ROOT",
    "MerkleProof",
    "MerkleTree",
    "hash_leaf",
    "hash_node",
    "hash_root",
    "merkle_proof",
    "merkle_root",
    "merkle_root_of_hashes",
    "root_from_proof",
    "verify_inclusion",
]

LEAF_PREFIX = b"\x00"
NODE_PREFIX = b"\x01"
ROOT_PREFIX = b"\x02"
#: The root of an empty list: the hash of nothing, which no leaf or node hash can equal.
EMPTY_ROOT = hashlib.sha256(b"").digest()


def hash_leaf(data: bytes) -> bytes:
    """Hash of a leaf: ``H(0x00 || data)``."""
    return hashlib.sha256(LEAF_PREFIX + data).digest()


def hash_node(left: bytes, right: bytes) -> bytes:
    """Hash of an inner node: ``H(0x01 || left || right)``."""
    return hashlib.sha256(NODE_PREFIX + left + right).digest()


def hash_root(top: bytes, leaf_count: int) -> bytes:
    """The root of a non-empty tree: ``H(0x02 || leaf_count as 8 bytes || top)``."""
    return hashlib.sha256(ROOT_PREFIX + leaf_count.to_bytes(8, "big") + top).digest()


def _next_level(level: list[bytes]) -> list[bytes]:
    sha = hashlib.sha256
    pairs = len(level) - 1
    parents = [sha(b"\x01" + level[i] + level[i + 1]).digest() for i in range(0, pairs, 2)]
    if len(level) % 2:
        parents.append(level[-1])  # promoted unchanged
    return parents


def merkle_root_of_hashes(leaf_hashes: Sequence[bytes]) -> bytes:
    """Root of a tree whose leaves are already hashed with ``hash_leaf``."""
    if not leaf_hashes:
        return EMPTY_ROOT
    level = list(leaf_hashes)
    while len(level) > 1:
        level = _next_level(level)
    return hash_root(level[0], len(leaf_hashes))


def merkle_root(leaves: Sequence[bytes]) -> bytes:
    """Root of the Merkle tree over ``leaves`` (raw data, hashed here as leaves)."""
    sha = hashlib.sha256
    return merkle_root_of_hashes([sha(b"\x00" + leaf).digest() for leaf in leaves])


@dataclass(frozen=True)
class MerkleProof:
    """Evidence that a leaf sits at ``index`` in a tree of ``leaf_count`` leaves."""

    index: int
    """Position of the leaf, counted from 0."""
    leaf_count: int
    """Number of leaves in the tree the proof was made from."""
    siblings: tuple[bytes, ...]
    """Sibling hashes from the leaf's level up to just below the root."""

    def to_canonical(self) -> list[object]:
        """Plain fields for canonical encoding."""
        return [self.index, self.leaf_count, list(self.siblings)]

    def __repr__(self) -> str:
        short = ", ".join(s.hex()[:8] for s in self.siblings)
        return f"MerkleProof(index={self.index}, leaf_count={self.leaf_count}, siblings=[{short}])"


def _build_levels(leaf_hashes: list[bytes]) -> list[list[bytes]]:
    levels = [leaf_hashes]
    while len(levels[-1]) > 1:
        levels.append(_next_level(levels[-1]))
    return levels


def _proof_from_levels(levels: list[list[bytes]], index: int) -> MerkleProof:
    count = len(levels[0])
    if not 0 <= index < count:
        raise IndexError(f"leaf index {index} is outside a tree of {count} leaves")
    siblings = []
    i = index
    for level in levels[:-1]:
        sibling = i ^ 1
        if sibling < len(level):  # the last node of an odd level has no sibling
            siblings.append(level[sibling])
        i //= 2
    return MerkleProof(index, count, tuple(siblings))


def merkle_proof(leaves: Sequence[bytes], index: int) -> MerkleProof:
    """Proof that ``leaves[index]`` is in the tree over ``leaves``."""
    return _proof_from_levels(_build_levels([hash_leaf(leaf) for leaf in leaves]), index)


def root_from_proof(leaf_hash: bytes, proof: MerkleProof) -> bytes | None:
    """The root that ``proof`` leads to from ``leaf_hash``, or None when the proof is malformed."""
    index, count = proof.index, proof.leaf_count
    if not (isinstance(index, int) and isinstance(count, int) and 0 <= index < count < 2**64):
        return None
    node = leaf_hash
    siblings = iter(proof.siblings)
    used = 0
    while count > 1:
        if index % 2 == 0 and index == count - 1:
            pass  # promoted: no sibling at this level
        else:
            sibling = next(siblings, None)
            if not isinstance(sibling, bytes) or len(sibling) != HASH_SIZE:
                return None
            used += 1
            node = hash_node(sibling, node) if index % 2 else hash_node(node, sibling)
        index //= 2
        count = (count + 1) // 2
    if used != len(proof.siblings):
        return None  # extra siblings: not a proof for this position and size
    return hash_root(node, proof.leaf_count)


def verify_inclusion(root: bytes, leaf: bytes, proof: MerkleProof) -> bool:
    """True when ``proof`` shows that raw ``leaf`` is in the tree with ``root``."""
    return root_from_proof(hash_leaf(leaf), proof) == root


class MerkleTree:
    """A whole Merkle tree kept in memory, level by level, for drawing and for many proofs.

    ``levels[0]`` holds the leaf hashes, ``levels[-1]`` just the top node, which ``hash_root``
    binds to the leaf count to give ``root``.
    """

    def __init__(self, leaves: Sequence[bytes]) -> None:
        self.leaves: tuple[bytes, ...] = tuple(leaves)
        self.levels: list[list[bytes]] = _build_levels([hash_leaf(leaf) for leaf in self.leaves])

    @classmethod
    def from_hashes(cls, leaf_hashes: Sequence[bytes]) -> MerkleTree:
        """A tree over leaves already hashed with ``hash_leaf`` (``leaves`` is then empty)."""
        tree = cls(())
        tree.levels = _build_levels(list(leaf_hashes))
        return tree

    @property
    def root(self) -> bytes:
        """The Merkle root (``EMPTY_ROOT`` for no leaves)."""
        return hash_root(self.levels[-1][0], len(self)) if self.levels[0] else EMPTY_ROOT

    def proof(self, index: int) -> MerkleProof:
        """Proof of inclusion for the leaf at ``index``."""
        return _proof_from_levels(self.levels, index)

    def __len__(self) -> int:
        return len(self.levels[0])

    def __repr__(self) -> str:
        return f"MerkleTree({len(self)} leaves, root={self.root.hex()[:16]}…)"
