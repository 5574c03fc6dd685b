"""The standard contracts (token, certificate NFT, registry, multisig) run on the real interpreter:
every function, every refusal and its message, events, gas, and that a refused call changes
nothing. The last section sends real signed transactions through a ``Chain``."""

from __future__ import annotations

import hashlib
import random
import re
from typing import Any

import pytest
from helpers import ALICE, BOB, CAROL, DAVE, extend, new_chain

from blockkit.contracts import CallResult, LocalHost, compile_contract
from blockkit.contracts.standard import (
    CERTIFICATE,
    DOCS,
    MAX_STANDARD_SOURCE,
    MULTISIG,
    REGISTRY,
    STANDARD,
    TOKEN,
    UnknownStandardContract,
    describe,
    source,
)
from blockkit.encoding import encode
from blockkit.execution import call_transaction, deploy_transaction
from blockkit.keys import Address
from blockkit.params import PRESETS

SEED = 2024
DOC_V1 = hashlib.sha256(b"statute v1").digest()
DOC_V2 = hashlib.sha256(b"statute v2").digest()


# --- helpers --------------------------------------------------------------------------------------


class World:
    """A LocalHost with four funded people and shortcuts that assert how a call ended."""

    def __init__(self) -> None:
        self.host = LocalHost(block_height=5)
        self.alice = self.host.account("alice", 1_000)
        self.bob = self.host.account("bob", 1_000)
        self.carol = self.host.account("carol", 1_000)
        self.dave = self.host.account("dave", 1_000)

    def deploy(self, source_text: str, *args: Any, sender: Address | None = None) -> Address:
        address, result = self.host.deploy(source_text, *args, sender=sender or self.alice)
        assert result.ok, result.error
        assert result.gas_used > 0
        return address

    def ok(self, sender: Address, contract: Address, function: str, *args: Any, **kw: Any) -> Any:
        """Run a call that must succeed; return what it returned."""
        result = self.host.transact(sender, contract, function, *args, **kw)
        assert result.ok, f"{function} failed: {result.status} {result.error}"
        assert result.gas_used > 0
        return result.return_value

    def snapshot(self, contract: Address) -> tuple[Any, ...]:
        return (self.host.read(contract), dict(self.host.balances), list(self.host.events))

    def refused(
        self,
        sender: Address,
        contract: Address,
        function: str,
        *args: Any,
        message: str,
        status: str = "reverted",
        **kw: Any,
    ) -> CallResult:
        """Run a call that must fail with ``message``, and check it changed nothing."""
        before = self.snapshot(contract)
        result = self.host.transact(sender, contract, function, *args, **kw)
        assert result.status == status, (result.status, result.error)
        assert message in result.error, result.error
        assert result.events == ()
        assert 0 < result.gas_used <= 1_000_000  # a failed call still pays
        if status == "reverted":
            assert result.gas_used < 20_000  # a require stops the call early
        assert self.snapshot(contract) == before
        return result

    def new_events(self, count: int) -> list[tuple[str, dict[str, Any]]]:
        return [(e.name, e.fields) for e in self.host.events[-count:]]


@pytest.fixture
def w() -> World:
    return World()


# --- the module -----------------------------------------------------------------------------------


def test_every_standard_contract_compiles_and_is_documented() -> None:
    assert set(STANDARD) == set(DOCS) == {"token", "certificate", "registry", "multisig"}
    assert STANDARD["token"] is TOKEN and STANDARD["certificate"] is CERTIFICATE
    assert STANDARD["registry"] is REGISTRY and STANDARD["multisig"] is MULTISIG
    for name, text in STANDARD.items():
        program = compile_contract(text)
        assert program.name.lower() == name
        assert "blockkit.contracts.standard" in text  # the source says where its docs are
        doc = describe(name)
        assert "Functions:" in doc and "Events:" in doc and "Who may do what" in doc
        functions = doc.split("Functions:")[1].split("Events:")[0]
        for function in program.public_functions:
            assert f"``{function}(" in functions, (name, function)
        events = re.findall(r'emit\("(\w+)"|_save\(pid, prop, "(\w+)"\)', text)
        assert events
        for event in {a or b for a, b in events}:
            assert f"``{event}(" in doc.split("Events:")[1], (name, event)


def test_every_deploy_fits_in_a_transaction_on_every_preset() -> None:
    """A deploy carries the whole source: it must fit the smallest ``max_transaction_data`` of
    the presets with room for constructor arguments (five owners or issuers and a title)."""
    args = ["Diplomas of Blockkit University", [Address(bytes([i]) * 20) for i in range(5)]]
    for name, text in STANDARD.items():
        assert len(text) <= MAX_STANDARD_SOURCE, name
        data = encode(["deploy", text, args])
        assert len(data) <= min(p.max_transaction_data for p in PRESETS.values()), name


