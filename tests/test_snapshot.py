"""Snapshots: the capstone's live ``Service`` crossing from a kernel to the grader as data.

The grader must judge what a student's milestone built (a channel's chain, CAs, private stores,
contracts) without trusting one object from the kernel. These tests check both halves: an honest
service arrives whole (same chain, same keys, shared objects still shared, judged alike), and a
claim no valid service could make (a block from an outsider, a key that is not the certificate's,
a revocation list the CA never signed, a dangling reference) is refused as a bad reply.
"""

from __future__ import annotations

import dataclasses
import json
import pickle
import random

import pytest

from blockkit.grading import plugin, remote, snapshot
from blockkit.grading.catalog import l11_capstone as capstone
from blockkit.grading.check import Raised, Returned
from blockkit.grading.wire import Memo, WireError, decode, encode
from blockkit.keys import PrivateKey
from blockkit.sharing.identity import CertificateAuthority


def _world() -> tuple[capstone.Service, capstone.Application, int, object]:
    service = capstone._setup("snapshot-tests")
    app = capstone._acme()
    capstone._submit(service, app)
    rid = capstone._decide(service, app.application_id, capstone.approvers_for(service, app))
    assert rid is not None
    return service, app, rid, capstone._issue(service, app, rid)


@pytest.fixture(scope="module")
def world():
    return _world()


def _across(value):
    """What the grader rebuilds from what a kernel would send for ``value``."""
    return decode(json.loads(json.dumps(encode(value))))


def _claim(name: str, state) -> dict:
    """A snapshot as a hostile kernel could send it: any state under a registered type name."""
    return {"t": "state", "type": name, "v": encode(state)}


def test_a_whole_service_arrives_with_its_chain_keys_and_private_data(world):
    service, _, _, _ = world
    back = _across(service)
    assert type(back) is capstone.Service and back is not service
    assert back.chain.head.hash == service.chain.head.hash
    assert back.chain.state.root() == service.chain.state.root()
    assert [b.hash for b in back.chain.main_chain()] == [b.hash for b in service.chain.main_chain()]
    for org in capstone.ORGS:
        assert back.cas[org].public_key == service.cas[org].public_key
        assert back.cas[org].crl == service.cas[org].crl
    for name, person in service.people.items():
        assert back.people[name].address == person.address
        assert back.people[name].certificate == person.certificate
    for agency, collection in service.collections.items():
        rebuilt = back.collections[agency]
        assert rebuilt.hashes == collection.hashes
        assert rebuilt.stores == collection.stores
        assert rebuilt.headers == collection.headers
        same = random.Random()
        same.setstate(collection.rng.getstate())
        assert rebuilt.rng.random() == same.random()
    assert back.decisions.address == service.decisions.address
    assert back.decisions.policy == service.decisions.policy
    assert back.membership.certificates(height=0) == service.membership.certificates(height=0)


def test_objects_shared_in_the_kernel_stay_shared(world):
    back = _across(world[0])
    assert back.registry.backend is back.channel.chain
    assert back.decisions.backend is back.channel.chain
    assert back.consortium.channels["licensing"] is back.channel
    assert back.consortium.authorities["tax"] is back.cas["tax"]
    assert all(c.membership is back.membership for c in back.collections.values())
    assert back.decisions.gatekeeper is back.people["registrar"]


def test_the_rebuilt_service_is_judged_as_the_original(world):
    service, app, rid, credential = world
    # every judge of the capstone gives the rebuilt service the verdict it gives the original
    # (each on its own copy: some judges act on the service, as the grader's cases do)
    for judge in (
        capstone._judge_orgs,
        capstone._judge_people,
        capstone._judge_channel,
        capstone._judge_enrolled,
        capstone._judge_directory,
        capstone._judge_registry,
    ):
        assert judge(_across(service)) is None, judge.__name__
    digests = {a: service.collections[a].hashes[app.application_id] for a in capstone.AGENCIES}
    assert capstone._judge_evidence(_across(service), app, digests) is None
    assert capstone._judge_licence_filed(_across(service), app, rid, credential) is None
    # and a rebuilt service is a working one: reads, writes, revocation all run on it
    assert capstone._judge_refusals(_across(service), app, rid, credential) is None
    assert capstone._judge_transacting(_across(capstone._setup("snapshot-tests"))) is None
    # a wrong service is judged wrong after crossing too
    leaky = capstone._setup("snapshot-tests-leak")
    leaky.channel.organisations = (*leaky.channel.organisations, "insurer")
    assert "insurer" in capstone._judge_channel(_across(leaky))


def test_a_block_the_channel_would_refuse_is_refused_when_the_chain_is_replayed():
    """A kernel cannot claim a block its chain's rules forbid: here the applicant (an observer,
    who may not write) transacts, in a block mined where nobody checked membership."""
    service = capstone._setup("snapshot-tests")
    chain = service.chain
    unchecked = pickle.loads(pickle.dumps(chain))
    unchecked.admission = None  # a node that skips the membership rules
    tx = capstone._zero_payment(service, "acme")
    forged = unchecked.mine_block(
        [tx], proposer=service.people["acme"].address, timestamp=chain.head.timestamp + 10
    )
    name, state = snapshot.dump(chain)
    state[5] = [*state[5], forged.encoded]
    with pytest.raises(WireError, match="wrong-role"):
        decode(_claim(name, state))
    # the honest chain, through the same path, is accepted
    assert decode(_claim(name, snapshot.dump(chain)[1])).height == chain.height


def test_a_chain_whose_genesis_does_not_match_its_allocations_is_refused():
    chain = capstone._setup("snapshot-tests").chain
    name, state = snapshot.dump(chain)
    state[1] = {**state[1], bytes(20): 10**12}
    with pytest.raises(WireError, match="genesis"):
        decode(_claim(name, state))


