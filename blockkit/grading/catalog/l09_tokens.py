"""Lesson 09, tokens and certificates: balances from events, a soulbound certificate, a diploma
verifier, and a record whose view shows each party its part.

Every case runs real contracts: token histories and diplomas on a ``Chain`` with signed
transactions, the student's contract sources on ``LocalHost``. Nothing is built at import time:
each scenario is built the first time a case needs it and cached (``functools.cache``).
"""

from __future__ import annotations

import functools
import pickle
import random
import textwrap
from collections.abc import Callable
from typing import Any

from blockkit.grading.registry import Case, add_cases, define

__all__ = ["PATIENT_RECORD", "patient_record_source", "replace_method"]

_CHAIN_ID = 1337  # CLASSROOM


def _key(name: str) -> Any:
    from blockkit.keys import PrivateKey

    return PrivateKey.from_seed(f"grading-09/{name}")


_PEOPLE = ("alice", "bob", "carol", "dave", "market", "university", "registrar", "graduate")
_PEOPLE += ("friend", "employer", "mill")


class _World:
    """A CLASSROOM chain with funded people; ``send`` mines one block of signed transactions."""

    def __init__(self) -> None:
        from blockkit.chain import Chain
        from blockkit.params import CLASSROOM

        self.keys = {name: _key(name) for name in (*_PEOPLE, "miner")}
        funds = {self.keys[name].address: 10_000_000 for name in _PEOPLE}
        self.chain = Chain(CLASSROOM, allocations=funds)
        self.nonces: dict[str, int] = {}

    def addr(self, name: str) -> Any:
        return self.keys[name].address

    def _nonce(self, name: str) -> int:
        nonce = max(self.chain.nonce(self.addr(name)), self.nonces.get(name, 0))
        self.nonces[name] = nonce + 1
        return nonce

    def deploy(self, name: str, source: str, *args: Any) -> Any:
        from blockkit.execution import deploy_transaction

        return deploy_transaction(
            self.keys[name], source, list(args), nonce=self._nonce(name), chain_id=_CHAIN_ID,
            gas=200_000,
        )  # fmt: skip

    def call(self, name: str, contract: bytes, function: str, *args: Any) -> Any:
        from blockkit.execution import call_transaction

        return call_transaction(
            self.keys[name], contract, function, list(args), nonce=self._nonce(name),
            chain_id=_CHAIN_ID, gas=100_000,
        )  # fmt: skip

    def send(self, *transactions: Any) -> list[Any]:
        head = self.chain.head.header
        block = self.chain.mine_block(
            list(transactions), proposer=self.addr("miner"), timestamp=head.timestamp + 10
        )
        self.chain.add_block(block)
        return [self.chain.receipt(tx.hash) for tx in transactions]

    def deployed(self, name: str, source: str, *args: Any) -> Any:
        [receipt] = self.send(self.deploy(name, source, *args))
        assert receipt.ok, receipt.error
        return receipt.contract_address


def _fresh(chain: Any) -> Any:
    """An independent copy of a chain: a student's function cannot change the cached one."""
    return pickle.loads(pickle.dumps(chain))


# --- 09.1 balances from Transfer events ------------------------------------------------------

# Each scenario: blocks of (sender, function, args by name). Names become addresses.
_N = "@"  # marks a person's name among the arguments
_HISTORIES: dict[str, list[list[tuple[str, str, tuple[Any, ...]]]]] = {
    "only the initial supply": [],
    "transfers in one block": [
        [("alice", "transfer", ("@bob", 300)), ("bob", "transfer", ("@carol", 100))],
    ],
    "approvals and transfer_from mixed in": [
        [("alice", "transfer", ("@bob", 400)), ("bob", "approve", ("@market", 150))],
        [
            ("market", "transfer_from", ("@bob", "@market", 100)),
            ("market", "transfer_from", ("@bob", "@carol", 50)),
            ("alice", "approve", ("@carol", 10)),
        ],
    ],
    "a transfer to oneself": [
        [("alice", "transfer", ("@bob", 250)), ("bob", "transfer", ("@bob", 200))],
    ],
    "a zero-amount transfer to a newcomer": [
        [("alice", "transfer", ("@bob", 10)), ("bob", "transfer", ("@dave", 0))],
    ],
    "refused transfers emit nothing": [
        [
            ("alice", "transfer", ("@bob", 100)),
            ("bob", "transfer", ("@carol", 101)),
            ("carol", "transfer", ("@alice", 1)),
            ("market", "transfer_from", ("@alice", "@market", 5)),
        ],
    ],
}


