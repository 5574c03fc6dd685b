"""Verifiable credentials with selective disclosure: every check a verifier makes can fail, and
fails with its own reason; honest presentations pass; hidden fields never leave the holder; the
anchor-and-revocation contract obeys its rules on a LocalHost and on a real Chain."""

from __future__ import annotations

import dataclasses
import random

import pytest
from helpers import ALICE, BOB, CAROL, new_chain

from blockkit.contracts import LocalHost
from blockkit.encoding import encode
from blockkit.errors import EncodingError, InvalidCredential, Revert
from blockkit.hashing import tagged_hash
from blockkit.keys import PrivateKey
from blockkit.merkle import MerkleProof, hash_leaf
from blockkit.sharing.credentials import (
    DIPLOMA_VIEWS,
    LEAF_TAG,
    SALT_SIZE,
    VEHICLE_VIEWS,
    Credential,
    CredentialRegistry,
    CredentialVerifier,
    Disclosure,
    Presentation,
    credential_df,
    diploma_record,
    issue_credential,
    present,
    present_view,
    presentation_df,
    vehicle_record,
    view_fields,
    views_df,
)

SEED = 7
DMV = PrivateKey.from_seed("vehicle authority")
UNIVERSITY = PrivateKey.from_seed("university", suite="ed25519")
OWNER = PrivateKey.from_seed("car owner")
GRADUATE = PrivateKey.from_seed("graduate", suite="secp256k1")
THIEF = PrivateKey.from_seed("thief")
TRUSTED = {"Vehicle Authority": DMV.public_key, "Beihang University": UNIVERSITY.public_key}


def car(key=DMV, *, name="Vehicle Authority", cid="car-1", seed=SEED, expires_at=1_000, **fields):
    return issue_credential(
        key, issuer_name=name, holder=OWNER.public_key, credential_id=cid, kind="vehicle",
        fields=vehicle_record(**fields), issued_at=10, expires_at=expires_at,
        rng=random.Random(seed),
    )  # fmt: skip


def diploma(seed=SEED):
    return issue_credential(
        UNIVERSITY, issuer_name="Beihang University", holder=GRADUATE.public_key,
        credential_id="MEng-2025-0042", kind="diploma", fields=diploma_record(), issued_at=10,
        rng=random.Random(seed),
    )  # fmt: skip


@pytest.fixture
def host():
    return LocalHost()


@pytest.fixture
def registry(host):
    return CredentialRegistry.deploy(host, CAROL)


@pytest.fixture
def credential(registry):
    cred = car()
    registry.anchor(DMV, cred)
    return cred


def verifier(registry, name="City Insurance", seed=SEED):
    return CredentialVerifier(name, TRUSTED, registry, rng=random.Random(seed))


def show(cred, v, reveal=("licence_plate", "mileage_km"), key=OWNER, at=20):
    return present(cred, key, list(reveal), verifier=v.name, challenge=v.challenge(), at=at)


def rejected(v, presentation, reason, at=20):
    """Assert ``v`` refuses ``presentation`` with ``reason``; return the error's message."""
    with pytest.raises(InvalidCredential) as info:
        v.verify(presentation, at)
    assert info.value.reason == reason, str(info.value)
    assert v.log[-1].outcome == reason
    return str(info.value)


def resign(p, key=OWNER, **changes):
    """``p`` with ``changes``, signed again by ``key``: the holder (or a thief) re-signs."""
    changed = dataclasses.replace(p, **changes)
    return dataclasses.replace(changed, holder_signature=key.sign(changed.signing_message))


def with_disclosure(p, index, **changes):
    items = list(p.disclosures)
    items[index] = dataclasses.replace(items[index], **changes)
    return dataclasses.replace(p, disclosures=tuple(items))


# --- issuing ----------------------------------------------------------------------------------


