"""Private data: sealed off chain, hash on chain, keys wrapped per reader (issue 7, part 3)."""

from __future__ import annotations

import random
from dataclasses import replace

import pytest
from Crypto.Cipher import AES

from blockkit.encoding import decode, encode
from blockkit.errors import AccessDenied, InvalidCertificate, TamperedData
from blockkit.hashing import tagged_hash
from blockkit.sharing.identity import AgreementKey, CertificateAuthority, Membership
from blockkit.sharing.private import (
    PrivateCollection,
    RecordExpired,
    SealedRecord,
    UnknownRecord,
    content_hash,
    seal,
    unseal,
    unwrap_key,
    verify_record,
)

ORGS = ("tax", "bank", "insurer")
SECRET = b"loan 4711: 250000 EUR to Mustermann GmbH"


@pytest.fixture
def net():
    cas = {org: CertificateAuthority.from_seed(org) for org in ORGS}
    membership = Membership.of(*cas.values())
    people = {}
    for org, ca in cas.items():
        for name, role in (("ann", "admin"), ("ben", "member"), ("oli", "observer")):
            person = ca.enrol(name, role, seed="s")
            membership.register(person.certificate, height=0)
            people[f"{org}.{name}"] = person
    return cas, membership, people


def collection(net, orgs=("tax", "bank"), seed=1, **kwargs):
    _, membership, _ = net
    return PrivateCollection("loans", membership, orgs, rng=random.Random(seed), **kwargs)


def flip(data: bytes, i: int = 0) -> bytes:
    return data[:i] + bytes([data[i] ^ 1]) + data[i + 1 :]


def test_members_read_and_the_ciphertext_is_real_aes_gcm(net):
    _, _, p = net
    col = collection(net)
    onchain = col.put("r1", SECRET, p["bank.ben"], height=1)
    assert col.read("r1", p["tax.ann"], height=2) == SECRET
    assert col.read("r1", p["bank.ben"], height=2, onchain_hash=onchain) == SECRET
    sealed = col.stores["tax"]["r1"]
    assert SECRET not in encode(sealed.to_canonical())  # nothing readable off chain
    assert col.stores["bank"]["r1"] is sealed and "r1" not in col.stores.get("insurer", {})
    assert set(sealed.readers) == {"bank:1", "bank:2", "tax:1", "tax:2"}  # observers get no key
    # The reader's data key decrypts the envelope with pycryptodome used directly.
    wrapped = next(w for w in sealed.wrapped_keys if w.reader == "tax:1")
    data_key = unwrap_key(wrapped, p["tax.ann"].agreement_key, header=sealed.header)
    cipher = AES.new(data_key, AES.MODE_GCM, nonce=sealed.nonce)
    cipher.update(sealed.header.associated_data)
    salt, plaintext = decode(cipher.decrypt_and_verify(sealed.ciphertext, sealed.tag))
    assert plaintext == SECRET and sealed.header.content_hash == content_hash(salt, SECRET)


def test_the_onchain_hash_is_a_tagged_hash_of_the_whole_envelope(net):
    _, _, p = net
    col = collection(net)
    onchain = col.put("r1", SECRET, p["bank.ben"], height=1)
    sealed = col.stores["tax"]["r1"]
    assert onchain == tagged_hash(b"blockkit/private/record", encode(sealed.to_canonical()))
    assert SealedRecord.decode(encode(sealed.to_canonical())) == sealed
    assert col.verify("r1", onchain) == ("bank", "tax")  # anyone, without a key


def test_an_outsider_is_refused_and_holds_only_the_hash(net):
    _, _, p = net
    col = collection(net)
    col.put("r1", SECRET, p["bank.ben"], height=1)
    with pytest.raises(AccessDenied) as excinfo:
        col.read("r1", p["insurer.ann"], height=2)
    assert excinfo.value.reason == "outsider"
    with pytest.raises(AccessDenied) as excinfo:
        col.put("r2", b"x", p["insurer.ann"], height=2)
    assert excinfo.value.reason == "outsider"
    # Even holding a stolen copy, the insurer's key opens nothing.
    stolen = col.stores["bank"]["r1"]
    with pytest.raises(AccessDenied) as excinfo:
        unseal(stolen, "insurer:1", p["insurer.ann"].agreement_key)
    assert excinfo.value.reason == "not-a-reader"


