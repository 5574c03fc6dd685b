"""Proof of authority: turn rules on a bare chain, then honest and faulty nodes on a network."""

from __future__ import annotations

from dataclasses import replace

import pytest

from blockkit.chain import Chain
from blockkit.consensus.committee import committee_keys, verify_signature
from blockkit.consensus.poa import ProofOfAuthority, detected
from blockkit.errors import InvalidBlock
from blockkit.network import Network

KEYS = committee_keys(4, "poa-test")
OUTSIDER = committee_keys(1, "poa-outsider")[0]


def bare_chain() -> tuple[ProofOfAuthority, Chain]:
    """Three authorities (KEYS[0:3]), slots of 2 s, a chain using the rule and no network."""
    poa = ProofOfAuthority([k.public_key for k in KEYS[:3]], period=2.0, keys=KEYS[:3])
    return poa, Chain(consensus=poa)


# --- the chain rule alone ---------------------------------------------------------------------


def test_authorities_seal_in_rotation_and_skipped_slots_are_fine():
    poa, chain = bare_chain()
    for slot in (1, 2, 3, 4, 6, 7):  # slot 5 (validator 2) is missed: the chain goes on
        result = chain.add_block(poa.propose(chain, slot))
        assert result.status == "extended"
        header = chain.head.header
        assert header.timestamp == slot * 2000
        assert header.proposer == KEYS[slot % 3].address
    assert chain.height == 6


def test_a_block_out_of_turn_is_rejected_with_its_reason():
    poa, chain = bare_chain()
    chain.add_block(poa.propose(chain, 1))
    wrong = poa.propose(chain, 2, key=KEYS[0])  # slot 2 belongs to validator 2
    with pytest.raises(InvalidBlock, match="slot 2 belongs to validator 2") as caught:
        chain.add_block(wrong)
    assert caught.value.reason == "out-of-turn"
    assert chain.height == 1


def test_a_block_in_a_slot_not_after_its_parents_is_rejected():
    poa, chain = bare_chain()
    chain.add_block(poa.propose(chain, 4))
    # Slot 4 again, validator 1 in turn, 1 ms later: timestamp rises but the slot does not.
    again = poa.propose(chain, 4, offset_ms=1)
    with pytest.raises(InvalidBlock) as caught:
        chain.add_block(again)
    assert caught.value.reason == "slot-not-after-parent"


def test_a_non_authority_cannot_seal_even_in_a_free_slot():
    poa, chain = bare_chain()
    forged = poa.propose(chain, 1, key=OUTSIDER)
    assert verify_signature(OUTSIDER.public_key, forged.header.seal_message, forged.header.seal)
    with pytest.raises(InvalidBlock) as caught:
        chain.add_block(forged)
    assert caught.value.reason == "not-a-validator"


def test_a_forged_or_altered_seal_is_rejected():
    poa, chain = bare_chain()
    honest = poa.propose(chain, 1)
    # Claims validator 1 (in turn) but is signed by validator 0.
    forged_header = replace(honest.header, seal=KEYS[0].sign(honest.header.seal_message))
    with pytest.raises(InvalidBlock) as caught:
        chain.add_block(replace(honest, header=forged_header))
    assert caught.value.reason == "bad-seal"
    # A genuine seal on a header changed after sealing (later timestamp, same slot).
    altered = replace(honest.header, timestamp=honest.header.timestamp + 5)
    with pytest.raises(InvalidBlock) as caught:
        chain.add_block(replace(honest, header=altered))
    assert caught.value.reason == "bad-seal"
    assert chain.add_block(honest).status == "extended"


def test_arguments_are_checked_with_messages_that_say_what_to_do():
    with pytest.raises(ValueError, match="period"):
        ProofOfAuthority([KEYS[0].public_key], period=0)
    with pytest.raises(ValueError, match="pass key="):
        ProofOfAuthority([KEYS[0].public_key]).propose(Chain(), 1)
    with pytest.raises(ValueError, match="authorities is a count"):
        Network("poa", nodes=3, authorities=5)
    with pytest.raises(ValueError, match="an intruder is an observer"):
        Network("poa", nodes=3, behaviours={0: "intruder"})
    with pytest.raises(ValueError, match="needs an authority"):
        Network("poa", nodes=3, authorities=2, behaviours={2: "equivocate"})


# --- on the network ---------------------------------------------------------------------------


def main_chain(net: Network) -> list:
    return list(net.reference_node().chain.main_chain())[1:]


