"""Lesson 10, data sharing between organisations: why a certificate may not write, wrapping a
record's data key for one reader, evaluating an access policy, and verifying one disclosed field
of a credential.

Every case runs the real library: certificates from real certificate authorities (signatures,
revocation lists), data keys unwrapped and records unsealed by ``blockkit.sharing.private``,
policies judged by ``blockkit.sharing.policy``, credentials issued by
``blockkit.sharing.credentials``. Nothing is built at import time: each scenario is built the first
time a case needs it and cached (``functools.cache``).
"""

from __future__ import annotations

import dataclasses
import functools
import random
from collections.abc import Callable
from typing import Any

from blockkit.grading.registry import Case, add_cases, define

__all__ = ["WRITE_ROLES", "reference_write_refusal"]

#: The roles that may write on a permissioned chain (``MembershipRules``' default).
WRITE_ROLES = ("admin", "member")
_SEED = "grading-10"


# --- 10.1 why may this certificate not write? ------------------------------------------------


class _Identities:
    """Two organisations' CAs (one with Ed25519 keys), a fraudster's CA and their certificates."""

    def __init__(self) -> None:
        from blockkit.sharing.identity import CertificateAuthority

        self.roads = CertificateAuthority.from_seed("roads", _SEED)
        self.bank = CertificateAuthority.from_seed("bank", _SEED, suite="ed25519")
        self.fixers = CertificateAuthority.from_seed("fixers", _SEED)
        r, b = self.roads, self.bank
        self.people = {
            "wang": r.enrol("wang", "admin", seed=_SEED),
            "chen": r.enrol("chen", "member", seed=_SEED),
            "zhao": r.enrol("zhao", "auditor", seed=_SEED),
            "ma": r.enrol("ma", "observer", seed=_SEED),
            "temp": r.enrol("temp", "member", valid_from=10, valid_until=50, seed=_SEED),
            "old": r.enrol("old", "member", valid_until=30, seed=_SEED),
            "spy": r.enrol("spy", "observer", seed=_SEED),
            "sun": b.enrol("sun", "member", seed=_SEED, suite="ed25519"),
            "lee": b.enrol("lee", "observer", seed=_SEED, suite="ed25519"),
            "mallory": self.fixers.enrol("mallory", "admin", seed=_SEED),
        }
        p = self.people
        self.roads_crl_before = r.crl  # number 0, empty
        r.revoke(p["spy"].certificate.serial, height=5, reason="unspecified")
        r.revoke(p["chen"].certificate.serial, height=20, reason="affiliation-changed")
        self.roads_crl = r.revoke(p["old"].certificate.serial, height=25, reason="superseded")
        lee = p["lee"].certificate.serial
        self.bank_crl = b.revoke(lee, height=7, reason="affiliation-changed")
        mallory = p["mallory"]
        fake = self.fixers.issue(
            "mallory", "admin", mallory.signing_key.public_key, mallory.certificate.agreement_key
        )
        self.forged = dataclasses.replace(fake, organisation="roads")
        self.promoted = dataclasses.replace(p["ma"].certificate, role="admin")
        chen = p["chen"].certificate
        self.borrowed = dataclasses.replace(p["zhao"].certificate, signature=chen.signature)


@functools.cache
def _identities() -> _Identities:
    return _Identities()


