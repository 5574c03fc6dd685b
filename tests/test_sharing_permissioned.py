"""A permissioned chain: only enrolled, valid, unrevoked members with a writing role transact;
enrolments and revocations are transactions, agreed by every node, undone by reorganisations,
kept across restarts."""

from __future__ import annotations

import dataclasses

import pytest
from helpers import remine

from blockkit.blocks import Block, transactions_root
from blockkit.chain import Chain
from blockkit.errors import InvalidBlock, InvalidTransaction, StorageError
from blockkit.params import CLASSROOM
from blockkit.sharing.identity import CertificateAuthority
from blockkit.sharing.permissioned import (
    MEMBERSHIP_ADDRESS,
    MembershipRules,
    NotAMember,
    enrol_transaction,
    members_df,
    membership_of,
    revoke_transaction,
)
from blockkit.storage import open_chain
from blockkit.transactions import sign_transaction

CHAIN_ID = CLASSROOM.chain_id


class World:
    """Two organisations (tax, bank), their CAs and a few people; a chain of their own."""

    def __init__(self) -> None:
        self.tax = CertificateAuthority.from_seed("tax", "test")
        self.bank = CertificateAuthority.from_seed("bank", "test")
        self.outsider_ca = CertificateAuthority.from_seed("mallory-corp", "test")
        self.rules = MembershipRules([self.tax, self.bank])
        self.alice = self.tax.enrol("alice", "admin", seed="alice")
        self.bob = self.tax.enrol("bob", seed="bob")
        self.carol = self.bank.enrol("carol", seed="carol")
        self.olga = self.bank.enrol("olga", "observer", seed="olga")
        self.mallory = self.outsider_ca.enrol("mallory", seed="mallory")
        people = (self.alice, self.bob, self.carol, self.olga, self.mallory)
        self.funds = {p.address: 10_000 for p in people}

    def chain(self, **kwargs: object) -> Chain:
        return Chain(CLASSROOM, admission=self.rules, allocations=self.funds, **kwargs)


@pytest.fixture
def world() -> World:
    return World()


def extend(chain: Chain, txs=(), *, gap: int = 10):
    block = chain.mine_block(
        list(txs), proposer=bytes(20), timestamp=chain.head.header.timestamp + gap
    )
    chain.add_block(block)
    return block


def enrol(chain: Chain, member, *, sender=None):
    key = (sender or member).signing_key
    return enrol_transaction(
        key, member.certificate, nonce=chain.nonce(key.address), chain_id=CHAIN_ID
    )


def pay(chain: Chain, member, to: bytes = bytes(20), value: int = 1):
    key = member.signing_key
    return sign_transaction(
        key, to, value, nonce=chain.nonce(key.address), chain_id=CHAIN_ID, fee=1
    )


def refused(chain: Chain, txs, reason: str) -> None:
    """Both the proposer and every validator refuse a block with ``txs``, naming ``reason``."""
    with pytest.raises(InvalidTransaction, match=reason):
        chain.propose_block(list(txs), bytes(20), chain.head.header.timestamp + 10)
    # a proposer that ignores the rules: the block's header commits to the transactions, and
    # every validator refuses it when it applies them
    honest = chain.mine_block([], proposer=bytes(20), timestamp=chain.head.header.timestamp + 10)
    header = dataclasses.replace(honest.header, transactions_root=transactions_root(txs), nonce=0)
    forged = chain.consensus.seal(Block(header, tuple(txs)))
    head = chain.head_hash
    with pytest.raises(InvalidBlock, match=reason):
        chain.add_block(forged)
    assert chain.head_hash == head


# --- genesis ----------------------------------------------------------------------------------


def test_the_genesis_commits_to_the_trusted_organisations(world):
    one, two = world.chain(), world.chain()
    assert one.genesis.hash == two.genesis.hash
    other = Chain(CLASSROOM, admission=MembershipRules([world.tax]), allocations=world.funds)
    public = Chain(CLASSROOM, allocations=world.funds)
    assert len({one.genesis.hash, other.genesis.hash, public.genesis.hash}) == 3
    assert one.storage(MEMBERSHIP_ADDRESS)["organisations['tax']"] == (
        world.tax.public_key.to_canonical()
    )
    assert one.call_view(MEMBERSHIP_ADDRESS, "ca_key", ["bank"]) == (
        world.bank.public_key.to_canonical()
    )
    assert membership_of(one).organisations == ("bank", "tax")


def test_rules_refuse_bad_configurations(world):
    with pytest.raises(ValueError, match="at least one"):
        MembershipRules([])
    with pytest.raises(ValueError, match="write_roles"):
        MembershipRules([world.tax], write_roles=("king",))
    with pytest.raises(ValueError, match="one key, one organisation"):
        MembershipRules({"tax": world.tax.public_key, "tax2": world.tax.public_key})


# --- who may transact -------------------------------------------------------------------------


def test_an_outsider_and_a_certified_but_unenrolled_member_cannot_transact(world):
    chain = world.chain()
    refused(chain, [pay(chain, world.mallory)], "not-a-member")
    refused(chain, [pay(chain, world.bob)], "not-a-member")
    assert chain.height == 0


