"""Supply-chain provenance (blockkit.sharing.provenance): an honest farm → dairy → carrier →
inspector → retailer trail, every refusal with its reason (and nothing changed by it), origins and
recalls on a DAG checked against a brute-force walk, document hashes, the same trail on a
LocalHost and on a real Chain, certificates checked before sending, and the drawing."""

from __future__ import annotations

import hashlib
import re

import matplotlib
import pytest
from helpers import new_chain

matplotlib.use("Agg")

import matplotlib.pyplot as plt
from matplotlib.patches import FancyArrowPatch

from blockkit.contracts import LocalHost, compile_contract
from blockkit.errors import AccessDenied, InvalidCertificate, TamperedData
from blockkit.sharing.identity import CertificateAuthority, Membership
from blockkit.sharing.provenance import (
    FORBIDDEN,
    PROVENANCE_SOURCE,
    REFUSALS,
    ProvenanceRegistry,
    StepForbidden,
    StepRefused,
    draw_trail,
)

ORGS = ("consortium", "farm", "dairy", "coldchain", "foodlab", "shop")
CAS = {org: CertificateAuthority.from_seed(org, "provenance-tests") for org in ORGS}
M = {org: ca.enrol(f"{org}-staff", seed="t") for org, ca in CAS.items()}
ADMIN, FARM, DAIRY, CARRIER, LAB, SHOP = (M[o] for o in ORGS)
ROLES = {"farm": ["maker"], "dairy": ["maker"], "coldchain": ["carrier"],
         "foodlab": ["inspector"], "shop": ["retailer"]}  # fmt: skip

LOG = b"milking log 2025-03-01, tank 4, 1000 l, ref 7f3a"
CERT = b"FoodLab certificate 2025-117: listeria absent, aflatoxin M1 < 0.05 ug/kg"


def setup(backend, **options) -> ProvenanceRegistry:
    registry = ProvenanceRegistry.deploy(backend, ADMIN, **options)
    for org, roles in ROLES.items():
        registry.register(ADMIN, M[org], roles)
    return registry


def honest_trail(registry: ProvenanceRegistry) -> None:
    """Two milk batches from the farm become two cheeses at the dairy; one is inspected,
    carried to the shop and sold."""
    registry.create(FARM, "milk-1", what="raw milk (l)", quantity=1000, place="Farm 7, Hohhot",
                    document=LOG)  # fmt: skip
    registry.create(FARM, "milk-2", what="raw milk (l)", quantity=800, place="Farm 7, Hohhot")
    for batch in ("milk-1", "milk-2"):
        registry.ship(
            FARM, batch, to="dairy", carrier="coldchain", document=b"note " + batch.encode()
        )
        registry.receive(DAIRY, batch)
    registry.transform(
        DAIRY, ["milk-1", "milk-2"], {"cheese-1": ("gouda wheel", 12), "cheese-2": ("gouda", 10)}
    )
    registry.inspect(LAB, "cheese-1", passed=True, certificate=CERT)
    registry.ship(DAIRY, "cheese-1", to=SHOP, carrier=CARRIER)
    registry.receive(SHOP, "cheese-1")
    registry.sell(SHOP, "cheese-1", buyer="receipt 0001")


@pytest.fixture
def host():
    return LocalHost(block_height=0)


@pytest.fixture
def registry(host):
    registry = setup(host)
    honest_trail(registry)
    return registry


def funded_chain():
    return new_chain(allocations={m.address: 10**9 for m in M.values()})


# --- the contract ---------------------------------------------------------------------------------


def test_the_contract_compiles_fits_and_every_refusal_tag_is_documented():
    compile_contract(PROVENANCE_SOURCE)
    assert len(PROVENANCE_SOURCE) <= 6_000
    tags = set(re.findall(r'"([a-z-]+): ', PROVENANCE_SOURCE))
    tags |= {"in-transit", "consumed", "sold"}  # raised as entry["status"] + ": ..."
    assert tags == set(REFUSALS)
    assert FORBIDDEN <= set(REFUSALS)


# --- the honest trail -----------------------------------------------------------------------------


