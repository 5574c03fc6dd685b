"""Lesson 11, the capstone: a business licence approved with data from the tax authority, the
market-regulation bureau and a bank, each seeing only its part. Five graded milestones.

The service (what the lesson runs and the milestones rebuild):

* **11.1** ``setup_consortium(seed)``: five organisations with CAs, the people of ``PEOPLE``, a
  channel ``"licensing"`` of the four service organisations (the insurer stays outside), everyone
  of the channel enrolled on its chain, the office's directory (a ``Membership``) and the anchor
  registry (a ``CredentialRegistry``) deployed on the channel.
* **11.2** ``submit_evidence(service, application)``: each agency seals its part as private data
  readable only by itself and the Licensing Office, and anchors the hash on chain.
* **11.3** ``decide(service, application_id, approvers)``: the officer files a request on the
  decision contract (``AccessControl`` under ``DECISION_POLICY``); the approvers approve; the
  grant is executed only when the contract says the policy is met.
* **11.4** ``issue_licence(service, application, request_id)``: under the grant, the registrar
  issues a licence credential with selective disclosure, anchors it, and the officer files the
  office's copy under the write grant.
* **11.5** ``flag_problems(audit, membership)``: the auditor's list of problems in a trail.

Each milestone's check builds a fresh, seeded world with the *reference* implementation of the
milestones before it (``_setup``, ``_submit``, ``_decide``, ``_issue``), so a failed milestone
never costs the points of the next. Nothing expensive happens at import: worlds are built when a
case runs (the audit trails once, cached with ``functools.cache``).
"""

from __future__ import annotations

import functools
import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from blockkit.errors import AccessDenied
from blockkit.grading.registry import Case, add_cases, define
from blockkit.grading.snapshot import register_dataclass

if TYPE_CHECKING:
    import pandas as pd

    from blockkit.sharing.channels import Channel, Consortium
    from blockkit.sharing.credentials import Credential, CredentialRegistry
    from blockkit.sharing.identity import CertificateAuthority, Member, Membership
    from blockkit.sharing.policy import AccessControl
    from blockkit.sharing.private import PrivateCollection

__all__ = [
    "AGENCIES",
    "APPLICATIONS",
    "CHANNEL",
    "CHANNEL_ORGS",
    "DECISION_POLICY",
    "FUNDS",
    "ISSUER_NAME",
    "LICENCE_FIELDS",
    "LICENCE_VALIDITY",
    "LICENCE_VIEWS",
    "MIN_CAPITAL",
    "ORGS",
    "PEOPLE",
    "Application",
    "Service",
    "agency_approves",
    "anchor_hash",
    "approvers_for",
    "capital_band",
    "run_service",
    "visibility_df",
]

#: Every organisation of the consortium (the insurer is in it, but not in the licensing channel).
ORGS = ("licensing", "tax", "market", "bank", "insurer")
#: The organisations of the licensing channel: the office and the three agencies.
CHANNEL_ORGS = ("bank", "licensing", "market", "tax")
#: The agencies that contribute evidence, each to its own collection ``"<agency>-evidence"``.
AGENCIES = ("tax", "market", "bank")
#: The channel's name.
CHANNEL = "licensing"
#: Coins each channel member starts with on the channel (gas for contract calls).
FUNDS = 10**9
#: name -> (organisation, role) of everyone in the service.
PEOPLE: dict[str, tuple[str, str]] = {
    "registrar": ("licensing", "admin"),
    "officer": ("licensing", "member"),
    "acme": ("licensing", "observer"),
    "bright": ("licensing", "observer"),
    "tax-clerk": ("tax", "member"),
    "market-clerk": ("market", "member"),
    "bank-clerk": ("bank", "member"),
    "bank-manager": ("bank", "admin"),
    "insurer-clerk": ("insurer", "member"),
}
#: The clerk of each agency who writes its evidence.
CLERKS = {"tax": "tax-clerk", "market": "market-clerk", "bank": "bank-clerk"}
#: Who must approve a licence: one member of each agency.
DECISION_POLICY = "AND('tax', 'market', 'bank')"
#: The issuer name verifiers trust for the registrar's key.
ISSUER_NAME = "Licensing Office"
#: Blocks a licence stays valid.
LICENCE_VALIDITY = 1_000
#: The bank approves only a company with at least this much paid-in capital (yuan).
MIN_CAPITAL = 1_000_000
#: The fields of a licence credential, in leaf order.
LICENCE_FIELDS = (
    "activities",
    "capital_band",
    "company",
    "legal_representative",
    "licence_number",
    "registration",
    "tax_id",
    "valid_until",
)
#: Who sees what of a licence (``present_view``): the holder everything, each verifier its part.
LICENCE_VIEWS: dict[str, str | tuple[str, ...]] = {
    "holder": "*",
    "customer": ("activities", "company", "licence_number", "valid_until"),
    "bank": ("capital_band", "company", "licence_number", "registration", "valid_until"),
    "inspector": ("activities", "company", "legal_representative", "licence_number"),
}


@dataclass(frozen=True)
class Application:
    """One licence application and what each agency holds about the company (its evidence)."""

    application_id: str
    """``"APP-001"``: the record id in every collection, and the request's record."""
    applicant: str
    """The name (in ``PEOPLE``) of the business applying: an observer of the Licensing Office."""
    company: str
    activities: tuple[str, ...]
    """What the company asks to be licensed for."""
    evidence: dict[str, dict[str, Any]] = field(default_factory=dict)
    """agency -> the record that agency keeps about the company (``AGENCIES``)."""


def _acme(application_id: str = "APP-001", **changes: Any) -> Application:
    evidence = {
        "tax": {"tax_id": "91110108MA01ACME5X", "arrears": 0},
        "market": {
            "registration": "110108000123456",
            "legal_representative": "Wang Fang",
            "status": "active",
            "activities": ["catering", "food retail"],
        },
        "bank": {"account_verified": True, "capital": 2_000_000},
    }
    activities = ("food retail",)
    return _application(application_id, "acme", "Acme Foods Ltd", activities, evidence, changes)


def _bright(application_id: str = "APP-002", **changes: Any) -> Application:
    evidence = {
        "tax": {"tax_id": "91110105MA02BRGT1K", "arrears": 48_000},
        "market": {
            "registration": "110105000654321",
            "legal_representative": "Li Na",
            "status": "active",
            "activities": ["bakery", "food retail"],
        },
        "bank": {"account_verified": True, "capital": 1_500_000},
    }
    activities = ("bakery", "food retail")
    return _application(application_id, "bright", "Bright Bakery Co", activities, evidence, changes)


