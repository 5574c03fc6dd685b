"""Private data: a record is encrypted off chain for the members allowed to read it, and only its
hash goes on chain, so anyone can check a copy but only those readers can open it.

A chain shared by a tax office, a bank and an insurer must not show the bank's loan files to the
insurer, yet all three must agree that a file exists, who wrote it and when, and that no copy has
been altered since. Hyperledger Fabric calls the answer a *private data collection*; this module
builds one from three standard pieces (pycryptodome underneath):

1. **Seal the record with a fresh data key** (AES-256-GCM). GCM is *authenticated* encryption: the
   16-byte tag fails on any change to the ciphertext, the nonce, or the *associated data*: here the
   record's ``RecordHeader`` (collection, record id, epoch, writer, heights, content hash). The
   header is not secret but is bound to the ciphertext, so a ciphertext cannot be moved to another
   record, collection or epoch.
2. **Wrap the data key for each reader**, HPKE-style (RFC 9180's idea, simplified): make an
   *ephemeral* P-256 key, do ECDH with the reader's key-agreement public key (its certificate
   names it), derive a key-encryption key and nonce with HKDF-SHA256 whose context binds the
   collection, record id, epoch, reader id and both public keys, and encrypt the 32-byte data key
   with AES-GCM under it. Only the reader's private key re-creates that ECDH secret.
3. **Commit on chain.** ``SealedRecord.hash`` is a tagged SHA-256 of the *whole envelope*: header,
   nonce, ciphertext, tag and every wrapped key. Anyone holding a copy (every organisation's store,
   an auditor, a court) can check it against the chain without reading it, and the chain records
   who was given a key. Inside the header sits a *salted* hash of the plaintext,
   ``tagged_hash("blockkit/private/content", salt || plaintext)``, with the 32-byte salt inside the
   ciphertext: readers check that what they decrypted is what the writer committed to, and a
   reader can later prove the content to a third party by revealing salt and plaintext. Without the
   salt, anyone could test guesses ("is the balance 1000?") against the hash.

**Removing a member.** ``PrivateCollection.remove_member`` starts a new *epoch*. Every record has
its own data key, and the keys of the new epoch's records are wrapped only for the members that
remain, so the removed organisation never receives any key material for them, even though it
keeps every private key it ever had (the tests give it all of them and the new ciphertexts).
A design with one shared collection key (Signal's sender keys, MLS) has to generate and
redistribute a new group key at this point; per-record keys make the rotation automatic, at the
price of one wrap per reader per record. What a member has read it has read: records written
before the removal stay readable to it. *You cannot un-share what was shared*; only new data is
protected.

**Expiry.** A collection can set ``blocks_to_live``: a record written at height ``h`` is purged from
every store once the chain reaches ``h + blocks_to_live`` (``purge``); its hash stays on chain, so
the fact that it existed, and its integrity while it did, remain provable. (Purging relies on
every store being honest; a copy someone kept stays readable by its readers.)

**Randomness.** Data keys, salts, nonces and ephemeral keys come from an injected
``random.Random`` when given (lessons reproduce byte for byte) and from the operating system's
secure source otherwise, which is what production must use: anyone who knows the seed can
recompute every key. A repeated AES-GCM nonce under one key is catastrophic: the XOR of the two
plaintexts leaks and the authentication key can be solved for, after which tags can be forged.
Here that cannot happen even with a repeated seed, because every key is used once and is
*hedged*: the data key is derived from fresh bytes *and* the header (which holds the record id and
the salted content hash), and each ephemeral key from fresh bytes *and* the data key and the
reader, so two different records or contents never share a key, whatever the rng does.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any

from Crypto.Cipher import AES
from Crypto.Hash import SHA256
from Crypto.Protocol.DH import key_agreement
from Crypto.Protocol.KDF import HKDF
from Crypto.Random import get_random_bytes

from blockkit.encoding import decode, encode
from blockkit.errors import AccessDenied, InvalidKey, SharingError, TamperedData
from blockkit.hashing import tagged_hash
from blockkit.sharing.identity import (
    AgreementKey,
    Member,
    MemberCertificate,
    Membership,
    load_agreement_public,
)

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "READER_ROLES",
    "WRITER_ROLES",
    "PrivateCollection",
    "RecordExpired",
    "RecordHeader",
    "SealedRecord",
    "UnknownRecord",
    "WrappedKey",
    "content_hash",
    "seal",
    "unseal",
    "unwrap_key",
    "verify_record",
    "wrap_key",
    "wrap_key_with",
]

KEY_SIZE = 32  # AES-256
NONCE_SIZE = 12  # the GCM standard nonce
TAG_SIZE = 16
SALT_SIZE = 32
#: Roles that receive data keys (an ``observer`` sees hashes on chain, never plaintext).
READER_ROLES = ("admin", "member", "auditor")
#: Roles that may write records (auditors read, they do not write).
WRITER_ROLES = ("admin", "member")

RECORD_TAG = b"blockkit/private/record"
CONTENT_TAG = b"blockkit/private/content"
AAD_DOMAIN = b"blockkit/private/aad/v1"
WRAP_CONTEXT = "blockkit/private/wrap/v1"


class UnknownRecord(SharingError, KeyError):
    """No record with this id was ever written to the collection (reason ``"unknown-record"``)."""

    def __str__(self) -> str:  # KeyError would quote the message
        return SharingError.__str__(self)


class RecordExpired(AccessDenied):
    """The record outlived ``blocks_to_live`` and was purged; only its hash remains on chain."""


def _random_bytes(rng: random.Random | None, size: int) -> bytes:
    # Seeded for lessons (reproducible); the OS's secure source in production (rng=None).
    return rng.randbytes(size) if rng is not None else get_random_bytes(size)


def content_hash(salt: bytes, plaintext: bytes) -> bytes:
    """The salted commitment to a record's content: ``tagged_hash(CONTENT_TAG, salt || data)``."""
    return tagged_hash(CONTENT_TAG, salt + plaintext)


