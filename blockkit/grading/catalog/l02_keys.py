"""Lesson 02, keys and signatures: signing, checking, addresses, and refusing replays."""

from __future__ import annotations

from blockkit.grading.registry import Case, add_cases, define
from blockkit.hashing import tagged_hash
from blockkit.keys import PrivateKey, address_of
from blockkit.widgets.hashing import flip_bit

ALICE = PrivateKey.from_seed("alice")
BOB = PrivateKey.from_seed("bob")
ED = PrivateKey.from_seed("erin", "ed25519")
K1 = PrivateKey.from_seed("kim", "secp256k1")


def _sign(key: PrivateKey, text: str) -> bytes:
    return key.sign(text.encode("utf-8"))


define(
    "02.1",
    "Sign a text",
    function="sign_text",
    points=1,
    hint="key.sign takes bytes: key.sign(text.encode('utf-8'))",
)
add_cases(
    "02.1",
    [
        Case("alice signs a payment", (ALICE, "pay bob 5"), _sign(ALICE, "pay bob 5")),
        Case("bob signs the same text", (BOB, "pay bob 5"), _sign(BOB, "pay bob 5")),
        Case("an Ed25519 key", (ED, "hello"), _sign(ED, "hello")),
        Case(
            "non-ASCII text",
            (ALICE, "payé ✓"),
            _sign(ALICE, "payé ✓"),
            hint="sign the text's UTF-8 bytes itself, not a hash or another encoding of it",
        ),
    ],
)

_GENUINE = _sign(ALICE, "pay bob 5")

define(
    "02.2",
    "Is a signature authentic?",
    function="is_authentic",
    points=2,
    hint="return public_key.is_valid_signature(signature, text.encode('utf-8')); "
    "never let an exception escape",
)
add_cases(
    "02.2",
    [
        Case("the genuine signature", (ALICE.public_key, "pay bob 5", _GENUINE), True),
        Case(
            "an altered message",
            (ALICE.public_key, "pay bob 500", _GENUINE),
            False,
            hint="a signature covers the exact bytes signed: any edit must fail",
        ),
        Case("somebody else's key", (BOB.public_key, "pay bob 5", _GENUINE), False),
        Case(
            "one signature bit flipped",
            (ALICE.public_key, "pay bob 5", flip_bit(_GENUINE, 100)),
            False,
        ),
        Case(
            "a signature of the wrong length",
            (ALICE.public_key, "pay bob 5", _GENUINE[:-1]),
            False,
            hint="return False for anything that is not a valid signature; do not raise",
        ),
        Case("no signature at all", (ALICE.public_key, "pay bob 5", b""), False),
        Case("an Ed25519 signature", (ED.public_key, "hi", _sign(ED, "hi")), True),
    ],
)


def _address(suite: str, data: bytes) -> bytes:
    return bytes(address_of(suite, data))


define(
    "02.3",
    "An address from a public key",
    function="address_from_public_key",
    points=2,
    hint="tagged_hash(b'blockkit/address', suite.encode() + b'\\x00' + public_bytes)[:20]",
)
add_cases(
    "02.3",
    [
        Case(
            f"a {key.suite} key",
            (key.suite, key.public_key.data),
            _address(key.suite, key.public_key.data),
        )
        for key in (ALICE, K1, ED)
    ]
    + [
        Case(
            "the same bytes under another suite name",
            ("secp256k1", ALICE.public_key.data),
            _address("secp256k1", ALICE.public_key.data),
            hint="the suite name is hashed too, followed by one zero byte",
        ),
        Case(
            "20 bytes, not 32",
            ("p256", BOB.public_key.data),
            tagged_hash(b"blockkit/address", b"p256\x00" + BOB.public_key.data)[:20],
            hint="an address is the first 20 bytes of the digest",
        ),
    ],
)


def _payment_message(nonce: int, text: str) -> str:
    return f"{nonce}:{text}"


def _accept(public_key: object, payments: list[tuple[int, str, bytes]]) -> list[bool]:
    expected, accepted = 0, []
    for nonce, text, signature in payments:
        ok = nonce == expected and public_key.is_valid_signature(  # type: ignore[attr-defined]
            signature, _payment_message(nonce, text).encode()
        )
        accepted.append(ok)
        expected += ok
    return accepted


def _signed(key: PrivateKey, nonce: int, text: str) -> tuple[int, str, bytes]:
    return nonce, text, _sign(key, _payment_message(nonce, text))


_P0, _P1, _P2 = (_signed(ALICE, n, f"pay bob {n + 1}") for n in range(3))
_CASES_02_4 = {
    "three payments in order": [_P0, _P1, _P2],
    "a replayed payment": [_P0, _P1, _P1, _P2],
    "a replay of the very first payment later on": [_P0, _P1, _P0],
    "a payment skipping a nonce": [_P0, _P2],
    "a forged text reusing a signature": [_P0, (1, "pay mallory 1000", _P1[2]), _P1],
    "signed by someone else": [_signed(BOB, 0, "pay bob 1"), _P0],
    "no payments": [],
}

define(
    "02.4",
    "Refuse replayed payments",
    function="accept_payments",
    points=3,
    hint="keep the next expected nonce (start at 0); accept a payment only when its nonce is the "
    "expected one AND is_authentic(public_key, f'{nonce}:{text}', signature); "
    "only an accepted payment moves the nonce on",
)
add_cases(
    "02.4",
    [
        Case(name, (ALICE.public_key, list(payments)), _accept(ALICE.public_key, payments))
        for name, payments in _CASES_02_4.items()
    ],
)
