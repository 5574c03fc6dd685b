"""Checks students run in their notebooks: ``check("03.2", merkle_root)``.

A check looks the exercise up in the registry, calls the student's function on each visible case,
and prints a short verdict: passed, or for the first failures what was called, what was expected,
what came back, and a hint. A failed check raises ``CheckFailed`` so that the notebook (and the
grader, which runs notebooks with nbval) sees the cell fail; inside IPython that exception shows
as one red line, never a traceback, because the verdict above it already says everything.

Checks take the function object itself, so re-running the answer cell and then the check cell is
all a student ever does: no module to reload, nothing cached between runs.

Comparison is strict on purpose. A result must have the expected type, and builtin values are
compared with the builtin type's own ``__eq__``: an object whose ``__eq__`` always says True (or a
``bytes`` subclass that overrides it) cannot talk its way into points.
"""

from __future__ import annotations

import os
import sys
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from blockkit.grading.registry import NO_VALUE, Case, Exercise, get_exercise

__all__ = [
    "CallOutcome",
    "CaseOutcome",
    "CheckFailed",
    "CheckResult",
    "NotDoneYet",
    "Raised",
    "Returned",
    "call_locally",
    "call_text",
    "check",
    "judge",
    "run_cases",
    "same",
]

_SHOW_FAILURES = 2
_REPR_LIMIT = 100
_PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class CheckFailed(AssertionError):
    """A check did not pass; the printed verdict says why."""


class NotDoneYet(CheckFailed):
    """The answer still raises ``NotImplementedError``: the exercise has not been attempted."""


@dataclass(frozen=True)
class CaseOutcome:
    """What happened when one case ran."""

    case: Case
    passed: bool
    problem: str = ""
    """Why it failed, in a sentence (empty when it passed)."""
    call: str = ""
    expected: str = ""
    got: str = ""
    not_implemented: bool = False


@dataclass(frozen=True)
class CheckResult:
    """Every case's outcome for one exercise and one answer."""

    exercise: Exercise
    outcomes: tuple[CaseOutcome, ...]

    @property
    def passed(self) -> bool:
        """True when there was at least one case and every case passed."""
        return bool(self.outcomes) and all(o.passed for o in self.outcomes)

    @property
    def not_started(self) -> bool:
        """True when every failure is the stub's ``NotImplementedError``."""
        failures = self.failures
        return bool(failures) and all(o.not_implemented for o in failures)

    @property
    def failures(self) -> list[CaseOutcome]:
        """The outcomes that failed, in case order."""
        return [o for o in self.outcomes if not o.passed]

    @property
    def points(self) -> int:
        """Points earned: all of the exercise's points, or none."""
        return self.exercise.points if self.passed else 0

    def verdict(self) -> str:
        """The text a student sees."""
        ex = self.exercise
        head = f"{ex.id} {ex.function}"
        total = len(self.outcomes)
        if not self.outcomes:
            return f"✘ {head}: no cases to run; ask your instructor (0/{ex.points} points)"
        if self.passed:
            return f"✔ {head}: passed all {total} checks · {ex.points}/{ex.points} points"
        if self.not_started:
            return (
                f"… {head}: not answered yet. Replace `raise NotImplementedError` in "
                f"{ex.function} with your code, run that cell, then run this check again. "
                f"(0/{ex.points} points)"
            )
        failures = self.failures
        lines = [f"✘ {head}: {len(failures)} of {total} checks failed · 0/{ex.points} points"]
        for outcome in failures[:_SHOW_FAILURES]:
            lines.append(f"  • {outcome.case.name}: {outcome.problem}")
            if outcome.case.hidden:
                lines.append("      (a hidden case: its inputs are not shown)")
            else:
                if outcome.call:
                    lines.append(f"      called:   {outcome.call}")
                if outcome.expected:
                    lines.append(f"      expected: {outcome.expected}")
                if outcome.got:
                    lines.append(f"      got:      {outcome.got}")
            hint = outcome.case.hint or ex.hint
            if hint:
                lines.append(f"      hint:     {hint}")
        if len(failures) > _SHOW_FAILURES:
            lines.append(f"  … and {len(failures) - _SHOW_FAILURES} more; fix these first.")
        return "\n".join(lines)