def test_a_tampered_block_is_refused():
    chain = capstone._setup("snapshot-tests").chain
    name, state = snapshot.dump(chain)
    data = bytearray(state[5][3])
    data[-5] ^= 1  # inside the last transaction's signature
    state[5][3] = bytes(data)
    with pytest.raises(WireError, match="block 4"):
        decode(_claim(name, state))


def test_a_member_whose_keys_are_not_its_certificates_is_refused(world):
    service = world[0]
    ann, bob = service.people["officer"], service.people["tax-clerk"]
    name = snapshot.type_name(type(ann))
    with pytest.raises(WireError, match="signing key does not match"):
        decode(_claim(name, [ann.certificate, bob.signing_key, ann.agreement_key]))
    with pytest.raises(WireError, match="agreement key does not match"):
        decode(_claim(name, [ann.certificate, ann.signing_key, bob.agreement_key]))


def test_a_ca_with_a_list_or_certificate_it_did_not_sign_is_refused(world):
    service = world[0]
    tax, bank = service.cas["tax"], service.cas["bank"]
    name, state = snapshot.dump(tax)
    with pytest.raises(WireError, match="not signed by its CA"):
        decode(_claim(name, [*state[:5], bank.crl]))
    with pytest.raises(WireError, match="not issued by this CA"):
        decode(_claim(name, [state[0], state[1], list(bank.certificates.values()), *state[3:]]))


def test_a_membership_with_a_forged_revocation_list_is_refused(world):
    service = world[0]
    name, state = snapshot.dump(service.membership)
    impostor = CertificateAuthority("bank", PrivateKey.from_seed("impostor"))
    impostor.enrol("x", seed="x")
    forged = impostor.revoke(1, height=1)  # a list naming the bank, not signed by the bank's CA
    organisations = [[org, key, forged if org == "bank" else crl] for org, key, crl in state[1]]
    with pytest.raises(WireError, match="not signed"):
        decode(_claim(name, [state[0], organisations, state[2]]))


def test_a_collection_holding_something_else_than_sealed_records_is_refused(world):
    service = world[0]
    name, state = snapshot.dump(service.collections["tax"])
    stores = {org: {"APP-001": "plaintext"} for org in state[9]}
    with pytest.raises(WireError, match="store"):
        decode(_claim(name, [*state[:9], stores, *state[10:]]))


@pytest.mark.parametrize(
    "data",
    [
        {"t": "state", "type": "os.system", "v": {"t": "none"}},
        {"t": "state", "type": "builtins.object", "v": {"t": "none"}},
        {"t": "ref", "v": 0},
        {"t": "ref", "v": True},
        {"t": "state", "type": "blockkit.keys.PrivateKey", "v": {"t": "none"}},
        {
            "t": "list",
            "v": [
                {"t": "ref", "v": 0},
                {"t": "state", "type": "random.Random", "v": {"t": "none"}},
            ],
        },
    ],
)
def test_malformed_snapshots_are_refused(data):
    with pytest.raises(WireError):
        decode(data)


def test_an_object_that_contains_itself_cannot_be_sent(world):
    loop = dataclasses.replace(world[0])
    loop.seed = loop
    with pytest.raises(WireError, match="contains itself"):
        encode(loop)


def test_a_call_reply_carries_the_arguments_it_changed_and_the_grader_restores_them():
    service = capstone._setup("snapshot-tests")
    sent = capstone._setup("snapshot-tests")  # the grader's copy, as pickled into the kernel
    digests = capstone._submit(service, capstone._acme())  # the kernel's copy changes
    reply = json.loads(json.dumps(remote._returned(digests, (service, capstone._acme()))))
    assert "arguments" in reply
    outcome = plugin._read_reply(reply, (sent, capstone._acme()))
    assert isinstance(outcome, Returned) and outcome.value == digests
    assert sent.collections["tax"].hashes == service.collections["tax"].hashes
    assert sent.chain.height == service.chain.height
    # plain arguments are not sent back
    assert "arguments" not in remote._returned(3, (1, 2))


def test_a_reply_that_changes_an_argument_into_something_else_is_a_bad_reply():
    service = capstone._setup("snapshot-tests")
    memo = Memo()
    reply = {
        "returned": encode(None, memo=memo),
        "arguments": encode([service.cas["tax"]], memo=memo),
    }
    outcome = plugin._read_reply(json.loads(json.dumps(reply)), (service,))
    assert isinstance(outcome, Raised) and outcome.types == ("blockkit.grading.BadReply",)
    reply = {"returned": {"t": "none"}, "arguments": encode([None, None])}
    outcome = plugin._read_reply(reply, (service,))
    assert isinstance(outcome, Raised) and "one entry per argument" in outcome.message


def _chain_asking_for(gas: int):
    from blockkit.chain import Chain
    from blockkit.transactions import sign_transaction

    key = PrivateKey.from_seed("snapshot-gas")
    chain = Chain(allocations={key.address: 10**9})
    tx = sign_transaction(key, key.address, 0, nonce=0, chain_id=chain.params.chain_id, fee=gas)
    chain.add_block(chain.mine_block([tx], proposer=key.address, timestamp=10))
    return chain


def test_replaying_is_bounded_by_a_gas_budget_per_reply():
    """Replaying runs contracts in the grader: a kernel may not make it run for long, neither
    with one chain nor with many (the budget is shared by one reply)."""
    with pytest.raises(WireError, match="ask for"):
        _across(_chain_asking_for(snapshot.REPLAY_GAS + 1))
    half = snapshot.REPLAY_GAS * 2 // 3
    assert _across(_chain_asking_for(half)).height == 1
    with pytest.raises(WireError, match="ask for"):
        _across([_chain_asking_for(half), _chain_asking_for(half)])