def _application(
    application_id: str,
    applicant: str,
    company: str,
    activities: tuple[str, ...],
    evidence: dict[str, dict[str, Any]],
    changes: dict[str, Any],
) -> Application:
    """An application whose evidence has some agencies' fields replaced (``changes``)."""
    for agency, change in changes.items():
        evidence[agency] = {**evidence[agency], **change}
    return Application(application_id, applicant, company, activities, evidence)


#: The lesson's two applications: Acme (all in order) and Bright (tax arrears).
APPLICATIONS = (_acme(), _bright())


@dataclass
class Service:
    """Everything the licensing service is made of; milestones fill it in, in order."""

    seed: str
    cas: dict[str, CertificateAuthority]
    """organisation -> its certificate authority (all of ``ORGS``)."""
    people: dict[str, Member]
    """name -> the member (certificate and keys) of everyone in ``PEOPLE``."""
    consortium: Consortium
    channel: Channel
    """The ``"licensing"`` channel of ``CHANNEL_ORGS``: its ``chain`` is where everything runs."""
    membership: Membership
    """The office's directory: the channel's CAs and every channel member registered."""
    registry: CredentialRegistry
    """Anchors on the channel: evidence hashes and licences, under their writer's address."""
    collections: dict[str, PrivateCollection] = field(default_factory=dict)
    """agency -> its evidence collection ``"<agency>-evidence"`` (11.2)."""
    decisions: AccessControl | None = None
    """The decision contract under ``DECISION_POLICY`` (deployed by the first ``decide``)."""
    licences: PrivateCollection | None = None
    """The office's own collection ``"licences"`` of issued licences (11.4)."""

    @property
    def chain(self) -> Any:
        """The channel's chain."""
        return self.channel.chain

    def __repr__(self) -> str:
        return (
            f"Service(seed={self.seed!r}, height {self.channel.chain.height}, "
            f"collections={sorted(self.collections)}, decisions="
            f"{'deployed' if self.decisions is not None else 'none'})"
        )


# A Service crosses from a student's kernel to the grader as a snapshot of its fields (its chain
# replayed and validated there): milestones return it or change it, and the grader judges it.
register_dataclass(Service)


# --- small helpers the milestones share -------------------------------------------------------


def capital_band(capital: int) -> str:
    """The band a licence shows instead of the exact capital."""
    if capital < MIN_CAPITAL:
        return "under 1M"
    if capital < 10_000_000:
        return "1M-10M"
    return "10M and over"


def agency_approves(agency: str, record: dict[str, Any], application: Application) -> bool:
    """Each agency's rule on its own record: no tax arrears; an active registration covering
    every activity applied for; a verified account with at least ``MIN_CAPITAL``."""
    if agency == "tax":
        return record["arrears"] == 0
    if agency == "market":
        registered = set(record["activities"])
        return record["status"] == "active" and set(application.activities) <= registered
    if agency == "bank":
        return bool(record["account_verified"]) and record["capital"] >= MIN_CAPITAL
    raise ValueError(f"no rule for {agency!r}; agencies are {', '.join(AGENCIES)}")


def anchor_hash(service: Service, member: Member, anchor_id: str, digest: bytes) -> None:
    """Record ``digest`` on chain in the anchor registry, under ``member``'s address and
    ``anchor_id`` (a transaction signed by ``member``). Read it back with
    ``service.registry.lookup(member.address, anchor_id)``."""
    service.registry.anchor_digest(member.signing_key, anchor_id, digest)


def _height(service: Service) -> int:
    return int(service.channel.chain.height)


# --- the reference milestones -----------------------------------------------------------------


def _setup(seed: str) -> Service:
    """Reference 11.1."""
    from blockkit.sharing.channels import Consortium
    from blockkit.sharing.credentials import CredentialRegistry
    from blockkit.sharing.identity import CertificateAuthority, Membership

    cas = {org: CertificateAuthority.from_seed(org, seed) for org in ORGS}
    people = {name: cas[org].enrol(name, role, seed=seed) for name, (org, role) in PEOPLE.items()}
    on_channel = [p for p in people.values() if p.organisation in CHANNEL_ORGS]
    consortium = Consortium(cas.values())
    channel = consortium.create_channel(
        CHANNEL, CHANNEL_ORGS, allocations={p.address: FUNDS for p in on_channel}
    )
    for person in on_channel:
        channel.enrol(person)
    membership = Membership.of(*(cas[org] for org in CHANNEL_ORGS), name="licensing office")
    for person in on_channel:
        membership.register(person.certificate, height=channel.chain.height)
    registry = CredentialRegistry.deploy(channel.chain, people["registrar"].signing_key)
    return Service(seed, cas, people, consortium, channel, membership, registry)


def _submit(service: Service, application: Application) -> dict[str, bytes]:
    """Reference 11.2."""
    from blockkit.encoding import encode
    from blockkit.sharing.private import PrivateCollection

    digests = {}
    for agency in AGENCIES:
        name = f"{agency}-evidence"
        if agency not in service.collections:
            service.collections[agency] = PrivateCollection(
                name, service.membership, [agency, "licensing"], height=_height(service),
                rng=random.Random(f"{service.seed}/{name}"),
            )  # fmt: skip
        clerk = service.people[CLERKS[agency]]
        record = encode(application.evidence[agency])
        digest = service.collections[agency].put(
            application.application_id, record, clerk, _height(service)
        )
        anchor_hash(service, clerk, f"{name}/{application.application_id}", digest)
        digests[agency] = digest
    return digests


def _deploy_decisions(service: Service) -> AccessControl:
    from blockkit.sharing.policy import AccessControl

    if service.decisions is None:
        members = [p for p in service.people.values() if p.organisation in CHANNEL_ORGS]
        service.decisions = AccessControl.deploy(
            service.channel.chain, DECISION_POLICY, service.membership, members,
            gatekeeper=service.people["registrar"], name="licence-decisions",
        )  # fmt: skip
    return service.decisions


def _decide_full(
    service: Service, application_id: str, approvers: Iterable[Member]
) -> tuple[int, bool]:
    from blockkit.errors import AccessDenied, InvalidCertificate

    acl = _deploy_decisions(service)
    officer = service.people["officer"]
    rid = acl.request(officer, "write", "licences", application_id)
    for member in approvers:
        try:
            acl.approve(member, rid)
        except (AccessDenied, InvalidCertificate):
            pass  # refused, and logged on chain by the gatekeeper
    if not acl.status(rid).satisfied:
        return rid, False
    acl.grant(officer, rid)
    return rid, True


def _decide(service: Service, application_id: str, approvers: list[Member]) -> int | None:
    """Reference 11.3."""
    rid, granted = _decide_full(service, application_id, approvers)
    return rid if granted else None


def _read_evidence(service: Service, application_id: str, reader: Member) -> dict[str, Any]:
    from blockkit.encoding import decode

    return {
        agency: decode(service.collections[agency].read(application_id, reader, _height(service)))
        for agency in AGENCIES
    }