def show(value: Any) -> str:
    """A short, readable rendering of a value for a verdict (bytes as hex, long values cut)."""
    if isinstance(value, bytes):
        raw = bytes.hex(value)
        if len(value) <= 16:
            text = repr(bytes(value))
        elif len(value) <= 40:
            text = f"bytes.fromhex('{raw}')"
        else:
            text = f"{len(value)} bytes: {raw[:32]}…"
    else:
        try:
            text = repr(value)
        except Exception as exc:  # a student's object whose repr is broken
            text = f"<{type(value).__name__} (repr failed: {exc})>"
    if len(text) > _REPR_LIMIT:
        text = text[: _REPR_LIMIT - 1] + "…"
    return text


_EXACT = (bool, int, float, str, bytes, type(None))


def same(expected: Any, got: Any) -> bool:
    """True when ``got`` is ``expected``'s type and equal to it, judged by trusted code only."""
    for base in _EXACT:
        if type(expected) is base:
            if base is int and isinstance(got, bool):
                return False
            if not isinstance(got, base):
                return False
            return base.__eq__(expected, got) is True
    if isinstance(expected, (list, tuple)):
        return (
            type(got) is type(expected)
            and len(got) == len(expected)
            and all(same(e, g) for e, g in zip(expected, got, strict=True))
        )
    if isinstance(expected, dict):
        if type(got) is not dict or len(got) != len(expected):
            return False
        return all(
            any(same(key, k) for k in got) and same(value, got[key])
            for key, value in expected.items()
        )
    # Anything else (blockkit's own dataclasses): the exact class, so the class's own, trusted
    # __eq__ is the one that runs, never one supplied by the answer.
    return type(got) is type(expected) and bool(expected == got)


def _type_name(value: Any) -> str:
    return type(value).__name__


def qualified_name(kind: type) -> str:
    """``module.qualname`` of a class: how a raised exception is named across processes."""
    return f"{kind.__module__}.{kind.__qualname__}"


@dataclass(frozen=True)
class Returned:
    """A call returned ``value``."""

    value: Any


@dataclass(frozen=True)
class Raised:
    """A call raised an exception, described by names only (it may come from another process)."""

    types: tuple[str, ...]
    """``qualified_name`` of the exception's class, then of each of its bases."""
    message: str
    where: str = ""
    """Where in the student's code it was raised (`` (at line 3: ...)``), when known."""

    @classmethod
    def of(cls, exc: BaseException) -> Raised:
        """Describe an exception caught in this process."""
        return cls(
            tuple(qualified_name(k) for k in type(exc).__mro__),
            _safe_str(exc),
            _where(exc.__traceback__),
        )

    @property
    def name(self) -> str:
        """The exception's class name (``ValueError``)."""
        return self.types[0].rsplit(".", 1)[-1] if self.types else "Exception"

    def is_a(self, kind: type[BaseException]) -> bool:
        """True when the exception was a ``kind`` (or a subclass of it)."""
        return qualified_name(kind) in self.types


CallOutcome = Returned | Raised
"""What one call of a student's function did."""


def _safe_str(exc: BaseException) -> str:
    try:
        return str(exc)[:300]
    except Exception:
        return "(the exception's message could not be shown)"


def _where(tb: Any) -> str:
    """The last line of the student's own code in a traceback, if any."""
    for frame in reversed(traceback.extract_tb(tb)):
        if not frame.filename.startswith(_PACKAGE_DIR) and "site-packages" not in frame.filename:
            return f" (at line {frame.lineno}: {(frame.line or '').strip()})"
    return ""


def call_text(function: str, args: tuple[Any, ...]) -> str:
    """How a call is shown to a student: ``merkle_root([b'a', b'b'])``."""
    shown = ", ".join(show(a) for a in args)
    return f"{function}({shown})"