#: case name -> (certificate, which CA is trusted, which CRL, height, expected answer)
_CERT_CASES: dict[str, tuple[str, str, str, int, str | None]] = {
    "a member, valid": ("chen", "roads", "none", 8, None),
    "an admin, valid": ("wang", "roads", "crl", 8, None),
    "an observer asks to write": ("ma", "roads", "crl", 8, "wrong-role"),
    "an auditor asks to write": ("zhao", "roads", "crl", 8, "wrong-role"),
    "signed by another CA, naming this organisation": ("forged", "roads", "crl", 8, "wrong-issuer"),
    "role edited after signing": ("promoted", "roads", "crl", 8, "bad-signature"),
    "the signature of another certificate": ("borrowed", "roads", "crl", 8, "bad-signature"),
    "before valid_from": ("temp", "roads", "crl", 9, "not-yet-valid"),
    "at valid_from": ("temp", "roads", "crl", 10, None),
    "one block before valid_until": ("temp", "roads", "crl", 49, None),
    "at valid_until (the first invalid height)": ("temp", "roads", "crl", 50, "expired"),
    "revoked at exactly this height": ("chen", "roads", "crl", 20, "revoked"),
    "revoked, but only from a later height": ("chen", "roads", "crl", 19, None),
    "another serial is revoked": ("wang", "roads", "crl", 40, None),
    "no revocation list yet (None)": ("chen", "roads", "none", 40, None),
    "an empty revocation list": ("chen", "roads", "empty", 40, None),
    "expired and revoked: expiry is checked first": ("old", "roads", "crl", 30, "expired"),
    "a revoked observer: revocation before role": ("spy", "roads", "crl", 8, "revoked"),
    "a forged certificate of a revoked serial": ("forged", "roads", "crl", 40, "wrong-issuer"),
}
_CERT_HINTS = {
    "an auditor asks to write": "only admin and member write (WRITE_ROLES); auditors and "
    "observers read",
    "signed by another CA, naming this organisation": "compare cert.issuer_key_id with "
    "ca_key.address before checking the signature: it was signed by a key that is not this CA's",
    "the signature of another certificate": "check ca_key.is_valid_signature(cert.signature, "
    "cert.signing_message): a genuine signature over other fields is no signature at all",
    "at valid_until (the first invalid height)": "valid_until is the first height at which the "
    "certificate is no longer valid: height >= valid_until is 'expired'",
    "revoked, but only from a later height": "a revocation counts from its height on: "
    "entry.height <= height (crl.entry(cert.serial) gives the entry or None)",
    "no revocation list yet (None)": "crl may be None: nothing is revoked then",
    "expired and revoked: expiry is checked first": "check in the order given: issuer, "
    "signature, not-yet-valid, expired, revoked, role",
    "a revoked observer: revocation before role": "the role is checked last, after revocation",
}


def reference_write_refusal(cert: Any, ca_key: Any, crl: Any, height: int) -> str | None:
    """What ``Membership.validate`` says about ``cert`` for a writer at ``height`` when only
    ``ca_key`` (and ``crl``) are trusted for its organisation: None, or the reason tag."""
    from blockkit.sharing.identity import Membership

    membership = Membership("exercise")
    membership.add_organisation(cert.organisation, ca_key, crl)
    status = membership.status(cert, height=height, roles=WRITE_ROLES)
    return None if status == "valid" else status


def _cert_args(spec: tuple[str, str, str, int, str | None]) -> Callable[[], tuple[Any, ...]]:
    who, ca, crl, height, _ = spec

    def build() -> tuple[Any, ...]:
        world = _identities()
        special = {"forged": world.forged, "promoted": world.promoted, "borrowed": world.borrowed}
        cert = special[who] if who in special else world.people[who].certificate
        authority = world.roads if ca == "roads" else world.bank
        lists = {
            "none": None,
            "empty": world.roads_crl_before,
            "crl": world.roads_crl if ca == "roads" else world.bank_crl,
        }
        return cert, authority.public_key, lists[crl], height

    return build


define(
    "10.1",
    "Why may this certificate not write?",
    function="write_refusal",
    points=3,
    hint="check, in order: cert.issuer_key_id == ca_key.address ('wrong-issuer'); the CA's "
    "signature over cert.signing_message ('bad-signature'); height < valid_from "
    "('not-yet-valid'); height >= valid_until ('expired'); a revocation of cert.serial at or "
    "before height ('revoked'); a role outside WRITE_ROLES ('wrong-role'); else None",
)
add_cases(
    "10.1",
    [
        Case(name, _cert_args(spec), expected=spec[4], hint=_CERT_HINTS.get(name, ""))
        for name, spec in _CERT_CASES.items()
    ],
)


# --- 10.2 wrap a data key for one reader ---------------------------------------------------------


class _Records:
    """A sealed record of a collection, the readers' keys and a newcomer (the bank)."""

    def __init__(self) -> None:
        from blockkit.sharing.identity import AgreementKey
        from blockkit.sharing.private import seal, unwrap_key

        names = ("liu", "wang", "sun", "hu")
        self.keys = {name: AgreementKey.from_seed(f"{_SEED}/{name}") for name in names}
        self.ids = {"liu": "insurer:1", "wang": "roads:1", "sun": "bank:1", "hu": "garage:1"}
        readers = {self.ids[n]: self.keys[n].public_bytes for n in ("liu", "wang")}
        self.plaintext = b"claim 0042 | 2024-05-01 rear-end collision | repair 12,400 CNY"
        self.sealed = seal(
            self.plaintext, readers, collection="claims", record_id="claim-0042", epoch=3,
            writer="insurer:1", written_at=12, rng=random.Random(10),
        )  # fmt: skip
        liu = next(w for w in self.sealed.wrapped_keys if w.reader == self.ids["liu"])
        self.data_key: bytes = unwrap_key(liu, self.keys["liu"], header=self.sealed.header)


