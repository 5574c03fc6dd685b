"""The hostile suite: contracts written to escape, hang or exhaust the interpreter.

Each attack must end with a clear error (at deployment or as a failed call), with its gas charged
where it ran, the ``LocalHost`` state exactly as before, and no Python-level effect (no file
written, no module imported, the process intact). Runs are bounded by a generous wall-clock alarm
(``bounded``) so a hang fails the test instead of stalling the suite; speed itself is never
asserted.
"""

from __future__ import annotations

import inspect
import os
import signal
import sys
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from blockkit.contracts import LocalHost, compile_contract
from blockkit.contracts.vm import MAX_CALL_DEPTH, PYTHON_STACK_BUDGET
from blockkit.errors import InvalidContract

GAS = 200_000
WALL_SECONDS = 30  # generous: a hang, not slowness, is what this catches


class Hung(Exception):
    """The run did not finish within the wall bound."""


@contextmanager
def bounded(seconds: int = WALL_SECONDS) -> Iterator[None]:
    """Fail with ``Hung`` if the block runs longer than ``seconds`` (POSIX alarm)."""

    def alarm(signum: int, frame: object) -> None:
        raise Hung(f"still running after {seconds} s")

    previous = signal.signal(signal.SIGALRM, alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _snapshot(host: LocalHost) -> tuple:
    return (dict(host.storage), list(host.events), dict(host.balances), dict(host.programs))


def _attack(body: str, *, gas: int = GAS, params: str = "", args: tuple = ()) -> tuple:
    """Deploy a contract whose method ``attack`` runs ``body``; return (result, host, before)."""
    lines = "\n".join("        " + line for line in body.splitlines())
    source = (
        "class Attacker:\n"
        "    def __init__(self):\n"
        "        self.mark = 1\n"
        f"    def attack(self{params}):\n"
        "        self.mark = 2\n"
        "        emit('Started')\n"
        f"{lines}\n"
    )
    host = LocalHost()
    alice = host.account("alice", 100)
    contract, deployed = host.deploy(source, sender=alice)
    assert deployed.ok, deployed.error
    before = _snapshot(host)
    with bounded():
        result = host.transact(alice, contract, "attack", *args, gas_limit=gas)
    assert not result.ok
    assert _snapshot(host) == before, "a failed call must leave the state untouched"
    assert host.read(contract) == {"mark": 1}
    assert 0 < result.gas_used <= gas
    return result, host, before


def _refused(source_body: str, words: str) -> None:
    lines = "\n".join("        " + line for line in source_body.splitlines())
    with bounded(), pytest.raises(InvalidContract) as caught:
        compile_contract(f"class C:\n    def f(self):\n{lines}\n")
    assert words in str(caught.value), str(caught.value)


# --- loops ---------------------------------------------------------------------------------------


def test_while_true_runs_out_of_gas():
    result, _, _ = _attack("while True:\n    pass")
    assert result.status == "out-of-gas" and result.gas_used == GAS
    assert "raise the gas limit" in result.error


def test_huge_range_runs_out_of_gas_without_building_it():
    result, _, _ = _attack("for i in range(10 ** 70):\n    pass")
    assert result.status == "out-of-gas" and result.gas_used == GAS


def test_loop_over_growing_list_is_stopped():
    result, _, _ = _attack("x = [1]\nfor i in x:\n    x.append(i)")
    assert result.status in ("out-of-gas", "fault")


# --- recursion -----------------------------------------------------------------------------------


def test_deep_self_recursion_hits_the_depth_limit():
    source = """
class R:
    def down(self, n: int):
        return self.down(n + 1)

    def ping(self, n: int):
        return self.pong(n)

    def pong(self, n: int):
        return self.ping(n)
"""
    host = LocalHost()
    alice = host.account("alice")
    contract, _ = host.deploy(source, sender=alice)
    for function in ("down", "ping"):
        with bounded():
            result = host.transact(alice, contract, function, 0, gas_limit=GAS)
        assert result.status == "fault" and f"depth limit {MAX_CALL_DEPTH}" in result.error
        assert 0 < result.gas_used < GAS


def test_contracts_calling_each_other_forever_hit_the_depth_limit():
    source = """
class Echo:
    def bounce(self, other: bytes):
        return call(other, "bounce", this)
"""
    host = LocalHost()
    alice = host.account("alice")
    a, _ = host.deploy(source, sender=alice)
    b, _ = host.deploy(source, sender=alice)
    with bounded():
        result = host.transact(alice, a, "bounce", b, gas_limit=GAS)
    assert result.status == "fault" and "depth limit" in result.error
    assert not host.storage and not host.events


def _deepest_call_source() -> str:
    """Nested calls at the deepest expression the language allows, ending in an encode of a
    value nested past the encoding limit: the most Python stack any call can use."""
    expression = "call(other, 'rec', this, n - 1)"
    source = ""
    for _ in range(64):
        candidate = f"-({expression})"
        source = f"""
class Deep:
    def rec(self, other: bytes, n: int):
        if n > 0:
            return {candidate}
        x = [1]
        for i in range(70):
            x = [x]
        return x
"""
        try:
            compile_contract(source)
        except InvalidContract:
            break
        expression = candidate
    return source.replace(candidate, expression)


def test_worst_case_stays_within_the_python_stack_budget():
    source = _deepest_call_source()
    compile_contract(source)
    host = LocalHost()
    alice = host.account("alice")
    a, _ = host.deploy(source, sender=alice)
    b, _ = host.deploy(source, sender=alice)
    old = sys.getrecursionlimit()
    sys.setrecursionlimit(len(inspect.stack()) + PYTHON_STACK_BUDGET)
    try:
        with bounded():
            result = host.transact(alice, a, "rec", b, MAX_CALL_DEPTH, gas_limit=GAS)
    finally:
        sys.setrecursionlimit(old)
    # it went all the way down and failed on the deep value, not on Python's recursion limit
    assert result.status == "fault" and "nested more than 64 levels" in result.error
    assert "too deeply for the interpreter" not in result.error


def test_a_deep_caller_stack_does_not_change_the_outcome():
    source = _deepest_call_source()
    host = LocalHost()
    alice = host.account("alice")
    a, _ = host.deploy(source, sender=alice)
    b, _ = host.deploy(source, sender=alice)
    shallow = host.transact(alice, a, "rec", b, 3, gas_limit=GAS)

    def nest(depth: int) -> object:
        return nest(depth - 1) if depth else host.transact(alice, a, "rec", b, 3, gas_limit=GAS)

    deep = nest(sys.getrecursionlimit() - len(inspect.stack()) - 30)
    assert deep == shallow


# --- allocations and integers --------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        "x = [0] * 10 ** 9",
        "x = 'a' * 10 ** 9",
        "x = b'a' * 10 ** 9",
        "x = [1]\nwhile True:\n    x = x + x",
        "x = 'ab'\nwhile True:\n    x = x + x",
        "x = [i for i in range(10 ** 9)]",
        "x = {i: i for i in range(10 ** 9)}",
        "x = [[1] * 1000 for i in range(10 ** 6)]",
    ],
)
def test_huge_allocations_are_refused(body):
    result, _, _ = _attack(body, gas=10_000_000)
    assert result.status in ("fault", "out-of-gas")
    assert "limit" in result.error or "out of gas" in result.error