def _licence_fields(
    application: Application, evidence: dict[str, dict[str, Any]], height: int
) -> dict[str, Any]:
    return {
        "licence_number": f"LIC-{application.application_id}",
        "company": application.company,
        "activities": list(application.activities),
        "legal_representative": evidence["market"]["legal_representative"],
        "registration": evidence["market"]["registration"],
        "tax_id": evidence["tax"]["tax_id"],
        "capital_band": capital_band(evidence["bank"]["capital"]),
        "valid_until": height + LICENCE_VALIDITY,
    }


def _issue(service: Service, application: Application, request_id: int) -> Credential:
    """Reference 11.4."""
    from blockkit.sharing.credentials import issue_credential
    from blockkit.sharing.private import PrivateCollection

    acl = service.decisions
    if acl is None:
        raise AccessDenied("no-grant", "no decision contract: decide first")
    status = acl.status(request_id)
    if not status.granted or status.record != application.application_id:
        raise AccessDenied(
            "no-grant", f"request {request_id} is not a granted licence for this application"
        )
    registrar, officer = service.people["registrar"], service.people["officer"]
    evidence = _read_evidence(service, application.application_id, officer)
    height = _height(service)
    fields = _licence_fields(application, evidence, height)
    number = fields["licence_number"]
    credential = issue_credential(
        registrar.signing_key, issuer_name=ISSUER_NAME,
        holder=service.people[application.applicant].certificate.public_key,
        credential_id=number, kind="business-licence", fields=fields, issued_at=height,
        expires_at=height + LICENCE_VALIDITY, rng=random.Random(f"{service.seed}/{number}"),
    )  # fmt: skip
    service.registry.anchor(registrar.signing_key, credential)
    if service.licences is None:
        service.licences = PrivateCollection(
            "licences", service.membership, ["licensing"], height=_height(service),
            rng=random.Random(f"{service.seed}/licences"),
        )  # fmt: skip
    acl.write(officer, request_id, service.licences, application.application_id, credential.encoded)
    return credential


def _flag(audit: pd.DataFrame, membership: Membership) -> list[tuple[int, str]]:
    """Reference 11.5."""
    from blockkit.sharing.audit import find_problems

    rows = audit.reset_index(drop=True)
    found = [(int(p.row), p.reason) for p in find_problems(rows, membership=membership)]
    for index, row in rows.iterrows():
        if (
            row["action"] == "read"
            and str(row["collection"]).endswith("-evidence")
            and row["organisation"] != "licensing"
        ):
            found.append((int(index), "evidence-leak"))
    return sorted(found)


def approvers_for(service: Service, application: Application) -> list[Member]:
    """The clerk of each agency whose rule passes on that agency's own record (read by the clerk
    from its own collection)."""
    from blockkit.encoding import decode

    chosen = []
    for agency in AGENCIES:
        clerk = service.people[CLERKS[agency]]
        record = decode(
            service.collections[agency].read(application.application_id, clerk, _height(service))
        )
        if agency_approves(agency, record, application):
            chosen.append(clerk)
    return chosen


# --- the whole service, for the lesson ------------------------------------------------------


@dataclass
class ServiceRun:
    """What ``run_service`` did: the service, the licences issued, and each step's outcome."""

    service: Service
    licences: dict[str, Credential]
    """application id -> the licence issued for it."""
    decisions: dict[str, int | None]
    """application id -> the granted request id, or None when refused."""
    log: list[dict[str, Any]]
    """One row per step: application, step, outcome, height."""

    def log_df(self) -> pd.DataFrame:
        """The steps as a table."""
        import pandas as pd

        return pd.DataFrame(self.log, columns=["application", "step", "outcome", "height"])


def run_service(
    seed: str = "lesson-11",
    applications: Iterable[Application] = APPLICATIONS,
    *,
    setup: Callable[[str], Service] = _setup,
    submit: Callable[[Service, Application], dict[str, bytes]] = _submit,
    decide: Callable[[Service, str, list[Member]], int | None] = _decide,
    issue: Callable[[Service, Application, int], Credential] = _issue,
) -> ServiceRun:
    """Run the licensing service end to end: set up, then for each application the evidence,
    each agency's verdict on its own record, the decision, and (when granted) the licence.

    Pass your own milestone functions (``setup=setup_consortium, ...``) to run yours instead of
    the reference ones.
    """
    service = setup(seed)
    run = ServiceRun(service, {}, {}, [])

    def note(app: str, step: str, outcome: str) -> None:
        run.log.append(
            {"application": app, "step": step, "outcome": outcome, "height": _height(service)}
        )

    note("", "setup", f"channel {service.channel.name!r} with {', '.join(CHANNEL_ORGS)}")
    for application in applications:
        app = application.application_id
        digests = submit(service, application)
        note(app, "evidence", ", ".join(f"{a} {digests[a].hex()[:8]}…" for a in AGENCIES))
        approvers = approvers_for(service, application)
        names = [m.organisation for m in approvers]
        note(app, "verdicts", "approve: " + (", ".join(names) or "nobody"))
        rid = decide(service, app, approvers)
        run.decisions[app] = rid
        note(app, "decision", "refused" if rid is None else f"granted (request {rid})")
        if rid is not None:
            credential = issue(service, application, rid)
            run.licences[app] = credential
            note(app, "licence", f"{credential.credential_id} issued and anchored")
    return run


def visibility_df(service: Service, application_id: str) -> pd.DataFrame:
    """Records down, people across: ``1`` where the person can open the record from its
    organisation's store, ``0`` where it is refused (every read really attempted)."""
    import pandas as pd

    from blockkit.errors import SharingError

    collections = [service.collections[a] for a in AGENCIES]
    if service.licences is not None and application_id in service.licences.hashes:
        collections.append(service.licences)
    rows = {}
    for collection in collections:
        row = {}
        for name, person in service.people.items():
            try:
                collection.read(application_id, person, _height(service))
                row[name] = 1
            except SharingError:
                row[name] = 0
        rows[f"{collection.name}/{application_id}"] = row
    return pd.DataFrame.from_dict(rows, orient="index").rename_axis("record")


# =============================================================================================
# 11.1 set up the consortium
# =============================================================================================

_SEEDS = ("grading-11", "grading-11-b")


def _zero_payment(service: Service, name: str) -> Any:
    """A 0-value payment from ``name`` to the registrar, signed for the channel's chain."""
    from blockkit.transactions import sign_transaction

    chain = service.channel.chain
    person = service.people[name]
    return sign_transaction(
        person.signing_key, service.people["registrar"].address, 0,
        nonce=chain.nonce(person.address), chain_id=chain.params.chain_id, fee=1,
    )  # fmt: skip


