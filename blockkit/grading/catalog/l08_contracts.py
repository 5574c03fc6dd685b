"""Lesson 08, smart contracts: a capped counter, gas per source line, a bank safe from
reentrancy, and what failed transactions cost. Every case runs the answer (or the traces and
blocks it reads) on the real VM or a real chain; everything is built lazily, when a case runs."""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import Any

from blockkit.grading.check import same
from blockkit.grading.registry import Case, add_cases, define

# --- deploying a student's source ----------------------------------------------------------------


def _deploy(source: Any, *args: Any) -> tuple[Any, Any, Any, str | None]:
    """(host, alice, address, problem): ``source`` deployed by alice on a fresh LocalHost."""
    from blockkit.contracts import LocalHost
    from blockkit.errors import InvalidContract

    host = LocalHost()
    alice = host.account("alice", 1_000)
    if not isinstance(source, str):
        return host, alice, None, f"expected the contract's source as a str, got {source!r:.60}"
    try:
        address, result = host.deploy(source, *args, sender=alice)
    except InvalidContract as error:
        return host, alice, None, f"the contract does not compile: {error}"
    if not result.ok:
        return host, alice, None, f"deploying with {args} failed ({result.status}): {result.error}"
    return host, alice, address, None


# --- 08.1 a capped counter ---------------------------------------------------------------------


def _counts_up_to(cap: int, calls: int) -> Callable[[Any], str | None]:
    """Deploy with ``cap``, call ``increment`` ``calls`` times: the first ``cap`` return 1, 2,
    …; every later one is reverted and leaves ``count`` at ``cap``."""

    def verify(source: Any) -> str | None:
        host, alice, counter, problem = _deploy(source, cap)
        if problem:
            return problem
        if host.read(counter).get("count") != 0:
            return f"after deploying, storage field count should be 0, not {host.read(counter)}"
        for n in range(1, calls + 1):
            result = host.transact(alice, counter, "increment")
            count = host.read(counter).get("count")
            if n <= cap:
                if not result.ok:
                    return f"with cap {cap}, increment number {n} failed: {result.error}"
                if result.return_value != n or count != n:
                    return (
                        f"with cap {cap}, increment number {n} returned {result.return_value!r} "
                        f"and left count = {count!r}; expected {n} for both"
                    )
            else:
                if result.status != "reverted":
                    return (
                        f"with cap {cap}, increment number {n} should be refused by require "
                        f"(status 'reverted'), but its status was {result.status!r}"
                    )
                if count != cap:
                    return f"after a refused increment count should stay {cap}, not {count!r}"
        return None

    return verify


def _two_counters(source: Any) -> str | None:
    host, alice, first, problem = _deploy(source, 2)
    if problem:
        return problem
    second, result = host.deploy(source, 5, sender=alice)
    if not result.ok:
        return f"a second counter (cap 5) failed to deploy: {result.error}"
    for _ in range(4):
        host.transact(alice, second, "increment")
    counts = (host.read(first).get("count"), host.read(second).get("count"))
    if counts != (0, 4):
        return f"two counters must not share storage: counts were {counts}, expected (0, 4)"
    if host.transact(alice, first, "increment").return_value != 1:
        return "the first counter should still count from 0"
    return None


def _anyone_counts(source: Any) -> str | None:
    host, alice, counter, problem = _deploy(source, 3)
    if problem:
        return problem
    bob = host.account("bob", 10)
    for who in (alice, bob, bob):
        result = host.transact(who, counter, "increment")
        if not result.ok:
            return f"anyone may increment (the cap is shared by all callers): {result.error}"
    if host.transact(bob, counter, "increment").status != "reverted":
        return "the cap holds for every caller together: the 4th increment must be reverted"
    return None