@pytest.mark.parametrize(
    "body", ["x = 2 ** 2 ** 30", "x = 10 ** 10 ** 10", "x = 1 << 10 ** 9", "x = 2 ** 255 * 4"]
)
def test_huge_integers_overflow(body):
    result, _, _ = _attack(body)
    assert result.status == "fault" and "overflow" in result.error


def test_huge_literals_are_refused():
    _refused(f"x = {10**100}", "exceeds 2**256")
    _refused("x = " + "9" * 5000, "")
    _refused("x = '" + "a" * 70_000 + "'", "limit")
    with pytest.raises(InvalidContract, match="characters; the limit"):
        compile_contract("class C:\n    def f(self):\n        pass\n" + "#" * 70_000)


def test_self_containing_list_cannot_hang_a_comparison():
    result, _, _ = _attack("x = []\nx.append(x)\ny = x == x")
    assert result.status == "fault" and "containing itself" in result.error


# --- escapes -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ("x = ().__class__.__bases__", "__"),
        ("x = self.__dict__", "__"),
        ("x = __import__('os')", "__"),
        ("x = open('/etc/passwd')", "unknown function 'open'"),
        ("x = getattr(self, 'mark')", "unknown function 'getattr'"),
        ("setattr(self, 'mark', 3)", "unknown function 'setattr'"),
        ("x = vars()", "unknown function 'vars'"),
        ("x = globals()", "unknown function 'globals'"),
        ("x = locals()", "unknown function 'locals'"),
        ("x = type(1)", "unknown function 'type'"),
        ("x = eval('1')", "unknown function 'eval'"),
        ("exec('1')", "unknown function 'exec'"),
        ("x = compile('1', 'f', 'exec')", "unknown function 'compile'"),
        ("x = object", "unknown name 'object'"),
        ("x = '{0.__class__}'.format(1)", "format"),
        ("x = 'a'.format", "attribute .format"),
        ("x = '%s' % (1,)", "% formatting"),
        ("x = f'{caller!r}'", "f-strings"),
        ("x = f'{1:>{10**9}}'", "f-strings"),
        ("try:\n    pass\nexcept Exception:\n    pass", "try/except"),
        ("raise ValueError", "raise"),
        ("x = (i for i in [1]).gi_frame", "attribute .gi_frame"),
        ("yield 1", "yield"),
        ("x = [].__class__", "__"),
        ("x = caller.__class__", "__"),
        ("x = lambda: 0", "lambda"),
        ("import os", "imports"),
        ("from os import system", "imports"),
        ("x = __builtins__", "__"),
        ("x = {**{}}", "unpacking"),
        ("x = print", "unknown name 'print'"),
    ],
)
def test_escape_attempts_are_refused_at_deployment(body, words):
    _refused(body, words)