def test_source_finds_names_case_insensitively_and_explains_unknown_ones() -> None:
    assert source("token") is TOKEN
    assert source(" Multisig ") is MULTISIG
    assert describe("REGISTRY") == DOCS["registry"]
    with pytest.raises(UnknownStandardContract) as info:
        source("nft")
    assert "certificate, multisig, registry, token" in str(info.value)
    assert isinstance(info.value, KeyError)
    with pytest.raises(TypeError, match="a str such as 'token'"):
        source(3)  # type: ignore[arg-type]


# --- token ----------------------------------------------------------------------------------------


@pytest.fixture
def token(w: World) -> Address:
    return w.deploy(TOKEN, "Campus Coin", "CC", 1_000)


def test_token_constructor_credits_the_deployer(w: World, token: Address) -> None:
    assert w.ok(w.bob, token, "balance_of", w.alice) == 1_000
    assert w.ok(w.bob, token, "balance_of", w.bob) == 0
    assert w.ok(w.bob, token, "total_supply") == 1_000
    assert w.ok(w.bob, token, "name") == "Campus Coin"
    assert w.ok(w.bob, token, "symbol") == "CC"
    assert w.new_events(1) == [("Transfer", {"sender": None, "to": w.alice, "amount": 1_000})]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("Coin", "C", -1), "the supply cannot be negative"),
        (("", "C", 10), "give the token a name and a symbol"),
        (("Coin", "", 10), "give the token a name and a symbol"),
    ],
)
def test_token_constructor_refusals(w: World, args: tuple[Any, ...], message: str) -> None:
    address, result = w.host.deploy(TOKEN, *args, sender=w.alice)
    assert result.status == "reverted" and message in result.error
    assert w.host.read(address) == {} and address not in w.host.programs and not w.host.events


def test_token_transfer_moves_tokens_and_emits(w: World, token: Address) -> None:
    assert w.ok(w.alice, token, "transfer", w.bob, 250) is True
    assert w.new_events(1) == [("Transfer", {"sender": w.alice, "to": w.bob, "amount": 250})]
    assert w.ok(w.alice, token, "balance_of", w.alice) == 750
    assert w.ok(w.alice, token, "balance_of", w.bob) == 250
    w.ok(w.bob, token, "transfer", w.bob, 250)  # to oneself: nothing changes
    w.ok(w.bob, token, "transfer", w.carol, 0)  # zero is allowed, as in ERC-20
    assert w.ok(w.alice, token, "balance_of", w.bob) == 250
    assert w.ok(w.alice, token, "total_supply") == 1_000


def test_token_approve_and_transfer_from(w: World, token: Address) -> None:
    assert w.ok(w.alice, token, "approve", w.carol, 300) is True
    assert w.new_events(1) == [("Approval", {"owner": w.alice, "spender": w.carol, "amount": 300})]
    assert w.ok(w.bob, token, "allowance", w.alice, w.carol) == 300
    assert w.ok(w.bob, token, "allowance", w.carol, w.alice) == 0  # direction matters
    assert w.ok(w.carol, token, "transfer_from", w.alice, w.dave, 120) is True
    assert w.new_events(1) == [("Transfer", {"sender": w.alice, "to": w.dave, "amount": 120})]
    assert w.ok(w.bob, token, "allowance", w.alice, w.carol) == 180
    assert w.ok(w.bob, token, "balance_of", w.dave) == 120
    assert w.ok(w.bob, token, "balance_of", w.carol) == 0  # the spender receives nothing
    w.ok(w.alice, token, "approve", w.carol, 5)  # a new approval replaces the old one
    assert w.ok(w.bob, token, "allowance", w.alice, w.carol) == 5
    w.ok(w.alice, token, "approve", w.carol, 0)
    assert w.ok(w.bob, token, "allowance", w.alice, w.carol) == 0


