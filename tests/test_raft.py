"""Raft on the simulated network: safety under random crashes, partitions and loss; liveness."""

from __future__ import annotations

import random
from collections import defaultdict

import pytest

from blockkit.consensus.raft import AppendEntries, Entry, Raft, RaftNode
from blockkit.network import Network

SEEDS = range(100)


def watch_elections(net: Network) -> list[tuple[float, int, int, list]]:
    """Snapshot each new leader's log at the moment it wins (for leader completeness)."""
    snapshots: list[tuple[float, int, int, list]] = []
    for node in net.nodes:
        original = node._become_leader

        def wrapped(node: RaftNode = node, original=original) -> None:
            log = [(e.term, e.block.hash if e.block else None) for e in node.log]
            snapshots.append((net.now, node.id, node.current_term, log))
            original()

        node._become_leader = wrapped
    return snapshots


def chaos(net: Network, seed: int, until: float) -> None:
    """Random crashes with restarts and one partition with heal, all over by ``until``."""
    plan = random.Random(seed * 7_919 + 1)  # the fault plan is seeded, never global
    n = len(net.nodes)
    for _ in range(plan.randint(1, 4)):
        at = plan.uniform(1.0, until - 2.0)
        net.crash(plan.randrange(n), at=at, restart_at=min(until, at + plan.uniform(0.3, 6.0)))
    start = plan.uniform(1.0, until - 3.0)
    ids = list(range(n))
    plan.shuffle(ids)
    net.partition(ids[: plan.randint(1, n - 1)], at=start)
    net.heal(at=min(until, start + plan.uniform(0.5, 6.0)))


def check_safety(net: Network, snapshots: list) -> dict:
    """Election safety, log matching / state machine safety, leader completeness; no errors."""
    events = net.events_df()
    assert not (events["event"] == "error").any(), events[events["event"] == "error"]
    leaders: dict[int, set[int]] = defaultdict(set)
    for row in events[events["event"] == "elected"].itertuples():
        leaders[row.details["term"]].add(int(row.node))
    assert all(len(who) == 1 for who in leaders.values()), leaders  # one leader per term
    # State machine safety: one block per height and one (term, block) per index, on all nodes.
    by_height: dict[int, set[str]] = defaultdict(set)
    by_index: dict[int, set[tuple]] = defaultdict(set)
    commits = events[events["event"] == "committed"]
    for row in commits.itertuples():
        d = row.details
        by_height[d["height"]].add(d["hash"])
        by_index[d["index"]].add((d["term"], d["hash"]))
    assert all(len(h) == 1 for h in by_height.values())
    assert all(len(e) == 1 for e in by_index.values())
    chains = [list(node.chain.main_chain()) for node in net.nodes]
    for height in range(max(len(c) for c in chains)):
        assert len({c[height].hash for c in chains if len(c) > height}) == 1
    # Leader completeness: a leader's log holds every entry committed before it won.
    for time, _, _, log in snapshots:
        for row in commits[commits["time"] < time].itertuples():
            d = row.details
            assert len(log) > d["index"] and log[d["index"]] == (
                d["term"],
                bytes.fromhex(d["hash"]),
            )
    return {"leaders": len(leaders), "committed": len(by_height)}


@pytest.mark.parametrize("chunk", range(4))
def test_safety_and_recovery_under_random_crashes_partitions_and_loss(chunk):
    """100 seeds, 25 per test case: 3 or 5 nodes, up to 15 % loss, faults for 20 s, then 12 s
    of calm in which every node must catch up and the chain must grow again."""
    for seed in SEEDS[chunk::4]:
        plan = random.Random(seed)
        nodes = plan.choice((3, 5))
        net = Network(
            "raft",
            nodes=nodes,
            seed=seed,
            latency=0.02,
            loss=plan.uniform(0.0, 0.15),
            record_messages=False,
        )
        snapshots = watch_elections(net)
        chaos(net, seed, until=20.0)
        net.run(until=20.0)
        height_after_faults = max(node.chain.height for node in net.nodes)
        net.run(until=32.0)
        stats = check_safety(net, snapshots)
        heights = {node.chain.height for node in net.nodes}
        assert all(node.up for node in net.nodes)
        assert min(heights) > height_after_faults, (seed, heights, height_after_faults)
        assert max(heights) - min(heights) <= 1  # followers learn the last commit a beat later
        assert stats["committed"] >= 10 and len(snapshots) >= 1


def committed_between(net: Network, start: float, end: float) -> int:
    events = net.events_df()
    window = events[(events["event"] == "committed") & events["time"].between(start, end)]
    return len(window)


def leader_at(net: Network) -> RaftNode:
    (leader,) = [n for n in net.nodes if n.up and n.role == "leader"]
    return leader


def test_with_f_of_2f_plus_1_crashed_the_others_keep_committing():
    net = Network("raft", nodes=5, seed=21, record_messages=False)
    net.run(until=8.0)
    first = leader_at(net)
    crashed = [first.id, (first.id + 1) % 5]  # the leader among them: a new election
    for node in crashed:
        net.crash(node)
    before = net.nodes[(first.id + 2) % 5].chain.height
    net.run(until=30.0)
    survivors = [n for n in net.nodes if n.up]
    assert len(survivors) == 3 and leader_at(net).current_term > first.current_term
    assert min(n.chain.height for n in survivors) >= before + 25
    assert all(n.chain.height <= before + 1 for n in net.nodes if not n.up)
    check_safety(net, [])


