"""Verifiable credentials with selective disclosure: an issuer signs one Merkle root over salted
fields, and the holder later shows any subset of the fields, each with a proof, to a verifier who
learns nothing about the rest.

A paper diploma or a vehicle registration card is all or nothing: whoever sees it sees every
line. Here a credential is built so that its holder can choose:

1. **Issue.** The issuer (a university, a vehicle authority) turns each field into a *salted leaf*
   ``tagged_hash(b"blockkit/credential-leaf", encode([name, salt, value]))``, with a fresh random
   salt of ``SALT_SIZE`` bytes per field, puts the leaves in a fixed order (sorted by field name,
   so the same fields always give the same tree) and signs only a short *header*: the
   credential's id, kind, issuer, holder, the Merkle root of the leaves, how many leaves there
   are, and when it was issued and expires. The holder keeps every field with its salt.
2. **Anchor.** The issuer records the root on chain (``CredentialRegistry``), under its own
   address and the credential's id. Anyone can later read whether the credential is still there
   and not revoked; only the issuer who anchored it can revoke it.
3. **Present.** A verifier sends a fresh *challenge*. The holder reveals the fields it chooses,
   each with its salt and a Merkle proof, adds the signed header, and signs
   ``(credential id, root, revealed names, verifier, challenge, time)`` with its own key.
4. **Verify.** The verifier checks, in order: it trusts the issuer; the issuer's signature on the
   header; every revealed field's proof against the signed root; the holder's signature (so a
   stolen presentation or credential is useless to anyone else); that the presentation is meant
   for this verifier and answers a challenge this verifier issued and has not seen answered
   (so it cannot be replayed); the validity period; and on chain, that the root is anchored by
   that issuer and not revoked. The first failure raises ``InvalidCredential`` with a ``reason``
   tag (``"bad-proof"``, ``"revoked"``, ``"replayed"``, ... listed in ``CredentialVerifier``).

**Why salts.** Without them, a hidden leaf is the hash of a guessable value: a verifier who sees
the leaf of a hidden ``birth_year`` could hash ``1950`` to ``2010`` and find the match in a
millisecond, and mileage, grades or postcodes fall the same way. With 16 random bytes mixed in, a
hidden leaf is indistinguishable from random: there are ``2**128`` salts to try for every guess.

**Why a holder signature with a challenge.** The issuer's signature only says "these fields are
true of the holder"; anyone who copies a presentation has the same fields, proofs and signature.
The holder's signature over the verifier's name and a one-time challenge makes the copy worthless:
shown to another verifier it names the wrong one, shown to the same verifier its challenge is
already used, and re-signed with another key it is not the holder's.

**What a presentation still reveals.** The number of fields (the leaf count is signed) and, since
leaves are sorted by name, roughly where each revealed field sits in that order. Hidden names,
values and salts never appear (tests check the bytes).

**Randomness and time.** Salts and challenges come from an injected ``random.Random`` when one is
given, so lessons reproduce byte for byte; otherwise from ``secrets`` (the operating system's
cryptographic source). A seeded salt is *predictable*: anyone who knows the seed recomputes every
salt and is back to guessing hidden values, so production code passes no ``rng``. (This module
uses no encryption, so it has no nonce that could repeat; see ``blockkit.sharing.private`` for
why AES-GCM needs a fresh key per record.) Time (``issued_at``, ``expires_at``, ``at``) is
passed in, as block heights or seconds, never read from a clock.
"""

from __future__ import annotations

import random
import secrets
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from functools import cached_property
from typing import TYPE_CHECKING, Any, Protocol

from blockkit.contracts import client
from blockkit.contracts.local import LocalHost
from blockkit.encoding import decode, encode
from blockkit.errors import (
    EncodingError,
    InvalidCredential,
    InvalidKey,
)
from blockkit.hashing import HASH_SIZE, tagged_hash
from blockkit.keys import Address, PrivateKey, PublicKey
from blockkit.merkle import MerkleProof, MerkleTree, verify_inclusion

if TYPE_CHECKING:
    import pandas as pd

    from blockkit.chain import Chain
    from blockkit.transactions import Transaction

__all__ = [
    "ALL_FIELDS",
    "DIPLOMA_VIEWS",
    "REGISTRY_SOURCE",
    "SALT_SIZE",
    "VEHICLE_VIEWS",
    "AnchorReader",
    "AnchorStatus",
    "Credential",
    "CredentialField",
    "CredentialHeader",
    "CredentialRegistry",
    "CredentialVerifier",
    "Disclosure",
    "Presentation",
    "VerificationRecord",
    "credential_df",
    "diploma_record",
    "issue_credential",
    "present",
    "present_view",
    "presentation_df",
    "vehicle_record",
    "view_fields",
    "views_df",
]

#: Bytes of random salt per field: 128 bits, so guessing a hidden value costs 2**128 hashes.
SALT_SIZE = 16
#: Bytes of a verifier's challenge.
CHALLENGE_SIZE = 32

LEAF_TAG = b"blockkit/credential-leaf"
#: Domain of the issuer's signature, and of the holder's: the same key may be issuer of one
#: credential and holder of another, so each signature says which kind it is.
ISSUER_DOMAIN = b"blockkit/credential-header/v1"
HOLDER_DOMAIN = b"blockkit/credential-presentation/v1"
PRESENTATION_TAG = b"blockkit/credential-presentation-id"
MAX_NAME_LENGTH = 64
MAX_ID_LENGTH = 128


# --- fields and leaves --------------------------------------------------------------------------


def _random_bytes(rng: random.Random | None, size: int) -> bytes:
    """``size`` random bytes: from ``rng`` when given (reproducible lessons), else ``secrets``."""
    return rng.randbytes(size) if rng is not None else secrets.token_bytes(size)


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