def test_token_refusals_change_nothing(w: World, token: Address) -> None:
    w.ok(w.alice, token, "transfer", w.bob, 100)
    w.ok(w.bob, token, "approve", w.carol, 50)
    w.refused(w.bob, token, "transfer", w.carol, 101, message="insufficient balance: ")
    w.refused(w.bob, token, "transfer", w.carol, 101, message="holds 100, cannot send 101")
    w.refused(w.dave, token, "transfer", w.carol, 1, message="holds 0, cannot send 1")
    w.refused(w.bob, token, "transfer", w.carol, -5, message="the amount cannot be negative")
    w.refused(w.bob, token, "transfer", b"short", 5, message="recipient must be a 20-byte")
    w.refused(w.bob, token, "approve", w.carol, -1, message="an allowance cannot be negative")
    w.refused(w.bob, token, "approve", b"x" * 19, 1, message="spender must be a 20-byte")
    w.refused(w.carol, token, "transfer_from", w.bob, w.dave, 51, message="allowance exceeded")
    w.refused(w.carol, token, "transfer_from", w.bob, w.dave, 51, message="approve more")
    w.refused(w.dave, token, "transfer_from", w.bob, w.dave, 1, message="may move 0")
    w.refused(w.carol, token, "transfer_from", b"x", w.dave, 0, message="owner must be a 20")
    w.refused(w.carol, token, "transfer_from", w.bob, w.dave, -1, message="cannot be negative")
    # within the allowance but beyond the owner's balance
    w.ok(w.bob, token, "transfer", w.alice, 90)
    w.refused(w.carol, token, "transfer_from", w.bob, w.dave, 20, message="holds 10")
    # the annotations are checked by the interpreter: a fault, not a revert
    w.refused(w.bob, token, "transfer", w.carol, "5", message="must be int", status="fault")
    w.refused(w.bob, token, "transfer", w.carol, True, message="must be int", status="fault")
    w.refused(w.bob, token, "mint", 5, message="no public function 'mint'", status="fault")
    w.refused(w.bob, token, "_move", w.bob, w.carol, 5, message="no public", status="fault")


def test_token_conserves_supply_under_random_traffic(w: World, token: Address) -> None:
    """Seeded random transfers, approvals and delegated transfers, accepted or refused: the
    balances always add up to the supply and never go negative (checked against a model)."""
    rng = random.Random(SEED)
    people = [w.alice, w.bob, w.carol, w.dave]
    balances = {p: 0 for p in people}
    balances[w.alice] = 1_000
    allowed: dict[tuple[Address, Address], int] = {}
    for _ in range(60):
        kind = rng.choice(["transfer", "approve", "transfer_from"])
        a, b, c = (rng.choice(people) for _ in range(3))
        amount = rng.randint(-5, 400)
        if kind == "transfer":
            result = w.host.transact(a, token, "transfer", b, amount)
            expect = 0 <= amount <= balances[a]
            if expect:
                balances[a] -= amount
                balances[b] += amount
        elif kind == "approve":
            result = w.host.transact(a, token, "approve", b, amount)
            expect = amount >= 0
            if expect:
                allowed[a, b] = amount
        else:  # c spends a's tokens for b
            result = w.host.transact(c, token, "transfer_from", a, b, amount)
            expect = 0 <= amount <= min(allowed.get((a, c), 0), balances[a])
            if expect:
                allowed[a, c] -= amount
                balances[a] -= amount
                balances[b] += amount
        assert result.ok == expect, (kind, amount, result.error)
    for person in people:
        assert w.ok(w.alice, token, "balance_of", person) == balances[person]
    assert sum(balances.values()) == 1_000


# --- certificate ----------------------------------------------------------------------------------


@pytest.fixture
def certs(w: World) -> Address:
    # alice deploys; bob is a second issuer; listing alice again changes nothing
    return w.deploy(CERTIFICATE, "Diplomas of Blockkit University", [w.bob, w.alice])


def test_certificate_issuers(w: World, certs: Address) -> None:
    assert w.ok(w.dave, certs, "issuers") == [w.alice, w.bob]
    assert w.ok(w.dave, certs, "is_issuer", w.bob) is True
    assert w.ok(w.dave, certs, "is_issuer", w.carol) is False
    assert w.ok(w.dave, certs, "title") == "Diplomas of Blockkit University"
    alone = w.deploy(CERTIFICATE, "Plates", [], sender=w.carol)
    assert w.ok(w.dave, alone, "issuers") == [w.carol]
    _, result = w.host.deploy(CERTIFICATE, "Plates", [b"bad"], sender=w.alice)
    assert result.status == "reverted" and "each issuer must be a 20-byte address" in result.error
    _, result = w.host.deploy(CERTIFICATE, "", [], sender=w.alice)
    assert result.status == "reverted" and "give the collection a title" in result.error


