"""The contract language and its interpreter: what runs, what it costs, what is refused."""

from __future__ import annotations

import pytest

from blockkit.contracts import LocalHost, compile_contract, trace_df
from blockkit.contracts.host import with_addresses
from blockkit.contracts.local import COUNTER_EXAMPLE
from blockkit.contracts.vm import GAS_STORAGE_READ, GAS_STORAGE_WRITE, slot_key
from blockkit.errors import InvalidContract
from blockkit.keys import Address

TOKEN = """
class Token:
    def __init__(self, supply: int):
        self.owner = caller
        self.supply = supply
        self.balances = {}
        self.balances[caller] = supply
        self.allowed = {}

    def transfer(self, to: bytes, amount: int):
        require(amount > 0, "amount must be positive")
        have = self.balances.get(caller, 0)
        require(have >= amount, "not enough tokens")
        self.balances[caller] = have - amount
        self.balances[to] = self.balances.get(to, 0) + amount
        emit("Transfer", sender=caller, to=to, amount=amount)
        return True

    def approve(self, spender: bytes, amount: int):
        self.allowed[caller, spender] = amount

    def allowance(self, owner: bytes, spender: bytes) -> int:
        return self.allowed.get([owner, spender], 0)

    def balance_of(self, who: bytes) -> int:
        return self.balances.get(who, 0)

    def mint(self, amount: int):
        require(caller == self.owner, "only the owner may mint")
        self.balances[caller] += amount
        self.supply += amount

    def burn_all(self):
        del self.balances[caller]
"""

PROXY = """
class Proxy:
    def forward(self, token: bytes, to: bytes, amount: int):
        ok = call(token, "transfer", to, amount)
        self.last = amount
        emit("Forwarded", amount=amount)
        return ok

    def pay(self, target: bytes, amount: int):
        transfer(target, amount)
        return balance(this)
"""


@pytest.fixture
def host() -> LocalHost:
    return LocalHost(block_height=5, timestamp=1000)


@pytest.fixture
def alice(host: LocalHost) -> bytes:
    return host.account("alice", 1_000)


@pytest.fixture
def bob(host: LocalHost) -> bytes:
    return host.account("bob")


def test_counter_counts_and_persists(host, alice):
    counter, result = host.deploy(COUNTER_EXAMPLE, sender=alice)
    assert result.ok, result.error
    for expected in (1, 2, 3):
        assert host.transact(alice, counter, "increment").return_value == expected
    assert host.read(counter) == {"count": 3}
    assert host.storage[(counter, slot_key("count"))]  # canonical slot key encode(["count"])


def test_token_transfer_events_and_mapping_slots(host, alice, bob):
    token, result = host.deploy(TOKEN, 100, sender=alice)
    assert result.ok, result.error
    result = host.transact(alice, token, "transfer", bob, 30)
    assert result.ok and result.return_value is True
    assert [(e.name, e.fields["amount"]) for e in result.events] == [("Transfer", 30)]
    assert host.events[-1].fields == {"sender": alice, "to": bob, "amount": 30}
    assert host.transact(alice, token, "balance_of", bob).return_value == 30
    assert host.transact(alice, token, "balance_of", alice).return_value == 70
    # each entry is its own slot, keyed by encode(["balances", key])
    assert (token, slot_key("balances", bob, entry=True)) in host.storage
    assert host.transact(alice, token, "approve", bob, 7).ok
    assert host.transact(alice, token, "allowance", alice, bob).return_value == 7
    assert host.transact(alice, token, "allowance", bob, alice).return_value == 0


def test_mapping_update_touches_one_slot(host, alice, bob):
    token, _ = host.deploy(TOKEN, 100, sender=alice)
    for i in range(20):  # a bigger mapping must not make one update dearer
        host.transact(alice, token, "transfer", host.account(f"user{i}"), 1)
    small = host.transact(alice, token, "mint", 1).gas_used
    assert small < 3 * GAS_STORAGE_READ + 2 * GAS_STORAGE_WRITE + 200
    rows = host.transact(alice, token, "mint", 1, trace=True).trace
    reads = [r.operation for r in rows if r.operation.startswith("storage read")]
    writes = [r.operation for r in rows if r.operation.startswith("storage write")]
    assert sum("balances" in op for op in reads) == 1
    assert sum("balances" in op for op in writes) == 1


def test_require_reverts_every_write_and_event(host, alice, bob):
    token, _ = host.deploy(TOKEN, 100, sender=alice)
    before = (dict(host.storage), list(host.events), dict(host.balances))
    result = host.transact(bob, token, "mint", 5)
    assert result.status == "reverted"
    assert result.error == "only the owner may mint"
    assert result.gas_used > 0 and not result.events
    result = host.transact(alice, token, "transfer", bob, 500)
    assert (result.status, result.error) == ("reverted", "not enough tokens")
    assert (dict(host.storage), list(host.events), dict(host.balances)) == before


