"""Access policies: who must agree before one organisation may read or change another's data,
written as AND / OR / k-of-n formulas over organisations and enforced by a contract on chain.

A bank asks the tax office for a company's tax record. Nobody at the bank, and no single clerk at
the tax office, should decide alone: the consortium agreed a *policy*, for instance "the tax office
and two of the three banks", and every access follows it. Hyperledger Fabric calls these
*endorsement policies* and writes them ``AND('Tax.member', OutOf(2, 'Bank1.member', ...))``;
this module writes them the same way::

    policy = AND("tax", OutOf(2, "bank1", "bank2", "bank3"))
    policy.satisfied_by({"tax", "bank1", "bank3"})        # True
    str(policy)                                           # "AND('tax', OutOf(2, 'bank1', ...))"

**Principals.** A leaf names an organisation (``"tax"``: any admin or member of it) or an
organisation and a role (``"tax.admin"``, ``"tax.auditor"``). Observers never endorse. An
organisation counts *once* per leaf, however many of its members approve: the policy counts
organisations, not signatures, which is what "two of the three banks" means.

**Gates.** ``AND(a, b, ...)`` needs every part, ``OR(...)`` one, ``OutOf(k, ...)`` any ``k``;
gates nest. All three are one thing, a *k-of-n threshold* (AND is n-of-n, OR is 1-of-n), so the
canonical form stores only ``k`` and the parts: ``OutOf(2, "a", "b")`` *is* ``AND("a", "b")``.

**On chain** (``POLICY_SOURCE``, driven by ``AccessControl``), an access is a small protocol whose
every step is a signed transaction and an event, so the audit trail (``blockkit.sharing.audit``)
is the chain itself:

1. ``request``: a member asks to ``"read"`` or ``"write"`` record *R* of collection *C*, until a
   height (``Requested``);
2. ``approve``: members of the organisations endorse it, once each (``Approved``);
3. ``grant``: once the approvals satisfy the policy, anyone executes the grant (``Granted``);
   before that the contract refuses with ``policy-not-met``;
4. ``record_read`` / ``record_write``: the requester posts a receipt referencing the grant (the
   hash of the record it is given or writes) *before* the data holder releases anything
   (``Read`` / ``Written``), so no release happens without a line on chain;
5. ``refuse``: whoever refuses something off chain (the data holder, the wrapper's own checks)
   logs it with its reason tag (``Refused``).

Why a contract of its own rather than the standard ``MULTISIG``? A flat policy *is* a multisig
(``Policy.as_multisig`` gives the owners and ``k``, and the tests check both agree on every
subset), and this contract keeps the multisig's shape (propose, approve, execute). But the
multisig counts *addresses* in a fixed list, so it cannot say "any member of the bank" or count an
organisation once; it cannot nest (an executed multisig cannot approve in another one); and its
owners never change, so a revoked member's key would keep its vote. ``AccessPolicy`` stores the
policy tree as a list of gates in *post-order* (children before parents) and evaluates it in one
loop, no recursion, with gas proportional to its size; it keeps a member table (address →
organisation, role, certificate) that each organisation's admins maintain; and an approval counts
only if its member had not been removed at the height it approved (removal takes the CRL's
height: ``AccessControl.apply_revocations``). The Python wrapper checks each certificate against a
``Membership`` *before* sending, so a revoked member is refused even before the table catches up;
``blockkit.sharing.audit.check_audit`` re-checks every counted approval against the CA's
revocation list, so a table that was never updated is caught too.

Refusals carry a *reason tag* (the contract's messages start with ``"tag: "``): ``not-a-member``,
``removed``, ``wrong-role``, ``already-approved``, ``already-granted``, ``policy-not-met``,
``expired``, ``no-grant``, ``not-requester``, ``already-written``, ``unknown-request``,
``bad-action``, ``not-admin``. The wrapper raises them as ``AccessDenied(reason)``.

Time is a block height, read by the contract (``block_height``) or passed in; nothing here reads a
clock or draws randomness (there are no keys or nonces to make: members sign with their own keys).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

from blockkit.contracts import client
from blockkit.contracts.local import LocalHost
from blockkit.encoding import decode, encode
from blockkit.errors import AccessDenied, InvalidCertificate, Revert
from blockkit.keys import Address, PrivateKey
from blockkit.sharing.identity import ROLES, Member, MemberCertificate, Membership

if TYPE_CHECKING:
    import pandas as pd

    from blockkit.chain import Chain
    from blockkit.sharing.private import PrivateCollection
    from blockkit.transactions import Transaction

__all__ = [
    "ACTIONS",
    "AND",
    "ENDORSING_ROLES",
    "OR",
    "POLICY_GAS",
    "POLICY_SOURCE",
    "AccessControl",
    "Gate",
    "OutOf",
    "Policy",
    "PolicyEvent",
    "Principal",
    "RequestStatus",
    "parse_policy",
]

#: Roles whose approval a plain organisation principal (``"tax"``) counts.
ENDORSING_ROLES = ("admin", "member")
#: What a request may ask for.
ACTIONS = ("read", "write")
#: Gas for each policy transaction (unused gas is refunded on a chain).
POLICY_GAS = 400_000
#: Blocks a request stays open when no ``expires_at`` is given.
DEFAULT_REQUEST_TTL = 100

_NAME = re.compile(r"^[A-Za-z0-9_-]+$")


# --- the policy formula ----------------------------------------------------------------------


@dataclass(frozen=True)
class Principal:
    """A leaf: an organisation, optionally restricted to one role (``"tax"``, ``"tax.admin"``)."""

    organisation: str
    """The organisation whose approval this leaf needs."""
    role: str = ""
    """A role the approver must have; ``""`` means any of ``ENDORSING_ROLES``."""

    def __post_init__(self) -> None:
        if not isinstance(self.organisation, str) or not _NAME.match(self.organisation):
            raise ValueError(
                f"an organisation in a policy is letters, digits, '_' or '-', not "
                f"{self.organisation!r}"
            )
        if self.role and self.role not in ROLES[:3]:
            raise ValueError(
                f"a principal's role is one of {', '.join(ROLES[:3])} (observers never endorse), "
                f"not {self.role!r}"
            )

    @property
    def k(self) -> int:
        """A leaf is a 1-of-1 gate: handy when walking a tree."""
        return 1

    def to_canonical(self) -> list[Any]:
        """``["p", organisation, role]``."""
        return ["p", self.organisation, self.role]

    def satisfied_by(self, approvers: Iterable[Any]) -> bool:
        """True when one of ``approvers`` (see ``Policy.satisfied_by``) matches this leaf."""
        return any(self._matches(a) for a in _approvers(approvers))

    def _matches(self, approver: tuple[str, str | None]) -> bool:
        org, role = approver
        if org != self.organisation:
            return False
        if self.role:
            return role == self.role
        return role is None or role in ENDORSING_ROLES

    def describe(self, indent: int = 0) -> str:
        """The leaf in words."""
        who = f"an {self.role}" if self.role in ("admin", "auditor") else "a member"
        if not self.role:
            who = "an admin or member"
        return " " * indent + f"{who} of {self.organisation} approves"

    def __str__(self) -> str:
        return repr(f"{self.organisation}.{self.role}" if self.role else self.organisation)


@dataclass(frozen=True)
class Gate:
    """A threshold: at least ``k`` of ``parts`` must be satisfied (AND = n-of-n, OR = 1-of-n)."""

    k: int
    """How many parts must be satisfied."""
    parts: tuple[Policy, ...]
    """The sub-policies (principals or gates), at least two, no two equal."""

    def __post_init__(self) -> None:
        if not isinstance(self.parts, tuple) or len(self.parts) < 2:
            raise ValueError("a gate combines at least two parts (a single part is that part)")
        for part in self.parts:
            if not isinstance(part, (Principal, Gate)):
                raise TypeError(f"a policy part is a Principal or a Gate, not {part!r}")
        if len(set(self.parts)) != len(self.parts):
            raise ValueError(
                f"a part is listed twice in {self}: an organisation counts once, so a duplicate "
                "would never add an approval; list each part once"
            )
        if not isinstance(self.k, int) or isinstance(self.k, bool):
            raise TypeError("k is an int")
        if not 1 <= self.k <= len(self.parts):
            raise ValueError(f"k must be between 1 and {len(self.parts)} (the number of parts)")

    def to_canonical(self) -> list[Any]:
        """``["k", k, [part, ...]]``: the normal form, so AND(a, b) and OutOf(2, a, b) agree."""
        return ["k", self.k, [part.to_canonical() for part in self.parts]]

    def satisfied_by(self, approvers: Iterable[Any]) -> bool:
        """True when at least ``k`` parts are satisfied by ``approvers``."""
        found = _approvers(approvers)
        return sum(part.satisfied_by(found) for part in self.parts) >= self.k

    @property
    def kind(self) -> str:
        """``"AND"`` (n-of-n), ``"OR"`` (1-of-n) or ``"OutOf"`` (anything between)."""
        if self.k == len(self.parts):
            return "AND"
        return "OR" if self.k == 1 else "OutOf"

    def describe(self, indent: int = 0) -> str:
        """The gate in words, one line per part, indented by depth."""
        n = len(self.parts)
        head = {"AND": f"all {n} of", "OR": "at least one of"}.get(self.kind, f"{self.k} of {n}")
        lines = [" " * indent + head + ":"]
        lines += [part.describe(indent + 2) for part in self.parts]
        return "\n".join(lines)

    def __str__(self) -> str:
        inner = ", ".join(str(part) for part in self.parts)
        return f"OutOf({self.k}, {inner})" if self.kind == "OutOf" else f"{self.kind}({inner})"


#: A policy is a principal or a gate over policies.
Policy = Principal | Gate


def _part(value: Any) -> Policy:
    if isinstance(value, (Principal, Gate)):
        return value
    if isinstance(value, str):
        org, _, role = value.partition(".")
        return Principal(org, role)
    raise TypeError(
        f"a policy part is an organisation name ('tax', 'tax.admin') or a policy, not {value!r}"
    )


def OutOf(k: int, *parts: Policy | str) -> Policy:
    """At least ``k`` of ``parts`` (organisation names or policies)."""
    built = tuple(_part(p) for p in parts)
    if len(built) == 1:
        if k != 1:
            raise ValueError("with one part, k must be 1")
        return built[0]
    if not built:
        raise ValueError("a policy needs at least one part")
    return Gate(k, built)


def AND(*parts: Policy | str) -> Policy:
    """Every one of ``parts`` must be satisfied (n-of-n)."""
    return OutOf(len(parts), *parts)


def OR(*parts: Policy | str) -> Policy:
    """At least one of ``parts`` must be satisfied (1-of-n)."""
    return OutOf(1, *parts)


def _approvers(approvers: Iterable[Any]) -> set[tuple[str, str | None]]:
    """Normalise approvers to ``(organisation, role or None)`` pairs."""
    if isinstance(approvers, (str, bytes)):
        raise TypeError("pass a set of approvers, e.g. {'tax', 'bank1'}, not a single str")
    found: set[tuple[str, str | None]] = set()
    for a in approvers:
        if isinstance(a, str):
            org, _, role = a.partition(".")
            found.add((org, role or None))
        elif isinstance(a, (Member, MemberCertificate)):
            found.add((a.organisation, a.role))
        elif isinstance(a, tuple) and len(a) == 2:
            found.add((a[0], a[1]))
        else:
            raise TypeError(
                f"an approver is 'org', 'org.role', (org, role), a Member or a certificate, not "
                f"{a!r}"
            )
    return found


def _from_canonical(value: Any, depth: int = 0) -> Policy:
    if depth > 16:
        raise ValueError("a policy nested deeper than 16 levels is refused")
    if isinstance(value, list) and len(value) == 3 and value[0] == "p":
        return Principal(value[1], value[2])
    if isinstance(value, list) and len(value) == 3 and value[0] == "k":
        if not isinstance(value[2], list):
            raise ValueError("a gate's parts are a list")
        return Gate(value[1], tuple(_from_canonical(v, depth + 1) for v in value[2]))
    raise ValueError(f"not a canonical policy node: {value!r}")


def policy_from_canonical(value: Any) -> Policy:
    """Rebuild a policy from ``to_canonical()`` output; ``ValueError`` if it is not one."""
    return _from_canonical(value)


def encode_policy(policy: Policy) -> bytes:
    """Canonical bytes of a policy (what a contract or a signature would cover)."""
    return encode(policy.to_canonical())


def decode_policy(data: bytes) -> Policy:
    """The policy ``encode_policy`` encoded; ``ValueError`` on anything else."""
    return _from_canonical(decode(data))


def policy_nodes(policy: Policy) -> list[list[Any]]:
    """The policy as a list of nodes in post-order (children first, the root last), each
    ``["p", org, role]`` or ``["k", k, [indices of its parts]]``: what the contract evaluates in
    one loop without recursion."""
    nodes: list[list[Any]] = []

    def visit(node: Policy) -> int:
        if isinstance(node, Principal):
            nodes.append(node.to_canonical())
        else:
            children = [visit(part) for part in node.parts]
            nodes.append(["k", node.k, children])
        return len(nodes) - 1

    visit(policy)
    return nodes


def policy_from_nodes(nodes: list[Any]) -> Policy:
    """Rebuild a policy from ``policy_nodes`` output (e.g. read back from the contract)."""
    built: list[Policy] = []
    for node in nodes:
        if node[0] == "p":
            built.append(Principal(node[1], node[2]))
        else:
            if any(not 0 <= i < len(built) for i in node[2]):
                raise ValueError("a gate may only refer to nodes before it (post-order)")
            built.append(Gate(node[1], tuple(built[i] for i in node[2])))
    if not built:
        raise ValueError("an empty node list is not a policy")
    return built[-1]


def organisations(policy: Policy) -> tuple[str, ...]:
    """Every organisation a policy names, sorted."""
    if isinstance(policy, Principal):
        return (policy.organisation,)
    return tuple(sorted({org for part in policy.parts for org in organisations(part)}))


def as_multisig(policy: Policy, endorsers: Mapping[str, Address]) -> tuple[list[Address], int]:
    """The standard ``MULTISIG`` equivalent of a *flat* policy: (owners, k).

    ``endorsers`` maps each organisation to the one address that endorses for it. AND over n
    organisations is n-of-n, OR is 1-of-n. Nested policies, and principals with a role, have no
    multisig equivalent (``ValueError``): use ``AccessControl``.
    """
    parts = (policy,) if isinstance(policy, Principal) else policy.parts
    if any(not isinstance(p, Principal) or p.role for p in parts):
        raise ValueError(
            f"{policy} is nested or names roles; a single multisig only expresses a flat k-of-n "
            "over organisations (deploy AccessControl instead)"
        )
    missing = [p.organisation for p in parts if p.organisation not in endorsers]  # type: ignore[union-attr]
    if missing:
        raise ValueError(f"name an endorsing address for {', '.join(missing)}")
    owners = [Address(bytes(endorsers[p.organisation])) for p in parts]  # type: ignore[union-attr]
    return owners, policy.k


_TOKEN = re.compile(r"\s*(?:(AND|OR|OutOf)\s*\(|(\d+)|'([^']*)'|\"([^\"]*)\"|(,)|(\)))")


def parse_policy(text: str) -> Policy:
    """Parse Fabric-style text, ``"AND('tax', OutOf(2, 'bank1', 'bank2', 'bank3'))"``.

    A small hand-written parser (never ``eval``): policy text may come from a configuration file
    or another organisation, and evaluating it would run whatever it says.
    """
    if not isinstance(text, str):
        raise TypeError("parse_policy takes a str")
    tokens: list[tuple[str, str]] = []
    pos = 0
    while pos < len(text.rstrip()):
        m = _TOKEN.match(text, pos)
        if not m:
            raise ValueError(f"cannot read the policy at position {pos}: {text[pos : pos + 20]!r}")
        gate, number, single, double, comma, close = m.groups()
        if gate:
            tokens.append(("gate", gate))
        elif number:
            tokens.append(("int", number))
        elif single is not None or double is not None:
            tokens.append(("name", single if single is not None else cast("str", double)))
        elif comma:
            tokens.append((",", ","))
        elif close:
            tokens.append((")", ")"))
        pos = m.end()
    policy, rest = _parse(tokens)
    if rest:
        raise ValueError(f"unexpected text after the policy: {rest[0][1]!r}")
    return policy


def _parse(tokens: list[tuple[str, str]]) -> tuple[Policy, list[tuple[str, str]]]:
    if not tokens:
        raise ValueError("the policy ends too early")
    kind, value = tokens[0]
    if kind == "name":
        return _part(value), tokens[1:]
    if kind != "gate":
        raise ValueError(f"expected a name or AND/OR/OutOf, found {value!r}")
    rest = tokens[1:]
    k = None
    if value == "OutOf":
        if len(rest) < 2 or rest[0][0] != "int" or rest[1][0] != ",":
            raise ValueError("OutOf starts with a number and a comma: OutOf(2, 'a', 'b')")
        k, rest = int(rest[0][1]), rest[2:]
    parts: list[Policy] = []
    while True:
        part, rest = _parse(rest)
        parts.append(part)
        if rest and rest[0][0] == ",":
            rest = rest[1:]
            continue
        if rest and rest[0][0] == ")":
            rest = rest[1:]
            break
        raise ValueError(f"expected ',' or ')' in {value}(...)")
    if value == "AND":
        return AND(*parts), rest
    if value == "OR":
        return OR(*parts), rest
    return OutOf(cast("int", k), *parts), rest


# --- the contract -----------------------------------------------------------------------------

POLICY_SOURCE = '''
class AccessPolicy:
    """Requests, approvals and grants under an endorsement policy. See blockkit.sharing.policy."""

    def __init__(self, name: str, text: str, nodes: list, members: list):
        require(len(nodes) > 0, "bad-policy: pass policy_nodes(policy)")
        self.title = name
        self.text = text
        self.nodes = nodes
        self.members = {}
        for m in members:
            self._enrol(m[0], m[1], m[2], m[3])
        self.requests = {}
        self.next_id = 0

    def enrol(self, who: bytes, org: str, role: str, cert: str) -> bool:
        self._admin_of(org)
        self._enrol(who, org, role, cert)
        emit("Enrolled", height=block_height, time=timestamp, member=who, organisation=org,
             role=role, cert=cert, by=caller)
        return True

    def remove(self, who: bytes, at: int, reason: str) -> bool:
        m = self.members.get(who, None)
        require(m is not None, "not-a-member: that address was never enrolled")
        self._admin_of(m["org"])
        require(m["removed_at"] is None, "removed: already removed at " + str(m["removed_at"]))
        m["removed_at"] = at
        self.members[who] = m
        emit("Removed", height=block_height, time=timestamp, member=who, organisation=m["org"],
             role=m["role"], at=at, reason=reason, by=caller)
        return True

    def request(self, action: str, collection: str, record: str, expires_at: int) -> int:
        m = self._active(caller)
        require(action == "read" or action == "write", "bad-action: action is read or write")
        require(len(collection) > 0 and len(record) > 0, "bad-action: name collection and record")
        require(expires_at > block_height, "expired: expires_at must be after the current height")
        rid = self.next_id
        self.next_id = rid + 1
        self.requests[rid] = {"action": action, "collection": collection, "record": record,
                              "requester": caller, "organisation": m["org"], "role": m["role"],
                              "requested_at": block_height, "expires_at": expires_at,
                              "approvals": [], "granted_at": None, "written": False}
        emit("Requested", id=rid, height=block_height, time=timestamp, member=caller,
             organisation=m["org"], role=m["role"], action=action, collection=collection,
             record=record, expires_at=expires_at)
        return rid

    def approve(self, rid: int) -> bool:
        req = self._open(rid)
        m = self._active(caller)
        require(m["role"] != "observer", "wrong-role: observers cannot approve")
        for a in req["approvals"]:
            require(a[0] != caller, "already-approved: you already approved request " + str(rid))
        req["approvals"].append([caller, m["org"], m["role"], block_height])
        self.requests[rid] = req
        ok = self._satisfied(req["approvals"])
        emit("Approved", id=rid, height=block_height, time=timestamp, member=caller,
             organisation=m["org"], role=m["role"], satisfied=ok)
        return ok

    def grant(self, rid: int) -> bool:
        req = self._open(rid)
        self._active(caller)
        orgs = []
        for a in req["approvals"]:
            orgs.append(a[1])
        require(self._satisfied(req["approvals"]), "policy-not-met: request " + str(rid)
                + " needs " + self.text + "; approved by: " + ", ".join(orgs))
        req["granted_at"] = block_height
        self.requests[rid] = req
        emit("Granted", id=rid, height=block_height, time=timestamp, member=req["requester"],
             organisation=req["organisation"], role=req["role"], action=req["action"],
             collection=req["collection"], record=req["record"], by=caller)
        return True

    def record_read(self, rid: int, digest: bytes) -> bool:
        req = self._granted(rid, "read")
        self._log(rid, req, "Read", digest)
        return True

    def record_write(self, rid: int, digest: bytes) -> bool:
        req = self._granted(rid, "write")
        require(not req["written"], "already-written: a write grant allows one write")
        req["written"] = True
        self.requests[rid] = req
        self._log(rid, req, "Written", digest)
        return True

    def refuse(self, who: bytes, action: str, rid: int, collection: str, record: str,
               reason: str, org: str, role: str) -> bool:
        self._active(caller)
        emit("Refused", id=rid, height=block_height, time=timestamp, member=who,
             organisation=org, role=role, action=action, collection=collection, record=record,
             reason=reason, by=caller)
        return True

    def status(self, rid: int) -> dict:
        req = self._request(rid)
        req["satisfied"] = self._satisfied(req["approvals"])
        return req

    def member(self, who: bytes):
        return self.members.get(who, None)

    def policy(self) -> list:
        return [self.title, self.text, self.nodes]

    def _enrol(self, who, org, role, cert):
        require(isinstance(who, bytes) and len(who) == 20, "bad-action: a member is an address")
        require(self.members.get(who, None) is None, "already-enrolled: address enrolled")
        self.members[who] = {"org": org, "role": role, "cert": cert, "removed_at": None}

    def _admin_of(self, org):
        m = self._active(caller)
        require(m["org"] == org and m["role"] == "admin", "not-admin: only an admin of " + org)

    def _active(self, who):
        m = self.members.get(who, None)
        require(m is not None, "not-a-member: " + str(who) + " is not enrolled in this policy")
        gone = m["removed_at"]
        require(gone is None or block_height < gone, "removed: member removed at " + str(gone))
        return m

    def _request(self, rid):
        req = self.requests.get(rid, None)
        require(req is not None, "unknown-request: there is no request " + str(rid))
        return req

    def _open(self, rid):
        req = self._request(rid)
        require(req["granted_at"] is None, "already-granted: request " + str(rid) + " is closed")
        require(block_height < req["expires_at"], "expired: request " + str(rid) + " expired")
        return req

    def _granted(self, rid, action):
        req = self._request(rid)
        require(req["granted_at"] is not None, "no-grant: request " + str(rid) + " not granted")
        require(req["action"] == action, "no-grant: request " + str(rid) + " is not " + action)
        require(caller == req["requester"], "not-requester: only the requester may use it")
        require(block_height < req["expires_at"], "expired: grant " + str(rid) + " expired")
        self._active(caller)
        return req

    def _log(self, rid, req, event, digest):
        emit(event, id=rid, height=block_height, time=timestamp, member=caller,
             organisation=req["organisation"], role=req["role"], collection=req["collection"],
             record=req["record"], digest=digest)

    def _satisfied(self, approvals) -> bool:
        values = []
        for node in self.nodes:
            if node[0] == "p":
                hit = False
                for a in approvals:
                    gone = self.members.get(a[0], None)["removed_at"]
                    counted = gone is None or a[3] < gone
                    if node[2] == "":
                        fits = a[2] == "admin" or a[2] == "member"
                    else:
                        fits = a[2] == node[2]
                    if counted and fits and a[1] == node[1]:
                        hit = True
                values.append(hit)
            else:
                n = 0
                for i in node[2]:
                    if values[i]:
                        n += 1
                values.append(n >= node[1])
        return values[len(values) - 1]
'''


# --- Python side ------------------------------------------------------------------------------


@dataclass(frozen=True)
class RequestStatus:
    """What the contract says about one access request."""

    request_id: int
    action: str
    collection: str
    record: str
    requester: Address
    organisation: str
    requested_at: int
    expires_at: int
    approvals: tuple[tuple[Address, str, str, int], ...]
    """(address, organisation, role, height) of each approval, in order."""
    granted_at: int | None
    satisfied: bool
    """Whether the approvals counted by the contract satisfy the policy now."""

    @property
    def granted(self) -> bool:
        """True once the grant was executed."""
        return self.granted_at is not None


@dataclass(frozen=True)
class PolicyEvent:
    """An event of a policy contract, where it happened (same shape on LocalHost and Chain)."""

    name: str
    fields: dict[str, Any]
    height: int
    tx: bytes | None
    """The transaction's hash on a Chain; None on a LocalHost (no transactions there)."""


