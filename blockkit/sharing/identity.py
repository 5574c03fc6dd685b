"""Organisations and identities: each organisation's certificate authority vouches for its
members, and a permissioned chain listens only to members whose certificates still check.

On a public chain anyone with a key is a participant. A chain shared by a tax office, a bank and an
insurer is different: every participant is a *named member of a known organisation*, with a role,
and can be thrown out. The machinery, as in Hyperledger Fabric or any government PKI:

* **Certificate authority (CA).** Each organisation owns one signing key, the CA key. It signs
  ``MemberCertificate``\\ s: "the person *subject*, of organisation *org*, with role *role*, owns
  this signing key and this key-agreement key, from block *a* until block *b*; serial *n*."
* **Revocation.** Keys are lost and people leave. The CA publishes a signed, numbered
  ``RevocationList`` (a CRL): serials that stop being valid from a given height. A newer list
  supersedes an older one and may only *add* entries, so an attacker cannot un-revoke a
  certificate by replaying an old list.
* **Membership** (Fabric's MSP): the set of organisations a network or a channel trusts, with each
  one's CA public key and latest CRL. ``Membership.validate`` checks a certificate and says exactly
  why it refuses one; ``Membership.check_sender`` is what the chain calls to accept a transaction
  only from a valid, unrevoked member.
* **Member**: what a person at an organisation holds: the certificate and the two private keys.

Why two keys per member? The *signing* key (ECDSA or Ed25519, ``blockkit.keys``) proves who acted;
the *key-agreement* key (ECDH on P-256) lets others encrypt data for the member
(``blockkit.sharing.private``). Keeping them apart is the rule of *key separation*: one key used
by two algorithms can leak through their interaction, the two keys have different lives (an
organisation may keep an escrow copy of encryption keys so that data survives a lost laptop, but an
escrowed *signing* key would let the escrow sign in the member's name), and the signing suite
need not be a curve that does ECDH at all (Ed25519).

Time is a block height, always passed in: a certificate is valid for ``valid_from <= height <
valid_until``, and a revocation takes effect at the height it names. A transaction included at
height 50 stays valid when its sender is revoked at height 100, so replaying the chain from
genesis always gives the same answer.
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from functools import cached_property, lru_cache
from typing import TYPE_CHECKING, Any

from Crypto.PublicKey import ECC
from Crypto.PublicKey.ECC import EccKey
from Crypto.Random import get_random_bytes

from blockkit.encoding import decode, encode
from blockkit.errors import InvalidCertificate, InvalidKey
from blockkit.hashing import tagged_hash
from blockkit.keys import Address, PrivateKey, PublicKey

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "FOREVER",
    "REVOCATION_REASONS",
    "ROLES",
    "AgreementKey",
    "CertificateAuthority",
    "Member",
    "MemberCertificate",
    "Membership",
    "Revocation",
    "RevocationList",
    "load_agreement_public",
]

#: The roles a certificate can carry, from most to least powerful.
ROLES = ("admin", "member", "auditor", "observer")
#: Why a certificate is revoked (after RFC 5280). Only ``"key-compromise"`` condemns the *key*:
#: no later certificate for the same key is accepted either. The others end one certificate
#: (a new role, a person who left), and the same key may be certified again.
REVOCATION_REASONS = (
    "unspecified",
    "key-compromise",
    "affiliation-changed",
    "superseded",
    "cessation-of-operation",
)
#: A ``valid_until`` that never arrives (2**63 blocks).
FOREVER = 2**63

AGREEMENT_CURVE = "P-256"
CERT_DOMAIN = b"blockkit/member-certificate/v1"
CRL_DOMAIN = b"blockkit/revocation-list/v1"


def _check_name(kind: str, value: object) -> str:
    if not isinstance(value, str) or not value or any(c in value for c in ":/\n"):
        raise ValueError(f"{kind} must be a non-empty str without ':', '/' or newlines: {value!r}")
    return value


def _check_height(kind: str, value: object) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ValueError(f"{kind} is a block height, an int >= 0, not {value!r}")
    return value


@lru_cache(maxsize=8192)
def _signed_by(ca_key: PublicKey, message: bytes, signature: bytes) -> bool:
    """Whether ``ca_key`` signed ``message``, remembered: a permissioned chain checks the sender's
    certificate on every transaction, and the answer depends only on these three values (the
    cache key holds them in full, so a changed byte is a new question). Halves the time to
    validate a block of transfers (``bench/run.py``: ``permissioned_ratio``)."""
    return ca_key.is_valid_signature(signature, message)


# --- key agreement keys -------------------------------------------------------------------------


@lru_cache(maxsize=4096)
def load_agreement_public(data: bytes) -> EccKey:
    """The P-256 point encoded (compressed SEC1, 33 bytes) in ``data``; raises ``InvalidKey``."""
    if not isinstance(data, bytes) or len(data) != 33 or data[0] not in (2, 3):
        raise InvalidKey("a key-agreement public key is 33 bytes of compressed SEC1 (P-256)")
    try:
        return ECC.import_key(data, curve_name=AGREEMENT_CURVE)
    except ValueError as exc:
        raise InvalidKey("bytes are not a point on P-256") from exc


@dataclass(frozen=True, repr=False)
class AgreementKey:
    """A P-256 private key for ECDH key agreement (never for signatures). Never printed.

    Make one with ``AgreementKey.from_seed("alice")`` (lessons, tests) or
    ``AgreementKey.generate(rng)`` (fresh OS randomness when ``rng`` is None).
    """

    _key: EccKey = field(compare=False)
    public_bytes: bytes
    """The public key: 33 bytes of compressed SEC1, what a certificate carries."""

    @classmethod
    def from_secret(cls, secret: bytes) -> AgreementKey:
        """The key derived from 32 secret bytes (the same bytes always give the same key)."""
        if not isinstance(secret, bytes) or len(secret) != 32:
            raise InvalidKey("a secret is exactly 32 bytes")
        order = int(ECC._curves[AGREEMENT_CURVE].order)
        # Reduce into [1, n-1]; the bias of 256 random bits modulo a 256-bit n is negligible.
        return _agreement_key_from_scalar(int.from_bytes(secret, "big") % (order - 1) + 1)

    @classmethod
    def from_seed(cls, seed: str | bytes) -> AgreementKey:
        """A reproducible key from a seed. Anyone who knows the seed knows the key."""
        if isinstance(seed, str):
            seed = seed.encode("utf-8")
        if not isinstance(seed, bytes):
            raise InvalidKey("a seed is a str or bytes")
        return cls.from_secret(tagged_hash(b"blockkit/agreement-key-seed", seed))

    @classmethod
    def generate(cls, rng: random.Random | None = None) -> AgreementKey:
        """A fresh key: from ``rng`` when given (reproducible), else from the OS's secure source."""
        return cls.from_secret(rng.randbytes(32) if rng is not None else get_random_bytes(32))

    @property
    def ecc(self) -> EccKey:
        """The pycryptodome key object, for ``Crypto.Protocol.DH.key_agreement``."""
        return self._key

    def __repr__(self) -> str:
        return f"AgreementKey(P-256, public={self.public_bytes.hex()[:16]}…)"

    def __reduce__(self) -> tuple[Any, tuple[int]]:
        """Pickle and copy by the private scalar: the pycryptodome key inside cannot be pickled.

        The grader uses this to hand a case's keys to a student's kernel (never the other way).
        """
        return (_agreement_key_from_scalar, (int(self._key.d),))


