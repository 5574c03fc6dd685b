"""Lesson 11 (the capstone): each milestone's cases catch the mistakes students actually make,
and say which case failed. Wrong answers are the reference milestones with one realistic change.

(The solution notebook's answers passing every case is tested in test_grading.py.)
"""

from __future__ import annotations

import random

from helpers import fails as _fails

from blockkit.encoding import decode, encode
from blockkit.errors import AccessDenied, InvalidCertificate
from blockkit.grading.catalog import l11_capstone as cap
from blockkit.sharing.audit import find_problems
from blockkit.sharing.channels import Consortium
from blockkit.sharing.credentials import CredentialRegistry, issue_credential
from blockkit.sharing.identity import CertificateAuthority, Membership
from blockkit.sharing.policy import AccessControl
from blockkit.sharing.private import PrivateCollection

# --- 11.1 --------------------------------------------------------------------------------------


def _setup_variant(
    *,
    roles: dict[str, str] | None = None,
    channel_orgs: tuple[str, ...] = cap.CHANNEL_ORGS,
    enrol_observers: bool = True,
    seeded: bool = True,
):
    def setup(seed):
        cas = {
            org: CertificateAuthority.from_seed(org, seed if seeded else "fixed")
            for org in cap.ORGS
        }
        people = {
            name: cas[org].enrol(name, (roles or {}).get(name, role), seed=seed)
            for name, (org, role) in cap.PEOPLE.items()
        }
        on_channel = [p for p in people.values() if p.organisation in channel_orgs]
        consortium = Consortium(cas.values())
        channel = consortium.create_channel(
            cap.CHANNEL, channel_orgs, allocations={p.address: cap.FUNDS for p in on_channel}
        )
        for person in on_channel:
            if enrol_observers or person.role != "observer":
                channel.enrol(person)
        membership = Membership.of(*(cas[org] for org in channel_orgs))
        for person in on_channel:
            membership.register(person.certificate, height=channel.chain.height)
        registry = CredentialRegistry.deploy(channel.chain, people["registrar"].signing_key)
        return cap.Service(seed, cas, people, consortium, channel, membership, registry)

    return setup


def test_11_1_wrong_answers():
    # Applicants enrolled as members: they could write (and would read private data).
    _fails(
        "11.1",
        _setup_variant(roles={"acme": "member", "bright": "member"}),
        "everyone with the right organisation and role",
    )
    # The insurer let into the licensing channel.
    _fails(
        "11.1",
        _setup_variant(channel_orgs=("bank", "insurer", "licensing", "market", "tax")),
        "a licensing channel of the four service organisations",
    )
    # "Observers never write, so they need no enrolment": then the chain says not-a-member.
    _fails(
        "11.1",
        _setup_variant(enrol_observers=False),
        "every channel member enrolled on chain, with funds",
    )
    # A fixed seed for the CAs: another seed must give other keys.
    _fails("11.1", _setup_variant(seeded=False), "the same seed gives the same keys")
    _fails(
        "11.1", lambda seed: cap._setup(seed).channel, "five organisations, each with its own CA"
    )


# --- 11.2 --------------------------------------------------------------------------------------


def _submit_variant(
    *,
    readers: tuple[str, ...] = ("licensing",),
    writer: str = "",
    anchor_id: str = "{name}/{app}",
    fresh_collections: bool = False,
    anchor: bool = True,
):
    def submit(service, application):
        digests = {}
        for agency in cap.AGENCIES:
            name = f"{agency}-evidence"
            if fresh_collections or agency not in service.collections:
                service.collections[agency] = PrivateCollection(
                    name, service.membership, [agency, *readers], height=service.chain.height,
                    rng=random.Random(name),
                )  # fmt: skip
            clerk = service.people[writer or f"{agency}-clerk"]
            digest = service.collections[agency].put(
                application.application_id, encode(application.evidence[agency]), clerk,
                service.chain.height,
            )  # fmt: skip
            if anchor:
                anchor_as = service.people[f"{agency}-clerk"]
                key = anchor_id.format(name=name, app=application.application_id, agency=agency)
                cap.anchor_hash(service, anchor_as, key, digest)
            digests[agency] = digest
        return digests

    return submit


