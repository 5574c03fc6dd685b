"""PBFT on the simulated network: safety and liveness over many seeds, with Byzantine replicas."""

from __future__ import annotations

import random
from dataclasses import replace

import pytest

from blockkit.consensus.pbft import (
    PBFT,
    NewView,
    PBFTReplica,
    Vote,
    compute_new_view_o,
    pbft_expected_messages,
    pbft_message_stats,
)
from blockkit.errors import InvalidBlock
from blockkit.network import Network
from blockkit.network.sim import Message

SEEDS = range(100)


def honest(net: Network) -> list[PBFTReplica]:
    return [node for node in net.nodes if node.honest]


def assert_safe(net: Network) -> None:
    """No two honest replicas hold different blocks at the same height (crashed ones included)."""
    nodes = honest(net)
    top = max(node.chain.height for node in nodes)
    for height in range(1, top + 1):
        hashes = {n.chain.block_at(height).hash for n in nodes if n.chain.height >= height}
        assert len(hashes) == 1, f"seed {net.sim.seed}: honest replicas disagree at {height}"


def rejections(net: Network, node: int | None = None) -> list[tuple[str, str]]:
    events = net._events
    return [
        (details["kind"], details["reason"])
        for _, who, event, details in events
        if event == "rejected" and (node is None or who == node)
    ]


def faulty_ids(n: int, seed: int) -> list[int]:
    """f faulty replicas, always including the primary of view 0."""
    f = (n - 1) // 3
    others = random.Random(seed).sample(range(1, n), f - 1)
    return [0, *others]


# --- normal case ------------------------------------------------------------------------------


@pytest.mark.parametrize("n", [4, 16])
def test_normal_case_sends_the_documented_number_of_messages(n):
    blocks = 100 if n == 4 else 30
    net = Network("pbft", nodes=n, seed=1, record_messages=False).run(blocks=blocks)
    assert_safe(net)
    expected = pbft_expected_messages(n, blocks, checkpoint_interval=10)
    stats = pbft_message_stats(net, as_frame=False)
    assert stats["blocks"] == blocks
    assert stats["messages"] == expected["total"]
    for kind in ("pre-prepare", "prepare", "commit", "checkpoint"):
        assert stats["by_kind"][kind] == expected[kind]
    # O(n²): per block (n-1)·2n plus n(n-1) per checkpoint interval.
    assert stats["per_block"] == pytest.approx((n - 1) * 2 * n + n * (n - 1) / 10)


def test_messages_per_block_grow_quadratically():
    small = pbft_message_stats(Network("pbft", nodes=4, seed=2).run(blocks=10))
    large = pbft_message_stats(Network("pbft", nodes=16, seed=2).run(blocks=10))
    ratio = large.loc["total", "per_block"] / small.loc["total", "per_block"]
    assert ratio == pytest.approx((15 * 32 + 24) / (3 * 8 + 1.2))  # ≈ 20: (16/4)² · (15/16)/(3/4)
    assert large.attrs["blocks"] == 10


def test_committed_blocks_are_real_sealed_blocks_in_every_chain():
    net = Network("pbft", nodes=4, seed=3).run(blocks=12)
    assert net.agree()
    for node in net.nodes:
        chain = node.chain
        assert chain.height >= 12
        for height in range(1, chain.height + 1):
            block = chain.block_at(height)
            assert block.header.proposer == net.consensus.addresses[0]  # view 0 throughout
            assert len(node.commit_certs[height]) == net.consensus.quorum
    info = net.nodes[1].slot_info(net.nodes[1].chain.height + 1)
    assert info["view"] == 0
    assert set(net.events_df()["event"]) >= {"pre-prepare", "prepared", "committed", "checkpoint"}


def test_identical_seeds_give_identical_runs():
    def run(seed: int) -> tuple:
        net = Network("pbft", nodes=4, seed=seed, loss=0.05, behaviours={0: "byzantine"})
        net.run(until=25)
        chains = tuple(tuple(b.hash for b in n.chain.main_chain()) for n in net.nodes)
        return chains, tuple(net._events), dict(net.message_counts)

    assert run(7) == run(7)
    assert run(7) != run(8)


# --- faults: safety and liveness over many seeds ----------------------------------------------