def test_roles_observers_do_not_read_auditors_do_not_write(net):
    cas, membership, p = net
    col = collection(net)
    col.put("r1", SECRET, p["tax.ann"], height=1)
    with pytest.raises(AccessDenied) as excinfo:
        col.read("r1", p["tax.oli"], height=2)
    assert excinfo.value.reason == "wrong-role" and "observer" in str(excinfo.value)
    auditor = cas["tax"].enrol("aud", "auditor", seed="s")
    membership.register(auditor.certificate, height=2)
    with pytest.raises(AccessDenied) as excinfo:
        col.put("r2", b"x", auditor, height=2)
    assert excinfo.value.reason == "wrong-role"
    col.put("r3", b"audit me", p["bank.ann"], height=3)
    assert col.read("r3", auditor, height=3) == b"audit me"
    with pytest.raises(AccessDenied) as excinfo:  # enrolled after r1 was sealed
        col.read("r1", auditor, height=3)
    assert excinfo.value.reason == "not-a-reader"


def test_a_revoked_member_can_neither_read_nor_write_nor_receive_new_keys(net):
    cas, membership, p = net
    col = collection(net)
    col.put("r1", SECRET, p["tax.ann"], height=1)
    membership.update_crl(cas["tax"].revoke(2, height=5, reason="affiliation-changed"))
    for action in (
        lambda: col.read("r1", p["tax.ben"], height=5),
        lambda: col.put("r2", b"x", p["tax.ben"], height=5),
    ):
        with pytest.raises(InvalidCertificate) as excinfo:
            action()
        assert excinfo.value.reason == "revoked"
    col.put("r3", b"after", p["tax.ann"], height=6)
    assert "tax:2" not in col.stores["tax"]["r3"].readers
    with pytest.raises(AccessDenied):  # the keys it holds open nothing new
        unseal(col.stores["tax"]["r3"], "tax:2", p["tax.ben"].agreement_key)


def test_a_removed_member_keeps_the_past_but_cannot_read_anything_new(net):
    _, _, p = net
    col = collection(net, orgs=ORGS)
    col.put("old", b"before removal", p["bank.ann"], height=1)
    assert col.remove_member("insurer", height=10) == 1
    onchain = col.put("new", b"after removal", p["bank.ann"], height=11)
    assert col.stores["bank"]["new"].header.epoch == 1
    insurer = [p["insurer.ann"], p["insurer.ben"]]
    # Honest limit: what was shared stays shared.
    assert col.read("old", insurer[0], height=12) == b"before removal"
    with pytest.raises(AccessDenied) as excinfo:
        col.read("new", insurer[0], height=12)
    assert excinfo.value.reason == "removed-member"
    with pytest.raises(AccessDenied) as excinfo:
        col.put("mine", b"x", insurer[0], height=12)
    assert excinfo.value.reason == "removed-member"
    # Give it every private key it ever held and a copy of the new envelope: still nothing.
    stolen = col.stores["bank"]["new"]
    verify_record(stolen, onchain)  # it can check the copy, it cannot read it
    assert not any(reader.startswith("insurer:") for reader in stolen.readers)
    for member in insurer:
        with pytest.raises(AccessDenied) as excinfo:
            unseal(stolen, member.cert_id, member.agreement_key)
        assert excinfo.value.reason == "not-a-reader"
        for wrapped in stolen.wrapped_keys:
            with pytest.raises(AccessDenied) as excinfo:  # someone else's wrapped key
                unwrap_key(wrapped, member.agreement_key, header=stolen.header)
            assert excinfo.value.reason == "wrong-key"
            # Claiming to be the recipient does not help: the ECDH secret differs.
            claimed = replace(wrapped, recipient=member.agreement_key.public_bytes)
            with pytest.raises(TamperedData):
                unwrap_key(claimed, member.agreement_key, header=stolen.header)
    # Coming back starts another epoch; records written while it was away stay closed.
    col.add_member("insurer", height=20)
    col.put("back", b"welcome back", p["tax.ann"], height=21)
    assert col.read("back", insurer[1], height=21) == b"welcome back"
    with pytest.raises(AccessDenied):
        col.read("new", insurer[1], height=21)


def test_a_member_that_joins_later_does_not_see_history(net):
    _, _, p = net
    col = collection(net)
    col.put("r1", SECRET, p["tax.ann"], height=1)
    col.add_member("insurer", height=2)
    with pytest.raises(AccessDenied) as excinfo:
        col.read("r1", p["insurer.ann"], height=3)
    assert excinfo.value.reason == "not-shared"


def test_a_wrong_readers_key_cannot_unwrap(net):
    _, _, p = net
    sealed = seal(
        SECRET,
        [p["tax.ann"].certificate, p["bank.ann"].certificate],
        collection="c",
        record_id="r",
        rng=random.Random(5),
    )
    assert unseal(sealed, "tax:1", p["tax.ann"].agreement_key) == SECRET
    with pytest.raises(AccessDenied) as excinfo:
        unseal(sealed, "tax:1", p["bank.ann"].agreement_key)
    assert excinfo.value.reason == "wrong-key"
    with pytest.raises(AccessDenied) as excinfo:
        unseal(sealed, "tax:1", AgreementKey.from_seed("random person"))
    assert excinfo.value.reason == "wrong-key"


