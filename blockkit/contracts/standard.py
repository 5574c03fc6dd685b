"""The standard contracts: a token, a certificate NFT, a name registry and a k-of-n multisig.

Each contract is kept here as its source text, in the contract language that
``blockkit.contracts`` teaches, so a lesson can print it, deploy it, read it line by line in a
trace and change it. They are the patterns every permissioned chain ends up needing:

=================  ================================================================================
``TOKEN``          a fungible token (points, vouchers, a settlement coin): balances, transfers,
                   allowances; ERC-20's rules, with every rule a ``require`` and a message
``CERTIFICATE``    a certificate NFT (a diploma, a licence plate): issuers mint, owners transfer,
                   issuers revoke, and anyone reads the full history of a certificate
``REGISTRY``       a name or document registry: first come, first served; the owner updates the
                   document's hash or hands the name over
``MULTISIG``       k-of-n approval of proposals (an action and a payload): the building block of
                   access policies (AND = n-of-n, OR = 1-of-n, or any k-of-n endorsements)
=================  ================================================================================

Each source opens with a one-line docstring; the full documentation of a contract (what it is
for, its functions, its events, who may do what) is ``describe(name)`` (the ``*_DOC`` constants).
It lives beside the source rather than in it because a deploy carries the whole source as
transaction data and pays gas for every byte: every source stays under ``MAX_STANDARD_SOURCE``
characters, so it deploys on every preset (the simulator's ``NETWORK`` chain takes 4,096 bytes of
data per transaction, a classroom chain 16,384). ``STANDARD`` maps a name to a source and
``source(name)`` fetches one::

    from blockkit.contracts import LocalHost
    from blockkit.contracts.standard import source

    host = LocalHost()
    alice, bob = host.account("alice"), host.account("bob")
    token, _ = host.deploy(source("token"), "Campus Coin", "CC", 1_000, sender=alice)
    host.transact(alice, token, "transfer", bob, 250)
    host.transact(alice, token, "balance_of", bob).return_value      # 250

Conventions shared by the four contracts:

- Addresses are 20-byte ``bytes``; every address argument is checked (``require``), so a typo
  reverts instead of sending tokens to nowhere.
- Every refusal is a ``require(condition, message)`` whose message says what to do instead; a
  refused call changes nothing (its storage writes and events are undone) but still pays gas.
- State changes come before any coin transfer (*checks, effects, interactions*).
- Views (``balance_of``, ``record``, ``lookup``, ``status``…) change nothing: read them for free
  with ``Chain.call_view`` or pay for them inside a transaction.
"""

from __future__ import annotations

from blockkit.errors import BlockkitError

__all__ = [
    "CERTIFICATE",
    "CERTIFICATE_DOC",
    "DOCS",
    "MAX_STANDARD_SOURCE",
    "MULTISIG",
    "MULTISIG_DOC",
    "REGISTRY",
    "REGISTRY_DOC",
    "STANDARD",
    "TOKEN",
    "TOKEN_DOC",
    "UnknownStandardContract",
    "describe",
    "source",
]

TOKEN = '''
class Token:
    """A fungible token with ERC-20's rules: holders send their own tokens; an approved
    spender moves another's, within its allowance. See blockkit.contracts.standard."""

    def __init__(self, name: str, symbol: str, supply: int):
        require(len(name) > 0 and len(symbol) > 0, "give the token a name and a symbol")
        require(supply >= 0, "the supply cannot be negative: pass an int >= 0")
        self.token_name = name
        self.token_symbol = symbol
        self.supply = supply
        self.balances = {}
        self.allowances = {}
        self.balances[caller] = supply
        emit("Transfer", sender=None, to=caller, amount=supply)

    def transfer(self, to: bytes, amount: int) -> bool:
        self._move(caller, to, amount)
        return True

    def approve(self, spender: bytes, amount: int) -> bool:
        require(len(spender) == 20, "the spender must be a 20-byte address")
        require(amount >= 0, "an allowance cannot be negative: pass 0 to withdraw it")
        self.allowances[caller, spender] = amount
        emit("Approval", owner=caller, spender=spender, amount=amount)
        return True

    def transfer_from(self, owner: bytes, to: bytes, amount: int) -> bool:
        require(len(owner) == 20, "the owner must be a 20-byte address")
        allowed = self.allowances.get([owner, caller], 0)
        require(
            amount <= allowed,
            "allowance exceeded: you may move " + str(allowed) + " of the owner's tokens; "
            + "ask the owner to approve more",
        )
        self._move(owner, to, amount)
        self.allowances[owner, caller] = allowed - amount
        return True

    def balance_of(self, who: bytes) -> int:
        return self.balances.get(who, 0)

    def allowance(self, owner: bytes, spender: bytes) -> int:
        return self.allowances.get([owner, spender], 0)

    def total_supply(self) -> int:
        return self.supply

    def name(self) -> str:
        return self.token_name

    def symbol(self) -> str:
        return self.token_symbol

    def _move(self, source, to, amount):
        require(len(to) == 20, "the recipient must be a 20-byte address")
        require(amount >= 0, "the amount cannot be negative: send a whole number >= 0")
        held = self.balances.get(source, 0)
        require(
            held >= amount,
            "insufficient balance: " + str(source) + " holds " + str(held)
            + ", cannot send " + str(amount),
        )
        self.balances[source] = held - amount
        self.balances[to] = self.balances.get(to, 0) + amount
        emit("Transfer", sender=source, to=to, amount=amount)
'''