def test_certificate_life_mint_transfer_revoke_record(w: World, certs: Address) -> None:
    metadata = {"degree": "BSc Computer Science", "grade": "first", "year": 2024}
    assert w.ok(w.alice, certs, "mint", "D-2024-001", w.carol, metadata) is True
    assert w.new_events(1) == [
        ("Minted", {"token_id": "D-2024-001", "issuer": w.alice, "owner": w.carol})
    ]
    assert w.ok(w.bob, certs, "mint", 7, w.dave, {"plate": "AB-123"}) is True  # second issuer
    assert w.ok(w.dave, certs, "owner_of", "D-2024-001") == w.carol
    assert w.ok(w.dave, certs, "is_valid", "D-2024-001") is True

    w.host.block_height = 6
    assert w.ok(w.carol, certs, "transfer", "D-2024-001", w.dave) is True
    assert w.new_events(1) == [
        ("Transferred", {"token_id": "D-2024-001", "sender": w.carol, "to": w.dave})
    ]
    assert w.ok(w.alice, certs, "owner_of", "D-2024-001") == w.dave

    w.host.block_height = 9
    assert w.ok(w.bob, certs, "revoke", "D-2024-001", "issued in error") is True  # any issuer
    assert w.new_events(1) == [
        ("Revoked", {"token_id": "D-2024-001", "issuer": w.bob, "reason": "issued in error"})
    ]
    assert w.ok(w.dave, certs, "is_valid", "D-2024-001") is False
    assert w.ok(w.dave, certs, "is_valid", 7) is True
    assert w.ok(w.dave, certs, "owner_of", "D-2024-001") == w.dave  # revoked, still on record
    assert w.ok(w.dave, certs, "record", "D-2024-001") == {
        "owner": w.dave,
        "issuer": w.alice,
        "metadata": metadata,
        "revoked": True,
        "reason": "issued in error",
        "history": [
            {"action": "mint", "by": w.alice, "to": w.carol, "height": 5},
            {"action": "transfer", "by": w.carol, "to": w.dave, "height": 6},
            {"action": "revoke", "by": w.bob, "to": None, "height": 9},
        ],
    }
    record = w.ok(w.dave, certs, "record", 7)
    assert (record["revoked"], record["reason"], record["issuer"]) == (False, None, w.bob)


def test_certificate_refusals_change_nothing(w: World, certs: Address) -> None:
    w.ok(w.alice, certs, "mint", "D-1", w.carol, {"degree": "MSc"})
    w.refused(w.carol, certs, "mint", "D-2", w.carol, {}, message="only an issuer may mint: ask")
    w.refused(w.alice, certs, "mint", "D-1", w.dave, {}, message="certificate D-1 already exists")
    w.refused(w.alice, certs, "mint", "", w.dave, {}, message="non-empty str or an int")
    w.refused(w.alice, certs, "mint", [1], w.dave, {}, message="non-empty str or an int")
    w.refused(w.alice, certs, "mint", True, w.dave, {}, message="non-empty str or an int")
    w.refused(w.alice, certs, "mint", "D-2", b"\x01", {}, message="owner must be a 20-byte")
    w.refused(w.alice, certs, "mint", "D-2", w.dave, [], message="must be dict", status="fault")
    w.refused(w.alice, certs, "transfer", "D-1", w.dave, message="only the owner of certificate")
    w.refused(w.dave, certs, "transfer", "D-1", w.dave, message="only the owner of certificate")
    w.refused(w.carol, certs, "transfer", "D-1", w.carol, message="already belongs to that")
    w.refused(w.carol, certs, "transfer", "D-1", b"", message="new owner must be a 20-byte")
    w.refused(w.carol, certs, "transfer", "D-9", w.dave, message="there is no certificate D-9")
    w.refused(w.carol, certs, "revoke", "D-1", "mine", message="only an issuer may revoke")
    w.refused(w.alice, certs, "revoke", "D-1", "", message="say why the certificate is revoked")
    w.refused(w.alice, certs, "revoke", "D-9", "x", message="there is no certificate D-9")
    w.refused(w.alice, certs, "owner_of", "D-9", message="check the token_id")
    w.refused(w.alice, certs, "record", 99, message="there is no certificate 99")
    assert w.ok(w.alice, certs, "is_valid", "D-9") is False  # a question, not an error
    w.ok(w.alice, certs, "revoke", "D-1", "plagiarism")
    w.refused(w.alice, certs, "revoke", "D-1", "again", message="D-1 is already revoked")
    w.refused(w.carol, certs, "transfer", "D-1", w.dave, message="revoked and cannot be trans")


# --- registry -------------------------------------------------------------------------------------


@pytest.fixture
def registry(w: World) -> Address:
    return w.deploy(REGISTRY)