@dataclass(frozen=True)
class CredentialField:
    """One field of a credential as the holder keeps it: its name, value and salt."""

    name: str
    """The field's name (``"mileage_km"``); part of the leaf, so it is hidden with the value."""
    value: Any
    """Any canonically encodable value: str, int, bool, bytes, None, lists and dicts of them."""
    salt: bytes
    """``SALT_SIZE`` random bytes that make the leaf unguessable while the field is hidden."""

    @cached_property
    def leaf(self) -> bytes:
        """The leaf: ``tagged_hash(LEAF_TAG, encode([name, salt, value]))``."""
        return tagged_hash(LEAF_TAG, encode([self.name, self.salt, self.value]))

    def to_canonical(self) -> list[Any]:
        """Plain fields for canonical encoding."""
        return [self.name, self.salt, self.value]


def _tree(fields: Sequence[CredentialField]) -> MerkleTree:
    # Each salted leaf digest is a Merkle leaf (hashed once more under the tree's own 0x00 prefix).
    return MerkleTree([f.leaf for f in fields])


# --- the signed header ----------------------------------------------------------------------------


@dataclass(frozen=True)
class CredentialHeader:
    """What the issuer signs: metadata and one Merkle root, never a field value."""

    credential_id: str
    """Unique among the issuer's credentials; the on-chain anchor is stored under it."""
    kind: str
    """What the credential is: ``"diploma"``, ``"vehicle"``, ..."""
    issuer_name: str
    """The issuer as verifiers know it (``"Tsinghua University"``); mapped to a trusted key."""
    issuer_key: PublicKey
    """The key that signed this header; its address is the issuer's address on chain."""
    holder: PublicKey
    """The holder's key: only its signature makes a presentation valid."""
    root: bytes
    """Merkle root of the salted leaves in sorted field-name order."""
    leaf_count: int
    """Number of fields (also committed to by the root)."""
    issued_at: int
    """When it was issued (block height or seconds, as the application chooses)."""
    expires_at: int | None
    """First moment it is no longer valid, or None for never."""
    signature: bytes
    """The issuer's signature over ``signing_message``."""

    def signed_fields(self) -> list[Any]:
        """Every field the issuer's signature covers, in canonical order."""
        return [
            self.credential_id,
            self.kind,
            self.issuer_name,
            self.issuer_key,
            self.holder,
            self.root,
            self.leaf_count,
            self.issued_at,
            self.expires_at,
        ]

    @property
    def signing_message(self) -> bytes:
        """The bytes the issuer signs: ``ISSUER_DOMAIN || 0x00 || encode(signed_fields())``."""
        return ISSUER_DOMAIN + b"\x00" + encode(self.signed_fields())

    def has_valid_signature(self) -> bool:
        """True when ``signature`` is the issuer key's signature over the header."""
        return self.issuer_key.is_valid_signature(self.signature, self.signing_message)

    def to_canonical(self) -> list[Any]:
        """Plain fields for canonical encoding: the signed fields, then the signature."""
        return [*self.signed_fields(), self.signature]

    @classmethod
    def from_canonical(cls, value: Any) -> CredentialHeader:
        """Rebuild from ``to_canonical()`` output; ``InvalidCredential("malformed")`` if bad."""
        _expect(isinstance(value, list) and len(value) == 10, "a header is a list of 10 items")
        cid, kind, issuer_name, issuer_key, holder, root, count, issued, expires, sig = value
        header = cls(
            cid, kind, issuer_name, _public_key(issuer_key, "issuer key"),
            _public_key(holder, "holder key"), root, count, issued, expires, sig,
        )  # fmt: skip
        _check_header_fields(header)
        return header

    def __repr__(self) -> str:
        return (
            f"CredentialHeader({self.kind} {self.credential_id!r} by {self.issuer_name!r}, "
            f"{self.leaf_count} fields, root={self.root.hex()[:12]}…)"
        )


def _expect(condition: bool, message: str) -> None:
    if not condition:
        raise InvalidCredential("malformed", message)


def _public_key(value: Any, what: str) -> PublicKey:
    try:
        return PublicKey.from_canonical(value)
    except InvalidKey as exc:
        raise InvalidCredential("malformed", f"bad {what}: {exc}") from exc


def _check_header_fields(h: CredentialHeader) -> None:
    """Types and ranges of a header's fields (a received header is untrusted input)."""
    for name in ("credential_id", "kind", "issuer_name"):
        text = getattr(h, name)
        _expect(
            isinstance(text, str) and 0 < len(text) <= MAX_ID_LENGTH,
            f"{name} must be a str of 1 to {MAX_ID_LENGTH} characters",
        )
    _expect(isinstance(h.issuer_key, PublicKey), "issuer_key must be a PublicKey")
    _expect(isinstance(h.holder, PublicKey), "holder must be a PublicKey")
    _expect(isinstance(h.root, bytes) and len(h.root) == HASH_SIZE, "root must be 32 bytes")
    _expect(_is_int(h.leaf_count) and h.leaf_count >= 1, "leaf_count must be an int >= 1")
    _expect(_is_int(h.issued_at) and h.issued_at >= 0, "issued_at must be an int >= 0")
    _expect(
        h.expires_at is None or (_is_int(h.expires_at) and h.expires_at > h.issued_at),
        "expires_at must be None or an int after issued_at",
    )
    _expect(isinstance(h.signature, bytes), "signature must be bytes")


# --- the credential (what the holder keeps) -------------------------------------------------------