def _sealed(net) -> tuple[SealedRecord, AgreementKey]:
    _, _, p = net
    readers = [p["tax.ann"].certificate, p["bank.ann"].certificate]
    record = seal(SECRET, readers, collection="c", record_id="r", epoch=3, rng=random.Random(9))
    return record, p["tax.ann"].agreement_key


def _mutations(record: SealedRecord):
    """Every field a reader depends on, one byte (or value) changed."""
    h = record.header
    yield "ciphertext", replace(record, ciphertext=flip(record.ciphertext, 3))
    yield "tag", replace(record, tag=flip(record.tag, 15))
    yield "nonce", replace(record, nonce=flip(record.nonce))
    yield "content hash", replace(record, header=replace(h, content_hash=flip(h.content_hash)))
    for name, value in (
        ("record id", "r2"),
        ("collection", "c2"),
        ("epoch", 4),
        ("writer", "tax:9"),
        ("written_at", 1),
        ("expires_at", 99),
    ):
        field = {"record id": "record_id"}.get(name, name)
        yield name, replace(record, header=replace(h, **{field: value}))
    mine = record.wrapped_keys[1]
    assert mine.reader == "tax:1"
    for field in ("encapsulated", "ciphertext"):
        for i in (1, len(getattr(mine, field)) - 1):
            other = replace(mine, **{field: flip(getattr(mine, field), i)})
            yield (
                f"wrapped {field}[{i}]",
                replace(record, wrapped_keys=(record.wrapped_keys[0], other)),
            )


def test_every_tampered_part_of_the_envelope_is_rejected_as_tampered(net):
    record, key = _sealed(net)
    assert unseal(record, "tax:1", key) == SECRET
    seen = set()
    for name, tampered in _mutations(record):
        with pytest.raises(TamperedData) as excinfo:
            unseal(tampered, "tax:1", key)
        seen.add(excinfo.value.reason)
        with pytest.raises(TamperedData) as excinfo:  # and the chain's hash catches it first
            verify_record(tampered, record.hash)
        assert excinfo.value.reason == "hash-mismatch", name
    assert seen == {"bad-tag", "bad-wrapped-key"}


def test_a_ciphertext_moved_to_another_record_fails_its_tag(net):
    _, _, p = net
    readers = [p["tax.ann"].certificate]
    one = seal(b"one", readers, collection="c", record_id="r1", rng=random.Random(1))
    two = seal(b"two", readers, collection="c", record_id="r2", rng=random.Random(2))
    # Keep r2's header and wrapped key (so the data key opens) but splice in r1's ciphertext.
    moved = replace(two, ciphertext=one.ciphertext, tag=one.tag, nonce=one.nonce)
    with pytest.raises(TamperedData) as excinfo:
        unseal(moved, "tax:1", p["tax.ann"].agreement_key)
    assert excinfo.value.reason == "bad-tag"


def test_a_writer_cannot_commit_to_one_content_and_encrypt_another(net):
    record, key = _sealed(net)
    data_key = unwrap_key(record.wrapped_keys[1], key, header=record.header)
    cipher = AES.new(data_key, AES.MODE_GCM, nonce=record.nonce)
    cipher.update(record.header.associated_data)
    ciphertext, tag = cipher.encrypt_and_digest(encode([bytes(32), b"something else"]))
    dishonest = replace(record, ciphertext=ciphertext, tag=tag)
    with pytest.raises(TamperedData) as excinfo:
        unseal(dishonest, "tax:1", key)
    assert excinfo.value.reason == "content-mismatch"


def test_the_onchain_hash_detects_altered_and_swapped_copies(net):
    _, _, p = net
    col = collection(net)
    h1 = col.put("r1", SECRET, p["bank.ben"], height=1)
    col.put("r2", b"another loan", p["bank.ben"], height=1)
    col.stores["tax"]["r1"] = col.stores["tax"]["r2"]  # swapped in tax's store
    with pytest.raises(TamperedData) as excinfo:
        col.read("r1", p["tax.ann"], height=2)
    assert excinfo.value.reason == "hash-mismatch"
    with pytest.raises(TamperedData) as excinfo:
        col.verify("r1", h1)
    assert excinfo.value.reason == "hash-mismatch" and "tax" in str(excinfo.value)
    assert col.read("r1", p["bank.ann"], height=2) == SECRET  # bank's copy is intact
    sealed = col.stores["bank"]["r1"]
    col.stores["bank"]["r1"] = replace(sealed, ciphertext=flip(sealed.ciphertext, 5))
    with pytest.raises(TamperedData) as excinfo:
        col.read("r1", p["bank.ann"], height=2)
    assert excinfo.value.reason == "hash-mismatch"
    # Every single byte of the stored encoding matters.
    data = encode(sealed.to_canonical())
    for i in range(0, len(data), 7):
        try:
            copy = SealedRecord.decode(flip(data, i))
        except TamperedData:
            continue
        with pytest.raises(TamperedData):
            verify_record(copy, h1)