@functools.cache
def _records() -> _Records:
    return _Records()


def _ephemeral(tag: str) -> Any:
    from blockkit.sharing.identity import AgreementKey

    return AgreementKey.from_seed(f"{_SEED}/ephemeral/{tag}")


def _header(collection: str, record_id: str, epoch: int) -> Any:
    return dataclasses.replace(
        _records().sealed.header, collection=collection, record_id=record_id, epoch=epoch
    )


def reference_wrap(
    data_key: bytes, reader: str, recipient: bytes, header: Any, ephemeral: Any
) -> Any:
    """The wrapping ``blockkit.sharing.private.wrap_key`` makes, with a given ephemeral key."""
    from blockkit.sharing.private import wrap_key_with

    return wrap_key_with(data_key, reader, recipient, header=header, ephemeral=ephemeral)


def _is_wrapped_key(result: Any) -> str | None:
    from blockkit.sharing.private import WrappedKey

    if not isinstance(result, WrappedKey):
        return f"return a WrappedKey(reader, recipient, encapsulated, ciphertext), not {result!r}"
    return None


#: name -> (reader, collection, record id, epoch, ephemeral tag, data key: "record" or a seed)
_WRAP_SPECS: dict[str, tuple[str, str, str, int, str, str]] = {
    "the reader opens it with unwrap_key": ("sun", "claims", "claim-0042", 3, "a", "record"),
    "another record, epoch 0": ("hu", "quotes", "quote-7", 0, "b", "seed 1"),
    "a long record id and a late epoch": ("wang", "loans", "loan/2025/ACME-01", 41, "c", "seed 2"),
}


_FIRST_WRAP = "the reader opens it with unwrap_key"


def _wrap_args(name: str) -> Callable[[], tuple[Any, ...]]:
    reader, collection, record_id, epoch, tag, key = _WRAP_SPECS[name]

    def build() -> tuple[Any, ...]:
        world = _records()
        data_key = world.data_key if key == "record" else random.Random(key).randbytes(32)
        header = _header(collection, record_id, epoch)
        recipient = world.keys[reader].public_bytes
        return data_key, world.ids[reader], recipient, header, _ephemeral(tag)

    return build


def _opens(name: str) -> Callable[[Any], str | None]:
    def verify(result: Any) -> str | None:
        from blockkit.errors import SharingError
        from blockkit.sharing.private import unwrap_key

        problem = _is_wrapped_key(result)
        if problem:
            return problem
        data_key, reader, recipient, header, ephemeral = _wrap_args(name)()
        if (result.reader, result.recipient) != (reader, recipient):
            return "the WrappedKey names the reader (its id) and the recipient key it was given"
        if result.encapsulated != ephemeral.public_bytes:
            return "encapsulated is the ephemeral PUBLIC key (ephemeral.public_bytes)"
        reader_name = next(n for n, i in _records().ids.items() if i == reader)
        try:
            opened = unwrap_key(result, _records().keys[reader_name], header=header)
        except SharingError as err:
            return (
                f"the library's unwrap_key refuses your wrapped key ({err.reason}): check the "
                "HKDF context (every item, in order), the 32 + 12 byte split, and ciphertext + tag"
            )
        if opened != data_key:
            return "unwrap_key opened it, but to another key than the data key you were given"
        if result != reference_wrap(data_key, reader, recipient, header, ephemeral):
            return "it opens, but differs from the library's own wrapping with this ephemeral key"
        return None

    return verify


def _newcomer(result: Any) -> str | None:
    """Share the record with the bank after the fact: the library's unseal must open it."""
    from blockkit.errors import SharingError
    from blockkit.sharing.private import unseal

    problem = _is_wrapped_key(result)
    if problem:
        return problem
    world = _records()
    keys = tuple(sorted((*world.sealed.wrapped_keys, result), key=lambda w: w.reader))
    extended = dataclasses.replace(world.sealed, wrapped_keys=keys)
    try:
        opened = unseal(extended, world.ids["sun"], world.keys["sun"])
    except SharingError as err:
        return f"the bank cannot unseal the record with your wrapped key: {err}"
    if opened != world.plaintext:
        return "the bank unsealed something other than the record"
    return None