def _agreement_key_from_scalar(d: int) -> AgreementKey:
    """The agreement key with private scalar ``d`` (1 <= d < n)."""
    key = ECC.construct(curve=AGREEMENT_CURVE, d=d)
    return AgreementKey(key, key.public_key().export_key(format="SEC1", compress=True))


# --- certificates -------------------------------------------------------------------------------


@dataclass(frozen=True)
class MemberCertificate:
    """A CA's signed statement that a named person of its organisation holds these keys and role.

    Issue one with ``CertificateAuthority.issue`` (or ``enrol``); check one with
    ``Membership.validate``. Frozen: any change breaks the signature.
    """

    serial: int
    """Number unique within the organisation; revocation lists name certificates by it."""
    organisation: str
    """The organisation the member belongs to; must be the issuing CA's own."""
    subject: str
    """The member's name (a person, a service, a peer)."""
    role: str
    """One of ``ROLES``: what the member may do (policies and collections check it)."""
    public_key: PublicKey
    """The member's signing key; ``address`` is its chain address."""
    agreement_key: bytes
    """The member's P-256 key-agreement public key (33 bytes): others encrypt data keys to it."""
    valid_from: int
    """First block height at which the certificate is valid."""
    valid_until: int
    """First block height at which it is no longer valid (``FOREVER`` for no expiry)."""
    issuer_key_id: Address
    """Address of the CA key that signed it: says which key to check the signature with."""
    signature: bytes
    """The CA's signature over ``signing_message``."""

    def __post_init__(self) -> None:
        _check_height("serial", self.serial)
        _check_name("organisation", self.organisation)
        _check_name("subject", self.subject)
        if self.role not in ROLES:
            raise ValueError(f"role must be one of {', '.join(ROLES)}, not {self.role!r}")
        if not isinstance(self.public_key, PublicKey):
            raise TypeError("public_key is a blockkit.keys.PublicKey")
        load_agreement_public(self.agreement_key)  # raises InvalidKey
        _check_height("valid_from", self.valid_from)
        _check_height("valid_until", self.valid_until)
        if self.valid_until <= self.valid_from:
            raise ValueError("valid_until must be after valid_from (the window would be empty)")
        if not isinstance(self.issuer_key_id, bytes) or len(self.issuer_key_id) != 20:
            raise ValueError("issuer_key_id is the 20-byte address of the CA key")
        if not isinstance(self.signature, bytes):
            raise TypeError("signature is bytes")

    @property
    def address(self) -> Address:
        """The member's chain address (of its signing key)."""
        return self.public_key.address

    @property
    def cert_id(self) -> str:
        """A short unique name, ``"organisation:serial"``: how records and audits name readers."""
        return f"{self.organisation}:{self.serial}"

    def unsigned_fields(self) -> list[Any]:
        """Every field the signature covers, in canonical order."""
        return [
            self.serial,
            self.organisation,
            self.subject,
            self.role,
            self.public_key,
            self.agreement_key,
            self.valid_from,
            self.valid_until,
            self.issuer_key_id,
        ]

    @cached_property
    def signing_message(self) -> bytes:
        """The bytes the CA signs: a domain tag, so no other signed object can pass for one."""
        return CERT_DOMAIN + b"\x00" + encode(self.unsigned_fields())

    def to_canonical(self) -> list[Any]:
        """Plain fields for canonical encoding: the unsigned fields, then the signature."""
        return [*self.unsigned_fields(), self.signature]

    @cached_property
    def fingerprint(self) -> bytes:
        """Tagged SHA-256 of the whole certificate: tells two certificates with one serial apart."""
        return tagged_hash(b"blockkit/member-certificate", encode(self.to_canonical()))

    @classmethod
    def from_canonical(cls, value: Any) -> MemberCertificate:
        """Rebuild from ``to_canonical()`` output; ``InvalidCertificate("malformed")`` if bad."""
        try:
            if not isinstance(value, list) or len(value) != 10:
                raise ValueError("a certificate is a list of 10 fields")
            fields = list(value)
            fields[4] = PublicKey.from_canonical(fields[4])
            fields[8] = Address(fields[8])
            return cls(*fields)
        except (ValueError, TypeError) as exc:  # InvalidKey and EncodingError are ValueErrors
            raise InvalidCertificate("malformed", f"not a member certificate: {exc}") from exc

    @classmethod
    def decode(cls, data: bytes) -> MemberCertificate:
        """Parse canonical bytes; raises ``InvalidCertificate("malformed")`` when they are not."""
        try:
            value = decode(data)
        except ValueError as exc:
            raise InvalidCertificate("malformed", f"not canonical bytes: {exc}") from exc
        return cls.from_canonical(value)

    def __repr__(self) -> str:
        return (
            f"MemberCertificate({self.cert_id}, {self.subject!r}, {self.role}, "
            f"address={self.address.short}, heights {self.valid_from}.."
            f"{'forever' if self.valid_until >= FOREVER else self.valid_until})"
        )