def test_expired_records_are_purged_everywhere_and_only_the_hash_remains(net):
    _, _, p = net
    col = collection(net, blocks_to_live=5)
    onchain = col.put("r1", SECRET, p["tax.ann"], height=10)
    col.put("r2", b"later", p["tax.ann"], height=12)
    assert col.read("r1", p["bank.ann"], height=14) == SECRET
    with pytest.raises(RecordExpired) as excinfo:  # expired, even before the purge runs
        col.read("r1", p["bank.ann"], height=15)
    assert excinfo.value.reason == "expired"
    assert col.purge(14) == [] and col.purge(15) == ["r1"] and col.purge(16) == []
    assert all("r1" not in store for store in col.stores.values())
    assert col.hashes["r1"] == onchain and col.read("r2", p["bank.ann"], height=16) == b"later"
    with pytest.raises(AccessDenied) as excinfo:  # RecordExpired is an AccessDenied
        col.verify("r1", onchain)
    assert excinfo.value.reason == "expired"
    assert list(col.records_df()["status"]) == ["purged", "stored"]


def test_same_seed_same_bytes_another_seed_other_bytes_and_no_key_reuse(net):
    _, _, p = net
    a = collection(net, seed=1)
    b = collection(net, seed=1)
    c = collection(net, seed=2)
    hashes = [col.put("r1", SECRET, p["tax.ann"], height=1) for col in (a, b, c)]
    assert hashes[0] == hashes[1] != hashes[2]
    assert a.stores["tax"]["r1"] == b.stores["tax"]["r1"]
    # One seed reused for different records still gives different keys, nonces never repeat.
    records = [
        seal(text, [p["tax.ann"].certificate], collection="c", record_id=rid, rng=random.Random(7))
        for rid, text in (("r1", b"a"), ("r1", b"b"), ("r2", b"a"))
    ]
    keys = {
        unwrap_key(r.wrapped_keys[0], p["tax.ann"].agreement_key, header=r.header) for r in records
    }
    assert len(keys) == 3
    assert len({r.wrapped_keys[0].encapsulated for r in records}) == 3
    unseeded = [seal(b"a", [p["tax.ann"].certificate], collection="c", record_id="r") for _ in "ab"]
    assert unseeded[0].hash != unseeded[1].hash  # fresh OS randomness


def test_bad_calls_say_what_to_do(net):
    _, membership, p = net
    col = collection(net)
    col.put("r1", SECRET, p["tax.ann"], height=5)
    with pytest.raises(ValueError, match="written once"):
        col.put("r1", b"again", p["tax.ann"], height=5)
    with pytest.raises(ValueError, match="only go forward"):
        col.put("r2", b"x", p["tax.ann"], height=4)
    with pytest.raises(TypeError, match="encode"):
        col.put("r3", "text", p["tax.ann"], height=6)
    with pytest.raises(UnknownRecord) as excinfo:
        col.read("nope", p["tax.ann"], height=6)
    assert excinfo.value.reason == "unknown-record" and isinstance(excinfo.value, KeyError)
    with pytest.raises(ValueError, match="add_organisation"):
        PrivateCollection("x", membership, ["police"])
    with pytest.raises(ValueError, match="last organisation"):
        collection(net, orgs=("tax",)).remove_member("tax", height=1)
    with pytest.raises(ValueError, match="at least one reader"):
        seal(b"x", {}, collection="c", record_id="r")


def test_a_wrapped_key_opens_only_for_the_record_and_reader_it_was_wrapped_for(net):
    record, key = _sealed(net)
    mine, h = record.wrapped_keys[1], record.header
    assert unwrap_key(mine, key, header=h)  # the genuine context opens
    for other in (
        replace(h, record_id="r2"),
        replace(h, collection="c2"),
        replace(h, epoch=h.epoch + 1),
    ):
        with pytest.raises(TamperedData) as excinfo:
            unwrap_key(mine, key, header=other)
        assert excinfo.value.reason == "bad-wrapped-key"
    with pytest.raises(TamperedData):
        unwrap_key(replace(mine, reader="tax:7"), key, header=h)