TOKEN_DOC = """**Token** — a fungible token: interchangeable units such as loyalty points, vouchers
or a settlement coin, with ERC-20's rules.

Constructor ``Token(name: str, symbol: str, supply: int)``: the deployer receives the whole
supply; nothing mints or burns afterwards, so ``total_supply()`` never changes.

Functions:

- ``transfer(to, amount) -> True``: the caller sends ``amount`` of its own tokens.
- ``approve(spender, amount) -> True``: the caller lets ``spender`` move up to ``amount`` of its
  tokens; a new approval replaces the old one, 0 withdraws it.
- ``transfer_from(owner, to, amount) -> True``: the caller moves ``owner``'s tokens and its
  allowance shrinks by ``amount``.
- views: ``balance_of(who)``, ``allowance(owner, spender)``, ``total_supply()``, ``name()``,
  ``symbol()``.

Events: ``Transfer(sender, to, amount)`` (``sender`` is None for the initial supply) and
``Approval(owner, spender, amount)``.

Who may do what: anyone holds tokens and sends their own; only an approved spender moves someone
else's, never more than approved. Refused: negative amounts, overdrafts ("insufficient
balance"), spending beyond the allowance ("allowance exceeded"), addresses that are not 20
bytes. Storage: ``balances[who]`` and ``allowances[owner, spender]`` are mappings (one slot per
entry), so a transfer costs the same however many holders there are.
"""

CERTIFICATE = '''
class Certificate:
    """A certificate NFT (a diploma, a licence plate). See blockkit.contracts.standard."""

    def __init__(self, title: str, issuers: list):
        require(len(title) > 0, "give the collection a title, e.g. 'Diplomas of ...'")
        self.collection = title
        self.issuer_set = {}
        members = [caller]
        for who in issuers:
            require(
                isinstance(who, bytes) and len(who) == 20,
                "each issuer must be a 20-byte address",
            )
            if who not in members:
                members.append(who)
        for who in members:
            self.issuer_set[who] = True
        self.issuer_list = members
        self.certificates = {}

    def mint(self, token_id, owner: bytes, metadata: dict) -> bool:
        self._only_issuer("mint")
        require(
            (isinstance(token_id, str) and len(token_id) > 0) or isinstance(token_id, int),
            "token_id must be a non-empty str or an int",
        )
        require(
            token_id not in self.certificates,
            "certificate " + str(token_id) + " already exists",
        )
        require(len(owner) == 20, "the owner must be a 20-byte address")
        self.certificates[token_id] = {
            "owner": owner,
            "issuer": caller,
            "metadata": metadata,
            "revoked": False,
            "reason": None,
            "history": [self._entry("mint", owner)],
        }
        emit("Minted", token_id=token_id, issuer=caller, owner=owner)
        return True

    def transfer(self, token_id, to: bytes) -> bool:
        cert = self.record(token_id)
        require(
            not cert["revoked"],
            "certificate " + str(token_id) + " is revoked and cannot be transferred",
        )
        require(
            caller == cert["owner"],
            "only the owner of certificate " + str(token_id) + " may transfer it",
        )
        require(len(to) == 20, "the new owner must be a 20-byte address")
        require(to != cert["owner"], "the certificate already belongs to that address")
        cert["owner"] = to
        cert["history"].append(self._entry("transfer", to))
        self.certificates[token_id] = cert
        emit("Transferred", token_id=token_id, sender=caller, to=to)
        return True

    def revoke(self, token_id, reason: str) -> bool:
        cert = self.record(token_id)
        self._only_issuer("revoke")
        require(len(reason) > 0, "say why the certificate is revoked (reason)")
        require(not cert["revoked"], "certificate " + str(token_id) + " is already revoked")
        cert["revoked"] = True
        cert["reason"] = reason
        cert["history"].append(self._entry("revoke", None))
        self.certificates[token_id] = cert
        emit("Revoked", token_id=token_id, issuer=caller, reason=reason)
        return True

    def record(self, token_id) -> dict:
        cert = self.certificates.get(token_id, None)
        require(
            cert is not None,
            "there is no certificate " + str(token_id) + ": check the token_id",
        )
        return cert

    def owner_of(self, token_id) -> bytes:
        return self.record(token_id)["owner"]

    def is_valid(self, token_id) -> bool:
        cert = self.certificates.get(token_id, None)
        return cert is not None and not cert["revoked"]

    def is_issuer(self, who: bytes) -> bool:
        return self.issuer_set.get(who, False)

    def issuers(self) -> list:
        return self.issuer_list

    def title(self) -> str:
        return self.collection

    def _only_issuer(self, what):
        require(
            self.issuer_set.get(caller, False),
            "only an issuer may " + what + ": ask one of issuers()",
        )

    def _entry(self, action, to):
        return {"action": action, "by": caller, "to": to, "height": block_height}
'''

