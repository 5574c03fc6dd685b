"""Consensus: the rules that decide who may add the next block and which branch is the chain.

Every protocol implements one small interface, ``Consensus``, so the chain, the network simulator
and the lessons can swap proof of work for proof of authority (or PBFT, or Raft) with one argument.
"""

from blockkit.consensus.base import Consensus, HeaderLookup
from blockkit.consensus.pow import MiningProgress, ProofOfWork, mine, next_target

__all__ = ["Consensus", "HeaderLookup", "MiningProgress", "ProofOfWork", "mine", "next_target"]
