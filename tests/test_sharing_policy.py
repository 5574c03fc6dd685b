"""Access policies: AND / OR / k-of-n formulas evaluated in Python and by the AccessPolicy
contract, agreeing with the standard multisig on flat policies, and every refusal with its reason
(non-member, double approval, grant before the policy is met, approval after the grant, expiry,
revoked certificate)."""

from __future__ import annotations

import itertools

import pytest

from blockkit.contracts import LocalHost
from blockkit.contracts.standard import MULTISIG
from blockkit.errors import AccessDenied, InvalidCertificate
from blockkit.sharing.identity import CertificateAuthority, Membership
from blockkit.sharing.policy import (
    AND,
    OR,
    AccessControl,
    Gate,
    OutOf,
    Principal,
    as_multisig,
    decode_policy,
    encode_policy,
    parse_policy,
    policy_from_canonical,
    policy_from_nodes,
    policy_nodes,
)

ORGS = ("tax", "bank1", "bank2", "bank3", "insurer")
NESTED = AND("tax", OutOf(2, "bank1", "bank2", "bank3"))


# --- the formula ------------------------------------------------------------------------------

CASES = [
    (NESTED, {"tax", "bank1", "bank2"}, True),
    (NESTED, {"tax", "bank1", "bank3"}, True),
    (NESTED, {"tax", "bank1"}, False),
    (NESTED, {"bank1", "bank2", "bank3"}, False),
    (NESTED, {"tax", "insurer", "bank2"}, False),
    (NESTED, set(), False),
    (OR("tax", AND("bank1", "insurer")), {"bank1", "insurer"}, True),
    (OR("tax", AND("bank1", "insurer")), {"bank1"}, False),
    (OR("tax", AND("bank1", "insurer")), {"tax"}, True),
    (AND("tax.admin", "bank1"), {"tax", "bank1"}, False),  # a plain "tax" is not an admin
    (AND("tax.admin", "bank1"), {"tax.admin", "bank1"}, True),
    (AND("tax", "bank1"), {("tax", "observer"), "bank1"}, False),  # observers never endorse
    (AND("tax", "bank1"), {("tax", "admin"), ("bank1", "member")}, True),
    (OutOf(2, "a", OR("b", "c"), AND("d", "e")), {"a", "e"}, False),
    (OutOf(2, "a", OR("b", "c"), AND("d", "e")), {"d", "e", "c"}, True),
]


@pytest.mark.parametrize(("policy", "approvers", "expected"), CASES)
def test_nested_policy_is_evaluated_right(policy, approvers, expected) -> None:
    assert policy.satisfied_by(approvers) is expected


def brute_force(policy, approvers) -> bool:
    """A reference evaluator written independently: recursion over the canonical form."""
    kind, *rest = policy.to_canonical() if not isinstance(policy, list) else policy
    if kind == "p":
        org, role = rest
        return any(
            a.split(".")[0] == org and (role == "" or a == f"{org}.{role}") for a in approvers
        )
    k, parts = rest
    return sum(brute_force(p, approvers) for p in parts) >= k


def test_every_subset_of_approvers_matches_a_reference_evaluator() -> None:
    orgs = ["tax", "bank1", "bank2", "bank3"]
    for policy in (NESTED, OR("tax", OutOf(3, "bank1", "bank2", "bank3")), OutOf(3, *orgs)):
        for n in range(len(orgs) + 1):
            for subset in itertools.combinations(orgs, n):
                assert policy.satisfied_by(set(subset)) is brute_force(policy, subset)


def test_and_or_are_thresholds_and_print_readably() -> None:
    assert AND("a", "b") == OutOf(2, "a", "b") == Gate(2, (Principal("a"), Principal("b")))
    assert OR("a", "b").k == 1
    assert str(NESTED) == "AND('tax', OutOf(2, 'bank1', 'bank2', 'bank3'))"
    assert str(OR("a", "b.admin")) == "OR('a', 'b.admin')"
    assert AND("tax") == Principal("tax")  # one part is that part
    text = NESTED.describe()
    assert "all 2 of" in text and "2 of 3" in text and "bank3" in text


def test_policy_encoding_round_trips() -> None:
    for policy in (NESTED, Principal("tax", "auditor"), OR("a", AND("b", "c.admin"))):
        assert decode_policy(encode_policy(policy)) == policy
        assert policy_from_canonical(policy.to_canonical()) == policy
        assert policy_from_nodes(policy_nodes(policy)) == policy
        assert parse_policy(str(policy)) == policy
    assert encode_policy(AND("a", "b")) == encode_policy(OutOf(2, "a", "b"))
    assert encode_policy(AND("a", "b")) != encode_policy(AND("b", "a"))  # order is kept
    nodes = policy_nodes(NESTED)
    assert nodes[-1] == ["k", 2, [0, 4]]  # root last, children first
    assert nodes[4] == ["k", 2, [1, 2, 3]]


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: OutOf(3, "a", "b"), "between 1 and 2"),
        (lambda: AND("a", "a"), "listed twice"),
        (lambda: AND("a b", "c"), "letters"),
        (lambda: Principal("tax", "observer"), "observers never endorse"),
        (lambda: OR("a", 3), "organisation name"),
        (lambda: parse_policy("AND('a', __import__('os'))"), "cannot read"),
        (lambda: parse_policy("OutOf('a', 'b')"), "number"),
        (lambda: policy_from_canonical(["x", 1]), "canonical"),
        (lambda: policy_from_nodes([["k", 1, [0, 1]]]), "before it"),
    ],
)
def test_bad_policies_are_refused_with_what_to_do(build, message) -> None:
    with pytest.raises((ValueError, TypeError), match=message):
        build()


