"""The audit trail: a tax office, a bank and an insurer share a record under a policy; the audit
table has exactly the expected rows (on a LocalHost and on a real Chain), filters work, and a
deleted, added or edited row, a read without a grant and a grant counted from a revoked member's
approval are all caught by check_audit."""

from __future__ import annotations

import random

import pytest

from blockkit.chain import Chain
from blockkit.contracts import LocalHost
from blockkit.errors import AccessDenied, TamperedData
from blockkit.params import CLASSROOM
from blockkit.sharing.audit import (
    AUDIT_COLUMNS,
    AuditMismatch,
    audit_df,
    audit_rows,
    check_audit,
    filter_audit,
    find_problems,
)
from blockkit.sharing.identity import CertificateAuthority, Membership
from blockkit.sharing.policy import AND, OR, AccessControl
from blockkit.sharing.private import PrivateCollection

ORGS = ("tax", "bank", "insurer")
POLICY = AND("tax", OR("bank", "insurer"))
SECRET = b"ACME Ltd, 2024: revenue 1,200,000; tax paid 240,000"


def make_world(backend_kind: str):
    cas = {org: CertificateAuthority.from_seed(org) for org in ORGS}
    membership = Membership.of(*cas.values())
    people = {}
    for org, ca in cas.items():
        for name, role in (("clerk", "member"), ("boss", "admin")):
            person = ca.enrol(f"{org}-{name}", role, seed="audit-tests")
            membership.register(person.certificate, height=0)
            people[f"{org}-{name}"] = person
    if backend_kind == "local":
        backend = LocalHost(block_height=1)
    else:
        backend = Chain(CLASSROOM, allocations={p.address: 10**9 for p in people.values()})
    acl = AccessControl.deploy(
        backend, POLICY, membership, people.values(), gatekeeper=people["tax-boss"],
        name="tax-records",
    )  # fmt: skip
    collection = PrivateCollection("tax-files", membership, ["tax"], rng=random.Random(7))
    return cas, membership, people, backend, acl, collection


def run_scenario(backend_kind: str):
    """tax writes a record under a write grant; the bank reads it under a read grant; the
    insurer tries without a grant, then with the bank's grant: both refused."""
    _, _, p, backend, acl, files = make_world(backend_kind)
    w = acl.request(p["tax-clerk"], "write", "tax-files", "acme-2024")
    acl.approve(p["tax-clerk"], w)
    acl.approve(p["insurer-clerk"], w)
    acl.grant(p["tax-clerk"], w)
    digest = acl.write(p["tax-clerk"], w, files, "acme-2024", SECRET)
    r = acl.request(p["bank-clerk"], "read", "tax-files", "acme-2024")
    acl.approve(p["bank-clerk"], r)
    with pytest.raises(AccessDenied) as early:
        acl.grant(p["bank-clerk"], r)
    assert early.value.reason == "policy-not-met"
    acl.approve(p["tax-boss"], r)
    acl.grant(p["bank-clerk"], r)
    plaintext = acl.read(p["bank-clerk"], r, files, "acme-2024", holder=p["tax-clerk"])
    with pytest.raises(AccessDenied) as no_grant:
        acl.read(p["insurer-clerk"], None, files, "acme-2024", holder=p["tax-clerk"])
    assert no_grant.value.reason == "no-grant"
    with pytest.raises(AccessDenied) as borrowed:
        acl.read(p["insurer-clerk"], r, files, "acme-2024", holder=p["tax-clerk"])
    assert borrowed.value.reason == "not-requester"
    return acl, files, p, digest, plaintext, backend


#: (action, organisation, member, request, record, reason) of every row, in order.
EXPECTED = [
    ("request", "tax", "tax-clerk", 0, "acme-2024", ""),
    ("approve", "tax", "tax-clerk", 0, "acme-2024", ""),
    ("approve", "insurer", "insurer-clerk", 0, "acme-2024", ""),
    ("grant", "tax", "tax-clerk", 0, "acme-2024", ""),
    ("write", "tax", "tax-clerk", 0, "acme-2024", ""),
    ("request", "bank", "bank-clerk", 1, "acme-2024", ""),
    ("approve", "bank", "bank-clerk", 1, "acme-2024", ""),
    ("refused", "bank", "bank-clerk", 1, "acme-2024", "policy-not-met"),
    ("approve", "tax", "tax-boss", 1, "acme-2024", ""),
    ("grant", "bank", "bank-clerk", 1, "acme-2024", ""),
    ("read", "bank", "bank-clerk", 1, "acme-2024", ""),
    ("refused", "insurer", "insurer-clerk", -1, "acme-2024", "no-grant"),
    ("refused", "insurer", "insurer-clerk", 1, "acme-2024", "not-requester"),
]


def summary(df):
    columns = ["action", "organisation", "member", "request", "record", "reason"]
    return [tuple(row) for row in df[columns].itertuples(index=False)]


@pytest.fixture(scope="module")
def local():
    return run_scenario("local")


@pytest.fixture(scope="module")
def chained():
    return run_scenario("chain")


def test_the_scenario_releases_the_data_only_under_a_grant(local) -> None:
    _, files, _, digest, plaintext, _ = local
    assert plaintext == SECRET
    assert files.hashes["acme-2024"] == digest