# --- the envelope -------------------------------------------------------------------------------


@dataclass(frozen=True)
class RecordHeader:
    """Public facts about a sealed record, authenticated as GCM's associated data."""

    collection: str
    """The collection the record belongs to."""
    record_id: str
    """The record's key within the collection."""
    epoch: int
    """The collection's membership epoch when it was written (one more per member change)."""
    writer: str
    """``cert_id`` (``"organisation:serial"``) of the member who wrote it."""
    written_at: int
    """Block height at which it was written."""
    expires_at: int | None
    """Block height from which it is purged, or None for never."""
    content_hash: bytes
    """``content_hash(salt, plaintext)``: the salt travels inside the ciphertext."""

    def to_canonical(self) -> list[Any]:
        """Plain fields for canonical encoding."""
        return [
            self.collection,
            self.record_id,
            self.epoch,
            self.writer,
            self.written_at,
            self.expires_at,
            self.content_hash,
        ]

    @property
    def associated_data(self) -> bytes:
        """What GCM authenticates besides the ciphertext: a domain tag and the header."""
        return AAD_DOMAIN + b"\x00" + encode(self.to_canonical())


@dataclass(frozen=True)
class WrappedKey:
    """A record's data key encrypted for one reader (an HPKE-style "envelope in the envelope")."""

    reader: str
    """The reader's ``cert_id``."""
    recipient: bytes
    """The reader's key-agreement public key (33 bytes) the key was wrapped to."""
    encapsulated: bytes
    """The ephemeral public key (HPKE's ``enc``, 33 bytes): with the reader's private key it gives
    back the ECDH secret."""
    ciphertext: bytes
    """AES-GCM of the 32-byte data key under the derived key, then the 16-byte tag (48 bytes)."""

    def to_canonical(self) -> list[Any]:
        """Plain fields for canonical encoding."""
        return [self.reader, self.recipient, self.encapsulated, self.ciphertext]

    @classmethod
    def from_canonical(cls, value: Any) -> WrappedKey:
        """Rebuild from ``to_canonical()`` output; ``TamperedData("malformed")`` if it is not."""
        try:
            reader, recipient, encapsulated, ciphertext = value
        except (TypeError, ValueError) as exc:
            raise TamperedData("malformed", f"not a wrapped key: {exc}") from exc
        if not isinstance(reader, str) or not all(
            isinstance(x, bytes) for x in (recipient, encapsulated, ciphertext)
        ):
            raise TamperedData("malformed", "a wrapped key is [reader, recipient, enc, ciphertext]")
        return cls(reader, recipient, encapsulated, ciphertext)