def test_a_member_enrols_itself_then_transacts(world):
    chain = world.chain()
    extend(chain, [enrol(chain, world.bob)])
    extend(chain, [pay(chain, world.bob, world.carol.address, 5)])
    assert chain.balance(world.carol.address) == 10_005
    table = members_df(chain)
    assert list(table["subject"]) == ["bob"] and list(table["status"]) == ["valid"]


def test_enrolment_and_use_in_one_block_in_order(world):
    chain = world.chain()
    enrolment = enrol(chain, world.bob)
    payment = sign_transaction(
        world.bob.signing_key, bytes(20), 1, nonce=1, chain_id=CHAIN_ID, fee=1
    )
    extend(chain, [enrolment, payment])
    assert chain.nonce(world.bob.address) == 2
    refused(world.chain(), [payment, enrolment], "not-a-member")  # the other way round


def test_an_outsider_cannot_enrol_with_a_certificate_from_an_untrusted_ca(world):
    chain = world.chain()
    refused(chain, [enrol(chain, world.mallory)], "unknown-organisation")


def test_a_forged_or_altered_certificate_is_refused(world):
    chain = world.chain()
    promoted = dataclasses.replace(world.bob.certificate, role="admin")  # signature now wrong
    tx = enrol_transaction(world.bob.signing_key, promoted, nonce=0, chain_id=CHAIN_ID)
    refused(chain, [tx], "bad-signature")
    # mallory's own CA signs a certificate naming the tax office
    forged = world.outsider_ca.issue(
        "mallory",
        "admin",
        world.mallory.signing_key.public_key,
        world.mallory.certificate.agreement_key,
    )
    forged = dataclasses.replace(forged, organisation="tax")
    tx = enrol_transaction(world.mallory.signing_key, forged, nonce=0, chain_id=CHAIN_ID)
    refused(chain, [tx], "wrong-issuer")


def test_someone_else_cannot_enrol_a_member_unless_an_admin_of_its_organisation(world):
    chain = world.chain()
    extend(chain, [enrol(chain, world.alice), enrol(chain, world.carol)])
    # carol (bank, member) enrols bob (tax): not an admin
    refused(chain, [enrol(chain, world.bob, sender=world.carol)], "wrong-role")
    # alice is an admin of tax: she may enrol bob, who has not sent anything himself
    extend(chain, [enrol(chain, world.bob, sender=world.alice)])
    assert [c.subject for c in membership_of(chain).lookup(world.bob.address)] == ["bob"]
    refused(chain, [enrol(chain, world.bob)], "already-enrolled")
    # an admin of tax cannot enrol a bank member
    dave = world.bank.enrol("dave", seed="dave")
    refused(chain, [enrol(chain, dave, sender=world.alice)], "wrong-organisation")


def test_an_observer_is_enrolled_but_may_not_write(world):
    chain = world.chain()
    extend(chain, [enrol(chain, world.olga)])
    refused(chain, [pay(chain, world.olga)], "wrong-role")
    strict = MembershipRules([world.tax, world.bank], write_roles=("admin", "member", "observer"))
    lenient = Chain(CLASSROOM, admission=strict, allocations=world.funds)
    extend(lenient, [enrol(lenient, world.olga)])
    extend(lenient, [pay(lenient, world.olga)])


def test_membership_transactions_move_no_coins_and_must_be_well_formed(world):
    chain = world.chain()
    key = world.bob.signing_key
    with_value = sign_transaction(key, MEMBERSHIP_ADDRESS, 5, nonce=0, chain_id=CHAIN_ID, fee=0)
    refused(chain, [with_value], "moves no coins")
    garbage = sign_transaction(
        key, MEMBERSHIP_ADDRESS, 0, nonce=0, chain_id=CHAIN_ID, fee=0, data=b"\x01junk"
    )
    refused(chain, [garbage], "enrol_transaction")


# --- revocation -------------------------------------------------------------------------------


def test_a_transaction_signed_under_a_revoked_certificate_is_refused(world):
    chain = world.chain()
    extend(chain, [enrol(chain, world.bob), enrol(chain, world.carol)])
    early = extend(chain, [pay(chain, world.bob)])
    crl = world.tax.revoke(world.bob.certificate.serial, height=5, reason="affiliation-changed")
    # carol (another organisation) relays the tax office's list: the CA's signature is what counts
    relay = revoke_transaction(
        world.carol.signing_key, crl, nonce=chain.nonce(world.carol.address), chain_id=CHAIN_ID
    )
    extend(chain, [relay])  # height 3
    extend(chain, [pay(chain, world.bob)])  # height 4: still valid (revoked from 5)
    assert chain.height == 4
    refused(chain, [pay(chain, world.bob)], "revoked")
    # the blocks he signed before stay valid: a fresh node replays the whole chain
    replay = world.chain()
    for block in list(chain.main_chain())[1:]:
        assert replay.add_block(block).status == "extended"
    assert early in list(replay.main_chain())
    assert members_df(chain).set_index("subject").loc["bob", "status"] == "valid"  # at 4
    at_5 = members_df(chain, height=5).set_index("subject")
    assert at_5.loc["bob", "status"] == "revoked" and at_5.loc["carol", "status"] == "valid"