def test_the_audit_table_has_exactly_the_expected_rows(local) -> None:
    acl, _, p, digest, _, _ = local
    df = acl.audit_df()
    assert list(df.columns) == AUDIT_COLUMNS
    assert summary(df) == EXPECTED
    assert set(df["policy"]) == {"AND('tax', OR('bank', 'insurer'))"}
    assert set(df["collection"]) == {"tax-files"}
    write = df[df["action"] == "write"].iloc[0]
    assert write["digest"] == digest.hex()  # the hash put on chain
    refusals = df[df["action"] == "refused"]
    assert set(refusals["by"]) == {str(p["tax-boss"].address)}  # logged by the gatekeeper


def test_filters_select_rows(local) -> None:
    df = local[0].audit_df()
    assert len(filter_audit(df, organisation="insurer")) == 3
    assert summary(filter_audit(df, action="read")) == [EXPECTED[10]]
    assert len(filter_audit(df, action=["grant", "read"], organisation="bank")) == 2
    assert len(filter_audit(df, record="other")) == 0
    assert len(filter_audit(df, member="tax-boss", action="approve")) == 1


def test_a_true_audit_table_passes_the_check(local) -> None:
    acl = local[0]
    df = acl.audit_df()
    check_audit(df, control=acl)
    check_audit(df)  # its own logic holds without the chain too
    assert find_problems(audit_rows(acl), control=acl) == []


def test_a_read_without_a_grant_is_refused_and_audited(local) -> None:
    df = local[0].audit_df()
    row = filter_audit(df, organisation="insurer", action="refused").iloc[0]
    assert (row["reason"], row["request"], row["record"]) == ("no-grant", -1, "acme-2024")
    assert filter_audit(df, organisation="insurer", action="read").empty


def problem(df, **kwargs) -> AuditMismatch:
    with pytest.raises(AuditMismatch) as info:
        check_audit(df, **kwargs)
    assert isinstance(info.value, TamperedData)
    return info.value


@pytest.mark.parametrize("index", range(len(EXPECTED)))
def test_deleting_any_row_is_detected(local, index) -> None:
    acl = local[0]
    df = acl.audit_df().drop(index=index).reset_index(drop=True)
    assert problem(df, control=acl).reason == "audit-mismatch"


@pytest.mark.parametrize(
    ("column", "value"),
    [
        ("organisation", "bank"),
        ("member", "someone-else"),
        ("action", "read"),
        ("height", 99),
        ("record", "acme-2023"),
        ("reason", ""),
        ("policy", "OR('tax', 'bank')"),
        ("digest", "00" * 32),
    ],
)
def test_editing_any_field_is_detected(local, column, value) -> None:
    acl = local[0]
    df = acl.audit_df()
    index = 11 if column == "reason" else (4 if column == "digest" else 2)
    df.loc[index, column] = value
    found = problem(df, control=acl)
    assert found.reason == "audit-mismatch" and found.row == index
    assert column in str(found)


def test_an_added_row_is_detected(local) -> None:
    acl = local[0]
    df = acl.audit_df()
    df.loc[len(df)] = df.loc[10]  # a second read receipt, forged into the export
    assert problem(df, control=acl).reason == "audit-mismatch"


def test_without_the_chain_a_missing_approval_or_grant_is_still_caught(local) -> None:
    df = local[0].audit_df()
    # Delete the insurer's approval: the write grant is no longer justified by the table.
    found = problem(df.drop(index=2).reset_index(drop=True))
    assert found.reason == "unjustified-grant" and "tax" in str(found)
    # Delete the bank's grant: its read has no grant before it.
    found = problem(df.drop(index=9).reset_index(drop=True))
    assert found.reason == "read-without-grant"
    found = problem(df.drop(index=3).reset_index(drop=True))
    assert found.reason == "write-without-grant"


def test_a_grant_counted_from_a_revoked_members_approval_is_caught() -> None:
    cas, membership, p, host, acl, _ = make_world("local")
    r = acl.request(p["bank-clerk"], "read", "tax-files", "acme-2024")
    acl.approve(p["bank-clerk"], r)
    host.block_height = 3
    membership.update_crl(cas["tax"].revoke(p["tax-clerk"].certificate.serial, height=2))
    # The revoked key goes straight to the contract, whose table tax's admin never updated.
    assert host.transact(p["tax-clerk"].address, acl.address, "approve", r).ok
    acl.grant(p["bank-clerk"], r)
    df = acl.audit_df()
    found = problem(df, control=acl)
    assert found.reason == "unjustified-grant"
    assert "tax-clerk (tax, revoked)" in str(found)
    check_audit(df)  # without the revocation list the table looks consistent: that is the gap


def test_the_same_scenario_on_a_real_chain(chained, local) -> None:
    acl, files, _, digest, plaintext, chain = chained
    assert plaintext == SECRET
    df = acl.audit_df()
    assert files.hashes["acme-2024"] == digest
    assert filter_audit(df, action="write")["digest"].tolist() == [digest.hex()]
    assert summary(df) == EXPECTED
    assert df["height"].is_monotonic_increasing and df["height"].iloc[0] >= 2
    assert all(len(tx) == 64 for tx in df["tx"])  # every row points at its transaction
    for tx in df["tx"]:
        assert chain.receipt(bytes.fromhex(tx)).ok
    check_audit(df, control=acl)
    # A refused transaction is itself on the chain, reverted, with the reason tag.
    reverted = [
        r for b in chain.main_chain() for r in chain.receipts(b.hash) if r.status == "reverted"
    ]
    assert [r.error.split(":")[0] for r in reverted] == ["policy-not-met", "not-requester"]
    tampered = df.copy()
    tampered.loc[5, "organisation"] = "insurer"
    assert problem(tampered, control=acl).reason == "audit-mismatch"
    assert len(audit_df(acl, local[0])) == 2 * len(EXPECTED)
