"""blockkit: a compact, complete blockchain for teaching, and the course built on it.

The most used names are importable from the package itself (``from blockkit import Chain``); each
lives in the module named below, which loads on first use so that ``import blockkit`` stays fast.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_EXPORTS = {
    "Chain": "blockkit.chain",
    "AddResult": "blockkit.chain",
    "Block": "blockkit.blocks",
    "Header": "blockkit.blocks",
    "Transaction": "blockkit.transactions",
    "sign_transaction": "blockkit.transactions",
    "validate_transaction": "blockkit.transactions",
    "PrivateKey": "blockkit.keys",
    "PublicKey": "blockkit.keys",
    "Address": "blockkit.keys",
    "State": "blockkit.state",
    "Account": "blockkit.state",
    "Mempool": "blockkit.mempool",
    "ProofOfWork": "blockkit.consensus.pow",
    "ProofOfAuthority": "blockkit.consensus.poa",
    "Raft": "blockkit.consensus.raft",
    "PBFT": "blockkit.consensus.pbft",
    "Network": "blockkit.network",
    "mine": "blockkit.consensus.pow",
    "MerkleTree": "blockkit.merkle",
    "merkle_root": "blockkit.merkle",
    "verify_inclusion": "blockkit.merkle",
    "encode": "blockkit.encoding",
    "decode": "blockkit.encoding",
    "sha256": "blockkit.hashing",
    "Params": "blockkit.params",
    "CLASSROOM": "blockkit.params",
    "REALISTIC": "blockkit.params",
}

__all__ = ["__version__", *sorted(_EXPORTS)]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'blockkit' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
