"""Networks to look at: a fork lab with sliders, and a round stepper for message-passing protocols.

* ``fork_lab(...)`` runs a proof-of-work network with a chosen latency, block interval and hash
  share for node 0, and ``fork_lab_widget`` puts sliders and a Run button on it, drawing the fork
  tree and the stale rate beside the simple model ``1 - exp(-delay / interval)``.
* ``message_rounds(network, start, end)`` cuts the messages of a time window into rounds, one per
  message kind in the order the kinds first appear (for PBFT: pre-prepare, prepare, commit), and
  ``round_stepper`` steps through them on a sequence diagram: one vertical line per node, one
  arrow per message, the events of each round listed beneath.

The functions compute everything; the widgets only draw, so tests check the numbers headless.
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

    from blockkit.network import Network

__all__ = [
    "Round",
    "draw_rounds",
    "fork_lab",
    "fork_lab_summary",
    "fork_lab_widget",
    "message_rounds",
    "round_stepper",
]


# --- the fork lab -----------------------------------------------------------------------------


def fork_lab(
    *,
    latency: float = 1.0,
    block_interval: float = 10.0,
    share: float | None = None,
    nodes: int = 20,
    blocks: int = 60,
    seed: int = 0,
) -> Network:
    """A proof-of-work network run until ``blocks`` blocks: ``share`` is node 0's hash power
    (the rest split evenly), ``latency`` the mean link latency in seconds."""
    from blockkit.network import Network

    if nodes < 2:
        raise ValueError("a fork lab needs at least 2 nodes")
    hashpower = None
    if share is not None:
        if not 0 < share < 1:
            raise ValueError(f"share is node 0's fraction of the hash power, in (0, 1): {share!r}")
        hashpower = [share] + [(1 - share) / (nodes - 1)] * (nodes - 1)
    network = Network(
        "pow",
        nodes=nodes,
        seed=seed,
        latency=latency,
        block_interval=block_interval,
        hashpower=hashpower,
    )
    return network.run(blocks=blocks)


def fork_lab_summary(network: Network) -> str:
    """One line: blocks, stale share, and what the simple model predicts for it.

    The model is ``1 - exp(-d / T)`` with ``T`` the network's block interval and ``d`` the
    *measured* propagation delay (``blockkit.network.pow.propagation_delay``), as in
    ``stale_rate_sweep``: a block reaches most nodes over several hops, so ``d`` is not the
    link latency."""
    from blockkit.network.pow import propagation_delay, stale_rate_model

    interval = float(getattr(network.consensus, "block_interval", math.nan))
    delay = propagation_delay(network)
    model = stale_rate_model(delay, interval)
    blocks = network.blocks_df()
    stale = int((~blocks["main"]).sum())
    producer0 = blocks[blocks["main"] & (blocks["producer"] == 0)]
    return (
        f"{len(blocks)} blocks produced, {stale} stale: stale rate {network.stale_rate():.1%} "
        f"(model 1 - exp(-d/T) with d = {delay:.2f} s, T = {interval:g} s: {model:.1%}); "
        f"node 0 holds {len(producer0)} of {int(blocks['main'].sum())} main-chain blocks"
    )


def fork_lab_widget(nodes: int = 20, blocks: int = 60, seed: int = 0) -> Any:
    """Sliders for latency, block interval and node 0's hash share; Run draws the fork tree."""
    import ipywidgets as widgets
    import matplotlib.pyplot as plt
    from IPython.display import display

    latency = widgets.FloatLogSlider(
        value=1.0, base=10, min=-2, max=1.3, step=0.1, description="latency (s)"
    )
    interval = widgets.FloatSlider(
        value=10.0, min=1.0, max=60.0, step=1.0, description="interval (s)"
    )
    share = widgets.FloatSlider(
        value=round(1 / nodes, 2), min=0.05, max=0.5, step=0.05, description="node 0 share"
    )
    run = widgets.Button(description="Run", button_style="primary")
    summary = widgets.HTML()
    out = widgets.Output()

    def on_run(_: object = None) -> None:
        network = fork_lab(
            latency=latency.value,
            block_interval=interval.value,
            share=share.value,
            nodes=nodes,
            blocks=blocks,
            seed=seed,
        )
        summary.value = html.escape(fork_lab_summary(network))
        out.clear_output(wait=True)
        with out:
            fig, ax = plt.subplots(figsize=(9, 2.8))
            network.draw_fork_tree(ax)
            display(fig)
            plt.close(fig)

    run.on_click(on_run)
    on_run()
    return widgets.VBox([widgets.HBox([latency, interval, share, run]), summary, out])