def _member_refusal(service: Service, name: str) -> str:
    """Try a 0-value transaction from ``name`` on the channel; ``"accepted"`` or the reason."""
    from blockkit.errors import AccessDenied, InvalidTransaction

    chain = service.channel.chain
    person = service.people[name]
    tx = _zero_payment(service, name)
    try:
        service.channel.submit(person, [tx])
    except AccessDenied as exc:
        return f"channel: {exc.reason}"
    except InvalidTransaction as exc:
        return f"chain: {getattr(exc, 'reason', 'invalid')}"
    if chain.receipt(tx.hash) is None:
        return "not included"
    return "accepted"


def _bypass_refusal(service: Service, name: str) -> str:
    """A transaction from ``name`` proposed straight to the channel's chain (no wrapper)."""
    from blockkit.errors import InvalidTransaction

    chain = service.channel.chain
    try:
        chain.propose_block(
            [_zero_payment(service, name)], bytes(20), chain.head.header.timestamp + 10
        )
    except InvalidTransaction as exc:
        return getattr(exc, "reason", "invalid")
    return "accepted"


def _is_service(result: Any) -> str | None:
    if not isinstance(result, Service):
        return (
            f"return a Service(seed, cas, people, consortium, channel, membership, registry), "
            f"not a {type(result).__name__}"
        )
    return None


def _judge_orgs(s: Service) -> str | None:
    from blockkit.sharing.identity import CertificateAuthority

    if sorted(s.cas) != sorted(ORGS):
        return f"cas should have one CA per organisation {sorted(ORGS)}, got {sorted(s.cas)}"
    for org, ca in s.cas.items():
        if not isinstance(ca, CertificateAuthority) or ca.organisation != org:
            return f"cas[{org!r}] is not the CertificateAuthority of {org!r}"
    if len({bytes(ca.public_key.address) for ca in s.cas.values()}) != len(ORGS):
        return "two organisations share a CA key"
    return None


def _judge_people(s: Service) -> str | None:
    from blockkit.sharing.identity import Member

    if sorted(s.people) != sorted(PEOPLE):
        return f"people should be exactly {sorted(PEOPLE)}, got {sorted(s.people)}"
    for name, (org, role) in PEOPLE.items():
        person = s.people[name]
        if not isinstance(person, Member):
            return f"people[{name!r}] is a {type(person).__name__}, not a Member"
        if (person.organisation, person.role, person.name) != (org, role, name):
            return (
                f"{name} should be a {role} of {org} named {name!r}, but is a {person.role} of "
                f"{person.organisation} named {person.name!r}"
            )
        if person.certificate.issuer_key_id != s.cas[org].key_id:
            return f"{name}'s certificate was not issued by the {org} CA in cas"
    return None


def _judge_channel(s: Service) -> str | None:
    from blockkit.sharing.channels import Channel, Consortium

    if not isinstance(s.consortium, Consortium) or sorted(s.consortium.authorities) != sorted(ORGS):
        return "consortium should be a Consortium of all five CAs"
    if not isinstance(s.channel, Channel) or s.channel.name != CHANNEL:
        return f"channel should be the Channel named {CHANNEL!r} (consortium.create_channel)"
    if s.channel.organisations != CHANNEL_ORGS:
        return (
            f"the channel's organisations should be {list(CHANNEL_ORGS)} (the insurer stays out), "
            f"got {list(s.channel.organisations)}"
        )
    if s.consortium.channels.get(CHANNEL) is not s.channel:
        return "the channel should be the one the consortium created"
    return None


def _judge_enrolled(s: Service) -> str | None:
    from blockkit.sharing.permissioned import membership_of

    on_chain = membership_of(s.channel.chain)
    for name, person in s.people.items():
        known = [c for c in on_chain.lookup(person.address) if c == person.certificate]
        if person.organisation in CHANNEL_ORGS and not known:
            return f"{name} is not enrolled on the channel's chain (channel.enrol(person))"
    for name, person in s.people.items():
        if person.organisation in CHANNEL_ORGS and s.channel.chain.balance(person.address) < (
            FUNDS // 2
        ):
            return f"{name} has no funds on the channel: give every member FUNDS in allocations"
    return None


def _judge_directory(s: Service) -> str | None:
    from blockkit.sharing.identity import Membership

    m = s.membership
    if not isinstance(m, Membership):
        return "membership should be a Membership (Membership.of(*channel CAs))"
    if m.organisations != CHANNEL_ORGS:
        return (
            f"the directory should trust exactly {list(CHANNEL_ORGS)}, got {list(m.organisations)}"
        )
    height = s.channel.chain.height
    for name, person in s.people.items():
        if person.organisation not in CHANNEL_ORGS:
            continue
        if person.certificate not in m.lookup(person.address):
            return f"{name} is not registered in the directory (membership.register)"
        if not m.is_valid(person.certificate, height=height):
            return f"{name}'s certificate is not valid in the directory"
    status = m.status(s.people["insurer-clerk"].certificate, height=height)
    if status != "unknown-organisation":
        return f"the directory should not know the insurer, but says {status!r}"
    return None


def _judge_transacting(s: Service) -> str | None:
    for name in ("officer", "tax-clerk", "market-clerk", "bank-clerk", "registrar"):
        outcome = _member_refusal(s, name)
        if outcome != "accepted":
            return f"a transaction from {name} should be accepted on the channel, got {outcome}"
    for name in ("acme", "bright"):
        outcome = _member_refusal(s, name)
        if outcome != "chain: wrong-role":
            return (
                f"{name} is an observer: its transaction should be refused by the chain with "
                f"wrong-role, got {outcome} (enrol applicants with role 'observer')"
            )
    outcome = _member_refusal(s, "insurer-clerk")
    if outcome != "channel: not-in-channel":
        return f"the insurer should be refused by the channel (not-in-channel), got {outcome}"
    outcome = _bypass_refusal(s, "insurer-clerk")
    if outcome != "not-a-member":
        return (
            "the insurer's transaction sent straight to the chain should be refused as "
            f"not-a-member, got {outcome}"
        )
    return None


def _judge_registry(s: Service) -> str | None:
    from blockkit.sharing.credentials import CredentialRegistry

    if not isinstance(s.registry, CredentialRegistry) or s.registry.backend is not s.channel.chain:
        return "registry should be a CredentialRegistry deployed on the channel's chain"
    if not s.channel.chain.state.account(s.registry.address).code_hash:
        return "there is no contract at registry.address on the channel's chain"
    clerk = s.people["tax-clerk"]
    anchor_hash(s, clerk, "probe", bytes(range(32)))
    found = s.registry.lookup(clerk.address, "probe")
    if found is None or found.root != bytes(range(32)):
        return "anchoring a hash in the registry did not record it"
    return None