def test_registry_register_update_transfer_lookup(w: World, registry: Address) -> None:
    assert w.ok(w.bob, registry, "is_registered", "acme") is False
    assert w.ok(w.bob, registry, "register", "acme", DOC_V1) is True
    assert w.new_events(1) == [
        ("Registered", {"entry": "acme", "owner": w.bob, "document_hash": DOC_V1})
    ]
    assert w.ok(w.dave, registry, "lookup", "acme") == {
        "name": "acme",
        "owner": w.bob,
        "document_hash": DOC_V1,
        "registered": 5,
        "updated": 5,
    }
    w.host.block_height = 8
    assert w.ok(w.bob, registry, "update", "acme", DOC_V2) is True
    assert w.new_events(1) == [
        ("Updated", {"entry": "acme", "owner": w.bob, "document_hash": DOC_V2})
    ]
    found = w.ok(w.dave, registry, "lookup", "acme")
    assert (found["document_hash"], found["registered"], found["updated"]) == (DOC_V2, 5, 8)
    w.host.block_height = 11
    assert w.ok(w.bob, registry, "transfer", "acme", w.carol) is True
    assert w.new_events(1) == [("Transferred", {"entry": "acme", "sender": w.bob, "to": w.carol})]
    found = w.ok(w.dave, registry, "lookup", "acme")
    assert (found["owner"], found["updated"]) == (w.carol, 11)
    w.ok(w.carol, registry, "update", "acme", DOC_V1)  # the new owner may update
    w.refused(w.bob, registry, "update", "acme", DOC_V2, message="only the owner of acme")
    w.ok(w.dave, registry, "register", "globex", DOC_V1)
    assert w.ok(w.dave, registry, "count") == 2
    assert w.ok(w.dave, registry, "is_registered", "acme") is True


def test_registry_refusals_change_nothing(w: World, registry: Address) -> None:
    w.ok(w.bob, registry, "register", "acme", DOC_V1)
    w.refused(w.carol, registry, "register", "acme", DOC_V2, message="acme is already registered")
    w.refused(w.carol, registry, "register", "", DOC_V2, message="a name has 1 to 128 characters")
    w.refused(w.carol, registry, "register", "x" * 129, DOC_V2, message="1 to 128 characters")
    w.refused(w.carol, registry, "register", "new", b"abc", message="32-byte SHA-256 digest")
    w.refused(w.carol, registry, "register", "new", b"abc", message="not 3 bytes")
    w.refused(w.carol, registry, "register", "new", DOC_V1.hex(), message="must be bytes",
              status="fault")  # fmt: skip
    w.refused(w.carol, registry, "update", "acme", DOC_V2, message="only the owner of acme")
    w.refused(w.bob, registry, "update", "acme", DOC_V2[:31], message="32-byte SHA-256")
    w.refused(w.carol, registry, "transfer", "acme", w.carol, message="only the owner of acme")
    w.refused(w.bob, registry, "transfer", "acme", b"x", message="new owner must be a 20-byte")
    w.refused(w.bob, registry, "update", "nope", DOC_V2, message="nope is not registered")
    w.refused(w.bob, registry, "transfer", "nope", w.bob, message="nope is not registered")
    w.refused(w.bob, registry, "lookup", "nope", message="check the spelling, or register it")


# --- multisig -------------------------------------------------------------------------------------


@pytest.fixture
def wallet(w: World) -> Address:
    return w.deploy(MULTISIG, [w.alice, w.bob, w.carol], 2, sender=w.dave)


@pytest.mark.parametrize(
    ("owners", "k", "message"),
    [
        ([], 1, "k must be between 1 and len(owners)"),
        (["alice", "alice"], 1, "an owner is listed twice"),
        ([b"short"], 1, "each owner must be an address"),
        (["alice", 7], 1, "each owner must be an address"),
        (["alice", "bob"], 0, "k must be between 1 and len(owners)"),
        (["alice", "bob"], 3, "k must be between 1 and len(owners)"),
    ],
)
def test_multisig_constructor_refusals(w: World, owners: list[Any], k: int, message: str) -> None:
    people = {"alice": w.alice, "bob": w.bob}
    args = [people.get(o, o) for o in owners]
    address, result = w.host.deploy(MULTISIG, args, k, sender=w.alice)
    assert result.status == "reverted" and message in result.error
    assert w.host.read(address) == {}


def test_multisig_views(w: World, wallet: Address) -> None:
    assert w.ok(w.dave, wallet, "owners") == [w.alice, w.bob, w.carol]
    assert w.ok(w.dave, wallet, "is_owner", w.bob) is True
    assert w.ok(w.dave, wallet, "is_owner", w.dave) is False  # the deployer is not an owner