def test_issued_credential_signs_a_root_over_salted_sorted_leaves(credential):
    credential.check()
    header = credential.header
    assert credential.names == tuple(sorted(vehicle_record()))
    assert header.leaf_count == len(vehicle_record())
    assert all(len(f.salt) == SALT_SIZE for f in credential.fields)
    assert len({f.salt for f in credential.fields}) == len(credential.fields)
    for f in credential.fields:  # the documented leaf formula, recomputed by hand
        assert f.leaf == tagged_hash(b"blockkit/credential-leaf", encode([f.name, f.salt, f.value]))
    # The signed message is the documented list, under the issuer domain.
    expected = [
        "car-1", "vehicle", "Vehicle Authority", DMV.public_key, OWNER.public_key, header.root,
        9, 10, 1_000,
    ]  # fmt: skip
    assert header.signing_message == b"blockkit/credential-header/v1\x00" + encode(expected)
    DMV.public_key.verify(header.signature, header.signing_message)
    assert credential.values == vehicle_record()


def test_issuing_is_deterministic_with_a_seed_and_random_without():
    assert car(seed=1).encoded == car(seed=1).encoded
    assert car(seed=1).header.root != car(seed=2).header.root
    unseeded = [car(seed=None) for _ in range(2)]
    assert unseeded[0].fields[0].salt != unseeded[1].fields[0].salt


def test_a_seeded_presentation_reproduces_byte_for_byte(registry):
    def run():
        v = verifier(registry, seed=3)
        return present_view(car(), OWNER, "insurer", VEHICLE_VIEWS, verifier=v.name,
                            challenge=v.challenge(), at=20).encoded  # fmt: skip

    assert run() == run()


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"fields": {"mileage": 12.5}}, "cannot be signed"),
        ({"fields": {}}, "non-empty"),
        ({"fields": {"": 1}}, "field names"),
        ({"expires_at": 5}, "after issued_at"),
        ({"issued_at": -1}, "issued_at"),
        ({"credential_id": ""}, "credential_id"),
    ],
)
def test_issuing_refuses_bad_arguments_with_advice(changes, message):
    arguments = dict(
        issuer_name="X", holder=OWNER.public_key, credential_id="c", kind="k",
        fields={"a": 1}, issued_at=10,
    )  # fmt: skip
    arguments.update(changes)
    with pytest.raises(ValueError, match=message):
        issue_credential(DMV, **arguments)


def test_a_tampered_credential_fails_its_holders_check():
    cred = car()
    altered = Credential(
        cred.header, (dataclasses.replace(cred.fields[0], value=0), *cred.fields[1:])
    )
    with pytest.raises(InvalidCredential) as info:
        altered.check()
    assert info.value.reason == "bad-proof"
    forged = Credential(dataclasses.replace(cred.header, expires_at=9_999), cred.fields)
    with pytest.raises(InvalidCredential) as info:
        forged.check()
    assert info.value.reason == "bad-issuer-signature"


def test_flipping_any_byte_of_a_stored_credential_is_detected():
    data = car().encoded
    assert Credential.decode(data).encoded == data
    for i in range(len(data)):
        mutated = bytearray(data)
        mutated[i] ^= 0x01
        with pytest.raises((EncodingError, InvalidCredential)):
            Credential.decode(bytes(mutated))


# --- honest presentations: each role's view ---------------------------------------------------


@pytest.mark.parametrize("role", sorted(VEHICLE_VIEWS))
def test_each_role_sees_exactly_its_view_of_the_vehicle(registry, credential, role):
    v = verifier(registry, name=f"{role} office")
    p = present_view(
        credential, OWNER, role, VEHICLE_VIEWS, verifier=v.name, challenge=v.challenge(), at=20
    )
    seen = v.verify(p.encoded, at=20)  # over the wire, as bytes
    expected = vehicle_record() if role == "owner" else {
        name: vehicle_record()[name] for name in VEHICLE_VIEWS[role]
    }  # fmt: skip
    assert seen == expected
    assert v.log[-1].outcome == "accepted" and set(v.log[-1].revealed) == set(expected)


