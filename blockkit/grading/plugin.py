"""The grader's pytest plugin: nbval runs a graded notebook, this plugin judges its check cells.

``blockkit grade`` runs ``pytest --nbval-lax -p blockkit.grading.plugin --blockkit-grade`` over the
graded copies it made (the instructor's notebook with the student's answers spliced in). nbval runs
every cell in the student's kernel as usual, except check cells: a check cell's verdict must not
come from the kernel, whose code the student wrote and can bend (redefine ``check``, patch
blockkit, print a fake "passed"). So for a check cell this plugin, in the pytest process:

1. takes the exercise's cases from the registry, hidden cases included (loaded here from the
   instructor's files, never sent to the kernel);
2. for each case sends only the arguments into the kernel and has ``blockkit.grading.remote``
   call the student's function there; the reply is plain tagged JSON;
3. judges the reply here, with the same ``judge`` students' own checks use, and records the outcome
   as a JUnit property signed with a key only the grader knows.

The plugin also enforces what nbval does not: a time limit per notebook, a cap on the output one
cell (in a check cell, one call) may send (an output flood would otherwise fill the grader's
memory), and a time limit per case. A check cell that cannot finish still reports, so every check
is accounted for.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import pickle
import sys
import time
from collections import deque
from pathlib import Path
from queue import Empty
from typing import Any

import pytest

from blockkit.grading.check import (
    CallOutcome,
    CaseOutcome,
    CheckFailed,
    CheckResult,
    Raised,
    Returned,
    call_text,
    judge,
)
from blockkit.grading.registry import get_exercise, load_hidden_cases
from blockkit.grading.remote import MIME
from blockkit.grading.wire import Table, WireError, decode

KEY_VARIABLE = "BLOCKKIT_GRADE_KEY_FILE"
RECORD_PROPERTY = "blockkit-check"
PROGRESS_PREFIX = "blockkit-progress"
TIME_LIMIT = "blockkit.grading.TimeLimit"

_KEY: bytes = b""
_IS_WORKER = False


class GradingLimit(Exception):
    """A graded notebook broke one of the grader's limits (time, output)."""


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("blockkit", "blockkit grading (used by `blockkit grade`)")
    group.addoption("--blockkit-grade", action="store_true", help="judge check cells in the grader")
    group.addoption("--blockkit-hidden", action="append", default=[], help="hidden cases file")
    group.addoption("--blockkit-case-timeout", type=float, default=30.0)
    group.addoption("--blockkit-notebook-timeout", type=float, default=300.0)
    group.addoption("--blockkit-output-limit", type=int, default=2_000_000)


def pytest_configure(config: pytest.Config) -> None:
    global _KEY, _IS_WORKER
    if not config.getoption("blockkit_grade"):
        return
    workerinput = getattr(config, "workerinput", None)
    _IS_WORKER = workerinput is not None
    if workerinput is not None:
        _KEY = str(workerinput.get("blockkit_key", "")).encode()
    else:
        _KEY = _take_key()
    if not _KEY:
        raise pytest.UsageError(f"--blockkit-grade needs {KEY_VARIABLE} (blockkit grade sets it)")
    for path in config.getoption("blockkit_hidden"):
        load_hidden_cases(Path(path))


def _take_key() -> bytes:
    """Read the signing key from the file ``blockkit grade`` wrote, then delete the file.

    This runs before any kernel starts, so no student process can read the key: not from the
    environment (only the file's path was there, and it is gone from ``os.environ``) and not from
    the file (deleted).
    """
    path = os.environ.pop(KEY_VARIABLE, "")
    if not path:
        return b""
    try:
        key = Path(path).read_bytes().strip()
        Path(path).unlink()
    except OSError as exc:
        raise pytest.UsageError(f"cannot read the grading key file {path}: {exc}") from None
    return key


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: Any) -> None:
    """pytest-xdist: hand the key to each worker over its channel, never through a file."""
    if _KEY:
        node.workerinput["blockkit_key"] = _KEY.decode()


