"""Supply-chain traceability: every organisation that makes, moves, checks, transforms or sells a
product writes that step on a shared chain, so anyone can follow a product back to its raw inputs
and a contaminated batch forward to every product it went into.

Today a cheese's history is scattered over the farm's, the dairy's, the haulier's, the food
inspector's and the supermarket's own databases (the "data islands"), and a recall means phone
calls and spreadsheets. Here the trail lives in one contract that all of them share, and the
contract enforces the rules of custody, as a permissioned chain would:

* **Roles.** The admin (the consortium's operator, who deploys the contract) registers each
  member's address under its organisation and grants organisations roles: ``maker`` (creates
  batches, transforms them), ``carrier`` (carries shipments), ``inspector`` (records inspections)
  and ``retailer`` (sells). A carrier cannot record an inspection; a farm cannot sell in a shop.
* **Custody.** Only the organisation holding an item may ship it; while it travels, the named
  carrier holds it; only the organisation it was shipped *to* may receive it. A transformation
  (milk batches into cheese wheels) consumes inputs its maker holds, once: the graph of items is a
  DAG, each input pointing at the outputs made from it.
* **Quarantine.** A failed inspection freezes the item (no shipping, transforming or selling)
  until a later inspection passes. Inspections may come after the fact (a lab result that arrives
  when the milk is already cheese): that is when ``where_used`` finds what to recall.
* **Documents stay off chain.** A delivery note, a lab certificate or an invoice is stored by its
  owner; the chain keeps only its SHA-256 hash. Anyone handed the document later checks it with
  ``verify_document``; a changed byte is caught. (Plain SHA-256, not a tagged hash, so that the
  hash is the one ``sha256sum`` prints for the file: any auditor can check it with any tool. A
  short, guessable document should carry a random reference number, or its hash gives it away.)

Every refusal is a ``require`` whose message starts with a reason tag; ``ProvenanceRegistry``
turns it into ``StepRefused`` (or ``StepForbidden``, which is also an ``AccessDenied``, when the
organisation lacks the right) with that ``reason`` and a hint: see ``REFUSALS``.

Nothing here is random, so there is nothing to seed. Time is the block height at which each step
is recorded (on a ``LocalHost``, the wrapper moves ``block_height`` up by one per write, as a
single-node classroom chain mines one block per transaction).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from itertools import pairwise
from typing import TYPE_CHECKING, Any

from blockkit.contracts import client
from blockkit.contracts.local import LocalHost
from blockkit.errors import (
    AccessDenied,
    ContractFault,
    OutOfGas,
    Revert,
    SharingError,
    TamperedData,
)
from blockkit.hashing import sha256
from blockkit.keys import Address, PrivateKey
from blockkit.sharing.identity import Member, Membership

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.figure import Figure

    from blockkit.chain import Chain
    from blockkit.transactions import Transaction

__all__ = [
    "FORBIDDEN",
    "PROVENANCE_GAS",
    "PROVENANCE_SOURCE",
    "REFUSALS",
    "ROLES",
    "ItemRecord",
    "ProvenanceRegistry",
    "Step",
    "StepForbidden",
    "StepRefused",
    "draw_trail",
]

#: The roles the contract knows, and what each lets an organisation do.
ROLES = {
    "maker": "create batches and transform held items into new ones",
    "carrier": "be named as the carrier of a shipment (and hold the item while it travels)",
    "inspector": "record an inspection (passed or failed) with its certificate's hash",
    "retailer": "sell an item it holds",
}

PROVENANCE_SOURCE = '''
class Provenance:
    """A product's trail across organisations. See blockkit.sharing.provenance."""

    def __init__(self):
        self.admin = caller
        self.orgs = {}
        self.known = {}
        self.roles = {}
        self.items = {}
        self.steps = {}
        self.seq = 0

    def add_member(self, who: bytes, org: str):
        self._admin()
        self.orgs[who] = org
        self.known[org] = True
        emit("MemberAdded", who=who, org=org)

    def remove_member(self, who: bytes):
        self._admin()
        self.orgs[who] = None
        emit("MemberRemoved", who=who)

    def grant(self, org: str, role: str, on: bool):
        self._admin()
        require(role in ["maker", "carrier", "inspector", "retailer"], "bad-argument: " + role)
        require(self.known.get(org, False), "unknown-organisation: " + org)
        self.roles[org, role] = on
        emit("RoleChanged", org=org, role=role, on=on)

    def create(self, item: str, what: str, quantity: int, place: str, doc: bytes):
        org = self._org()
        self._role(org, "maker")
        self._new(item, what, quantity, place, org, [])
        self._step(item, org, "Created", {"what": what, "quantity": quantity, "place": place}, doc)

    def ship(self, item: str, to: str, carrier: str, doc: bytes):
        org = self._org()
        entry = self._held(item, org)
        require(self.known.get(to, False) and to != org, "unknown-organisation: " + to)
        self._role(carrier, "carrier")
        entry["holder"] = carrier
        entry["status"] = "in-transit"
        entry["to"] = to
        self.items[item] = entry
        self._step(item, org, "Shipped", {"from": org, "to": to, "carrier": carrier}, doc)

    def receive(self, item: str, doc: bytes):
        org = self._org()
        entry = self._item(item)
        ok = entry["status"] == "in-transit" and entry["to"] == org
        require(ok, "not-shipped-to-you: " + item)
        carrier = entry["holder"]
        entry["holder"] = org
        entry["status"] = "held"
        entry["to"] = None
        self.items[item] = entry
        self._step(item, org, "Received", {"carrier": carrier}, doc)

    def inspect(self, item: str, passed: bool, certificate: bytes):
        org = self._org()
        self._role(org, "inspector")
        entry = self._item(item)
        require(len(certificate) == 32, "bad-argument: hash size")
        entry["failed"] = not passed
        self.items[item] = entry
        self._step(item, org, "Inspected", {"passed": passed}, certificate)

    def transform(self, inputs: list, outputs: list, doc: bytes):
        org = self._org()
        self._role(org, "maker")
        require(len(inputs) > 0 and len(outputs) > 0, "bad-argument: empty")
        ids = [out[0] for out in outputs]
        for name in inputs:
            require(inputs.count(name) == 1, "duplicate-input: " + name)
            self._held(name, org)
        for out in outputs:
            self._new(out[0], out[1], out[2], org, org, inputs)
        for name in inputs:
            entry = self.items[name]
            entry["status"] = "consumed"
            entry["into"] = ids
            self.items[name] = entry
            self._step(name, org, "Consumed", {"into": ids}, b"")
        for out in outputs:
            info = {"what": out[1], "quantity": out[2], "inputs": inputs}
            self._step(out[0], org, "Transformed", info, doc)

    def sell(self, item: str, buyer: str, doc: bytes):
        org = self._org()
        self._role(org, "retailer")
        entry = self._held(item, org)
        entry["status"] = "sold"
        self.items[item] = entry
        self._step(item, org, "Sold", {"buyer": buyer}, doc)

    def item(self, item: str):
        return self.items.get(item, None)

    def history(self, item: str) -> list:
        return [self.steps[item, n] for n in range(self._item(item)["steps"])]

    def has_role(self, org: str, role: str) -> bool:
        return self.roles.get([org, role], False)

    def _admin(self):
        require(caller == self.admin, "not-admin: admin only")

    def _org(self) -> str:
        org = self.orgs.get(caller, None)
        require(org is not None, "not-a-member: unregistered")
        return org

    def _role(self, org: str, role: str):
        require(self.roles.get([org, role], False), "wrong-role: " + org + " lacks role " + role)

    def _item(self, item: str):
        entry = self.items.get(item, None)
        require(entry is not None, "unknown-item: " + item)
        return entry

    def _held(self, item: str, org: str):
        entry = self._item(item)
        require(entry["holder"] == org, "not-holder: " + entry["holder"] + " holds " + item)
        require(entry["status"] == "held", entry["status"] + ": " + item)
        require(not entry["failed"], "failed-inspection: " + item)
        return entry

    def _new(self, item: str, what: str, quantity: int, place: str, org: str, inputs: list):
        require(len(item) > 0 and len(item) <= 64, "bad-argument: item id")
        require(self.items.get(item, None) is None, "duplicate-id: " + item)
        require(quantity > 0, "bad-argument: quantity")
        self.items[item] = {
            "what": what, "quantity": quantity, "place": place, "maker": org, "holder": org,
            "status": "held", "to": None, "failed": False, "inputs": inputs, "into": [],
            "steps": 0,
        }

    def _step(self, item: str, org: str, event: str, details: dict, doc: bytes):
        require(len(doc) == 0 or len(doc) == 32, "bad-argument: hash size")
        entry = self.items[item]
        self.seq += 1
        self.steps[item, entry["steps"]] = {
            "action": event.lower(), "org": org, "by": caller, "height": block_height,
            "details": details, "doc": doc, "seq": self.seq,
        }
        emit(event, item=item, step=entry["steps"], org=org, details=details, doc=doc)
        entry["steps"] += 1
        self.items[item] = entry