define(
    "08.1",
    "A capped counter",
    function="capped_counter",
    points=2,
    hint="store the cap in __init__ (self.cap = cap) next to self.count = 0; in increment, "
    "require(self.count < self.cap, '...') before adding 1, then return self.count",
)
add_cases(
    "08.1",
    [
        Case("cap 3: three increments count 1, 2, 3", (), verify=_counts_up_to(3, 3)),
        Case(
            "cap 3: the 4th and 5th increments are reverted",
            (),
            verify=_counts_up_to(3, 5),
            hint="refuse with require(self.count < self.cap, ...): a require that fails reverts "
            "the call; an if that just returns leaves the status 'ok'",
        ),
        Case(
            "cap 1",
            (),
            verify=_counts_up_to(1, 3),
            hint="use the cap given to __init__, not a number written in the code",
        ),
        Case(
            "cap 0: every increment is refused",
            (),
            verify=_counts_up_to(0, 2),
            hint="check the cap before adding, so a cap of 0 allows nothing",
        ),
        Case("every caller counts towards the same cap", (), verify=_anyone_counts),
    ],
)


# --- 08.2 gas per source line ------------------------------------------------------------------

_LOOPS = """
class Loops:
    def __init__(self):
        self.total = 0
        self.owner = caller

    def compute(self, n: int):
        total = 0
        for i in range(n):
            total += i
        return total

    def store(self, n: int):
        for i in range(n):
            self.total += i
        return self.total

    def guarded(self, n: int):
        self.total = n
        require(caller == self.owner, "only the owner")
        return n

    def pay(self, to: bytes):
        transfer(to, value)
        emit("Paid", to=to, amount=value)
"""


def _gas_by_line(trace: Any, gas_limit: int) -> dict[int, int]:
    spent: dict[int, int] = {}
    before = gas_limit
    for step in trace:
        spent[step.line] = spent.get(step.line, 0) + before - step.gas_left
        before = step.gas_left
    return spent


@cache
def _traced(function: str, *args: Any, gas_limit: int = 50_000, caller: str = "alice") -> Any:
    """(trace, gas_limit, result) of one traced call on a fresh Loops contract."""
    from blockkit.contracts import LocalHost

    host = LocalHost()
    alice = host.account("alice", 1_000)
    loops, _ = host.deploy(_LOOPS, sender=alice)
    sender = host.account(caller, 1_000)
    value = 7 if function == "pay" else 0
    call_args = [host.account(a) if a == "bob" else a for a in args]
    result = host.transact(
        sender, loops, function, *call_args, value=value, gas_limit=gas_limit, trace=True
    )
    return tuple(result.trace), gas_limit, result


@cache
def _bank_trace() -> Any:
    """The trace of an honest wallet's withdrawal from the safe bank: one nested call."""
    host, alice, bank, _ = _deploy(_SAFE_BANK)
    wallet, _ = host.deploy(_WALLET, bank, sender=alice)
    host.transact(alice, wallet, "save", value=40)
    result = host.transact(alice, wallet, "take", 15, gas_limit=100_000, trace=True)
    return tuple(result.trace), 100_000, result


def _per_line(traced: Callable[[], Any]) -> Callable[[Any], str | None]:
    def verify(answer: Any) -> str | None:
        trace, gas_limit, result = traced()
        expected = _gas_by_line(trace, gas_limit)
        if type(answer) is not dict:
            return f"expected a dict (line -> gas), got a {type(answer).__name__}"
        if same(expected, answer):
            return None
        total = sum(v for v in answer.values() if type(v) is int)
        if total != result.gas_used:
            return f"the call used {result.gas_used} gas, but your lines add up to {total}"
        return f"the total is right but the lines are not; expected {expected}"

    return verify


def _args(traced: Callable[[], Any]) -> Callable[[], tuple[Any, int]]:
    return lambda: traced()[:2]


def _loops(function: str, *args: Any, **options: Any) -> Callable[[], Any]:
    return lambda: _traced(function, *args, **options)


define(
    "08.2",
    "Where does the gas go?",
    function="gas_by_line",
    points=2,
    hint="walk the rows in order: a row cost (gas left before it) - (its gas_left), and before "
    "the first row the gas left was gas_limit; add each row's cost to its line; return a dict",
)
add_cases(
    "08.2",
    [
        *(
            Case(name, _args(traced), verify=_per_line(traced), hint=hint)
            for name, traced, hint in [
                (
                    "compute(3): a loop over locals",
                    _loops("compute", 3),
                    "the first row's cost is gas_limit - its gas_left",
                ),
                (
                    "store(3): storage in a loop",
                    _loops("store", 3),
                    "a row's cost is the drop in gas_left from the row before it, not gas_left",
                ),
                (
                    "guarded(5) by a stranger: reverted",
                    _loops("guarded", 5, caller="mallory"),
                    "a reverted call's rows still account for all the gas it used",
                ),
                ("pay(bob) with 7 coins: a transfer and an event", _loops("pay", "bob"), ""),
            ]
        ),
    ],
)


