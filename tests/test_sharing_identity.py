"""Organisations, certificate authorities, member certificates and revocation (issue 7, part 1)."""

from __future__ import annotations

import random
from dataclasses import replace

import pytest
from Crypto.Hash import SHA256
from Crypto.Signature import DSS

from blockkit.encoding import encode
from blockkit.errors import InvalidCertificate, InvalidKey
from blockkit.keys import PrivateKey
from blockkit.sharing.identity import (
    FOREVER,
    AgreementKey,
    CertificateAuthority,
    Member,
    MemberCertificate,
    Membership,
    RevocationList,
    load_agreement_public,
)


@pytest.fixture
def world():
    tax = CertificateAuthority.from_seed("tax")
    bank = CertificateAuthority.from_seed("bank")
    membership = Membership.of(tax, bank)
    alice = tax.enrol("alice", "admin", seed="t")
    bob = bank.enrol("bob", "member", seed="t", valid_from=5, valid_until=50)
    for member in (alice, bob):
        membership.register(member.certificate, height=5)
    return tax, bank, membership, alice, bob


def reason(excinfo) -> str:
    return excinfo.value.reason


def sign_as(ca_key: PrivateKey, cert: MemberCertificate) -> MemberCertificate:
    return replace(cert, signature=ca_key.sign(cert.signing_message))


def test_a_valid_member_is_accepted_and_found_by_address_and_by_key(world):
    _tax, _, membership, alice, bob = world
    membership.validate(alice.certificate, height=0)
    assert membership.check_sender(alice.address, height=7) == alice.certificate
    assert membership.check_sender(alice.signing_key.public_key, height=7) == alice.certificate
    assert membership.check_sender(bob.address, height=7, roles=["member"]) == bob.certificate
    assert alice.certificate.cert_id == "tax:1" and alice.certificate.address == alice.address


def test_the_ca_signature_is_real_ecdsa_checked_against_pycryptodome_directly(world):
    tax, _, _, alice, _ = world
    cert = alice.certificate
    verifier = DSS.new(tax._key._key.public_key(), "deterministic-rfc6979")
    verifier.verify(SHA256.new(cert.signing_message), cert.signature)  # raises if not valid
    assert cert.signing_message.startswith(b"blockkit/member-certificate/v1\x00")


def test_an_outsider_is_not_a_member(world):
    *_, membership, _, _ = world
    stranger = PrivateKey.from_seed("stranger")
    with pytest.raises(InvalidCertificate) as excinfo:
        membership.check_sender(stranger.address, height=7)
    assert reason(excinfo) == "not-a-member"
    # A certificate from a CA the network does not trust is refused as well.
    rogue = CertificateAuthority.from_seed("rogue").enrol("mallory", seed="t").certificate
    with pytest.raises(InvalidCertificate) as excinfo:
        membership.validate(rogue, height=7)
    assert reason(excinfo) == "unknown-organisation"
    assert "add_organisation" in str(excinfo.value)


def test_validity_window_is_from_inclusive_until_exclusive(world):
    *_, membership, _, bob = world
    cert = bob.certificate
    assert membership.status(cert, height=4) == "not-yet-valid"
    assert membership.status(cert, height=5) == "valid"
    assert membership.status(cert, height=49) == "valid"
    assert membership.status(cert, height=50) == "expired"
    with pytest.raises(InvalidCertificate) as excinfo:
        membership.check_sender(bob.address, height=50)
    assert reason(excinfo) == "expired"


def test_revocation_takes_effect_at_its_height_and_history_stays_valid(world):
    tax, _, membership, alice, _ = world
    crl = tax.revoke(alice.certificate.serial, height=100, reason="affiliation-changed")
    assert membership.is_valid(alice.certificate, height=100)  # the list is not published yet
    membership.update_crl(crl)
    # A transaction at height 99 was valid and stays valid when the chain is replayed.
    assert membership.check_sender(alice.address, height=99) == alice.certificate
    with pytest.raises(InvalidCertificate) as excinfo:
        membership.check_sender(alice.address, height=100)
    assert reason(excinfo) == "revoked" and "alice" in str(excinfo.value)


