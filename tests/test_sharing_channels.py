"""Channels: separate ledgers for subsets of organisations; an outsider can neither read nor
write one, and a transaction made for one channel is worthless on another."""

from __future__ import annotations

import pytest

from blockkit.errors import AccessDenied, InvalidTransaction, OrphanBlock
from blockkit.sharing.channels import Consortium, channel_params
from blockkit.sharing.identity import CertificateAuthority
from blockkit.sharing.permissioned import NotAMember
from blockkit.transactions import sign_transaction

ORGS = ("tax", "regulator", "bank", "insurer")


@pytest.fixture
def net():
    cas = {org: CertificateAuthority.from_seed(org, "channels") for org in ORGS}
    people = {org: cas[org].enrol(f"{org}-clerk", seed=f"{org}-clerk") for org in ORGS}
    funds = {p.address: 1_000 for p in people.values()}
    consortium = Consortium(cas.values())
    loans = consortium.create_channel("loans", ["tax", "bank"], allocations=funds)
    licences = consortium.create_channel("licences", ["tax", "regulator"], allocations=funds)
    return consortium, cas, people, loans, licences


def pay(channel, member, to, value=1, *, nonce=None):
    return sign_transaction(
        member.signing_key,
        to.address,
        value,
        nonce=channel.chain.nonce(member.address) if nonce is None else nonce,
        chain_id=channel.chain.params.chain_id,
        fee=1,
    )


def test_each_channel_is_its_own_ledger_held_by_its_organisations(net):
    consortium, _, _, loans, licences = net
    assert loans.chain.genesis.hash != licences.chain.genesis.hash
    assert loans.params.chain_id != licences.params.chain_id
    assert consortium.channels_of("tax") == ["loans", "licences"]
    assert consortium.channels_of("insurer") == []
    table = consortium.channels_df()
    assert table.loc["bank", "loans"] and not table.loc["bank", "licences"]
    assert not table.loc["insurer"].any()


def test_members_read_and_write_outsiders_cannot(net):
    _, _, people, loans, _ = net
    tax, bank, insurer = people["tax"], people["bank"], people["insurer"]
    loans.enrol(tax)
    loans.enrol(bank)
    loans.submit(tax, [pay(loans, tax, bank, 7)])
    assert loans.ledger(bank).balance(bank.address) == 1_007  # no block reward on a channel
    assert loans.ledger(tax).balance(tax.address) == 1_000 - 7  # its fee came back: it proposed
    with pytest.raises(AccessDenied) as caught:
        loans.ledger(insurer)
    assert caught.value.reason == "not-in-channel" and "tax, bank" not in str(caught.value)
    assert "bank, tax" in str(caught.value)
    with pytest.raises(AccessDenied, match="not-in-channel"):
        loans.submit(insurer, [])
    with pytest.raises(AccessDenied, match="not-in-channel"):
        loans.enrol(insurer)
    # and bypassing the wrapper does not help: the channel's chain refuses the insurer's
    # transaction and any block carrying it
    tx = pay(loans, insurer, bank)
    with pytest.raises(NotAMember, match="not-a-member"):
        loans.chain.propose_block([tx], bytes(20), loans.chain.head.header.timestamp + 10)
    assert not loans.is_member(insurer) and loans.is_member(bank)


def test_a_revoked_member_loses_read_access(net):
    _, cas, people, loans, _ = net
    bank = people["bank"]
    loans.enrol(bank)
    assert loans.ledger(bank) is loans.chain
    cas["bank"].revoke(bank.certificate.serial, height=loans.chain.height)
    loans.update_revocations(cas["bank"])
    with pytest.raises(AccessDenied, match="revoked"):
        loans.ledger(bank)


def test_a_transaction_for_one_channel_is_refused_on_another(net):
    _, _, people, loans, licences = net
    tax, bank, regulator = people["tax"], people["bank"], people["regulator"]
    for channel in (loans, licences):
        channel.enrol(tax)
    loans.enrol(bank)
    licences.enrol(regulator)
    tx = pay(loans, tax, bank, 50)  # tax's nonce is 1 on both channels
    assert tx.nonce == licences.chain.nonce(tax.address)
    with pytest.raises(InvalidTransaction, match="chain"):
        licences.chain.propose_block([tx], bytes(20), licences.chain.head.header.timestamp + 10)
    loans.submit(tax, [tx])
    with pytest.raises(OrphanBlock):
        licences.chain.add_block(loans.chain.head)  # another channel's block: unknown parent


def test_consortium_refuses_bad_channels(net):
    consortium, *_ = net
    with pytest.raises(ValueError, match="already a channel"):
        consortium.create_channel("loans", ["tax"])
    with pytest.raises(ValueError, match="not in the consortium"):
        consortium.create_channel("x", ["tax", "martians"])
    with pytest.raises(ValueError, match="at least one"):
        Consortium([])
    with pytest.raises(ValueError, match="non-empty"):
        channel_params(consortium.params, "")