@pytest.mark.parametrize("behaviour", ["silent", "equivocate", "byzantine"])
def test_faulty_primary_is_replaced_and_honest_replicas_agree_n4(behaviour):
    """100 seeds, n=4, f=1: the faulty replica is the primary of view 0."""
    for seed in SEEDS:
        net = Network(
            "pbft", nodes=4, seed=seed, behaviours={0: behaviour}, record_messages=False
        ).run(until=20)
        assert_safe(net)
        for node in honest(net):
            assert node.view >= 1, f"seed {seed}: replica {node.id} never left view 0"
            assert node.chain.height >= 5, f"seed {seed}: replica {node.id} stalled"


@pytest.mark.parametrize("behaviour", ["silent", "equivocate", "byzantine"])
def test_two_faulty_replicas_among_seven(behaviour):
    for seed in range(20):
        faulty = faulty_ids(7, seed)
        net = Network(
            "pbft",
            nodes=7,
            seed=seed,
            behaviours=dict.fromkeys(faulty, behaviour),
            record_messages=False,
        ).run(until=40)
        assert_safe(net)
        for node in honest(net):
            assert node.view >= 1
            assert node.chain.height >= 5, f"seed {seed}: replica {node.id} stalled ({faulty})"


@pytest.mark.parametrize("behaviour", ["silent", "equivocate", "byzantine"])
def test_faults_with_message_loss(behaviour):
    """5 % of messages lost on top of a faulty primary: retransmission and view changes cope."""
    for seed in range(24):
        n = 4 if seed % 3 else 7
        net = Network(
            "pbft",
            nodes=n,
            seed=seed,
            loss=0.05,
            behaviours=dict.fromkeys(faulty_ids(n, seed), behaviour),
            record_messages=False,
        ).run(until=60)
        assert_safe(net)
        assert min(node.chain.height for node in honest(net)) >= 3, f"seed {seed}"


def test_partitioned_replica_catches_up_after_heal():
    for seed in range(30):
        net = Network("pbft", nodes=4, seed=seed, behaviours={1: "byzantine"})
        net.partition([3], at=3.0)  # without honest 3 there is no honest quorum: all stop
        net.heal(at=20.0)
        net.run(until=19.9)
        during = [node.chain.height for node in honest(net)]
        assert max(during) <= 3
        net.run(until=45)
        assert_safe(net)
        heights = [node.chain.height for node in honest(net)]
        assert min(heights) >= 20, f"seed {seed}: {heights}"
        assert max(heights) - min(heights) <= 2


def test_majority_side_of_a_partition_keeps_committing_and_minority_catches_up():
    for seed in range(30):
        net = Network("pbft", nodes=7, seed=seed)
        net.partition([0, 1, 2, 3, 4], [5, 6], at=4.0)
        net.heal(at=25.0)
        net.run(until=24.0)
        stuck = net.nodes[5].chain.height
        assert net.nodes[0].chain.height >= stuck + 10  # 5 of 7 = 2f+1 still commit
        net.run(until=40.0)
        assert_safe(net)
        assert net.nodes[5].chain.height >= net.nodes[0].chain.height - 2
        assert any(e == "caught-up" and who == 5 for _, who, e, _ in net._events)


def test_crashed_replica_restarts_and_catches_up_with_verified_certificates():
    net = Network("pbft", nodes=4, seed=5)
    net.crash(2, at=2.0, restart_at=30.0)
    net.run(until=50)
    assert_safe(net)
    node = net.nodes[2]
    assert node.chain.height >= net.nodes[0].chain.height - 2
    assert all(len(node.commit_certs[h]) >= 3 for h in range(1, node.chain.height + 1))


def test_f_plus_one_silent_replicas_stop_everything_but_safety_holds():
    """Why 3f+1: with f+1 silent among 3f+1, only 2f remain and no quorum of 2f+1 exists."""
    for seed in range(20):
        for n, silent in ((4, [0, 1]), (4, [1, 3]), (7, [0, 2, 5])):
            net = Network(
                "pbft", nodes=n, seed=seed, behaviours=dict.fromkeys(silent, "silent")
            ).run(until=30)
            assert_safe(net)
            assert all(node.chain.height == 0 for node in net.nodes)
            assert not any(e == "committed" for _, _, e, _ in net._events)


def test_byzantine_new_primary_sends_a_new_view_that_does_not_match_and_is_skipped():
    """Replica 0 silent, replica 1 (primary of view 1) Byzantine: its NEW-VIEW is rejected,
    view 2 takes over."""
    for seed in range(10):
        net = Network("pbft", nodes=7, seed=seed, behaviours={0: "silent", 1: "byzantine"}).run(
            until=60
        )
        assert_safe(net)
        reasons = {reason for _, reason in rejections(net)}
        assert "new-view-mismatch" in reasons
        assert all(node.view >= 2 for node in honest(net))
        assert min(node.chain.height for node in honest(net)) >= 5