def test_deeply_nested_expressions_are_refused_at_deployment():
    for source in (
        "x = " + "(" * 10_000 + "1" + ")" * 10_000,
        "x = " + "-" * 10_000 + "1",
        "x = " + "1 + " * 10_000 + "1",
        "x = " + "[" * 150 + "]" * 150,
        "x = 0\n" + "".join(" " * 4 * i + "if x:\n" for i in range(90)) + " " * 360 + "pass",
    ):
        with bounded(), pytest.raises(InvalidContract):
            compile_contract("class C:\n    def f(self):\n" + _indent(source))


def _indent(text: str) -> str:
    return "\n".join("        " + line for line in text.splitlines()) + "\n"


def test_file_write_attempts_write_nothing(tmp_path):
    target = tmp_path / "pwned"
    for body in (
        f"open({str(target)!r}, 'w').write('x')",
        f"x = __import__('os').system('touch {target}')",
        "x = getattr(getattr(self, 'mark'), '__class__')",
    ):
        with pytest.raises(InvalidContract):
            compile_contract("class C:\n    def f(self):\n" + _indent(body))
    assert not target.exists() and list(tmp_path.iterdir()) == []


def test_the_interpreter_survives_every_attack():
    pid = os.getpid()
    for body in ("while True:\n    pass", "x = [0] * 10 ** 9", "x = 2 ** 2 ** 30"):
        _attack(body)
    host = LocalHost()
    alice = host.account("alice")
    counter, _ = host.deploy(
        "class C:\n    def f(self, n: int):\n        return n + 1\n", sender=alice
    )
    assert host.transact(alice, counter, "f", 41).return_value == 42
    assert os.getpid() == pid


def test_bad_values_from_outside_are_faults_not_crashes():
    host = LocalHost()
    alice = host.account("alice")
    source = "class C:\n    def f(self, x):\n        return x\n"
    contract, _ = host.deploy(source, sender=alice)
    for bad in (1.5, {1, 2}, object(), {1: "int key"}, [[[]]] * 3):
        result = host.transact(alice, contract, "f", bad)
        if result.ok:  # a list of lists is a fine value
            assert result.return_value == bad
        else:
            assert result.status == "fault" and "not a contract value" in result.error
