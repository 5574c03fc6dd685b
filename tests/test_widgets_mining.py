"""The functions behind lesson 05's mining widget and retargeting plot."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import pytest

from blockkit.chain import Chain
from blockkit.hashing import meets_target
from blockkit.params import CLASSROOM
from blockkit.widgets.mining import (
    mine_at_difficulty,
    mining_widget,
    plot_retargeting,
    simulate_retargeting,
    target_for_zero_bits,
)

HEADER = Chain(CLASSROOM).propose_block([], proposer=b"\x01" * 20, timestamp=10).header


@pytest.mark.parametrize("bits", [0, 1, 8, 12])
def test_mining_finds_the_first_nonce_with_enough_zero_bits(bits):
    found = mine_at_difficulty(HEADER, bits)
    assert found is not None and found.attempts == found.header.nonce + 1
    digest = found.header.hash
    assert 256 - int.from_bytes(digest, "big").bit_length() >= bits
    assert meets_target(digest, target_for_zero_bits(bits))
    for nonce in range(found.header.nonce):  # nothing smaller works
        from dataclasses import replace

        earlier = replace(found.header, nonce=nonce).hash
        assert not meets_target(earlier, target_for_zero_bits(bits))


def test_mining_can_be_stopped():
    assert mine_at_difficulty(HEADER, 40, max_attempts=100) is None
    with pytest.raises(ValueError):
        target_for_zero_bits(256)


def test_the_widget_mines_and_reports_progress():
    box = mining_widget(HEADER, zero_bits=10)
    (slider, button), bar, result = box.children[0].children, box.children[1], box.children[2]
    button.click()
    expected = mine_at_difficulty(HEADER, 10)
    assert expected.summary() in result.value
    assert bar.value == expected.attempts and not button.disabled
    slider.value = 2
    button.click()
    assert mine_at_difficulty(HEADER, 2).summary() in result.value


def test_retargeting_simulation_is_a_real_valid_chain_and_steers_block_times():
    chain, table = simulate_retargeting(60, ((0, 409.6), (20, 1638.4)), seed=7)
    assert chain.height == 60 and len(table) == 60
    assert list(table["height"]) == list(range(1, 61))
    replayed = Chain(CLASSROOM)
    for block in list(chain.main_chain())[1:]:
        replayed.add_block(block)  # every block is valid: real work, real targets
    assert replayed.head_hash == chain.head_hash
    early = table[table["height"] <= 20]["difficulty"].mean()
    late = table[table["height"] > 50]["difficulty"].mean()
    assert late > 2 * early  # difficulty followed the hash rate up
    again = simulate_retargeting(60, ((0, 409.6), (20, 1638.4)), seed=7)[1]
    assert again.equals(table)  # seeded: the lesson's plot never changes
    fig = plot_retargeting(table)
    assert len(fig.axes) == 2