def sign(record: dict[str, Any], key: bytes) -> str:
    """``record`` as JSON followed by its HMAC, so a file edited afterwards is detected."""
    body = json.dumps(record, sort_keys=True)
    return body + "\n" + hmac.new(key, body.encode(), hashlib.sha256).hexdigest()


def verify_signed(text: str, key: bytes) -> dict[str, Any] | None:
    """The record ``sign`` wrote, or ``None`` when the text was not signed with ``key``."""
    body, _, mac = text.rpartition("\n")
    expected = hmac.new(key, body.encode(), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(mac, expected):
        return None
    record = json.loads(body)
    return record if isinstance(record, dict) else None


def pytest_collection_modifyitems(
    session: pytest.Session, config: pytest.Config, items: list[pytest.Item]
) -> None:
    if not config.getoption("blockkit_grade"):
        return
    from nbval.plugin import IPyNbCell

    for item in items:
        if not isinstance(item, IPyNbCell):
            continue
        meta = item.cell.metadata.get("blockkit", {})
        if meta.get("role") == "check":
            item.runtest = _check_runner(item, meta["exercise"])  # type: ignore[method-assign]
        else:
            item.runtest = _limited(item, item.runtest)  # type: ignore[method-assign]


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    """One progress line per finished check (read by ``blockkit grade`` for its progress bar)."""
    if _IS_WORKER or not _KEY:
        return
    if report.when == "call" and any(name == RECORD_PROPERTY for name, _ in report.user_properties):
        print(PROGRESS_PREFIX, file=sys.stderr, flush=True)


# --- limits -----------------------------------------------------------------------------------


def _notebook_state(item: Any) -> dict[str, Any]:
    """Per-notebook bookkeeping kept on nbval's file node: start time, output counter.

    Output is counted as it leaves the kernel, also while nbval waits for a cell to finish: nbval
    reads a cell's output only after the cell's reply, so a cell that prints in a loop would
    otherwise pile its output up in the grader's memory for the whole cell time limit. Messages
    read early are kept (up to the output limit) and handed to nbval in order.
    """
    notebook = item.parent
    state = notebook.__dict__.get("_blockkit")
    if state is None:
        state = {"start": time.monotonic(), "output": 0, "stopped": "", "pending": deque()}
        notebook._blockkit = state
        kernel = notebook.kernel
        pending: deque[Any] = state["pending"]
        original = notebook.get_kernel_message

        def counted(timeout: float | None = None, stream: str = "iopub") -> Any:
            if stream == "iopub" and pending:
                return pending.popleft()
            message = original(timeout=timeout, stream=stream)
            if stream == "iopub":
                _count_output(item.config, notebook, state, message)
            return message

        def await_reply(msg_id: str, timeout: float | None = None) -> None:
            deadline = None if timeout is None else time.monotonic() + timeout
            while True:
                while True:  # drain (and count) whatever output is waiting
                    try:
                        message = kernel.get_message(stream="iopub", timeout=0)
                    except Empty:
                        break
                    _count_output(item.config, notebook, state, message)
                    pending.append(message)
                try:
                    reply = kernel.get_message(stream="shell", timeout=0.05)
                except Empty:
                    if deadline is not None and time.monotonic() > deadline:
                        raise
                    continue
                if reply["parent_header"].get("msg_id") == msg_id:
                    if reply["content"]["status"] == "aborted":
                        raise RuntimeError("Kernel aborted execution request")
                    return

        def await_idle(parent_id: str, timeout: float | None) -> None:
            # nbval reads iopub here directly; read through ``counted`` so drained output counts.
            while True:
                message = counted(timeout=timeout)
                if (
                    message["parent_header"].get("msg_id") == parent_id
                    and message["msg_type"] == "status"
                    and message["content"].get("execution_state") == "idle"
                ):
                    return

        notebook.get_kernel_message = counted
        if kernel is not None:
            kernel.await_reply = await_reply
            kernel.await_idle = await_idle
    return state


def _size(value: Any, depth: int = 0) -> int:
    """Characters in a message's content, without copying it (a flood can be huge)."""
    if isinstance(value, str | bytes):
        return len(value)
    if depth > 20:
        return 1
    if isinstance(value, dict):
        return sum(len(str(k)) + _size(v, depth + 1) for k, v in value.items())
    if isinstance(value, list | tuple):
        return sum(_size(v, depth + 1) for v in value)
    return 8


def _count_output(config: pytest.Config, notebook: Any, state: dict[str, Any], msg: Any) -> None:
    if msg.get("msg_type") not in ("stream", "display_data", "execute_result", "error"):
        return
    state["output"] += _size(msg.get("content"))
    limit = config.getoption("blockkit_output_limit")
    if state["output"] > limit:
        _stop(notebook, state, f"output flood: a cell printed more than {limit:,} characters")
        raise GradingLimit(state["stopped"])


def _stop(notebook: Any, state: dict[str, Any], why: str) -> None:
    if not state["stopped"]:
        state["stopped"] = why
    kernel = notebook.kernel
    if kernel is not None and kernel.is_alive():
        kernel.stop()


def _before_cell(item: Any) -> dict[str, Any]:
    state = _notebook_state(item)
    state["output"] = 0
    limit = item.config.getoption("blockkit_notebook_timeout")
    if not state["stopped"] and time.monotonic() - state["start"] > limit:
        _stop(item.parent, state, f"time limit: the notebook ran for more than {limit:g} s")
    return state


def _limited(item: Any, runtest: Any) -> Any:
    def run() -> None:
        state = _before_cell(item)
        if state["stopped"]:
            raise GradingLimit(f"not run: {state['stopped']}")
        runtest()

    return run


# --- judged check cells -------------------------------------------------------------------------


def _check_runner(item: Any, exercise_id: str) -> Any:
    def run() -> None:
        state = _before_cell(item)
        exercise = get_exercise(exercise_id)
        outcomes = []
        limit = ""
        for case in exercise.cases:
            args = case.arguments()
            call = call_text(exercise.function, args)
            if limit:  # one case ran out of time: the others would too, and cost as much
                outcome: CallOutcome = Raised((TIME_LIMIT,), f"not run: {limit}")
            else:
                outcome = _remote_call(item, state, exercise.function, args)
                if isinstance(outcome, Raised) and outcome.types == (TIME_LIMIT,):
                    limit = f"case {case.name!r} did not finish within its time limit"
            outcomes.append(judge(case, call, outcome))
        result = CheckResult(exercise, tuple(outcomes))
        record = _record(item, result, state)
        record["limit"] = limit
        item.user_properties.append((RECORD_PROPERTY, sign(record, _KEY)))
        if not result.passed:
            raise CheckFailed(result.verdict())

    return run


def _stopped_outcome(state: dict[str, Any]) -> Raised:
    return Raised(("blockkit.grading.GradingLimit",), f"not run: {state['stopped']}")


def _remote_call(item: Any, state: dict[str, Any], function: str, args: tuple) -> CallOutcome:
    """Call the student's ``function`` in the kernel and read back what it did."""
    notebook = item.parent
    kernel = notebook.kernel
    if state["stopped"]:
        return _stopped_outcome(state)
    if kernel is None or not kernel.is_alive():
        _stop(notebook, state, "the kernel died (os._exit, a crash, or the memory limit)")
        return _stopped_outcome(state)
    state["output"] = 0  # in a check cell, the output limit applies to each call
    blob = base64.b64encode(pickle.dumps(args)).decode()
    code = (
        f"__import__('blockkit.grading.remote', fromlist=['serve'])"
        f".serve(globals().get({function!r}), {function!r}, {blob!r})"
    )
    msg_id = kernel.kc.execute(code, silent=False, store_history=False, allow_stdin=False)
    timeout = item.config.getoption("blockkit_case_timeout")
    deadline = time.monotonic() + timeout
    reply: Any = None
    interrupted = False
    while True:
        remaining = deadline - time.monotonic()
        try:
            if remaining <= 0:
                raise Empty
            message = notebook.get_kernel_message(timeout=min(remaining, 1.0))
        except Empty:
            if not kernel.is_alive():
                _stop(notebook, state, "the kernel died (os._exit, a crash, or the memory limit)")
                return _stopped_outcome(state)
            if time.monotonic() < deadline:
                continue
            if interrupted:
                _stop(notebook, state, f"a call did not stop within {timeout:g} s of interrupting")
                return _stopped_outcome(state)
            kernel.interrupt()
            interrupted = True
            deadline = time.monotonic() + 5
            continue
        except GradingLimit:
            return _stopped_outcome(state)
        if message["parent_header"].get("msg_id") != msg_id:
            continue
        kind = message["msg_type"]
        content = message["content"]
        if kind == "display_data" and MIME in content.get("data", {}):
            reply = content["data"][MIME]
        elif kind == "status" and content.get("execution_state") == "idle":
            break
    if interrupted:
        return Raised((TIME_LIMIT,), f"did not finish within {timeout:g} s")
    if reply is None:
        return Raised(("blockkit.grading.NoReply",), "the call ended without a result")
    return _read_reply(reply, args)


def _read_reply(reply: Any, args: tuple[Any, ...] = ()) -> CallOutcome:
    """Decode the kernel's claim about what the call did; anything malformed is a failure.

    A reply may also carry the arguments the call changed (snapshots of mutable blockkit objects,
    such as the capstone's ``Service``): each is rebuilt and put in place of the case's own
    argument object, so the case's judge, which kept that object, sees what the call did to it.
    """
    try:
        if type(reply) is dict and "returned" in reply:
            table = Table()
            returned = decode(reply["returned"], table=table)
            if "arguments" in reply:
                _restore(args, decode(reply["arguments"], table=table))
            return Returned(returned)
        if type(reply) is dict and type(reply.get("raised")) is dict:
            raised = reply["raised"]
            types = raised.get("types")
            if type(types) is list and all(type(t) is str for t in types) and types:
                return Raised(
                    tuple(t[:200] for t in types[:50]),
                    str(raised.get("message", ""))[:300],
                    str(raised.get("where", ""))[:300],
                )
    except (WireError, ValueError, RecursionError) as exc:
        return Raised(("blockkit.grading.BadReply",), f"the result could not be read: {exc}")
    return Raised(("blockkit.grading.BadReply",), "the result could not be read")


def _restore(args: tuple[Any, ...], changed: Any) -> None:
    """Give each argument the state the kernel sent for it (``WireError`` for a mismatch)."""
    from blockkit.grading.snapshot import is_snapshot_type

    if type(changed) is not list or len(changed) != len(args):
        raise WireError("the changed arguments must be a list, one entry per argument")
    for original, new in zip(args, changed, strict=True):
        if new is None:
            continue
        if type(new) is not type(original) or not is_snapshot_type(original):
            raise WireError("a changed argument must be of the type the grader sent")
    for original, new in zip(args, changed, strict=True):
        if new is not None:
            vars(original).clear()
            vars(original).update(vars(new))


def _record(item: Any, result: CheckResult, state: dict[str, Any]) -> dict[str, Any]:
    """What the grader reads back: per case pass/fail; hidden cases without inputs or answers."""

    def case(outcome: CaseOutcome) -> dict[str, Any]:
        shown = {
            "name": outcome.case.name,
            "hidden": outcome.case.hidden,
            "passed": outcome.passed,
            "problem": outcome.problem,
            "not_implemented": outcome.not_implemented,
            "hint": outcome.case.hint or result.exercise.hint,
        }
        if not outcome.case.hidden:
            shown.update(call=outcome.call, expected=outcome.expected, got=outcome.got)
        return shown

    return {
        "submission": Path(str(item.parent.path)).parent.name,
        "exercise": result.exercise.id,
        "cases": len(result.outcomes),
        "passed": result.passed,
        "points": result.points,
        "stopped": state["stopped"],
        "outcomes": [case(o) for o in result.outcomes],
    }