def _random_history(seed: int) -> list[list[tuple[str, str, tuple[Any, ...]]]]:
    rng = random.Random(seed)
    people = ["alice", "bob", "carol", "dave"]
    blocks = []
    for _ in range(6):
        block = []
        for _ in range(7):
            sender, receiver = rng.choice(people), rng.choice(people)
            block.append((sender, "transfer", (f"@{receiver}", rng.randrange(0, 300))))
        blocks.append(block)
    return blocks


def _history(name: str) -> list[list[tuple[str, str, tuple[Any, ...]]]]:
    if name.startswith("random"):
        return _random_history(int(name.split()[-1]))
    return _HISTORIES[name]


@functools.cache
def _token_history(name: str) -> tuple[Any, dict[str, int]]:
    """The events table of a real token history, and every address's ``balance_of``."""
    from blockkit.contracts.standard import TOKEN

    world = _World()
    token = world.deployed("alice", TOKEN, "Test Coin", "TC", 1_000)

    def resolve(arg: Any) -> Any:
        return world.addr(arg[1:]) if isinstance(arg, str) and arg.startswith(_N) else arg

    for block in _history(name):
        world.send(*(world.call(s, token, f, *map(resolve, args)) for s, f, args in block))
    events = world.chain.events_df(contract=token)
    transfers = events[events["name"] == "Transfer"]
    holders = {a for a in [*transfers["sender"], *transfers["to"]] if isinstance(a, str)}
    expected = {
        a: world.chain.call_view(token, "balance_of", [bytes.fromhex(a[2:])]) for a in holders
    }
    return events, expected


def _events_args(name: str) -> Callable[[], tuple[Any, ...]]:
    return lambda: (_token_history(name)[0].copy(),)


def _balances_match(name: str) -> Callable[[Any], str | None]:
    def verify(result: Any) -> str | None:
        expected = _token_history(name)[1]
        if type(result) is not dict:
            return f"expected a dict from address to balance, got a {type(result).__name__}"
        for key, value in result.items():
            if type(value) is not int:
                return (
                    f"the balance of {key!r} is a {type(value).__name__}, not an int: pandas "
                    "sums are numpy numbers, convert them with int(...)"
                )
        missing = sorted(set(expected) - set(result), key=str)
        if missing:
            return (
                f"{len(missing)} address(es) that appear in Transfer events are missing, e.g. "
                f"{missing[0]} (balance_of says {expected[missing[0]]})"
            )
        extra = sorted(set(result) - set(expected), key=str)
        if extra:
            return (
                f"{extra[0]!r} is not an address that sent or received in a Transfer event "
                "(keep only the Transfer rows; the mint has no sender)"
            )
        for address, balance in expected.items():
            if result[address] != balance:
                return f"{address}: you computed {result[address]}, balance_of says {balance}"
        return None

    return verify


define(
    "09.1",
    "Balances from Transfer events",
    function="balances_from_events",
    points=2,
    hint="keep the rows whose name is 'Transfer'; add each amount to its 'to' and subtract it "
    "from its 'sender' unless the sender is missing (NaN: the initial supply); include every "
    "address that appears, even at 0, and return plain ints",
)
_HINTS_01 = {
    "approvals and transfer_from mixed in": "Approval rows move nothing (and have no 'to'): "
    "filter on events['name'] == 'Transfer'; a transfer_from's Transfer names the owner as "
    "sender, not the spender",
    "a transfer to oneself": "sending to yourself subtracts and adds the same amount: the "
    "balance does not change (add to 'to' AND subtract from 'sender', even when equal)",
    "a zero-amount transfer to a newcomer": "every address that appears in a Transfer belongs "
    "in the result, even with a balance of 0",
    "only the initial supply": "the initial supply is a Transfer with no sender (NaN): credit "
    "the recipient, debit nobody",
}
add_cases(
    "09.1",
    [
        Case(
            name,
            _events_args(name),
            verify=_balances_match(name),
            hint=_HINTS_01.get(name, ""),
        )
        for name in _HISTORIES
    ],
)