def test_11_2_wrong_answers():
    first = "Acme's evidence: exactly the office and each agency can read its part"
    # One collection shape for all: every agency can read every other's record.
    _fails("11.2", _submit_variant(readers=("licensing", "tax", "market", "bank")), first)
    # The office writes the agencies' records for them.
    _fails("11.2", _submit_variant(writer="officer"), first)
    # Hashes kept off chain.
    _fails("11.2", _submit_variant(anchor=False), first)
    # The anchor under another id than the one verifiers look up.
    _fails("11.2", _submit_variant(anchor_id="{agency}/{app}"), first)
    # A new collection per application: the earlier application's record is lost.
    _fails(
        "11.2",
        _submit_variant(fresh_collections=True),
        "a second application reuses the collections",
    )


# --- 11.3 --------------------------------------------------------------------------------------


def _deploy(service):
    if service.decisions is None:
        members = [p for p in service.people.values() if p.organisation in cap.CHANNEL_ORGS]
        service.decisions = AccessControl.deploy(
            service.chain, cap.DECISION_POLICY, service.membership, members,
            gatekeeper=service.people["registrar"], name="licence-decisions",
        )  # fmt: skip
    return service.decisions


def _approve_all(acl, rid, approvers, *, catch=True):
    approved = []
    for member in approvers:
        try:
            acl.approve(member, rid)
            approved.append(member)
        except (AccessDenied, InvalidCertificate):
            if not catch:
                raise
    return approved


def test_11_3_wrong_answers():
    def counts_approvals(service, app, approvers):  # three approvals are not three agencies
        acl = _deploy(service)
        rid = acl.request(service.people["officer"], "write", "licences", app)
        if len(_approve_all(acl, rid, approvers)) < 3:
            return None
        acl.grant(service.people["officer"], rid)
        return rid

    _fails("11.3", counts_approvals, "two bank members, no market")

    def counts_organisations_in_python(service, app, approvers):  # ignores refusals
        acl = _deploy(service)
        rid = acl.request(service.people["officer"], "write", "licences", app)
        _approve_all(acl, rid, approvers)
        if {m.organisation for m in approvers} >= {"tax", "market", "bank"}:
            acl.grant(service.people["officer"], rid)
            return rid
        return None

    _fails("11.3", counts_organisations_in_python, "a revoked bank clerk")

    def lets_refusals_escape(service, app, approvers):
        acl = _deploy(service)
        rid = acl.request(service.people["officer"], "write", "licences", app)
        _approve_all(acl, rid, approvers, catch=False)
        if not acl.status(rid).satisfied:
            return None
        acl.grant(service.people["officer"], rid)
        return rid

    _fails("11.3", lets_refusals_escape, "the applicant approves its own licence")

    def grants_blindly(service, app, approvers):
        acl = _deploy(service)
        rid = acl.request(service.people["officer"], "write", "licences", app)
        _approve_all(acl, rid, approvers)
        acl.grant(service.people["officer"], rid)
        return rid

    _fails("11.3", grants_blindly, "the bank did not approve")

    def returns_a_bool(service, app, approvers):
        return cap._decide(service, app, approvers) is not None

    _fails("11.3", returns_a_bool, "all three agencies approve")

    def deploys_every_time(service, app, approvers):
        service.decisions = None
        return cap._decide(service, app, approvers)

    _fails("11.3", deploys_every_time, "after a refused application")


# --- 11.4 --------------------------------------------------------------------------------------