@pytest.mark.parametrize("role", sorted(VEHICLE_VIEWS))
def test_hidden_fields_never_appear_in_the_presentation_bytes(credential, role):
    p = present_view(credential, OWNER, role, VEHICLE_VIEWS, verifier="v", challenge=b"c", at=20)
    data = p.encoded
    shown = set(view_fields(credential, role, VEHICLE_VIEWS))
    for f in credential.fields:
        visible = f.name in shown
        assert (encode(f.name) in data) == visible, f.name
        assert (f.salt in data) == visible, f.name
        if isinstance(f.value, str) or f.name in ("mileage_km", "repair_history"):
            assert (encode(f.value) in data) == visible, f.name
    if role == "police":  # a repair entry's parts are hidden too, not only the whole list
        assert b"Chaoyang" not in data and b"48213" not in data


def test_a_diploma_shows_an_employer_no_grade_and_no_birth_year(registry):
    cred = diploma()
    registry.anchor(UNIVERSITY, cred)
    v = verifier(registry, name="Employer Ltd")
    p = present_view(
        cred, GRADUATE, "employer", DIPLOMA_VIEWS, verifier=v.name, challenge=v.challenge(), at=30
    )
    assert v.verify(p, 30) == {
        "degree": "MEng Software Engineering", "name": "Zhang Min",
        "university": "Beihang University", "year": 2025,
    }  # fmt: skip


def test_revealing_nothing_proves_possession_only(registry, credential):
    v = verifier(registry)
    assert v.verify(show(credential, v, reveal=()), 20) == {}


def test_salts_defeat_guessing_a_hidden_birth_year(registry):
    cred = diploma()
    p = present(cred, GRADUATE, ["name"], verifier="v", challenge=b"c", at=30)
    siblings = {s for d in p.disclosures for s in d.proof.siblings}
    # The sibling of "name" (index 3 of 6: birth_year, degree, grade, name, university, year) is
    # grade's leaf; recompute grade's and birth year's leaves as a guesser would:
    right = {f.name: hash_leaf(f.leaf) for f in cred.fields}
    assert right["grade"] in siblings  # the proof really carries hidden leaves' hashes ...
    for salt in (b"", bytes(SALT_SIZE)):  # ... yet without the salt no guess matches them
        guesses = {
            hash_leaf(tagged_hash(LEAF_TAG, encode([name, salt, value])))
            for name in ("birth_year", "grade")
            for value in [*range(1900, 2030), "Distinction", "Merit", "Pass"]
        }
        assert not guesses & siblings
    # ... whereas with the salt (which only the holder has) the guess is confirmed at once.
    grade = cred.fields[cred.names.index("grade")]
    assert (
        hash_leaf(tagged_hash(LEAF_TAG, encode(["grade", grade.salt, "Distinction"]))) in siblings
    )


# --- every rejection, with its reason ----------------------------------------------------------


def test_an_altered_revealed_value_is_a_bad_proof(registry, credential):
    v = verifier(registry)
    p = show(credential, v)
    index = p.revealed_names.index("mileage_km")
    rejected(v, with_disclosure(p, index, value=20_000), "bad-proof")
    # The holder re-signing the lie changes nothing: the issuer's root does not cover it.
    rejected(v, resign(with_disclosure(p, index, value=20_000)), "bad-proof")


def test_an_altered_salt_is_a_bad_proof(registry, credential):
    v = verifier(registry)
    p = show(credential, v)
    salt = bytearray(p.disclosures[0].salt)
    salt[-1] ^= 0xFF
    rejected(v, with_disclosure(p, 0, salt=bytes(salt)), "bad-proof")


def test_an_added_unsigned_field_is_a_bad_proof(registry, credential):
    v = verifier(registry)
    p = show(credential, v)
    fake = Disclosure("clean_record", True, bytes(SALT_SIZE), p.disclosures[0].proof)
    rejected(v, resign(p, disclosures=(*p.disclosures, fake)), "bad-proof")
    # Claiming a real position, with real siblings, does not help either.
    hidden = MerkleProof(1, p.header.leaf_count, p.disclosures[0].proof.siblings)
    rejected(v, resign(p, disclosures=(dataclasses.replace(fake, proof=hidden),)), "bad-proof")
    # Nor does showing the same field twice.
    twice = (p.disclosures[0], p.disclosures[0])
    rejected(v, resign(p, disclosures=twice), "bad-proof")


