"""The discrete-event simulator and network core, with a toy protocol (no consensus needed)."""

from __future__ import annotations

import statistics

import pytest

from blockkit.network import LinkModel, Network, NetworkCore, Node, ProgressBar, Simulator


class Echo(Node):
    """Node 0 pings everyone every second; everyone answers; both sides log what they get."""

    def start(self) -> None:
        if self.id == 0:
            self.set_timer(0.0, self.ping, 0)

    def ping(self, round_: int) -> None:
        self.broadcast("ping", round_, size=1_000)
        self.set_timer(1.0, self.ping, round_ + 1)

    def receive(self, message) -> None:
        self.record("got", kind=message.kind, src=message.src, payload=message.payload)
        if message.kind == "ping":
            self.send(message.src, "pong", message.payload)

    def on_restart(self) -> None:
        self.start()


def echo_network(n: int = 5, seed: int = 0, **link) -> NetworkCore:
    net = NetworkCore(seed=seed, link=LinkModel(**link))
    for i in range(n):
        net.add_node(Echo(net, i))
    net.connect_all()
    return net


def test_events_run_in_time_order_and_ties_in_schedule_order():
    sim = Simulator(seed=1)
    seen = []
    sim.schedule(2.0, seen.append, "c")
    sim.schedule(1.0, seen.append, "a")
    sim.schedule(1.0, seen.append, "b")
    cancelled = sim.schedule(0.5, seen.append, "never")
    cancelled.cancel()
    sim.run()
    assert seen == ["a", "b", "c"] and sim.now == 2.0 and sim.events_processed == 3


def test_run_until_stops_the_clock_exactly_and_leaves_later_events_queued():
    sim = Simulator()
    seen = []
    sim.schedule(5.0, seen.append, 5)
    sim.run(until=3.0)
    assert seen == [] and sim.now == 3.0 and sim.pending == 1
    sim.run(until=10.0)
    assert seen == [5] and sim.now == 10.0


def test_a_runaway_protocol_is_stopped_with_a_message_that_says_what_to_do():
    sim = Simulator()

    def again() -> None:
        sim.schedule(0.0, again)

    sim.schedule(0.0, again)
    with pytest.raises(RuntimeError, match="raise max_events"):
        sim.run(max_events=1_000)


@pytest.mark.parametrize("bad", [-1.0, float("nan")])
def test_negative_or_nan_delays_are_refused(bad):
    with pytest.raises(ValueError, match="delays are >= 0"):
        Simulator().schedule(bad, print)


def test_the_same_seed_replays_the_same_history_and_another_seed_does_not():
    def history(seed: int):
        net = echo_network(seed=seed, latency=0.05, loss=0.2)
        net.run(until=5.0)
        return net.events_df().to_dict("records"), net.messages_df().to_dict("records")

    assert history(3) == history(3)
    assert history(3) != history(4)


def test_latency_is_drawn_once_per_link_with_the_configured_mean():
    for distribution in ("uniform", "exponential", "lognormal"):
        net = echo_network(n=60, seed=2, latency=0.2, distribution=distribution)
        bases = [net.latency(a, b) for a in range(60) for b in range(60) if a != b]
        assert 0.17 < statistics.mean(bases) < 0.23, distribution
        assert net.latency(3, 4) == net.latency(3, 4)
    fixed = echo_network(seed=2, latency=0.2, distribution="fixed")
    assert {fixed.latency(a, b) for a in range(5) for b in range(5)} == {0.2}


def test_delivery_time_is_latency_plus_jitter_plus_size_over_bandwidth():
    net = echo_network(n=2, seed=5, latency=0.1, distribution="fixed", jitter=0.0, bandwidth=10_000)
    net.run(until=0.5)
    messages = net.messages_df()
    ping = messages[messages["kind"] == "ping"].iloc[0]
    pong = messages[messages["kind"] == "pong"].iloc[0]
    assert ping["arrived"] - ping["sent"] == pytest.approx(0.1 + 1_000 / 10_000)
    assert pong["arrived"] - pong["sent"] == pytest.approx(0.1 + 100 / 10_000)


def test_loss_drops_about_the_configured_share():
    net = echo_network(n=11, seed=9, latency=0.01, loss=0.3)
    net.run(until=200.0)
    messages = net.messages_df()
    lost = (messages["status"] == "lost").mean()
    assert 0.27 < lost < 0.33
    assert net.dropped["lost"] == (messages["status"] == "lost").sum()


def test_a_partition_drops_messages_between_groups_even_in_flight_and_heals():
    net = echo_network(n=4, seed=1, latency=0.3, distribution="fixed", jitter=0.0)
    net.partition([0, 1], at=0.1)  # 2 and 3 form the other group; pings of t=0 are in flight
    net.heal(at=2.5)
    net.run(until=3.5)
    messages = net.messages_df()
    first = messages[messages["sent"] == 0.0].set_index("dst")["status"].to_dict()
    assert first == {1: "delivered", 2: "partitioned", 3: "partitioned"}
    later = messages[(messages["sent"] == 3.0) & (messages["kind"] == "ping")]
    assert set(later["status"]) == {"delivered"}
    events = net.events_df()
    assert list(events[events["node"].isna()]["event"]) == ["partition", "heal"]


