"""The trace stepper behind lesson 08: what each step shows, and the widget's buttons."""

from __future__ import annotations

import pytest

from blockkit.contracts import LocalHost
from blockkit.contracts.local import COUNTER_EXAMPLE
from blockkit.contracts.vm import GAS_STEP, GAS_STORAGE_READ, GAS_STORAGE_WRITE
from blockkit.widgets.contracts import call_gas_limit, mark_line, trace_stepper, trace_view


@pytest.fixture
def counter():
    """A counter at 1, and the traced result of incrementing it to 2 with 5,000 gas."""
    host = LocalHost()
    alice = host.account("alice", 10)
    address, _ = host.deploy(COUNTER_EXAMPLE, sender=alice)
    host.transact(alice, address, "increment")
    return host, alice, address, host.transact(alice, address, "increment", gas_limit=5_000,
                                               trace=True)  # fmt: skip


def test_each_step_shows_its_line_gas_and_the_storage_written_so_far(counter):
    *_, result = counter
    assert result.ok and result.return_value == 2
    first = trace_view(result, COUNTER_EXAMPLE, 1)
    assert (first.step, first.steps, first.line) == (1, len(result.trace), 7)
    assert first.gas_step == first.gas_spent == GAS_STEP and first.gas_left == 5_000 - GAS_STEP
    assert first.written == {}
    assert "▶ 7 │         self.count += 1" in first.source
    assert "  8 │         return self.count" in first.source
    assert "nothing written yet" in first.report()

    write = next(i for i, s in enumerate(result.trace, 1) if s.operation.startswith("storage w"))
    view = trace_view(result, COUNTER_EXAMPLE, write)
    assert view.gas_step >= GAS_STORAGE_WRITE and view.written == {"count": 2}
    read = trace_view(result, COUNTER_EXAMPLE, write - 1)
    assert read.operation == "storage read count" and read.gas_step >= GAS_STORAGE_READ
    assert read.written == {}

    last = trace_view(result, COUNTER_EXAMPLE, len(result.trace))
    assert last.gas_spent == result.gas_used and last.line == 8
    assert last.written == {"count": 2}
    assert "the call ended: ok" in last.report()
    # the steps' costs add up to the gas the call used
    total = sum(trace_view(result, COUNTER_EXAMPLE, s).gas_step for s in range(1, last.steps + 1))
    assert total == result.gas_used == call_gas_limit(result) - last.gas_left


def test_a_call_out_of_gas_used_its_whole_limit_and_says_its_writes_were_undone(counter):
    host, alice, address, _ = counter
    result = host.transact(alice, address, "increment", gas_limit=650, trace=True)
    assert result.status == "out-of-gas" and call_gas_limit(result) == 650
    last = trace_view(result, COUNTER_EXAMPLE, len(result.trace))
    assert last.written == {"count": 3}  # written, then undone when the gas ran out
    assert "out-of-gas (so every write above was undone)" in last.report()
    assert host.read(address) == {"count": 2}  # unchanged by the failed call


def test_bad_input_is_refused_with_a_reason(counter):
    host, alice, address, result = counter
    with pytest.raises(ValueError, match="from 1 to"):
        trace_view(result, COUNTER_EXAMPLE, 0)
    with pytest.raises(ValueError, match="trace=True"):
        trace_view(host.transact(alice, address, "increment"), COUNTER_EXAMPLE, 1)


def test_mark_line_numbers_lines_and_can_keep_a_window():
    source = "\n\nclass A:\n    def f(self):\n        return 1\n\n"
    assert mark_line(source, 4) == (
        "  3 │ class A:\n▶ 4 │     def f(self):\n  5 │         return 1"
    )
    assert mark_line(COUNTER_EXAMPLE, 7, context=1).splitlines() == [
        "  6 │     def increment(self):",
        "▶ 7 │         self.count += 1",
        "  8 │         return self.count",
    ]


def test_stepper_buttons_and_slider_move_through_the_trace(counter):
    *_, result = counter
    box = trace_stepper(result, COUNTER_EXAMPLE)
    (back, step, forward), panel = box.children[0].children, box.children[1]
    assert (step.value, step.min, step.max) == (1, 1, len(result.trace))
    assert "step 1 of" in panel.value and "▶ 7 │" in panel.value
    back.click()
    assert step.value == 1
    forward.click()
    assert step.value == 2 and "step 2 of" in panel.value
    step.value = step.max
    assert "▶ 8 │" in panel.value and "count = 2" in panel.value
    assert "the call ended: ok" in panel.value
    forward.click()
    assert step.value == step.max
    back.click()
    assert step.value == step.max - 1


def test_the_panel_escapes_the_source():
    source = "class Less:\n    def f(self, x: int):\n        return x < 3\n"
    host = LocalHost()
    alice = host.account("alice")
    address, _ = host.deploy(source, sender=alice)
    box = trace_stepper(host.transact(alice, address, "f", 1, trace=True), source)
    assert "return x &lt; 3" in box.children[1].value
