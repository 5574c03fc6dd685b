"""Lesson 10's cases catch the mistakes students actually make, and say which case failed; the
expected answers of 10.1 are what the library's own ``Membership.validate`` says.

(The solution notebook's own answers passing every case is tested in test_grading.py.)
"""

from __future__ import annotations

from Crypto.Cipher import AES
from Crypto.Hash import SHA256
from Crypto.Protocol.DH import key_agreement
from Crypto.Protocol.KDF import HKDF
from helpers import fails as _fails

from blockkit.encoding import encode
from blockkit.grading import run_cases
from blockkit.grading.catalog.l10_sharing import WRITE_ROLES, reference_write_refusal
from blockkit.grading.registry import get_exercise
from blockkit.hashing import sha256, tagged_hash
from blockkit.merkle import verify_inclusion
from blockkit.sharing.credentials import LEAF_TAG
from blockkit.sharing.identity import load_agreement_public
from blockkit.sharing.private import WRAP_CONTEXT, WrappedKey

# --- 10.1 -------------------------------------------------------------------------------------


def test_10_1_expected_answers_are_the_librarys():
    for case in get_exercise("10.1").cases:
        assert reference_write_refusal(*case.arguments()) == case.expected, case.name


def _refusal(cert, ca_key, crl, height, *, order="normal", roles=WRITE_ROLES):
    """A correct answer with one deliberate change, selected by ``order``."""
    if order != "signature-only" and cert.issuer_key_id != ca_key.address:
        return "wrong-issuer"
    if order == "role-first" and cert.role not in roles:
        return "wrong-role"
    if not ca_key.is_valid_signature(cert.signature, cert.signing_message):
        return "bad-signature"
    if height < cert.valid_from:
        return "not-yet-valid"
    expired = height > cert.valid_until if order == "inclusive" else height >= cert.valid_until
    revocation = crl.entry(cert.serial) if crl is not None else None
    revoked = revocation is not None and (order == "any-height" or revocation.height <= height)
    if order == "revoked-first" and revoked:
        return "revoked"
    if expired:
        return "expired"
    if revoked:
        return "revoked"
    if cert.role not in roles:
        return "wrong-role"
    return None


def test_10_1_wrong_answers():
    _fails("10.1", lambda *a: _refusal(*a, order="signature-only"),
           "signed by another CA, naming this organisation")  # fmt: skip
    _fails("10.1", lambda *a: _refusal(*a, order="inclusive"),
           "at valid_until (the first invalid height)")  # fmt: skip
    _fails("10.1", lambda *a: _refusal(*a, order="any-height"),
           "revoked, but only from a later height")  # fmt: skip
    _fails("10.1", lambda *a: _refusal(*a, order="revoked-first"),
           "expired and revoked: expiry is checked first")  # fmt: skip
    _fails("10.1", lambda *a: _refusal(*a, order="role-first"),
           "a revoked observer: revocation before role")  # fmt: skip
    _fails("10.1", lambda *a: _refusal(*a, roles=("admin", "member", "auditor")),
           "an auditor asks to write")  # fmt: skip

    def crl_must_exist(cert, ca_key, crl, height):
        return _refusal(cert, ca_key, crl.entries and crl, height)  # crashes on None

    _fails("10.1", crl_must_exist, "no revocation list yet (None)")


# --- 10.2 -------------------------------------------------------------------------------------


def _wrap(data_key, reader, recipient, header, ephemeral, *, mistake=""):
    items = [WRAP_CONTEXT, header.collection, header.record_id, header.epoch, reader]
    items += [ephemeral.public_bytes, recipient]
    if mistake == "no-epoch":
        items.remove(header.epoch)
    if mistake == "keys-swapped":
        items[-2:] = [recipient, ephemeral.public_bytes]
    context = encode(items)

    def kdf(secret):
        okm = HKDF(secret, 44, b"", SHA256, context=context)
        return (okm[12:], okm[:12]) if mistake == "split" else (okm[:32], okm[32:])

    kek, nonce = key_agreement(
        eph_priv=ephemeral.ecc, static_pub=load_agreement_public(recipient), kdf=kdf
    )
    ciphertext, tag = AES.new(kek, AES.MODE_GCM, nonce=nonce).encrypt_and_digest(data_key)
    body = ciphertext if mistake == "no-tag" else ciphertext + tag
    encapsulated = recipient if mistake == "recipient-as-ephemeral" else ephemeral.public_bytes
    return WrappedKey(reader, recipient, encapsulated, body)