def _newcomer_args() -> tuple[Any, ...]:
    world = _records()
    header = world.sealed.header
    return world.data_key, world.ids["sun"], world.keys["sun"].public_bytes, header, _ephemeral("n")


def _bound_to_record(result: Any) -> str | None:
    """The wrapped key for claim-0042 must not open for another record, epoch or reader."""
    from blockkit.errors import SharingError
    from blockkit.sharing.private import unwrap_key

    problem = _is_wrapped_key(result)
    if problem:
        return problem
    world = _records()
    header = world.sealed.header
    try:
        unwrap_key(result, world.keys["sun"], header=header)
    except SharingError as err:
        return f"it does not even open for its own record ({err.reason}): see the first case"
    for moved in (
        dataclasses.replace(header, record_id="claim-0043"),
        dataclasses.replace(header, epoch=header.epoch + 1),
        dataclasses.replace(header, collection="quotes"),
    ):
        try:
            unwrap_key(result, world.keys["sun"], header=moved)
        except SharingError:
            continue
        return "the wrapped key also opens for another record, epoch or collection"
    try:
        unwrap_key(result, world.keys["wang"], header=header)
    except SharingError:
        return None
    return "another member's key opened the data key wrapped for the bank"


define(
    "10.2",
    "Wrap a data key for one reader",
    function="wrap_for",
    points=4,
    hint="context = encode([WRAP_CONTEXT, header.collection, header.record_id, header.epoch, "
    "reader, ephemeral.public_bytes, recipient]); key_agreement(eph_priv=ephemeral.ecc, "
    "static_pub=load_agreement_public(recipient), kdf=...) with a kdf returning HKDF(secret, "
    "44, b'', SHA256, context=context) split 32 + 12; AES-GCM encrypt_and_digest(data_key); "
    "WrappedKey(reader, recipient, ephemeral.public_bytes, ciphertext + tag)",
)
add_cases(
    "10.2",
    [
        Case(_FIRST_WRAP, _wrap_args(_FIRST_WRAP), verify=_opens(_FIRST_WRAP)),
        Case("a newcomer unseals an old record with it", _newcomer_args, verify=_newcomer,
             hint="the record's data key is wrapped anew for the bank; unseal finds the bank's "
             "WrappedKey by its reader id and opens it with the bank's key"),
        Case("bound to its record and reader", _newcomer_args, verify=_bound_to_record,
             hint="put collection, record id and epoch in the HKDF context, and wrap to the "
             "recipient's key (static_pub), not to your own"),
    ],
)  # fmt: skip


# --- 10.3 does a set of approvals satisfy a policy? -------------------------------------------

_P = "p"
_K = "k"


def _leaf(org: str, role: str = "") -> list[Any]:
    return [_P, org, role]


def _gate(k: int, *parts: list[Any]) -> list[Any]:
    return [_K, k, list(parts)]


_CLAIMS = _gate(2, _leaf("insurer"), _gate(1, _leaf("roads"), _leaf("garage")))
_TWO_OF_THREE = _gate(2, _leaf("insurer"), _leaf("bank"), _leaf("roads"))
_NESTED = _gate(
    2,
    _leaf("tax", "admin"),
    _gate(1, _leaf("bank1"), _leaf("bank2")),
    _gate(3, _leaf("a"), _leaf("b"), _leaf("c")),
)

