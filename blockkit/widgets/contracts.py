"""Stepping through a contract call: the source line that ran, the gas it cost, the storage it
wrote.

Run a call with ``trace=True`` (``LocalHost.transact(..., trace=True)``) and every metered step of
the interpreter leaves a row in ``result.trace`` (``blockkit.contracts.host.TraceStep``).
``trace_view(result, source, step)`` says what step ``step`` shows: the line, the source with that
line marked, the operation, the gas left, the gas spent so far and by this step, and every storage
slot written up to here. ``trace_stepper`` puts the same view behind Previous / Next buttons and a
slider; ``trace_df`` (``blockkit.contracts.vm``) gives the whole trace as a table.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from typing import Any

from blockkit.contracts.host import OUT_OF_GAS, CallResult

__all__ = ["TraceView", "call_gas_limit", "mark_line", "trace_stepper", "trace_view"]

_MARK = "▶"


@dataclass(frozen=True)
class TraceView:
    """What the stepper shows at one step of a traced call."""

    step: int
    """Which row of the trace (1 for the first)."""
    steps: int
    """How many rows the trace has."""
    line: int
    """The source line the step ran (1 = the first line of ``source``)."""
    operation: str
    """What ran: ``"storage write count"``, ``"call withdraw"``, ``"compare"``…"""
    gas_left: int
    """Gas left after this step."""
    gas_step: int
    """Gas this step cost (storage and memory costs included)."""
    gas_spent: int
    """Gas spent from the start of the call up to and including this step."""
    depth: int
    """Call depth of the traced frame (0 for a transaction's own call)."""
    written: dict[str, Any] = field(default_factory=dict)
    """Storage written so far: readable slot name -> latest value."""
    source: str = ""
    """The contract's source with line numbers and this step's line marked."""
    status: str = ""
    """How the whole call ended: ``"ok"``, ``"reverted"``, ``"out-of-gas"`` or ``"fault"``."""

    def report(self) -> str:
        """The view as text: a header line, the marked source, the storage written so far."""
        head = (
            f"step {self.step} of {self.steps} · line {self.line} · {self.operation}\n"
            f"gas: this step {self.gas_step}, spent so far {self.gas_spent}, left {self.gas_left}"
        )
        if self.written:
            storage = "\n".join(f"  {name} = {value!r}" for name, value in self.written.items())
        else:
            storage = "  (nothing written yet)"
        ending = ""
        if self.step == self.steps:
            ending = f"\nthe call ended: {self.status}"
            if self.status != "ok":
                ending += " (so every write above was undone)"
        return f"{head}\n\n{self.source}\n\nstorage written so far:\n{storage}{ending}"


def call_gas_limit(result: CallResult) -> int:
    """The gas limit a traced call ran with, recovered from the result.

    Every charge either adds a trace row or lowers the last row's ``gas_left``, so for a call that
    did not run out of gas ``limit = gas_used + last gas_left``; a call that ran out of gas used
    its whole limit."""
    if not result.trace:
        raise ValueError("the result has no trace: run the call with trace=True")
    if result.status == OUT_OF_GAS:
        return result.gas_used
    return result.gas_used + result.trace[-1].gas_left


def mark_line(source: str, line: int, *, context: int | None = None) -> str:
    """``source`` with line numbers and ``line`` marked with ▶; leading blank lines are skipped
    (their numbers are kept), and ``context`` keeps only that many lines either side."""
    lines = source.split("\n")
    first = 0
    while first < len(lines) - 1 and not lines[first].strip():
        first += 1
    last = len(lines)
    while last > first + 1 and not lines[last - 1].strip():
        last -= 1
    if context is not None:
        first = max(first, line - 1 - context)
        last = min(last, line + context)
    width = len(str(last))
    return "\n".join(
        f"{_MARK if number == line else ' '} {number:>{width}} │ {lines[number - 1]}"
        for number in range(first + 1, last + 1)
    )


def trace_view(result: CallResult, source: str, step: int) -> TraceView:
    """What step ``step`` (1 = the first row of ``result.trace``) of a traced call shows."""
    trace = result.trace
    if not trace:
        raise ValueError("the result has no trace: run the call with trace=True")
    if not 1 <= step <= len(trace):
        raise ValueError(f"step must be from 1 to {len(trace)}, not {step}")
    limit = call_gas_limit(result)
    row = trace[step - 1]
    before = limit if step == 1 else trace[step - 2].gas_left
    written: dict[str, Any] = {}
    for earlier in trace[:step]:
        written.update(earlier.storage)
    return TraceView(
        step=step,
        steps=len(trace),
        line=row.line,
        operation=row.operation,
        gas_left=row.gas_left,
        gas_step=before - row.gas_left,
        gas_spent=limit - row.gas_left,
        depth=row.depth,
        written=written,
        source=mark_line(source, row.line),
        status=result.status,
    )


def trace_stepper(result: CallResult, source: str, start: int = 1) -> Any:
    """Step through a traced call: ◀ / ▶ buttons, a slider over the rows, and a panel showing
    ``trace_view`` for the current row (the marked source, gas and storage written so far)."""
    import ipywidgets as widgets

    first = trace_view(result, source, start)  # checks the trace and the start step
    step = widgets.IntSlider(value=start, min=1, max=first.steps, description="step")
    back = widgets.Button(description="◀ previous")
    forward = widgets.Button(description="next ▶")
    panel = widgets.HTML()

    def show(_: object = None) -> None:
        view = trace_view(result, source, step.value)
        panel.value = "<pre>" + html.escape(view.report()) + "</pre>"

    back.on_click(lambda _: setattr(step, "value", max(step.min, step.value - 1)))
    forward.on_click(lambda _: setattr(step, "value", min(step.max, step.value + 1)))
    step.observe(show, names="value")
    show()
    return widgets.VBox([widgets.HBox([back, step, forward]), panel])