def test_flat_policy_maps_to_the_standard_multisig_and_both_agree() -> None:
    host = LocalHost()
    endorsers = {org: host.account(org) for org in ("tax", "bank1", "bank2")}
    for policy in (
        AND("tax", "bank1", "bank2"),
        OR("tax", "bank1"),
        OutOf(2, "tax", "bank1", "bank2"),
    ):
        owners, k = as_multisig(policy, endorsers)
        multisig, result = host.deploy(MULTISIG, owners, k, sender=owners[0])
        assert result.ok
        orgs = [p.organisation for p in policy.parts]
        for n in range(len(orgs) + 1):
            for subset in itertools.combinations(orgs, n):
                pid = host.transact(owners[0], multisig, "propose", "grant-read", {}).return_value
                for org in subset:
                    assert host.transact(endorsers[org], multisig, "approve", pid).ok
                approved = host.transact(owners[0], multisig, "status", pid).return_value
                assert approved["approved"] is policy.satisfied_by(set(subset))
    with pytest.raises(ValueError, match="nested"):
        as_multisig(NESTED, endorsers)


# --- the contract on a LocalHost --------------------------------------------------------------


@pytest.fixture
def world():
    cas = {org: CertificateAuthority.from_seed(org) for org in ORGS}
    membership = Membership.of(*cas.values())
    people = {}
    for org, ca in cas.items():
        for name, role in (("clerk", "member"), ("boss", "admin"), ("intern", "observer")):
            person = ca.enrol(f"{org}-{name}", role, seed="policy-tests")
            membership.register(person.certificate, height=0)
            people[f"{org}-{name}"] = person
    host = LocalHost(block_height=1)
    enrolled = [p for key, p in people.items() if not key.startswith("insurer")]
    control = AccessControl.deploy(
        host, NESTED, membership, enrolled, gatekeeper=people["tax-boss"], name="tax-records"
    )
    return {"cas": cas, "membership": membership, "people": people, "host": host, "acl": control}


def test_the_contract_reads_back_the_same_policy(world) -> None:
    acl = world["acl"]
    assert acl.policy == NESTED and acl.name == "tax-records"
    assert "tax-records" in repr(acl)


def test_request_approve_grant_on_a_local_host(world) -> None:
    acl, p = world["acl"], world["people"]
    rid = acl.request(p["bank1-clerk"], "read", "tax", "acme-2024")
    assert acl.approve(p["tax-clerk"], rid) is False
    assert acl.approve(p["bank1-clerk"], rid) is False
    # A second member of the same bank adds nothing: an organisation counts once.
    assert acl.approve(p["bank1-boss"], rid) is False
    assert acl.approve(p["bank3-clerk"], rid) is True
    acl.grant(p["bank1-clerk"], rid)
    status = acl.status(rid)
    assert status.granted and status.satisfied and status.record == "acme-2024"
    assert [a[1] for a in status.approvals] == ["tax", "bank1", "bank1", "bank3"]
    assert [e.name for e in acl.events()].count("Granted") == 1


def refusal(call):
    with pytest.raises((AccessDenied, InvalidCertificate)) as info:
        call()
    return info.value.reason


def test_every_refusal_has_its_reason_and_is_logged(world) -> None:
    acl, p, host = world["acl"], world["people"], world["host"]
    rid = acl.request(p["bank1-clerk"], "read", "tax", "acme-2024", expires_at=5)
    # An outsider organisation's member is not enrolled in the contract.
    assert refusal(lambda: acl.approve(p["insurer-clerk"], rid)) == "not-a-member"
    # An observer cannot endorse (the wrapper's role check).
    assert refusal(lambda: acl.approve(p["tax-intern"], rid)) == "wrong-role"
    acl.approve(p["tax-clerk"], rid)
    assert refusal(lambda: acl.approve(p["tax-clerk"], rid)) == "already-approved"
    assert refusal(lambda: acl.grant(p["bank1-clerk"], rid)) == "policy-not-met"
    acl.approve(p["bank1-clerk"], rid)
    acl.approve(p["bank2-clerk"], rid)
    acl.grant(p["bank1-clerk"], rid)
    assert refusal(lambda: acl.approve(p["bank3-clerk"], rid)) == "already-granted"
    assert refusal(lambda: acl.grant(p["bank1-clerk"], rid)) == "already-granted"
    assert refusal(lambda: acl.status(99)) == "unknown-request"
    # Expired: a second request, left open past its height.
    late = acl.request(p["bank2-clerk"], "read", "tax", "acme-2024", expires_at=5)
    host.block_height = 5
    assert refusal(lambda: acl.approve(p["tax-clerk"], late)) == "expired"
    with pytest.raises(AccessDenied, match="expired"):
        acl.request(p["bank2-clerk"], "read", "tax", "x", expires_at=5)
    with pytest.raises(ValueError, match="read, write"):
        acl.request(p["bank2-clerk"], "delete", "tax", "x")
    refused = [e.fields["reason"] for e in acl.events() if e.name == "Refused"]
    assert refused == [
        "not-a-member", "wrong-role", "already-approved", "policy-not-met", "already-granted",
        "already-granted", "expired", "expired",
    ]  # fmt: skip