def test_with_f_plus_1_crashed_commits_stop_and_resume_after_restarts():
    net = Network("raft", nodes=5, seed=22, record_messages=False)
    net.run(until=8.0)
    survivors = [leader_at(net).id, (leader_at(net).id + 1) % 5]
    down = [i for i in range(5) if i not in survivors]
    for node in down:
        net.crash(node, restart_at=25.0)
    net.run(until=25.0)
    stalled = {net.nodes[i].chain.height for i in survivors}
    assert committed_between(net, 9.0, 25.0) == 0  # no majority: nothing commits
    assert net.nodes[survivors[0]].last_index > max(stalled)  # proposed, never committed
    net.run(until=45.0)
    assert committed_between(net, 25.0, 45.0) >= 5 * 25
    assert min(n.chain.height for n in net.nodes) >= max(stalled) + 25
    check_safety(net, [])


def test_persistent_state_survives_a_crash_and_volatile_state_does_not():
    net = Network("raft", nodes=3, seed=5, record_messages=False)
    net.run(until=10.0)
    node = next(n for n in net.nodes if n.role == "follower")
    term, log, height = node.current_term, list(node.log), node.chain.height
    net.crash(node.id, restart_at=10.5)
    net.run(until=10.5)
    assert node.up and node.role == "follower" and node.leader is None
    assert node.current_term == term and node.log[: len(log)] == log
    assert node.chain.height >= height and node.commit_index == node.last_applied
    net.run(until=15.0)
    assert node.chain.height > height and node.leader is not None


def test_the_same_seed_gives_the_same_history():
    def history(seed: int) -> tuple:
        net = Network("raft", nodes=5, seed=seed, loss=0.05)
        net.crash(1, at=3.0, restart_at=6.0)
        net.partition([0, 2], at=4.0)
        net.heal(at=9.0)
        net.run(until=15.0)
        return net.events_df(), net.messages_df(), net.blocks_df()

    first, again, other = history(3), history(3), history(4)
    assert all(a.equals(b) for a, b in zip(first, again, strict=True))
    assert not first[0].equals(other[0])


def test_network_run_blocks_commits_on_every_node_in_order():
    net = Network("raft", nodes=5, seed=1).run(blocks=20)
    assert min(n.chain.height for n in net.nodes) >= 20 and net.agree()
    leader = leader_at(net)
    proposers = {b.header.proposer for b in leader.chain.main_chain() if b.height}
    assert proposers == {leader.key.address}  # one stable leader sealed them all
    assert net.stale_rate() == 0.0


def test_arguments_and_faults_are_explained():
    with pytest.raises(ValueError, match="known faults: none"):
        Network("raft", nodes=3, behaviours={0: "byzantine"})
    with pytest.raises(ValueError, match="tolerates crashes, not lies"):
        Raft.for_network(3).make_node(Network("raft", nodes=3), 0, "byzantine")
    with pytest.raises(ValueError, match="shorter than the shortest election timeout"):
        Raft.for_network(3, election_timeout=(0.04, 0.08))
    with pytest.raises(TypeError, match="election_timeout is"):
        Raft.for_network(3, election_timeout=0.2)
    net = Network("raft", nodes=3, latency=0.005)
    assert net.nodes[0].timeouts == (0.15, 0.3)  # the paper's values on a fast network
    assert Network("raft", nodes=3).nodes[0].timeouts == (1.0, 2.0)  # 10 to 20 x latency


def sealed_block(node: RaftNode, timestamp: int):
    """A block ``node`` seals on its committed tip (not added anywhere)."""
    block = node.chain.propose_block([], node.key.address, timestamp)
    return node.consensus.seal(block, node.key)


def test_a_leader_never_commits_an_older_term_entry_by_counting_replicas():
    """Figure 8 of the paper: an entry of an earlier term on a majority may still be overwritten,
    so it commits only together with an entry of the leader's own term."""
    net = Network("raft", nodes=3, seed=0, record_messages=False)
    leader = net.nodes[0]
    old = Entry(2, sealed_block(leader, 1_000))
    leader.current_term, leader.role = 4, "leader"
    leader.log = [Entry(0, None), old]
    leader.next_index, leader.match_index = {1: 2, 2: 2}, {1: 1, 2: 0}
    leader._advance_commit()
    assert leader.commit_index == 0 and leader.chain.height == 0  # on 2 of 3, still not final
    leader.log.append(Entry(4, None))
    leader.match_index[1] = 2
    leader._advance_commit()
    assert leader.commit_index == 2 and leader.chain.head.hash == old.block.hash


def test_a_follower_commits_only_entries_the_leader_has_shown_it_agrees_on():
    net = Network("raft", nodes=3, seed=0, record_messages=False)
    follower = net.nodes[1]
    first = Entry(1, sealed_block(net.nodes[0], 1_000))
    stale = Entry(1, sealed_block(net.nodes[0], 2_000))  # at index 2: never replicated further
    follower.current_term = 2
    follower.log = [Entry(0, None), first, stale]
    # A heartbeat that proves index 1 matches, from a leader whose commit index is 2 (its own,
    # different entry 2): the follower may commit index 1 only.
    follower._on_append_entries(0, AppendEntries(2, 0, 1, 1, (), leader_commit=2))
    assert follower.commit_index == 1 and follower.chain.height == 1