# --- 09.2 a soulbound certificate ------------------------------------------------------------


def replace_method(source: str, name: str, new_method: str) -> str:
    """``source`` (a contract class) with its method ``name`` replaced by ``new_method`` (the
    whole ``def``, at any indentation)."""
    lines = source.split("\n")
    start = next(
        (i for i, line in enumerate(lines) if line.strip().startswith(f"def {name}(")), None
    )
    if start is None:
        raise ValueError(f"the contract has no method {name}")
    indent = lines[start][: len(lines[start]) - len(lines[start].lstrip())]
    end = start + 1
    while end < len(lines) and (
        not lines[end].strip() or lines[end].startswith(indent + " ") or lines[end] == indent
    ):
        end += 1
    while end > start + 1 and not lines[end - 1].strip():
        end -= 1
    body = textwrap.indent(textwrap.dedent(new_method).strip("\n"), indent).split("\n")
    return "\n".join(lines[:start] + body + lines[end:])


class _Run:
    """What happened when a certificate source was put through the soulbound scenario."""

    def __init__(self) -> None:
        self.problem = ""  # why the scenario could not even start
        self.facts: dict[str, Any] = {}


def _ok(result: Any, what: str) -> None:
    if not result.ok:
        raise AssertionError(f"{what} failed: {result.status}: {result.error}")


@functools.cache
def _soulbound_run(source: str) -> _Run:
    from blockkit.contracts import LocalHost
    from blockkit.errors import InvalidContract

    run = _Run()
    host = LocalHost(block_height=7)
    uni, registrar, grad, wrong, friend, mill = (
        host.account(n) for n in ("uni", "registrar", "grad", "wrong", "friend", "mill")
    )
    try:
        contract, result = host.deploy(source, "Diplomas", [registrar], sender=uni)
    except InvalidContract as error:
        run.problem = f"your source does not compile: {error}"
        return run
    except Exception as error:  # not even a string of source
        run.problem = f"could not deploy what you returned: {type(error).__name__}: {error}"
        return run
    if not result.ok:
        run.problem = f"deploying your contract failed: {result.status}: {result.error}"
        return run
    facts = run.facts
    meta = {"degree": "BSc", "year": 2026}

    def t(sender: Any, function: str, *args: Any) -> Any:
        return host.transact(sender, contract, function, *args)

    def owner(token_id: str) -> Any:
        return host.transact(uni, contract, "owner_of", token_id).return_value

    facts["mint"] = t(uni, "mint", "D-1", grad, meta)
    facts["mint_wrong"] = t(uni, "mint", "D-2", wrong, meta)
    facts["mint_3"] = t(uni, "mint", "D-3", grad, meta)
    facts["mint_4"] = t(registrar, "mint", "D-4", grad, meta)
    facts["holder_transfer"] = t(grad, "transfer", "D-1", friend)
    facts["owner_after_holder"] = owner("D-1")
    facts["wrong_holder_transfer"] = t(wrong, "transfer", "D-2", grad)
    facts["stranger_transfer"] = t(mill, "transfer", "D-1", mill)
    facts["owner_after_stranger"] = owner("D-1")
    facts["issuer_fix"] = t(uni, "transfer", "D-2", grad)
    facts["owner_after_fix"] = owner("D-2")
    facts["history_after_fix"] = t(uni, "record", "D-2").return_value
    facts["registrar_fix"] = t(registrar, "transfer", "D-3", friend)
    facts["owner_after_registrar"] = owner("D-3")
    facts["forged_mint"] = t(mill, "mint", "D-9", mill, meta)
    facts["forged_exists"] = t(uni, "is_valid", "D-9").return_value
    facts["revoke"] = t(registrar, "revoke", "D-1", "error in the grade")
    facts["valid_after_revoke"] = t(uni, "is_valid", "D-1").return_value
    facts["move_revoked"] = t(uni, "transfer", "D-1", friend)
    facts["record_1"] = t(uni, "record", "D-1").return_value
    facts["names"] = {"uni": uni, "registrar": registrar, "grad": grad, "wrong": wrong}
    facts["friend"] = friend
    return run