def test_an_honest_trail_is_recorded_step_by_step(registry, host):
    table = registry.trail("cheese-1")
    assert list(table.columns[:6]) == ["step", "height", "organisation", "action", "details", "tx"]
    assert list(table["action"]) == ["transformed", "inspected", "shipped", "received", "sold"]
    assert list(table["organisation"]) == ["dairy", "foodlab", "dairy", "shop", "shop"]
    assert list(table["details"]) == [
        "12 gouda wheel from milk-1, milk-2", "passed", "dairy → shop by coldchain",
        "from carrier coldchain", "to receipt 0001",
    ]  # fmt: skip
    assert list(table["tx"]) == [""] * 5  # a LocalHost has no transactions
    heights = list(table["height"])
    assert heights == sorted(heights) and len(set(heights)) == 5  # one block per write
    milk = registry.trail("milk-1")
    assert list(milk["action"]) == ["created", "shipped", "received", "consumed"]
    assert milk["details"].iloc[3] == "into cheese-1, cheese-2"
    steps = registry.steps("cheese-1")
    assert [s.member for s in steps] == [DAIRY.address, LAB.address, DAIRY.address,
                                         SHOP.address, SHOP.address]  # fmt: skip
    seqs = [s.seq for s in registry.steps("milk-1") + steps]
    assert seqs == sorted(seqs)  # a total order across items

    cheese, milk1 = registry.item("cheese-1"), registry.item("milk-1")
    assert (cheese.holder, cheese.status, cheese.inputs) == ("shop", "sold", ("milk-1", "milk-2"))
    assert (milk1.status, milk1.into, milk1.maker) == ("consumed", ("cheese-1", "cheese-2"), "farm")
    assert registry.item("cheese-2").holder == "dairy"
    assert registry.item("nothing") is None
    assert registry.has_role("foodlab", "inspector") and not registry.has_role(CARRIER, "inspector")

    # Every step emitted an event naming its item and index.
    step_events = [e for e in host.events if "step" in e.fields]
    recorded = sum(registry.item(i).steps for i in ("milk-1", "milk-2", "cheese-1", "cheese-2"))
    assert len(step_events) == recorded
    assert [e.name for e in step_events[-3:]] == ["Shipped", "Received", "Sold"]


def test_documents_stay_off_chain_only_their_sha256_is_recorded(registry, host):
    step = registry.steps("milk-1")[0]
    assert step.document == hashlib.sha256(LOG).digest()  # what sha256sum prints
    assert registry.steps("cheese-1")[1].document == hashlib.sha256(CERT).digest()
    stored = repr(host.storage)
    assert "milking log" not in stored and "listeria" not in stored


# --- refusals -------------------------------------------------------------------------------------


def snapshot(registry):
    return {i: registry.item(i) for i in ("milk-1", "milk-2", "cheese-1", "cheese-2")}


def refused(registry, reason, method, *args, **kwargs):
    """``method(*args, **kwargs)`` is refused with ``reason``, and the items are as before."""
    before = snapshot(registry)
    with pytest.raises(StepRefused) as info:
        method(*args, **kwargs)
    assert info.value.reason == reason, str(info.value)
    assert isinstance(info.value, AccessDenied) == (reason in FORBIDDEN)
    assert snapshot(registry) == before
    return str(info.value)


def test_a_carrier_cannot_inspect_and_roles_are_enforced(registry):
    r = registry
    message = refused(
        r, "wrong-role", r.inspect, CARRIER, "cheese-2", passed=True, certificate=CERT
    )
    assert "coldchain lacks role inspector" in message and "grant" in message
    refused(r, "wrong-role", r.create, CARRIER, "milk-9", what="milk", quantity=1, place="x")
    refused(r, "wrong-role", r.sell, DAIRY, "cheese-2", buyer="r")
    # The named carrier must be a carrier.
    refused(r, "wrong-role", r.ship, DAIRY, "cheese-2", to="shop", carrier="foodlab")
    with pytest.raises(AccessDenied):  # a PermissionError too, for code that catches those
        r.inspect(CARRIER, "cheese-2", passed=True, certificate=CERT)


def test_only_the_holder_ships_and_only_the_addressee_receives(host):
    r = setup(host)
    r.create(FARM, "milk-1", what="milk", quantity=10, place="Farm 7")
    refused(r, "not-holder", r.ship, DAIRY, "milk-1", to="shop", carrier="coldchain")
    refused(r, "not-shipped-to-you", r.receive, DAIRY, "milk-1")  # receive without a ship
    refused(r, "unknown-organisation", r.ship, FARM, "milk-1", to="nobody", carrier="coldchain")
    refused(r, "unknown-organisation", r.ship, FARM, "milk-1", to="farm", carrier="coldchain")
    r.ship(FARM, "milk-1", to="dairy", carrier="coldchain")
    assert (r.item("milk-1").holder, r.item("milk-1").to) == ("coldchain", "dairy")
    refused(r, "not-shipped-to-you", r.receive, SHOP, "milk-1")  # shipped to someone else
    refused(r, "not-holder", r.ship, FARM, "milk-1", to="shop", carrier="coldchain")
    refused(r, "in-transit", r.ship, CARRIER, "milk-1", to="shop", carrier="coldchain")
    r.receive(DAIRY, "milk-1")
    refused(r, "not-shipped-to-you", r.receive, DAIRY, "milk-1")  # received once only


