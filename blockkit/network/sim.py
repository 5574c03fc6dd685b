"""A deterministic discrete-event simulator of many nodes talking over an imperfect network.

Nothing here reads the wall clock. The simulator keeps a queue of events ordered by simulated
time (ties broken by the order they were scheduled); ``run`` pops the earliest, advances ``now``
to its time and calls it. Every random choice (link latencies, jitter, message loss, who finds
the next proof-of-work block) comes from one ``random.Random(seed)``, so the same seed replays the
same history event for event, on any machine.

The network carries messages between nodes with a per-link latency drawn once per link from a
seeded distribution, per-message jitter, optional loss, and a transmission delay of
``size / bandwidth`` (a 1 MB block takes longer than a 100-byte vote). It can partition the nodes
into groups that cannot reach each other and heal again, and it can crash a node (it stops
receiving and its timers stop firing) and restart it (what it kept on "disk" survives; what the
protocol keeps in memory is the protocol's business, see ``Node.on_restart``).

A node is a subclass of ``Node`` that reacts to messages and timers; each protocol
(``blockkit.consensus``) provides its own. Nodes never touch each other: they only send.
"""

from __future__ import annotations

import heapq
import math
import random
import sys
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

    from blockkit.blocks import Block
    from blockkit.chain import Chain

__all__ = [
    "LinkModel",
    "Message",
    "NetworkCore",
    "Node",
    "ProgressBar",
    "Simulator",
    "Timer",
]


# --- the event loop ---------------------------------------------------------------------------


@dataclass
class Timer:
    """A scheduled callback; ``cancel()`` stops it from running."""

    time: float
    cancelled: bool = False

    def cancel(self) -> None:
        """Do not run this callback (safe to call twice, or after it ran)."""
        self.cancelled = True


class Simulator:
    """A simulated clock and a queue of events: the earliest runs next, ties in schedule order."""

    def __init__(self, seed: int = 0) -> None:
        if not isinstance(seed, int) or isinstance(seed, bool):
            raise TypeError(f"seed must be an int, not {seed!r}")
        self.seed = seed
        self.rng = random.Random(seed)
        self.now = 0.0
        self.events_processed = 0
        self._queue: list[tuple[float, int, Timer | None, Callable[..., object], tuple]] = []
        self._seq = 0

    def schedule(
        self, delay: float, callback: Callable[..., object], *args: object, cancellable: bool = True
    ) -> Timer | None:
        """Run ``callback(*args)`` ``delay`` simulated seconds from now; returns its ``Timer``.

        ``cancellable=False`` skips the Timer (message deliveries, the hot path, never cancel).
        """
        if not delay >= 0:  # also rejects NaN
            raise ValueError(f"cannot schedule {delay!r} seconds from now: delays are >= 0")
        time = self.now + delay
        timer = Timer(time) if cancellable else None
        self._seq += 1
        heapq.heappush(self._queue, (time, self._seq, timer, callback, args))
        return timer

    @property
    def pending(self) -> int:
        """Events still queued (cancelled ones included until they come up)."""
        return len(self._queue)

    def step(self) -> bool:
        """Run the earliest event; False when the queue is empty."""
        queue = self._queue
        while queue:
            time, _, timer, callback, args = heapq.heappop(queue)
            if timer is not None and timer.cancelled:
                continue
            self.now = time
            self.events_processed += 1
            callback(*args)
            return True
        return False

    def run(
        self,
        until: float | None = None,
        *,
        stop: Callable[[], bool] | None = None,
        max_events: int | None = None,
        on_progress: Callable[[], object] | None = None,
        progress_every: int = 5_000,
    ) -> None:
        """Run events until time ``until``, until ``stop()`` is true, or the queue is empty.

        ``stop`` is checked after every event; ``max_events`` guards against a protocol that
        never goes quiet. With ``until``, the clock ends at exactly ``until``.
        """
        queue = self._queue
        heappop = heapq.heappop
        budget = max_events if max_events is not None else -1
        countdown = progress_every
        while queue:
            if until is not None and queue[0][0] > until:
                break
            time, _, timer, callback, args = heappop(queue)
            if timer is not None and timer.cancelled:
                continue
            self.now = time
            self.events_processed += 1
            callback(*args)
            if stop is not None and stop():
                return
            if budget > 0:
                budget -= 1
                if budget == 0:
                    raise RuntimeError(
                        f"stopped after {max_events} events at t={self.now:.3f} s without "
                        "reaching the goal; raise max_events or check the protocol's faults"
                    )
            if on_progress is not None:
                countdown -= 1
                if countdown == 0:
                    countdown = progress_every
                    on_progress()
        if until is not None and until > self.now:
            self.now = until