def test_multisig_propose_approve_revoke_execute(w: World, wallet: Address) -> None:
    payload = {"resource": "patient-records", "grantee": w.dave, "scope": ["read"]}
    assert w.ok(w.alice, wallet, "propose", "grant-access", payload) == 0
    assert w.new_events(1) == [
        ("Proposed", {"id": 0, "proposer": w.alice, "action": "grant-access"})
    ]
    assert w.ok(w.bob, wallet, "propose", "release", {}) == 1
    status = w.ok(w.dave, wallet, "status", 0)
    assert status == {
        "action": "grant-access",
        "payload": payload,
        "proposer": w.alice,
        "approvals": [],
        "count": 0,
        "k": 2,
        "approved": False,
        "executed": False,
    }
    assert w.ok(w.alice, wallet, "approve", 0) == 1  # proposing is not approving
    assert w.new_events(1) == [("Approved", {"id": 0, "owner": w.alice, "approvals": 1})]
    assert w.ok(w.dave, wallet, "status", 0)["approved"] is False
    assert w.ok(w.bob, wallet, "approve", 0) == 2
    assert w.ok(w.dave, wallet, "status", 0)["approved"] is True
    assert w.ok(w.bob, wallet, "revoke", 0) == 1
    assert w.new_events(1) == [("Revoked", {"id": 0, "owner": w.bob, "approvals": 1})]
    assert w.ok(w.dave, wallet, "status", 0)["approved"] is False
    assert w.ok(w.carol, wallet, "approve", 0) == 2
    status = w.ok(w.dave, wallet, "status", 0)
    assert (status["approvals"], status["approved"]) == ([w.alice, w.carol], True)
    assert w.ok(w.carol, wallet, "execute", 0) is True
    assert w.new_events(1) == [("Executed", {"id": 0, "by": w.carol, "action": "grant-access"})]
    status = w.ok(w.dave, wallet, "status", 0)
    assert (status["executed"], status["approved"]) == (True, True)
    assert w.ok(w.dave, wallet, "status", 1)["approvals"] == []  # proposals are independent


def test_multisig_refusals_change_nothing(w: World, wallet: Address) -> None:
    payload_rule = "a transfer's payload is {'to': address, 'amount': int > 0}"
    w.refused(w.dave, wallet, "propose", "x", {}, message="only an owner may call this")
    w.refused(w.alice, wallet, "propose", "", {}, message="name the action")
    w.refused(w.alice, wallet, "propose", "transfer", {"amount": 5}, message=payload_rule)
    w.refused(w.alice, wallet, "propose", "transfer", {"to": b"x", "amount": 5},
              message=payload_rule)  # fmt: skip
    w.refused(w.alice, wallet, "propose", "transfer", {"to": w.dave, "amount": 0},
              message=payload_rule)  # fmt: skip
    w.refused(w.alice, wallet, "propose", "transfer", {"to": w.dave, "amount": "9"},
              message=payload_rule)  # fmt: skip
    w.refused(w.alice, wallet, "propose", "x", [], message="must be dict", status="fault")
    w.ok(w.alice, wallet, "propose", "grant-access", {})
    w.refused(w.dave, wallet, "approve", 0, message="only an owner may call this: see owners()")
    w.refused(w.alice, wallet, "approve", 1, message="there is no proposal 1: check the id")
    w.refused(w.alice, wallet, "status", 7, message="there is no proposal 7")
    w.refused(w.alice, wallet, "revoke", 0, message="you have not approved proposal 0")
    w.refused(w.dave, wallet, "revoke", 0, message="only an owner may call this")
    w.ok(w.alice, wallet, "approve", 0)
    w.refused(w.alice, wallet, "approve", 0, message="you already approved proposal 0")
    w.refused(w.alice, wallet, "execute", 0, message="only 1 approvals; k is 2")
    w.ok(w.bob, wallet, "approve", 0)
    w.refused(w.dave, wallet, "execute", 0, message="only an owner may call this")
    w.ok(w.bob, wallet, "execute", 0)
    w.refused(w.alice, wallet, "execute", 0, message="proposal 0 is already executed")
    w.refused(w.carol, wallet, "approve", 0, message="proposal 0 is already executed")
    w.refused(w.alice, wallet, "revoke", 0, message="proposal 0 is already executed")
    w.refused(w.alice, wallet, "deposit", message="send coins with the call: value > 0")


def test_multisig_transfer_action_pays_out_held_coins(w: World, wallet: Address) -> None:
    w.ok(w.alice, wallet, "propose", "transfer", {"to": w.dave, "amount": 300})
    w.ok(w.alice, wallet, "approve", 0)
    w.ok(w.bob, wallet, "approve", 0)
    w.refused(w.alice, wallet, "execute", 0, message="the contract holds 0: deposit() more")
    assert w.ok(w.dave, wallet, "status", 0)["executed"] is False  # the refusal undid it
    assert w.ok(w.carol, wallet, "deposit", value=200) == 200
    assert w.new_events(1) == [("Deposited", {"sender": w.carol, "amount": 200})]
    w.refused(w.alice, wallet, "execute", 0, message="the contract holds 200")
    w.ok(w.dave, wallet, "deposit", value=150)
    assert w.host.balance(w.dave) == 850
    w.ok(w.alice, wallet, "execute", 0)
    assert w.host.balance(w.dave) == 1_150 and w.host.balance(wallet) == 50
    assert w.new_events(1) == [("Executed", {"id": 0, "by": w.alice, "action": "transfer"})]