def call_locally(answer: Callable[..., Any], args: tuple[Any, ...]) -> CallOutcome:
    """Call ``answer`` in this process (a student's own check in their own kernel)."""
    try:
        return Returned(answer(*args))
    except Exception as exc:
        return Raised.of(exc)


def judge(case: Case, call: str, outcome: CallOutcome) -> CaseOutcome:
    """Judge what one call did against what ``case`` expects (always in trusted code)."""
    if isinstance(outcome, Raised):
        if outcome.is_a(NotImplementedError):
            return CaseOutcome(case, False, "not written yet", call, not_implemented=True)
        if case.raises is not None and outcome.is_a(case.raises):
            return CaseOutcome(case, True)
        expected = (
            f"it to raise {case.raises.__name__}"
            if case.raises is not None
            else _expected_text(case)
        )
        return CaseOutcome(
            case,
            False,
            f"your function raised {outcome.name}: {outcome.message}{outcome.where}",
            call,
            expected,
        )
    result = outcome.value
    if case.raises is not None:
        return CaseOutcome(
            case,
            False,
            f"it should have raised {case.raises.__name__}, but returned normally",
            call,
            f"{case.raises.__name__} raised",
            show(result),
        )
    if case.verify is not None:
        try:
            problem = case.verify(result)
        except Exception as exc:  # the result was not even the right kind of thing
            problem = f"the result could not be checked ({type(exc).__name__}: {exc})"
        if problem:
            return CaseOutcome(case, False, problem, call, "", show(result))
        return CaseOutcome(case, True)
    if same(case.expected, result):
        return CaseOutcome(case, True)
    if type(result) is not type(case.expected) and not (
        isinstance(case.expected, bytes) and isinstance(result, bytes)
    ):
        problem = f"expected a {_type_name(case.expected)}, got a {_type_name(result)}"
    else:
        problem = "wrong value"
    return CaseOutcome(case, False, problem, call, show(case.expected), show(result))


def _expected_text(case: Case) -> str:
    return show(case.expected) if case.expected is not NO_VALUE else ""


def run_cases(
    exercise_id: str, answer: Callable[..., Any], *, include_hidden: bool = False
) -> CheckResult:
    """Run an exercise's cases against ``answer`` and return every outcome (prints nothing)."""
    exercise = get_exercise(exercise_id)
    if not callable(answer):
        raise TypeError(
            f"check({exercise_id!r}, ...) takes your function itself, e.g. "
            f"check({exercise_id!r}, {exercise.function}), not {_type_name(answer)}"
        )
    cases = exercise.cases if include_hidden else exercise.visible_cases()
    outcomes = []
    for case in cases:
        args = case.arguments()
        call = call_text(exercise.function, args)
        outcomes.append(judge(case, call, call_locally(answer, args)))
    return CheckResult(exercise, tuple(outcomes))


def check(exercise_id: str, answer: Callable[..., Any]) -> None:
    """Run the visible cases of ``exercise_id`` on ``answer`` and print a verdict.

    Raises ``CheckFailed`` (``NotDoneYet`` for an untouched stub) when a case fails, so the cell is
    marked as failed; in a notebook only the verdict and one short line are shown.
    """
    _install_ipython_handler()
    result = run_cases(exercise_id, answer)
    print(result.verdict())
    if not result.passed:
        error = NotDoneYet if result.not_started else CheckFailed
        raise error(f"{exercise_id} is not passed yet (see above)")


_handler_installed_in: set[int] = set()


def _install_ipython_handler() -> None:
    """Show ``CheckFailed`` in IPython as one line, not a traceback into the checker."""
    ipython_module = sys.modules.get("IPython")
    if ipython_module is None:
        return
    shell = ipython_module.get_ipython()
    if shell is None or id(shell) in _handler_installed_in:
        return

    def short(
        shell: Any, etype: type[BaseException], value: BaseException, tb: Any, tb_offset: Any = None
    ) -> list[str]:
        stb = [f"\x1b[0;31m{etype.__name__}\x1b[0m: {value}"]
        shell._showtraceback(etype, value, stb)
        return stb

    shell.set_custom_exc((CheckFailed,), short)
    _handler_installed_in.add(id(shell))