# --- links and messages -----------------------------------------------------------------------


_DISTRIBUTIONS = ("fixed", "uniform", "exponential", "lognormal")


@dataclass(frozen=True)
class LinkModel:
    """How messages travel: latency per link, jitter per message, loss, bandwidth.

    Each directed link (a → b) gets a base latency drawn once from ``distribution`` with mean
    ``latency`` seconds; each message adds jitter drawn uniformly from ``[0, jitter]`` times the
    base, and ``size / bandwidth`` seconds of transmission. ``loss`` is the probability that a
    message silently disappears.
    """

    latency: float = 0.1
    """Mean one-way latency of a link, in seconds."""
    distribution: str = "lognormal"
    """How base latencies spread: ``fixed``, ``uniform`` (0 to twice the mean), ``exponential`` or
    ``lognormal`` (a long tail, as measured between internet hosts)."""
    jitter: float = 0.1
    """Per-message extra delay, as a fraction of the link's base latency (uniform)."""
    loss: float = 0.0
    """Probability that one message is lost."""
    bandwidth: float | None = None
    """Bytes per second of each link; None means size costs no time."""

    def __post_init__(self) -> None:
        if not (isinstance(self.latency, int | float) and self.latency >= 0):
            raise ValueError(f"latency is a number of seconds >= 0, not {self.latency!r}")
        if self.distribution not in _DISTRIBUTIONS:
            raise ValueError(
                f"unknown latency distribution {self.distribution!r}; "
                f"choose one of {', '.join(_DISTRIBUTIONS)}"
            )
        if not 0 <= self.jitter:
            raise ValueError("jitter is a fraction >= 0 of the base latency")
        if not 0 <= self.loss < 1:
            raise ValueError(f"loss is a probability in [0, 1), not {self.loss!r}")
        if self.bandwidth is not None and not self.bandwidth > 0:
            raise ValueError("bandwidth is bytes per second > 0, or None for unlimited")

    def draw_base(self, rng: random.Random) -> float:
        """One link's base latency."""
        mean = self.latency
        if mean == 0 or self.distribution == "fixed":
            return mean
        if self.distribution == "uniform":
            return rng.uniform(0, 2 * mean)
        if self.distribution == "exponential":
            return rng.expovariate(1 / mean)
        sigma = 0.5  # lognormal with this sigma has mean exp(mu + sigma²/2) = mean
        return rng.lognormvariate(math.log(mean) - sigma * sigma / 2, sigma)


@dataclass(frozen=True, slots=True)
class Message:
    """One message in flight: who sent it, to whom, what kind, what it carries, how big."""

    src: int
    dst: int
    kind: str
    payload: Any
    size: int
    sent: float


# --- nodes ------------------------------------------------------------------------------------


class Node:
    """One participant. Subclasses implement ``start`` and ``receive``; they talk only by sending.

    A crashed node receives nothing and its timers do not fire. ``on_restart`` runs when it comes
    back; ``self.chain`` (its blocks) counts as disk and survives, the rest is the protocol's
    choice (Raft keeps its term, vote and log; PBFT its log and checkpoints).
    """

    #: What this node does wrong, if anything (``"honest"`` for a correct node).
    behaviour: str = "honest"
    chain: Chain

    def __init__(self, network: NetworkCore, node_id: int) -> None:
        self.network = network
        self.sim = network.sim
        self.id = node_id
        self.up = True
        self._epoch = 0

    @property
    def honest(self) -> bool:
        """True for a node that follows the protocol."""
        return self.behaviour == "honest"

    @property
    def now(self) -> float:
        """The simulated time."""
        return self.sim.now

    def start(self) -> None:
        """Called once when the simulation starts: set the first timers."""

    def receive(self, message: Message) -> None:
        """Handle one delivered message."""

    def on_crash(self) -> None:
        """Called when the node crashes (after it stops receiving)."""

    def on_restart(self) -> None:
        """Called when the node restarts: forget what was in memory, set timers again."""

    # --- what a node may do ---------------------------------------------------------------------

    def send(self, dst: int, kind: str, payload: Any = None, size: int = 100) -> None:
        """Send one message to node ``dst``."""
        self.network.send(self.id, dst, kind, payload, size)

    def broadcast(
        self, kind: str, payload: Any = None, size: int = 100, to: Iterable[int] | None = None
    ) -> None:
        """Send to every peer (or to ``to``), never to itself."""
        send = self.network.send
        for dst in self.network.peers[self.id] if to is None else to:
            if dst != self.id:
                send(self.id, dst, kind, payload, size)

    def set_timer(self, delay: float, callback: Callable[..., object], *args: object) -> Timer:
        """Call ``callback(*args)`` after ``delay`` seconds, unless the node crashes first."""
        timer = self.sim.schedule(delay, self._fire, self._epoch, callback, args)
        assert timer is not None
        return timer

    def _fire(self, epoch: int, callback: Callable[..., object], args: tuple) -> None:
        if self.up and epoch == self._epoch:
            callback(*args)

    def record(self, event: str, **details: Any) -> None:
        """Add a row to the network's event log (shown by ``events_df``)."""
        self.network.record(self.id, event, **details)

    def __repr__(self) -> str:
        state = "up" if self.up else "crashed"
        return f"{type(self).__name__}({self.id}, {self.behaviour}, {state})"