def test_a_crashed_node_hears_nothing_fires_no_timers_and_restarts():
    net = echo_network(n=3, seed=1, latency=0.01, distribution="fixed", jitter=0.0)
    net.crash(0, at=1.5, restart_at=4.2)  # node 0 pings; no pings between 1.5 and 4.2
    net.crash(2, at=0.5)
    net.run(until=6.0)
    events = net.events_df()
    pings_at_1 = events[(events["node"] == 1) & (events["event"] == "got")]
    rounds = [d["payload"] for d in pings_at_1["details"] if d["kind"] == "ping"]
    assert rounds == [0, 1, 0, 1]  # t=0, 1, then restart re-pings from round 0 at 4.2, 5.2
    at_2 = events[(events["node"] == 2) & (events["event"] == "got")]
    assert list(at_2["time"]) == [0.01]  # only the ping of t=0, before the crash
    statuses = net.messages_df()["status"]
    assert (statuses == "receiver-down").sum() > 0


def test_fault_arguments_are_checked():
    net = echo_network(n=3)
    with pytest.raises(ValueError, match="node ids are 0 to 2"):
        net.crash(7)
    with pytest.raises(ValueError, match="two partition groups"):
        net.partition([0, 1], [1, 2])
    with pytest.raises(ValueError, match="distribution"):
        LinkModel(distribution="gaussian")
    with pytest.raises(ValueError, match="probability"):
        LinkModel(loss=1.0)


def test_random_gossip_graphs_are_connected_and_near_the_degree():
    net = NetworkCore(seed=4)
    for i in range(50):
        net.add_node(Node(net, i))
    net.connect_random(6)
    reached, frontier = {0}, [0]
    while frontier:
        nxt = [p for node in frontier for p in net.peers[node] if p not in reached]
        reached.update(nxt)
        frontier = nxt
    assert reached == set(range(50))
    assert all(a in net.peers[b] for a in range(50) for b in net.peers[a])
    assert 5 <= statistics.mean(len(p) for p in net.peers) <= 8


def test_the_network_facade_explains_unknown_protocols_and_faults():
    with pytest.raises(ValueError, match="choose one of pow, poa, raft, pbft"):
        Network("paxos", nodes=3)
    with pytest.raises(ValueError, match="nodes is the number of nodes"):
        Network("pow", nodes=0)
    with pytest.raises(ValueError, match="do not know behaviour 'sleepy'"):
        Network("pow", nodes=3, behaviours={1: "sleepy"})
    with pytest.raises(ValueError, match="node ids are 0 to 2"):
        Network("pow", nodes=3, behaviours={5: "selfish"})
    with pytest.raises(ValueError, match="say when to stop"):
        Network("pow", nodes=3).run()


def test_the_text_progress_bar_draws_on_stderr(capsys):
    bar = ProgressBar("test")
    bar.update(5, 10)
    bar.close()
    err = capsys.readouterr().err
    assert "test [###############               ] 5 / 10" in err and err.endswith("\n")


# --- one interface, four protocols -------------------------------------------------------------

PROTOCOLS = ["pow", "poa", "raft", "pbft"]


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_one_argument_swaps_the_protocol_and_every_node_ends_on_one_valid_chain(protocol):
    net = Network(protocol, nodes=4, seed=11).run(blocks=6)
    assert net.consensus.name == protocol
    assert all(node.chain.consensus is net.consensus for node in net.nodes)
    assert min(node.chain.height for node in net.nodes) >= 6
    assert net.agree(depth=1 if protocol == "pow" else 0)
    # every block any node holds passed that node's own Chain: replay them into a fresh one
    from blockkit.chain import Chain

    reference = net.reference_node().chain
    fresh = Chain(reference.params, consensus=net.consensus, allocations=reference.allocations)
    for block in list(reference.main_chain())[1:]:
        fresh.add_block(block)
    assert fresh.head_hash == reference.head_hash
    summary = net.summary()
    assert summary["protocol"] == protocol and summary["height"] == reference.height
    assert summary["events"] == net.sim.events_processed > 0


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_identical_seeds_give_identical_runs_for_every_protocol(protocol):
    def run(seed: int):
        net = Network(protocol, nodes=4, seed=seed, loss=0.05).run(until=40.0)
        return (
            [n.chain.head_hash for n in net.nodes],
            net.events_df().drop(columns="details").to_dict("records"),
            net.messages_df().to_dict("records"),
        )

    assert run(5) == run(5)
    assert run(5) != run(6)


def test_blocks_forks_and_stale_rate_tell_the_same_story():
    net = Network("pow", nodes=12, seed=3, latency=2.0, block_interval=5.0).run(blocks=30)
    blocks = net.blocks_df()
    assert list(blocks.columns) == [
        "height", "hash", "parent", "producer", "created", "transactions", "size", "reached",
        "spread_s", "main",
    ]  # fmt: skip
    reference = net.reference_node().chain
    assert blocks["main"].sum() == reference.height  # every main block was produced in the run
    forks = net.forks_df()
    assert forks["stale"].sum() == (~blocks["main"]).sum() > 0
    assert net.stale_rate() == pytest.approx((~blocks["main"]).mean())
    assert (blocks["reached"] <= 12).all() and (blocks["spread_s"].dropna() > 0).all()


def test_the_fork_tree_draws_every_block_once():
    import matplotlib

    matplotlib.use("Agg")
    net = Network("pow", nodes=12, seed=3, latency=2.0, block_interval=5.0).run(blocks=30)
    ax = net.draw_fork_tree(last=None)
    main, stale = ax.collections
    blocks = net.blocks_df()
    assert len(main.get_offsets()) == blocks["main"].sum()
    assert len(stale.get_offsets()) == (~blocks["main"]).sum()
    assert "stale" in ax.get_title()


def test_options_for_an_object_are_refused_with_a_pointer():
    from blockkit.network import make_consensus

    consensus = make_consensus("pbft", 4)
    with pytest.raises(TypeError, match="set them on the Consensus object"):
        Network(consensus, nodes=4, block_interval=2.0)
