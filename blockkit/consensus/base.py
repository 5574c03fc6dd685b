"""The one interface every consensus protocol implements."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, Any, Protocol

from blockkit.blocks import Block, Header
from blockkit.params import Params

if TYPE_CHECKING:
    from blockkit.network.sim import NetworkCore, Node

__all__ = ["Consensus", "HeaderLookup"]


class HeaderLookup(Protocol):
    """What a consensus rule may ask of the chain: headers of known blocks."""

    def header(self, block_hash: bytes) -> Header:
        """The header of a known block; raises ``UnknownBlock`` otherwise."""
        ...

    def ancestor(self, block_hash: bytes, height: int) -> Header:
        """The header at ``height`` on the branch ending at ``block_hash``."""
        ...


class Consensus(ABC):
    """Who may produce a block, what proves it, and how much a branch weighs in fork choice.

    The same object serves the chain (the four header rules below) and the network simulator
    (``make_node``, ``connect``): ``Network(consensus=...)`` builds nodes that each run a
    ``Chain`` with this consensus, so swapping PoW for PoA, Raft or PBFT is one argument.
    """

    name: str
    params: Params

    @abstractmethod
    def next_target(self, chain: HeaderLookup, parent: Header) -> int:
        """The target a child of ``parent`` must carry in its header."""

    @abstractmethod
    def check_header(self, chain: HeaderLookup, parent: Header, header: Header) -> None:
        """Raise ``InvalidBlock`` unless ``header``'s consensus evidence is valid on ``parent``.

        Linking, height and timestamp rules are checked by the chain for every protocol; this
        checks what is particular to the protocol (target and proof of work, an authority's seal).
        """

    @abstractmethod
    def weight(self, header: Header) -> int:
        """What ``header`` adds to its branch's weight; fork choice picks the heaviest branch."""

    @abstractmethod
    def seal(self, block: Block) -> Block:
        """Turn a proposed block into one this protocol accepts (mine it, sign it, ...)."""

    # --- on the network (blockkit.network) ------------------------------------------------------

    @classmethod
    def for_network(cls, nodes: int, **options: Any) -> Consensus:
        """This protocol set up for a network of ``nodes`` nodes (keys, validator set, ...)."""
        raise NotImplementedError(f"{cls.__name__} cannot be simulated on a network")

    def make_node(self, network: NetworkCore, node_id: int, behaviour: str = "honest") -> Node:
        """Node ``node_id`` of ``network``, running this protocol; ``behaviour`` names a fault."""
        raise NotImplementedError(f"{type(self).__name__} cannot be simulated on a network")

    def connect(self, network: NetworkCore) -> None:
        """Wire the nodes together: a full mesh unless the protocol gossips."""
        network.connect_all()

    #: Behaviours ``make_node`` understands besides ``"honest"``.
    behaviours: tuple[str, ...] = ()