# --- the network ------------------------------------------------------------------------------


@dataclass
class _BlockInfo:
    block: Block
    producer: int
    created: float
    first_seen: dict[int, float] = field(default_factory=dict)


class NetworkCore:
    """Nodes, links between them, faults, and the logs every experiment reads.

    ``blockkit.network.Network`` builds one from a consensus protocol; tests and protocol authors
    can use this class directly with their own ``Node`` subclasses.
    """

    def __init__(
        self,
        *,
        seed: int = 0,
        link: LinkModel | None = None,
        record_messages: bool = True,
    ) -> None:
        self.sim = Simulator(seed)
        self.rng = self.sim.rng
        self.link = link if link is not None else LinkModel()
        self.nodes: list[Node] = []
        self.peers: list[list[int]] = []
        self.record_messages = record_messages
        self.message_counts: Counter[str] = Counter()
        self.message_bytes = 0
        self.dropped: Counter[str] = Counter()
        self._base: dict[tuple[int, int], float] = {}
        self._group: list[int] | None = None
        self._messages: list[tuple] = []
        self._events: list[tuple] = []
        self.block_info: dict[bytes, _BlockInfo] = {}
        self._started = False

    # --- building ------------------------------------------------------------------------------

    def add_node(self, node: Node) -> Node:
        """Attach ``node`` (its id must be the next index)."""
        if node.id != len(self.nodes):
            raise ValueError(f"node ids are 0, 1, 2, …: expected {len(self.nodes)}, got {node.id}")
        self.nodes.append(node)
        self.peers.append([])
        return node

    def connect_all(self) -> None:
        """Full mesh: every node is a peer of every other (permissioned networks)."""
        n = len(self.nodes)
        self.peers = [[j for j in range(n) if j != i] for i in range(n)]

    def connect_random(self, degree: int) -> None:
        """A random connected graph: a ring for connectivity, then random extra links until each
        node has about ``degree`` peers (a gossip network like Bitcoin's)."""
        n = len(self.nodes)
        if n < 2:
            self.peers = [[] for _ in range(n)]
            return
        degree = max(2, min(degree, n - 1))
        sets: list[set[int]] = [set() for _ in range(n)]
        order = list(range(n))
        self.rng.shuffle(order)
        for i in range(n):
            a, b = order[i], order[(i + 1) % n]
            if a != b:
                sets[a].add(b)
                sets[b].add(a)
        for a in range(n):
            tries = 0
            while len(sets[a]) < degree and tries < 10 * n:
                tries += 1
                b = self.rng.randrange(n)
                if b != a and len(sets[b]) < degree + 2:
                    sets[a].add(b)
                    sets[b].add(a)
        self.peers = [sorted(s) for s in sets]

    # --- running -------------------------------------------------------------------------------

    def start(self) -> None:
        """Start every node (once)."""
        if self._started:
            return
        self._started = True
        for node in self.nodes:
            node.start()

    def run(
        self,
        until: float | None = None,
        *,
        stop: Callable[[], bool] | None = None,
        max_events: int | None = None,
        progress: bool | ProgressBar = False,
        progress_total: Callable[[], tuple[float, float]] | None = None,
    ) -> None:
        """Start the nodes if needed, then run the simulator (see ``Simulator.run``)."""
        self.start()
        bar: ProgressBar | None = None
        if progress:
            bar = progress if isinstance(progress, ProgressBar) else ProgressBar()
            total = progress_total or (lambda: (self.sim.now, until or 0.0))
            bar.update(*total())
            update = lambda: bar.update(*total())  # noqa: E731
        self.sim.run(
            until,
            stop=stop,
            max_events=max_events,
            on_progress=update if bar is not None else None,
        )
        if bar is not None:
            bar.update(*total())
            bar.close()

    @property
    def now(self) -> float:
        """The simulated time."""
        return self.sim.now

    # --- messages ------------------------------------------------------------------------------

    def latency(self, src: int, dst: int) -> float:
        """The base latency of link ``src`` → ``dst`` (drawn on first use, then fixed)."""
        key = (src, dst)
        base = self._base.get(key)
        if base is None:
            base = self._base[key] = self.link.draw_base(self.rng)
        return base

    def set_latency(self, src: int, dst: int, seconds: float, both_ways: bool = True) -> None:
        """Override one link's base latency (a far-away node, a slow satellite link)."""
        if not seconds >= 0:
            raise ValueError("latency is seconds >= 0")
        self._base[(src, dst)] = seconds
        if both_ways:
            self._base[(dst, src)] = seconds

    def reachable(self, a: int, b: int) -> bool:
        """False while a partition separates ``a`` and ``b``."""
        group = self._group
        return group is None or group[a] == group[b]

    def send(self, src: int, dst: int, kind: str, payload: Any, size: int) -> None:
        """Put a message on the wire; it arrives after latency, jitter and transmission time."""
        link = self.link
        self.message_counts[kind] += 1
        self.message_bytes += size
        base = self.latency(src, dst)
        rng = self.rng
        delay = base
        if link.jitter:
            delay += base * link.jitter * rng.random()
        if link.bandwidth is not None:
            delay += size / link.bandwidth
        if link.loss and rng.random() < link.loss:
            self._drop(src, dst, kind, size, delay, "lost")
            return
        if not self.nodes[src].up:
            self._drop(src, dst, kind, size, delay, "sender-down")
            return
        message = Message(src, dst, kind, payload, size, self.sim.now)
        self.sim.schedule(delay, self._deliver, message, cancellable=False)

    def _drop(self, src: int, dst: int, kind: str, size: int, delay: float, why: str) -> None:
        self.dropped[why] += 1
        if self.record_messages:
            now = self.sim.now
            self._messages.append((now, now + delay, src, dst, kind, size, why))

    def _deliver(self, message: Message) -> None:
        dst = message.dst
        node = self.nodes[dst]
        if not node.up:
            why = "receiver-down"
        elif self._group is not None and self._group[message.src] != self._group[dst]:
            why = "partitioned"
        else:
            why = "delivered"
        if self.record_messages:
            self._messages.append(
                (message.sent, self.sim.now, message.src, dst, message.kind, message.size, why)
            )
        if why == "delivered":
            node.receive(message)
        else:
            self.dropped[why] += 1

    # --- faults --------------------------------------------------------------------------------

    def partition(self, *groups: Sequence[int], at: float | None = None) -> None:
        """Split the nodes into ``groups`` (nodes left out form one more group), now or ``at``.

        Messages between groups are dropped, including those already in flight when they arrive.
        """
        n = len(self.nodes)
        seen: set[int] = set()
        for group in groups:
            for node in group:
                if not (isinstance(node, int) and 0 <= node < n):
                    raise ValueError(f"no node {node!r}: node ids are 0 to {n - 1}")
                if node in seen:
                    raise ValueError(f"node {node} is in two partition groups")
                seen.add(node)
        assignment = [len(groups)] * n
        for index, group in enumerate(groups):
            for node in group:
                assignment[node] = index
        self._at(at, self._set_partition, assignment, [list(g) for g in groups])

    def _set_partition(self, assignment: list[int], groups: list[list[int]]) -> None:
        self._group = assignment
        self.record(None, "partition", groups=groups)

    def heal(self, at: float | None = None) -> None:
        """Remove the partition, now or ``at``."""
        self._at(at, self._heal)

    def _heal(self) -> None:
        self._group = None
        self.record(None, "heal")
        for node in self.nodes:
            if node.up:
                hook = getattr(node, "on_heal", None)
                if hook is not None:
                    hook()

    def crash(self, node: int, at: float | None = None, restart_at: float | None = None) -> None:
        """Crash ``node`` now or ``at``; restart it at ``restart_at`` if given."""
        self._check_node(node)
        self._at(at, self._crash, node)
        if restart_at is not None:
            self.restart(node, at=restart_at)

    def _crash(self, node_id: int) -> None:
        node = self.nodes[node_id]
        if node.up:
            node.up = False
            node._epoch += 1
            self.record(node_id, "crash")
            node.on_crash()

    def restart(self, node: int, at: float | None = None) -> None:
        """Bring a crashed ``node`` back, now or ``at``."""
        self._check_node(node)
        self._at(at, self._restart, node)

    def _restart(self, node_id: int) -> None:
        node = self.nodes[node_id]
        if not node.up:
            node.up = True
            node._epoch += 1
            self.record(node_id, "restart")
            node.on_restart()

    def _check_node(self, node: int) -> None:
        if not (isinstance(node, int) and 0 <= node < len(self.nodes)):
            raise ValueError(f"no node {node!r}: node ids are 0 to {len(self.nodes) - 1}")

    def _at(self, at: float | None, action: Callable[..., object], *args: object) -> None:
        if at is None or at <= self.sim.now:
            action(*args)
        else:
            self.sim.schedule(at - self.sim.now, action, *args)

    # --- logs ----------------------------------------------------------------------------------

    def record(self, node: int | None, event: str, **details: Any) -> None:
        """One row of the event log: time, node (None for the network), event, details."""
        self._events.append((self.sim.now, node, event, details))

    def block_created(self, node: int, block: Block) -> None:
        """A node produced ``block`` (mined, sealed, proposed): remember who and when."""
        if block.hash not in self.block_info:
            self.block_info[block.hash] = _BlockInfo(block, node, self.sim.now, {node: self.now})

    def block_seen(self, node: int, block: Block) -> None:
        """``node`` first received ``block`` now (for propagation times)."""
        info = self.block_info.get(block.hash)
        if info is not None and node not in info.first_seen:
            info.first_seen[node] = self.sim.now

    def events_df(self) -> pd.DataFrame:
        """Every logged event: ``time``, ``node``, ``event`` and a ``details`` dict."""
        import pandas as pd

        rows = [
            {"time": t, "node": node, "event": event, "details": details}
            for t, node, event, details in self._events
        ]
        frame = pd.DataFrame(rows, columns=["time", "node", "event", "details"])
        frame["node"] = frame["node"].astype("Int64")  # None (the network itself) stays <NA>
        return frame

    def messages_df(self) -> pd.DataFrame:
        """Every message: ``sent``, ``arrived``, ``src``, ``dst``, ``kind``, ``size``, ``status``.

        A message appears once it arrived or was dropped: those still in flight when the run
        stopped are not in it yet, while ``message_counts`` counts every message sent. Empty when
        the network was built with ``record_messages=False``.
        """
        import pandas as pd

        columns = ["sent", "arrived", "src", "dst", "kind", "size", "status"]
        return pd.DataFrame(self._messages, columns=columns)