def test_unknown_items_and_duplicate_ids_are_refused(registry):
    r = registry
    refused(r, "unknown-item", r.ship, DAIRY, "nope", to="shop", carrier="coldchain")
    refused(r, "unknown-item", r.receive, SHOP, "nope")
    refused(r, "unknown-item", r.inspect, LAB, "nope", passed=True, certificate=CERT)
    refused(r, "unknown-item", r.trail, "nope")
    refused(r, "unknown-item", r.origins, "nope")
    refused(r, "duplicate-id", r.create, FARM, "milk-1", what="milk", quantity=1, place="x")
    r.create(DAIRY, "salt-1", what="salt (kg)", quantity=5, place="Tianjin")
    refused(r, "duplicate-id", r.transform, DAIRY, ["salt-1"], {"cheese-1": ("x", 1)})
    refused(r, "duplicate-id", r.transform, DAIRY, ["salt-1"], {"salt-1": ("x", 1)})
    assert r.item("salt-1").status == "held"


def test_a_transformation_uses_only_held_unused_inputs_once(registry):
    r = registry
    r.create(FARM, "milk-3", what="milk", quantity=500, place="Farm 7")
    r.create(DAIRY, "rennet-1", what="rennet (g)", quantity=50, place="dairy store")
    cheese = {"cheese-9": ("gouda", 1)}
    # milk-3 is not held by the dairy: it is still at the farm.
    refused(r, "not-holder", r.transform, DAIRY, ["rennet-1", "milk-3"], cheese)
    # milk-1 was already used to make cheese-1 and cheese-2.
    message = refused(r, "consumed", r.transform, DAIRY, ["rennet-1", "milk-1"], cheese)
    assert "already used" in message
    refused(r, "duplicate-input", r.transform, DAIRY, ["rennet-1", "rennet-1"], cheese)
    refused(r, "sold", r.sell, SHOP, "cheese-1", buyer="again")
    assert r.item("cheese-9") is None  # nothing half-made by any refusal
    assert r.item("rennet-1").status == "held"


def test_a_failed_inspection_quarantines_until_a_pass(registry):
    r = registry
    r.inspect(LAB, "cheese-2", passed=False, certificate=b"lab 118: listeria found")
    assert r.item("cheese-2").failed
    refused(r, "failed-inspection", r.ship, DAIRY, "cheese-2", to="shop", carrier="coldchain")
    r.inspect(LAB, "cheese-2", passed=True, certificate=b"lab 121: retest clear")
    r.ship(DAIRY, "cheese-2", to="shop", carrier="coldchain")
    assert list(r.trail("cheese-2")["details"])[1:3] == ["FAILED", "passed"]


def test_administration_is_the_admins_and_members_can_be_removed(registry):
    r = registry
    outsider = CertificateAuthority.from_seed("outsider").enrol("eve", seed="t")
    refused(r, "not-a-member", r.create, outsider, "milk-9", what="m", quantity=1, place="x")
    refused(r, "not-admin", r.register, FARM, outsider, ["maker"])
    refused(r, "not-admin", r.grant, FARM, "farm", "retailer")
    refused(r, "not-admin", r.remove_member, FARM, DAIRY)
    refused(r, "unknown-organisation", r.grant, ADMIN, "nobody", "maker")
    r.revoke_role(ADMIN, "farm", "maker")
    refused(r, "wrong-role", r.create, FARM, "milk-9", what="m", quantity=1, place="x")
    r.grant(ADMIN, FARM, "maker")
    r.create(FARM, "milk-9", what="m", quantity=1, place="x")
    r.remove_member(ADMIN, FARM)
    refused(r, "not-a-member", r.create, FARM, "milk-10", what="m", quantity=1, place="x")


def test_bad_arguments_say_what_to_do(registry):
    with pytest.raises(ValueError, match="quantity"):
        registry.create(FARM, "milk-9", what="milk", quantity=0, place="x")
    with pytest.raises(ValueError, match="item id"):
        registry.create(FARM, "", what="milk", quantity=1, place="x")
    with pytest.raises(TypeError, match="list of item ids"):
        registry.transform(DAIRY, "milk-1", {"x": ("y", 1)})
    with pytest.raises(ValueError, match="what, quantity"):
        registry.transform(DAIRY, ["milk-1"], {"x": "gouda"})
    with pytest.raises(ValueError, match="no role"):
        registry.grant(ADMIN, "farm", "king")
    with pytest.raises(TypeError, match="Member"):
        registry.create("farm", "milk-9", what="milk", quantity=1, place="x")
    with pytest.raises(TypeError, match="True or False"):
        registry.inspect(LAB, "cheese-2", passed="yes", certificate=CERT)
    with pytest.raises(TypeError, match="document"):
        registry.create(FARM, "milk-9", what="milk", quantity=1, place="x", document="log")