def test_a_transaction_signed_under_a_revoked_certificate_is_refused(world):
    tax, _, membership, alice, _ = world
    message = b"transfer 10 to bob"
    signature = alice.sign(message)
    membership.update_crl(tax.revoke(1, height=10, reason="key-compromise"))
    cert = membership.lookup(alice.address)[0]
    cert.public_key.verify(signature, message)  # the signature itself is fine...
    with pytest.raises(InvalidCertificate) as excinfo:  # ...but its signer is no member
        membership.check_sender(cert.public_key, height=10)
    assert reason(excinfo) == "revoked"


def test_a_compromised_key_cannot_come_back_under_a_new_certificate(world):
    tax, _, membership, alice, _ = world
    membership.update_crl(tax.revoke(1, height=10, reason="key-compromise"))
    with pytest.raises(ValueError, match="compromised"):
        tax.issue("alice", "admin", alice.signing_key.public_key, alice.certificate.agreement_key)
    # Even if a CA (or a copy of its key) certified the key again, verifiers refuse it.
    again = sign_as(
        tax._key,
        replace(alice.certificate, serial=99, role="member", valid_from=20),
    )
    with pytest.raises(InvalidCertificate) as excinfo:
        membership.validate(again, height=20)
    assert reason(excinfo) == "key-revoked"
    assert membership.is_valid(again, height=9) is False  # not yet valid then either


def test_a_superseded_certificate_does_not_condemn_its_key(world):
    tax, _, membership, alice, _ = world
    promoted = tax.issue(
        "alice", "auditor", alice.signing_key.public_key, alice.certificate.agreement_key
    )
    membership.update_crl(tax.revoke(1, height=10, reason="superseded"))
    membership.register(promoted, height=10)
    assert membership.check_sender(alice.address, height=10) == promoted
    assert membership.check_sender(alice.address, height=3) == promoted  # the newest valid one


def test_wrong_role_is_refused_with_the_roles_needed(world):
    *_, membership, _, bob = world
    with pytest.raises(InvalidCertificate) as excinfo:
        membership.check_sender(bob.address, height=7, roles=["admin", "auditor"])
    assert reason(excinfo) == "wrong-role"
    assert "admin, auditor" in str(excinfo.value)


def test_forged_and_altered_certificates_are_refused(world):
    _tax, _bank, membership, alice, _ = world
    mallory = PrivateKey.from_seed("mallory")
    forged = sign_as(mallory, replace(alice.certificate, public_key=mallory.public_key))
    with pytest.raises(InvalidCertificate) as excinfo:
        membership.validate(forged, height=7)
    assert reason(excinfo) == "bad-signature"
    # Promoting oneself after issue: the signature no longer covers the fields, even right after
    # the genuine certificate's signature was checked and remembered.
    membership.validate(alice.certificate, height=7)
    with pytest.raises(InvalidCertificate) as excinfo:
        membership.validate(replace(alice.certificate, role="auditor"), height=7)
    assert reason(excinfo) == "bad-signature"


def test_a_ca_cannot_certify_members_of_another_organisation(world):
    tax, bank, membership, _alice, _ = world
    intruder = tax.enrol("eve", seed="t").certificate
    claims_bank = sign_as(tax._key, replace(intruder, organisation="bank", serial=77))
    with pytest.raises(InvalidCertificate) as excinfo:
        membership.validate(claims_bank, height=7)
    assert reason(excinfo) == "wrong-issuer"
    # Claiming the bank CA's key id does not help: tax's key cannot make bank's signature.
    disguised = sign_as(tax._key, replace(claims_bank, issuer_key_id=bank.key_id))
    with pytest.raises(InvalidCertificate) as excinfo:
        membership.validate(disguised, height=7)
    assert reason(excinfo) == "bad-signature"