# --- revocation ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Revocation:
    """One entry of a revocation list: certificate ``serial`` is invalid from ``height`` on."""

    serial: int
    """Serial of the revoked certificate."""
    key_address: Address
    """Address of its signing key, so verifiers can refuse the key itself after a compromise."""
    height: int
    """First block height at which the certificate is no longer valid."""
    reason: str
    """One of ``REVOCATION_REASONS``."""

    def __post_init__(self) -> None:
        _check_height("serial", self.serial)
        _check_height("height", self.height)
        if not isinstance(self.key_address, bytes) or len(self.key_address) != 20:
            raise ValueError("key_address is a 20-byte address")
        if self.reason not in REVOCATION_REASONS:
            raise ValueError(f"reason must be one of {', '.join(REVOCATION_REASONS)}")

    def to_canonical(self) -> list[Any]:
        """Plain fields for canonical encoding."""
        return [self.serial, self.key_address, self.height, self.reason]


@dataclass(frozen=True)
class RevocationList:
    """A CA's signed, numbered list of revoked serials (a CRL). Higher numbers supersede lower."""

    organisation: str
    """Whose CA signed it."""
    number: int
    """Sequence number: 0 for the first (empty) list, one more for each revocation."""
    issued_at: int
    """Block height at which the CA published it."""
    entries: tuple[Revocation, ...]
    """The revocations, sorted by serial (one canonical order, one signature)."""
    issuer_key_id: Address
    """Address of the CA key that signed it."""
    signature: bytes
    """The CA's signature over ``signing_message``."""

    def __post_init__(self) -> None:
        _check_name("organisation", self.organisation)
        _check_height("number", self.number)
        _check_height("issued_at", self.issued_at)
        serials = [entry.serial for entry in self.entries]
        if serials != sorted(set(serials)):
            raise ValueError("entries must be sorted by serial, each serial once")

    def unsigned_fields(self) -> list[Any]:
        """Every field the signature covers, in canonical order."""
        return [
            self.organisation,
            self.number,
            self.issued_at,
            list(self.entries),
            self.issuer_key_id,
        ]

    @cached_property
    def signing_message(self) -> bytes:
        """The bytes the CA signs, under their own domain tag."""
        return CRL_DOMAIN + b"\x00" + encode(self.unsigned_fields())

    def to_canonical(self) -> list[Any]:
        """Plain fields for canonical encoding: the unsigned fields, then the signature."""
        return [*self.unsigned_fields(), self.signature]

    @classmethod
    def from_canonical(cls, value: Any) -> RevocationList:
        """Rebuild from ``to_canonical()`` output; ``InvalidCertificate("malformed")`` if bad."""
        try:
            organisation, number, issued_at, entries, issuer_key_id, signature = value
            revocations = tuple(
                Revocation(serial, Address(key), height, reason)
                for serial, key, height, reason in entries
            )
            return cls(
                organisation, number, issued_at, revocations, Address(issuer_key_id), signature
            )
        except (ValueError, TypeError) as exc:
            raise InvalidCertificate("malformed", f"not a revocation list: {exc}") from exc

    @classmethod
    def decode(cls, data: bytes) -> RevocationList:
        """Parse canonical bytes (a list published on chain)."""
        try:
            value = decode(data)
        except ValueError as exc:
            raise InvalidCertificate("malformed", f"not canonical bytes: {exc}") from exc
        return cls.from_canonical(value)

    def entry(self, serial: int) -> Revocation | None:
        """The revocation of ``serial``, or None."""
        return next((entry for entry in self.entries if entry.serial == serial), None)

    def __repr__(self) -> str:
        return (
            f"RevocationList({self.organisation} #{self.number}, at height {self.issued_at}, "
            f"{len(self.entries)} revoked)"
        )