@dataclass(frozen=True)
class SealedRecord:
    """An encrypted record as the stores hold it; ``hash`` is what goes on chain."""

    header: RecordHeader
    """Collection, id, epoch, writer, heights and content hash (authenticated, not secret)."""
    nonce: bytes
    """The 12-byte GCM nonce (the data key is used once, so one nonce per key)."""
    ciphertext: bytes
    """AES-256-GCM encryption of ``encode([salt, plaintext])``."""
    tag: bytes
    """The 16-byte GCM authentication tag over header, nonce and ciphertext."""
    wrapped_keys: tuple[WrappedKey, ...]
    """The data key, wrapped for each reader, sorted by reader id."""

    def to_canonical(self) -> list[Any]:
        """Plain fields for canonical encoding."""
        return [self.header, self.nonce, self.ciphertext, self.tag, list(self.wrapped_keys)]

    @cached_property
    def hash(self) -> bytes:
        """The on-chain commitment: ``tagged_hash(RECORD_TAG, encode(self))``, every byte."""
        return tagged_hash(RECORD_TAG, encode(self.to_canonical()))

    @property
    def readers(self) -> tuple[str, ...]:
        """Ids of the members who can open it."""
        return tuple(wrapped.reader for wrapped in self.wrapped_keys)

    @classmethod
    def from_canonical(cls, value: Any) -> SealedRecord:
        """Rebuild from ``to_canonical()`` output; ``TamperedData("malformed")`` if it is not."""
        try:
            header, nonce, ciphertext, tag, wrapped = value
            record = cls(
                RecordHeader(*header),
                nonce,
                ciphertext,
                tag,
                tuple(WrappedKey.from_canonical(item) for item in wrapped),
            )
        except (TypeError, ValueError) as exc:
            raise TamperedData("malformed", f"not a sealed record: {exc}") from exc
        if not all(isinstance(x, bytes) for x in (nonce, ciphertext, tag)):
            raise TamperedData("malformed", "nonce, ciphertext and tag are bytes")
        return record

    @classmethod
    def decode(cls, data: bytes) -> SealedRecord:
        """Parse canonical bytes (a copy fetched from a store)."""
        try:
            return cls.from_canonical(decode(data))
        except ValueError as exc:  # EncodingError
            raise TamperedData("malformed", f"not canonical bytes: {exc}") from exc

    def __repr__(self) -> str:
        h = self.header
        return (
            f"SealedRecord({h.collection}/{h.record_id}, epoch {h.epoch}, by {h.writer}, "
            f"{len(self.ciphertext)} bytes, readers={list(self.readers)}, "
            f"hash={self.hash.hex()[:12]}…)"
        )


# --- wrapping a data key for one reader (HPKE-style) --------------------------------------------


def _wrap_context(
    header: RecordHeader, reader: str, encapsulated: bytes, recipient: bytes
) -> bytes:
    # Binding both public keys (as HPKE does) ties the derived key to this one exchange; binding
    # collection, record, epoch and reader means a wrapped key copied elsewhere opens nothing.
    return encode(
        [
            WRAP_CONTEXT,
            header.collection,
            header.record_id,
            header.epoch,
            reader,
            encapsulated,
            recipient,
        ]
    )


def _derive(context: bytes) -> Callable[[bytes], tuple[bytes, bytes]]:
    # The KDF handed to key_agreement: the ECDH secret in, a 32-byte key and 12-byte nonce out.
    def kdf(shared_secret: bytes) -> tuple[bytes, bytes]:
        okm: Any = HKDF(shared_secret, KEY_SIZE + NONCE_SIZE, b"", SHA256, context=context)
        return okm[:KEY_SIZE], okm[KEY_SIZE:]

    return kdf