@dataclass(frozen=True)
class Credential:
    """A signed header and every field with its salt: the holder's private copy.

    Never send a ``Credential`` to a verifier (it holds every field and salt); send a
    ``Presentation`` made with ``present``.
    """

    header: CredentialHeader
    """The issuer-signed header."""
    fields: tuple[CredentialField, ...]
    """Every field, sorted by name (the order of the leaves)."""

    @property
    def credential_id(self) -> str:
        """The header's id."""
        return self.header.credential_id

    @property
    def values(self) -> dict[str, Any]:
        """The fields as a plain dict ``{name: value}``."""
        return {f.name: f.value for f in self.fields}

    @property
    def names(self) -> tuple[str, ...]:
        """Field names in leaf order."""
        return tuple(f.name for f in self.fields)

    def check(self) -> None:
        """What a holder does on receipt: the issuer's signature verifies and the fields rebuild
        the signed root. Raises ``InvalidCredential`` (``"bad-issuer-signature"`` or
        ``"bad-proof"``) otherwise. Whether the issuer is *trusted* is the verifier's question."""
        if not self.header.has_valid_signature():
            raise InvalidCredential(
                "bad-issuer-signature",
                "the header's signature does not verify under its issuer key: ask the issuer "
                "for the credential again",
            )
        names = self.names
        if list(names) != sorted(set(names)) or len(names) != self.header.leaf_count:
            raise InvalidCredential("bad-proof", "fields are not the signed, sorted set")
        if _tree(self.fields).root != self.header.root:
            raise InvalidCredential(
                "bad-proof", "the fields do not rebuild the signed root: a value or salt changed"
            )

    def to_canonical(self) -> list[Any]:
        """Plain fields for canonical encoding."""
        return [self.header, list(self.fields)]

    @property
    def encoded(self) -> bytes:
        """Canonical bytes, for a wallet to store (they contain every field and salt)."""
        return encode(self)

    @classmethod
    def decode(cls, data: bytes) -> Credential:
        """Parse bytes from ``encoded`` and ``check()`` them; raise ``EncodingError`` or
        ``InvalidCredential``."""
        credential = cls.from_canonical(decode(data))
        credential.check()
        return credential

    @classmethod
    def from_canonical(cls, value: Any) -> Credential:
        """Rebuild from ``to_canonical()`` output, unchecked (``decode`` also checks the
        signature and the root); ``InvalidCredential("malformed")`` if the shape is wrong."""
        _expect(isinstance(value, list) and len(value) == 2, "a credential is [header, fields]")
        header, items = value
        _expect(isinstance(items, list), "fields must be a list")
        fields = []
        for item in items:
            _expect(isinstance(item, list) and len(item) == 3, "a field is [name, salt, value]")
            name, salt, field_value = item
            _expect(isinstance(name, str) and isinstance(salt, bytes), "bad field types")
            fields.append(CredentialField(name, field_value, salt))
        return cls(CredentialHeader.from_canonical(header), tuple(fields))

    def __repr__(self) -> str:
        return (
            f"Credential({self.header.kind} {self.credential_id!r} by "
            f"{self.header.issuer_name!r}: {', '.join(self.names)})"
        )


def _check_field_value(name: Any, value: Any) -> None:
    if not isinstance(name, str) or not 0 < len(name) <= MAX_NAME_LENGTH:
        raise ValueError(f"field names are str of 1 to {MAX_NAME_LENGTH} characters, not {name!r}")
    try:
        encode(value)
    except EncodingError as exc:
        raise ValueError(
            f"field {name!r} cannot be signed: {exc} (e.g. store 12.5 km as the int 12500 m)"
        ) from exc


def issue_credential(
    issuer_key: PrivateKey,
    *,
    issuer_name: str,
    holder: PublicKey,
    credential_id: str,
    kind: str,
    fields: Mapping[str, Any],
    issued_at: int,
    expires_at: int | None = None,
    rng: random.Random | None = None,
) -> Credential:
    """Issue a credential: salt every field, build the Merkle tree, sign the header.

    ``fields`` maps names to values (str, int, bytes, bool, None, and lists/dicts of them; no
    floats). ``rng`` makes the salts reproducible for lessons; leave it out in production.
    """
    if not isinstance(issuer_key, PrivateKey):
        raise TypeError("issuer_key must be the issuer's PrivateKey (it signs the header)")
    if not isinstance(holder, PublicKey):
        raise TypeError("holder must be the holder's PublicKey (e.g. holder_key.public_key)")
    if not isinstance(fields, Mapping) or not fields:
        raise ValueError("fields must be a non-empty dict {name: value}")
    for name, value in fields.items():
        _check_field_value(name, value)
    if not _is_int(issued_at) or issued_at < 0:
        raise ValueError("issued_at must be an int >= 0 (a block height or seconds)")
    if expires_at is not None and (not _is_int(expires_at) or expires_at <= issued_at):
        raise ValueError("expires_at must be None (never) or an int after issued_at")
    for what, text in (
        ("credential_id", credential_id),
        ("kind", kind),
        ("issuer_name", issuer_name),
    ):
        if not isinstance(text, str) or not 0 < len(text) <= MAX_ID_LENGTH:
            raise ValueError(f"{what} must be a str of 1 to {MAX_ID_LENGTH} characters")
    # Sorted names make the tree canonical; a fresh salt per field, drawn in that order, makes a
    # seeded run reproduce exactly.
    salted = tuple(
        CredentialField(name, fields[name], _random_bytes(rng, SALT_SIZE))
        for name in sorted(fields)
    )
    unsigned = CredentialHeader(
        credential_id, kind, issuer_name, issuer_key.public_key, holder,
        _tree(salted).root, len(salted), issued_at, expires_at, b"",
    )  # fmt: skip
    header = _replace_signature(unsigned, issuer_key.sign(unsigned.signing_message))
    return Credential(header, salted)


def _replace_signature(header: CredentialHeader, signature: bytes) -> CredentialHeader:
    return replace(header, signature=signature)


# --- presentations (what the verifier receives) ---------------------------------------------------