# --- the certificate authority ------------------------------------------------------------------


@dataclass(frozen=True, repr=False)
class Member:
    """What a person at an organisation holds: its certificate and its two private keys."""

    certificate: MemberCertificate
    """The CA-signed certificate naming the two public keys."""
    signing_key: PrivateKey
    """Signs transactions and statements; matches ``certificate.public_key``."""
    agreement_key: AgreementKey
    """Opens data keys wrapped for this member; matches ``certificate.agreement_key``."""

    def __post_init__(self) -> None:
        if self.signing_key.public_key != self.certificate.public_key:
            raise ValueError("the signing key does not match the certificate's public key")
        if self.agreement_key.public_bytes != self.certificate.agreement_key:
            raise ValueError("the agreement key does not match the certificate's agreement key")

    @property
    def organisation(self) -> str:
        """The member's organisation."""
        return self.certificate.organisation

    @property
    def name(self) -> str:
        """The member's name (the certificate's subject)."""
        return self.certificate.subject

    @property
    def role(self) -> str:
        """The member's role."""
        return self.certificate.role

    @property
    def address(self) -> Address:
        """The member's chain address."""
        return self.certificate.address

    @property
    def cert_id(self) -> str:
        """``"organisation:serial"`` of the certificate."""
        return self.certificate.cert_id

    def sign(self, message: bytes) -> bytes:
        """Sign ``message`` with the member's signing key."""
        return self.signing_key.sign(message)

    def __repr__(self) -> str:
        return f"Member({self.name!r} of {self.organisation}, {self.role}, {self.address.short})"