def _soulbound(judge: Callable[[dict[str, Any]], str | None]) -> Callable[[Any], str | None]:
    def verify(result: Any) -> str | None:
        if type(result) is not str:
            return f"return the contract's source as a str, not a {type(result).__name__}"
        run = _soulbound_run(result)
        if run.problem:
            return run.problem
        return judge(run.facts)

    return verify


def _refused(result: Any, what: str) -> str | None:
    if result.status != "reverted":
        return f"{what}: expected the call to revert (a require), but it ended {result.status}" + (
            f" ({result.error})" if result.error else ""
        )
    return None


def _judge_mint(f: dict[str, Any]) -> str | None:
    for key in ("mint", "mint_wrong", "mint_3", "mint_4"):
        if not f[key].ok:
            return f"an issuer's mint failed: {f[key].status}: {f[key].error}"
    return None


def _judge_holder(f: dict[str, Any]) -> str | None:
    problem = _refused(f["holder_transfer"], "the graduate transferred their own diploma")
    if problem:
        return problem
    if f["owner_after_holder"] != f["names"]["grad"]:
        return "after the refused transfer the diploma no longer belongs to the graduate"
    return _refused(f["wrong_holder_transfer"], "a holder passed a diploma on")


def _judge_stranger(f: dict[str, Any]) -> str | None:
    problem = _refused(f["stranger_transfer"], "someone who neither holds nor issued it moved it")
    if problem:
        return problem
    if f["owner_after_stranger"] != f["names"]["grad"]:
        return "a stranger's call changed the owner"
    return None


def _judge_fix(f: dict[str, Any]) -> str | None:
    fix = f["issuer_fix"]
    if not fix.ok:
        return (
            "the university could not move a diploma minted to the wrong address: "
            f"{fix.status}: {fix.error}"
        )
    if f["owner_after_fix"] != f["names"]["grad"]:
        return "after the issuer's correction, owner_of does not name the new owner"
    history = f["history_after_fix"]["history"]
    actions = [entry.get("action") for entry in history]
    if actions != ["mint", "transfer"] or history[-1].get("to") != f["names"]["grad"]:
        return (
            f"the history after a correction should be mint then transfer to the new owner, got "
            f"actions {actions}"
        )
    if not any(e.name == "Transferred" for e in fix.events):
        return "the correction emitted no Transferred event (keep the emit)"
    return None


def _judge_any_issuer(f: dict[str, Any]) -> str | None:
    fix = f["registrar_fix"]
    if not fix.ok:
        return f"the registrar (an issuer too) could not correct a diploma: {fix.error}"
    if f["owner_after_registrar"] != f["friend"]:
        return "the registrar's correction did not change the owner"
    return None


def _judge_forgery(f: dict[str, Any]) -> str | None:
    problem = _refused(f["forged_mint"], "someone who is not an issuer minted")
    if problem:
        return problem
    if f["forged_exists"]:
        return "a certificate minted by a non-issuer exists"
    return None


def _judge_revoke(f: dict[str, Any]) -> str | None:
    if not f["revoke"].ok:
        return f"an issuer could not revoke: {f['revoke'].status}: {f['revoke'].error}"
    if f["valid_after_revoke"] is not False:
        return "after revoke, is_valid should be False"
    problem = _refused(f["move_revoked"], "an issuer moved a revoked diploma")
    if problem:
        return problem
    record = f["record_1"]
    actions = [entry.get("action") for entry in record["history"]]
    if record.get("owner") != f["names"]["grad"] or actions != ["mint", "revoke"]:
        return f"the revoked diploma's record is wrong: owner changed or history is {actions}"
    return None


define(
    "09.2",
    "A soulbound certificate",
    function="soulbound",
    points=3,
    hint="replace transfer with one that requires the caller to be an issuer "
    "(self._only_issuer('transfer') or self.issuer_set.get(caller, False)), keeps the checks on "
    "revoked certificates and the new owner, and still records the move in the history",
)


