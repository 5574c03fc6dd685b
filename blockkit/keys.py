"""Keys, addresses and signatures, behind one crypto-suite interface (pycryptodome underneath).

A private key signs; anyone with the matching public key can check the signature, and no one
without the private key can produce one that checks. An *address* is a short fingerprint of a
public key: accounts are named by addresses, and a transaction proves it comes from an address by
carrying the public key and a signature.

Suites (choose with ``suite=``):

* ``"p256"`` (default): ECDSA over NIST P-256 with SHA-256, the curve of most government and bank
  PKIs. Signatures are deterministic (RFC 6979: the nonce comes from the key and the message, so a
  broken random generator cannot leak the key) and *low-S*: of the two valid ``s`` values
  ``s`` and ``n - s`` only the lower is produced or accepted, so nobody can alter a signature
  into a second valid one (signature malleability).
* ``"secp256k1"``: the same scheme on Bitcoin's and Ethereum's curve.
* ``"ed25519"``: Edwards-curve signatures (RFC 8032), deterministic by design.

Other suites (an SM2/SM3 suite, say) plug in with ``register_suite``.

Bytes in, bytes out: messages and signatures are ``bytes``; hex is for display only.
"""

from __future__ import annotations

import random
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from typing import Any

from Crypto.Hash import SHA256
from Crypto.PublicKey import ECC
from Crypto.PublicKey.ECC import EccKey
from Crypto.Random import get_random_bytes
from Crypto.Signature import DSS, eddsa

from blockkit.errors import InvalidKey, InvalidSignature
from blockkit.hashing import tagged_hash

__all__ = [
    "DEFAULT_SUITE",
    "SUITES",
    "Address",
    "CryptoSuite",
    "PrivateKey",
    "PublicKey",
    "address_of",
    "is_valid_signature",
    "register_suite",
    "verify",
]

DEFAULT_SUITE = "p256"
ADDRESS_SIZE = 20
SIGNATURE_SIZE = 64


class Address(bytes):
    """A 20-byte account name: the first 20 bytes of a domain-tagged hash of a public key.

    It is ``bytes`` (so it encodes and compares like bytes) with a readable ``0x…`` form.
    """

    def __new__(cls, value: bytes | str) -> Address:
        """Build from 20 raw bytes or a ``0x``-prefixed (or bare) 40-digit hex string."""
        if isinstance(value, str):
            text = value[2:] if value[:2].lower() == "0x" else value
            try:
                value = bytes.fromhex(text)
            except ValueError as exc:
                raise InvalidKey(f"address {value!r} is not hex") from exc
        if len(value) != ADDRESS_SIZE:
            raise InvalidKey(f"an address is {ADDRESS_SIZE} bytes, not {len(value)}")
        return super().__new__(cls, value)

    def __str__(self) -> str:
        return "0x" + self.hex()

    def __repr__(self) -> str:
        return f"Address('0x{self.hex()}')"

    @property
    def short(self) -> str:
        """The first 4 bytes as ``0x12345678…``, for tables and plots."""
        return "0x" + self.hex()[:8] + "…"


class CryptoSuite(ABC):
    """One signature scheme: how keys are made, encoded, and how signatures are made and checked."""

    name: str

    @abstractmethod
    def key_from_secret(self, secret: bytes) -> Any:
        """A private key derived deterministically from 32 secret bytes."""

    @abstractmethod
    def public_bytes(self, private: Any) -> bytes:
        """The encoded public key of ``private``."""

    @abstractmethod
    def load_public(self, data: bytes) -> Any:
        """A verifier object for encoded public key ``data``; raises ``InvalidKey``."""

    @abstractmethod
    def sign(self, private: Any, message: bytes) -> bytes:
        """Signature of ``message`` (the suite hashes it as its standard says)."""

    @abstractmethod
    def check(self, verifier: Any, message: bytes, signature: bytes) -> bool:
        """True when ``signature`` is valid for ``message`` under ``verifier``'s key."""


