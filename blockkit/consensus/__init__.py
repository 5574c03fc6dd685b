"""Consensus: the rules that decide who may add the next block and which branch is the chain.

Every protocol implements one small interface, ``Consensus``, so the chain, the network simulator
and the lessons can swap proof of work for proof of authority, Raft or PBFT with one argument:

* ``pow.ProofOfWork`` — Nakamoto consensus: the heaviest chain of proof-of-work blocks;
* ``poa.ProofOfAuthority`` — authorities seal blocks in turn (Aura-style slots);
* ``raft.Raft`` — an elected leader; final once a majority stored a block (crash faults);
* ``pbft.PBFT`` — Castro and Liskov's three-phase protocol among 3f+1 replicas (Byzantine faults).

The permissioned three share ``committee.Committee``: blocks sealed by a validator's signature.
They load on first use (``blockkit.consensus.PBFT``), so the chain can import the base cheaply.
"""

from __future__ import annotations

import importlib
from typing import Any

from blockkit.consensus.base import Consensus, HeaderLookup
from blockkit.consensus.pow import MiningProgress, ProofOfWork, mine, next_target

_LAZY = {
    "Committee": "blockkit.consensus.committee",
    "ProofOfAuthority": "blockkit.consensus.poa",
    "Raft": "blockkit.consensus.raft",
    "PBFT": "blockkit.consensus.pbft",
}

__all__ = [
    "PBFT",
    "Committee",
    "Consensus",
    "HeaderLookup",
    "MiningProgress",
    "ProofOfAuthority",
    "ProofOfWork",
    "Raft",
    "mine",
    "next_target",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'blockkit.consensus' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