def test_on_a_network_each_authority_seals_its_own_slots_and_all_nodes_agree():
    net = Network("poa", nodes=6, seed=3, authorities=4, period=2.0).run(until=40.5)
    poa = net.consensus
    blocks = main_chain(net)
    assert len(blocks) == 20  # slots 1 … 20, none missed
    for block in blocks:
        slot = poa.slot_of(block.header.timestamp)
        assert block.header.proposer == poa.validators[slot % 4].address
    assert {b.header.proposer for b in blocks} == set(poa.addresses)
    assert net.agree() and {n.chain.height for n in net.nodes} == {20}  # observers follow too
    assert detected(net).empty


def test_with_message_loss_nodes_fetch_missing_blocks_and_still_agree():
    net = Network("poa", nodes=5, seed=8, loss=0.3, period=1.0).run(until=60.5)
    assert net.dropped["lost"] > 100 and net.message_counts["get-block"] > 0
    heights = [n.chain.height for n in net.nodes]
    # A block lost on all its links to a node arrives with (or is fetched for) the next one.
    assert net.agree() and max(heights) >= 58 and max(heights) - min(heights) <= 2


def test_out_of_turn_blocks_are_rejected_and_blamed_on_their_signer():
    net = Network("poa", nodes=4, seed=5, behaviours={1: "out-of-turn"}).run(until=60.5)
    found = detected(net)
    assert set(found["what"]) == {"out-of-turn"}
    assert set(found["offender"]) == {1} and set(found["detector"]) == {0, 2, 3}
    assert len(found) == 3 * 9  # 12 slots, 3 of them node 1's own: 9 blocks out of turn
    assert len(main_chain(net)) == 12 and net.agree()


def test_an_intruder_is_caught_forging_with_its_own_key_and_with_a_stolen_name():
    net = Network("poa", nodes=4, seed=6, authorities=3, behaviours={3: "intruder"})
    net.run(until=40.5)
    found = detected(net)
    counts = found.groupby("what").size().to_dict()
    assert counts == {"bad-seal": 12, "not-a-validator": 12}  # 8 forgeries each, 3 detectors
    assert set(found["offender"]) == {3}
    intruder = net.consensus.addresses  # no intruder block on any honest chain
    assert all(b.header.proposer in intruder for b in main_chain(net))
    assert net.agree() and min(n.chain.height for n in net.nodes[:3]) == 8


def test_an_equivocating_authority_is_caught_with_both_signed_headers_as_evidence():
    net = Network("poa", nodes=5, seed=7, behaviours={2: "equivocate"}).run(until=52.5)
    poa = net.consensus
    found = detected(net)
    assert set(found["what"]) == {"equivocation"} and set(found["offender"]) == {2}
    assert set(found["detector"]) == {0, 1, 3, 4}
    for row in found.itertuples():
        first, second = row.evidence
        assert first.hash != second.hash
        assert first.proposer == second.proposer == poa.validators[2].address
        assert poa.slot_of(first.timestamp) == poa.slot_of(second.timestamp) == row.slot
        for header in (first, second):
            assert verify_signature(poa.validators[2], header.seal_message, header.seal)
    assert sorted(set(found["slot"])) == [2, 7]  # node 2's slots in 52 s
    # The fork lasts one slot: the next authority builds on one side and everyone follows it.
    assert net.agree() and len(main_chain(net)) == 10
    assert net.nodes[0].evidence[2][0][0].hash == found.iloc[0].evidence[0].hash


def test_a_crashed_authority_s_slots_are_skipped_and_it_catches_up_after_restart():
    net = Network("poa", nodes=5, seed=9, period=1.0)
    net.crash(2, at=0.0, restart_at=30.2)
    net.run(until=29.5)
    proposers = [b.header.proposer for b in main_chain(net)]
    assert len(proposers) == 29 - 6  # slots 2, 7, …, 27 missed
    assert net.consensus.addresses[2] not in proposers
    assert net.nodes[2].chain.height == 0
    net.run(until=60.5)
    assert net.nodes[2].chain.height == net.nodes[0].chain.height == 60 - 6
    assert net.agree() and net.consensus.addresses[2] in [
        b.header.proposer for b in main_chain(net)
    ]


def test_the_same_seed_gives_the_same_history():
    def history(seed: int) -> tuple:
        net = Network(
            "poa",
            nodes=6,
            seed=seed,
            authorities=5,
            loss=0.1,
            behaviours={0: "equivocate", 5: "intruder"},
        ).run(until=40.0)
        return net.events_df(), net.blocks_df(), net.messages_df()

    first, again, other = history(11), history(11), history(12)
    assert all(a.equals(b) for a, b in zip(first, again, strict=True))
    assert not first[1].equals(other[1])
    assert len(first[0]) > 40 and len(first[1]) > 10


def test_network_run_blocks_reaches_the_goal():
    net = Network("poa", nodes=5, seed=1).run(blocks=20)
    assert min(n.chain.height for n in net.nodes) >= 20 and net.agree()
    assert net.now == pytest.approx(100.0, abs=1.0)  # one block per 5-second slot
