"""Known answers: blockkit against hashlib, pycryptodome used directly, and published vectors."""

from __future__ import annotations

import hashlib

import pytest
from Crypto.Hash import SHA256
from Crypto.PublicKey import ECC
from Crypto.Signature import DSS, eddsa

from blockkit.errors import InvalidKey, InvalidSignature
from blockkit.hashing import sha256, tagged_hash
from blockkit.keys import PrivateKey, PublicKey
from blockkit.merkle import merkle_root

P256_N = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141


def ecdsa_key(suite: str, d: int) -> PrivateKey:
    """The key with private scalar ``d`` (blockkit maps a secret s to d = s mod (n-1) + 1)."""
    return PrivateKey.from_secret((d - 1).to_bytes(32, "big"), suite)


@pytest.mark.parametrize(
    ("data", "digest"),
    [
        (b"", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
        (b"abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
        (
            b"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1",
        ),
    ],
)
def test_sha256_matches_the_fips_180_vectors_and_hashlib(data, digest):
    assert sha256(data).hex() == digest == hashlib.sha256(data).hexdigest()


def test_tagged_hash_is_sha256_of_tag_length_tag_and_data():
    assert tagged_hash(b"tag", b"data") == hashlib.sha256(b"\x03tag" + b"data").digest()
    assert tagged_hash(b"tag", b"data") != tagged_hash(b"tad", b"data")


def test_merkle_root_of_three_leaves_by_hand():
    leaf = [hashlib.sha256(b"\x00" + d).digest() for d in (b"a", b"b", b"c")]
    ab = hashlib.sha256(b"\x01" + leaf[0] + leaf[1]).digest()
    top = hashlib.sha256(b"\x01" + ab + leaf[2]).digest()
    root = hashlib.sha256(b"\x02" + (3).to_bytes(8, "big") + top).digest()
    assert merkle_root([b"a", b"b", b"c"]) == root


def test_p256_rfc6979_a_2_5_sample_vector():
    """RFC 6979 A.2.5, P-256, SHA-256, message "sample" (S normalised to the low half)."""
    key = ecdsa_key("p256", 0xC9AFA9D845BA75166B5C215767B1D6934E50C3DB36E89B127B8A622B120F6721)
    assert key.public_key.data.hex().upper() == (
        "0360FED4BA255A9D31C961EB74C6356D68C049B8923B61FA6CE669622E60F29FB6"
    )  # Ux from the RFC; Uy (7903FE10…) is odd, hence prefix 03
    r = 0xEFD48B2AACB6A8FD1140DD9CD45E81D69D2C877B56AAF991C34D0EA84EAF3716
    s = 0xF7CB1C942D657C41D436C7A1B6E29F65F3E900DBB9AFF4064DC4AB2F843ACDA8
    low_s = min(s, P256_N - s)
    assert key.sign(b"sample") == r.to_bytes(32, "big") + low_s.to_bytes(32, "big")


def test_ed25519_rfc8032_test_1():
    secret = bytes.fromhex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")
    key = PrivateKey.from_secret(secret, "ed25519")
    assert key.public_key.data.hex() == (
        "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"
    )
    assert key.sign(b"").hex() == (
        "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065"
        "224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"
    )


def test_secp256k1_generator_is_the_public_key_of_one():
    key = ecdsa_key("secp256k1", 1)
    assert key.public_key.data.hex().upper() == (
        "0279BE667EF9DCBBAC55A06295CE870B07029BFCDB2DCE28D959F2815B16F81798"
    )


@pytest.mark.parametrize(
    ("suite", "curve", "mode"),
    [("p256", "P-256", "fips-186-3"), ("secp256k1", "secp256k1", "sec1")],
)
def test_ecdsa_signatures_verify_with_pycryptodome_used_directly(suite, curve, mode):
    key = PrivateKey.from_seed(b"known-answers", suite)
    signature = key.sign(b"a message")
    verifier = DSS.new(ECC.import_key(key.public_key.data, curve_name=curve), mode)
    verifier.verify(SHA256.new(b"a message"), signature)  # raises ValueError if not
    with pytest.raises(ValueError):
        verifier.verify(SHA256.new(b"another message"), signature)


def test_ed25519_signatures_verify_with_pycryptodome_used_directly():
    key = PrivateKey.from_seed(b"known-answers", "ed25519")
    verifier = eddsa.new(eddsa.import_public_key(key.public_key.data), "rfc8032")
    verifier.verify(b"a message", key.sign(b"a message"))


@pytest.mark.parametrize(("suite", "order"), [("p256", P256_N), ("secp256k1", SECP256K1_N)])
def test_the_high_s_twin_of_a_valid_signature_is_rejected(suite, order):
    """(r, n - s) also satisfies the ECDSA equation; accepting it makes transactions malleable."""
    key = PrivateKey.from_seed(b"malleable", suite)
    signature = key.sign(b"pay bob 10")
    r, s = signature[:32], int.from_bytes(signature[32:], "big")
    assert s <= order // 2  # blockkit signs low-S
    twin = r + (order - s).to_bytes(32, "big")
    public = PublicKey(suite, key.public_key.data)
    with pytest.raises(InvalidSignature):
        public.verify(twin, b"pay bob 10")
    assert not public.is_valid_signature(twin, b"pay bob 10")
    public.verify(signature, b"pay bob 10")


ED25519_SMALL_ORDER = [
    (1).to_bytes(32, "little"),  # the identity
    (2**255 - 19 - 1).to_bytes(32, "little"),  # (0, -1), order 2
    bytes.fromhex("c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a"),  # order 8
]


@pytest.mark.parametrize("data", ED25519_SMALL_ORDER, ids=["identity", "order-2", "order-8"])
def test_small_order_ed25519_points_are_not_public_keys(data):
    """Under the identity key, (R = identity, S = 0) "signs" every message: such keys must fail."""
    point = eddsa.import_public_key(data).pointQ
    assert (point * 8).is_point_at_infinity()  # the vector really is of small order
    with pytest.raises(InvalidKey, match="small-order"):
        PublicKey("ed25519", data)


def test_a_transaction_from_the_identity_key_with_a_zero_signature_is_refused():
    from blockkit.encoding import encode
    from blockkit.errors import InvalidTransaction
    from blockkit.transactions import Transaction

    identity = ED25519_SMALL_ORDER[0]
    forged = [1337, 0, b"\x01" * 20, 10**6, 0, b"", ["ed25519", identity], identity + bytes(32)]
    with pytest.raises(InvalidTransaction, match="small-order"):
        Transaction.decode(encode(forged))