@dataclass(frozen=True)
class Disclosure:
    """One revealed field: name, value, salt, and the proof that its leaf is under the root."""

    name: str
    value: Any
    salt: bytes
    proof: MerkleProof
    """Inclusion proof of the salted leaf in the header's Merkle tree."""

    @property
    def leaf(self) -> bytes:
        """The salted leaf this disclosure claims."""
        return CredentialField(self.name, self.value, self.salt).leaf

    def to_canonical(self) -> list[Any]:
        """Plain fields for canonical encoding."""
        return [self.name, self.salt, self.value, self.proof]


@dataclass(frozen=True)
class Presentation:
    """Chosen fields of a credential, proven, for one verifier and one challenge."""

    header: CredentialHeader
    """The issuer-signed header (no field values in it)."""
    disclosures: tuple[Disclosure, ...]
    """The revealed fields, in leaf order."""
    verifier: str
    """Who this presentation is for; another verifier refuses it."""
    challenge: bytes
    """The verifier's one-time challenge; a second use is refused."""
    presented_at: int
    """When the holder made it (as the holder says; signed)."""
    holder_signature: bytes
    """The holder's signature over ``signing_message``."""

    @property
    def revealed_names(self) -> list[str]:
        """Names of the revealed fields, in leaf order."""
        return [d.name for d in self.disclosures]

    @property
    def revealed(self) -> dict[str, Any]:
        """The revealed fields as ``{name: value}`` (unverified: use ``CredentialVerifier``)."""
        return {d.name: d.value for d in self.disclosures}

    def signed_fields(self) -> list[Any]:
        """What the holder signs: id, root, revealed names, verifier, challenge, time."""
        h = self.header
        return [
            h.credential_id, h.root, self.revealed_names, self.verifier, self.challenge,
            self.presented_at,
        ]  # fmt: skip

    @property
    def signing_message(self) -> bytes:
        """``HOLDER_DOMAIN || 0x00 || encode(signed_fields())``."""
        return HOLDER_DOMAIN + b"\x00" + encode(self.signed_fields())

    def to_canonical(self) -> list[Any]:
        """Plain fields for canonical encoding (what goes over the wire)."""
        return [
            self.header, list(self.disclosures), self.verifier, self.challenge,
            self.presented_at, self.holder_signature,
        ]  # fmt: skip

    @property
    def encoded(self) -> bytes:
        """Canonical bytes of the presentation: send these to the verifier."""
        return encode(self)

    @property
    def hash(self) -> bytes:
        """An id for logs: tagged hash of the canonical bytes."""
        return tagged_hash(PRESENTATION_TAG, self.encoded)

    @classmethod
    def decode(cls, data: bytes) -> Presentation:
        """Parse bytes from ``encoded``; raise ``EncodingError`` or ``InvalidCredential``."""
        return cls.from_canonical(decode(data))

    @classmethod
    def from_canonical(cls, value: Any) -> Presentation:
        """Rebuild from ``to_canonical()`` output; ``InvalidCredential("malformed")`` if bad."""
        _expect(isinstance(value, list) and len(value) == 6, "a presentation is 6 items")
        header, items, verifier, challenge, at, signature = value
        _expect(isinstance(items, list), "disclosures must be a list")
        disclosures = tuple(_disclosure_from(item) for item in items)
        presentation = cls(
            CredentialHeader.from_canonical(header), disclosures, verifier, challenge, at,
            signature,
        )  # fmt: skip
        _check_presentation_fields(presentation)
        return presentation

    def __repr__(self) -> str:
        return (
            f"Presentation({self.header.kind} {self.header.credential_id!r} for "
            f"{self.verifier!r}: reveals {', '.join(self.revealed_names) or 'nothing'})"
        )


def _disclosure_from(item: Any) -> Disclosure:
    _expect(isinstance(item, list) and len(item) == 4, "a disclosure is [name, salt, value, proof]")
    name, salt, value, proof = item
    _expect(
        isinstance(proof, list)
        and len(proof) == 3
        and _is_int(proof[0])
        and _is_int(proof[1])
        and isinstance(proof[2], list)
        and all(isinstance(s, bytes) for s in proof[2]),
        "a proof is [index, leaf_count, [sibling hashes]]",
    )
    return Disclosure(name, value, salt, MerkleProof(proof[0], proof[1], tuple(proof[2])))


def _check_presentation_fields(p: Presentation) -> None:
    _check_header_fields(p.header)
    for d in p.disclosures:
        _expect(isinstance(d, Disclosure), "disclosures must be Disclosure objects")
        _expect(
            isinstance(d.name, str)
            and isinstance(d.salt, bytes)
            and isinstance(d.proof, MerkleProof),
            "a disclosure has a str name, bytes salt and a MerkleProof",
        )
    _expect(isinstance(p.verifier, str) and len(p.verifier) > 0, "verifier must be a str")
    _expect(isinstance(p.challenge, bytes), "challenge must be bytes")
    _expect(_is_int(p.presented_at) and p.presented_at >= 0, "presented_at must be an int >= 0")
    _expect(isinstance(p.holder_signature, bytes), "holder_signature must be bytes")