CERTIFICATE_DOC = """**Certificate** — a certificate NFT: one unique, non-interchangeable record per
``token_id``, such as a diploma or a licence plate, whose whole life is on chain.

Constructor ``Certificate(title: str, issuers: list)``: ``title`` names the collection
("Diplomas of ..."); the deployer is always an issuer and ``issuers`` adds more (it may be
empty; repeats are ignored). The set of issuers is fixed at deployment.

Functions:

- ``mint(token_id, owner, metadata: dict) -> True``: an issuer creates certificate
  ``token_id`` (a non-empty str or an int, never reused) for ``owner``, with free-form
  metadata (degree, grade, plate number, ...).
- ``transfer(token_id, to) -> True``: the owner hands the certificate on.
- ``revoke(token_id, reason) -> True``: an issuer withdraws it for good, saying why.
- ``record(token_id) -> dict``: ``owner``, ``issuer``, ``metadata``, ``revoked``, ``reason``
  (None unless revoked) and ``history``, a list of ``{action, by, to, height}`` (``action`` is
  ``"mint"``, ``"transfer"`` or ``"revoke"``; ``height`` the block it happened in).
- views: ``owner_of(token_id)``, ``is_valid(token_id)`` (exists and not revoked; False for an
  unknown id), ``is_issuer(who)``, ``issuers()``, ``title()``.

Events: ``Minted(token_id, issuer, owner)``, ``Transferred(token_id, sender, to)``,
``Revoked(token_id, issuer, reason)``.

Who may do what: only an issuer mints and revokes (any issuer of the collection: they act for one
institution); only the current owner transfers, and never a revoked certificate; everyone reads.
Storage: one mapping entry per certificate holding its whole record, so ``record`` is one read and
each change rewrites one entry (its cost grows with the history, a few entries in practice).
"""

REGISTRY = '''
class Registry:
    """A name or document registry: the first to register a name owns it; only its owner
    updates its document hash or transfers it. See blockkit.contracts.standard."""

    def __init__(self):
        self.records = {}
        self.names = 0

    def register(self, name: str, document_hash: bytes) -> bool:
        require(len(name) > 0 and len(name) <= 128, "a name has 1 to 128 characters")
        self._check_hash(document_hash)
        require(
            name not in self.records,
            "the name " + name + " is already registered: choose another name",
        )
        self.records[name] = {
            "name": name,
            "owner": caller,
            "document_hash": document_hash,
            "registered": block_height,
            "updated": block_height,
        }
        self.names += 1
        emit("Registered", entry=name, owner=caller, document_hash=document_hash)
        return True

    def update(self, name: str, document_hash: bytes) -> bool:
        record = self._owned(name, "update")
        self._check_hash(document_hash)
        record["document_hash"] = document_hash
        record["updated"] = block_height
        self.records[name] = record
        emit("Updated", entry=name, owner=caller, document_hash=document_hash)
        return True

    def transfer(self, name: str, to: bytes) -> bool:
        record = self._owned(name, "transfer")
        require(len(to) == 20, "the new owner must be a 20-byte address")
        record["owner"] = to
        record["updated"] = block_height
        self.records[name] = record
        emit("Transferred", entry=name, sender=caller, to=to)
        return True

    def lookup(self, name: str) -> dict:
        record = self.records.get(name, None)
        require(
            record is not None,
            "the name " + name + " is not registered: check the spelling, or register it",
        )
        return record

    def is_registered(self, name: str) -> bool:
        return name in self.records

    def count(self) -> int:
        return self.names

    def _owned(self, name, what):
        record = self.lookup(name)
        require(caller == record["owner"], "only the owner of " + name + " may " + what + " it")
        return record

    def _check_hash(self, document_hash):
        require(
            len(document_hash) == 32,
            "document_hash must be the 32-byte SHA-256 digest of the document, not "
            + str(len(document_hash)) + " bytes",
        )
'''