class CertificateAuthority:
    """An organisation's certificate authority: issues member certificates and revokes them.

    ``CertificateAuthority.from_seed("tax")`` gives a reproducible CA for lessons; in production
    the CA key is generated from fresh randomness and kept offline (an HSM), because whoever holds
    it can mint members of the organisation.
    """

    def __init__(self, organisation: str, key: PrivateKey) -> None:
        self.organisation = _check_name("organisation", organisation)
        if not isinstance(key, PrivateKey):
            raise TypeError("key is a blockkit.keys.PrivateKey")
        self._key = key
        self.public_key: PublicKey = key.public_key
        """The CA's public key: what a ``Membership`` trusts for this organisation."""
        self.certificates: dict[int, MemberCertificate] = {}
        """Every certificate issued, by serial."""
        self._next_serial = 1
        self._revoked: dict[int, Revocation] = {}
        self._compromised: set[bytes] = set()
        self.crl = self._sign_crl(0, 0)
        """The latest revocation list (number 0, empty, until something is revoked)."""

    @classmethod
    def from_seed(
        cls, organisation: str, seed: str = "", suite: str = "p256"
    ) -> CertificateAuthority:
        """A reproducible CA: its key comes from the organisation's name and ``seed``."""
        _check_name("organisation", organisation)
        return cls(organisation, PrivateKey.from_seed(f"blockkit/ca/{organisation}/{seed}", suite))

    @classmethod
    def generate(
        cls, organisation: str, rng: random.Random | None = None, suite: str = "p256"
    ) -> CertificateAuthority:
        """A CA with a fresh key (from ``rng`` when given, else the OS's secure source)."""
        return cls(organisation, PrivateKey.generate(suite, rng))

    @property
    def key_id(self) -> Address:
        """The address of the CA key, written into everything it signs."""
        return self.public_key.address

    def issue(
        self,
        subject: str,
        role: str,
        public_key: PublicKey,
        agreement_key: bytes,
        *,
        valid_from: int = 0,
        valid_until: int = FOREVER,
    ) -> MemberCertificate:
        """Sign a certificate for ``subject`` with the next serial of this organisation."""
        if public_key == self.public_key:
            raise ValueError(
                "the CA key cannot be a member key: it would sign transactions every day and "
                "its exposure would hand over the whole organisation; generate a member key"
            )
        if public_key.address in self._compromised:
            raise ValueError(f"key {public_key.address.short} was revoked as compromised")
        unsigned = MemberCertificate(
            self._next_serial,
            self.organisation,
            subject,
            role,
            public_key,
            agreement_key,
            valid_from,
            valid_until,
            self.key_id,
            b"",
        )
        cert = replace(unsigned, signature=self._key.sign(unsigned.signing_message))
        self.certificates[cert.serial] = cert
        self._next_serial += 1
        return cert

    def enrol(
        self,
        subject: str,
        role: str = "member",
        *,
        valid_from: int = 0,
        valid_until: int = FOREVER,
        seed: str | None = None,
        rng: random.Random | None = None,
        suite: str = "p256",
    ) -> Member:
        """Make a member's two key pairs and certify them: returns what the person holds.

        Keys come from ``seed`` (reproducible, named after organisation and subject), else from
        ``rng``, else from fresh OS randomness (production).
        """
        if seed is not None:
            base = f"blockkit/member/{self.organisation}/{subject}/{seed}"
            signing, agreement = PrivateKey.from_seed(base, suite), AgreementKey.from_seed(base)
        else:
            signing, agreement = PrivateKey.generate(suite, rng), AgreementKey.generate(rng)
        cert = self.issue(
            subject,
            role,
            signing.public_key,
            agreement.public_bytes,
            valid_from=valid_from,
            valid_until=valid_until,
        )
        return Member(cert, signing, agreement)

    def revoke(self, serial: int, *, height: int, reason: str = "unspecified") -> RevocationList:
        """Revoke certificate ``serial`` from ``height`` on; returns the new, signed CRL.

        Publish the returned list (``Membership.update_crl``): until verifiers have it, they
        still accept the certificate.
        """
        cert = self.certificates.get(serial)
        if cert is None:
            raise ValueError(f"{self.organisation} issued no certificate with serial {serial}")
        if serial in self._revoked:
            raise ValueError(f"serial {serial} is already revoked")
        _check_height("height", height)
        if height < self.crl.issued_at:
            raise ValueError(
                f"height {height} is before the last list (height {self.crl.issued_at}): "
                "a revocation cannot be backdated"
            )
        self._revoked[serial] = Revocation(serial, cert.address, height, reason)
        if reason == "key-compromise":
            self._compromised.add(cert.address)
        self.crl = self._sign_crl(self.crl.number + 1, height)
        return self.crl

    def _sign_crl(self, number: int, height: int) -> RevocationList:
        entries = tuple(self._revoked[serial] for serial in sorted(self._revoked))
        unsigned = RevocationList(self.organisation, number, height, entries, self.key_id, b"")
        return replace(unsigned, signature=self._key.sign(unsigned.signing_message))

    def __repr__(self) -> str:
        return (
            f"CertificateAuthority({self.organisation!r}, key={self.key_id.short}, "
            f"{len(self.certificates)} issued, {len(self._revoked)} revoked)"
        )