def _setup_case(
    name: str, judge: Callable[[Service], str | None], seed: str = _SEEDS[0], hint: str = ""
) -> Case:
    def verify(result: Any) -> str | None:
        return _is_service(result) or judge(result)

    return Case(name, (seed,), verify=verify, hint=hint)


def _judge_reproducible(s: Service) -> str | None:
    again = _setup(s.seed)
    for org in ORGS:
        if s.cas[org].public_key != again.cas[org].public_key:
            return (
                f"the {org} CA is not CertificateAuthority.from_seed({org!r}, seed): the same seed "
                "must give the same keys"
            )
    for name in PEOPLE:
        if s.people[name].address != again.people[name].address:
            return f"{name}'s keys are not ca.enrol({name!r}, role, seed=seed)"
    if s.seed != again.seed:
        return "service.seed should be the seed you were given"
    return None


define(
    "11.1",
    "Set up the consortium",
    function="setup_consortium",
    points=3,
    hint="CAs with CertificateAuthority.from_seed(org, seed); people with "
    "cas[org].enrol(name, role, seed=seed); Consortium(cas.values()).create_channel('licensing', "
    "CHANNEL_ORGS, allocations={address: FUNDS}); channel.enrol(person) for everyone of the "
    "channel; Membership.of(...) + register; CredentialRegistry.deploy(channel.chain, key)",
)
add_cases(
    "11.1",
    [
        _setup_case("five organisations, each with its own CA", _judge_orgs),
        _setup_case(
            "everyone with the right organisation and role",
            _judge_people,
            hint="enrol each person of PEOPLE with its CA: cas[org].enrol(name, role, seed=seed)",
        ),
        _setup_case(
            "a licensing channel of the four service organisations",
            _judge_channel,
            hint="consortium.create_channel(CHANNEL, CHANNEL_ORGS, allocations=...): the insurer "
            "is in the consortium but not in the channel",
        ),
        _setup_case(
            "every channel member enrolled on chain, with funds",
            _judge_enrolled,
            hint="channel.enrol(person) for each person whose organisation is in CHANNEL_ORGS "
            "(observers too: they must be known to be refused as observers)",
        ),
        _setup_case("the office's directory", _judge_directory),
        _setup_case(
            "members transact; applicants and the insurer are refused",
            _judge_transacting,
            hint="applicants are observers (they read, they never write); the insurer is not "
            "enrolled on the channel",
        ),
        _setup_case(
            "the anchor registry on the channel",
            _judge_registry,
            hint="registry = CredentialRegistry.deploy(channel.chain, people['registrar']"
            ".signing_key)",
        ),
    ],
)


# =============================================================================================
# 11.2 each agency submits its part as private data
# =============================================================================================


#: Who may read an agency's evidence: the office's registrar and officer, and that agency.
def _allowed_readers(agency: str) -> set[str]:
    return {
        name
        for name, (org, role) in PEOPLE.items()
        if org in (agency, "licensing") and role != "observer"
    }


def _judge_evidence(service: Service, application: Application, result: Any) -> str | None:
    from blockkit.encoding import decode
    from blockkit.errors import InvalidCertificate, SharingError
    from blockkit.sharing.private import PrivateCollection

    if type(result) is not dict or sorted(result) != sorted(AGENCIES):
        return f"return a dict from agency to the hash on chain, with keys {list(AGENCIES)}"
    app = application.application_id
    height = _height(service)
    for agency in AGENCIES:
        collection = service.collections.get(agency)
        name = f"{agency}-evidence"
        if not isinstance(collection, PrivateCollection) or collection.name != name:
            return f"service.collections[{agency!r}] should be the PrivateCollection {name!r}"
        if collection.organisations != tuple(sorted((agency, "licensing"))):
            return (
                f"{name} should be shared by exactly {agency} and licensing, not "
                f"{list(collection.organisations)}"
            )
        if app not in collection.hashes:
            return f"{name} has no record {app!r} (record id = the application id)"
        digest = collection.hashes[app]
        if not isinstance(result[agency], bytes) or result[agency] != digest:
            return f"result[{agency!r}] should be the hash put() returned for {name}/{app}"
        clerk = service.people[CLERKS[agency]]
        if collection.headers[app].writer != clerk.cert_id:
            writer = collection.headers[app].writer
            return f"{name}/{app} should be written by {CLERKS[agency]}, not {writer}"
        anchored = service.registry.lookup(clerk.address, f"{name}/{app}")
        if anchored is None:
            return (
                f"no anchor {name + '/' + app!r} by {CLERKS[agency]} on chain: "
                "anchor_hash(service, clerk, f'{collection}/{application_id}', digest)"
            )
        if anchored.root != digest:
            return f"the hash anchored for {name}/{app} is not the record's hash"
        collection.verify(app, anchored.root)
        readers = set()
        for person_name, person in service.people.items():
            try:
                plaintext = collection.read(app, person, height, onchain_hash=anchored.root)
            except (SharingError, InvalidCertificate):
                continue
            readers.add(person_name)
            if decode(plaintext) != application.evidence[agency]:
                return (
                    f"{name}/{app} should hold encode(application.evidence[{agency!r}]), "
                    f"but {person_name} reads {plaintext[:40]!r}"
                )
        allowed = _allowed_readers(agency)
        if readers != allowed:
            extra, missing = sorted(readers - allowed), sorted(allowed - readers)
            return (
                f"{name}/{app}: "
                + (f"{', '.join(extra)} can read it but must not" if extra else "")
                + ("; " if extra and missing else "")
                + (f"{', '.join(missing)} cannot read it but must" if missing else "")
            )
    return None


def _evidence_case(
    name: str, applications: tuple[Application, ...], seed: str = _SEEDS[0], hint: str = ""
) -> Case:
    """Submit every application but the last with the reference, the last with the student's
    function (collections may already exist, then)."""
    box: dict[str, Service] = {}

    def args() -> tuple[Any, ...]:
        service = _setup(seed)
        for earlier in applications[:-1]:
            _submit(service, earlier)
        box["service"] = service
        return (service, applications[-1])

    def verify(result: Any) -> str | None:
        service = box["service"]
        for earlier in applications[:-1]:
            collection = service.collections.get("tax")
            if collection is None or earlier.application_id not in collection.hashes:
                return (
                    f"the record of the earlier application {earlier.application_id} is gone: "
                    "create each collection once and keep it (reuse service.collections[agency])"
                )
        return _judge_evidence(service, applications[-1], result)

    return Case(name, args, verify=verify, hint=hint)