class EcdsaSuite(CryptoSuite):
    """ECDSA with SHA-256: RFC 6979 deterministic nonces, low-S only, 64-byte ``r || s``."""

    def __init__(self, name: str, curve: str) -> None:
        self.name = name
        self.curve = curve
        self.order = int(ECC._curves[curve].order)

    def key_from_secret(self, secret: bytes) -> EccKey:
        # Reduce into [1, n-1]; the bias of reducing 256 bits modulo a 256-bit n is negligible.
        d = int.from_bytes(secret, "big") % (self.order - 1) + 1
        return ECC.construct(curve=self.curve, d=d)

    def public_bytes(self, private: EccKey) -> bytes:
        return private.public_key().export_key(format="SEC1", compress=True)

    def load_public(self, data: bytes) -> DSS.DssSigScheme:
        if len(data) != 33 or data[0] not in (2, 3):
            raise InvalidKey(f"a {self.name} public key is 33 bytes of compressed SEC1")
        try:
            key = ECC.import_key(data, curve_name=self.curve)
        except ValueError as exc:
            raise InvalidKey(f"bytes are not a point on {self.curve}") from exc
        return DSS.new(key, "deterministic-rfc6979", low_s=True)

    def sign(self, private: EccKey, message: bytes) -> bytes:
        signer = DSS.new(private, "deterministic-rfc6979", low_s=True)
        return signer.sign(SHA256.new(message))

    def check(self, verifier: DSS.DssSigScheme, message: bytes, signature: bytes) -> bool:
        if len(signature) != SIGNATURE_SIZE:
            return False
        try:
            verifier.verify(SHA256.new(message), signature)
        except ValueError:
            return False
        return True


class Ed25519Suite(CryptoSuite):
    """Ed25519 (RFC 8032, pure mode): 32-byte public keys, 64-byte signatures."""

    name = "ed25519"

    def key_from_secret(self, secret: bytes) -> EccKey:
        return eddsa.import_private_key(secret[:32])

    def public_bytes(self, private: EccKey) -> bytes:
        return private.public_key().export_key(format="raw")

    def load_public(self, data: bytes) -> eddsa.EdDSASigScheme:
        if len(data) != 32:
            raise InvalidKey("an ed25519 public key is 32 bytes")
        try:
            key = eddsa.import_public_key(data)
        except ValueError as exc:
            raise InvalidKey("bytes are not an ed25519 point") from exc
        if (key.pointQ * 8).is_point_at_infinity():
            # A point of small order (the identity among them) is no key at all: under it, a
            # signature with S = 0 verifies for *every* message, so anyone could spend from it.
            raise InvalidKey("a small-order ed25519 point is not a public key (forgeable)")
        return eddsa.new(key, "rfc8032")

    def sign(self, private: EccKey, message: bytes) -> bytes:
        return eddsa.new(private, "rfc8032").sign(message)

    def check(self, verifier: eddsa.EdDSASigScheme, message: bytes, signature: bytes) -> bool:
        if len(signature) != SIGNATURE_SIZE:
            return False
        try:
            verifier.verify(message, signature)
        except ValueError:
            return False
        return True


SUITES: dict[str, CryptoSuite] = {}


def register_suite(suite: CryptoSuite) -> None:
    """Make ``suite`` available by its name to ``PrivateKey`` and ``PublicKey``."""
    SUITES[suite.name] = suite
    _verifier.cache_clear()


def _suite(name: str) -> CryptoSuite:
    try:
        return SUITES[name]
    except KeyError:
        raise InvalidKey(
            f"unknown crypto suite {name!r}; choose one of {', '.join(sorted(SUITES))}"
        ) from None


@lru_cache(maxsize=8192)
def _verifier(suite: str, data: bytes) -> Any:
    # Decoding a point (a square root on the curve) costs about as much as a hash of a block;
    # senders repeat, so each public key is decoded once.
    return _suite(suite).load_public(data)


def address_of(suite: str, public_bytes: bytes) -> Address:
    """The address of a public key: ``tagged_hash("blockkit/address", suite || key)[:20]``."""
    digest = tagged_hash(b"blockkit/address", suite.encode() + b"\x00" + public_bytes)
    return Address(digest[:ADDRESS_SIZE])


@dataclass(frozen=True)
class PublicKey:
    """A public key: the suite's name and its encoded bytes. Checks signatures; names an address."""

    suite: str
    """Name of the crypto suite (``"p256"``, ``"secp256k1"``, ``"ed25519"``)."""
    data: bytes
    """Encoded key: 33-byte compressed SEC1 point for ECDSA, 32 bytes for Ed25519."""

    def __post_init__(self) -> None:
        if not isinstance(self.data, bytes):
            raise InvalidKey("public key data must be bytes")
        _verifier(self.suite, self.data)  # raises InvalidKey for a bad suite or point

    @cached_property
    def address(self) -> Address:
        """The address this key controls."""
        return address_of(self.suite, self.data)

    def verify(self, signature: bytes, message: bytes) -> None:
        """Return nothing when ``signature`` is valid for ``message``; else raise."""
        if not self.is_valid_signature(signature, message):
            raise InvalidSignature(
                f"signature does not verify for this message under {self.suite} key "
                f"{self.data.hex()[:16]}… (wrong key, altered message or altered signature)"
            )

    def is_valid_signature(self, signature: bytes, message: bytes) -> bool:
        """True when ``signature`` is valid for ``message``: the boolean form of ``verify``."""
        if not isinstance(signature, bytes) or not isinstance(message, bytes):
            return False
        return _suite(self.suite).check(_verifier(self.suite, self.data), message, signature)

    def to_canonical(self) -> list[object]:
        """Plain fields for canonical encoding."""
        return [self.suite, self.data]

    @classmethod
    def from_canonical(cls, value: Any) -> PublicKey:
        """Rebuild from ``to_canonical()`` output; raises ``InvalidKey`` when malformed."""
        if (
            not isinstance(value, list)
            or len(value) != 2
            or not isinstance(value[0], str)
            or not isinstance(value[1], bytes)
        ):
            raise InvalidKey("a public key is encoded as [suite, bytes]")
        return cls(value[0], value[1])

    def __repr__(self) -> str:
        return f"PublicKey({self.suite}, {self.data.hex()[:16]}…, address={self.address.short})"


