"""Many nodes on a simulated network, each running the real chain, under one consensus protocol.

    >>> net = Network("pbft", nodes=4, seed=1)          # or "pow", "poa", "raft", or an object
    >>> net.run(blocks=3)                                # until every honest node has 3 blocks
    >>> net.blocks_df()                                  # what was produced, seen, kept

``consensus`` is the one argument that changes the protocol: a name (set up with defaults for the
number of nodes; protocol options such as ``hashpower=`` pass through) or a ``Consensus`` object.
``blockkit.network.sim`` holds the event loop, links and faults; this module builds networks and
turns their logs into tables and pictures.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from blockkit.network.sim import LinkModel, Message, NetworkCore, Node, ProgressBar, Simulator

if TYPE_CHECKING:
    import pandas as pd

    from blockkit.consensus.base import Consensus

__all__ = [
    "PROTOCOLS",
    "LinkModel",
    "Message",
    "Network",
    "NetworkCore",
    "Node",
    "ProgressBar",
    "Simulator",
    "make_consensus",
]

#: Protocol names ``Network`` understands, and the class that sets each up.
PROTOCOLS: dict[str, tuple[str, str]] = {
    "pow": ("blockkit.consensus.pow", "ProofOfWork"),
    "poa": ("blockkit.consensus.poa", "ProofOfAuthority"),
    "raft": ("blockkit.consensus.raft", "Raft"),
    "pbft": ("blockkit.consensus.pbft", "PBFT"),
}


def make_consensus(name: str, nodes: int, **options: Any) -> Consensus:
    """The protocol called ``name``, set up for ``nodes`` nodes (``Consensus.for_network``)."""
    import importlib

    try:
        module, cls = PROTOCOLS[name]
    except KeyError:
        raise ValueError(
            f"unknown consensus {name!r}; choose one of {', '.join(PROTOCOLS)} "
            "or pass a Consensus object"
        ) from None
    return getattr(importlib.import_module(module), cls).for_network(nodes, **options)


class Network(NetworkCore):
    """A simulated network of ``nodes`` nodes running ``consensus``; see the module docstring.

    ``behaviours`` maps node ids to a fault the protocol knows (``{3: "selfish"}``,
    ``{0: "silent"}``); every other node is honest. ``latency``, ``loss`` and ``bandwidth``
    build the ``LinkModel`` unless ``link`` is given.
    """

    def __init__(
        self,
        consensus: Consensus | str = "pow",
        nodes: int = 10,
        *,
        seed: int = 0,
        latency: float = 0.1,
        loss: float = 0.0,
        bandwidth: float | None = None,
        link: LinkModel | None = None,
        behaviours: Mapping[int, str] | None = None,
        record_messages: bool = True,
        **options: Any,
    ) -> None:
        if not isinstance(nodes, int) or isinstance(nodes, bool) or nodes < 1:
            raise ValueError(f"nodes is the number of nodes, at least 1, not {nodes!r}")
        if link is None:
            link = LinkModel(latency=latency, loss=loss, bandwidth=bandwidth)
        super().__init__(seed=seed, link=link, record_messages=record_messages)
        if isinstance(consensus, str):
            consensus = make_consensus(consensus, nodes, **options)
        elif options:
            raise TypeError(
                f"options {sorted(options)} go with a protocol name; set them on the "
                "Consensus object instead"
            )
        self.consensus = consensus
        behaviours = dict(behaviours or {})
        for node_id, behaviour in behaviours.items():
            self._check_node_id(node_id, nodes)
            if behaviour != "honest" and behaviour not in consensus.behaviours:
                known = ", ".join(consensus.behaviours) or "none"
                raise ValueError(
                    f"{consensus.name} nodes do not know behaviour {behaviour!r} "
                    f"(node {node_id}); known faults: {known}"
                )
        for node_id in range(nodes):
            self.add_node(consensus.make_node(self, node_id, behaviours.get(node_id, "honest")))
        consensus.connect(self)

    @staticmethod
    def _check_node_id(node_id: object, nodes: int) -> None:
        if not isinstance(node_id, int) or not 0 <= node_id < nodes:
            raise ValueError(f"no node {node_id!r}: node ids are 0 to {nodes - 1}")

    # --- running -------------------------------------------------------------------------------

    @property
    def honest_nodes(self) -> list[Node]:
        """Nodes that follow the protocol."""
        return [node for node in self.nodes if node.honest]

    def final_height(self, node: Node) -> int:
        """The height ``node`` treats as final: its chain's height (PBFT and Raft add blocks to
        the chain only once committed; for PoW it is simply the tip)."""
        return node.chain.height

    def run(  # type: ignore[override]
        self,
        until: float | None = None,
        *,
        blocks: int | None = None,
        stop: Callable[[], bool] | None = None,
        max_events: int | None = 50_000_000,
        progress: bool | ProgressBar = False,
    ) -> Network:
        """Run until simulated time ``until`` or until every honest, running node has ``blocks``
        blocks (whichever comes first); returns the network, so ``Network(...).run(...)`` chains.
        """
        if until is None and blocks is None and stop is None:
            raise ValueError("run(until=seconds) or run(blocks=n): say when to stop")
        goal = stop
        total: Callable[[], tuple[float, float]] | None = None
        if blocks is not None:
            if not isinstance(blocks, int) or blocks < 0:
                raise ValueError(f"blocks is a count >= 0, not {blocks!r}")
            watched = [n for n in self.honest_nodes if n.up] or self.honest_nodes
            laggard = [watched[0]]  # the node last seen below the goal: checked first, O(1)

            def reached() -> bool:
                if stop is not None and stop():
                    return True
                node = laggard[0]
                if node.up and self.final_height(node) < blocks:
                    return False
                for node in watched:
                    if node.up and self.final_height(node) < blocks:
                        laggard[0] = node
                        return False
                return True

            goal = reached
            total = lambda: (min(self.final_height(n) for n in watched), float(blocks))  # noqa: E731
            if reached():
                return self
        super().run(
            until, stop=goal, max_events=max_events, progress=progress, progress_total=total
        )
        return self

    # --- results -------------------------------------------------------------------------------

    def reference_node(self) -> Node:
        """The honest running node with the most work: whose chain the tables call "main"."""
        candidates = [n for n in self.honest_nodes if n.up] or self.honest_nodes or self.nodes
        return max(candidates, key=lambda n: (n.chain.total_work, -n.id))

    def blocks_df(self) -> pd.DataFrame:
        """One row per block any node produced: who, when, how far it spread, whether it stayed.

        ``main`` is membership of the reference node's best chain (``reference_node``);
        ``reached`` is how many nodes received it; ``spread_s`` the time until the last of them
        did (``NaN`` while only its producer has it).
        """
        import pandas as pd

        reference = self.reference_node().chain
        rows = []
        for info in self.block_info.values():
            block = info.block
            seen = [
                t - info.created for node, t in info.first_seen.items() if node != info.producer
            ]
            rows.append(
                {
                    "height": block.height,
                    "hash": block.hash.hex(),
                    "parent": block.parent.hex(),
                    "producer": info.producer,
                    "created": info.created,
                    "transactions": len(block.transactions),
                    "size": len(block.encoded),
                    "reached": len(info.first_seen),
                    "spread_s": max(seen) if seen else float("nan"),
                    "main": reference.is_main(block.hash),
                }
            )
        columns = [
            "height",
            "hash",
            "parent",
            "producer",
            "created",
            "transactions",
            "size",
            "reached",
            "spread_s",
            "main",
        ]
        frame = pd.DataFrame(rows, columns=columns)
        return frame.sort_values(["created", "height"], kind="stable").reset_index(drop=True)

    def forks_df(self) -> pd.DataFrame:
        """Heights where more than one block was produced: how many, and which one stayed."""
        import pandas as pd

        blocks = self.blocks_df()
        rows = []
        for height, group in blocks.groupby("height", sort=True):
            if len(group) > 1:
                kept = group[group["main"]]
                rows.append(
                    {
                        "height": int(height),
                        "blocks": len(group),
                        "stale": int((~group["main"]).sum()),
                        "kept": kept["hash"].iloc[0] if len(kept) else None,
                        "producers": sorted(int(p) for p in group["producer"]),
                    }
                )
        return pd.DataFrame(rows, columns=["height", "blocks", "stale", "kept", "producers"])

    def stale_rate(self) -> float:
        """Share of produced blocks (genesis excluded) that are not on the reference main chain."""
        blocks = self.blocks_df()
        if blocks.empty:
            return 0.0
        return float((~blocks["main"]).mean())

    def agree(self, depth: int = 0) -> bool:
        """True when every honest running node has the same block at every height up to its own
        height minus ``depth`` (the common prefix: ``depth=0`` means identical chains up to the
        shortest one)."""
        nodes = [n for n in self.honest_nodes if n.up]
        if not nodes:
            return True
        common = min(n.chain.height for n in nodes) - depth
        if common < 0:
            return True
        first = nodes[0].chain
        return all(
            n.chain.block_at(h).hash == first.block_at(h).hash
            for n in nodes[1:]
            for h in range(common + 1)
        )

    def draw_fork_tree(
        self, ax: Any = None, *, last: int | None = 40, legend: str = "upper left"
    ) -> Any:
        """Draw every block as a dot (x: height, y: branch), main chain in bold: forks as
        branches that stop. ``last`` limits the drawing to the most recent heights; ``legend`` is
        where matplotlib puts the legend."""
        import matplotlib.pyplot as plt

        blocks = self.blocks_df()
        if ax is None:
            _, ax = plt.subplots(figsize=(9, 2.8))
        if blocks.empty:
            ax.set_title("no blocks yet")
            return ax
        if last is not None:
            blocks = blocks[blocks["height"] > blocks["height"].max() - last]
        lane: dict[str, int] = {}
        by_hash = {row.hash: row for row in blocks.itertuples()}
        # main chain on lane 0; each side block on the lowest free lane at its height
        used: dict[int, set[int]] = {}
        for row in sorted(blocks.itertuples(), key=lambda r: (not r.main, r.height, r.created)):
            parent_lane = lane.get(row.parent, 0)
            free = used.setdefault(row.height, set())
            choice = 0 if row.main else max(parent_lane, 1)
            while choice in free:
                choice += 1
            free.add(choice)
            lane[row.hash] = choice
        for row in blocks.itertuples():
            if row.parent in by_hash:
                ax.plot(
                    [row.height - 1, row.height],
                    [lane[row.parent], lane[row.hash]],
                    color="0.6",
                    lw=1,
                    zorder=1,
                )
        main = blocks[blocks["main"]]
        side = blocks[~blocks["main"]]
        ax.scatter(
            main["height"],
            [lane[h] for h in main["hash"]],
            s=40,
            color="tab:blue",
            label="main chain",
            zorder=2,
        )
        ax.scatter(
            side["height"],
            [lane[h] for h in side["hash"]],
            s=40,
            color="tab:red",
            marker="x",
            label="stale",
            zorder=2,
        )
        ax.set_xlabel("height")
        ax.set_ylabel("branch")
        ax.set_yticks(sorted(set(lane.values())))
        ax.legend(loc=legend, fontsize="small")
        ax.set_title(f"{self.consensus.name}: {len(blocks)} blocks, {len(side)} stale")
        return ax

    def summary(self) -> dict[str, Any]:
        """Headline figures: time, events, messages, blocks, stale share, agreement."""
        reference = self.reference_node()
        return {
            "protocol": self.consensus.name,
            "nodes": len(self.nodes),
            "time_s": round(self.now, 3),
            "events": self.sim.events_processed,
            "messages": sum(self.message_counts.values()),
            "height": reference.chain.height,
            "blocks_produced": len(self.block_info),
            "stale_rate": round(self.stale_rate(), 4),
            "agree": self.agree(),
        }

    def __repr__(self) -> str:
        up = sum(node.up for node in self.nodes)
        return (
            f"Network({self.consensus.name}, {len(self.nodes)} nodes ({up} up), "
            f"t={self.now:.2f} s, {self.sim.events_processed} events)"
        )