def test_revert_after_writes_undoes_them(host, alice):
    source = """
class C:
    def __init__(self):
        self.x = 1

    def change(self):
        self.x = 2
        emit("Changed", x=2)
        revert("changed my mind")
"""
    contract, _ = host.deploy(source, sender=alice)
    result = host.transact(alice, contract, "change")
    assert (result.status, result.error) == ("reverted", "changed my mind")
    assert host.read(contract) == {"x": 1} and host.events == []


def test_runtime_faults_name_the_line_and_revert(host, alice):
    source = """
class C:
    def __init__(self):
        self.x = 1

    def divide(self, n: int):
        self.x = 5
        return 10 // n

    def missing(self):
        d = {"a": 1}
        return d["b"]

    def index(self):
        return [1, 2][5]
"""
    contract, _ = host.deploy(source, sender=alice)
    result = host.transact(alice, contract, "divide", 0)
    assert (
        result.status == "fault" and "line 8" in result.error and "division by zero" in result.error
    )
    assert host.read(contract) == {"x": 1}
    assert "missing" in host.transact(alice, contract, "missing").error
    assert "out of range" in host.transact(alice, contract, "index").error
    wrong = host.transact(alice, contract, "divide", "3")
    assert wrong.status == "fault" and "must be int" in wrong.error
    assert "takes 1 argument" in host.transact(alice, contract, "divide").error
    assert "no public function" in host.transact(alice, contract, "__init__").error


def test_private_methods_are_not_callable_from_outside(host, alice):
    source = """
class C:
    def _secret(self):
        return 42

    def open_door(self):
        return self._secret() + 1
"""
    contract, _ = host.deploy(source, sender=alice)
    assert host.transact(alice, contract, "open_door").return_value == 43
    result = host.transact(alice, contract, "_secret")
    assert result.status == "fault" and "no public function" in result.error
    # a typo is a fault like any other: it pays for the work done (one dispatch step), not the
    # whole gas limit
    assert result.gas_used == 1


def test_nested_call_and_failing_nested_call(host, alice, bob):
    token, _ = host.deploy(TOKEN, 100, sender=alice)
    proxy, _ = host.deploy(PROXY, sender=alice)
    assert host.transact(alice, token, "transfer", proxy, 50).ok
    result = host.transact(alice, proxy, "forward", token, bob, 20)
    assert result.ok and result.return_value is True
    assert [e.name for e in result.events] == ["Transfer", "Forwarded"]
    assert result.events[0].fields["sender"] == proxy  # the proxy is the token's caller
    assert host.transact(alice, token, "balance_of", bob).return_value == 20
    before = (dict(host.storage), list(host.events))
    failed = host.transact(alice, proxy, "forward", token, bob, 999)
    assert failed.status == "reverted" and "not enough tokens" in failed.error
    assert (dict(host.storage), list(host.events)) == before  # the proxy's write is undone too
    missing = host.transact(alice, proxy, "forward", host.account("nobody"), bob, 1)
    assert missing.status == "fault" and "no contract" in missing.error


def test_transfer_and_balance_from_a_contract(host, alice, bob):
    proxy, _ = host.deploy(PROXY, sender=alice)
    result = host.transact(alice, proxy, "pay", bob, 30, value=100)
    assert result.ok and result.return_value == 70
    assert host.balance(bob) == 30 and host.balance(alice) == 900
    result = host.transact(alice, proxy, "pay", bob, 1_000)
    assert result.status == "fault" and "cannot send" in result.error
    assert host.balance(bob) == 30 and host.balance(proxy) == 70


def test_gas_is_charged_and_grows_with_work(host, alice):
    source = """
class Loop:
    def spin(self, n: int):
        total = 0
        for i in range(n):
            total += i
        return total
"""
    contract, _ = host.deploy(source, sender=alice)
    used = [host.transact(alice, contract, "spin", n).gas_used for n in (0, 1, 10, 100)]
    assert used == sorted(used) and len(set(used)) == 4
    assert host.transact(alice, contract, "spin", 100).return_value == 4950
    tight = host.transact(alice, contract, "spin", 100, gas_limit=used[2])
    assert tight.status == "out-of-gas" and tight.gas_used == used[2]