def test_a_ca_key_is_never_a_member_key(world):
    tax, bank, membership, alice, _ = world
    agreement = AgreementKey.from_seed("x").public_bytes
    with pytest.raises(ValueError, match="CA key cannot be a member key"):
        tax.issue("ca", "admin", tax.public_key, agreement)
    sneaky = sign_as(tax._key, replace(alice.certificate, serial=50, public_key=tax.public_key))
    with pytest.raises(InvalidCertificate) as excinfo:
        membership.validate(sneaky, height=7)
    assert reason(excinfo) == "ca-key-as-member"
    other_ca = sign_as(tax._key, replace(alice.certificate, serial=51, public_key=bank.public_key))
    assert membership.status(other_ca, height=7) == "ca-key-as-member"


def test_a_reused_serial_is_refused(world):
    tax, _, membership, alice, _ = world
    twin = sign_as(tax._key, replace(alice.certificate, subject="alice-twin"))
    with pytest.raises(InvalidCertificate) as excinfo:
        membership.validate(twin, height=7)
    assert reason(excinfo) == "serial-reused"
    # The CA itself never hands out a serial twice.
    serials = [tax.enrol(f"p{i}", seed="t").certificate.serial for i in range(3)]
    assert serials == [2, 3, 4]


def test_revocation_lists_must_be_signed_newer_and_only_grow(world):
    tax, bank, membership, _alice, _ = world
    first = tax.revoke(tax.enrol("p", seed="t").certificate.serial, height=10)
    membership.update_crl(first)
    second = tax.revoke(1, height=20)
    membership.update_crl(second)
    with pytest.raises(InvalidCertificate) as excinfo:  # replaying the older list
        membership.update_crl(first)
    assert reason(excinfo) == "stale-crl"
    with pytest.raises(InvalidCertificate) as excinfo:  # the same list again is no news either
        membership.update_crl(second)
    assert reason(excinfo) == "stale-crl"
    # Un-revoking alice by a higher-numbered list signed by the real CA: refused.
    unrevoke = sign_as(tax._key, replace(second, number=5, entries=second.entries[:1]))
    with pytest.raises(InvalidCertificate) as excinfo:
        membership.update_crl(unrevoke)
    assert reason(excinfo) == "crl-drops-serial"
    # A list signed by another key (the bank's CA, or a thief's) is ignored.
    for key in (bank._key, PrivateKey.from_seed("thief")):
        with pytest.raises(InvalidCertificate) as excinfo:
            membership.update_crl(sign_as(key, replace(second, number=9)))
        assert reason(excinfo) == "bad-crl-signature"
    assert membership.crl("tax") == second


def test_a_revocation_cannot_be_backdated(world):
    tax, _, membership, alice, _ = world
    membership.update_crl(tax.revoke(tax.enrol("p", seed="t").certificate.serial, height=30))
    with pytest.raises(ValueError, match="backdated"):
        tax.revoke(1, height=10)
    from blockkit.sharing.identity import Revocation

    entry = Revocation(1, alice.address, 10, "unspecified")
    current = membership.crl("tax")
    backdated = replace(current, number=2, issued_at=31, entries=(entry, *current.entries))
    with pytest.raises(InvalidCertificate) as excinfo:
        membership.update_crl(sign_as(tax._key, backdated))
    assert reason(excinfo) == "backdated-revocation"


def test_removing_an_organisation_removes_its_members(world):
    _, bank, membership, _alice, bob = world
    membership.remove_organisation("bank")
    assert membership.organisations == ("tax",)
    with pytest.raises(InvalidCertificate) as excinfo:
        membership.check_sender(bob.address, height=7)
    assert reason(excinfo) == "not-a-member"
    with pytest.raises(InvalidCertificate) as excinfo:
        membership.validate(bob.certificate, height=7)
    assert reason(excinfo) == "unknown-organisation"
    membership.add_organisation("bank", bank.public_key, bank.crl)
    assert membership.is_valid(bob.certificate, height=7)
    with pytest.raises(ValueError, match="already uses this CA key"):
        membership.add_organisation("bank2", bank.public_key)