def present(
    credential: Credential,
    holder_key: PrivateKey,
    reveal: Iterable[str],
    *,
    verifier: str,
    challenge: bytes,
    at: int,
) -> Presentation:
    """Reveal the fields named in ``reveal`` to ``verifier``, answering its ``challenge``.

    Each revealed field travels with its salt and Merkle proof; every other field stays with
    the holder. The holder signs, so nobody else can use the result, and the challenge makes it
    good for one verification only.
    """
    if not isinstance(credential, Credential):
        raise TypeError("present takes the Credential the issuer gave you")
    if holder_key.public_key != credential.header.holder:
        raise ValueError(
            f"this credential was issued to {credential.header.holder!r}: sign with that key "
            "(a verifier refuses presentations signed by anyone else)"
        )
    if isinstance(reveal, str):
        raise TypeError("reveal is a list of field names, e.g. ['licence_plate']")
    wanted = set(reveal)
    unknown = wanted - set(credential.names)
    if unknown:
        raise ValueError(
            f"no field {', '.join(sorted(unknown))} in this credential; "
            f"choose from {', '.join(credential.names)}"
        )
    if not isinstance(verifier, str) or not verifier:
        raise ValueError("verifier must be the verifier's name (a non-empty str)")
    if not isinstance(challenge, bytes) or not challenge:
        raise ValueError("challenge must be the bytes the verifier gave you (verifier.challenge())")
    if not _is_int(at) or at < 0:
        raise ValueError("at must be an int >= 0 (a block height or seconds)")
    tree = _tree(credential.fields)
    disclosures = tuple(
        Disclosure(f.name, f.value, f.salt, tree.proof(i))
        for i, f in enumerate(credential.fields)
        if f.name in wanted
    )
    unsigned = Presentation(credential.header, disclosures, verifier, challenge, at, b"")
    signature = holder_key.sign(unsigned.signing_message)
    return Presentation(credential.header, disclosures, verifier, challenge, at, signature)


# --- the on-chain anchor and revocation registry -------------------------------------------------

REGISTRY_SOURCE = '''
class CredentialRegistry:
    """Anchors of credential roots and their revocation. See blockkit.sharing.credentials."""

    def __init__(self):
        self.anchors = {}
        self.total = 0

    def anchor(self, credential_id: str, root: bytes) -> bool:
        require(
            len(credential_id) > 0 and len(credential_id) <= 128,
            "a credential id is 1 to 128 characters",
        )
        require(len(root) == 32, "root must be the 32-byte Merkle root of the credential")
        require(
            self.anchors.get([caller, credential_id], None) is None,
            "you already anchored credential " + credential_id
            + "; an anchor never changes: issue the credential under a new id",
        )
        self.anchors[caller, credential_id] = {
            "root": root,
            "anchored": block_height,
            "revoked": False,
            "revoked_at": None,
            "reason": "",
        }
        self.total += 1
        emit("Anchored", issuer=caller, credential_id=credential_id, root=root)
        return True

    def revoke(self, credential_id: str, reason: str) -> bool:
        entry = self.anchors.get([caller, credential_id], None)
        require(
            entry is not None,
            "you have not anchored credential " + credential_id
            + ": only the issuer who anchored a credential may revoke it",
        )
        require(not entry["revoked"], "credential " + credential_id + " is already revoked")
        require(len(reason) > 0, "say why the credential is revoked")
        entry["revoked"] = True
        entry["revoked_at"] = block_height
        entry["reason"] = reason
        self.anchors[caller, credential_id] = entry
        emit("Revoked", issuer=caller, credential_id=credential_id, reason=reason)
        return True

    def lookup(self, issuer: bytes, credential_id: str):
        return self.anchors.get([issuer, credential_id], None)

    def count(self) -> int:
        return self.total
'''


@dataclass(frozen=True)
class AnchorStatus:
    """What the registry says about one credential of one issuer."""

    issuer: Address
    """Address of the issuer that anchored it (the address of its signing key)."""
    credential_id: str
    root: bytes
    """The anchored Merkle root; a verifier compares it with the presented header's root."""
    anchored_at: int
    """Block height of the anchoring."""
    revoked: bool
    revoked_at: int | None
    """Block height of the revocation, or None."""
    reason: str
    """Why it was revoked ("" when it is not)."""


class AnchorReader(Protocol):
    """Anything a verifier can ask about anchors: a ``CredentialRegistry`` or a test double."""

    def lookup(self, issuer: Address | PublicKey, credential_id: str) -> AnchorStatus | None:
        """The anchor of ``credential_id`` by ``issuer``, or None when there is none."""
        ...


#: Gas for each registry transaction (unused gas is refunded on a chain).
REGISTRY_GAS = 200_000