def test_byzantine_lies_are_rejected_with_reasons():
    net = Network("pbft", nodes=4, seed=4, behaviours={0: "byzantine"}).run(until=30)
    assert_safe(net)
    found = set(rejections(net))
    reasons = {reason for _, reason in found}
    assert {"bad-signature", "unknown-sender", "malformed"} <= reasons
    assert any(r.startswith("invalid-block:") or r == "digest-mismatch" for r in reasons)
    assert any(r.startswith("bad-view-change:certificate") for r in reasons)
    # every rejection is of something the Byzantine replica sent; honest ones never clash
    senders = {details["sender"] for _, _, event, details in net._events if event == "rejected"}
    assert senders == {0}


def test_equivocating_primary_forces_a_view_change():
    net = Network("pbft", nodes=4, seed=6, behaviours={0: "equivocate"}).run(until=30)
    assert_safe(net)
    events = net.events_df()
    assert (events["event"] == "equivocated").any()
    assert (events["event"] == "new-view").any()
    assert ("prepare", "digest-mismatch") in rejections(net)
    assert all(node.view >= 1 for node in honest(net))


# --- forged messages, one at a time -----------------------------------------------------------


@pytest.fixture
def started():
    net = Network("pbft", nodes=4, seed=0)
    net.start()
    return net


def deliver(net: Network, src: int, dst: int, kind: str, payload) -> list[str]:
    node = net.nodes[dst]
    before = len(net._events)
    node.receive(Message(src, dst, kind, payload, 100, net.now))
    return [d["reason"] for _, _, e, d in net._events[before:] if e == "rejected"]


def test_forged_and_impersonated_messages_are_rejected(started):
    net = started
    keys = net.consensus.keys
    digest = bytes(32)
    genuine = Vote("prepare", 0, 1, digest, 2)
    genuine = replace(genuine, signature=keys[2].sign(genuine.body))
    # replica 3 claims to be replica 2, signing with its own key
    forged = replace(genuine, signature=keys[3].sign(genuine.body))
    assert deliver(net, 3, 1, "prepare", forged) == ["bad-signature"]
    # a garbled signature
    assert deliver(net, 2, 1, "prepare", replace(genuine, signature=b"x" * 64)) == ["bad-signature"]
    # a genuine vote relayed by someone else
    assert deliver(net, 3, 1, "prepare", genuine) == ["sender-mismatch"]
    # a replica that does not exist
    assert deliver(net, 3, 1, "prepare", replace(genuine, replica=9)) == ["unknown-sender"]
    # not a vote at all
    assert deliver(net, 3, 1, "commit", b"garbage") == ["malformed"]
    # the genuine one, from its sender, is taken
    assert deliver(net, 2, 1, "prepare", genuine) == []
    assert net.nodes[1].slots[(0, 1)].prepares[digest] == {2: genuine}


def test_pre_prepares_are_checked(started):
    net = started
    consensus = net.consensus
    keys = consensus.keys
    chain = net.nodes[1].chain
    block = consensus.seal(chain.propose_block([], keys[0].address, 1), keys[0])

    def pre_prepare(view, seq, digest, signer, block=block, replica=None):
        vote = Vote("pre-prepare", view, seq, digest, signer if replica is None else replica)
        return replace(vote, signature=keys[signer].sign(vote.body), block=block)

    # from a backup (not the primary of view 0)
    assert deliver(net, 2, 1, "pre-prepare", pre_prepare(0, 1, block.hash, 2)) == ["not-primary"]
    # digest that is not the carried block
    assert deliver(net, 0, 1, "pre-prepare", pre_prepare(0, 1, bytes(32), 0)) == ["digest-mismatch"]
    # beyond the high watermark
    far = consensus.window + 1
    assert deliver(net, 0, 1, "pre-prepare", pre_prepare(0, far, block.hash, 0)) == [
        "outside-watermarks"
    ]
    # a block whose state root is wrong, correctly sealed by the primary: check_block says no
    bad = consensus.seal(
        replace(block, header=replace(block.header, state_root=bytes(32))), keys[0]
    )
    assert deliver(net, 0, 1, "pre-prepare", pre_prepare(0, 1, bad.hash, 0, block=bad)) == [
        "invalid-block:bad-state-root"
    ]
    # the genuine one in view 0 is accepted; a second one with another digest is not
    net2 = Network("pbft", nodes=4, seed=0)
    net2.start()
    assert deliver(net2, 0, 1, "pre-prepare", pre_prepare(0, 1, block.hash, 0)) == []
    other = consensus.seal(chain.propose_block([], keys[0].address, 2), keys[0])
    assert deliver(net2, 0, 1, "pre-prepare", pre_prepare(0, 1, other.hash, 0, block=other)) == [
        "conflicting-pre-prepare"
    ]
    # a message from an old view
    net2.nodes[1].view = 1
    assert deliver(net2, 2, 1, "prepare", _signed(keys, "prepare", 0, 1, block.hash, 2)) == [
        "wrong-view"
    ]