def test_a_forged_issuer_signature_is_refused(registry, credential):
    v = verifier(registry)
    # A forger signs with its own key but claims the authority's name and key.
    forged = car(THIEF)
    header = dataclasses.replace(forged.header, issuer_key=DMV.public_key)
    p = show(Credential(header, forged.fields), v)
    rejected(v, p, "bad-issuer-signature")
    # The real header with one signed field changed (a longer validity) fails the same way.
    p = show(credential, v)
    longer = dataclasses.replace(p.header, expires_at=10**9)
    rejected(v, resign(p, header=longer), "bad-issuer-signature")


def test_an_untrusted_issuer_is_refused(registry):
    v = verifier(registry)
    unknown = car(THIEF, name="Garage Certificates Inc")
    assert "does not trust" in rejected(v, show(unknown, v), "untrusted-issuer")
    impostor = car(THIEF)  # the trusted name, another key
    assert "someone else" in rejected(v, show(impostor, v), "untrusted-issuer")


def test_a_credential_that_is_not_anchored_is_refused(registry):
    v = verifier(registry)
    rejected(v, show(car(cid="never-anchored"), v), "not-anchored")


def test_a_credential_whose_anchored_root_differs_is_refused(registry, credential):
    v = verifier(registry)
    # The authority issues another credential under the same id (a different mileage).
    other = car(mileage_km=1_000)
    assert "not the credential the issuer anchored" in rejected(v, show(other, v), "not-anchored")


def test_an_anchor_made_by_someone_else_does_not_count(host, registry):
    cred = car(cid="car-2")
    # The thief anchors the right root under the right id, but from its own address.
    result = host.transact(
        THIEF.address, registry.address, "anchor", cred.credential_id, cred.header.root
    )
    assert result.ok and registry.lookup(THIEF.address, "car-2").root == cred.header.root
    v = verifier(registry)
    rejected(v, show(cred, v), "not-anchored")


def test_a_revoked_credential_is_refused(registry, credential):
    v = verifier(registry)
    assert v.verify(show(credential, v), 20)
    registry.revoke(DMV, "car-1", "vehicle written off")
    assert "written off" in rejected(v, show(credential, v), "revoked")


def test_an_expired_or_not_yet_valid_credential_is_refused(registry, credential):
    v = verifier(registry)
    rejected(v, show(credential, v), "expired", at=1_000)
    rejected(v, show(credential, v), "not-yet-valid", at=9)
    assert v.verify(show(credential, v), 999)


def test_a_thief_cannot_present_a_stolen_credential_or_presentation(registry, credential):
    v = verifier(registry)
    with pytest.raises(ValueError, match="issued to"):
        show(credential, v, key=THIEF)
    # Built by hand: the holder's fields and salts, the thief's signature.
    p = resign(show(credential, v), key=THIEF)
    assert "holder" in rejected(v, p, "bad-holder-signature")
    # A stolen presentation redirected to the thief's own verifier breaks the holder signature.
    stolen = show(credential, v)
    rejected(v, dataclasses.replace(stolen, verifier="Shady Dealer"), "bad-holder-signature")
    rejected(v, dataclasses.replace(stolen, presented_at=21), "bad-holder-signature")
    # Nor can the thief answer a fresh challenge of its own with the holder's old signature.
    fresh = v.challenge()
    rejected(v, dataclasses.replace(stolen, challenge=fresh), "bad-holder-signature")
    assert v.verify(stolen, 20)  # the holder's own presentation, untouched, is still good


def test_a_replayed_presentation_is_refused(registry, credential):
    v = verifier(registry)
    p = show(credential, v)
    assert v.verify(p, 20)
    rejected(v, p, "replayed")