def wrap_key(
    data_key: bytes,
    reader: str,
    recipient: bytes,
    *,
    header: RecordHeader,
    rng: random.Random | None = None,
) -> WrappedKey:
    """Encrypt ``data_key`` so that only the holder of ``recipient``'s private key can open it.

    ``recipient`` is a 33-byte P-256 key-agreement public key (``MemberCertificate.agreement_key``).
    """
    if not isinstance(data_key, bytes) or len(data_key) != KEY_SIZE:
        raise ValueError(f"a data key is {KEY_SIZE} bytes")
    # Hedged ephemeral key: fresh bytes, and what is wrapped for whom, so that even a repeated rng
    # never wraps two different data keys under one derived key and nonce.
    secret = tagged_hash(
        b"blockkit/private/ephemeral",
        _random_bytes(rng, 32) + encode([data_key, reader, recipient, header.to_canonical()]),
    )
    return wrap_key_with(
        data_key, reader, recipient, header=header, ephemeral=AgreementKey.from_secret(secret)
    )


def wrap_key_with(
    data_key: bytes,
    reader: str,
    recipient: bytes,
    *,
    header: RecordHeader,
    ephemeral: AgreementKey,
) -> WrappedKey:
    """``wrap_key`` with the sender's one-time ``ephemeral`` key given: the deterministic core.

    ECDH between ``ephemeral`` and ``recipient`` gives a shared secret; HKDF-SHA256 over it, with
    a context binding collection, record, epoch, reader and both public keys, gives a 32-byte key
    and a 12-byte nonce; AES-GCM encrypts ``data_key`` under them. Never reuse an ephemeral key
    for two data keys (``wrap_key`` makes a fresh one each time); this form exists so a lesson
    or a test can rebuild a wrapping byte for byte.
    """
    if not isinstance(data_key, bytes) or len(data_key) != KEY_SIZE:
        raise ValueError(f"a data key is {KEY_SIZE} bytes")
    recipient_key = load_agreement_public(recipient)
    context = _wrap_context(header, reader, ephemeral.public_bytes, recipient)
    kek, nonce = key_agreement(
        eph_priv=ephemeral.ecc, static_pub=recipient_key, kdf=_derive(context)
    )
    ciphertext, tag = AES.new(kek, AES.MODE_GCM, nonce=nonce).encrypt_and_digest(data_key)
    return WrappedKey(reader, recipient, ephemeral.public_bytes, ciphertext + tag)


def unwrap_key(wrapped: WrappedKey, key: AgreementKey, *, header: RecordHeader) -> bytes:
    """The data key inside ``wrapped``, opened with the reader's private ``key``.

    Raises ``AccessDenied("wrong-key")`` when ``key`` is not the one the data key was wrapped to,
    and ``TamperedData("bad-wrapped-key")`` when the wrapped key (or the header it is bound to)
    was altered.
    """
    if key.public_bytes != wrapped.recipient:
        raise AccessDenied(
            "wrong-key",
            f"this data key was wrapped for {wrapped.reader}'s key, not this one; only the "
            "intended reader can open it",
        )
    try:
        ephemeral = load_agreement_public(wrapped.encapsulated)
    except InvalidKey as exc:
        raise TamperedData("bad-wrapped-key", f"the ephemeral key is not a point: {exc}") from exc
    if not isinstance(wrapped.ciphertext, bytes) or len(wrapped.ciphertext) != KEY_SIZE + TAG_SIZE:
        raise TamperedData("bad-wrapped-key", f"a wrapped key is {KEY_SIZE + TAG_SIZE} bytes")
    context = _wrap_context(header, wrapped.reader, wrapped.encapsulated, wrapped.recipient)
    kek, nonce = key_agreement(static_priv=key.ecc, eph_pub=ephemeral, kdf=_derive(context))
    body, tag = wrapped.ciphertext[:KEY_SIZE], wrapped.ciphertext[KEY_SIZE:]
    try:
        return AES.new(kek, AES.MODE_GCM, nonce=nonce).decrypt_and_verify(body, tag)
    except ValueError:
        raise TamperedData(
            "bad-wrapped-key",
            f"the data key wrapped for {wrapped.reader} fails its tag: the wrapped key, its "
            "ephemeral key or the record header was altered (fetch a clean copy)",
        ) from None