def _certificate_args() -> tuple[str]:
    from blockkit.contracts.standard import CERTIFICATE

    return (CERTIFICATE,)


add_cases(
    "09.2",
    [
        Case("issuers still mint", _certificate_args, verify=_soulbound(_judge_mint)),
        Case(
            "the holder cannot transfer",
            _certificate_args,
            verify=_soulbound(_judge_holder),
            hint="in transfer, require that the caller is an issuer: the owner is not enough",
        ),
        Case("a stranger cannot transfer", _certificate_args, verify=_soulbound(_judge_stranger)),
        Case(
            "the issuer corrects a diploma minted to the wrong address",
            _certificate_args,
            verify=_soulbound(_judge_fix),
            hint="an issuer may still move a certificate: keep the owner update, the history "
            "entry and the Transferred event",
        ),
        Case(
            "a non-issuer still cannot mint", _certificate_args, verify=_soulbound(_judge_forgery)
        ),
        Case(
            "revoke works and a revoked diploma never moves",
            _certificate_args,
            verify=_soulbound(_judge_revoke),
            hint="keep the require that refuses revoked certificates",
        ),
    ],
)


# --- 09.3 verify a diploma --------------------------------------------------------------------

_VALID, _UNKNOWN, _REVOKED = (True, "valid"), (False, "unknown"), (False, "revoked")
_UNTRUSTED, _NOT_HOLDER = (False, "untrusted issuer"), (False, "not the holder")


@functools.cache
def _diplomas() -> tuple[Any, dict[str, Any]]:
    """A chain with a university's diplomas (one revoked, one with an int id) and two
    look-alike collections deployed by a diploma mill."""
    from blockkit.contracts.standard import CERTIFICATE

    w = _World()
    meta = {"degree": "BSc Computer Science", "year": 2026}
    real = w.deployed("university", CERTIFICATE, "Diplomas of BKU", [w.addr("registrar")])
    fake = w.deployed("mill", CERTIFICATE, "Diplomas of BKU", [])
    twin = w.deployed("mill", CERTIFICATE, "Diplomas of BKU", [w.addr("university")])
    receipts = w.send(
        w.call("university", real, "mint", "BKU-1", w.addr("graduate"), meta),
        w.call("registrar", real, "mint", "BKU-2", w.addr("graduate"), meta),
        w.call("university", real, "mint", "BKU-3", w.addr("friend"), meta),
        w.call("university", real, "mint", 2026001, w.addr("graduate"), meta),
        w.call("mill", fake, "mint", "BKU-1", w.addr("mill"), meta),
        w.call("mill", twin, "mint", "BKU-1", w.addr("graduate"), meta),
    )
    receipts += w.send(w.call("registrar", real, "revoke", "BKU-3", "plagiarism"))
    assert all(r.ok for r in receipts), [r.error for r in receipts]
    places = {"real": real, "fake": fake, "twin": twin}
    places.update({name: w.addr(name) for name in _PEOPLE})
    return w.chain, places


def _diploma_args(where: str, token_id: Any, holder: str, trusted: tuple[str, ...]) -> Any:
    def args() -> tuple[Any, ...]:
        chain, places = _diplomas()
        return (
            _fresh(chain),
            places[where],
            token_id,
            places[holder],
            [places[name] for name in trusted],
        )

    return args


_TRUSTED = ("university", "registrar")


def _diploma_case(
    name: str,
    where: str,
    token_id: Any,
    holder: str,
    expected: tuple[bool, str],
    trusted: tuple[str, ...] = _TRUSTED,
    hint: str = "",
) -> Case:
    return Case(name, _diploma_args(where, token_id, holder, trusted), expected, hint=hint)