#: name -> (policy, approvals as (organisation, role) pairs)
_POLICY_CASES: dict[str, tuple[list[Any], list[tuple[str, str]]]] = {
    "a single organisation": (_leaf("insurer"), [("insurer", "member")]),
    "AND: the insurer and the garage": (_CLAIMS, [("insurer", "member"), ("garage", "admin")]),
    "AND: only the insurer": (_CLAIMS, [("insurer", "member")]),
    "OR: neither the roads nor the garage": (_CLAIMS, [("insurer", "admin"), ("bank", "member")]),
    "no approvals at all": (_CLAIMS, []),
    "2 of 3: two members of one organisation count once": (
        _TWO_OF_THREE,
        [("insurer", "member"), ("insurer", "admin")],
    ),
    "2 of 3: two organisations": (_TWO_OF_THREE, [("bank", "member"), ("roads", "admin")]),
    "the same approval listed twice": (_TWO_OF_THREE, [("bank", "member"), ("bank", "member")]),
    "an observer never counts": (_CLAIMS, [("insurer", "observer"), ("roads", "member")]),
    "an auditor does not count for a plain organisation": (
        _CLAIMS,
        [("insurer", "auditor"), ("roads", "member")],
    ),
    "a role leaf is met by that role": (
        _gate(2, _leaf("insurer", "auditor"), _leaf("roads")),
        [("insurer", "auditor"), ("roads", "admin")],
    ),
    "a role leaf is not met by another role": (
        _gate(2, _leaf("insurer", "auditor"), _leaf("roads")),
        [("insurer", "admin"), ("roads", "admin")],
    ),
    "nested gates, met": (
        _NESTED,
        [("tax", "admin"), ("bank2", "member"), ("c", "member"), ("tax", "member")],
    ),
    "nested gates, not met": (
        _NESTED,
        [("tax", "member"), ("bank2", "member"), ("a", "member"), ("b", "member")],
    ),
}
_POLICY_HINTS = {
    "2 of 3: two members of one organisation count once": "count the satisfied PARTS of a "
    "gate, not the approvals: one organisation satisfies one leaf, however many approve",
    "an observer never counts": "a plain leaf ('insurer') is met only by an admin or member",
    "an auditor does not count for a plain organisation": "a plain leaf ('insurer') is met only "
    "by an admin or member; an auditor counts only where a leaf names the role 'auditor'",
    "a role leaf is not met by another role": "a leaf with a role ('insurer.auditor') needs an "
    "approval with exactly that role",
    "nested gates, met": "a part of a gate may itself be a gate: evaluate it recursively",
}


def _random_policy(rng: random.Random, depth: int) -> list[Any]:
    orgs = ["tax", "bank1", "bank2", "insurer", "roads"]
    if depth == 0 or rng.random() < 0.3:
        return _leaf(rng.choice(orgs), rng.choice(["", "", "admin", "auditor"]))
    parts: list[list[Any]] = []
    while len(parts) < rng.randint(2, 4):
        part = _random_policy(rng, depth - 1)
        if part not in parts:
            parts.append(part)
    return _gate(rng.randint(1, len(parts)), *parts)


def _random_case(seed: int) -> tuple[list[Any], list[tuple[str, str]]]:
    rng = random.Random(seed)
    orgs = ["tax", "bank1", "bank2", "insurer", "roads"]
    roles = ["admin", "member", "auditor", "observer"]
    approvals = [(rng.choice(orgs), rng.choice(roles)) for _ in range(rng.randint(0, 6))]
    return _random_policy(rng, 3), approvals


def _policy_case(name: str) -> tuple[list[Any], list[tuple[str, str]]]:
    if name.startswith("random"):
        return _random_case(int(name.split()[-1]))
    return _POLICY_CASES[name]


def _policy_args(name: str) -> Callable[[], tuple[Any, ...]]:
    import copy

    return lambda: copy.deepcopy(_policy_case(name))


def _satisfies_like_the_library(name: str) -> Callable[[Any], str | None]:
    def verify(result: Any) -> str | None:
        from blockkit.sharing.policy import policy_from_canonical

        policy, approvals = _policy_case(name)
        expected = policy_from_canonical(policy).satisfied_by(set(approvals))
        if type(result) is not bool:
            return f"return True or False, not {result!r}"
        if result != expected:
            return f"the library's policy.satisfied_by says {expected}, you said {result}"
        return None

    return verify


define(
    "10.3",
    "Does a set of approvals satisfy a policy?",
    function="satisfies",
    points=3,
    hint="['p', org, role]: some approval has that organisation and, if role is '', a role in "
    "('admin', 'member'), else exactly that role; ['k', k, parts]: at least k of the parts are "
    "satisfied (recursively)",
)
add_cases(
    "10.3",
    [
        Case(
            name,
            _policy_args(name),
            verify=_satisfies_like_the_library(name),
            hint=_POLICY_HINTS.get(name, ""),
        )
        for name in _POLICY_CASES
    ],
)


# --- 10.4 verify one disclosed field ----------------------------------------------------------