# --- rounds of messages -----------------------------------------------------------------------


@dataclass(frozen=True)
class Round:
    """The messages of one kind in a window, and the events that happened while they flew."""

    number: int
    kind: str
    messages: pd.DataFrame
    events: pd.DataFrame

    @property
    def start(self) -> float:
        """When the first message of the round was sent."""
        return float(self.messages["sent"].min())

    @property
    def end(self) -> float:
        """When the last message of the round arrived (or would have)."""
        return float(self.messages["arrived"].max())

    def describe(self) -> str:
        """One line: the round's kind, how many messages, how many arrived, over what time."""
        delivered = int((self.messages["status"] == "delivered").sum())
        return (
            f"round {self.number}: {len(self.messages)} {self.kind} messages "
            f"({delivered} delivered) from t={self.start:.3f} to {self.end:.3f} s"
        )

    def report(self, limit: int = 25) -> str:
        """``describe()`` and one line per event (at most ``limit``): what the stepper shows."""
        lines = [self.describe()]
        for row in self.events.itertuples():
            details = ", ".join(
                f"{k}={_short(v)}" for k, v in row.details.items() if k != "evidence"
            )
            lines.append(f"  t={row.time:.3f} node {row.node}: {row.event} {details}".rstrip())
        if len(lines) > limit + 1:
            lines[limit + 1 :] = [f"  … and {len(lines) - limit - 1} more events"]
        return "\n".join(lines)