# --- sealing and opening a record ---------------------------------------------------------------


def seal(
    plaintext: bytes,
    readers: Mapping[str, bytes] | Iterable[MemberCertificate],
    *,
    collection: str,
    record_id: str,
    epoch: int = 0,
    writer: str = "",
    written_at: int = 0,
    expires_at: int | None = None,
    rng: random.Random | None = None,
) -> SealedRecord:
    """Encrypt ``plaintext`` under a fresh data key and wrap that key for each reader.

    ``readers`` maps reader ids to key-agreement public keys, or is a list of certificates (id
    ``cert_id``, key ``agreement_key``). Returns the envelope; its ``hash`` goes on chain.
    """
    if not isinstance(plaintext, bytes):
        raise TypeError(
            "seal takes bytes: encode text with .encode() or values with blockkit.encoding.encode"
        )
    if isinstance(readers, Mapping):
        keys = dict(readers)
    else:
        keys = {}
        for cert in readers:
            if cert.cert_id in keys:
                raise ValueError(f"reader {cert.cert_id} is listed twice")
            keys[cert.cert_id] = cert.agreement_key
    if not keys:
        raise ValueError("a record needs at least one reader, or nobody could ever open it")
    salt = _random_bytes(rng, SALT_SIZE)
    header = RecordHeader(
        collection,
        record_id,
        epoch,
        writer,
        written_at,
        expires_at,
        content_hash(salt, plaintext),
    )
    # Hedged data key: fresh bytes plus the header (record id, salted content hash), so a record
    # with other content or another id gets another key even if the rng repeats itself.
    data_key = tagged_hash(
        b"blockkit/private/data-key", _random_bytes(rng, 32) + encode(header.to_canonical())
    )
    nonce = _random_bytes(rng, NONCE_SIZE)
    cipher = AES.new(data_key, AES.MODE_GCM, nonce=nonce, mac_len=TAG_SIZE)
    cipher.update(header.associated_data)
    ciphertext, tag = cipher.encrypt_and_digest(encode([salt, plaintext]))
    wrapped = tuple(
        wrap_key(data_key, reader, keys[reader], header=header, rng=rng) for reader in sorted(keys)
    )
    return SealedRecord(header, nonce, ciphertext, tag, wrapped)


def unseal(sealed: SealedRecord, reader: str, key: AgreementKey) -> bytes:
    """Open ``sealed`` as ``reader`` (a ``cert_id``) with its key-agreement private ``key``.

    Raises ``AccessDenied`` (``"not-a-reader"``, ``"wrong-key"``) or ``TamperedData``
    (``"bad-wrapped-key"``, ``"bad-tag"``, ``"content-mismatch"``).
    """
    wrapped = next((w for w in sealed.wrapped_keys if w.reader == reader), None)
    if wrapped is None:
        raise AccessDenied(
            "not-a-reader",
            f"record {sealed.header.record_id!r} was sealed for {', '.join(sealed.readers)}; "
            f"no data key was ever wrapped for {reader}",
        )
    data_key = unwrap_key(wrapped, key, header=sealed.header)
    if len(sealed.nonce) != NONCE_SIZE or len(sealed.tag) != TAG_SIZE:
        raise TamperedData("bad-tag", "the nonce or tag has the wrong length")
    cipher = AES.new(data_key, AES.MODE_GCM, nonce=sealed.nonce, mac_len=TAG_SIZE)
    cipher.update(sealed.header.associated_data)
    try:
        payload = cipher.decrypt_and_verify(sealed.ciphertext, sealed.tag)
    except ValueError:
        raise TamperedData(
            "bad-tag",
            f"record {sealed.header.record_id!r} fails its GCM tag: the ciphertext, nonce, tag "
            "or header was altered, or the ciphertext was moved from another record",
        ) from None
    try:  # authentic, so written by the holder of the data key, who may still be dishonest
        salt, plaintext = decode(payload)
        consistent = content_hash(salt, plaintext) == sealed.header.content_hash
    except (ValueError, TypeError):
        consistent = False
    if not consistent:
        raise TamperedData(
            "content-mismatch",
            f"record {sealed.header.record_id!r} decrypts to content other than the writer "
            f"committed to ({sealed.header.writer} sealed inconsistent data)",
        )
    return plaintext