@pytest.mark.parametrize(("k", "approvers", "passes"), [
    (3, ["alice", "bob"], False),           # AND of three parties
    (3, ["alice", "bob", "carol"], True),
    (1, ["carol"], True),                   # OR
    (2, ["bob", "carol"], True),            # 2-of-3 endorsements
])  # fmt: skip
def test_multisig_expresses_and_or_k_of_n_policies(
    w: World, k: int, approvers: list[str], passes: bool
) -> None:
    policy = w.deploy(MULTISIG, [w.alice, w.bob, w.carol], k)
    w.ok(w.alice, policy, "propose", "share", {"record": "r-17", "with": w.dave})
    for name in approvers:
        w.ok(getattr(w, name), policy, "approve", 0)
    assert w.ok(w.dave, policy, "status", 0)["approved"] is passes


# --- gas, failure and determinism -----------------------------------------------------------------


def _scenario() -> tuple[Any, ...]:
    """The same calls on a fresh host: everything observable is returned."""
    w = World()
    token = w.deploy(TOKEN, "Coin", "C", 500)
    certs = w.deploy(CERTIFICATE, "Plates", [w.bob])
    registry = w.deploy(REGISTRY)
    wallet = w.deploy(MULTISIG, [w.alice, w.bob], 2)
    calls = [
        (w.alice, token, "transfer", w.bob, 10),
        (w.bob, token, "transfer", w.carol, 99),
        (w.bob, certs, "mint", "P-1", w.carol, {"plate": "P-1"}),
        (w.carol, certs, "transfer", "P-1", w.dave),
        (w.carol, registry, "register", "x", DOC_V1),
        (w.alice, wallet, "propose", "a", {"n": 1}),
        (w.alice, wallet, "approve", 0),
    ]
    results = [w.host.transact(*call) for call in calls]
    storage = [w.host.read(c) for c in (token, certs, registry, wallet)]
    return (
        [(r.status, r.gas_used, r.return_value, r.error, r.events) for r in results],
        storage,
        w.host.events,
    )


def test_runs_are_deterministic() -> None:
    first, second = _scenario(), _scenario()
    assert first == second
    statuses = [status for status, *_ in first[0]]
    assert statuses == ["ok", "reverted", "ok", "ok", "ok", "ok", "ok"]


def test_gas_is_reported_and_a_too_small_limit_changes_nothing(w: World, token: Address) -> None:
    result = w.host.transact(w.alice, token, "transfer", w.bob, 10)
    assert result.ok and 1_000 < result.gas_used < 5_000  # two slot writes at 500 each
    view = w.host.transact(w.alice, token, "balance_of", w.bob)
    assert view.ok and view.gas_used < result.gas_used
    before = w.snapshot(token)
    starved = w.host.transact(w.alice, token, "transfer", w.bob, 10, gas_limit=600)
    assert starved.status == "out-of-gas" and starved.gas_used == 600
    assert "raise the gas limit" in starved.error
    assert w.snapshot(token) == before


# --- end to end: signed transactions on a chain ---------------------------------------------------


class Node:
    """A chain with funded keys, and shortcuts to deploy, call and read contracts."""

    def __init__(self) -> None:
        self.chain = new_chain()
        self.alice, self.bob, self.carol, self.dave = ALICE, BOB, CAROL, DAVE

    def send(self, key: Any, contract: bytes | None, function: str, *args: Any, value: int = 0):
        """Mine one block holding one deploy (``contract`` None) or call; return its receipt."""
        common = {
            "nonce": self.chain.nonce(key.address),
            "chain_id": self.chain.params.chain_id,
            "gas": 60_000,
            "value": value,
        }
        if contract is None:
            tx = deploy_transaction(key, STANDARD[function], list(args), **common)
        else:
            tx = call_transaction(key, contract, function, list(args), **common)
        balance = self.chain.balance(key.address)
        extend(self.chain, [tx])
        receipt = self.chain.receipt(tx.hash)
        assert 0 < receipt.gas_used < 60_000 and receipt.fee_paid == receipt.gas_used
        assert self.chain.balance(key.address) == balance - receipt.fee_paid - (
            value if receipt.ok else 0
        )
        return receipt

    def deploy(self, key: Any, name: str, *args: Any) -> Address:
        receipt = self.send(key, None, name, *args)
        assert receipt.ok, receipt.error
        return receipt.contract_address

    def refused(self, key: Any, contract: bytes, function: str, *args: Any, message: str) -> None:
        before = self.chain.storage(contract), len(self.chain.events(contract))
        receipt = self.send(key, contract, function, *args)
        assert receipt.status == "reverted" and message in receipt.error, receipt
        assert receipt.events == ()
        assert (self.chain.storage(contract), len(self.chain.events(contract))) == before

    def names(self, contract: bytes) -> list[str]:
        return [logged.name for logged in self.chain.events(contract)]