def test_a_presentation_for_another_verifier_is_refused(registry, credential):
    bank = verifier(registry, name="Bank")
    insurer = verifier(registry, name="City Insurance")
    p = show(credential, bank)
    rejected(insurer, p, "wrong-verifier")
    assert bank.verify(p, 20)  # the intended verifier still accepts it, once


def test_an_unknown_challenge_is_refused(registry, credential):
    v = verifier(registry)
    made_up = present(credential, OWNER, ["vin"], verifier=v.name, challenge=b"\x00" * 32, at=20)
    rejected(v, made_up, "unknown-challenge")
    # A challenge from another verifier instance of the same name is unknown here too.
    twin = verifier(registry, seed=99)
    rejected(v, show(credential, twin), "unknown-challenge")


def test_a_challenge_is_used_up_even_when_a_later_check_refuses(registry, credential):
    v = verifier(registry)
    p = show(credential, v)
    rejected(v, p, "expired", at=5_000)
    rejected(v, p, "replayed", at=20)


def test_flipping_any_byte_of_a_presentation_is_rejected(registry, credential):
    v = verifier(registry)
    p = show(credential, v, reveal=("licence_plate", "repair_history"))
    data = p.encoded
    assert Presentation.decode(data) == p
    for i in range(len(data)):
        mutated = bytearray(data)
        mutated[i] ^= 0x01
        with pytest.raises(InvalidCredential):
            v.verify(bytes(mutated), 20)
    assert v.verify(data, 20)  # no mutation used up the challenge
    outcomes = {r.outcome for r in v.log}
    assert {"malformed", "bad-proof", "bad-holder-signature", "bad-issuer-signature"} <= outcomes


def test_verify_refuses_what_is_not_a_presentation(registry):
    v = verifier(registry)
    rejected(v, b"not a presentation", "malformed")
    rejected(v, encode(["x"]), "malformed")
    with pytest.raises(ValueError, match="at must be"):
        v.verify(b"", -1)


def test_present_refuses_bad_arguments(credential):
    with pytest.raises(ValueError, match="choose from"):
        present(credential, OWNER, ["colour"], verifier="v", challenge=b"c", at=1)
    with pytest.raises(TypeError, match="list of field names"):
        present(credential, OWNER, "vin", verifier="v", challenge=b"c", at=1)
    with pytest.raises(ValueError, match="challenge"):
        present(credential, OWNER, ["vin"], verifier="v", challenge=b"", at=1)
    with pytest.raises(ValueError, match="no role"):
        view_fields(credential, "mechanic", VEHICLE_VIEWS)
    with pytest.raises(ValueError, match="lacks"):
        view_fields(credential, "employer", DIPLOMA_VIEWS)


def test_challenges_are_reproducible_with_a_seed_and_never_repeat(registry):
    first = [verifier(registry, seed=5).challenge() for _ in range(2)]
    assert first[0] == first[1]
    v = verifier(registry, seed=5)
    assert len({v.challenge() for _ in range(50)}) == 50


# --- tables ------------------------------------------------------------------------------------


def test_tables_for_lessons(registry, credential):
    v = verifier(registry)
    p = present_view(
        credential, OWNER, "police", VEHICLE_VIEWS, verifier=v.name, challenge=v.challenge(), at=20
    )
    table = presentation_df(p)
    assert len(table) == credential.header.leaf_count
    assert sorted(table[table.field != "hidden"].field) == sorted(VEHICLE_VIEWS["police"])
    assert list(credential_df(credential).field) == list(credential.names)
    grid = views_df(credential, VEHICLE_VIEWS)
    assert grid.loc["mileage_km", "insurer"] == "✓" and grid.loc["mileage_km", "police"] == ""
    v.verify(p, 20)
    rejected(v, p, "replayed")
    assert list(v.log_df().outcome) == ["accepted", "replayed"]


# --- the anchor-and-revocation contract --------------------------------------------------------


