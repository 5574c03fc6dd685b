"""Keys and addresses: one interface over three suites, reproducible keys, clear failures."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from blockkit.errors import InvalidKey, InvalidSignature
from blockkit.keys import SUITES, Address, PrivateKey, PublicKey, is_valid_signature, verify

SUITE_NAMES = sorted(SUITES)


@pytest.fixture(params=SUITE_NAMES)
def key(request):
    return PrivateKey.from_seed("alice", request.param)


def test_sign_then_verify_round_trips(key):
    signature = key.sign(b"pay bob 10")
    assert len(signature) == 64
    key.public_key.verify(signature, b"pay bob 10")
    verify(key.public_key, signature, b"pay bob 10")
    assert is_valid_signature(key.public_key, signature, b"pay bob 10")


def test_signatures_are_deterministic(key):
    assert key.sign(b"same message") == key.sign(b"same message")
    assert key.sign(b"same message") != key.sign(b"other message")


def test_verify_raises_and_the_boolean_helper_says_false_for_every_kind_of_forgery(key):
    signature = key.sign(b"pay bob 10")
    stranger = PrivateKey.from_seed("mallory", key.suite)
    flipped = bytes([signature[0] ^ 1]) + signature[1:]
    cases = [
        (key.public_key, signature, b"pay bob 99"),  # altered message
        (stranger.public_key, signature, b"pay bob 10"),  # another key
        (key.public_key, flipped, b"pay bob 10"),  # altered signature
        (key.public_key, signature[:-1], b"pay bob 10"),  # truncated
        (key.public_key, signature + b"\x00", b"pay bob 10"),  # extended
        (key.public_key, b"\x00" * 64, b"pay bob 10"),  # zeros
        (key.public_key, "not bytes", b"pay bob 10"),
    ]
    for public, sig, message in cases:
        with pytest.raises(InvalidSignature, match="does not verify"):
            public.verify(sig, message)
        assert not public.is_valid_signature(sig, message)


@settings(max_examples=60, deadline=None, derandomize=True)
@given(st.sampled_from(SUITE_NAMES), st.binary(max_size=100), st.binary(max_size=100))
def test_a_signature_verifies_only_its_own_message(suite, message, other):
    key = PrivateKey.from_seed(b"property", suite)
    signature = key.sign(message)
    assert key.public_key.is_valid_signature(signature, message)
    assert key.public_key.is_valid_signature(signature, other) == (other == message)


def test_seeds_give_reproducible_distinct_keys():
    assert PrivateKey.from_seed("alice").address == PrivateKey.from_seed("alice").address
    assert PrivateKey.from_seed(7).address == PrivateKey.from_seed(7).address
    names = {PrivateKey.from_seed(seed).address for seed in ("alice", "bob", b"alice!", 7, -7)}
    assert len(names) == 5
    per_suite = {PrivateKey.from_seed("alice", suite).address for suite in SUITE_NAMES}
    assert len(per_suite) == len(SUITE_NAMES)


def test_generate_is_reproducible_with_a_seeded_rng_and_fresh_without():
    first = PrivateKey.generate(rng=random.Random(1)).address
    assert first == PrivateKey.generate(rng=random.Random(1)).address
    assert PrivateKey.generate().address != PrivateKey.generate().address


def test_addresses_are_20_bytes_with_a_readable_form(key):
    address = key.address
    assert isinstance(address, Address) and len(address) == 20
    assert str(address) == "0x" + address.hex()
    assert Address(str(address)) == address == Address(address.hex())
    assert address.short == str(address)[:10] + "…"
    assert "secret" not in repr(key) and address.short in repr(key)


@pytest.mark.parametrize("bad", [b"\x00" * 19, b"\x00" * 21, "0xzz", "12"])
def test_bad_addresses_raise_invalid_key(bad):
    with pytest.raises(InvalidKey, match="address"):
        Address(bad)


def test_public_keys_round_trip_through_canonical_form(key):
    public = key.public_key
    again = PublicKey.from_canonical(public.to_canonical())
    assert again == public and again.address == public.address


@pytest.mark.parametrize(
    ("suite", "data", "message"),
    [
        ("p256", b"\x02" + b"\xff" * 32, "not a point"),
        ("p256", b"\x04" + b"\x01" * 32, "33 bytes"),
        ("p256", b"\x02" * 10, "33 bytes"),
        ("secp256k1", b"\x05" + b"\x01" * 32, "33 bytes"),
        ("ed25519", b"\x01" * 31, "32 bytes"),
        ("rsa", b"\x01" * 32, "unknown crypto suite"),
    ],
)
def test_bad_public_keys_raise_invalid_key(suite, data, message):
    with pytest.raises(InvalidKey, match=message):
        PublicKey(suite, data)


def test_bad_secrets_and_seeds_raise_invalid_key():
    with pytest.raises(InvalidKey, match="32 bytes"):
        PrivateKey.from_secret(b"short")
    with pytest.raises(InvalidKey, match="seed"):
        PrivateKey.from_seed(1.5)
    with pytest.raises(InvalidKey, match="unknown crypto suite"):
        PrivateKey.from_seed("alice", "rsa")
    with pytest.raises(InvalidKey):
        PublicKey.from_canonical(["p256"])


def test_sign_refuses_text_with_a_hint():
    with pytest.raises(TypeError, match=r"\.encode\(\)"):
        PrivateKey.from_seed("alice").sign("text")