# --- origins and recalls on a DAG -----------------------------------------------------------------


def test_origins_and_where_used_walk_the_dag_exactly(host):
    registry = setup(host)
    for n in range(1, 6):
        registry.create(DAIRY, f"milk-{n}", what="milk", quantity=100, place=f"tank {n}")
    # milk-1 + milk-2 -> curd-a, curd-b; milk-3 -> curd-c; curd-a + curd-c -> cheese-x;
    # curd-b -> cheese-y (+ whey-y); milk-4 -> cheese-z; milk-5 untouched.
    made = {
        ("milk-1", "milk-2"): ("curd-a", "curd-b"),
        ("milk-3",): ("curd-c",),
        ("curd-a", "curd-c"): ("cheese-x",),
        ("curd-b",): ("cheese-y", "whey-y"),
        ("milk-4",): ("cheese-z",),
    }
    for inputs, outputs in made.items():
        registry.transform(DAIRY, list(inputs), {o: ("product", 1) for o in outputs})

    # A brute-force reference: follow the edges we wrote, to a fixed point.
    edges = [(i, o) for ins, outs in made.items() for i in ins for o in outs]
    every = {n for edge in edges for n in edge} | {"milk-5"}

    def closure(start, forward):
        found, frontier = set(), {start}
        while frontier:
            nxt = {b if forward else a for a, b in edges if (a if forward else b) in frontier}
            frontier = nxt - found
            found |= nxt
        return found

    for name in sorted(every):
        assert registry.where_used(name) == sorted(closure(name, True)), name
        raw = {a for a in closure(name, False) | {name} if not closure(a, False)}
        assert registry.origins(name) == sorted(raw), name
    # The recall the lesson tells: contaminated milk-1 reaches exactly these products.
    assert registry.where_used("milk-1") == ["cheese-x", "cheese-y", "curd-a", "curd-b", "whey-y"]
    assert registry.origins("cheese-x") == ["milk-1", "milk-2", "milk-3"]
    assert registry.ancestors("cheese-y") == ["curd-b", "milk-1", "milk-2"]


# --- documents ------------------------------------------------------------------------------------


def test_a_document_is_checked_against_its_hash_and_any_change_is_caught(registry):
    registry.verify_document("milk-1", 0, LOG)
    registry.verify_document("cheese-1", 1, CERT)
    assert registry.document_matches("milk-1", 1, b"note milk-1")
    for i in range(len(LOG)):  # flip one byte anywhere
        tampered = LOG[:i] + bytes([LOG[i] ^ 0x01]) + LOG[i + 1 :]
        assert not registry.document_matches("milk-1", 0, tampered)
    with pytest.raises(TamperedData) as info:
        registry.verify_document("milk-1", 0, LOG + b" ")
    assert info.value.reason == "document-mismatch" and "farm" in str(info.value)
    with pytest.raises(TamperedData) as info:
        registry.verify_document("cheese-1", 1, LOG)  # a real document, but another step's
    assert info.value.reason == "document-mismatch"
    with pytest.raises(TamperedData) as info:
        registry.verify_document("milk-1", 2, b"")  # the receipt recorded no document
    assert info.value.reason == "no-document"
    with pytest.raises(ValueError, match="steps 0 to"):
        registry.verify_document("milk-1", 9, LOG)


# --- on a chain -----------------------------------------------------------------------------------


def test_the_same_trail_on_a_localhost_and_on_a_chain():
    local = setup(LocalHost(block_height=0))
    honest_trail(local)
    chain = funded_chain()
    on_chain = setup(chain)
    honest_trail(on_chain)
    for item in ("milk-1", "milk-2", "cheese-1", "cheese-2"):
        a, b = local.trail(item), on_chain.trail(item)
        assert a.drop(columns="tx").equals(b.drop(columns="tx")), item
        assert (b["tx"] != "").all()
    assert on_chain.where_used("milk-2") == local.where_used("milk-2")
    # Each step's tx is the transaction that recorded it, at that step's height.
    for step in on_chain.steps("cheese-1"):
        location = chain.transaction(step.tx)
        assert location.height == step.height
        assert location.transaction.sender == step.member
    # A refusal on a chain is the same refusal: a reverted transaction, turned into its reason.
    with pytest.raises(StepForbidden) as info:
        on_chain.inspect(CARRIER, "cheese-2", passed=True, certificate=CERT)
    assert info.value.reason == "wrong-role"
    with pytest.raises(StepRefused) as info:
        on_chain.trail("nope")  # a view that reverts
    assert info.value.reason == "unknown-item"