class _Credentials:
    """A real vehicle credential, another one, a forged one and a doctored one."""

    def __init__(self) -> None:
        from blockkit.keys import PrivateKey
        from blockkit.merkle import MerkleTree
        from blockkit.sharing.credentials import (
            CredentialField,
            Disclosure,
            issue_credential,
            vehicle_record,
        )

        self.issuer = PrivateKey.from_seed(f"{_SEED}/road authority")
        self.fixers = PrivateKey.from_seed(f"{_SEED}/fixers")
        owner = PrivateKey.from_seed(f"{_SEED}/owner")

        def issue(key: Any, cid: str, seed: int, **fields: Any) -> Any:
            return issue_credential(
                key, issuer_name="Road Authority", holder=owner.public_key, credential_id=cid,
                kind="vehicle", fields=vehicle_record(**fields), issued_at=5,
                rng=random.Random(seed),
            )  # fmt: skip

        self.car = issue(self.issuer, "car-1", 1)
        self.other = issue(self.issuer, "car-2", 2, mileage_km=48_213, vin="LSVAU2180N2999999")
        self.forged = issue(self.fixers, "car-1", 3, mileage_km=21_000)

        def disclose(credential: Any, name: str) -> Any:
            fields = credential.fields
            index = next(i for i, f in enumerate(fields) if f.name == name)
            tree = MerkleTree([f.leaf for f in fields])
            f = fields[index]
            return Disclosure(f.name, f.value, f.salt, tree.proof(index))

        self.disclose = disclose
        # the car's fields with the mileage rolled back, under the real header and signature
        doctored = tuple(
            CredentialField(f.name, 21_000, f.salt) if f.name == "mileage_km" else f
            for f in self.car.fields
        )
        root = MerkleTree([f.leaf for f in doctored]).root
        self.doctored_header = dataclasses.replace(self.car.header, root=root)
        self.doctored = dataclasses.replace(self.car, header=self.doctored_header, fields=doctored)


@functools.cache
def _credentials() -> _Credentials:
    return _Credentials()


def _field_args(kind: str, name: str = "mileage_km") -> Callable[[], tuple[Any, ...]]:
    def build() -> tuple[Any, ...]:
        w = _credentials()
        d = w.disclose(w.car, name)
        header = w.car.header
        if kind == "altered value":
            d = dataclasses.replace(d, value=d.value - 27_000)
        elif kind == "salt of another field":
            other = w.disclose(w.car, "vin")
            d = dataclasses.replace(d, salt=other.salt)
        elif kind == "another credential":
            d = w.disclose(w.other, name)
        elif kind == "forged":
            header, d = w.forged.header, w.disclose(w.forged, name)
        elif kind == "doctored":
            header, d = w.doctored_header, w.disclose(w.doctored, name)
        elif kind == "another field's proof":
            d = dataclasses.replace(d, proof=w.disclose(w.car, "vin").proof)
        return header, d, w.issuer.public_key

    return build


#: name -> (how the disclosure is made, field, expected)
_FIELD_CASES: dict[str, tuple[str, str, bool]] = {
    "an honest field (mileage)": ("honest", "mileage_km", True),
    "an honest field (licence plate)": ("honest", "licence_plate", True),
    "an honest field (repair history, a list)": ("honest", "repair_history", True),
    "the mileage rolled back": ("altered value", "mileage_km", False),
    "the salt of another field": ("salt of another field", "mileage_km", False),
    "a field of another credential (same mileage)": ("another credential", "mileage_km", False),
    "a credential signed by someone else under the same name": ("forged", "mileage_km", False),
    "a doctored root under the real signature": ("doctored", "mileage_km", False),
    "the proof of another field": ("another field's proof", "mileage_km", False),
}
_FIELD_HINTS = {
    "an honest field (mileage)": "leaf = tagged_hash(LEAF_TAG, encode([name, salt, value])); "
    "then verify_inclusion(header.root, leaf, disclosure.proof)",
    "the salt of another field": "the salt is part of the leaf: encode([name, salt, value])",
    "a credential signed by someone else under the same name": "trust only issuer_key: the "
    "header must name it (header.issuer_key == issuer_key) and carry its signature",
    "a doctored root under the real signature": "check the issuer's signature over the header "
    "(issuer_key.is_valid_signature(header.signature, header.signing_message)): a proof "
    "against a root nobody signed proves nothing",
}

define(
    "10.4",
    "Verify one disclosed field",
    function="verify_field",
    points=3,
    hint="True only if header.issuer_key == issuer_key, the issuer's signature over "
    "header.signing_message verifies, and the salted leaf tagged_hash(LEAF_TAG, encode([name, "
    "salt, value])) is under header.root by disclosure.proof (verify_inclusion)",
)
add_cases(
    "10.4",
    [
        Case(name, _field_args(kind, field), expected=result, hint=_FIELD_HINTS.get(name, ""))
        for name, (kind, field, result) in _FIELD_CASES.items()
    ],
)