def test_revocation_lists_cannot_be_forged_replayed_or_backdated(world):
    chain = world.chain()
    extend(chain, [enrol(chain, world.bob), enrol(chain, world.carol)])
    extend(chain, [])
    # a list signed by someone else
    fake_ca = CertificateAuthority("tax", world.mallory.signing_key)
    fake = fake_ca.revoke(fake_ca.enrol("x", seed="x").certificate.serial, height=5)
    tx = revoke_transaction(world.carol.signing_key, fake, nonce=1, chain_id=CHAIN_ID)
    refused(chain, [tx], "bad-crl-signature")
    # backdated: revoking carol from height 1 would invalidate blocks already accepted
    backdated = world.bank.revoke(world.carol.certificate.serial, height=1)
    tx = revoke_transaction(world.bob.signing_key, backdated, nonce=1, chain_id=CHAIN_ID)
    refused(chain, [tx], "backdated-revocation")
    # an outsider cannot even relay a list
    later = world.tax.revoke(world.bob.certificate.serial, height=10)
    tx = revoke_transaction(world.mallory.signing_key, later, nonce=0, chain_id=CHAIN_ID)
    refused(chain, [tx], "not-a-member")
    # the real list goes in; replaying an older one afterwards is stale
    tx = revoke_transaction(world.carol.signing_key, later, nonce=1, chain_id=CHAIN_ID)
    extend(chain, [tx])
    again = revoke_transaction(world.carol.signing_key, later, nonce=2, chain_id=CHAIN_ID)
    refused(chain, [again], "stale-crl")  # the same list replayed would reset nothing, or worse


def test_a_compromised_key_cannot_come_back_under_a_new_certificate(world):
    chain = world.chain()
    extend(chain, [enrol(chain, world.bob), enrol(chain, world.carol)])
    crl = world.tax.revoke(world.bob.certificate.serial, height=3, reason="key-compromise")
    extend(chain, [revoke_transaction(world.carol.signing_key, crl, nonce=1, chain_id=CHAIN_ID)])
    # the tax office's CA itself refuses; a copy restored from an old backup does not know
    forgetful = CertificateAuthority.from_seed("tax", "test")
    for name in ("x", "y"):  # move past the serials already in use
        forgetful.enrol(name, seed=name)
    again = forgetful.issue(
        "bob", "member", world.bob.signing_key.public_key, world.bob.certificate.agreement_key
    )
    tx = enrol_transaction(world.bob.signing_key, again, nonce=1, chain_id=CHAIN_ID)
    refused(chain, [tx], "key-revoked")


# --- consensus, reorganisation, restart -------------------------------------------------------


def test_a_reorganisation_takes_an_enrolment_back_out(world):
    chain = world.chain()
    fork = chain.head_hash
    extend(chain, [enrol(chain, world.bob)])
    assert membership_of(chain).lookup(world.bob.address)
    side = world.chain()
    assert side.head_hash == fork
    extend(side, [], gap=5)
    extend(side, [], gap=5)
    for block in list(side.main_chain())[1:]:
        chain.add_block(block)
    assert chain.head_hash == side.head_hash
    assert not membership_of(chain).lookup(world.bob.address)
    assert chain.state == side.state
    refused(chain, [pay(chain, world.bob)], "not-a-member")


def test_membership_survives_a_restart_and_other_rules_are_refused(world, tmp_path):
    path = tmp_path / "permissioned.db"
    chain = open_chain(path, CLASSROOM, allocations=world.funds, admission=world.rules)
    extend(chain, [enrol(chain, world.bob)])
    extend(chain, [pay(chain, world.bob)])
    chain.store.close()
    again = open_chain(path, admission=world.rules)
    assert again.head_hash == chain.head_hash and again.state == chain.state
    assert [c.subject for c in membership_of(again).certificates(height=again.height)] == ["bob"]
    again.store.close()
    with pytest.raises(StorageError, match="genesis"):
        open_chain(path, admission=MembershipRules([world.tax]))
    with pytest.raises(StorageError, match="genesis"):
        open_chain(path)  # the same file opened as a public chain


def test_a_block_a_public_chain_would_accept_is_invalid_here(world):
    public = Chain(CLASSROOM, allocations=world.funds)
    block = public.mine_block([pay(public, world.mallory)], proposer=bytes(20), timestamp=10)
    assert public.add_block(block).status == "extended"
    chain = world.chain()
    with pytest.raises(InvalidBlock):
        chain.add_block(remine(chain, block, parent=chain.head_hash))


def test_not_a_member_is_an_invalid_transaction_with_a_reason(world):
    chain = world.chain()
    with pytest.raises(NotAMember) as caught:
        chain.admission.apply(chain.state.copy(), pay(chain, world.bob), CLASSROOM, 1, 10)
    assert caught.value.reason == "not-a-member" and "tax, bank" not in str(caught.value)