def test_trace_rows_and_dataframe(host, alice):
    counter, _ = host.deploy(COUNTER_EXAMPLE, sender=alice)
    result = host.transact(alice, counter, "increment", trace=True)
    assert result.trace and [r.step for r in result.trace] == sorted(r.step for r in result.trace)
    gas = [r.gas_left for r in result.trace]
    assert gas == sorted(gas, reverse=True) and gas[-1] == 1_000_000 - result.gas_used
    writes = [r for r in result.trace if r.storage]
    assert [(r.line, r.storage) for r in writes] == [(7, {"count": 1})]
    table = trace_df(result)
    assert list(table.columns) == ["step", "line", "operation", "gas_left", "depth", "storage"]
    assert len(table) == len(result.trace)
    assert not host.transact(alice, counter, "increment").trace  # only when asked


def test_an_out_of_gas_trace_ends_with_the_charge_that_failed(host, alice):
    source = """
class Spin:
    def spin(self):
        while True:
            pass
"""
    contract, _ = host.deploy(source, sender=alice)
    result = host.transact(alice, contract, "spin", gas_limit=50, trace=True)
    assert result.status == "out-of-gas" and result.gas_used == 50
    last = result.trace[-1]
    assert last.operation.startswith("out of gas") and last.gas_left == 0 and last.line in (4, 5)
    # every unit of gas is accounted for by the rows
    spent = [50 - result.trace[0].gas_left] + [
        a.gas_left - b.gas_left for a, b in zip(result.trace, result.trace[1:], strict=False)
    ]
    assert sum(spent) == result.gas_used


def test_storage_and_events_show_addresses_as_addresses(host, alice, bob):
    token, _ = host.deploy(TOKEN, 100, sender=alice)
    event = host.transact(alice, token, "transfer", bob, 30).events[0]
    assert isinstance(event.fields["to"], Address) and event.fields["to"] == bob
    assert repr(event.fields["to"]).startswith("Address('0x")
    stored = host.read(token)
    assert all(isinstance(k, str) for k in stored) and stored["owner"] == alice
    assert isinstance(stored["owner"], Address)
    assert with_addresses({b"k" * 20: [b"x" * 20, b"short"]}) == {b"k" * 20: [b"x" * 20, b"short"]}
    assert type(with_addresses([b"short"])[0]) is bytes


def test_language_features(host, alice):
    source = """
class Features:
    def run(self, words: list) -> list:
        out = []
        a, b = 1, 2
        a, b = b, a
        squares = [i * i for i in range(5) if i % 2 == 0]
        table = {w: len(w) for w in words}
        for key in table:
            if key.startswith("x"):
                continue
            elif len(key) > 10:
                break
            out.append(key.upper())
        n = 0
        while n < 3:
            n += 1
        text = "-".join(sorted(out)) + str(n) + str(b"\\x01\\x02")
        return [a, b, squares, table, text, max(squares), sum(x for x in squares),
                min(3, 1, 2), abs(-4), 2 ** 10, -7 // 2, -7 % 2, 1 << 3, "ab" in "cab",
                len(sha256(b"x")), isinstance(n, int), isinstance(True, int), words[::-1],
                block_height, timestamp, value, [k for k, v in enumerate(words)]]
"""
    contract, _ = host.deploy(source, sender=alice)
    result = host.transact(alice, contract, "run", ["b", "xa", "c"])
    assert result.ok, result.error
    assert result.return_value == [
        2, 1, [0, 4, 16], {"b": 1, "xa": 2, "c": 1}, "B-C3" + "0x0102", 16, 20, 1, 4, 1024,
        -4, 1, 8, True, 32, True, False, ["c", "xa", "b"], 5, 1000, 0, [0, 1, 2],
    ]  # fmt: skip


def test_storage_lists_are_stored_whole_and_copied(host, alice):
    source = """
class Lists:
    def __init__(self):
        self.items = []

    def add(self, x: int):
        self.items.append(x)
        copy = self.items
        copy.append(99)
        self.items[0] += 100
        return self.items
"""
    contract, _ = host.deploy(source, sender=alice)
    assert host.transact(alice, contract, "add", 1).return_value == [101]
    assert host.transact(alice, contract, "add", 2).return_value == [201, 2]


def test_determinism_same_inputs_same_gas_and_storage():
    def run() -> tuple:
        host = LocalHost()
        alice, bob = host.account("alice", 10), host.account("bob")
        token, deployed = host.deploy(TOKEN, 100, sender=alice)
        results = [host.transact(alice, token, "transfer", bob, n) for n in (1, 2, 200, 3)]
        return (
            token,
            deployed.gas_used,
            [(r.status, r.gas_used, r.error) for r in results],
            sorted(host.storage.items()),
        )

    assert run() == run()


