"""Proof of work on the simulated network: gossip, forks, catch-up, attacks, and the models."""

from __future__ import annotations

import dataclasses
import math

import pandas as pd
import pytest

from blockkit.blocks import Block
from blockkit.consensus.pow import ProofOfWork
from blockkit.errors import UnknownTransaction
from blockkit.hashing import meets_target
from blockkit.network import Network
from blockkit.network.pow import (
    MESSAGE_OVERHEAD,
    double_spend_experiment,
    nakamoto_probability,
    node_address,
    selfish_mining_experiment,
    selfish_revenue,
    stale_rate_sweep,
    withholding_experiment,
)
from blockkit.params import NETWORK, PRESETS


def small(seed: int, nodes: int = 6, **options) -> Network:
    return Network("pow", nodes=nodes, seed=seed, **options)


# --- set-up and the real proof of work ----------------------------------------------------------


def test_for_network_checks_its_arguments_and_normalises_hash_power():
    pow_ = ProofOfWork.for_network(3, hashpower=[2, 1, 1], block_interval=5, degree=2)
    assert pow_.hashpower == (0.5, 0.25, 0.25) and pow_.params is NETWORK
    assert PRESETS["network"] is NETWORK
    with pytest.raises(ValueError, match="one share per node"):
        Network("pow", nodes=3, hashpower=[1, 1])
    with pytest.raises(ValueError, match="numbers >= 0"):
        Network("pow", nodes=2, hashpower=[1, -1])
    with pytest.raises(ValueError, match="at least one node needs hash power"):
        Network("pow", nodes=2, hashpower=[0, 0])
    with pytest.raises(ValueError, match="block_interval"):
        Network("pow", nodes=2, block_interval=0)


def test_every_block_carries_real_proof_of_work_and_a_millisecond_timestamp():
    net = small(3, nodes=8).run(blocks=15)
    chain = net.reference_node().chain
    for block in list(chain.main_chain())[1:]:
        assert meets_target(block.hash, block.header.target)
        info = net.block_info[block.hash]
        assert block.timestamp == max(
            chain.block(block.parent).timestamp + 1, round(info.created * 1000)
        )
    assert net.agree(depth=1)


def test_hash_power_shares_decide_who_finds_blocks():
    net = Network("pow", nodes=4, seed=2, hashpower=[0.7, 0.1, 0.1, 0.1]).run(blocks=300)
    producers = [info.producer for info in net.block_info.values()]
    assert 0.62 < producers.count(0) / len(producers) < 0.78


def test_the_same_seed_replays_identically_and_another_seed_does_not():
    def tables(seed: int) -> tuple[pd.DataFrame, ...]:
        net = small(seed, nodes=8, latency=0.5).run(blocks=20)
        return net.blocks_df(), net.events_df(), net.messages_df()

    first, again, other = tables(7), tables(7), tables(8)
    for a, b in zip(first, again, strict=True):
        pd.testing.assert_frame_equal(a, b)
    assert not first[0].equals(other[0]) and not first[2].equals(other[2])


# --- gossip, orphans, invalid blocks, catch-up ------------------------------------------------


def test_an_orphan_waits_for_its_parent_which_is_fetched_from_the_sender():
    net = small(0, nodes=3, block_interval=1e9)  # nobody mines: we place blocks by hand
    sender, receiver = net.nodes[0], net.nodes[1]
    parent = sender.mine_block(sender.chain)
    sender.accept_own(parent)
    child = sender.mine_block(sender.chain)
    sender.accept_own(child)
    net.send(0, 1, "block", child, len(child.encoded) + MESSAGE_OVERHEAD)  # child first
    net.run(until=30)
    events = net.events_df()
    orphan = events[(events.event == "orphan") & (events.node == 1)]
    assert len(orphan) == 1 and orphan.details.iloc[0]["parent"] == parent.hash.hex()
    assert net.message_counts["getblock"] == 1
    assert receiver.chain.head_hash == child.hash and not receiver.orphans
    assert net.nodes[2].chain.head_hash == child.hash  # and the receiver relayed both


def test_a_block_with_bad_proof_of_work_is_rejected_by_every_node_and_never_relayed():
    net = small(4, nodes=6, block_interval=1e9)
    miner = net.nodes[0]
    good = miner.mine_block(miner.chain)
    nonce = next(
        n
        for n in range(1000)
        if not meets_target(dataclasses.replace(good.header, nonce=n).hash, good.header.target)
    )
    bad = Block(dataclasses.replace(good.header, nonce=nonce), good.transactions)
    for dst in range(1, 6):
        net.send(0, dst, "block", bad, 500)
    net.send(1, 0, "block", bad, 500)
    net.run(until=60)
    invalid = net.events_df().query("event == 'invalid'")
    assert sorted(invalid.node) == list(range(6))
    assert set(d["reason"] for d in invalid.details) == {"bad-pow"}
    assert net.message_counts["block"] == 6  # only the injected copies: nobody relayed it
    assert all(node.chain.height == 0 and bad.hash not in node.chain for node in net.nodes)


def test_a_restarted_node_catches_up_with_what_it_missed():
    net = small(5, nodes=8)
    net.crash(3, at=20.0, restart_at=300.0)
    net.run(until=299.0)
    missed = net.reference_node().chain.height - net.nodes[3].chain.height
    assert missed >= 10
    net.run(until=303.0)
    reference = net.reference_node().chain
    before_restart = [
        b for b in reference.main_chain() if b.height and net.block_info[b.hash].created < 299.0
    ]
    assert all(net.nodes[3].chain.is_main(b.hash) for b in before_restart)