define(
    "09.3",
    "Verify a diploma",
    function="verify_diploma",
    points=3,
    hint="read chain.call_view(collection, 'record', [token_id]) (it raises Revert for an "
    "unknown id); then check in this order: revoked, record['issuer'] in trusted_issuers, "
    "record['owner'] == holder; return (True, 'valid') only when all pass",
)
add_cases(
    "09.3",
    [
        _diploma_case("a valid diploma", "real", "BKU-1", "graduate", _VALID),
        _diploma_case("minted by the registrar, also trusted", "real", "BKU-2", "graduate", _VALID),
        _diploma_case(
            "an id that was never minted",
            "real",
            "BKU-404",
            "graduate",
            _UNKNOWN,
            hint="record() reverts for an unknown id: catch blockkit.errors.Revert (or ask "
            "is_valid first) and return (False, 'unknown')",
        ),
        _diploma_case(
            "a revoked diploma",
            "real",
            "BKU-3",
            "friend",
            _REVOKED,
            hint="record['revoked'] is True: return (False, 'revoked')",
        ),
        _diploma_case(
            "a diploma mill's look-alike collection",
            "fake",
            "BKU-1",
            "mill",
            _UNTRUSTED,
            hint="a collection's title proves nothing: the issuer recorded in the diploma must "
            "be one of trusted_issuers",
        ),
        _diploma_case(
            "a look-alike that lists the university among its issuers",
            "twin",
            "BKU-1",
            "graduate",
            _UNTRUSTED,
            hint="anyone may list the university as an issuer of their own contract; check who "
            "actually minted (record['issuer']), not is_issuer",
        ),
        _diploma_case(
            "presented by someone who does not hold it",
            "real",
            "BKU-1",
            "mill",
            _NOT_HOLDER,
            hint="record['owner'] must be the holder who presents the diploma",
        ),
        _diploma_case(
            "revoked and presented by someone else: revoked comes first",
            "real",
            "BKU-3",
            "graduate",
            _REVOKED,
            hint="check in the order unknown, revoked, untrusted issuer, not the holder",
        ),
        _diploma_case(
            "the registrar is not on this employer's trusted list",
            "real",
            "BKU-2",
            "graduate",
            _UNTRUSTED,
            trusted=("university",),
        ),
    ],
)


# --- 09.4 a record that shows each party its part ---------------------------------------------

PATIENT_RECORD = '''
class PatientRecord:
    """One patient's record: the hospital writes it; the patient, the pharmacy and the insurer
    each read their part through view()."""

    def __init__(self, patient: bytes, pharmacy: bytes, insurer: bytes):
        self.hospital = caller
        self.patient = patient
        self.pharmacy = pharmacy
        self.insurer = insurer
        self.diagnoses = []
        self.prescriptions = []
        self.allergies = []
        self.bills = []

    def diagnose(self, date: str, text: str):
        self._only_hospital()
        self.diagnoses.append({"date": date, "text": text})

    def prescribe(self, drug: str, dose: str):
        self._only_hospital()
        self.prescriptions.append({"drug": drug, "dose": dose})

    def add_allergy(self, substance: str):
        self._only_hospital()
        self.allergies.append(substance)

    def bill(self, date: str, code: str, amount: int):
        self._only_hospital()
        self.bills.append({"date": date, "code": code, "amount": amount})

    def _only_hospital(self):
        require(caller == self.hospital, "only the hospital writes this record")
'''
"""The record of exercise 09.4, without its ``view``: ``patient_record_source`` adds one."""


def patient_record_source(view_method: str) -> str:
    """``PATIENT_RECORD`` with ``view_method`` (the whole ``def view(self) -> dict: ...``, at any
    indentation) added as its last method."""
    method = textwrap.indent(textwrap.dedent(view_method).strip("\n"), "    ")
    return PATIENT_RECORD.rstrip("\n") + "\n\n" + method + "\n"


_PARTIES = ("hospital", "patient", "pharmacy", "insurer", "stranger")
_DIAGNOSES = [{"date": "2026-01-12", "text": "asthma"}, {"date": "2026-02-03", "text": "sprain"}]
_PRESCRIPTIONS = [{"drug": "salbutamol", "dose": "2 puffs as needed"}]
_ALLERGIES = ["penicillin"]
_BILLS = [{"date": "2026-01-12", "code": "J45", "amount": 180}]
_MEDICAL = {"diagnoses": _DIAGNOSES, "prescriptions": _PRESCRIPTIONS, "allergies": _ALLERGIES}
_EXPECTED_VIEWS: dict[str, dict[str, Any]] = {
    "patient": {**_MEDICAL, "bills": _BILLS},
    "hospital": dict(_MEDICAL),
    "pharmacy": {"prescriptions": _PRESCRIPTIONS, "allergies": _ALLERGIES},
    "insurer": {"bills": _BILLS},
    "stranger": {},
}