@pytest.fixture
def node() -> Node:
    return Node()


def test_chain_token(node: Node) -> None:
    a, b = node.alice.address, node.bob.address
    token = node.deploy(node.alice, "token", "Campus Coin", "CC", 1_000)
    assert node.send(node.alice, token, "transfer", b, 400).return_value is True
    node.send(node.bob, token, "approve", a, 50)
    node.refused(node.alice, token, "transfer_from", b, a, 51, message="allowance exceeded")
    node.refused(node.bob, token, "transfer", a, 401, message="holds 400, cannot send 401")
    assert node.chain.call_view(token, "balance_of", [b]) == 400
    assert node.chain.call_view(token, "allowance", [b, a]) == 50
    assert node.names(token) == ["Transfer", "Transfer", "Approval"]
    transfer = node.chain.events(token, "Transfer")[1]
    assert transfer.fields == {"sender": a, "to": b, "amount": 400} and transfer.height == 2


def test_chain_certificate(node: Node) -> None:
    a, c, d = node.alice.address, node.carol.address, node.dave.address
    certs = node.deploy(node.alice, "certificate", "Diplomas", [])
    node.send(node.alice, certs, "mint", "D-1", c, {"degree": "BSc"})
    node.refused(node.dave, certs, "transfer", "D-1", d, message="only the owner of certificate")
    node.send(node.carol, certs, "transfer", "D-1", d)
    node.send(node.alice, certs, "revoke", "D-1", "fraud")
    node.refused(node.dave, certs, "transfer", "D-1", c, message="is revoked")
    record = node.chain.call_view(certs, "record", ["D-1"])
    assert [(h["action"], h["by"], h["height"]) for h in record["history"]] == [
        ("mint", a, 2),
        ("transfer", c, 4),  # block 3 holds the refused transfer
        ("revoke", a, 5),
    ]
    assert node.chain.call_view(certs, "is_valid", ["D-1"]) is False
    assert node.names(certs) == ["Minted", "Transferred", "Revoked"]


def test_chain_registry(node: Node) -> None:
    b, c = node.bob.address, node.carol.address
    registry = node.deploy(node.alice, "registry")
    node.send(node.bob, registry, "register", "acme", DOC_V1)
    node.refused(node.carol, registry, "register", "acme", DOC_V2, message="already registered")
    node.send(node.bob, registry, "update", "acme", DOC_V2)
    node.send(node.bob, registry, "transfer", "acme", c)
    assert node.chain.call_view(registry, "lookup", ["acme"]) == {
        "name": "acme",
        "owner": c,
        "document_hash": DOC_V2,
        "registered": 2,
        "updated": 5,  # block 3: the refused register, 4: update, 5: transfer
    }
    assert [e.fields["entry"] for e in node.chain.events(registry)] == ["acme"] * 3
    assert node.chain.events(registry, "Transferred")[0].fields["sender"] == b


def test_chain_multisig(node: Node) -> None:
    owners = [node.alice.address, node.bob.address, node.carol.address]
    wallet = node.deploy(node.dave, "multisig", owners, 2)
    dave = node.dave.address
    node.send(node.dave, wallet, "deposit", value=1_000)
    assert node.chain.balance(wallet) == 1_000
    pid = node.send(node.alice, wallet, "propose", "transfer", {"to": dave, "amount": 700})
    assert pid.return_value == 0
    node.send(node.alice, wallet, "approve", 0)
    node.refused(node.alice, wallet, "execute", 0, message="only 1 approvals; k is 2")
    node.send(node.carol, wallet, "approve", 0)
    before = node.chain.balance(dave)
    node.send(node.bob, wallet, "execute", 0)
    assert node.chain.balance(dave) == before + 700 and node.chain.balance(wallet) == 300
    assert node.chain.call_view(wallet, "status", [0])["executed"] is True
    assert node.names(wallet) == ["Deposited", "Proposed", "Approved", "Approved", "Executed"]