def test_the_registry_on_a_local_host_obeys_its_rules(host, registry, credential):
    status = registry.lookup(DMV.public_key, "car-1")
    assert status.root == credential.header.root and not status.revoked
    assert registry.lookup(THIEF.address, "car-1") is None
    with pytest.raises(Revert, match="only the issuer who anchored"):
        registry.revoke(THIEF, "car-1", "I say so")
    assert not registry.lookup(DMV.address, "car-1").revoked
    with pytest.raises(Revert, match="already anchored"):
        registry.anchor(DMV, credential)
    with pytest.raises(ValueError, match="key that signed"):
        registry.anchor(THIEF, credential)
    registry.revoke(DMV, "car-1", "stolen vehicle")
    status = registry.lookup(DMV.address, "car-1")
    assert status.revoked and status.reason == "stolen vehicle"
    with pytest.raises(Revert, match="already revoked"):
        registry.revoke(DMV, "car-1", "again")
    assert [e.name for e in host.events] == ["Anchored", "Revoked"]


def test_the_registry_on_a_chain_anchors_verifies_and_revokes_by_transactions():
    chain = new_chain()
    registry = CredentialRegistry.deploy(chain, CAROL)
    cred = issue_credential(
        ALICE, issuer_name="Vehicle Authority", holder=OWNER.public_key, credential_id="car-9",
        kind="vehicle", fields=vehicle_record(), issued_at=1, rng=random.Random(SEED),
    )  # fmt: skip
    registry.anchor(ALICE, cred)
    assert chain.height == 2 and chain.storage(registry.address)["total"] == 1
    status = registry.lookup(ALICE.public_key, "car-9")
    assert status.root == cred.header.root and status.anchored_at == 2

    v = CredentialVerifier(
        "Police", {"Vehicle Authority": ALICE.public_key}, registry, rng=random.Random(1)
    )
    p = present_view(cred, OWNER, "police", VEHICLE_VIEWS, verifier="Police",
                     challenge=v.challenge(), at=5)  # fmt: skip
    assert v.verify(p, 5) == {k: vehicle_record()[k] for k in VEHICLE_VIEWS["police"]}

    with pytest.raises(Revert, match="only the issuer who anchored"):
        registry.revoke(BOB, "car-9", "not mine to revoke")
    assert not registry.lookup(ALICE.address, "car-9").revoked
    registry.revoke(ALICE, "car-9", "plates cancelled")
    assert registry.lookup(ALICE.address, "car-9").revoked_at == chain.height
    p = present_view(cred, OWNER, "police", VEHICLE_VIEWS, verifier="Police",
                     challenge=v.challenge(), at=6)  # fmt: skip
    assert "plates cancelled" in rejected(v, p, "revoked", at=6)
    assert [e.event.name for e in chain.events(registry.address)] == ["Anchored", "Revoked"]


def test_the_registry_on_a_chain_can_hand_transactions_to_a_mempool_or_network():
    chain = new_chain()
    sent = []

    def submit(tx):
        sent.append(tx)
        block = chain.mine_block([tx], proposer=CAROL.address,
                                 timestamp=chain.head.header.timestamp + 10)  # fmt: skip
        chain.add_block(block)

    registry = CredentialRegistry.deploy(chain, CAROL, submit=submit)
    registry.anchor(ALICE, car(ALICE))
    assert [tx.sender for tx in sent] == [CAROL.address, ALICE.address]


def test_any_digest_can_be_anchored_once_and_revoked(registry):
    digest = tagged_hash(b"test/evidence", b"tax record of Acme")
    registry.anchor_digest(DMV, "evidence/APP-1", digest)
    entry = registry.lookup(DMV.public_key, "evidence/APP-1")
    assert entry.root == digest and not entry.revoked
    assert registry.lookup(OWNER.public_key, "evidence/APP-1") is None  # per anchoring address
    with pytest.raises(Revert, match="already anchored"):
        registry.anchor_digest(DMV, "evidence/APP-1", bytes(32))
    with pytest.raises(Revert, match="32-byte"):
        registry.anchor_digest(DMV, "evidence/APP-2", b"short")
    registry.revoke(DMV, "evidence/APP-1", "superseded")
    assert registry.lookup(DMV.public_key, "evidence/APP-1").revoked