def _issue_variant(*, holder=None, exact_capital=False, tuple_activities=False, anchor=True,
                   file_copy=True, check_grant=True, issuer_name=cap.ISSUER_NAME):  # fmt: skip
    def issue(service, application, rid):
        app = application.application_id
        acl = service.decisions
        if check_grant and not acl.status(rid).granted:
            raise AccessDenied("no-grant", "no grant")
        registrar, officer = service.people["registrar"], service.people["officer"]
        height = service.chain.height
        ev = {a: decode(service.collections[a].read(app, officer, height)) for a in cap.AGENCIES}
        capital = ev["bank"]["capital"]
        fields = {
            "licence_number": f"LIC-{app}",
            "company": application.company,
            "activities": tuple(application.activities)
            if tuple_activities
            else list(application.activities),
            "legal_representative": ev["market"]["legal_representative"],
            "registration": ev["market"]["registration"],
            "tax_id": ev["tax"]["tax_id"],
            "capital_band": str(capital) if exact_capital else cap.capital_band(capital),
            "valid_until": height + cap.LICENCE_VALIDITY,
        }
        holder_key = (holder or (lambda s, a: s.people[a.applicant].certificate.public_key))(
            service, application
        )
        credential = issue_credential(
            registrar.signing_key, issuer_name=issuer_name, holder=holder_key,
            credential_id=f"LIC-{app}", kind="business-licence", fields=fields,
            issued_at=height, expires_at=height + cap.LICENCE_VALIDITY, rng=random.Random(app),
        )  # fmt: skip
        if anchor:
            service.registry.anchor(registrar.signing_key, credential)
        if file_copy:
            if service.licences is None:
                service.licences = PrivateCollection(
                    "licences", service.membership, ["licensing"], height=height
                )
            acl.write(officer, rid, service.licences, app, credential.encoded)
        return credential

    return issue


def test_11_4_wrong_answers():
    fields = "the licence's fields and header"
    # The registrar keeps the licence: the applicant cannot present it.
    registrar_holds = _issue_variant(
        holder=lambda s, a: s.people["registrar"].certificate.public_key
    )
    _fails("11.4", registrar_holds, fields)
    # The exact capital on the licence: the bank view would leak it.
    _fails("11.4", _issue_variant(exact_capital=True), fields)
    _fails("11.4", _issue_variant(tuple_activities=True), fields)
    _fails("11.4", _issue_variant(issuer_name="Licensing"), fields)
    # Never anchored: every verifier says not-anchored.
    _fails(
        "11.4",
        _issue_variant(anchor=False),
        "a customer sees 'licensed for food retail, valid' and nothing else",
    )
    # The office keeps no copy under the grant (and so never uses it).
    _fails(
        "11.4",
        _issue_variant(file_copy=False, check_grant=False),
        "no grant, no licence",
    )
    _fails(
        "11.4",
        _issue_variant(file_copy=False),
        "anchored, and the office's copy filed under the grant",
    )


# --- 11.5 --------------------------------------------------------------------------------------


def test_11_5_wrong_answers():
    def library_only(audit, membership):
        return sorted((int(p.row), p.reason) for p in find_problems(audit, membership=membership))

    _fails("11.5", library_only, "the bank read the tax evidence")

    def without_the_directory(audit, membership):  # revocations never looked at
        found = [(int(p.row), p.reason) for p in find_problems(audit)]
        for i, row in audit.iterrows():
            if row["action"] == "read" and row["collection"].endswith("-evidence"):
                if row["organisation"] != "licensing":
                    found.append((int(i), "evidence-leak"))
        return sorted(found)

    _fails("11.5", without_the_directory, "an approval by a member revoked before it approved")

    def every_bank_row_on_evidence(audit, membership):  # flags the request and grants too
        found = [(int(p.row), p.reason) for p in find_problems(audit, membership=membership)]
        for i, row in audit.reset_index(drop=True).iterrows():
            if row["collection"].endswith("-evidence") and row["organisation"] != "licensing":
                if row["action"] != "refused":
                    found.append((int(i), "evidence-leak"))
        return sorted(found)

    _fails("11.5", every_bank_row_on_evidence, "the bank read the tax evidence")

    def numpy_rows(audit, membership):  # .values holds numpy ints
        found = [(p.row, p.reason) for p in find_problems(audit, membership=membership)]
        leaks = (
            (audit["action"] == "read")
            & audit["collection"].str.endswith("-evidence")
            & (audit["organisation"] != "licensing")
        )
        found += [(row, "evidence-leak") for row in audit[leaks].index.values]
        return sorted(found)

    _fails("11.5", numpy_rows, "the bank read the tax evidence")

    def unsorted(audit, membership):
        return list(reversed(cap._flag(audit, membership)))

    _fails("11.5", unsorted, "a leak and a deleted grant")
