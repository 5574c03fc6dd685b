"""Lesson 03, Merkle trees: leaf hashes, roots, and checking inclusion proofs."""

from __future__ import annotations

import hashlib

from blockkit.grading.registry import Case, add_cases, define
from blockkit.merkle import MerkleProof, merkle_proof, merkle_root, verify_inclusion

define(
    "03.1",
    "Hash a leaf",
    function="leaf_hash",
    points=1,
    hint="hashlib.sha256(b'\\x00' + data).digest(): leaves carry the prefix byte 0x00",
)
add_cases(
    "03.1",
    [
        Case(
            "a transaction",
            (b"alice pays bob 5",),
            hashlib.sha256(b"\x00alice pays bob 5").digest(),
        ),
        Case("an empty leaf", (b"",), hashlib.sha256(b"\x00").digest()),
        Case(
            "64 bytes that look like two hashes",
            (bytes(range(64)),),
            hashlib.sha256(b"\x00" + bytes(range(64))).digest(),
            hint="return the 32-byte digest (.digest()), not hex",
        ),
    ],
)


def _leaves(n: int) -> list[bytes]:
    return [f"tx{i}".encode() for i in range(n)]


define(
    "03.2",
    "The Merkle root",
    function="merkle_root",
    points=3,
    hint="hash the leaves with leaf_hash; while more than one node: pair neighbours with "
    "H(0x01 ‖ left ‖ right) and move an odd last node up unchanged; finally "
    "H(0x02 ‖ len(leaves).to_bytes(8, 'big') ‖ top)",
)
add_cases(
    "03.2",
    [
        Case(
            "no leaves",
            ([],),
            merkle_root([]),
            hint="an empty tree's root is sha256(b'') (blockkit.merkle.EMPTY_ROOT)",
        ),
        Case(
            "one leaf",
            (_leaves(1),),
            merkle_root(_leaves(1)),
            hint="even one leaf gets the root step: H(0x02 ‖ count ‖ leaf_hash)",
        ),
        Case("two leaves", (_leaves(2),), merkle_root(_leaves(2))),
        Case(
            "three leaves (an odd level)",
            (_leaves(3),),
            merkle_root(_leaves(3)),
            hint="the odd last node moves up unchanged; it is not paired with itself",
        ),
        Case("five leaves", (_leaves(5),), merkle_root(_leaves(5))),
        Case("eight leaves", (_leaves(8),), merkle_root(_leaves(8))),
        Case(
            "order matters",
            ([b"b", b"a"],),
            merkle_root([b"b", b"a"]),
            hint="keep the leaves in their given order; do not sort them",
        ),
    ],
)


def _proof_cases() -> list[Case]:
    cases = []
    for n, i in [(1, 0), (2, 1), (3, 2), (5, 4), (7, 3), (8, 6)]:
        leaves = _leaves(n)
        root, proof = merkle_root(leaves), merkle_proof(leaves, i)
        cases.append(Case(f"leaf {i} of {n}", (root, leaves[i], proof), True))
    leaves = _leaves(6)
    root, proof = merkle_root(leaves), merkle_proof(leaves, 2)
    wrong = [
        ("a tampered leaf", (root, b"tx2 but changed", proof), ""),
        (
            "the right leaf at the wrong index",
            (root, leaves[2], MerkleProof(3, 6, proof.siblings)),
            "the index decides on which side each sibling goes: odd index → sibling on the left",
        ),
        (
            "a proof with an extra sibling",
            (root, leaves[2], MerkleProof(2, 6, (*proof.siblings, bytes(32)))),
            "every sibling must be used: a proof with leftovers is not a proof",
        ),
        (
            "a proof with a sibling missing",
            (root, leaves[2], MerkleProof(2, 6, proof.siblings[:-1])),
            "return False (do not raise) when the proof runs out of siblings",
        ),
        (
            "the proof claims another tree size",
            (root, leaves[2], MerkleProof(2, 7, proof.siblings)),
            "the root binds the leaf count: finish with H(0x02 ‖ proof.leaf_count ‖ node)",
        ),
    ]
    for name, args, hint in wrong:
        assert not verify_inclusion(*args)
        cases.append(Case(name, args, False, hint=hint))
    three = _leaves(3)
    replay = merkle_proof(three, 2)
    two_root = merkle_root(three[:2])
    cases.append(Case("a proof replayed against another root", (two_root, three[2], replay), False))
    return cases


define(
    "03.3",
    "Check an inclusion proof",
    function="verify_proof",
    points=3,
    hint="start from leaf_hash(leaf), index = proof.index, count = proof.leaf_count; at each "
    "level, unless the node is the promoted odd one (even index == count - 1), take the next "
    "sibling and hash it on the correct side; then index //= 2, count = (count + 1) // 2",
)
add_cases("03.3", _proof_cases())