def message_rounds(
    network: Network,
    start: float = 0.0,
    end: float | None = None,
    kinds: Sequence[str] | None = None,
    *,
    waves: bool = False,
) -> list[Round]:
    """The messages sent in ``[start, end)`` cut into rounds, one per kind, in order of the kind's
    first message, each with the node events its messages caused.

    Cause and effect come from the simulator's clock: a node handles a delivered message at one
    instant, so what it sends and records at the very instant a message reaches it is that
    message's doing. An event goes to the round of the message whose arrival caused it (a
    replica's "prepared" to the prepare that completed its quorum), or, when no message arrived
    then (a timer fired: a proposal, an election), to the round of what the node sent at that
    instant; events caused by messages from outside the window are left out, and the rest go by
    time (from a round's first send to the next round's).

    With ``waves=True`` a kind that comes back starts a new round (Raft's append-entries, the
    replies, then the heartbeat that carries the commit index: three rounds, not two). A message
    joins the first round of its kind after the round of the message it answers (for a message
    sent by a timer: the latest round of its kind) that has no message yet from the same sender
    to the same receiver; answers to messages sent before ``start`` are left out, as they belong
    to an earlier exchange. PBFT's rounds, one message per pair, are the same either way.

    Needs a network built with ``record_messages=True`` (the default).
    """
    if not network.record_messages:
        raise ValueError("this network did not record messages; build it with record_messages=True")
    if end is not None and not end > start:
        raise ValueError(f"the window is empty: end ({end}) must be later than start ({start})")
    messages = network.messages_df()
    delivered = messages[messages["status"] == "delivered"]
    # (node, instant) -> the message delivered to that node then; ties: the later delivery
    arrivals = {
        (int(dst), float(t)): int(i)
        for i, dst, t in zip(delivered.index, delivered["dst"], delivered["arrived"], strict=True)
    }
    mask = messages["sent"] >= start
    if end is not None:
        mask &= messages["sent"] < end
    if kinds is not None:
        mask &= messages["kind"].isin(list(kinds))
    window = messages[mask].sort_values("sent", kind="stable")
    causes = [
        arrivals.get((int(src), float(t)))
        for src, t in zip(window["src"], window["sent"], strict=True)
    ]
    if waves:
        keep = [c is None or messages.at[c, "sent"] >= start for c in causes]
        window = window[keep]
        causes = [c for c, k in zip(causes, keep, strict=True) if k]
        assignment = _assign_waves(window, causes)
    else:
        order = {kind: i for i, kind in enumerate(dict.fromkeys(window["kind"]))}
        assignment = [order[kind] for kind in window["kind"]]
    if window.empty:
        return []
    count = max(assignment) + 1
    members: list[list[int]] = [[] for _ in range(count)]
    for position, group in enumerate(assignment):
        members[group].append(position)
    groups = [window.iloc[rows] for rows in members]
    round_of = {int(i): g for g, frame in enumerate(groups) for i in frame.index}
    sent_by = {}
    for g, frame in enumerate(groups):
        for src, t in zip(frame["src"], frame["sent"], strict=True):
            sent_by.setdefault((int(src), float(t)), g)
    firsts = [float(frame["sent"].min()) for frame in groups]
    last = float(window["arrived"].max())
    events = network.events_df()
    events = events[events["node"].notna() & (events["time"] >= firsts[0])]
    chosen: list[list[int]] = [[] for _ in range(count)]
    for row, node, t in zip(events.index, events["node"], events["time"], strict=True):
        key = (int(node), float(t))
        cause = arrivals.get(key)
        if cause is not None:
            group = round_of.get(cause)
            if group is None:
                continue  # caused by a message from outside the window
        elif key in sent_by:
            group = sent_by[key]
        elif t <= last:
            group = max(g for g, first in enumerate(firsts) if first <= t)
        else:
            continue
        chosen[group].append(row)
    return [
        Round(
            number,
            str(frame["kind"].iloc[0]),
            frame.reset_index(drop=True),
            events.loc[chosen[number - 1]].reset_index(drop=True),
        )
        for number, frame in enumerate(groups, start=1)
    ]


def _assign_waves(window: pd.DataFrame, causes: list[int | None]) -> list[int]:
    """Round index of each message of ``window`` (sorted by send time) in ``waves`` mode."""
    kinds: list[str] = []
    pairs: list[set[tuple[int, int]]] = []
    round_of: dict[int, int] = {}  # message index -> round
    assignment: list[int] = []
    for index, kind, src, dst, cause in zip(
        window.index, window["kind"], window["src"], window["dst"], causes, strict=True
    ):
        pair = (int(src), int(dst))
        answered = round_of.get(cause) if cause is not None else None
        if answered is not None:
            candidates = range(answered + 1, len(kinds))
        else:
            same = [r for r in range(len(kinds)) if kinds[r] == kind]
            candidates = range(same[-1], len(kinds)) if same else range(0)
        chosen = next((r for r in candidates if kinds[r] == kind and pair not in pairs[r]), None)
        if chosen is None:
            chosen = len(kinds)
            kinds.append(kind)
            pairs.append(set())
        pairs[chosen].add(pair)
        round_of[int(index)] = chosen
        assignment.append(chosen)
    return assignment


_COLOURS = ["tab:blue", "tab:orange", "tab:green", "tab:purple", "tab:brown", "tab:pink"]