REGISTRY_DOC = """**Registry** — a name or document registry: who registered a name first, and the
hash of the document it stands for (a land title, a company statute, a software release). Only the
hash goes on chain, never the document: whoever holds the document checks it against
``lookup(name)["document_hash"]``.

Constructor ``Registry()``.

Functions:

- ``register(name, document_hash: bytes) -> True``: the caller claims a free name (1 to 128
  characters; first come, first served) for a 32-byte SHA-256 digest.
- ``update(name, document_hash) -> True``: the owner records a new version of the document.
- ``transfer(name, to) -> True``: the owner hands the name over.
- ``lookup(name) -> dict``: ``name``, ``owner``, ``document_hash``, ``registered`` and
  ``updated`` (block heights); refused for a free name.
- views: ``is_registered(name)``, ``count()``.

Events: ``Registered(entry, owner, document_hash)``, ``Updated(entry, owner, document_hash)``,
``Transferred(entry, sender, to)``; ``entry`` is the name (``emit``'s own first parameter is
called ``name``, so an event field cannot be).

Who may do what: anyone registers a free name; only its owner updates or transfers it; everyone
reads. A name is never deleted.
"""

MULTISIG = '''
class Multisig:
    """k-of-n approval of proposals. See blockkit.contracts.standard."""

    def __init__(self, owners: list, k: int):
        self.owner_set = {}
        for who in owners:
            require(isinstance(who, bytes) and len(who) == 20, "each owner must be an address")
            require(who not in self.owner_set, "an owner is listed twice")
            self.owner_set[who] = True
        require(1 <= k and k <= len(owners), "k must be between 1 and len(owners)")
        self.owner_list = owners
        self.required = k
        self.proposals = {}
        self.next_id = 0

    def propose(self, action: str, payload: dict) -> int:
        self._only_owner()
        require(len(action) > 0, "name the action, e.g. 'grant-access' or 'transfer'")
        if action == "transfer":
            to = payload.get("to", b"")
            amount = payload.get("amount", 0)
            require(
                isinstance(to, bytes) and len(to) == 20 and isinstance(amount, int) and amount > 0,
                "a transfer's payload is {'to': address, 'amount': int > 0}",
            )
        pid = self.next_id
        self.next_id = pid + 1
        self.proposals[pid] = {
            "action": action,
            "payload": payload,
            "proposer": caller,
            "approvals": [],
            "executed": False,
        }
        emit("Proposed", id=pid, proposer=caller, action=action)
        return pid

    def approve(self, pid: int) -> int:
        prop = self._open(pid)
        require(caller not in prop["approvals"], "you already approved proposal " + str(pid))
        prop["approvals"].append(caller)
        return self._save(pid, prop, "Approved")

    def revoke(self, pid: int) -> int:
        prop = self._open(pid)
        require(caller in prop["approvals"], "you have not approved proposal " + str(pid))
        prop["approvals"].remove(caller)
        return self._save(pid, prop, "Revoked")

    def execute(self, pid: int) -> bool:
        prop = self._open(pid)
        count = len(prop["approvals"])
        k = self.required
        require(count >= k, "only " + str(count) + " approvals; k is " + str(k))
        prop["executed"] = True
        self.proposals[pid] = prop
        if prop["action"] == "transfer":
            amount = prop["payload"]["amount"]
            held = balance(this)
            require(held >= amount, "the contract holds " + str(held) + ": deposit() more")
            transfer(prop["payload"]["to"], amount)
        emit("Executed", id=pid, by=caller, action=prop["action"])
        return True

    def status(self, pid: int) -> dict:
        prop = self._proposal(pid)
        prop["count"] = len(prop["approvals"])
        prop["k"] = self.required
        prop["approved"] = prop["count"] >= self.required
        return prop

    def owners(self) -> list:
        return self.owner_list

    def is_owner(self, who: bytes) -> bool:
        return self.owner_set.get(who, False)

    def deposit(self) -> int:
        require(value > 0, "send coins with the call: value > 0")
        emit("Deposited", sender=caller, amount=value)
        return balance(this)

    def _only_owner(self):
        require(self.owner_set.get(caller, False), "only an owner may call this: see owners()")

    def _proposal(self, pid):
        prop = self.proposals.get(pid, None)
        require(prop is not None, "there is no proposal " + str(pid) + ": check the id")
        return prop

    def _open(self, pid):
        self._only_owner()
        prop = self._proposal(pid)
        require(not prop["executed"], "proposal " + str(pid) + " is already executed")
        return prop

    def _save(self, pid, prop, event):
        self.proposals[pid] = prop
        count = len(prop["approvals"])
        emit(event, id=pid, owner=caller, approvals=count)
        return count
'''