def test_on_a_chain_writes_can_go_through_any_submit_function():
    chain = funded_chain()
    sent = []

    def submit(tx):  # a mempool or a network would take it here; this one mines at once
        sent.append(tx)
        block = chain.mine_block(
            [tx], proposer=tx.sender, timestamp=chain.head.header.timestamp + 5
        )
        chain.add_block(block)

    registry = setup(chain, submit=submit)
    registry.create(FARM, "milk-1", what="milk", quantity=10, place="Farm 7")
    assert len(sent) == 1 + 2 * len(ROLES) + 1 == chain.height
    assert sent[-1].sender == FARM.address and registry.steps("milk-1")[0].tx == sent[-1].hash


# --- certificates -------------------------------------------------------------------------------


def test_with_a_membership_a_revoked_certificate_is_refused_before_sending(host):
    membership = Membership.of(*CAS.values())
    for member in M.values():
        membership.register(member.certificate, height=0)
    registry = ProvenanceRegistry.deploy(host, ADMIN, membership=membership)
    for org, roles in ROLES.items():
        registry.register(ADMIN, M[org], roles)
    registry.create(FARM, "milk-1", what="milk", quantity=10, place="Farm 7")
    membership.update_crl(CAS["farm"].revoke(FARM.certificate.serial, height=host.block_height + 1))
    height = host.block_height
    with pytest.raises(InvalidCertificate) as info:
        registry.ship(FARM, "milk-1", to="dairy", carrier="coldchain")
    assert info.value.reason == "revoked"
    assert host.block_height == height and registry.item("milk-1").status == "held"  # not sent
    # An outsider is refused off chain too, and cannot be registered.
    outsider = CertificateAuthority.from_seed("outsider").enrol("eve", seed="t")
    with pytest.raises(InvalidCertificate) as info:
        registry.create(outsider, "milk-9", what="milk", quantity=1, place="x")
    assert info.value.reason == "not-a-member"
    with pytest.raises(InvalidCertificate) as info:
        registry.register(ADMIN, outsider, ["maker"])
    assert info.value.reason == "unknown-organisation"


# --- the drawing ----------------------------------------------------------------------------------


def artists(ax, gid):
    return [p for p in ax.patches if isinstance(p, FancyArrowPatch) and p.get_gid() == gid]


def test_the_drawing_has_a_node_per_step_and_an_arrow_per_transfer(registry):
    registry.inspect(LAB, "cheese-2", passed=False, certificate=b"lab 118: listeria found")
    fig = draw_trail(registry, "cheese-1")
    ax = fig.axes[0]
    (nodes,) = [c for c in ax.collections if c.get_gid() == "steps"]
    expected = sum(len(registry.steps(i)) for i in ("milk-1", "milk-2", "cheese-1"))
    assert len(nodes.get_offsets()) == expected == 13
    assert len(artists(ax, "custody")) == 3  # milk-1, milk-2 to the dairy; cheese-1 to the shop
    assert len(artists(ax, "transform")) == 2  # milk-1 -> cheese-1, milk-2 -> cheese-1
    assert [t.get_text() for t in ax.get_xticklabels()] == ["farm", "dairy", "foodlab", "shop"]
    plt.close(fig)

    fig = draw_trail(registry, "milk-1", upstream=False, downstream=True)
    ax = fig.axes[0]
    (nodes,) = [c for c in ax.collections if c.get_gid() == "steps"]
    assert len(nodes.get_offsets()) == sum(
        len(registry.steps(i)) for i in ("milk-1", "cheese-1", "cheese-2")
    )
    assert len(artists(ax, "transform")) == 2  # milk-1 -> cheese-1 and -> cheese-2
    colours = [tuple(c) for c in nodes.get_facecolors()]
    red = matplotlib.colors.to_rgba("#d62728")
    assert colours.count(red) == 1  # the failed inspection of cheese-2, highlighted
    assert any("FAILED" in t.get_text() for t in ax.texts)
    # Deterministic: the same trail draws the same node positions.
    again = draw_trail(registry, "milk-1", upstream=False, downstream=True).axes[0]
    (nodes_again,) = [c for c in again.collections if c.get_gid() == "steps"]
    assert (nodes_again.get_offsets() == nodes.get_offsets()).all()
    plt.close("all")