class CredentialRegistry:
    """The anchor-and-revocation contract, driven from Python, on a ``LocalHost`` or a ``Chain``.

    ``CredentialRegistry.deploy(host_or_chain, key)`` deploys ``REGISTRY_SOURCE``. On a
    ``LocalHost`` the calls run at once; on a ``Chain`` each write is a signed transaction
    handed to ``submit`` (default: mine it into a block on the tip at once, as a single-node
    classroom chain would) and its receipt checked; reads use ``Chain.call_view`` (free).
    A refused write raises ``Revert`` with the contract's message.
    """

    def __init__(
        self,
        backend: LocalHost | Chain,
        address: Address,
        *,
        submit: Callable[[Transaction], None] | None = None,
        gas: int = REGISTRY_GAS,
    ) -> None:
        self.backend = backend
        self.address = Address(bytes(address))
        self.gas = gas
        self._submit = submit

    @classmethod
    def deploy(
        cls,
        backend: LocalHost | Chain,
        deployer: PrivateKey,
        *,
        submit: Callable[[Transaction], None] | None = None,
        gas: int = REGISTRY_GAS,
    ) -> CredentialRegistry:
        """Deploy a fresh registry from ``deployer`` (who has no special rights in it)."""
        address, outcome = client.deploy(
            backend, deployer, REGISTRY_SOURCE, [], gas=gas, submit=submit
        )
        if not outcome.ok:
            what = "deploying the credential registry"
            raise client.contract_error(outcome.status, outcome.error, what)
        return cls(backend, address, submit=submit, gas=gas)

    def __repr__(self) -> str:
        return f"CredentialRegistry({self.address.short} on {client.where(self.backend)})"

    # -- writes

    def anchor(self, issuer_key: PrivateKey, credential: Credential | CredentialHeader) -> None:
        """Record the credential's root under the issuer's address and the credential's id."""
        header = credential.header if isinstance(credential, Credential) else credential
        if issuer_key.public_key != header.issuer_key:
            raise ValueError(
                "anchor with the key that signed the credential: verifiers look the anchor up "
                "under the address of the header's issuer key"
            )
        self._write(issuer_key, "anchor", [header.credential_id, header.root])

    def anchor_digest(self, key: PrivateKey, anchor_id: str, digest: bytes) -> None:
        """Record any 32-byte ``digest`` (a private record's hash, a document's) under ``key``'s
        address and ``anchor_id``: the same once-only, revocable anchor a credential gets, read
        back with ``lookup(key.public_key, anchor_id)``."""
        self._write(key, "anchor", [anchor_id, digest])

    def revoke(self, issuer_key: PrivateKey, credential_id: str, reason: str) -> None:
        """Revoke a credential this issuer anchored (``Revert`` for anyone else)."""
        self._write(issuer_key, "revoke", [credential_id, reason])

    def _write(self, key: PrivateKey, function: str, args: list[Any]) -> None:
        outcome = client.transact(
            self.backend, self.address, key, function, args, gas=self.gas, submit=self._submit
        )
        if not outcome.ok:
            what = f"{function}({args[0]!r}) on the credential registry"
            raise client.contract_error(outcome.status, outcome.error, what)

    # -- reads

    def lookup(self, issuer: Address | PublicKey, credential_id: str) -> AnchorStatus | None:
        """The anchor of ``credential_id`` by ``issuer`` (an address or the issuer's public key),
        or None when that issuer anchored no such credential."""
        address = issuer.address if isinstance(issuer, PublicKey) else Address(bytes(issuer))
        args = [address, credential_id]
        entry = client.view(self.backend, self.address, "lookup", args)
        if entry is None:
            return None
        return AnchorStatus(
            address, credential_id, entry["root"], entry["anchored"], entry["revoked"],
            entry["revoked_at"], entry["reason"],
        )  # fmt: skip


# --- the verifier ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class VerificationRecord:
    """One line of a verifier's log: who showed what, when, and what the verifier decided."""

    at: int
    credential_id: str
    issuer: str
    kind: str
    revealed: tuple[str, ...]
    outcome: str
    """``"accepted"`` or the reason tag of the rejection."""
    message: str = ""