def draw_rounds(rounds: Sequence[Round], upto: int, nodes: int, ax: Any = None) -> Any:
    """A sequence diagram: nodes as vertical lines, messages of rounds 1..``upto`` as arrows
    (the newest round bold, dropped messages dashed red), and the events of those rounds as dots
    on their node's line (the newest round's named)."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(9, 4))
    for node in range(nodes):
        ax.axvline(node, color="0.85", lw=1, zorder=0)
    for round_ in rounds[:upto]:
        current = round_.number == upto
        colour = _COLOURS[(round_.number - 1) % len(_COLOURS)]
        for msg in round_.messages.itertuples():
            ok = msg.status == "delivered"
            ax.annotate(
                "",
                xy=(msg.dst, msg.arrived),
                xytext=(msg.src, msg.sent),
                arrowprops={
                    "arrowstyle": "->",
                    "color": colour if ok else "tab:red",
                    "lw": 1.6 if current else 0.6,
                    "alpha": 1.0 if current else 0.35,
                    "linestyle": "-" if ok else "--",
                },
            )
        ax.plot([], [], color=colour, label=f"{round_.number}. {round_.kind}")
        if not round_.events.empty:
            ax.scatter(
                round_.events["node"].astype(int),
                round_.events["time"],
                s=22 if current else 10,
                color="black",
                alpha=1.0 if current else 0.35,
                zorder=3,
            )
        if current:
            # one label per node and instant: "pre-prepare, prepared" rather than two overlapping
            labels: dict[tuple[int, float], list[str]] = {}
            for event in round_.events.itertuples():
                labels.setdefault((int(event.node), float(event.time)), []).append(event.event)
            for (node, time), names in labels.items():
                ax.text(node + 0.06, time, ", ".join(names), fontsize=7, va="center", zorder=4)
    ax.set_xlim(-0.5, nodes - 0.5)
    ax.set_xticks(range(nodes))
    ax.set_xlabel("node")
    ax.set_ylabel("time (s)")
    ax.invert_yaxis()
    if rounds:
        first = min(r.start for r in rounds)
        last = max(r.end for r in rounds[:upto])
        pad = 0.05 * (last - first) or 0.01
        ax.set_ylim(last + pad, first - pad)
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize="small", title="round")
    return ax


def _short(value: object) -> str:
    """A detail for the caption: long strings (hashes) cut to 12 characters."""
    text = str(value)
    return text if len(text) <= 16 else text[:12] + "…"


def round_stepper(
    network: Network,
    start: float = 0.0,
    end: float | None = None,
    kinds: Sequence[str] | None = None,
    *,
    waves: bool = False,
) -> Any:
    """Step through the rounds of a time window: Previous / Next buttons, the sequence diagram
    so far, and the events of the current round (who prepared, committed, voted …).

    ``waves`` cuts rounds as ``message_rounds`` does (a kind that comes back is a new round)."""
    import ipywidgets as widgets
    import matplotlib.pyplot as plt
    from IPython.display import display

    rounds = message_rounds(network, start, end, kinds, waves=waves)
    if not rounds:
        raise ValueError(f"no messages sent between t={start} and t={end}; widen the window")
    step = widgets.IntSlider(value=1, min=1, max=len(rounds), description="round")
    back = widgets.Button(description="◀ previous")
    forward = widgets.Button(description="next ▶")
    caption = widgets.HTML()
    out = widgets.Output()

    def show(_: object = None) -> None:
        caption.value = "<pre>" + html.escape(rounds[step.value - 1].report()) + "</pre>"
        out.clear_output(wait=True)
        with out:
            fig, ax = plt.subplots(figsize=(9, 4), layout="constrained")
            draw_rounds(rounds, step.value, len(network.nodes), ax)
            display(fig)
            plt.close(fig)

    back.on_click(lambda _: setattr(step, "value", max(step.min, step.value - 1)))
    forward.on_click(lambda _: setattr(step, "value", min(step.max, step.value + 1)))
    step.observe(show, names="value")
    show()
    return widgets.VBox([widgets.HBox([back, step, forward]), caption, out])