# --- 08.3 a bank safe from reentrancy ------------------------------------------------------------

_BANK = """
class Bank:
    def __init__(self):
        self.deposits = {}

    def deposit(self):
        require(value > 0, "send some coins to deposit")
        self.deposits[caller] = self.deposits.get(caller, 0) + value
        emit("Deposit", who=caller, amount=value)

    def withdraw(self, amount: int):
        have = self.deposits.get(caller, 0)
        require(0 < amount <= have, "you cannot withdraw more than you deposited")
        call(caller, "on_withdraw", amount, value=amount)
        self.deposits[caller] = have - amount
        emit("Withdraw", who=caller, amount=amount)

    def deposit_of(self, who: bytes) -> int:
        return self.deposits.get(who, 0)
"""

_SAFE_BANK = _BANK.replace(
    '        call(caller, "on_withdraw", amount, value=amount)\n'
    "        self.deposits[caller] = have - amount\n",
    "        self.deposits[caller] = have - amount\n"
    '        call(caller, "on_withdraw", amount, value=amount)\n',
)

_WALLET = """
class Wallet:
    def __init__(self, bank: bytes):
        self.bank = bank
        self.owner = caller
        self.received = 0

    def save(self):
        require(caller == self.owner, "only the owner")
        call(self.bank, "deposit", value=value)

    def take(self, amount: int):
        require(caller == self.owner, "only the owner")
        call(self.bank, "withdraw", amount)

    def on_withdraw(self, amount: int):
        require(caller == self.bank, "only the bank pays in")
        self.received += amount
"""

_ATTACKER = """
class Attacker:
    def __init__(self, bank: bytes):
        self.bank = bank
        self.owner = caller
        self.rounds = 0

    def attack(self):
        require(caller == self.owner, "only the owner")
        call(self.bank, "deposit", value=value)
        self.rounds = 0
        call(self.bank, "withdraw", value)

    def on_withdraw(self, amount: int):
        require(caller == self.bank, "only the bank pays in")
        if self.rounds < 3 and balance(self.bank) >= amount:
            self.rounds += 1
            call(self.bank, "withdraw", amount)
"""


class _Bank:
    """A student's bank on a LocalHost, with wallets for alice and bob."""

    def __init__(self, source: Any) -> None:
        self.host, self.alice, self.bank, self.problem = _deploy(source)
        self.bob = self.host.account("bob", 1_000)
        self.mallory = self.host.account("mallory", 1_000)
        self.wallets: dict[str, Any] = {}
        self.attackers: list[Any] = []
        if self.problem:
            return
        for name, owner in (("alice", self.alice), ("bob", self.bob)):
            address, _ = self.host.deploy(_WALLET, self.bank, sender=owner)
            self.wallets[name] = (owner, address)

    def save(self, name: str, amount: int) -> str | None:
        owner, wallet = self.wallets[name]
        result = self.host.transact(owner, wallet, "save", value=amount)
        return None if result.ok else f"{name}'s wallet could not deposit {amount}: {result.error}"

    def take(self, name: str, amount: int) -> Any:
        owner, wallet = self.wallets[name]
        return self.host.transact(owner, wallet, "take", amount)

    def owed(self, address: Any) -> Any:
        result = self.host.transact(self.alice, self.bank, "deposit_of", address)
        return result.return_value if result.ok else None

    def solvent(self) -> str | None:
        """The bank holds exactly what its books say it owes the wallets (and the attacker)."""
        customers = [w for _, w in self.wallets.values()] + list(self.attackers)
        owed = [self.owed(c) for c in customers]
        if any(not isinstance(o, int) for o in owed):
            return "deposit_of(who) must return the coins the bank owes who"
        held = self.host.balance(self.bank)
        if held != sum(owed):
            return f"the bank holds {held} coins but its books say it owes {sum(owed)}"
        return None

    def attack(self, deposit: int) -> tuple[Any, Any]:
        address, _ = self.host.deploy(_ATTACKER, self.bank, sender=self.mallory)
        self.attackers.append(address)
        result = self.host.transact(self.mallory, address, "attack", value=deposit)
        return address, result