define(
    "11.2",
    "Each agency submits its part as private data",
    function="submit_evidence",
    points=3,
    hint="for each agency: create PrivateCollection(f'{agency}-evidence', service.membership, "
    "[agency, 'licensing'], height=..., rng=...) once; put(application_id, "
    "encode(application.evidence[agency]), clerk, height); anchor_hash(service, clerk, "
    "f'{agency}-evidence/{application_id}', digest)",
)
add_cases(
    "11.2",
    [
        _evidence_case(
            "Acme's evidence: exactly the office and each agency can read its part",
            (_acme(),),
            hint="share each collection between the agency and licensing only: the bank must "
            "not read the tax record, and observers (applicants) read nothing",
        ),
        _evidence_case(
            "Bright's evidence, with tax arrears",
            (_bright(),),
            hint="write what the agency holds, even when it is bad news: the decision is later",
        ),
        _evidence_case(
            "a second application reuses the collections",
            (_acme(), _bright()),
            hint="create each collection once (if agency not in service.collections), then put "
            "every application's record in it",
        ),
    ],
)


# =============================================================================================
# 11.3 the approval policy and the decision
# =============================================================================================


def _world_with_evidence(seed: str, applications: tuple[Application, ...]) -> Service:
    service = _setup(seed)
    for application in applications:
        _submit(service, application)
    return service


def _judge_decision(
    service: Service, application_id: str, result: Any, granted: bool
) -> str | None:
    from blockkit.sharing.policy import AccessControl, parse_policy

    acl = service.decisions
    if not isinstance(acl, AccessControl):
        return "service.decisions should be the AccessControl your first decide deployed"
    if acl.policy != parse_policy(DECISION_POLICY):
        return f"the decision contract's policy is {acl.policy}, not {DECISION_POLICY}"
    if acl.gatekeeper.name != "registrar":
        return "the registrar is the decision contract's gatekeeper (it logs refusals)"
    requests = [
        e.fields["id"] for e in acl.events()
        if e.name == "Requested" and e.fields["record"] == application_id
    ]  # fmt: skip
    if not requests:
        return f"no request for {application_id!r} on the decision contract"
    last = acl.status(requests[-1])
    if (last.action, last.collection) != ("write", "licences"):
        return (
            f"the request should be a 'write' of record {application_id!r} in 'licences', got "
            f"{last.action!r} in {last.collection!r}"
        )
    if last.requester != service.people["officer"].address:
        return "the officer files the request (acl.request(officer, 'write', 'licences', id))"
    if granted:
        if result is None or type(result) is not int:
            return f"the policy is met: return the granted request id, not {result!r}"
        if result != last.request_id or not acl.status(result).granted:
            return f"request {result} is not the granted request for {application_id!r}"
        return None
    if result is not None:
        return f"the policy is not met: return None, not {result!r}"
    if last.granted:
        return "the policy is not met, yet the request was granted"
    return None


def _decision_case(
    name: str,
    approvers: tuple[str, ...],
    granted: bool,
    *,
    seed: str = _SEEDS[0],
    before: tuple[tuple[str, ...], ...] = (),
    revoke: str = "",
    hint: str = "",
) -> Case:
    """Decide Acme's application with these approvers (after ``before`` decisions on Bright's,
    made with the reference), and check the outcome on chain."""
    box: dict[str, Service] = {}
    app = _acme()
    earlier = _bright()

    def args() -> tuple[Any, ...]:
        service = _world_with_evidence(seed, (earlier, app))
        for names in before:
            _decide(service, earlier.application_id, [service.people[n] for n in names])
        if revoke:  # after the decision contract exists: revocations come later in life
            _deploy_decisions(service)
            person = service.people[revoke]
            ca = service.cas[person.organisation]
            service.membership.update_crl(
                ca.revoke(person.certificate.serial, height=_height(service))
            )
        box["service"] = service
        return (service, app.application_id, [service.people[n] for n in approvers])

    def verify(result: Any) -> str | None:
        service = box["service"]
        if before and service.decisions is not None:
            earlier_requests = [
                e for e in service.decisions.events()
                if e.name == "Requested" and e.fields["record"] == earlier.application_id
            ]  # fmt: skip
            if not earlier_requests:
                return (
                    "service.decisions is not the contract earlier decisions used: deploy it "
                    "only when service.decisions is None, then reuse it"
                )
        return _judge_decision(service, app.application_id, result, granted)

    return Case(name, args, verify=verify, hint=hint)


define(
    "11.3",
    "The approval policy and the decision",
    function="decide",
    points=3,
    hint="deploy AccessControl once (service.decisions); the officer requests 'write' of "
    "'licences'/application_id; each approver approves inside try/except (AccessDenied, "
    "InvalidCertificate); grant only if acl.status(rid).satisfied; return rid or None",
)
_ALL = ("tax-clerk", "market-clerk", "bank-clerk")
add_cases(
    "11.3",
    [
        _decision_case("all three agencies approve", _ALL, True),
        _decision_case(
            "the bank did not approve",
            ("tax-clerk", "market-clerk"),
            False,
            hint="two of three is not AND('tax', 'market', 'bank'): do not grant, return None",
        ),
        _decision_case(
            "two bank members, no market",
            ("tax-clerk", "bank-clerk", "bank-manager"),
            False,
            hint="an organisation counts once however many of its members approve: ask the "
            "contract (acl.status(rid).satisfied), do not count approvals yourself",
        ),
        _decision_case(
            "the insurer instead of the market",
            ("tax-clerk", "insurer-clerk", "bank-clerk"),
            False,
            hint="the insurer is not in the directory: its approval is refused "
            "(InvalidCertificate); catch it and carry on",
        ),
        _decision_case(
            "the applicant approves its own licence",
            ("acme", "tax-clerk", "market-clerk", "bank-clerk"),
            True,
            hint="an observer's approval is refused (wrong-role): catch the refusal and go on "
            "with the other approvers",
        ),
        _decision_case(
            "the licensing officer instead of the bank",
            ("tax-clerk", "market-clerk", "officer"),
            False,
        ),
    ],
)


# =============================================================================================
# 11.4 the licence credential
# =============================================================================================


def _granted_world(
    seed: str, application: Application, approvers: tuple[str, ...] = _ALL
) -> tuple[Service, int]:
    service = _world_with_evidence(seed, (application,))
    rid, _ = _decide_full(
        service, application.application_id, [service.people[n] for n in approvers]
    )
    return service, rid


def _verifier(service: Service, name: str) -> Any:
    from blockkit.sharing.credentials import CredentialVerifier

    trusted = {ISSUER_NAME: service.people["registrar"].certificate.public_key}
    return CredentialVerifier(name, trusted, service.registry, rng=random.Random(name))