def verify_record(sealed: SealedRecord, onchain_hash: bytes) -> None:
    """Return nothing when the copy ``sealed`` is the one committed on chain; else raise
    ``TamperedData("hash-mismatch")``. Needs no key: anyone can check a copy."""
    if sealed.hash != onchain_hash:
        raise TamperedData(
            "hash-mismatch",
            f"this copy of {sealed.header.record_id!r} hashes to {sealed.hash.hex()[:12]}…, the "
            f"chain says {bytes(onchain_hash).hex()[:12]}…: it was altered or swapped; fetch "
            "another member's copy",
        )


# --- a private data collection ------------------------------------------------------------------


class PrivateCollection:
    """A named set of organisations sharing private records (Fabric's private data collection).

    Each member organisation has an off-chain store (``stores[org]``: record id → envelope);
    ``hashes`` stands for the chain: record id → the hash committed there. Members come from a
    ``Membership``: a record is sealed for every registered certificate of the collection's
    organisations that is valid at the writing height and has a reading role.
    """

    def __init__(
        self,
        name: str,
        membership: Membership,
        organisations: Iterable[str],
        *,
        height: int = 0,
        blocks_to_live: int | None = None,
        reader_roles: Iterable[str] = READER_ROLES,
        writer_roles: Iterable[str] = WRITER_ROLES,
        rng: random.Random | None = None,
    ) -> None:
        if not isinstance(membership, Membership):
            raise TypeError("membership is a blockkit.sharing.identity.Membership")
        if blocks_to_live is not None and (
            not isinstance(blocks_to_live, int) or blocks_to_live < 1
        ):
            raise ValueError("blocks_to_live is a number of blocks >= 1, or None to keep forever")
        self.name = name
        self.membership = membership
        self.blocks_to_live = blocks_to_live
        self.reader_roles = tuple(reader_roles)
        self.writer_roles = tuple(writer_roles)
        self.rng = rng
        self.height = height
        """The latest height seen by a write or a membership change (heights only go forward)."""
        self.epoch = 0
        """Membership epoch: one more at each ``add_member`` / ``remove_member``."""
        orgs = tuple(sorted(set(organisations)))
        if not orgs:
            raise ValueError("a collection needs at least one organisation")
        for org in orgs:
            self._check_known(org)
        self.organisations: tuple[str, ...] = orgs
        """The current member organisations."""
        self.stores: dict[str, dict[str, SealedRecord]] = {org: {} for org in orgs}
        """Each organisation's off-chain store (kept for removed organisations: it was shared)."""
        self.hashes: dict[str, bytes] = {}
        """What the chain holds: record id → ``SealedRecord.hash``. Kept after purging."""
        self.headers: dict[str, RecordHeader] = {}
        """Record id → header (epoch, writer, heights), for expiry and tables."""
        self.purged: set[str] = set()
        """Ids of records purged after their ``blocks_to_live``."""
        self.history: list[tuple[int, int, tuple[str, ...]]] = [(0, height, orgs)]
        """(epoch, height, organisations) at each membership change."""

    def _check_known(self, org: str) -> None:
        if org not in self.membership.organisations:
            raise ValueError(
                f"{org!r} is not an organisation of {self.membership.name}; add it to the "
                "membership (add_organisation) first"
            )

    def _advance(self, height: int) -> None:
        if not isinstance(height, int) or height < self.height:
            raise ValueError(
                f"height {height!r} is before the collection's latest ({self.height}): heights "
                "only go forward"
            )
        self.height = height

    # --- membership -----------------------------------------------------------------------------

    def readers(self, height: int) -> list[MemberCertificate]:
        """The certificates a record written now is sealed for."""
        return self.membership.certificates(
            height=height, organisations=self.organisations, roles=self.reader_roles
        )

    def add_member(self, organisation: str, height: int) -> int:
        """Let ``organisation`` in from ``height``: a new epoch; returns its number.

        It reads records written from now on; older ones were never wrapped for it (share them
        again explicitly if it should see history).
        """
        self._check_known(organisation)
        if organisation in self.organisations:
            raise ValueError(f"{organisation} is already in collection {self.name}")
        return self._new_epoch((*self.organisations, organisation), height)

    def remove_member(self, organisation: str, height: int) -> int:
        """Remove ``organisation`` from ``height``: a new epoch; returns its number.

        Records written from now on get data keys wrapped only for the remaining members, so the
        removed organisation cannot read them with any key it holds. Its store keeps what it
        already had: what was shared cannot be un-shared.
        """
        if organisation not in self.organisations:
            raise ValueError(f"{organisation} is not in collection {self.name}")
        if len(self.organisations) == 1:
            raise ValueError("cannot remove the last organisation: nobody could read new records")
        return self._new_epoch(tuple(o for o in self.organisations if o != organisation), height)

    def _new_epoch(self, organisations: tuple[str, ...], height: int) -> int:
        self._advance(height)
        self.epoch += 1
        self.organisations = tuple(sorted(organisations))
        for org in self.organisations:
            self.stores.setdefault(org, {})
        self.history.append((self.epoch, height, self.organisations))
        return self.epoch

    # --- writing and reading --------------------------------------------------------------------

    def _check_actor(self, member: Member, height: int, roles: tuple[str, ...], verb: str) -> None:
        if not isinstance(member, Member):
            raise TypeError(f"{verb} takes a Member (the certificate and its private keys)")
        self.membership.validate(member.certificate, height=height)  # revoked, expired, ...
        if member.organisation not in self.stores:
            raise AccessDenied(
                "outsider",
                f"{member.organisation} is not a member of collection {self.name} "
                f"({', '.join(self.organisations)}); it holds only the hashes on chain",
            )
        if member.role not in roles:
            raise AccessDenied(
                "wrong-role",
                f"{member.name} is {member.role!r}; to {verb} in {self.name} a member needs one "
                f"of {', '.join(roles)}",
            )

    def put(self, record_id: str, data: bytes, writer: Member, height: int) -> bytes:
        """Seal ``data`` for the current readers, store it with every member organisation, and
        return the hash to put on chain."""
        if not isinstance(record_id, str) or not record_id:
            raise ValueError("record_id is a non-empty str")
        if record_id in self.hashes:
            raise ValueError(
                f"record {record_id!r} already exists; records are written once (use a new id, "
                "such as 'loan-7/v2')"
            )
        self._check_actor(writer, height, self.writer_roles, "write")
        if writer.organisation not in self.organisations:
            raise AccessDenied(
                "removed-member",
                f"{writer.organisation} left collection {self.name}; it can no longer write",
            )
        self._advance(height)
        expires_at = None if self.blocks_to_live is None else height + self.blocks_to_live
        sealed = seal(
            data,
            self.readers(height),
            collection=self.name,
            record_id=record_id,
            epoch=self.epoch,
            writer=writer.cert_id,
            written_at=height,
            expires_at=expires_at,
            rng=self.rng,
        )
        for org in self.organisations:
            self.stores[org][record_id] = sealed
        self.hashes[record_id] = sealed.hash
        self.headers[record_id] = sealed.header
        return sealed.hash

    def read(
        self, record_id: str, member: Member, height: int, onchain_hash: bytes | None = None
    ) -> bytes:
        """The plaintext of ``record_id`` as ``member`` reads it from its organisation's store.

        The copy is checked against ``onchain_hash`` (default: the hash ``put`` returned) before
        anything is decrypted. Raises ``InvalidCertificate`` (revoked, expired member),
        ``UnknownRecord``, ``AccessDenied`` (``"outsider"``, ``"wrong-role"``,
        ``"removed-member"``, ``"not-shared"``, ``"not-a-reader"``), ``RecordExpired``
        (``"expired"``) or ``TamperedData``.
        """
        if record_id not in self.hashes:
            raise UnknownRecord(
                "unknown-record", f"no record {record_id!r} was ever written to {self.name}"
            )
        self._check_actor(member, height, self.reader_roles, "read")
        header = self.headers[record_id]
        if record_id in self.purged or (
            header.expires_at is not None and height >= header.expires_at
        ):
            raise RecordExpired(
                "expired",
                f"record {record_id!r} expired at height {header.expires_at} and is purged from "
                "every store; only its hash remains on chain",
            )
        sealed = self.stores[member.organisation].get(record_id)
        if sealed is None:
            if member.organisation not in self.organisations:
                raise AccessDenied(
                    "removed-member",
                    f"{member.organisation} left {self.name} before record {record_id!r} was "
                    "written, so it was never shared with it",
                )
            raise AccessDenied(
                "not-shared",
                f"record {record_id!r} was written in epoch {header.epoch}, before "
                f"{member.organisation} joined {self.name}",
            )
        verify_record(sealed, self.hashes[record_id] if onchain_hash is None else onchain_hash)
        if sealed.header.record_id != record_id or sealed.header.collection != self.name:
            raise TamperedData("wrong-record", f"the stored envelope is not record {record_id!r}")
        return unseal(sealed, member.cert_id, member.agreement_key)

    def verify(self, record_id: str, onchain_hash: bytes) -> tuple[str, ...]:
        """Check every stored copy of ``record_id`` against the chain; needs no key.

        Returns the organisations holding a matching copy; raises ``TamperedData`` naming the
        stores whose copy differs, ``RecordExpired`` if purged, ``UnknownRecord`` if unknown.
        """
        if record_id in self.purged:
            raise RecordExpired("expired", f"record {record_id!r} was purged; its hash remains")
        holders = {
            org: store[record_id] for org, store in self.stores.items() if record_id in store
        }
        if not holders:
            raise UnknownRecord("unknown-record", f"no store of {self.name} holds {record_id!r}")
        bad = sorted(org for org, sealed in holders.items() if sealed.hash != onchain_hash)
        if bad:
            raise TamperedData(
                "hash-mismatch",
                f"the copy of {record_id!r} held by {', '.join(bad)} does not match the hash on "
                "chain (altered or swapped); restore it from a store whose copy matches",
            )
        return tuple(sorted(holders))

    def purge(self, height: int) -> list[str]:
        """Delete from every store the records expired at ``height``; returns their ids.

        Their hashes stay in ``hashes`` (on chain): the record's existence remains provable.
        """
        expired = sorted(
            record_id
            for record_id, header in self.headers.items()
            if record_id not in self.purged
            and header.expires_at is not None
            and height >= header.expires_at
        )
        for record_id in expired:
            for store in self.stores.values():
                store.pop(record_id, None)
            self.purged.add(record_id)
        return expired

    def records_df(self) -> pd.DataFrame:
        """A table of the records: epoch, writer, heights, hash, which stores hold a copy."""
        import pandas as pd

        rows = [
            {
                "record_id": record_id,
                "epoch": header.epoch,
                "writer": header.writer,
                "written_at": header.written_at,
                "expires_at": header.expires_at,
                "hash": self.hashes[record_id].hex()[:12] + "…",
                "held_by": ", ".join(o for o, s in sorted(self.stores.items()) if record_id in s),
                "status": "purged" if record_id in self.purged else "stored",
            }
            for record_id, header in self.headers.items()
        ]
        columns = ["record_id", "epoch", "writer", "written_at", "expires_at", "hash"]
        return pd.DataFrame(rows, columns=[*columns, "held_by", "status"])

    def __repr__(self) -> str:
        return (
            f"PrivateCollection({self.name!r}, organisations={list(self.organisations)}, "
            f"epoch={self.epoch}, {len(self.hashes)} records)"
        )