def test_compiled_program_has_hash_and_functions():
    program = compile_contract(TOKEN)
    assert program.name == "Token" and len(program.code_hash) == 32
    assert program.public_functions == (
        "transfer", "approve", "allowance", "balance_of", "mint", "burn_all",
    )  # fmt: skip
    assert program.mappings == {"balances", "allowed"}
    assert program.functions["transfer"].params == ("to", "amount")
    assert compile_contract(TOKEN).code_hash == program.code_hash
    assert compile_contract(TOKEN + "\n").code_hash != program.code_hash


def _method(body: str, params: str = "") -> str:
    lines = "\n".join("        " + line for line in body.splitlines())
    return f"class C:\n    def f(self{params}):\n{lines}\n"


REJECTED = [
    # (source, line, words in the message)
    ("import os\nclass C:\n    def f(self):\n        pass\n", 1, "imports"),
    (_method("import os"), 3, "imports"),
    (_method("x = lambda: 1"), 3, "lambda"),
    (_method("global y"), 3, "global"),
    (_method("try:\n    pass\nexcept:\n    pass"), 3, "try"),
    (_method("with x:\n    pass"), 3, "with"),
    (_method("yield 1"), 3, "yield"),
    (_method("assert 1"), 3, "require"),
    (_method("raise 1"), 3, "revert"),
    (_method("x = 1.5"), 3, "float"),
    (_method("x = 3 / 2"), 3, "//"),
    (_method("x = f'{1}'"), 3, "f-strings"),
    (_method("x = '%s' % 1"), 3, "% formatting"),
    (_method("x = 'a{}'.format(1)"), 3, ".format"),
    (_method("x = {1, 2}"), 3, "sets"),
    (_method("x = ().__class__"), 3, "__class__"),
    (_method("x = self.__dict__"), 3, "__"),
    (_method("x = open('f')"), 3, "unknown function 'open'"),
    (_method("x = getattr(self, 'a')"), 3, "unknown function 'getattr'"),
    (_method("x = y"), 3, "unknown name 'y'"),
    (_method("x = len"), 3, "can only be called"),
    (_method("x = self"), 3, "self can only be used"),
    (_method("x = caller.hex"), 3, "attribute .hex"),
    (_method("caller = 1"), 3, "builtin name"),
    (_method("def g():\n    pass"), 3, "functions inside methods"),
    (_method("x = [*a]", ", a"), 3, "starred"),
    (_method("(x := 1)"), 3, "walrus"),
    (_method("x = range(3)"), 3, "range(...) is only allowed"),
    (_method("break"), 3, "outside a loop"),
    (_method("x = 2 ** 300 * 2 ** 300 if 0 else 1" + "\ny = " + str(2**256)), 4, "exceeds 2**256"),
    ("class C:\n    @staticmethod\n    def f(self):\n        pass\n", 3, "decorators"),
    ("class C:\n    def f(self, *a):\n        pass\n", 2, "plain parameters"),
    ("class C:\n    def f(self, a=1):\n        pass\n", 2, "default"),
    ("class C:\n    x = 1\n    def f(self):\n        pass\n", 2, "only methods"),
    ("class C:\n    class D:\n        pass\n    def f(self):\n        pass\n", 2, "one class"),
    (
        "class C:\n    def __repr__(self):\n        return 1\n    def f(self):\n        pass\n",
        2,
        "__",
    ),
    ("class C(object):\n    def f(self):\n        pass\n", 1, "base classes"),
    ("class C:\n    def _f(self):\n        pass\n", 1, "no public method"),
    ("x = 1\nclass C:\n    def f(self):\n        pass\n", 1, "top level"),
    ("class C:\n    def f(self)\n", 2, "syntax error"),
    (
        "class C:\n    def __init__(self):\n        self.m = {}\n    def f(self):\n"
        "        return self.m\n",
        5,
        "mapping",
    ),
    (
        "class C:\n    def __init__(self):\n        self.m = {}\n    def f(self):\n"
        "        self.m = {}\n",
        5,
        "outside __init__",
    ),
]


@pytest.mark.parametrize(("source", "line", "words"), REJECTED)
def test_rejections_name_the_line(source, line, words):
    with pytest.raises(InvalidContract) as caught:
        compile_contract(source)
    assert caught.value.line == line, str(caught.value)
    assert words in str(caught.value)


def test_an_event_may_have_a_field_called_name():
    host = LocalHost()
    alice = host.account("alice")
    source = (
        "class Names:\n"
        "    def register(self, entry: str):\n"
        "        emit('Registered', name=entry, event_name='x')\n"
    )
    contract, _ = host.deploy(source, sender=alice)
    result = host.transact(alice, contract, "register", "tax-office")
    assert result.ok, result.error
    assert [(e.name, e.fields) for e in result.events] == [
        ("Registered", {"event_name": "x", "name": "tax-office"})
    ]