def _show(service: Service, credential: Any, application: Application, role: str) -> Any:
    """``(verifier, presentation)``: the applicant presents ``role``'s view to a new verifier."""
    from blockkit.sharing.credentials import present_view

    verifier = _verifier(service, f"{role} verifier")
    presentation = present_view(
        credential, service.people[application.applicant].signing_key, role, LICENCE_VIEWS,
        verifier=verifier.name, challenge=verifier.challenge(), at=_height(service),
    )  # fmt: skip
    return verifier, presentation


def _judge_licence_fields(
    service: Service, application: Application, rid: int, credential: Any
) -> str | None:
    from blockkit.sharing.credentials import Credential

    if not isinstance(credential, Credential):
        return f"return the Credential issue_credential made, not a {type(credential).__name__}"
    h = credential.header
    if credential.names != LICENCE_FIELDS:
        return (
            f"the licence's fields should be {list(LICENCE_FIELDS)}, got {list(credential.names)}"
        )
    evidence = _read_evidence(service, application.application_id, service.people["registrar"])
    expected = _licence_fields(application, evidence, h.issued_at)
    for name, value in expected.items():
        if credential.values[name] != value:
            return f"field {name!r} should be {value!r}, got {credential.values[name]!r}"
    checks = [
        (h.issuer_name == ISSUER_NAME, f"issuer_name should be {ISSUER_NAME!r}"),
        (
            h.issuer_key == service.people["registrar"].certificate.public_key,
            "the registrar signs licences (issuer_key = registrar.signing_key)",
        ),
        (
            h.holder == service.people[application.applicant].certificate.public_key,
            "the holder is the applicant's key (people[application.applicant])",
        ),
        (h.kind == "business-licence", "kind should be 'business-licence'"),
        (
            h.credential_id == expected["licence_number"],
            "credential_id should be the licence number",
        ),
        (
            h.expires_at == h.issued_at + LICENCE_VALIDITY,
            "expires_at should be issued_at + LICENCE_VALIDITY",
        ),
        (
            h.issued_at in (_height(service), _height(service) - 1, _height(service) - 2),
            "issued_at should be the channel's height when you issue",
        ),
    ]
    for ok, message in checks:
        if not ok:
            return message
    credential.check()
    return None


def _judge_licence_filed(
    service: Service, application: Application, rid: int, credential: Any
) -> str | None:
    problem = _judge_licence_fields(service, application, rid, credential)
    if problem:
        return problem
    anchored = service.registry.lookup(
        service.people["registrar"].address, credential.credential_id
    )
    if anchored is None or anchored.root != credential.header.root:
        return "the licence is not anchored: service.registry.anchor(registrar.signing_key, cred)"
    licences = service.licences
    app = application.application_id
    if licences is None or licences.organisations != ("licensing",) or app not in licences.hashes:
        return (
            "file the office's copy: service.decisions.write(officer, request_id, "
            "service.licences, application_id, credential.encoded) with a 'licences' "
            "collection of licensing only"
        )
    written = [
        e for e in service.decisions.events()
        if e.name == "Written" and e.fields["id"] == rid
    ]  # fmt: skip
    if len(written) != 1 or bytes(written[0].fields["digest"]) != licences.hashes[app]:
        return "the write of the office's copy should be on chain under the grant"
    copy = licences.read(app, service.people["officer"], _height(service))
    if copy != credential.encoded:
        return "the office's copy should be credential.encoded"
    return None


def _judge_view(role: str) -> Callable[[Service, Application, int, Any], str | None]:
    def judge(service: Service, application: Application, rid: int, credential: Any) -> str | None:
        problem = _judge_licence_fields(service, application, rid, credential)
        if problem:
            return problem
        from blockkit.errors import InvalidCredential

        verifier, presentation = _show(service, credential, application, role)
        try:
            revealed = verifier.verify(presentation.encoded, _height(service))
        except InvalidCredential as exc:
            return f"the {role}'s verifier refused the licence: {exc.reason}: {exc}"
        wanted = set(LICENCE_VIEWS[role])
        if set(revealed) != wanted:
            return f"the {role} should see {sorted(wanted)}, saw {sorted(revealed)}"
        hidden = [n for n in LICENCE_FIELDS if n not in wanted]
        data = presentation.encoded
        for name in hidden:
            if name.encode() in data:
                return f"the hidden field {name!r} appears in the presentation"
        return None

    return judge


def _judge_refusals(
    service: Service, application: Application, rid: int, credential: Any
) -> str | None:
    from dataclasses import replace

    from blockkit.errors import InvalidCredential

    problem = _judge_licence_filed(service, application, rid, credential)
    if problem:
        return problem
    # 1. a customer edits a revealed activity
    verifier, presentation = _show(service, credential, application, "customer")
    forged = replace(
        presentation,
        disclosures=tuple(
            replace(d, value=[*d.value, "pharmacy"]) if d.name == "activities" else d
            for d in presentation.disclosures
        ),
    )
    try:
        verifier.verify(forged, _height(service))
        return "a presentation whose activities were edited was accepted"
    except InvalidCredential as exc:
        if exc.reason != "bad-proof":
            return f"an edited activity should fail with bad-proof, got {exc.reason}"
    # 2. the registrar revokes; a fresh presentation is refused
    service.registry.revoke(
        service.people["registrar"].signing_key, credential.credential_id, "inspection failed"
    )
    verifier, presentation = _show(service, credential, application, "customer")
    try:
        verifier.verify(presentation, _height(service))
        return "a revoked licence was accepted"
    except InvalidCredential as exc:
        if exc.reason != "revoked":
            return f"a revoked licence should fail with revoked, got {exc.reason}"
    return None


def _licence_case(
    name: str,
    judge: Callable[[Service, Application, int, Any], str | None],
    application: Application | None = None,
    *,
    seed: str = _SEEDS[0],
    hint: str = "",
) -> Case:
    box: dict[str, Any] = {}
    app = application if application is not None else _acme()

    def args() -> tuple[Any, ...]:
        service, rid = _granted_world(seed, app)
        box.update(service=service, rid=rid)
        return (service, app, rid)

    def verify(result: Any) -> str | None:
        return judge(box["service"], app, box["rid"], result)

    return Case(name, args, verify=verify, hint=hint)


def _refused_args(seed: str = _SEEDS[0]) -> Callable[[], tuple[Any, ...]]:
    def args() -> tuple[Any, ...]:
        app = _acme()
        service, rid = _granted_world(seed, app, ("tax-clerk", "market-clerk"))
        return (service, app, rid)

    return args