def test_every_single_byte_flip_of_a_certificate_is_rejected(world):
    tax, _, _, alice, _ = world
    fresh = Membership.of(tax)
    data = encode(alice.certificate.to_canonical())
    assert MemberCertificate.decode(data) == alice.certificate
    for i in range(len(data)):
        flipped = bytearray(data)
        flipped[i] ^= 0x01
        try:
            cert = MemberCertificate.decode(bytes(flipped))
        except InvalidCertificate as exc:
            assert exc.reason == "malformed"
            continue
        assert cert != alice.certificate
        assert not fresh.is_valid(cert, height=7), f"flip at byte {i} accepted"


def test_member_keys_must_match_the_certificate_and_keys_are_reproducible():
    tax = CertificateAuthority.from_seed("tax")
    alice = tax.enrol("alice", seed="1")
    again = CertificateAuthority.from_seed("tax").enrol("alice", seed="1")
    assert again.certificate == alice.certificate
    assert CertificateAuthority.from_seed("tax").enrol("alice", seed="2").address != alice.address
    seeded = [tax.enrol("r", rng=random.Random(3)).agreement_key.public_bytes for _ in range(2)]
    assert seeded[0] == seeded[1]
    assert tax.enrol("os").address != tax.enrol("os").address  # fresh OS randomness
    with pytest.raises(ValueError, match="signing key does not match"):
        Member(alice.certificate, PrivateKey.from_seed("other"), alice.agreement_key)
    with pytest.raises(ValueError, match="agreement key does not match"):
        Member(alice.certificate, alice.signing_key, AgreementKey.from_seed("other"))
    assert "AgreementKey(P-256" in repr(alice.agreement_key) and "secret" not in repr(alice)


def test_bad_arguments_say_what_to_do():
    tax = CertificateAuthority.from_seed("tax")
    with pytest.raises(ValueError, match="role must be one of"):
        tax.enrol("x", "superuser", seed="1")
    with pytest.raises(ValueError, match="valid_until must be after"):
        tax.enrol("x", seed="1", valid_from=10, valid_until=10)
    with pytest.raises(ValueError, match="organisation must be"):
        CertificateAuthority.from_seed("a:b")
    with pytest.raises(InvalidKey):
        load_agreement_public(b"\x02" + (1).to_bytes(32, "big"))  # x = 1 is not on P-256
    serial = tax.enrol("x", seed="1").certificate.serial
    tax.revoke(serial, height=1)
    with pytest.raises(ValueError, match="already revoked"):
        tax.revoke(serial, height=2)
    with pytest.raises(ValueError, match="no certificate with serial 99"):
        tax.revoke(99, height=2)


def test_members_table_for_lessons(world):
    tax, _, membership, _alice, bob = world
    membership.update_crl(tax.revoke(1, height=8))
    table = membership.members_df(height=9)
    assert list(table["subject"]) == ["bob", "alice"]  # sorted by organisation, serial
    assert list(table["status"]) == ["valid", "revoked"]
    assert table.loc[1, "valid_until"] == "forever" and bob.certificate.valid_until < FOREVER
    assert "status" not in membership.members_df().columns


def test_a_revocation_list_survives_canonical_bytes_and_any_flip_is_refused(world):
    tax, _, _, alice, _ = world
    crl = tax.revoke(alice.certificate.serial, height=3, reason="key-compromise")
    data = encode(crl.to_canonical())
    assert RevocationList.decode(data) == crl
    for i in range(len(data)):
        fresh = Membership.of(CertificateAuthority.from_seed("tax"))
        try:
            copy = RevocationList.decode(data[:i] + bytes([data[i] ^ 1]) + data[i + 1 :])
        except InvalidCertificate:
            continue
        with pytest.raises(InvalidCertificate):
            fresh.update_crl(copy)


def test_keys_and_members_survive_pickling_for_the_grader():
    """The grader pickles a case's arguments (members, agreement keys) into a student's kernel."""
    import pickle

    member = CertificateAuthority.from_seed("tax", "pickle").enrol("ann", seed="pickle")
    back = pickle.loads(pickle.dumps(member))
    assert back.certificate == member.certificate
    assert back.agreement_key.public_bytes == member.agreement_key.public_bytes
    assert int(back.agreement_key.ecc.d) == int(member.agreement_key.ecc.d)
    assert member.certificate.public_key.is_valid_signature(back.signing_key.sign(b"m"), b"m")
