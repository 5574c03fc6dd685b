"""The rounds behind lesson 07's round stepper: real PBFT and Raft runs cut into protocol rounds."""

from __future__ import annotations

import itertools

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import pytest
from matplotlib.text import Annotation

from blockkit.network import Network
from blockkit.widgets.network import draw_rounds, message_rounds, round_stepper


@pytest.fixture(scope="module")
def pbft():
    return Network("pbft", nodes=4, seed=7).run(blocks=3)


@pytest.fixture(scope="module")
def raft():
    return Network("raft", nodes=5, seed=7, heartbeat=0.3, block_interval=1.0).run(blocks=2)


def _block_window(network, proposal_event, height):
    """From the proposal of block ``height`` to just after the last node committed it."""
    events = network.events_df()
    at_height = events["details"].map(lambda d: d.get("height", d.get("seq")) == height)
    start = events[(events["event"] == proposal_event) & at_height]["time"].min()
    end = events[(events["event"] == "committed") & at_height]["time"].max()
    return float(start), float(end) + 1e-6


def test_pbft_rounds_of_one_block_are_in_protocol_order(pbft):
    start, end = _block_window(pbft, "pre-prepare", 2)
    rounds = message_rounds(pbft, start, end)
    assert [r.kind for r in rounds] == ["pre-prepare", "prepare", "commit"]
    assert [r.number for r in rounds] == [1, 2, 3]
    # the primary to 3 backups, 3 backups to 3 others, everyone to everyone else
    assert [len(r.messages) for r in rounds] == [3, 9, 12]
    assert rounds[0].messages["src"].unique().tolist() == [0]
    assert rounds[0].start == start
    # each replica commits on the arrival of a commit, and prepares before it commits
    committed = rounds[2].events[rounds[2].events["event"] == "committed"]
    assert sorted(committed["node"]) == [0, 1, 2, 3]
    prepared = [r for r in rounds[:2] for e in r.events["event"] if e == "prepared"]
    assert len(prepared) == 4
    assert all(r.events.empty or r.events["time"].min() >= start for r in rounds)
    assert message_rounds(pbft, start, end, waves=True)[2].kind == "commit"


def test_raft_waves_separate_replication_from_the_commit_heartbeat(raft):
    start, end = _block_window(raft, "proposed", 1)
    by_kind = message_rounds(raft, start, end)
    assert [r.kind for r in by_kind] == ["append-entries", "append-reply"]
    rounds = message_rounds(raft, start, end, waves=True)
    kinds = [r.kind for r in rounds]
    assert kinds[:3] == ["append-entries", "append-reply", "append-entries"]
    assert all(a != b for a, b in itertools.pairwise(kinds))  # they alternate
    leader = int(rounds[0].messages["src"].iloc[0])
    assert list(rounds[0].events["event"]) == ["proposed"]
    for r in rounds:  # within a round each sender talks to each receiver once
        assert not r.messages.duplicated(["src", "dst"]).any()
    commits = [(r.kind, int(e.node)) for r in rounds for e in r.events.itertuples()]
    commits = [c for c in commits if c != ("append-entries", leader)]
    # the leader commits on a reply (a majority stores the block); followers learn it from the
    # leader's next append-entries
    assert ("append-reply", leader) in commits
    assert {node for kind, node in commits if kind == "append-entries"} == {
        n for n in range(5) if n != leader
    }


def test_the_stepper_buttons_move_the_round_and_show_its_report(pbft):
    start, end = _block_window(pbft, "pre-prepare", 2)
    rounds = message_rounds(pbft, start, end)
    box = round_stepper(pbft, start, end)
    (back, step, forward), caption = box.children[0].children, box.children[1]
    assert step.value == 1 and rounds[0].describe() in caption.value
    back.click()
    assert step.value == 1
    forward.click()
    assert step.value == 2 and rounds[1].describe() in caption.value
    forward.click()
    forward.click()
    assert step.value == 3 == step.max
    back.click()
    assert step.value == 2
    plt.close("all")


def test_report_lists_events_and_cuts_long_ones(raft):
    start, end = _block_window(raft, "proposed", 1)
    third = message_rounds(raft, start, end, waves=True)[2]
    report = third.report()
    assert report.splitlines()[0] == third.describe()
    assert len(report.splitlines()) == 1 + len(third.events) == 5
    block_hash = third.events["details"].iloc[0]["hash"]
    assert block_hash[:12] + "…" in report and block_hash not in report
    short = third.report(limit=1)
    assert len(short.splitlines()) == 3
    assert short.splitlines()[-1] == "  … and 3 more events"


def test_draw_rounds_draws_one_arrow_per_message_so_far(pbft):
    start, end = _block_window(pbft, "pre-prepare", 2)
    rounds = message_rounds(pbft, start, end)
    ax = draw_rounds(rounds, 2, len(pbft.nodes))
    arrows = [t for t in ax.texts if isinstance(t, Annotation)]
    assert len(arrows) == len(rounds[0].messages) + len(rounds[1].messages)
    labels = [t.get_text() for t in ax.texts if not isinstance(t, Annotation)]
    assert labels and all(label == "prepared" for label in labels)  # the current round's events
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["1. pre-prepare", "2. prepare"]
    low, high = ax.get_ylim()
    assert high < start <= max(r.end for r in rounds[:2]) < low  # time runs downwards
    plt.close("all")


def test_empty_windows_and_unrecorded_networks_are_refused(pbft):
    assert message_rounds(pbft, 1e6, 1e6 + 1) == []
    with pytest.raises(ValueError, match="widen the window"):
        round_stepper(pbft, 1e6, 1e6 + 1)
    with pytest.raises(ValueError, match="window is empty"):
        message_rounds(pbft, 2.0, 2.0)
    quiet = Network("pbft", nodes=4, seed=7, record_messages=False).run(blocks=1)
    with pytest.raises(ValueError, match="record_messages=True"):
        message_rounds(quiet)
