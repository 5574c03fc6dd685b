"""The capstone (lesson 11) end to end, outside any notebook: the reference service licenses Acme,
refuses Bright, shows each organisation only its part, presents minimal views, refuses an edited
presentation and a revoked licence, and its audit flags an evidence leak. If any milestone of
blockkit.grading.catalog.l11_capstone (or a library piece it assembles) breaks, this fails."""

from __future__ import annotations

import random
from dataclasses import replace

import pytest

from blockkit.encoding import decode
from blockkit.errors import AccessDenied, InvalidCertificate, InvalidCredential
from blockkit.grading.catalog import l11_capstone as cap
from blockkit.sharing.audit import check_audit, find_problems
from blockkit.sharing.credentials import CredentialVerifier, present_view
from blockkit.sharing.permissioned import NotAMember, members_df
from blockkit.transactions import sign_transaction


@pytest.fixture(scope="module")
def run():
    return cap.run_service("capstone-tests")


def test_the_service_licenses_acme_and_refuses_bright(run) -> None:
    assert run.decisions == {"APP-001": 0, "APP-002": None}
    assert list(run.licences) == ["APP-001"]
    steps = run.log_df()
    assert steps["step"].tolist() == [
        "setup", "evidence", "verdicts", "decision", "licence", "evidence", "verdicts", "decision",
    ]  # fmt: skip
    assert steps["outcome"].iloc[6] == "approve: market, bank"  # Bright owes tax
    assert steps["height"].is_monotonic_increasing


def test_the_consortium_admits_members_and_refuses_the_rest(run) -> None:
    service = run.service
    chain = service.chain
    table = members_df(chain)
    assert sorted(table["subject"]) == sorted(
        n for n, (org, _) in cap.PEOPLE.items() if org in cap.CHANNEL_ORGS
    )
    assert set(table["status"]) == {"valid"}
    with pytest.raises(AccessDenied) as outside:
        service.channel.ledger(service.people["insurer-clerk"])
    assert outside.value.reason == "not-in-channel"
    acme = service.people["acme"]
    tx = sign_transaction(
        acme.signing_key, service.people["registrar"].address, 0,
        nonce=chain.nonce(acme.address), chain_id=chain.params.chain_id, fee=1,
    )  # fmt: skip
    with pytest.raises(NotAMember) as observer:
        chain.propose_block([tx], bytes(20), chain.head.header.timestamp + 10)
    assert observer.value.reason == "wrong-role"


def test_each_organisation_sees_only_its_part(run) -> None:
    service = run.service
    seen = cap.visibility_df(service, "APP-001")
    readers = {record: sorted(seen.columns[seen.loc[record] == 1]) for record in seen.index}
    assert readers == {
        "tax-evidence/APP-001": ["officer", "registrar", "tax-clerk"],
        "market-evidence/APP-001": ["market-clerk", "officer", "registrar"],
        "bank-evidence/APP-001": ["bank-clerk", "bank-manager", "officer", "registrar"],
        "licences/APP-001": ["officer", "registrar"],
    }
    for agency in cap.AGENCIES:
        collection = service.collections[agency]
        clerk = service.people[f"{agency}-clerk"]
        anchor = service.registry.lookup(clerk.address, f"{agency}-evidence/APP-001")
        assert anchor.root == collection.hashes["APP-001"]
        assert collection.verify("APP-001", anchor.root) == tuple(sorted((agency, "licensing")))
        text = collection.read("APP-001", service.people["officer"], service.chain.height)
        assert decode(text) == cap.APPLICATIONS[0].evidence[agency]
    with pytest.raises((AccessDenied, InvalidCertificate)):
        service.collections["tax"].read(
            "APP-001", service.people["bank-clerk"], service.chain.height
        )


def test_the_decision_follows_the_policy_on_chain(run) -> None:
    acl = run.service.decisions
    assert str(acl.policy) == cap.DECISION_POLICY
    granted, refused = acl.status(0), acl.status(1)
    assert granted.granted and granted.satisfied
    assert {org for _, org, _, _ in granted.approvals} == {"tax", "market", "bank"}
    assert not refused.granted and not refused.satisfied
    with pytest.raises(AccessDenied) as early:
        acl.grant(run.service.people["officer"], 1)
    assert early.value.reason == "policy-not-met"


def test_the_licence_shows_each_verifier_its_part_and_dies_when_revoked() -> None:
    run = cap.run_service("capstone-tests-licence", cap.APPLICATIONS[:1])
    service, licence = run.service, run.licences["APP-001"]
    assert licence.names == cap.LICENCE_FIELDS
    assert licence.values["capital_band"] == "1M-10M"
    registrar, acme = service.people["registrar"], service.people["acme"]
    at = service.chain.height

    def verifier(name):
        trusted = {cap.ISSUER_NAME: registrar.certificate.public_key}
        return CredentialVerifier(name, trusted, service.registry, rng=random.Random(name))

    def show(to, role):
        return present_view(
            licence, acme.signing_key, role, cap.LICENCE_VIEWS, verifier=to.name,
            challenge=to.challenge(), at=at,
        )  # fmt: skip

    for role in ("customer", "bank", "inspector"):
        to = verifier(role)
        shown = show(to, role)
        assert set(to.verify(shown.encoded, at)) == set(cap.LICENCE_VIEWS[role])
        assert b"91110108MA01ACME5X" not in shown.encoded  # the tax id never travels
    to = verifier("edited")
    shown = show(to, "customer")
    edited = replace(
        shown,
        disclosures=tuple(
            replace(d, value=["pharmacy"]) if d.name == "activities" else d
            for d in shown.disclosures
        ),
    )
    with pytest.raises(InvalidCredential, match="bad-proof"):
        to.verify(edited, at)
    service.registry.revoke(registrar.signing_key, licence.credential_id, "inspection")
    to = verifier("after")
    with pytest.raises(InvalidCredential) as revoked:
        to.verify(show(to, "customer"), at)
    assert revoked.value.reason == "revoked"


def test_no_grant_no_licence(run) -> None:
    service = run.service
    with pytest.raises(AccessDenied) as refused:
        cap._issue(service, cap.APPLICATIONS[1], 1)
    assert refused.value.reason == "no-grant"


def test_the_audit_holds_and_flags_an_evidence_leak() -> None:
    run = cap.run_service("capstone-tests-audit")
    service = run.service
    acl, p = service.decisions, service.people
    trail = acl.audit_df()
    check_audit(trail, control=acl)
    assert cap._flag(trail, service.membership) == []
    r = acl.request(p["bank-clerk"], "read", "tax-evidence", "APP-001")
    for name in ("tax-clerk", "market-clerk", "bank-clerk"):
        acl.approve(p[name], r)
    acl.grant(p["bank-clerk"], r)
    acl.read(p["bank-clerk"], r, service.collections["tax"], "APP-001", holder=p["tax-clerk"])
    trail = acl.audit_df()
    assert find_problems(trail, control=acl) == []  # the policy allowed it...
    read_row = int(trail.index[trail["action"] == "read"][-1])
    assert cap._flag(trail, service.membership) == [(read_row, "evidence-leak")]  # ...the rule not