class CredentialVerifier:
    """Checks presentations: trusted issuers, signatures, proofs, freshness and the chain.

    Reasons a presentation is refused (``InvalidCredential.reason``), in the order checked:

    ==========================  ===================================================================
    ``"malformed"``             not a well-formed presentation
    ``"untrusted-issuer"``      the issuer's name is not trusted here, or its key is not the one
                                trusted for that name
    ``"bad-issuer-signature"``  the header was not signed by the issuer's key (forged or altered)
    ``"bad-proof"``             a revealed value, salt or proof was altered, or a field that was
                                never signed was added
    ``"bad-holder-signature"``  not signed by the credential's holder (stolen, or altered after)
    ``"wrong-verifier"``        made for another verifier
    ``"unknown-challenge"``     answers a challenge this verifier never issued
    ``"replayed"``              answers a challenge already used once
    ``"not-yet-valid"``         ``at`` is before ``issued_at``
    ``"expired"``               ``at`` is at or after ``expires_at``
    ``"not-anchored"``          the issuer anchored no such credential, or anchored another root
    ``"revoked"``               the issuer revoked it on chain
    ==========================  ===================================================================

    A challenge is used up as soon as a presentation answering it passes the signature and
    challenge checks, even if a later check (expiry, revocation) refuses it: one challenge, one
    answer. Verifier names must be unique among the verifiers a holder deals with (use an
    organisation id): the name is what binds a presentation to one verifier.
    """

    def __init__(
        self,
        name: str,
        trusted_issuers: Mapping[str, PublicKey],
        registry: AnchorReader,
        *,
        rng: random.Random | None = None,
    ) -> None:
        if not isinstance(name, str) or not name:
            raise ValueError("a verifier needs a name (a non-empty str), e.g. 'City Insurance'")
        self.name = name
        self.trusted: dict[str, PublicKey] = {}
        for issuer_name, key in trusted_issuers.items():
            self.trust(issuer_name, key)
        self.registry = registry
        self.rng = rng
        self.issued: set[bytes] = set()
        self.used: set[bytes] = set()
        self.log: list[VerificationRecord] = []

    def __repr__(self) -> str:
        return (
            f"CredentialVerifier({self.name!r}, trusts {sorted(self.trusted)}, "
            f"{len(self.issued)} challenges issued, {len(self.used)} used)"
        )

    def trust(self, issuer_name: str, key: PublicKey) -> None:
        """Accept credentials signed by ``key`` under the name ``issuer_name``."""
        if not isinstance(key, PublicKey):
            raise TypeError(f"the key trusted for {issuer_name!r} must be a PublicKey")
        self.trusted[issuer_name] = key

    def challenge(self) -> bytes:
        """A fresh one-time challenge to send to a holder (from ``rng`` when one was given)."""
        value = _random_bytes(self.rng, CHALLENGE_SIZE)
        while value in self.issued:  # only a badly seeded rng repeats; never hand one out twice
            value = _random_bytes(self.rng, CHALLENGE_SIZE)
        self.issued.add(value)
        return value

    def verify(self, presentation: Presentation | bytes, at: int) -> dict[str, Any]:
        """The revealed fields ``{name: value}`` when every check passes at time ``at``; else
        ``InvalidCredential`` with the reason (the table above). Every outcome is logged."""
        if not _is_int(at) or at < 0:
            raise ValueError("at must be an int >= 0 (the verifier's block height or seconds)")
        try:
            if isinstance(presentation, bytes | bytearray):
                presentation = Presentation.decode(bytes(presentation))
            elif not isinstance(presentation, Presentation):
                raise InvalidCredential("malformed", "verify takes a Presentation or its bytes")
            else:
                _check_presentation_fields(presentation)
            self._check(presentation, at)
        except (InvalidCredential, EncodingError) as exc:
            reason = exc.reason if isinstance(exc, InvalidCredential) else "malformed"
            self._record(presentation, at, reason, str(exc))
            if isinstance(exc, EncodingError):
                raise InvalidCredential("malformed", str(exc)) from exc
            raise
        self._record(presentation, at, "accepted")
        return presentation.revealed

    def _check(self, p: Presentation, at: int) -> None:
        h = p.header
        self._check_issuer(h)
        self._check_proofs(p)
        if not h.holder.is_valid_signature(p.holder_signature, p.signing_message):
            raise InvalidCredential(
                "bad-holder-signature",
                "the presentation is not signed by the credential's holder: only the holder can "
                "present it (a copied or altered presentation fails here)",
            )
        self._check_challenge(p)
        if at < h.issued_at:
            raise InvalidCredential(
                "not-yet-valid", f"issued at {h.issued_at}, it is only {at}: check the clock"
            )
        if h.expires_at is not None and at >= h.expires_at:
            raise InvalidCredential(
                "expired", f"expired at {h.expires_at} (now {at}): ask the issuer for a new one"
            )
        self._check_anchor(h)

    def _check_issuer(self, h: CredentialHeader) -> None:
        trusted = self.trusted.get(h.issuer_name)
        if trusted is None:
            raise InvalidCredential(
                "untrusted-issuer",
                f"{self.name} does not trust issuer {h.issuer_name!r}; trusted: "
                f"{', '.join(sorted(self.trusted)) or 'none'} (add one with trust())",
            )
        if trusted != h.issuer_key:
            raise InvalidCredential(
                "untrusted-issuer",
                f"the header's key is not the key trusted for {h.issuer_name!r}: someone else "
                "is using that name",
            )
        if not h.has_valid_signature():
            raise InvalidCredential(
                "bad-issuer-signature",
                f"the header is not signed by {h.issuer_name!r}'s key: forged or altered",
            )

    def _check_proofs(self, p: Presentation) -> None:
        root, count = p.header.root, p.header.leaf_count
        last = -1
        for d in p.disclosures:
            if d.proof.leaf_count != count or not d.proof.index > last:
                raise InvalidCredential(
                    "bad-proof",
                    f"field {d.name!r}: proof is for another position or tree size "
                    f"(fields must be distinct, in leaf order, of {count} signed leaves)",
                )
            last = d.proof.index
            try:
                ok = verify_inclusion(root, d.leaf, d.proof)
            except EncodingError:  # a value that cannot be encoded cannot have been signed
                ok = False
            if not ok:
                raise InvalidCredential(
                    "bad-proof",
                    f"field {d.name!r} is not under the signed root: its value, salt or proof "
                    "was altered, or it was never part of the credential",
                )

    def _check_challenge(self, p: Presentation) -> None:
        if p.verifier != self.name:
            raise InvalidCredential(
                "wrong-verifier",
                f"made for {p.verifier!r}, shown to {self.name!r}: ask the holder for a "
                "presentation answering your own challenge",
            )
        if p.challenge not in self.issued:
            raise InvalidCredential(
                "unknown-challenge",
                f"{self.name} never issued this challenge: send a fresh one with challenge()",
            )
        if p.challenge in self.used:
            raise InvalidCredential(
                "replayed",
                "this challenge was already answered: a presentation is good for one "
                "verification; send the holder a fresh challenge",
            )
        self.used.add(p.challenge)

    def _check_anchor(self, h: CredentialHeader) -> None:
        status = self.registry.lookup(h.issuer_key.address, h.credential_id)
        if status is None:
            raise InvalidCredential(
                "not-anchored",
                f"{h.issuer_name!r} has anchored no credential {h.credential_id!r} on chain: "
                "ask the issuer to anchor it",
            )
        if status.root != h.root:
            raise InvalidCredential(
                "not-anchored",
                f"the root anchored for {h.credential_id!r} is {status.root.hex()[:12]}…, the "
                f"presented one {h.root.hex()[:12]}…: not the credential the issuer anchored",
            )
        if status.revoked:
            raise InvalidCredential(
                "revoked",
                f"{h.issuer_name!r} revoked {h.credential_id!r} at height {status.revoked_at}: "
                f"{status.reason}",
            )

    def _record(self, p: Any, at: int, outcome: str, message: str = "") -> None:
        if isinstance(p, Presentation) and isinstance(p.header, CredentialHeader):
            h = p.header
            names = tuple(str(d.name) for d in p.disclosures if isinstance(d, Disclosure))
            entry = VerificationRecord(
                at, str(h.credential_id), str(h.issuer_name), str(h.kind), names, outcome, message
            )
        else:
            entry = VerificationRecord(at, "", "", "", (), outcome, message)
        self.log.append(entry)

    def log_df(self) -> pd.DataFrame:
        """The log as a table: at, credential, issuer, kind, revealed, outcome, message."""
        import pandas as pd

        rows = [
            {
                "at": r.at,
                "credential": r.credential_id,
                "issuer": r.issuer,
                "kind": r.kind,
                "revealed": ", ".join(r.revealed),
                "outcome": r.outcome,
                "message": r.message,
            }
            for r in self.log
        ]
        columns = ["at", "credential", "issuer", "kind", "revealed", "outcome", "message"]
        return pd.DataFrame(rows, columns=columns)


# --- example records and role views ---------------------------------------------------------------

#: In a views policy, this role sees every field.
ALL_FIELDS = "*"