def test_10_2_right_and_wrong_answers():
    assert run_cases("10.2", _wrap, include_hidden=True).passed
    first = "the reader opens it with unwrap_key"
    for mistake in ("no-epoch", "keys-swapped", "split", "no-tag", "recipient-as-ephemeral"):
        _fails("10.2", lambda *a, m=mistake: _wrap(*a, mistake=m), first)

    def raw_data_key(data_key, reader, recipient, header, ephemeral):
        return WrappedKey(reader, recipient, ephemeral.public_bytes, data_key + bytes(16))

    _fails("10.2", raw_data_key, "a newcomer unseals an old record with it")
    _fails("10.2", lambda *a: _wrap(*a).ciphertext, first)  # not a WrappedKey


# --- 10.3 -------------------------------------------------------------------------------------


def _satisfies(policy, approvals, *, mistake=""):
    if policy[0] == "p":
        _, org, role = policy
        plain = ("admin", "member", "auditor") if mistake == "auditors" else ("admin", "member")
        matches = [
            (o, r)
            for o, r in approvals
            if o == org and (r == role if role and mistake != "any-role" else r in plain)
        ]
        if mistake == "count-approvals":
            return len(matches)
        return bool(matches)
    _, k, parts = policy
    return sum(_satisfies(part, approvals, mistake=mistake) for part in parts) >= k


def test_10_3_wrong_answers():
    assert run_cases("10.3", _satisfies, include_hidden=True).passed
    _fails("10.3", lambda p, a: _satisfies(p, a, mistake="count-approvals"),
           "2 of 3: two members of one organisation count once")  # fmt: skip
    _fails("10.3", lambda p, a: _satisfies(p, a, mistake="auditors"),
           "an auditor does not count for a plain organisation")  # fmt: skip
    _fails("10.3", lambda p, a: _satisfies(p, a, mistake="any-role"),
           "a role leaf is not met by another role")  # fmt: skip

    def flat(policy, approvals):  # treats a nested gate as never satisfied
        if policy[0] == "p":
            return _satisfies(policy, approvals)
        met = [part[0] == "p" and _satisfies(part, approvals) for part in policy[2]]
        return sum(met) >= policy[1]

    _fails("10.3", flat, "nested gates, met")

    def by_organisation(policy, approvals):  # ignores roles altogether
        return _satisfies(policy, [(o, "member") for o, _ in approvals])

    _fails("10.3", by_organisation, "an observer never counts")


# --- 10.4 -------------------------------------------------------------------------------------


def _verify(header, d, issuer_key, *, skip=""):
    if skip != "issuer" and header.issuer_key != issuer_key:
        return False
    if skip != "signature" and not header.issuer_key.is_valid_signature(
        header.signature, header.signing_message
    ):
        return False
    fields = [d.name, d.value] if skip == "salt" else [d.name, d.salt, d.value]
    return verify_inclusion(header.root, tagged_hash(LEAF_TAG, encode(fields)), d.proof)


def test_10_4_wrong_answers():
    assert run_cases("10.4", _verify, include_hidden=True).passed
    _fails("10.4", lambda *a: _verify(*a, skip="issuer"),
           "a credential signed by someone else under the same name")  # fmt: skip
    _fails("10.4", lambda *a: _verify(*a, skip="signature"),
           "a doctored root under the real signature")  # fmt: skip
    _fails("10.4", lambda *a: _verify(*a, skip="salt"), "an honest field (mileage)")

    def plain_sha256(header, d, issuer_key):  # the leaf as a plain hash of the value
        leaf = sha256(encode([d.name, d.salt, d.value]))
        return header.issuer_key == issuer_key and verify_inclusion(header.root, leaf, d.proof)

    _fails("10.4", plain_sha256, "an honest field (mileage)")