@functools.cache
def _patient_run(view_method: str, filled: bool = True) -> _Run:
    from blockkit.contracts import LocalHost
    from blockkit.errors import InvalidContract

    run = _Run()
    host = LocalHost(block_height=3)
    who = {name: host.account(name) for name in _PARTIES}
    try:
        source = patient_record_source(view_method)
        contract, result = host.deploy(
            source, who["patient"], who["pharmacy"], who["insurer"], sender=who["hospital"]
        )
    except InvalidContract as error:
        run.problem = f"the record with your view does not compile: {error}"
        return run
    except Exception as error:
        run.problem = f"could not use what you returned: {type(error).__name__}: {error}"
        return run
    if not result.ok:
        run.problem = f"deploying the record failed: {result.error}"
        return run
    if filled:
        writes = [("diagnose", d["date"], d["text"]) for d in _DIAGNOSES]
        writes += [("prescribe", p["drug"], p["dose"]) for p in _PRESCRIPTIONS]
        writes += [("add_allergy", a) for a in _ALLERGIES]
        writes += [("bill", b["date"], b["code"], b["amount"]) for b in _BILLS]
        for function, *args in writes:
            outcome = host.transact(who["hospital"], contract, function, *args)
            if not outcome.ok:
                run.problem = f"{function} failed on your record: {outcome.error}"
                return run
    before = host.read(contract)
    for name in _PARTIES:
        run.facts[name] = host.transact(who[name], contract, "view")
    run.facts["changed storage"] = host.read(contract) != before
    return run


def _view_of(party: str, filled: bool = True) -> Callable[[Any], str | None]:
    def verify(result: Any) -> str | None:
        if type(result) is not str:
            return f"return the view method's source as a str, not a {type(result).__name__}"
        run = _patient_run(result, filled)
        if run.problem:
            return run.problem
        outcome = run.facts[party]
        if not outcome.ok:
            return f"view() as the {party} failed: {outcome.status}: {outcome.error}"
        got = outcome.return_value
        expected = _EXPECTED_VIEWS[party]
        if not filled:
            expected = {key: [] for key in expected}
        if not isinstance(got, dict):
            return f"view() as the {party} returned a {type(got).__name__}, not a dict"
        extra = sorted(set(got) - set(expected))
        if extra:
            return f"the {party} must not see {extra} (it got the fields {sorted(got)})"
        missing = sorted(set(expected) - set(got))
        if missing:
            return f"the {party} should also see {missing} (it got {sorted(got)})"
        for key, value in expected.items():
            if got[key] != value:
                return f"view() as the {party}: {key} is {got[key]!r}, expected {value!r}"
        return None

    return verify


def _read_only(result: Any) -> str | None:
    if type(result) is not str:
        return f"return the view method's source as a str, not a {type(result).__name__}"
    run = _patient_run(result)
    if run.problem:
        return run.problem
    if run.facts["changed storage"]:
        return "calling view() changed the record's storage: a view only reads"
    return None


define(
    "09.4",
    "A patient record: each party sees its part",
    function="patient_view",
    points=3,
    hint="compare caller with self.patient, self.hospital, self.pharmacy and self.insurer in "
    "turn and return a dict with exactly that party's fields; anyone else gets {}",
)
add_cases(
    "09.4",
    [
        Case("the patient sees everything", verify=_view_of("patient")),
        Case(
            "the hospital sees the medical record, not the bills",
            verify=_view_of("hospital"),
            hint="the hospital gets diagnoses, prescriptions and allergies",
        ),
        Case(
            "the pharmacy sees prescriptions and allergies only",
            verify=_view_of("pharmacy"),
            hint="a pharmacy needs what to dispense and what the patient must not get",
        ),
        Case("the insurer sees the bills only", verify=_view_of("insurer")),
        Case(
            "a stranger sees nothing",
            verify=_view_of("stranger"),
            hint="anyone who is none of the four parties gets an empty dict",
        ),
        Case("view() changes nothing", verify=_read_only),
    ],
)