def _signed(keys, kind, view, seq, digest, replica):
    vote = Vote(kind, view, seq, digest, replica)
    return replace(vote, signature=keys[replica].sign(vote.body))


def test_check_block_dry_run_changes_nothing():
    net = Network("pbft", nodes=4, seed=0)
    consensus = net.consensus
    chain = net.nodes[0].chain
    key = consensus.keys[0]
    root = chain.state.root()
    block = consensus.seal(chain.propose_block([], key.address, 1), key)
    chain.check_block(block)
    assert chain.state.root() == root and chain.height == 0
    chain.add_block(block)  # still valid: the dry run left the state as it was
    with pytest.raises(InvalidBlock):
        chain.check_block(block)  # no longer on the tip


# --- checkpoints and view-change certificates -------------------------------------------------


def test_checkpoints_become_stable_and_the_log_is_truncated():
    net = Network("pbft", nodes=4, seed=9, checkpoint_interval=5).run(blocks=23)
    for node in net.nodes:
        assert node.stable_seq == 20
        assert node.stable_checkpoint == (20, node.chain.block_at(20).hash)
        assert len(node.stable_proof) == 3
        assert all(seq > 20 for _, seq in node.slots)
        assert all(seq > 20 for seq in node.prepared_certs)
        assert node.truncated > 0
    stable = net.events_df().query("event == 'checkpoint'")
    assert sorted({d["seq"] for d in stable["details"]}) == [5, 10, 15, 20]
    assert len(net.nodes[0].log_df()) == len(net.nodes[0].slots)


def test_new_view_is_recomputed_from_its_view_changes():
    """A NEW-VIEW whose O differs from what V implies is refused by every replica."""
    net = Network("pbft", nodes=4, seed=11, behaviours={0: "silent"}).run(until=15)
    node = net.nodes[2]
    nv: NewView = node.new_views[1]
    _, _, expected = compute_new_view_o(nv.view_changes)
    assert [(pp.seq, pp.digest) for pp in nv.pre_prepares] == [(s, d) for s, d, _ in expected]
    assert node._new_view_problem(nv) is None
    keys = net.consensus.keys
    emptied = replace(nv, pre_prepares=(), signature=b"")
    emptied = replace(emptied, signature=keys[1].sign(emptied.body))
    if expected:
        assert node._new_view_problem(emptied) == "new-view-mismatch"
    short = replace(nv, view_changes=nv.view_changes[:2], signature=b"")
    short = replace(short, signature=keys[1].sign(short.body))
    assert node._new_view_problem(short) == "too-few-view-changes"


# --- arguments --------------------------------------------------------------------------------


def test_bad_arguments_say_what_to_do():
    with pytest.raises(ValueError, match="3f"):
        PBFT.for_network(4, f=2)
    with pytest.raises(ValueError, match="window"):
        PBFT.for_network(4, checkpoint_interval=10, window=5)
    with pytest.raises(ValueError, match="block_interval"):
        PBFT.for_network(4, block_interval=0)
    with pytest.raises(ValueError, match="known faults"):
        Network("pbft", nodes=4, behaviours={0: "sneaky"})
    assert PBFT.for_network(10).f == 3
    assert PBFT.for_network(4).primary(5) == 1


@pytest.mark.parametrize("n", [1, 2, 3, 5])
def test_committees_of_any_size_commit(n):
    net = Network("pbft", nodes=n, seed=0).run(blocks=12, until=100)
    assert net.agree()
    assert all(node.chain.height >= 12 for node in net.nodes)