def _honest(saves: dict[str, int], takes: list[tuple[str, int]]) -> Callable[[Any], str | None]:
    """Wallets save, then take out in order: every withdrawal works, is booked by the wallet,
    and the bank stays solvent."""

    def verify(source: Any) -> str | None:
        bank = _Bank(source)
        if bank.problem:
            return bank.problem
        for name, amount in saves.items():
            if problem := bank.save(name, amount):
                return problem
        received = dict.fromkeys(saves, 0)
        for name, amount in takes:
            result = bank.take(name, amount)
            if not result.ok:
                return f"{name}'s wallet could not withdraw {amount}: {result.error}"
            received[name] += amount
        for name, (_, wallet) in bank.wallets.items():
            booked = bank.host.read(wallet).get("received")
            if booked != received.get(name, 0):
                return (
                    f"{name}'s wallet booked {booked} coins in on_withdraw, expected "
                    f"{received.get(name, 0)}: pay with call(caller, 'on_withdraw', amount, "
                    "value=amount)"
                )
            if bank.host.balance(wallet) != received.get(name, 0):
                return f"{name}'s wallet holds {bank.host.balance(wallet)} coins"
            owed = saves.get(name, 0) - received.get(name, 0)
            if bank.owed(wallet) != owed:
                return f"deposit_of({name}'s wallet) is {bank.owed(wallet)!r}, expected {owed}"
        return bank.solvent()

    return verify


def _refuses_overdraft(source: Any) -> str | None:
    bank = _Bank(source)
    if bank.problem:
        return bank.problem
    if problem := bank.save("alice", 30):
        return problem
    for amount in (31, 0):
        result = bank.take("alice", amount)
        if result.status != "reverted":
            return f"withdrawing {amount} of 30 should be reverted, but was {result.status!r}"
    return bank.solvent()


def _resists(deposit: int, others: int) -> Callable[[Any], str | None]:
    """Alice saves ``others``; the attacker deposits ``deposit`` and re-enters withdraw. It may
    get its own deposit back, never more, and the bank must stay solvent."""

    def verify(source: Any) -> str | None:
        bank = _Bank(source)
        if bank.problem:
            return bank.problem
        if problem := bank.save("alice", others):
            return problem
        attacker, result = bank.attack(deposit)
        got = bank.host.balance(attacker)
        still_owed = bank.owed(attacker) or 0
        if got + still_owed > deposit or got > deposit:
            return (
                f"the attacker deposited {deposit} and got {got} coins out "
                f"(status {result.status}): update the books before you call out"
            )
        if problem := bank.solvent():
            return f"after the attack {problem}"
        result = bank.take("alice", others)
        if not result.ok:
            return f"after the attack, alice could not withdraw her {others}: {result.error}"
        return None

    return verify


define(
    "08.3",
    "A bank safe from reentrancy",
    function="safe_bank",
    points=3,
    hint="checks, effects, interactions: require first, then lower self.deposits[caller], and "
    "only then call(caller, 'on_withdraw', amount, value=amount)",
)
add_cases(
    "08.3",
    [
        Case(
            "alice saves 30 and takes 10, bob saves 45 and takes 45",
            (),
            verify=_honest({"alice": 30, "bob": 45}, [("alice", 10), ("bob", 45)]),
            hint="keep the interface: deposit(), withdraw(amount) paying with call(caller, "
            "'on_withdraw', amount, value=amount), deposit_of(who)",
        ),
        Case("withdrawing more than you deposited is reverted", (), verify=_refuses_overdraft),
        Case("an attacker re-entering withdraw gains nothing", (), verify=_resists(25, 75)),
        Case(
            "two withdrawals in a row",
            (),
            verify=_honest({"alice": 30}, [("alice", 10), ("alice", 20)]),
            hint="if you use a lock, release it at the end of withdraw",
        ),
    ],
)


# --- 08.4 what failures cost -------------------------------------------------------------------

_COUNTER = """
class Counter:
    def __init__(self):
        self.count = 0
        self.owner = caller

    def increment(self):
        self.count += 1
        return self.count

    def reset(self):
        require(caller == self.owner, "only the owner may reset")
        self.count = 0

    def spin(self):
        while True:
            pass
"""