'''

#: Every reason tag the contract refuses a step with, and what to do about it.
REFUSALS: dict[str, str] = {
    "not-admin": "only the admin who deployed the contract registers members and grants roles",
    "not-a-member": "the admin must register this member's address first (register)",
    "unknown-organisation": "register a member of that organisation first; you cannot ship to "
    "yourself",
    "wrong-role": "the admin must grant the organisation that role (grant), or ask an "
    "organisation that has it",
    "unknown-item": "check the item id; items exist once their maker creates them",
    "duplicate-id": "item ids are unique forever: choose a new id",
    "duplicate-input": "list each input of a transformation once",
    "not-holder": "only the organisation holding an item may ship, transform or sell it",
    "in-transit": "the item is travelling: its receiver must receive it first",
    "consumed": "the item was already used in a transformation: use another batch",
    "sold": "the item was sold and has left the supply chain",
    "failed-inspection": "the item is quarantined after a failed inspection: an inspector must "
    "pass it again first",
    "not-shipped-to-you": "an item can only be received by the organisation it was shipped to, "
    "while it is in transit",
    "bad-argument": "check the arguments (ids of 1 to 64 characters, quantities > 0, documents "
    "as bytes)",
}
#: Refusals that mean "you may not", not "this cannot be": raised as ``StepForbidden``.
FORBIDDEN = frozenset({"not-admin", "not-a-member", "wrong-role", "not-holder"})

#: Gas for each provenance transaction (unused gas is refunded on a chain). A step uses a few
#: thousand; a transformation of 6 inputs into 4 outputs about 33,000. Pass ``gas=`` for more.
PROVENANCE_GAS = 200_000


class StepRefused(SharingError):
    """The provenance contract refused a step; ``reason`` is one of ``REFUSALS``."""


class StepForbidden(StepRefused, AccessDenied):
    """A refused step that the organisation was not allowed to take (wrong role, not the holder,
    not a member, not the admin): also an ``AccessDenied``."""


def _raise_refusal(error: str, what: str) -> None:
    """Turn a contract's ``"tag: detail"`` revert message into the matching exception."""
    tag, _, detail = error.partition(": ")
    if tag not in REFUSALS:
        raise Revert(f"{what} failed: {error}")
    kind = StepForbidden if tag in FORBIDDEN else StepRefused
    raise kind(tag, f"{what} refused ({detail}): {REFUSALS[tag]}")


def _raise_failed(status: str, error: str, what: str) -> None:
    if status == "reverted":
        _raise_refusal(error, what)
    kind = OutOfGas if status == "out-of-gas" else ContractFault
    raise kind(f"{what} failed: {error}")


# --- what the reads return ------------------------------------------------------------------------


@dataclass(frozen=True)
class Step:
    """One recorded step of an item's trail, as the contract stores it."""

    item: str
    index: int
    """Position in the item's own trail (0 = created or transformed into being)."""
    seq: int
    """Position among every step the contract ever recorded: a total order across items."""
    height: int
    """Block height of the transaction that recorded it."""
    organisation: str
    """The organisation that took the step (the contract maps the sender's address to it)."""
    member: Address
    """The address that signed the step."""
    action: str
    """``created``, ``shipped``, ``received``, ``inspected``, ``consumed``, ``transformed``,
    ``sold``."""
    details: Mapping[str, Any]
    """What the action says: ``to`` and ``carrier`` of a shipment, ``passed`` of an inspection,
    ``inputs`` of a transformation, ``into`` of a consumed input, ..."""
    document: bytes
    """SHA-256 of the step's document (an inspection's certificate), or ``b""`` for none."""
    tx: bytes | None
    """Hash of the transaction that recorded it (on a ``Chain``; None on a ``LocalHost``)."""

    def summary(self) -> str:
        """The details in words, for tables and drawings."""
        d = self.details
        if self.action in ("created", "transformed"):
            made = f"{d.get('quantity')} {d.get('what')}"
            source = d.get("place") if self.action == "created" else ", ".join(d.get("inputs", []))
            return f"{made} from {source}"
        if self.action == "shipped":
            return f"{d.get('from')} → {d.get('to')} by {d.get('carrier')}"
        if self.action == "received":
            return f"from carrier {d.get('carrier')}"
        if self.action == "inspected":
            return "passed" if d.get("passed") else "FAILED"
        if self.action == "consumed":
            return "into " + ", ".join(d.get("into", []))
        if self.action == "sold":
            return f"to {d.get('buyer')}"
        return ", ".join(f"{k}={v}" for k, v in sorted(d.items()))


@dataclass(frozen=True)
class ItemRecord:
    """An item's current state as the contract keeps it."""

    item: str
    what: str
    quantity: int
    place: str
    """Where a raw batch came from (given at creation); for a product, its maker."""
    maker: str
    holder: str
    """Who holds it now (the carrier while it travels)."""
    status: str
    """``held``, ``in-transit``, ``consumed`` or ``sold``."""
    to: str | None
    """Where it is travelling to, while in transit."""
    failed: bool
    """True while quarantined after a failed inspection."""
    inputs: tuple[str, ...]
    """Items it was made from (empty for a raw batch)."""
    into: tuple[str, ...]
    """Items made from it (once consumed)."""
    steps: int


# --- the wrapper ----------------------------------------------------------------------------------

Signer = Member | PrivateKey


def _key(signer: Signer) -> PrivateKey:
    if isinstance(signer, Member):
        return signer.signing_key
    if isinstance(signer, PrivateKey):
        return signer
    raise TypeError(f"sign with a Member (or a PrivateKey), not {type(signer).__name__}")


def _org_name(value: Member | str, what: str) -> str:
    if isinstance(value, Member):
        return value.organisation
    if isinstance(value, str) and value:
        return value
    raise TypeError(f"{what} is an organisation's name (a str) or one of its Members")


def _document_hash(document: bytes | None) -> bytes:
    if document is None:
        return b""
    if not isinstance(document, bytes | bytearray):
        raise TypeError("a document is its bytes (the file's content); the chain keeps its hash")
    return sha256(bytes(document))


class ProvenanceRegistry:
    """The provenance contract driven from Python, on a ``LocalHost`` or a ``Chain``.

    ``ProvenanceRegistry.deploy(backend, admin)`` deploys ``PROVENANCE_SOURCE``; ``admin`` then
    registers members (``register``) and grants their organisations roles. Every write is signed
    by a ``Member``'s signing key: on a ``Chain`` as a transaction handed to ``submit`` (default:
    mined into its own block at once) whose receipt is checked; on a ``LocalHost`` as a call from
    the member's address, in a new block (``block_height + 1``) unless ``advance=False``. Reads
    are free (``Chain.call_view``).

    With a ``membership``, each write is first checked off chain with
    ``Membership.check_sender`` at the height it will be recorded at, so a revoked or expired
    certificate is refused (``InvalidCertificate``) before anything is sent; the contract itself
    only knows the addresses the admin registered (the lead's permissioned chain checks senders
    for every transaction).

    A refused write raises ``StepRefused`` or ``StepForbidden`` with a ``reason`` from
    ``REFUSALS``.
    """

    def __init__(
        self,
        backend: LocalHost | Chain,
        address: Address,
        *,
        membership: Membership | None = None,
        submit: Callable[[Transaction], None] | None = None,
        gas: int = PROVENANCE_GAS,
        advance: bool = True,
    ) -> None:
        self.backend = backend
        self.address = Address(bytes(address))
        self.membership = membership
        self.gas = gas
        self.advance = advance
        self._submit = submit

    @classmethod
    def deploy(
        cls,
        backend: LocalHost | Chain,
        admin: Signer,
        *,
        membership: Membership | None = None,
        submit: Callable[[Transaction], None] | None = None,
        gas: int = PROVENANCE_GAS,
        advance: bool = True,
    ) -> ProvenanceRegistry:
        """Deploy a fresh provenance contract; ``admin`` (who signs the deploy) administers it."""
        key = _key(admin)
        options: dict[str, Any] = {"membership": membership, "gas": gas, "advance": advance}
        if isinstance(backend, LocalHost) and advance:
            backend.block_height += 1
        address, outcome = client.deploy(
            backend, key, PROVENANCE_SOURCE, [], gas=2 * gas, submit=submit
        )
        if not outcome.ok:
            _raise_failed(outcome.status, outcome.error, "deploying the provenance contract")
        return cls(backend, address, submit=submit, **options)

    def __repr__(self) -> str:
        return f"ProvenanceRegistry({self.address.short} on {client.where(self.backend)})"

    # -- administration

    def register(self, admin: Signer, member: Member, roles: Iterable[str] = ()) -> None:
        """Register ``member``'s address under its organisation and grant that organisation
        ``roles`` (roles belong to organisations: every registered member of it may use them)."""
        if not isinstance(member, Member):
            raise TypeError("register takes a Member (from CertificateAuthority.enrol)")
        if isinstance(roles, str):
            raise TypeError("roles is a list of role names, e.g. ['maker']")
        if self.membership is not None:  # the certificate must be valid now
            self.membership.validate(member.certificate, height=self._next_height())
        self._write(admin, "add_member", [member.address, member.organisation])
        for role in roles:
            self.grant(admin, member.organisation, role)

    def grant(self, admin: Signer, organisation: Member | str, role: str) -> None:
        """Let ``organisation`` act as ``role`` (one of ``ROLES``)."""
        self._set_role(admin, organisation, role, on=True)

    def revoke_role(self, admin: Signer, organisation: Member | str, role: str) -> None:
        """Take ``role`` away from ``organisation``: its next step needing it is refused."""
        self._set_role(admin, organisation, role, on=False)

    def _set_role(self, admin: Signer, organisation: Member | str, role: str, *, on: bool) -> None:
        if role not in ROLES:
            raise ValueError(f"no role {role!r}; choose from {', '.join(ROLES)}")
        self._write(admin, "grant", [_org_name(organisation, "organisation"), role, on])

    def remove_member(self, admin: Signer, member: Member | Address) -> None:
        """Unregister a member's address (a person who left): its later steps are refused."""
        address = member.address if isinstance(member, Member) else Address(bytes(member))
        self._write(admin, "remove_member", [address])

    # -- the steps

    def create(
        self,
        maker: Signer,
        item: str,
        *,
        what: str,
        quantity: int,
        place: str,
        document: bytes | None = None,
    ) -> None:
        """``maker`` (role maker) creates a raw batch ``item``: ``quantity`` of ``what`` from
        ``place``; ``document`` (e.g. a harvest record) is kept off chain, its hash on chain."""
        self._check_item(item)
        self._check_quantity(quantity)
        args = [item, what, quantity, place, _document_hash(document)]
        self._write(maker, "create", args)

    def ship(
        self,
        holder: Signer,
        item: str,
        *,
        to: Member | str,
        carrier: Member | str,
        document: bytes | None = None,
    ) -> None:
        """The holder ships ``item`` to organisation ``to``, carried by ``carrier`` (an
        organisation with the carrier role, which holds the item until ``to`` receives it)."""
        to_org, carrier_org = _org_name(to, "to"), _org_name(carrier, "carrier")
        self._write(holder, "ship", [item, to_org, carrier_org, _document_hash(document)])

    def receive(self, receiver: Signer, item: str, *, document: bytes | None = None) -> None:
        """The organisation ``item`` was shipped to takes custody (``document``: delivery note)."""
        self._write(receiver, "receive", [item, _document_hash(document)])

    def inspect(self, inspector: Signer, item: str, *, passed: bool, certificate: bytes) -> None:
        """An inspector records a result; ``certificate`` is the inspection certificate's bytes
        (required: an inspection without evidence is only an opinion). A failed inspection
        quarantines the item until a later one passes."""
        if not isinstance(passed, bool):
            raise TypeError("passed is True or False")
        if certificate is None:
            raise ValueError("an inspection needs its certificate (the document's bytes)")
        self._write(inspector, "inspect", [item, passed, _document_hash(certificate)])

    def transform(
        self,
        maker: Signer,
        inputs: Sequence[str],
        outputs: Mapping[str, tuple[str, int]],
        *,
        document: bytes | None = None,
    ) -> None:
        """``maker`` turns ``inputs`` it holds into new items ``outputs`` (``{id: (what,
        quantity)}``), in one step: every input is consumed, every output records the inputs."""
        if isinstance(inputs, str):
            raise TypeError("inputs is a list of item ids, e.g. ['milk-1', 'milk-2']")
        if not isinstance(outputs, Mapping) or not outputs:
            raise ValueError("outputs maps each new item id to (what, quantity)")
        rows = []
        for out, spec in outputs.items():
            if not (isinstance(spec, tuple | list) and len(spec) == 2):
                raise ValueError(f"output {out!r}: give (what, quantity), e.g. ('gouda', 12)")
            self._check_item(out)
            self._check_quantity(spec[1])
            rows.append([out, spec[0], spec[1]])
        self._write(maker, "transform", [list(inputs), rows, _document_hash(document)])

    def sell(
        self, retailer: Signer, item: str, *, buyer: str, document: bytes | None = None
    ) -> None:
        """A retailer holding ``item`` sells it; ``buyer`` is a reference (a receipt number),
        never a customer's personal data: the chain is read by every member, forever."""
        self._write(retailer, "sell", [item, buyer, _document_hash(document)])

    @staticmethod
    def _check_item(item: object) -> None:
        if not isinstance(item, str) or not 0 < len(item) <= 64:
            raise ValueError(f"an item id is a str of 1 to 64 characters, not {item!r}")

    @staticmethod
    def _check_quantity(quantity: object) -> None:
        if not isinstance(quantity, int) or isinstance(quantity, bool) or quantity <= 0:
            raise ValueError(f"quantity is a whole number > 0 (count units: 1000 l, 12 wheels), "
                             f"not {quantity!r}")  # fmt: skip

    # -- sending

    def _next_height(self) -> int:
        """The block height the next write will be recorded at."""
        if isinstance(self.backend, LocalHost):
            return self.backend.block_height + (1 if self.advance else 0)
        return self.backend.height + 1

    def _write(self, signer: Signer, function: str, args: list[Any]) -> None:
        key = _key(signer)
        what = f"{function}({args[0]!r})" if function not in ("add_member",) else function
        if self.membership is not None:
            self.membership.check_sender(key.public_key, height=self._next_height())
        if isinstance(self.backend, LocalHost) and self.advance:
            self.backend.block_height += 1
        outcome = client.transact(
            self.backend, self.address, key, function, args, gas=self.gas, submit=self._submit
        )
        if not outcome.ok:
            _raise_failed(outcome.status, outcome.error, what)

    # -- reads

    def _view(self, function: str, *args: Any) -> Any:
        try:
            return client.view(self.backend, self.address, function, list(args))
        except Revert as exc:  # "history of 0x…: unknown-item: …" -> the tagged refusal
            _raise_refusal(str(exc).split(" failed: ", 1)[-1], function)
            raise  # pragma: no cover - _raise_refusal always raises

    def item(self, item: str) -> ItemRecord | None:
        """The item's current state, or None if no item has that id."""
        entry = self._view("item", item)
        if entry is None:
            return None
        return ItemRecord(
            item, entry["what"], entry["quantity"], entry["place"], entry["maker"],
            entry["holder"], entry["status"], entry["to"], entry["failed"],
            tuple(entry["inputs"]), tuple(entry["into"]), entry["steps"],
        )  # fmt: skip

    def _require_item(self, item: str) -> ItemRecord:
        record = self.item(item)
        if record is None:
            raise StepRefused("unknown-item", f"no item {item!r}: {REFUSALS['unknown-item']}")
        return record

    def has_role(self, organisation: Member | str, role: str) -> bool:
        """Whether ``organisation`` currently holds ``role``."""
        return bool(self._view("has_role", _org_name(organisation, "organisation"), role))

    def steps(self, item: str) -> list[Step]:
        """Every step of ``item``'s own trail, in order (``StepRefused("unknown-item")``)."""
        rows = self._view("history", item)
        txs = self._transactions()
        return [
            Step(
                item,
                i,
                row["seq"],
                row["height"],
                row["org"],
                Address(bytes(row["by"])),
                row["action"],
                row["details"],
                row["doc"],
                txs.get((item, i)),
            )
            for i, row in enumerate(rows)
        ]

    def _transactions(self) -> dict[tuple[str, int], bytes]:
        """Which transaction recorded each step, from the chain's events (empty on a LocalHost:
        it has no transactions)."""
        if isinstance(self.backend, LocalHost):
            return {}
        found = {}
        for logged in self.backend.events(self.address):
            fields = logged.event.fields
            if "item" in fields and "step" in fields:
                found[(fields["item"], fields["step"])] = logged.tx_hash
        return found

    def trail(self, item: str) -> pd.DataFrame:
        """``item``'s history as a table: step, height, organisation, action, details, tx, then
        the signing member and the document hash."""
        import pandas as pd

        rows = [
            {
                "step": s.index,
                "height": s.height,
                "organisation": s.organisation,
                "action": s.action,
                "details": s.summary(),
                "tx": s.tx.hex()[:12] + "…" if s.tx is not None else "",
                "member": s.member.short,
                "document": s.document.hex()[:12] + "…" if s.document else "",
            }
            for s in self.steps(item)
        ]
        columns = ["step", "height", "organisation", "action", "details", "tx", "member"]
        return pd.DataFrame(rows, columns=[*columns, "document"])

    def origins(self, item: str) -> list[str]:
        """Every raw batch ``item`` was made from, walking the transformations back (sorted); a
        raw batch is its own origin."""
        raw = [
            i for i in self.ancestors(item, include_self=True) if not self._require_item(i).inputs
        ]
        return sorted(raw)

    def ancestors(self, item: str, *, include_self: bool = False) -> list[str]:
        """Every item ``item`` was made from, directly or not (sorted)."""
        return self._walk(item, lambda r: r.inputs, include_self)

    def where_used(self, item: str) -> list[str]:
        """Every item made from ``item``, directly or not (sorted): what to recall when ``item``
        turns out to be contaminated. Intermediate products are listed too: they may still be
        in a warehouse."""
        return self._walk(item, lambda r: r.into, False)

    def _walk(
        self, item: str, edges: Callable[[ItemRecord], tuple[str, ...]], include_self: bool
    ) -> list[str]:
        seen = {item}
        stack = [item]
        while stack:  # depth-first over the DAG; `seen` stops shared ancestors being walked twice
            for nxt in edges(self._require_item(stack.pop())):
                if nxt not in seen:
                    seen.add(nxt)
                    stack.append(nxt)
        if not include_self:
            seen.discard(item)
        return sorted(seen)

    def verify_document(self, item: str, step: int, document: bytes) -> None:
        """Return nothing when ``document`` is the one step ``step`` of ``item`` recorded; raise
        ``TamperedData`` (``"no-document"`` or ``"document-mismatch"``) otherwise."""
        steps = self.steps(item)
        if not isinstance(step, int) or not 0 <= step < len(steps):
            raise ValueError(f"{item!r} has steps 0 to {len(steps) - 1}, not {step!r}")
        recorded = steps[step].document
        if not recorded:
            raise TamperedData(
                "no-document", f"step {step} of {item!r} ({steps[step].action}) recorded no "
                "document, so no document can be vouched for by it",
            )  # fmt: skip
        if _document_hash(document) != recorded:
            raise TamperedData(
                "document-mismatch",
                f"this document hashes to {_document_hash(document).hex()[:12]}…, step {step} of "
                f"{item!r} recorded {recorded.hex()[:12]}…: it is not the document "
                f"{steps[step].organisation} recorded (altered, or another one)",
            )

    def document_matches(self, item: str, step: int, document: bytes) -> bool:
        """The boolean form of ``verify_document``, for notebooks."""
        try:
            self.verify_document(item, step, document)
        except TamperedData:
            return False
        return True


# --- the drawing ----------------------------------------------------------------------------------


def draw_trail(
    registry: ProvenanceRegistry,
    item: str,
    *,
    upstream: bool = True,
    downstream: bool = False,
    ax: Any = None,
) -> Figure:
    """Draw ``item``'s trail (with ``upstream``, every item it was made from; with
    ``downstream``, every item made from it): organisations as columns, steps as dots in time
    order from top to bottom, arrows for custody transfers (shipped → received, labelled with the
    carrier) and for transformations (each consumed input → each output), failed inspections in
    red. Returns the Figure; the layout depends only on the steps, so it is the same every run.

    Artists carry ``gid`` ``"steps"`` (one scatter of all nodes), ``"custody"`` and
    ``"transform"`` (the arrows), so a test can count them.
    """
    import matplotlib.pyplot as plt
    from matplotlib.patches import FancyArrowPatch

    items = {item}
    if upstream:
        items.update(registry.ancestors(item))
    if downstream:
        items.update(registry.where_used(item))
    steps = sorted((s for i in sorted(items) for s in registry.steps(i)), key=lambda s: s.seq)
    lanes: list[str] = []
    for s in steps:  # columns in order of first appearance: deterministic, and reads left to right
        if s.organisation not in lanes:
            lanes.append(s.organisation)
    # Each item gets a small fixed offset inside its organisation's column, so the threads of
    # two batches in one column (and the arrows between them) do not sit on top of each other.
    offset = {name: ((k % 3) - 1) * 0.15 for k, name in enumerate(sorted(items))}
    where = {
        (s.item, s.index): (lanes.index(s.organisation) + offset[s.item], row)
        for row, s in enumerate(steps)
    }

    if ax is None:
        fig, ax = plt.subplots(figsize=(2.6 * max(len(lanes), 2) + 1.5, 0.5 * len(steps) + 1.4))
    else:
        fig = ax.figure
    for x in range(len(lanes)):
        ax.axvspan(x - 0.25, x + 0.25, color="#eeeeee", zorder=0)

    failed = [s.action == "inspected" and not s.details.get("passed") for s in steps]
    ax.scatter(
        [where[(s.item, s.index)][0] for s in steps],
        [where[(s.item, s.index)][1] for s in steps],
        s=[160 if f else 80 for f in failed],
        c=["#d62728" if f else "#1f77b4" for f in failed],
        edgecolors="#333333",
        zorder=3,
        gid="steps",
    )
    for s, bad in zip(steps, failed, strict=True):
        x, y = where[(s.item, s.index)]
        label = f"{s.item}: {s.action}" + (" ✗ " + s.summary() if bad else "")
        ax.annotate(label, (x, y), xytext=(8, 0), textcoords="offset points", va="center",
                    fontsize=8, color="#d62728" if bad else "#222222")  # fmt: skip

    def arrow(
        start: tuple[float, int], end: tuple[float, int], gid: str, colour: str, rad: float
    ) -> None:
        ax.add_patch(
            FancyArrowPatch(
                start, end, arrowstyle="-|>", mutation_scale=12, color=colour, linewidth=1.3,
                connectionstyle=f"arc3,rad={rad}", zorder=2, gid=gid, shrinkA=6, shrinkB=6,
            )
        )  # fmt: skip

    by_item: dict[str, list[Step]] = {}
    for s in steps:
        by_item.setdefault(s.item, []).append(s)
    for trail in by_item.values():
        for before, after in pairwise(trail):
            start, end = where[(before.item, before.index)], where[(after.item, after.index)]
            if before.action == "shipped" and after.action == "received":
                arrow(start, end, "custody", "#2ca02c", 0.0)
                mid = ((start[0] + end[0]) / 2, (start[1] + end[1]) / 2)
                ax.annotate(f"via {before.details.get('carrier')}", mid, fontsize=7,
                            color="#2ca02c", ha="center", va="bottom")  # fmt: skip
            else:  # the same item moving on in time: a plain thread, not a transfer
                ax.plot([start[0], end[0]], [start[1], end[1]], color="#aaaaaa", zorder=1)
    for s in steps:
        if s.action != "consumed":
            continue
        for n, out in enumerate(s.details.get("into", [])):
            made = next((t for t in by_item.get(out, []) if t.action == "transformed"), None)
            if made is not None:
                end = where[(made.item, made.index)]
                arrow(where[(s.item, s.index)], end, "transform", "#9467bd", 0.3 + 0.1 * n)

    ax.set_xticks(range(len(lanes)), lanes)
    ax.xaxis.tick_top()
    ax.set_yticks(range(len(steps)), [f"h{s.height}" for s in steps], fontsize=7)
    ax.set_xlim(-0.5, len(lanes) - 0.2)
    ax.set_ylim(len(steps) - 0.5, -0.8)  # time runs down the page
    ax.set_title(f"Trail of {item}", loc="left", fontsize=10)
    for side in ("right", "bottom", "left"):
        ax.spines[side].set_visible(False)
    return fig