_REASON = re.compile(r"^([a-z][a-z-]*): ")


def _reason(error: str) -> tuple[str, str]:
    m = _REASON.match(error)
    return (m.group(1), error[m.end() :]) if m else ("refused", error)


class AccessControl:
    """An ``AccessPolicy`` contract driven from Python, on a ``LocalHost`` or a real ``Chain``.

    Members act with their own keys (on a Chain each call is a transaction signed by the member's
    signing key; ``call_view`` reads for free). Before sending, each action's certificate is
    checked with ``membership`` at the height the transaction will run; any refusal, from that
    check or from the contract, is raised (``InvalidCertificate`` or ``AccessDenied`` with the
    reason tag) *and* logged on chain by the ``gatekeeper`` (the data holder's member that runs
    this wrapper) as a ``Refused`` event, so the audit trail shows it.
    """

    def __init__(
        self,
        backend: LocalHost | Chain,
        address: Address,
        membership: Membership,
        gatekeeper: Member,
        *,
        submit: Callable[[Transaction], None] | None = None,
        gas: int = POLICY_GAS,
    ) -> None:
        if not isinstance(membership, Membership):
            raise TypeError("membership is a blockkit.sharing.identity.Membership")
        if not isinstance(gatekeeper, Member):
            raise TypeError("gatekeeper is the Member who logs refusals (the data holder)")
        self.backend = backend
        self.address = Address(bytes(address))
        self.membership = membership
        self.gatekeeper = gatekeeper
        self.gas = gas
        self._submit = submit
        title, _text, nodes = self._view("policy", [])
        self.name: str = title
        self.policy: Policy = policy_from_nodes(nodes)
        """The policy as the contract stores it (read back from chain, not trusted from Python)."""

    @classmethod
    def deploy(
        cls,
        backend: LocalHost | Chain,
        policy: Policy | str,
        membership: Membership,
        members: Iterable[Member | MemberCertificate],
        *,
        gatekeeper: Member,
        name: str = "access",
        deployer: PrivateKey | None = None,
        submit: Callable[[Transaction], None] | None = None,
        gas: int = POLICY_GAS,
    ) -> AccessControl:
        """Deploy ``POLICY_SOURCE`` for ``policy`` with the ``members`` enrolled.

        Every member's certificate must be valid in ``membership`` now (``InvalidCertificate``
        otherwise). ``deployer`` (default: the gatekeeper's key) has no rights in the contract.
        """
        if isinstance(policy, str):
            policy = parse_policy(policy)
        if not isinstance(policy, (Principal, Gate)):
            raise TypeError("policy is a Principal, a Gate (AND/OR/OutOf) or policy text")
        key = deployer if deployer is not None else gatekeeper.signing_key
        height = _next_height(backend)
        table = []
        for m in members:
            cert = m.certificate if isinstance(m, Member) else m
            membership.validate(cert, height=height)
            table.append([cert.address, cert.organisation, cert.role, cert.cert_id])
        args = [name, str(policy), policy_nodes(policy), table]
        address, outcome = client.deploy(
            backend, key, POLICY_SOURCE, args, gas=gas * 4, submit=submit
        )
        if not outcome.ok:
            what = "deploying the access policy"
            raise client.contract_error(outcome.status, outcome.error, what)
        return cls(backend, address, membership, gatekeeper, submit=submit, gas=gas)

    def __repr__(self) -> str:
        where = client.where(self.backend)
        return f"AccessControl({self.name!r}, {self.policy}, {self.address.short} on {where})"

    @property
    def height(self) -> int:
        """The height at which the next transaction runs (what certificates are checked at)."""
        return _next_height(self.backend)

    # -- the protocol

    def request(
        self,
        member: Member,
        action: str,
        collection: str,
        record: str,
        *,
        expires_at: int | None = None,
    ) -> int:
        """``member`` asks to ``action`` (``"read"``/``"write"``) ``record`` of ``collection``;
        returns the request id. Open until ``expires_at`` (default: ``DEFAULT_REQUEST_TTL``
        blocks from now)."""
        if action not in ACTIONS:
            raise ValueError(f"action is one of {', '.join(ACTIONS)}, not {action!r}")
        expires = self.height + DEFAULT_REQUEST_TTL if expires_at is None else expires_at
        context = {"action": "request", "collection": collection, "record": record}
        return cast(
            "int",
            self._act(member, "request", [action, collection, record, expires], context),
        )

    def approve(self, member: Member, request_id: int) -> bool:
        """``member`` endorses the request; returns whether the policy is now satisfied.

        Refused: a certificate that is revoked, expired or unknown (``InvalidCertificate``), an
        observer, a member not enrolled, a second approval by the same member, a closed or
        expired request (``AccessDenied``)."""
        context = self._context("approve", request_id)
        return cast(
            "bool",
            self._act(
                member, "approve", [request_id], context, roles=(*ENDORSING_ROLES, "auditor")
            ),
        )

    def grant(self, member: Member, request_id: int) -> None:
        """Execute the grant once the policy is met (``AccessDenied("policy-not-met")`` before)."""
        self._act(member, "grant", [request_id], self._context("grant", request_id))

    def read(
        self,
        reader: Member,
        request_id: int | None,
        collection: PrivateCollection,
        record: str,
        *,
        holder: Member,
    ) -> bytes:
        """Release ``record`` of ``collection`` to ``reader`` under grant ``request_id``.

        The reader first posts its receipt (``record_read``, with the record's on-chain hash);
        only when that transaction succeeds does ``holder`` (a member of the collection) open the
        record and hand the plaintext over. Without a grant (``request_id`` None, or a grant for
        another reader, record or action) the holder refuses: ``AccessDenied("no-grant")``, logged.
        """
        context = {"action": "read", "collection": collection.name, "record": record}
        if request_id is None:
            error = AccessDenied(
                "no-grant",
                f"{reader.name} ({reader.organisation}) asked for {record!r} of "
                f"{collection.name} without a grant: request access first (request, approvals, "
                "grant)",
            )
            self._log_refusal(reader, {**context, "id": -1}, error)
            raise error
        context["id"] = request_id
        status = self.status(request_id)
        if status.collection != collection.name or status.record != record:
            error = AccessDenied(
                "no-grant",
                f"request {request_id} is for {status.record!r} of {status.collection}, not "
                f"{record!r} of {collection.name}",
            )
            self._log_refusal(reader, context, error)
            raise error
        digest = collection.hashes.get(record, b"")
        self._act(reader, "record_read", [request_id, digest], context)
        # The receipt is on chain: now, and only now, the holder opens the record.
        return collection.read(record, holder, _last_height(self.backend))

    def write(
        self,
        writer: Member,
        request_id: int,
        collection: PrivateCollection,
        record: str,
        data: bytes,
    ) -> bytes:
        """Write ``record`` into ``collection`` under write grant ``request_id``; returns the hash
        posted on chain (``record_write``). The grant is checked on chain first (a view), then
        the record is sealed, then its hash is posted by the writer."""
        context = {"action": "write", "collection": collection.name, "record": record}
        context["id"] = request_id
        status = self.status(request_id)
        if (
            not status.granted
            or status.action != "write"
            or status.collection != collection.name
            or status.record != record
            or status.requester != writer.address
        ):
            error = AccessDenied(
                "no-grant",
                f"request {request_id} is not a granted write of {record!r} in "
                f"{collection.name} by {writer.name}: request, get approvals, grant, then write",
            )
            self._log_refusal(writer, context, error)
            raise error
        digest = collection.put(record, data, writer, self.height)
        self._act(writer, "record_write", [request_id, digest], context)
        return digest

    def refuse(
        self,
        subject: Member | MemberCertificate,
        error: AccessDenied | InvalidCertificate,
        *,
        action: str,
        request_id: int = -1,
        collection: str = "",
        record: str = "",
    ) -> None:
        """Log on chain that ``subject`` was refused ``action`` with ``error.reason`` (for
        refusals decided outside this wrapper, e.g. by a ``PrivateCollection``)."""
        context = {"action": action, "id": request_id, "collection": collection, "record": record}
        self._log_refusal(subject, context, error)

    # -- membership of the contract

    def enrol(self, admin: Member, cert: MemberCertificate) -> None:
        """An admin of ``cert``'s organisation enrols a new member (certificate checked first)."""
        self.membership.validate(cert, height=self.height)
        self._act(
            admin, "enrol", [cert.address, cert.organisation, cert.role, cert.cert_id],
            {"action": "enrol"}, roles=("admin",),
        )  # fmt: skip

    def remove(self, admin: Member, cert: MemberCertificate, *, at: int, reason: str) -> None:
        """An admin of the member's organisation removes it: approvals it makes at height ``at``
        or later stop counting."""
        self._act(
            admin, "remove", [cert.address, at, reason], {"action": "remove"}, roles=("admin",)
        )

    def apply_revocations(self, admin: Member) -> list[MemberCertificate]:
        """Bring the contract's member table in line with ``admin``'s organisation's latest
        revocation list: every enrolled, revoked certificate is removed from the height its
        revocation names. Returns the certificates removed."""
        crl = self.membership.crl(admin.organisation)
        removed = []
        for entry in crl.entries if crl is not None else ():
            for cert in self.membership.lookup(entry.key_address):
                if cert.organisation != admin.organisation or cert.serial != entry.serial:
                    continue
                row = self._view("member", [cert.address])
                if row is not None and row["removed_at"] is None:
                    self.remove(admin, cert, at=entry.height, reason=entry.reason)
                    removed.append(cert)
        return removed

    # -- reads

    def status(self, request_id: int) -> RequestStatus:
        """The contract's view of a request (``AccessDenied("unknown-request")`` if none)."""
        try:
            s = self._view("status", [request_id])
        except Revert as exc:
            reason, message = _reason(str(exc).split("failed: ", 1)[-1])
            raise AccessDenied(reason, message) from exc
        return RequestStatus(
            request_id, s["action"], s["collection"], s["record"], Address(s["requester"]),
            s["organisation"], s["requested_at"], s["expires_at"],
            tuple((Address(a), o, r, h) for a, o, r, h in s["approvals"]), s["granted_at"],
            s["satisfied"],
        )  # fmt: skip

    def events(self) -> list[PolicyEvent]:
        """Every event of this contract, oldest first, with height and transaction."""
        if isinstance(self.backend, LocalHost):
            return [
                PolicyEvent(e.name, dict(e.fields), e.fields.get("height", 0), None)
                for e in self.backend.events
                if e.contract == self.address
            ]
        return [
            PolicyEvent(e.name, dict(e.fields), e.height, e.tx_hash)
            for e in self.backend.events(self.address)
        ]

    def audit_df(self) -> pd.DataFrame:
        """The audit trail of this contract (``blockkit.sharing.audit.audit_df``)."""
        from blockkit.sharing.audit import audit_df

        return audit_df(self)

    # -- plumbing

    def _context(self, action: str, request_id: int) -> dict[str, Any]:
        context: dict[str, Any] = {"action": action, "id": request_id}
        try:
            status = self.status(request_id)
        except AccessDenied:
            return context
        return {**context, "collection": status.collection, "record": status.record}

    def _act(
        self,
        member: Member,
        function: str,
        args: list[Any],
        context: dict[str, Any],
        *,
        roles: tuple[str, ...] | None = None,
    ) -> Any:
        if not isinstance(member, Member):
            raise TypeError(f"{function} takes a Member (its certificate and keys)")
        try:
            self.membership.validate(member.certificate, height=self.height, roles=roles)
        except InvalidCertificate as exc:
            self._log_refusal(member, context, exc)
            raise
        try:
            return self._transact(member.signing_key, function, args)
        except AccessDenied as exc:
            self._log_refusal(member, context, exc)
            raise

    def _log_refusal(
        self,
        subject: Member | MemberCertificate,
        context: Mapping[str, Any],
        error: AccessDenied | InvalidCertificate,
    ) -> None:
        cert = subject.certificate if isinstance(subject, Member) else subject
        args = [
            cert.address, context.get("action", ""), context.get("id", -1),
            context.get("collection", ""), context.get("record", ""), error.reason,
            cert.organisation, cert.role,
        ]  # fmt: skip
        self._transact(self.gatekeeper.signing_key, "refuse", args)

    def _transact(self, key: PrivateKey, function: str, args: list[Any]) -> Any:
        outcome = client.transact(
            self.backend, self.address, key, function, args, gas=self.gas, submit=self._submit
        )
        if outcome.status == "reverted":
            reason, message = _reason(outcome.error)
            raise AccessDenied(reason, message)
        if not outcome.ok:
            what = f"{function} on access policy {self.address.short}"
            raise client.contract_error(outcome.status, outcome.error, what)
        return outcome.value

    def _view(self, function: str, args: list[Any]) -> Any:
        return client.view(self.backend, self.address, function, args)


def _next_height(backend: LocalHost | Chain) -> int:
    if isinstance(backend, LocalHost):
        return backend.block_height
    return backend.height + 1


def _last_height(backend: LocalHost | Chain) -> int:
    if isinstance(backend, LocalHost):
        return backend.block_height
    return backend.height
