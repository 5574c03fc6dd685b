"""The functions behind lesson 06's fork lab: a real proof-of-work run, its one-line summary, and
the widget's sliders and Run button."""

from __future__ import annotations

import html
import math
import re

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import pytest

from blockkit.network import Network
from blockkit.network.pow import propagation_delay, stale_rate_model
from blockkit.widgets.network import fork_lab, fork_lab_summary, fork_lab_widget

SUMMARY = re.compile(
    r"(\d+) blocks produced, (\d+) stale: stale rate ([\d.]+)% "
    r"\(model 1 - exp\(-d/T\) with d = ([\d.]+) s, T = ([\d.]+) s: ([\d.]+)%\); "
    r"node 0 holds (\d+) of (\d+) main-chain blocks"
)


@pytest.fixture(scope="module")
def lab():
    return fork_lab(latency=2.0, block_interval=5.0, share=0.3, nodes=12, blocks=40, seed=3)


def test_the_lab_is_a_pow_run_with_the_chosen_parameters(lab):
    assert lab.consensus.name == "pow" and len(lab.nodes) == 12
    assert lab.consensus.block_interval == 5.0 and lab.link.latency == 2.0
    assert lab.mining.shares[0] == pytest.approx(0.3)
    assert sum(lab.mining.shares) == pytest.approx(1.0)
    assert min(node.chain.height for node in lab.nodes) >= 40
    same = fork_lab(latency=2.0, block_interval=5.0, share=0.3, nodes=12, blocks=40, seed=3)
    assert same.blocks_df().equals(lab.blocks_df())  # seeded: the same history


def test_the_summary_numbers_are_the_networks(lab):
    found = SUMMARY.fullmatch(fork_lab_summary(lab))
    assert found, fork_lab_summary(lab)
    produced, stale, rate, delay, interval, model, mine, main = found.groups()
    blocks = lab.blocks_df()
    assert int(produced) == len(blocks) == len(lab.block_info)
    assert int(stale) == int((~blocks["main"]).sum()) > 0  # 2 s links, 5 s blocks: forks
    assert float(rate) == round(100 * lab.stale_rate(), 1)
    assert float(delay) == round(propagation_delay(lab), 2)
    assert float(interval) == 5.0
    assert float(model) == round(100 * stale_rate_model(propagation_delay(lab), 5.0), 1)
    assert int(main) == int(blocks["main"].sum()) == lab.reference_node().chain.height
    assert int(mine) == int((blocks["main"] & (blocks["producer"] == 0)).sum())


def test_the_model_uses_the_measured_delay_not_the_link_latency(lab):
    delay = propagation_delay(lab)
    assert not math.isclose(delay, 2.0, rel_tol=0.05)  # several hops and jitter
    assert f"d = {delay:.2f} s" in fork_lab_summary(lab)


@pytest.mark.parametrize("share", [0, 1, 1.5, -0.1])
def test_a_share_outside_zero_to_one_is_refused(share):
    with pytest.raises(ValueError, match="share"):
        fork_lab(share=share, nodes=4, blocks=1)


def test_a_lab_needs_two_nodes():
    with pytest.raises(ValueError, match="at least 2 nodes"):
        fork_lab(nodes=1)


def test_without_a_share_the_hash_power_is_equal():
    net = fork_lab(nodes=4, blocks=3, seed=1)
    assert net.mining.shares == pytest.approx((0.25,) * 4)


def test_run_redraws_with_the_slider_values(monkeypatch):
    drawn: list[Network] = []
    original = Network.draw_fork_tree

    def spy(self, ax=None, **kwargs):
        drawn.append(self)
        return original(self, ax, **kwargs)

    monkeypatch.setattr(Network, "draw_fork_tree", spy)
    box = fork_lab_widget(nodes=8, blocks=15, seed=5)
    (latency, interval, share, run), summary = box.children[0].children, box.children[1]
    assert len(drawn) == 1  # drawn once on creation, with the default sliders
    first = fork_lab(
        latency=latency.value,
        block_interval=interval.value,
        share=share.value,
        nodes=8,
        blocks=15,
        seed=5,
    )
    assert summary.value == html.escape(fork_lab_summary(first))

    latency.value, interval.value, share.value = 0.1, 30.0, 0.5
    run.click()
    assert len(drawn) == 2
    net = drawn[-1]
    assert net.link.latency == pytest.approx(0.1) and net.consensus.block_interval == 30.0
    assert net.mining.shares[0] == pytest.approx(0.5)
    expected = fork_lab(latency=0.1, block_interval=30.0, share=0.5, nodes=8, blocks=15, seed=5)
    assert summary.value == html.escape(fork_lab_summary(expected))
    assert summary.value != html.escape(fork_lab_summary(first))
    plt.close("all")
