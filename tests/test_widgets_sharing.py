"""The disclosure picker reports what really travels, checked against the presentation bytes."""

from __future__ import annotations

import random

import pytest

from blockkit.contracts import LocalHost
from blockkit.encoding import encode
from blockkit.keys import PrivateKey
from blockkit.merkle import hash_leaf
from blockkit.sharing.credentials import (
    CredentialRegistry,
    CredentialVerifier,
    issue_credential,
    present,
    vehicle_record,
)
from blockkit.widgets.sharing import disclosure_picker, disclosure_report

ISSUER = PrivateKey.from_seed("widgets-sharing/issuer")
OWNER = PrivateKey.from_seed("widgets-sharing/owner")


@pytest.fixture
def world():
    credential = issue_credential(
        ISSUER,
        issuer_name="Road Authority",
        holder=OWNER.public_key,
        credential_id="vehicle/1",
        kind="vehicle",
        fields=vehicle_record(),
        issued_at=0,
        rng=random.Random(1),
    )
    registry = CredentialRegistry.deploy(LocalHost(), ISSUER)
    registry.anchor(ISSUER, credential)
    verifier = CredentialVerifier(
        "Insurer", {"Road Authority": ISSUER.public_key}, registry, rng=random.Random(2)
    )
    return credential, registry, verifier


@pytest.mark.parametrize(
    "reveal", [[], ["mileage_km"], ["licence_plate", "mileage_km", "vin"], "all"]
)
def test_the_report_says_exactly_what_reaches_the_verifier(world, reveal):
    credential, _, verifier = world
    reveal = list(credential.names) if reveal == "all" else reveal
    report = disclosure_report(credential, OWNER, reveal, verifier, at=3)
    assert report.accepted and report.reason == "accepted"
    # the same presentation, made again, is the bytes a verifier receives
    sent = encode(present(credential, OWNER, reveal, verifier="Insurer", challenge=b"x" * 16, at=3))
    for field in credential.fields:
        seen = report.seen[field.name]
        leaf_sent = hash_leaf(field.leaf) in sent
        if field.name in reveal:
            assert seen == "value" and encode(field.value) in sent
        elif seen == "leaf hash (salted)":
            assert leaf_sent, field.name
        else:
            assert seen == "nothing" and not leaf_sent, field.name
    assert report.revealed == tuple(n for n in credential.names if n in reveal)
    table = report.to_df(credential)
    assert list(table.index) == list(credential.names)
    assert (table["value"] != "").sum() == len(reveal)


def test_a_neighbouring_hidden_field_travels_as_a_salted_leaf_hash(world):
    credential, _, verifier = world
    names = list(credential.names)
    i = names.index("mileage_km")
    neighbour = names[i ^ 1]  # its sibling at the bottom of the tree
    report = disclosure_report(credential, OWNER, ["mileage_km"], verifier, at=3)
    assert report.seen[neighbour] == "leaf hash (salted)"
    assert report.proof_hashes == len(credential.fields).bit_length()  # 9 leaves: 4 levels


def test_refusals_and_missing_fields_are_reported(world):
    credential, registry, verifier = world
    report = disclosure_report(
        credential, OWNER, ["licence_plate"], verifier, at=3, needs=["mileage_km", "vin"]
    )
    assert report.accepted and report.missing == ("mileage_km", "vin")
    assert "missing what it needs: mileage_km, vin" in report.summary()
    registry.revoke(ISSUER, credential.credential_id, "written-off")
    report = disclosure_report(credential, OWNER, ["licence_plate"], verifier, at=3)
    assert not report.accepted and report.reason == "revoked"
    assert "refused (revoked)" in report.summary()
    with pytest.raises(ValueError, match="no field colour"):
        disclosure_report(credential, OWNER, ["colour"], verifier, at=3)


def test_the_picker_presents_afresh_on_every_tick(world):
    credential, _, verifier = world
    picker = disclosure_picker(
        credential, OWNER, verifier, at=3, needs=["mileage_km"], start=["licence_plate"]
    )
    boxes = {box.description.rstrip(" *"): box for box in picker.children[0].children[0].children}
    out = picker.children[0].children[1]
    assert "1 field(s) shown, verifier accepted; missing what it needs: mileage_km" in out.value
    before = len(verifier.log)
    boxes["mileage_km"].value = True
    assert "2 field(s) shown, verifier accepted;" in out.value and "48213" in out.value
    assert len(verifier.log) == before + 1  # a real verification, logged by the verifier
    assert "needs this field" in picker.children[1].value