@pytest.mark.parametrize("seed", range(100))
def test_every_honest_node_converges_to_one_chain_after_a_partition_heals(seed: int):
    net = small(seed, nodes=6, latency=0.2, degree=3)
    net.partition([0, 1, 2], at=0.0)
    net.heal(at=80.0)
    net.run(until=80.0)
    sides = {net.nodes[0].chain.head_hash, net.nodes[5].chain.head_hash}

    def converged() -> bool:
        heads = {node.chain.head_hash for node in net.nodes}
        return net.now > 80.0 and len(heads) == 1

    net.run(until=400.0, stop=converged)
    assert converged(), f"seed {seed}: no agreement by t={net.now:.0f}"
    # Both sides mined during the partition, so one side really had to reorganise.
    if len(sides) == 2 and net.nodes[0].chain.height and net.nodes[5].chain.height:
        reorgs = net.events_df().query("event == 'reorg' and time >= 80")
        assert len(reorgs) > 0


# --- stale blocks ----------------------------------------------------------------------------


def test_stale_rate_rises_with_latency_and_sits_near_the_simple_model():
    df = stale_rate_sweep(block_intervals=(10.0,), latencies=(0.02, 2.0), seeds=(0, 1), blocks=60)
    by_latency = df.groupby("latency")[["stale_rate", "model"]].mean()
    assert by_latency.loc[0.02, "stale_rate"] < 0.02
    assert by_latency.loc[2.0, "stale_rate"] > 0.08
    assert abs(by_latency.loc[2.0, "stale_rate"] - by_latency.loc[2.0, "model"]) < 0.1


# --- attacks ---------------------------------------------------------------------------------


def test_nakamoto_probability_reproduces_the_whitepaper_table():
    table = {
        (0.1, 0): 1.0,
        (0.1, 1): 0.2045873,
        (0.1, 2): 0.0509779,
        (0.1, 5): 0.0009137,
        (0.3, 5): 0.1773523,
        (0.3, 10): 0.0416605,
    }
    for (q, z), expected in table.items():
        assert nakamoto_probability(q, z) == pytest.approx(expected, abs=5e-8)
    assert nakamoto_probability(0.5, 3) == 1.0
    with pytest.raises(ValueError, match="fraction"):
        nakamoto_probability(1.5, 1)


@pytest.mark.parametrize(("q", "z"), [(0.3, 2), (0.1, 1)])
def test_double_spend_success_rate_matches_nakamoto(q: float, z: int):
    trials = 400
    row = double_spend_experiment(q=(q,), confirmations=(z,), trials=trials).iloc[0]
    sigma = math.sqrt(row.nakamoto * (1 - row.nakamoto) / trials)
    # 3 standard errors, plus the gap between Nakamoto's Poisson estimate and the exact value.
    assert abs(row.measured - row.nakamoto) < 3 * sigma + abs(row.nakamoto - row.exact)
    assert row.successes > 0 and row.gave_up > 0


def test_a_successful_double_spend_removes_the_payment_from_every_honest_chain():
    for seed in range(40):
        q = 0.4
        net = Network(
            "pow",
            nodes=5,
            seed=seed,
            latency=0.05,
            hashpower=[q] + [(1 - q) / 4] * 4,
            behaviours={0: "double-spend"},
            allocations={node_address(0): 1_000},
        )
        attacker = net.nodes[0].plan(1, value=100, confirmations=2)
        net.run(until=10_000, stop=lambda a=attacker: a.finished)
        if attacker.phase != "published":
            continue
        net.run(until=net.now + 30)
        merchant = net.nodes[1]
        with pytest.raises(UnknownTransaction):
            merchant.chain.transaction(attacker.payment.hash)
        assert merchant.chain.balance(node_address(1)) == 0
        assert merchant.chain.balance(node_address(0, "vault")) == 100
        delivered = net.events_df().query("event == 'delivered'")
        assert len(delivered) == 1
        return
    pytest.fail("no double-spend succeeded in 40 seeds with q=0.4")


def test_a_double_spender_needs_funds_and_a_merchant():
    net = Network("pow", nodes=3, behaviours={0: "double-spend"})
    with pytest.raises(ValueError, match="fund it with"):
        net.nodes[0].plan(1)
    with pytest.raises(ValueError, match="another node"):
        net.nodes[0].plan(0)


def test_selfish_mining_pays_with_high_gamma_and_alpha_04_and_not_at_alpha_01():
    high = selfish_mining_experiment(alphas=(0.4,), fast_links=True, blocks=400).iloc[0]
    assert high.gamma > 0.7
    assert high.revenue > 0.4 + 0.05
    low = selfish_mining_experiment(alphas=(0.1,), fast_links=False, blocks=600).iloc[0]
    assert low.revenue < 0.1 - 0.03


def test_selfish_revenue_has_the_papers_thresholds():
    # Eyal & Sirer: profitable above alpha = 1/3 when gamma = 0, above 1/4 when gamma = 1/2,
    # for any alpha > 0 when gamma = 1.
    assert selfish_revenue(1 / 3, 0.0) == pytest.approx(1 / 3)
    assert selfish_revenue(0.25, 0.5) == pytest.approx(0.25)
    assert selfish_revenue(0.1, 1.0) > 0.1 > selfish_revenue(0.1, 0.0)
    assert selfish_revenue(0.4, 1.0) == pytest.approx(0.5674, abs=1e-4)


def test_withheld_blocks_never_reach_the_main_chain():
    row = withholding_experiment(shares=(0.3,), blocks=80).iloc[0]
    assert row.withheld_blocks > 10 and row.withheld_on_main == 0