_NAMES = ("alice", "bob", "carol", "miner")


@cache
def _block(plan: tuple[tuple[str, str, int], ...]) -> Any:
    """(block, receipts): a chain with a Counter (deployed by alice in block 1); block 2 holds
    one transaction per (sender, what, gas) of ``plan``: a call of what, or "pay" (a plain
    transfer of 5 to alice with fee gas)."""
    from blockkit.chain import Chain
    from blockkit.execution import call_transaction, contract_address, deploy_transaction
    from blockkit.keys import PrivateKey
    from blockkit.params import CLASSROOM
    from blockkit.transactions import sign_transaction

    keys = {n: PrivateKey.from_seed(f"l08-{n}") for n in _NAMES}
    chain = Chain(CLASSROOM, allocations={keys[n].address: 100_000 for n in _NAMES[:3]})
    chain_id = CLASSROOM.chain_id
    deploy = deploy_transaction(keys["alice"], _COUNTER, [], nonce=0, chain_id=chain_id, gas=9_000)
    counter = contract_address(keys["alice"].address, 0)
    chain.add_block(chain.mine_block([deploy], proposer=keys["miner"].address, timestamp=10))
    nonces = {n: chain.nonce(keys[n].address) for n in _NAMES}
    transactions = []
    for sender, what, gas in plan:
        key, nonce = keys[sender], nonces[sender]
        nonces[sender] += 1
        if what == "pay":
            tx = sign_transaction(
                key, keys["alice"].address, 5, nonce=nonce, chain_id=chain_id, fee=gas
            )
        else:
            tx = call_transaction(key, counter, what, [], nonce=nonce, chain_id=chain_id, gas=gas)
        transactions.append(tx)
    block = chain.mine_block(transactions, proposer=keys["miner"].address, timestamp=20)
    chain.add_block(block)
    return block, chain.receipts(block.hash)


def _wasted(block: Any, receipts: Any) -> dict[str, int]:
    wasted: dict[str, int] = {}
    for tx, receipt in zip(block.transactions, receipts, strict=True):
        if receipt.status != "ok":
            sender = str(tx.sender)
            wasted[sender] = wasted.get(sender, 0) + receipt.fee_paid
    return wasted


_PLANS: dict[str, tuple[tuple[tuple[str, str, int], ...], str]] = {
    "every transaction succeeds": (
        (("alice", "increment", 5_000), ("bob", "increment", 5_000), ("alice", "reset", 5_000)),
        "a receipt whose status is 'ok' wasted nothing",
    ),
    "bob's reset is reverted": (
        (("alice", "increment", 5_000), ("bob", "reset", 5_000)),
        "a reverted transaction pays receipt.fee_paid (the gas it used), not its whole fee",
    ),
    "carol's spin runs out of gas": (
        (("carol", "spin", 3_000), ("bob", "increment", 5_000)),
        "'out-of-gas' is a failure too: every status other than 'ok' is",
    ),
    "a fault: a function that does not exist": (
        (("bob", "withdraw", 4_000), ("alice", "pay", 7)),
        "'fault' is a failure too; key the dict by str(tx.sender), the '0x…' address",
    ),
    "two failures by one sender add up": (
        (("bob", "reset", 5_000), ("carol", "increment", 5_000), ("bob", "spin", 2_000)),
        "add up every failed transaction of the same sender",
    ),
}


def _failures(plan: tuple[tuple[str, str, int], ...]) -> Callable[[Any], str | None]:
    def verify(answer: Any) -> str | None:
        block, receipts = _block(plan)
        expected = _wasted(block, receipts)
        if type(answer) is not dict:
            return f"expected a dict (sender -> coins), got a {type(answer).__name__}"
        if same(expected, answer):
            return None
        return f"expected {expected}"

    return verify


define(
    "08.4",
    "What did the failures cost?",
    function="wasted_fees",
    points=2,
    hint="zip(block.transactions, receipts): for each receipt whose status is not 'ok', add "
    "receipt.fee_paid to wasted[str(tx.sender)]",
)
add_cases(
    "08.4",
    [
        Case(name, (lambda plan=plan: _block(plan)), verify=_failures(plan), hint=hint)
        for name, (plan, hint) in _PLANS.items()
    ],
)