MULTISIG_DOC = """**Multisig** — k-of-n approval: a fixed group of n owners decides on proposals,
and a proposal passes once k different owners approve it.

A proposal is an ``action`` (a str) and a ``payload`` (a dict) that the contract stores without
interpreting, so the same contract records any group decision: an access policy (an AND of n
parties is n-of-n, an OR is 1-of-n, or any k-of-n endorsements), a release, a vote. Another
contract asks ``call(multisig, "status", pid)["approved"]``. One action is understood:
``"transfer"`` with payload ``{"to": address, "amount": int > 0}`` sends, when executed, coins the
contract holds (paid in with ``deposit()``).

Constructor ``Multisig(owners: list, k: int)``: distinct 20-byte addresses and
``1 <= k <= len(owners)``; the deployer need not be an owner. Owners and k never change.

Functions:

- ``propose(action, payload) -> id``: an owner opens a proposal; ids count 0, 1, 2, ...
  Proposing is not approving: the proposer approves too if it agrees.
- ``approve(id) -> approvals``: an owner approves, once per proposal.
- ``revoke(id) -> approvals``: an owner takes back its own approval.
- ``execute(id) -> True``: an owner marks an approved proposal executed, once; a ``"transfer"``
  sends the coins (after the proposal is marked, never before).
- ``status(id) -> dict``: ``action``, ``payload``, ``proposer``, ``approvals`` (addresses in
  order), ``count``, ``k``, ``approved`` (count >= k) and ``executed``.
- views: ``owners()``, ``is_owner(who)``; ``deposit() -> balance`` accepts the coins sent with
  the call (value > 0).

Events: ``Proposed(id, proposer, action)``, ``Approved(id, owner, approvals)``,
``Revoked(id, owner, approvals)``, ``Executed(id, by, action)``, ``Deposited(sender, amount)``.

Who may do what: only owners propose, approve, revoke and execute; nothing changes after
execution (approve, revoke and execute are refused); anyone deposits and reads.
"""

#: Deploy data is limited to ``max_transaction_data`` (4,096 bytes on the ``NETWORK`` preset,
#: the smallest); each source stays under this many characters, leaving room for arguments.
MAX_STANDARD_SOURCE = 3_900


class UnknownStandardContract(BlockkitError, KeyError):
    """``source(name)`` was given a name that is not in ``STANDARD``."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


#: The standard contracts by name (lower case).
STANDARD: dict[str, str] = {
    "token": TOKEN,
    "certificate": CERTIFICATE,
    "registry": REGISTRY,
    "multisig": MULTISIG,
}

#: The documentation of each standard contract, by the same names.
DOCS: dict[str, str] = {
    "token": TOKEN_DOC,
    "certificate": CERTIFICATE_DOC,
    "registry": REGISTRY_DOC,
    "multisig": MULTISIG_DOC,
}


def _key(name: str) -> str:
    if not isinstance(name, str):
        raise TypeError(f"a contract name is a str such as 'token', not {type(name).__name__}")
    key = name.strip().lower()
    if key not in STANDARD:
        raise UnknownStandardContract(
            f"no standard contract named {name!r}; choose one of {', '.join(sorted(STANDARD))}"
        )
    return key


def source(name: str) -> str:
    """The source of standard contract ``name`` (``"token"``, ``"certificate"``, ``"registry"``,
    ``"multisig"``; case does not matter), ready for ``LocalHost.deploy`` or
    ``deploy_transaction``."""
    return STANDARD[_key(name)]


def describe(name: str) -> str:
    """What standard contract ``name`` is for, its functions, events and who may do what."""
    return DOCS[_key(name)]