#: Who sees what of a vehicle record: the owner everything, each organisation its part.
VEHICLE_VIEWS: dict[str, str | tuple[str, ...]] = {
    "owner": ALL_FIELDS,
    "government": ("licence_plate", "vin", "engine_number", "owner_name", "registered"),
    "insurer": ("licence_plate", "mileage_km", "repair_history", "accident_count"),
    "police": ("licence_plate", "make_model", "registered"),
}

#: Who sees what of a diploma: an employer needs no grade or birth year.
DIPLOMA_VIEWS: dict[str, str | tuple[str, ...]] = {
    "graduate": ALL_FIELDS,
    "employer": ("name", "degree", "university", "year"),
    "graduate_school": ("name", "degree", "grade", "university", "year"),
}


def vehicle_record(
    *,
    licence_plate: str = "京A·7K2Q9",
    vin: str = "LSVAU2180N2183456",
    engine_number: str = "EA211-0934512",
    make_model: str = "Volkswagen Lavida 1.5",
    registered: str = "2021-03-18",
    owner_name: str = "Li Wei",
    mileage_km: int = 48_213,
    accident_count: int = 1,
    repair_history: Sequence[Mapping[str, Any]] | None = None,
) -> dict[str, Any]:
    """A vehicle record for lessons: change any field by keyword. Returns a fresh dict."""
    if repair_history is None:
        repair_history = [
            {"date": "2022-06-02", "garage": "Chaoyang Auto", "work": "brake pads", "km": 19_870},
            {"date": "2023-11-15", "garage": "Haidian Motors", "work": "rear bumper", "km": 36_402},
            {"date": "2024-09-30", "garage": "Chaoyang Auto", "work": "timing belt", "km": 47_950},
        ]
    return {
        "licence_plate": licence_plate,
        "vin": vin,
        "engine_number": engine_number,
        "make_model": make_model,
        "registered": registered,
        "owner_name": owner_name,
        "mileage_km": mileage_km,
        "accident_count": accident_count,
        "repair_history": [dict(entry) for entry in repair_history],
    }


def diploma_record(
    *,
    name: str = "Zhang Min",
    degree: str = "MEng Software Engineering",
    grade: str = "Distinction",
    year: int = 2025,
    university: str = "Beihang University",
    birth_year: int = 2001,
) -> dict[str, Any]:
    """A diploma for lessons (``birth_year`` is there to show why hidden fields need salts)."""
    return {
        "name": name,
        "degree": degree,
        "grade": grade,
        "year": year,
        "university": university,
        "birth_year": birth_year,
    }


def view_fields(
    credential: Credential, role: str, views: Mapping[str, str | Sequence[str]]
) -> tuple[str, ...]:
    """The field names ``role`` may see under ``views`` (e.g. ``VEHICLE_VIEWS``)."""
    if role not in views:
        raise ValueError(f"no role {role!r} in this policy; choose from {', '.join(views)}")
    allowed = views[role]
    if allowed == ALL_FIELDS:
        return credential.names
    if isinstance(allowed, str):
        raise TypeError(f"role {role!r}: list field names, or ALL_FIELDS for every field")
    missing = [name for name in allowed if name not in credential.names]
    if missing:
        raise ValueError(
            f"role {role!r} should see {', '.join(missing)}, which this credential lacks; "
            "fix the policy or issue the credential with those fields"
        )
    return tuple(name for name in credential.names if name in allowed)


def present_view(
    credential: Credential,
    holder_key: PrivateKey,
    role: str,
    views: Mapping[str, str | Sequence[str]],
    *,
    verifier: str,
    challenge: bytes,
    at: int,
) -> Presentation:
    """``present`` exactly the fields ``role`` may see under ``views``."""
    return present(
        credential, holder_key, view_fields(credential, role, views),
        verifier=verifier, challenge=challenge, at=at,
    )  # fmt: skip


# --- tables for lessons ---------------------------------------------------------------------------


def _show(value: Any) -> Any:
    return value if isinstance(value, str | int | bool) or value is None else repr(value)


def credential_df(credential: Credential) -> pd.DataFrame:
    """Every field of a credential with its salt and leaf: what the holder keeps."""
    import pandas as pd

    rows = [
        {
            "index": i,
            "field": f.name,
            "value": _show(f.value),
            "salt": f.salt.hex(),
            "leaf": f.leaf.hex()[:16] + "…",
        }
        for i, f in enumerate(credential.fields)
    ]
    return pd.DataFrame(rows, columns=["index", "field", "value", "salt", "leaf"])


def presentation_df(presentation: Presentation) -> pd.DataFrame:
    """One row per leaf of the credential: revealed ones with value, salt and proof size;
    hidden ones as ``hidden`` (only their position is known, from the leaf count)."""
    import pandas as pd

    by_index = {d.proof.index: d for d in presentation.disclosures}
    rows = []
    for i in range(presentation.header.leaf_count):
        d = by_index.get(i)
        if d is None:
            rows.append({"index": i, "field": "hidden", "value": "hidden", "salt": "",
                         "leaf": "", "proof_hashes": 0})  # fmt: skip
        else:
            rows.append(
                {"index": i, "field": d.name, "value": _show(d.value), "salt": d.salt.hex(),
                 "leaf": d.leaf.hex()[:16] + "…", "proof_hashes": len(d.proof.siblings)}
            )  # fmt: skip
    return pd.DataFrame(rows, columns=["index", "field", "value", "salt", "leaf", "proof_hashes"])


def views_df(credential: Credential, views: Mapping[str, str | Sequence[str]]) -> pd.DataFrame:
    """Fields down, roles across, ✓ where the role sees the field: a policy at a glance."""
    import pandas as pd

    seen = {role: set(view_fields(credential, role, views)) for role in views}
    rows = [
        {role: "✓" if name in seen[role] else "" for role in views} for name in credential.names
    ]
    return pd.DataFrame(rows, index=pd.Index(credential.names, name="field"), columns=list(views))