def test_a_revoked_members_approval_does_not_count(world) -> None:
    acl, p, cas, host = world["acl"], world["people"], world["cas"], world["host"]
    membership = world["membership"]
    rid = acl.request(p["bank1-clerk"], "read", "tax", "acme-2024")
    acl.approve(p["tax-clerk"], rid)
    acl.approve(p["bank1-clerk"], rid)
    membership.update_crl(cas["bank2"].revoke(p["bank2-clerk"].certificate.serial, height=2))
    host.block_height = 2
    # The wrapper checks the certificate before sending: refused, and the reason is logged.
    assert refusal(lambda: acl.approve(p["bank2-clerk"], rid)) == "revoked"
    assert acl.status(rid).satisfied is False
    # The key sent straight to the contract (bypassing the wrapper) is still enrolled there...
    bank2 = p["bank2-clerk"].address
    assert host.transact(bank2, acl.address, "approve", rid).return_value is True
    # ...until bank2's admin applies its CA's revocation list: then the approval stops counting.
    assert acl.apply_revocations(p["bank2-boss"]) == [p["bank2-clerk"].certificate]
    assert acl.apply_revocations(p["bank2-boss"]) == []  # idempotent
    assert acl.status(rid).satisfied is False
    assert refusal(lambda: acl.grant(p["bank1-clerk"], rid)) == "policy-not-met"
    direct = host.transact(bank2, acl.address, "approve", rid)
    assert direct.status == "reverted" and direct.error.startswith("removed:")
    acl.approve(p["bank3-clerk"], rid)
    acl.grant(p["bank1-clerk"], rid)


def test_approvals_made_before_a_revocation_still_count(world) -> None:
    acl, p, cas, host = world["acl"], world["people"], world["cas"], world["host"]
    rid = acl.request(p["bank1-clerk"], "read", "tax", "acme-2024")
    for who in ("tax-clerk", "bank1-clerk", "bank2-clerk"):
        acl.approve(p[who], rid)
    host.block_height = 3
    world["membership"].update_crl(
        cas["bank2"].revoke(p["bank2-clerk"].certificate.serial, height=3)
    )
    acl.apply_revocations(p["bank2-boss"])
    assert acl.status(rid).satisfied is True  # approved at height 1, removed from height 3
    acl.grant(p["bank1-clerk"], rid)


def test_only_an_organisations_admin_changes_its_members(world) -> None:
    acl, p, cas, membership = world["acl"], world["people"], world["cas"], world["membership"]
    newcomer = cas["bank1"].enrol("bank1-new", seed="policy-tests")
    membership.register(newcomer.certificate, height=1)
    assert refusal(lambda: acl.enrol(p["bank1-clerk"], newcomer.certificate)) == "wrong-role"
    assert refusal(lambda: acl.enrol(p["tax-boss"], newcomer.certificate)) == "not-admin"
    acl.enrol(p["bank1-boss"], newcomer.certificate)
    rid = acl.request(newcomer, "read", "tax", "acme-2024")
    assert acl.approve(newcomer, rid) is False


def test_a_forged_member_is_refused_before_anything_is_sent(world) -> None:
    acl, p = world["acl"], world["people"]
    rogue = CertificateAuthority.from_seed("bank1", seed="rogue").enrol("mallory", seed="x")
    rid = acl.request(p["bank1-clerk"], "read", "tax", "acme-2024")
    assert refusal(lambda: acl.approve(rogue, rid)) == "wrong-issuer"
    assert acl.status(rid).approvals == ()


def test_flipping_any_byte_of_an_encoded_policy_never_yields_the_same_policy() -> None:
    data = encode_policy(NESTED)
    for i in range(len(data)):
        mutated = data[:i] + bytes([data[i] ^ 0x01]) + data[i + 1 :]
        try:
            decoded = decode_policy(mutated)
        except (ValueError, TypeError):
            continue  # refused: malformed
        assert decoded != NESTED