define(
    "11.4",
    "Issue the licence credential",
    function="issue_licence",
    points=3,
    hint="check service.decisions.status(request_id).granted (else raise AccessDenied); read the "
    "three evidence records as the officer; issue_credential(registrar.signing_key, ...) with "
    "LICENCE_FIELDS; service.registry.anchor(...); file credential.encoded with "
    "service.decisions.write(officer, request_id, service.licences, ...)",
)
add_cases(
    "11.4",
    [
        _licence_case(
            "the licence's fields and header",
            _judge_licence_fields,
            hint="fields: licence_number f'LIC-{application_id}', company, activities as a list, "
            "legal_representative and registration from the market record, tax_id from the tax "
            "record, capital_band(capital) from the bank's, valid_until = height + "
            "LICENCE_VALIDITY",
        ),
        _licence_case(
            "anchored, and the office's copy filed under the grant",
            _judge_licence_filed,
            hint="anchor with the registrar's key; the officer (the requester) writes the copy "
            "with service.decisions.write(...) into a PrivateCollection('licences', ..., "
            "['licensing'])",
        ),
        _licence_case(
            "a customer sees 'licensed for food retail, valid' and nothing else",
            _judge_view("customer"),
        ),
        _licence_case("the bank's view: capital band, no tax id", _judge_view("bank")),
        _licence_case("an edited presentation and a revoked licence are refused", _judge_refusals),
        Case(
            "no grant, no licence",
            _refused_args(),
            raises=AccessDenied,
            hint="if service.decisions.status(request_id).granted is False, raise "
            "AccessDenied('no-grant', ...) before issuing anything",
        ),
    ],
)


# =============================================================================================
# 11.5 the audit (optional)
# =============================================================================================


@functools.cache
def _trail(kind: str) -> tuple[Any, list[int]]:
    """An audit table from a real run, and the rows of interest: ``kind`` is ``"clean"`` (two
    applications, one licence, an insurer refused) or ``"leak"`` (plus the bank reading the tax
    evidence under a grant). Returns (audit_df, [index of the last read row])."""
    from blockkit.errors import AccessDenied

    service = _setup("grading-11-audit")
    acme, bright = _acme(), _bright()
    for application in (acme, bright):
        _submit(service, application)
    rid = _decide(service, acme.application_id, approvers_for(service, acme))
    assert rid is not None
    _issue(service, acme, rid)
    refused = _decide(service, bright.application_id, approvers_for(service, bright))
    assert refused is None
    acl = service.decisions
    assert acl is not None
    p = service.people
    try:
        acl.read(
            p["insurer-clerk"], None, service.collections["tax"], "APP-001", holder=p["tax-clerk"]
        )
    except AccessDenied:
        pass
    if kind == "leak":
        r = acl.request(p["bank-clerk"], "read", "tax-evidence", "APP-001")
        for name in _ALL:
            acl.approve(p[name], r)
        acl.grant(p["bank-clerk"], r)
        acl.read(p["bank-clerk"], r, service.collections["tax"], "APP-001", holder=p["tax-clerk"])
    df = acl.audit_df()
    return df, [int(i) for i in df.index[df["action"] == "read"]]


def _directory(revoked: str = "", at: int = 0) -> Membership:
    """The audit world's directory rebuilt from its seed (same keys, same serials), with
    ``revoked``'s certificate revoked at height ``at``."""
    from blockkit.sharing.identity import CertificateAuthority, Membership

    seed = "grading-11-audit"
    cas = {org: CertificateAuthority.from_seed(org, seed) for org in ORGS}
    people = {name: cas[org].enrol(name, role, seed=seed) for name, (org, role) in PEOPLE.items()}
    if revoked:
        person = people[revoked]
        cas[person.organisation].revoke(person.certificate.serial, height=at)
    membership = Membership.of(*(cas[org] for org in CHANNEL_ORGS))
    for person in people.values():
        if person.organisation in CHANNEL_ORGS:
            membership.register(person.certificate, height=0)
    return membership


def _rows(df: Any, action: str, organisation: str = "", request: int | None = None) -> list[int]:
    keep = df["action"] == action
    if organisation:
        keep &= df["organisation"] == organisation
    if request is not None:
        keep &= df["request"] == request
    return [int(i) for i in df.index[keep]]


def _audit_args(kind: str, edit: str) -> tuple[Any, Any]:
    df, _ = _trail(kind)
    df = df.copy()
    membership = _directory()
    if edit == "drop-approval":
        df = df.drop(index=_rows(df, "approve", "market", 0)[0])
    elif edit == "drop-grant":
        df = df.drop(index=_rows(df, "grant", request=0)[0])
    elif edit == "drop-read-grant":
        df = df.drop(index=_rows(df, "grant", request=2)[0])
    elif edit == "revoked-approver":
        approval = _rows(df, "approve", "bank", 0)[0]
        membership = _directory("bank-clerk", int(df.loc[approval, "height"]) - 1)
    return df.reset_index(drop=True), membership


def _expected_problems(kind: str, edit: str) -> list[tuple[int, str]]:
    df, membership = _audit_args(kind, edit)
    return _flag(df, membership)


def _audit_case(name: str, kind: str, edit: str = "", hint: str = "") -> Case:
    def args() -> tuple[Any, ...]:
        return _audit_args(kind, edit)

    def verify(result: Any) -> str | None:
        expected = _expected_problems(kind, edit)
        if type(result) is not list or not all(
            type(item) is tuple and len(item) == 2 and type(item[0]) is int for item in result
        ):
            return (
                "return a list of (row, reason) tuples, row a plain int (int(...) of a pandas "
                f"index), e.g. [(4, 'unjustified-grant')], not {result!r}"[:200]
            )
        if sorted(result) != result:
            return "sort the list by row, then reason (sorted(problems))"
        if result != expected:
            missing = [p for p in expected if p not in result]
            extra = [p for p in result if p not in expected]
            parts = []
            if missing:
                parts.append(f"missed {missing}")
            if extra:
                parts.append(f"flagged {extra}, which are not problems")
            return "; ".join(parts)
        return None

    return Case(name, args, verify=verify, hint=hint)


define(
    "11.5",
    "The audit (optional)",
    function="flag_problems",
    points=2,
    hint="find_problems(audit, membership=membership) gives AuditMismatch objects (row, reason); "
    "add (row, 'evidence-leak') for every 'read' of a '*-evidence' collection by an "
    "organisation other than licensing; return sorted (int, str) tuples",
)
add_cases(
    "11.5",
    [
        _audit_case("the true trail of a day at the office", "clean", hint="nothing to flag: []"),
        _audit_case(
            "an approval deleted from the export",
            "clean",
            "drop-approval",
            hint="a grant whose approvals above it do not satisfy the policy is an "
            "unjustified-grant (find_problems)",
        ),
        _audit_case(
            "a grant deleted from the export",
            "clean",
            "drop-grant",
            hint="a write with no grant above it is a write-without-grant",
        ),
        _audit_case(
            "the bank read the tax evidence",
            "leak",
            hint="the policy allowed it, the service's rule does not: a read of a '-evidence' "
            "collection by anyone but licensing is an evidence-leak",
        ),
    ],
)