def verify(public_key: PublicKey, signature: bytes, message: bytes) -> None:
    """Module-level form of ``PublicKey.verify``: raise ``InvalidSignature`` unless valid."""
    public_key.verify(signature, message)


def is_valid_signature(public_key: PublicKey, signature: bytes, message: bytes) -> bool:
    """Module-level form of ``PublicKey.is_valid_signature``, handy in notebooks."""
    return public_key.is_valid_signature(signature, message)


@dataclass(frozen=True, repr=False)
class PrivateKey:
    """A private key of one suite. Never printed: its repr shows only the address.

    Make one with ``PrivateKey.from_seed("alice")`` (reproducible, for lessons and tests) or
    ``PrivateKey.generate()`` (from the operating system's secure random source).
    """

    suite: str
    _key: Any = field(compare=False)
    _secret: bytes = field(default=b"", compare=False)

    @classmethod
    def from_secret(cls, secret: bytes, suite: str = DEFAULT_SUITE) -> PrivateKey:
        """A key derived from 32 secret bytes (the same bytes always give the same key)."""
        if not isinstance(secret, bytes) or len(secret) != 32:
            raise InvalidKey("a secret is exactly 32 bytes")
        return cls(suite, _suite(suite).key_from_secret(secret), secret)

    def __reduce__(self) -> tuple[Any, tuple[bytes, str]]:
        """Pickle and copy by secret: the library key object inside cannot be pickled.

        The grader uses this to hand a case's keys to a student's kernel (never the other way).
        """
        if not self._secret:
            raise TypeError("this PrivateKey was not made from a secret and cannot be copied")
        return (PrivateKey.from_secret, (self._secret, self.suite))

    @classmethod
    def from_seed(cls, seed: str | bytes | int, suite: str = DEFAULT_SUITE) -> PrivateKey:
        """A reproducible key from any seed: ``PrivateKey.from_seed("alice")``.

        Seeds are for lessons and tests: anyone who knows the seed knows the key.
        """
        if isinstance(seed, int) and not isinstance(seed, bool):
            seed = seed.to_bytes((seed.bit_length() + 8) // 8, "big", signed=True)
        elif isinstance(seed, str):
            seed = seed.encode("utf-8")
        if not isinstance(seed, bytes):
            raise InvalidKey("a seed is a str, bytes or int")
        return cls.from_secret(tagged_hash(b"blockkit/key-seed/" + suite.encode(), seed), suite)

    @classmethod
    def generate(cls, suite: str = DEFAULT_SUITE, rng: random.Random | None = None) -> PrivateKey:
        """A fresh key: from a seeded ``random.Random`` when given (reproducible), else from the
        operating system's cryptographic random source."""
        secret = rng.randbytes(32) if rng is not None else get_random_bytes(32)
        return cls.from_secret(secret, suite)

    @cached_property
    def public_key(self) -> PublicKey:
        """The matching public key."""
        return PublicKey(self.suite, _suite(self.suite).public_bytes(self._key))

    @property
    def address(self) -> Address:
        """The address of the public key."""
        return self.public_key.address

    def sign(self, message: bytes) -> bytes:
        """Sign ``message`` (bytes): deterministic, 64 bytes, low-S for ECDSA."""
        if not isinstance(message, bytes):
            raise TypeError("sign takes bytes; encode text with .encode() first")
        return _suite(self.suite).sign(self._key, message)

    def __repr__(self) -> str:
        return f"PrivateKey({self.suite}, address={self.address.short})"


register_suite(EcdsaSuite("p256", "P-256"))
register_suite(EcdsaSuite("secp256k1", "secp256k1"))
register_suite(Ed25519Suite())