# --- progress ---------------------------------------------------------------------------------


class ProgressBar:
    """A progress bar for long runs: an ipywidgets bar in a notebook, a text line elsewhere."""

    def __init__(self, description: str = "simulating") -> None:
        self.description = description
        self._widget: Any = None
        self._label: Any = None
        self._last_text = ""
        try:
            from IPython import get_ipython

            in_kernel = get_ipython() is not None and "IPKernelApp" in get_ipython().config
        except ImportError:
            in_kernel = False
        if in_kernel:
            import ipywidgets as widgets
            from IPython.display import display

            self._widget = widgets.FloatProgress(value=0, min=0, max=1, description=description)
            self._label = widgets.Label()
            display(widgets.HBox([self._widget, self._label]))

    def update(self, done: float, total: float) -> None:
        """Show ``done`` out of ``total`` (simulated seconds or blocks)."""
        fraction = min(1.0, done / total) if total else 0.0
        text = f"{done:,.0f} / {total:,.0f}"
        if self._widget is not None:
            self._widget.value = fraction
            self._label.value = text
        else:
            line = f"\r{self.description} [{'#' * int(30 * fraction):<30}] {text}"
            if line != self._last_text:
                sys.stderr.write(line)
                sys.stderr.flush()
                self._last_text = line

    def close(self) -> None:
        """Finish the bar (a newline on a terminal)."""
        if self._widget is None and self._last_text:
            sys.stderr.write("\n")
            sys.stderr.flush()