# --- membership ---------------------------------------------------------------------------------


@dataclass
class _Organisation:
    ca_key: PublicKey
    crl: RevocationList | None = None


class Membership:
    """The organisations a network (or a channel) trusts, and the members it has registered.

    Holds each organisation's CA public key and latest revocation list. ``validate`` checks one
    certificate; ``register`` remembers a valid one so that ``check_sender`` can find the member by
    address when a transaction arrives.
    """

    def __init__(self, name: str = "network") -> None:
        self.name = name
        self._orgs: dict[str, _Organisation] = {}
        self._by_serial: dict[tuple[str, int], MemberCertificate] = {}
        self._by_address: dict[bytes, list[MemberCertificate]] = {}

    @classmethod
    def of(cls, *authorities: CertificateAuthority, name: str = "network") -> Membership:
        """A membership trusting these CAs, each with its current revocation list."""
        membership = cls(name)
        for ca in authorities:
            membership.add_organisation(ca.organisation, ca.public_key, ca.crl)
        return membership

    # --- organisations --------------------------------------------------------------------------

    @property
    def organisations(self) -> tuple[str, ...]:
        """Names of the trusted organisations, sorted."""
        return tuple(sorted(self._orgs))

    def add_organisation(
        self, organisation: str, ca_key: PublicKey, crl: RevocationList | None = None
    ) -> None:
        """Trust ``organisation``'s CA key (and take its revocation list, when given)."""
        _check_name("organisation", organisation)
        if organisation in self._orgs:
            raise ValueError(f"{organisation} is already a member of {self.name}")
        if not isinstance(ca_key, PublicKey):
            raise TypeError("ca_key is the CA's blockkit.keys.PublicKey")
        for other, org in self._orgs.items():
            if org.ca_key == ca_key:
                raise ValueError(f"{other} already uses this CA key: one key, one organisation")
        self._orgs[organisation] = _Organisation(ca_key)
        if crl is not None:
            self.update_crl(crl)

    def remove_organisation(self, organisation: str) -> None:
        """Stop trusting ``organisation``: its members are refused from now on."""
        if organisation not in self._orgs:
            raise ValueError(f"{organisation} is not a member of {self.name}")
        del self._orgs[organisation]
        for key in [key for key in self._by_serial if key[0] == organisation]:
            cert = self._by_serial.pop(key)
            self._by_address[cert.address].remove(cert)
            if not self._by_address[cert.address]:
                del self._by_address[cert.address]

    def ca_key(self, organisation: str) -> PublicKey:
        """The trusted CA key of ``organisation``; ``InvalidCertificate`` if unknown."""
        return self._org(organisation).ca_key

    def crl(self, organisation: str) -> RevocationList | None:
        """The latest revocation list accepted for ``organisation`` (None before the first)."""
        return self._org(organisation).crl

    def _org(self, organisation: str) -> _Organisation:
        try:
            return self._orgs[organisation]
        except KeyError:
            raise InvalidCertificate(
                "unknown-organisation",
                f"{organisation!r} is not trusted by {self.name}; trusted: "
                f"{', '.join(self.organisations) or 'none'} (add it with add_organisation)",
            ) from None

    def update_crl(self, crl: RevocationList) -> None:
        """Accept a newer revocation list from an organisation's CA.

        Refused (``InvalidCertificate``): an unknown organisation, a list not signed by its CA
        (``"bad-crl-signature"``), a list not newer than the current one (``"stale-crl"``: an
        old list replayed would un-revoke), a list that drops a revoked serial
        (``"crl-drops-serial"``) or backdates a new revocation before the current list
        (``"backdated-revocation"``: it would invalidate blocks already accepted).
        """
        org = self._org(crl.organisation)
        if crl.issuer_key_id != org.ca_key.address or not org.ca_key.is_valid_signature(
            crl.signature, crl.signing_message
        ):
            raise InvalidCertificate(
                "bad-crl-signature",
                f"this revocation list is not signed by {crl.organisation}'s CA; ignore it",
            )
        current = org.crl
        if current is not None:
            if crl.number <= current.number:
                raise InvalidCertificate(
                    "stale-crl",
                    f"list #{crl.number} is not newer than #{current.number} already held "
                    "(an old list replayed would un-revoke certificates)",
                )
            for old in current.entries:
                if crl.entry(old.serial) != old:
                    raise InvalidCertificate(
                        "crl-drops-serial",
                        f"list #{crl.number} drops or changes the revocation of serial "
                        f"{old.serial}; revocation is permanent",
                    )
            for entry in crl.entries:
                if current.entry(entry.serial) is None and entry.height < current.issued_at:
                    raise InvalidCertificate(
                        "backdated-revocation",
                        f"serial {entry.serial} is revoked at height {entry.height}, before the "
                        f"previous list (height {current.issued_at})",
                    )
        org.crl = crl

    # --- certificates ---------------------------------------------------------------------------

    def validate(
        self, cert: MemberCertificate, *, height: int, roles: Iterable[str] | None = None
    ) -> None:
        """Return nothing when ``cert`` is valid at ``height`` (with one of ``roles``); else raise
        ``InvalidCertificate`` whose ``reason`` says why.

        Checks, in order: ``unknown-organisation``, ``wrong-issuer`` (signed by another CA's key,
        e.g. org A's CA naming organisation B), ``bad-signature``, ``ca-key-as-member``,
        ``serial-reused``, ``not-yet-valid``, ``expired``, ``revoked``, ``key-revoked`` (the key was
        revoked as compromised under any certificate), ``wrong-role``.
        """
        if not isinstance(cert, MemberCertificate):
            raise TypeError(f"validate takes a MemberCertificate, not {type(cert).__name__}")
        _check_height("height", height)
        org = self._org(cert.organisation)
        if cert.issuer_key_id != org.ca_key.address:
            raise InvalidCertificate(
                "wrong-issuer",
                f"certificate {cert.cert_id} names {cert.organisation} but was issued by key "
                f"{cert.issuer_key_id.short}, not {cert.organisation}'s CA; only an "
                "organisation's own CA may certify its members",
            )
        if not _signed_by(org.ca_key, cert.signing_message, cert.signature):
            raise InvalidCertificate(
                "bad-signature",
                f"certificate {cert.cert_id} does not verify under {cert.organisation}'s CA key "
                "(forged, or altered after signing)",
            )
        if any(o.ca_key == cert.public_key for o in self._orgs.values()):
            raise InvalidCertificate(
                "ca-key-as-member",
                f"certificate {cert.cert_id} certifies a CA key as a member key; CA keys only "
                "certify (issue the member a key of its own)",
            )
        known = self._by_serial.get((cert.organisation, cert.serial))
        if known is not None and known.fingerprint != cert.fingerprint:
            raise InvalidCertificate(
                "serial-reused",
                f"{cert.organisation} issued two different certificates with serial "
                f"{cert.serial}; refuse both until its CA explains (revoke and reissue)",
            )
        if height < cert.valid_from:
            raise InvalidCertificate(
                "not-yet-valid",
                f"certificate {cert.cert_id} is valid from height {cert.valid_from}, now {height}",
            )
        if height >= cert.valid_until:
            raise InvalidCertificate(
                "expired",
                f"certificate {cert.cert_id} expired at height {cert.valid_until}, now {height}; "
                "ask the CA for a new one",
            )
        revocation = org.crl.entry(cert.serial) if org.crl is not None else None
        if revocation is not None and revocation.height <= height:
            raise InvalidCertificate(
                "revoked",
                f"certificate {cert.cert_id} ({cert.subject}) was revoked at height "
                f"{revocation.height} ({revocation.reason})",
            )
        compromised = self._compromised_at(cert.address)
        if compromised is not None and compromised <= height:
            raise InvalidCertificate(
                "key-revoked",
                f"the key of {cert.cert_id} was revoked as compromised at height {compromised}; "
                "no certificate for it is accepted any more (enrol a new key)",
            )
        if roles is not None:
            allowed = tuple(roles)
            if cert.role not in allowed:
                raise InvalidCertificate(
                    "wrong-role",
                    f"{cert.subject} ({cert.cert_id}) is {cert.role!r}; this needs one of "
                    f"{', '.join(allowed)}",
                )

    def _compromised_at(self, address: bytes) -> int | None:
        heights = [
            entry.height
            for org in self._orgs.values()
            if org.crl is not None
            for entry in org.crl.entries
            if entry.reason == "key-compromise" and entry.key_address == address
        ]
        return min(heights) if heights else None

    def is_valid(
        self, cert: MemberCertificate, *, height: int, roles: Iterable[str] | None = None
    ) -> bool:
        """The boolean form of ``validate``, for notebooks."""
        return self.status(cert, height=height, roles=roles) == "valid"

    def status(
        self, cert: MemberCertificate, *, height: int, roles: Iterable[str] | None = None
    ) -> str:
        """``"valid"``, or the reason ``validate`` would give."""
        try:
            self.validate(cert, height=height, roles=roles)
        except InvalidCertificate as exc:
            return exc.reason
        return "valid"

    def register(self, cert: MemberCertificate, *, height: int) -> MemberCertificate:
        """Validate ``cert`` at ``height`` and remember it, so ``check_sender`` finds it."""
        self.validate(cert, height=height)
        key = (cert.organisation, cert.serial)
        if key not in self._by_serial:
            self._by_serial[key] = cert
            self._by_address.setdefault(cert.address, []).append(cert)
        return cert

    def restore(self, cert: MemberCertificate) -> None:
        """Remember ``cert`` without validating it now: for rebuilding a membership from a ledger
        that validated the certificate when it was enrolled (``blockkit.sharing.permissioned``).
        It may have been revoked or have expired since; ``check_sender`` will say so."""
        key = (cert.organisation, cert.serial)
        if key in self._by_serial:
            raise ValueError(f"certificate {cert.cert_id} is already registered")
        self._by_serial[key] = cert
        self._by_address.setdefault(cert.address, []).append(cert)

    def certificates(
        self,
        *,
        height: int,
        organisations: Iterable[str] | None = None,
        roles: Iterable[str] | None = None,
    ) -> list[MemberCertificate]:
        """Registered certificates valid at ``height``, optionally of some organisations/roles."""
        orgs = None if organisations is None else set(organisations)
        roles = None if roles is None else tuple(roles)
        return [
            cert
            for key, cert in sorted(self._by_serial.items())
            if (orgs is None or key[0] in orgs) and self.is_valid(cert, height=height, roles=roles)
        ]

    def lookup(self, address: Address | bytes) -> list[MemberCertificate]:
        """Every registered certificate for this address (valid or not), oldest first."""
        return list(self._by_address.get(bytes(address), []))

    def check_sender(
        self,
        sender: Address | PublicKey,
        *,
        height: int,
        roles: Iterable[str] | None = None,
    ) -> MemberCertificate:
        """The certificate under which ``sender`` may act at ``height``, or ``InvalidCertificate``.

        This is what a permissioned chain asks before accepting a transaction: ``"not-a-member"``
        when no registered certificate names the sender's key; otherwise the newest certificate
        that validates, or the reason the newest one fails (``"revoked"``, ``"expired"``, ...).
        """
        if isinstance(sender, PublicKey):
            address, key = sender.address, sender
        else:
            address, key = Address(bytes(sender)), None
        certs = [c for c in self.lookup(address) if key is None or c.public_key == key]
        if not certs:
            raise InvalidCertificate(
                "not-a-member",
                f"{address.short} holds no certificate registered with {self.name}; only "
                "members of " + (", ".join(self.organisations) or "no organisation") + " may act",
            )
        roles = None if roles is None else tuple(roles)
        failures: list[InvalidCertificate] = []
        for cert in reversed(certs):  # newest first
            try:
                self.validate(cert, height=height, roles=roles)
            except InvalidCertificate as exc:
                failures.append(exc)
            else:
                return cert
        raise failures[0]

    def members_df(self, height: int | None = None) -> pd.DataFrame:
        """A table of registered members (and each one's status at ``height``), for lessons."""
        import pandas as pd

        rows = []
        for (org, serial), cert in sorted(self._by_serial.items()):
            row = {
                "organisation": org,
                "serial": serial,
                "subject": cert.subject,
                "role": cert.role,
                "address": cert.address.short,
                "valid_from": cert.valid_from,
                "valid_until": "forever" if cert.valid_until >= FOREVER else cert.valid_until,
            }
            if height is not None:
                row["status"] = self.status(cert, height=height)
            rows.append(row)
        columns = ["organisation", "serial", "subject", "role", "address", "valid_from"]
        columns += ["valid_until"] + (["status"] if height is not None else [])
        return pd.DataFrame(rows, columns=columns)

    def __repr__(self) -> str:
        return (
            f"Membership({self.name!r}, organisations={list(self.organisations)}, "
            f"{len(self._by_serial)} registered)"
        )
