"""The kernel's half of a graded call: run the student's function on one case, send back data.

The grader (``blockkit.grading.plugin``, in the pytest process) sends each case's arguments into
the student's kernel and asks this module to call the student's function. The answer goes back as
a display message of its own MIME type holding tagged JSON (``blockkit.grading.wire``): either the
value returned or the names of the exception raised. Judging happens in the grader.

This module runs inside the student's process, so nothing here is trusted: a student could replace
it. That gains nothing, because all it can do is claim a return value, which is what an honest
function does anyway; the expected answers never enter the kernel.
"""

from __future__ import annotations

import base64
import json
import pickle
from typing import Any

from blockkit.grading.check import Raised, qualified_name
from blockkit.grading.wire import Memo, WireError, encode

__all__ = ["MAX_REPLY", "MIME", "limit_resources", "serve"]

MIME = "application/vnd.blockkit.call+json"
MAX_REPLY = 500_000
"""Characters of one reply; a larger result is reported as too large instead of sent. The
capstone's replies are the largest: a whole service with its chain is about 120,000."""


def _raised(raised: Raised) -> dict[str, Any]:
    return {
        "raised": {"types": list(raised.types), "message": raised.message, "where": raised.where}
    }


def _returned(result: Any, args: tuple[Any, ...]) -> dict[str, Any]:
    """The reply for a call that returned: the result, and a snapshot of each argument that is a
    mutable blockkit object (the capstone's ``Service``), which the call may have changed and the
    grader judges too. One memo for both, so the result and an argument may share objects."""
    from blockkit.grading.snapshot import is_snapshot_type

    memo = Memo()
    reply = {"returned": encode(result, memo=memo)}
    changed = [a if is_snapshot_type(a) else None for a in args]
    if any(a is not None for a in changed):
        reply["arguments"] = encode(changed, memo=memo)
    return reply


def serve(function: Any, name: str, arguments: str) -> None:
    """Call ``function`` on the pickled ``arguments`` (made by the grader); publish the outcome.

    ``function`` is ``None`` when the notebook never defined ``name``.
    """
    from IPython.display import publish_display_data

    args = pickle.loads(base64.b64decode(arguments))  # written by the grader, never by a student
    if function is None:
        reply = _raised(
            Raised(
                (qualified_name(NameError),),
                f"{name} is not defined: the answer cell did not define it "
                "(renamed, or the cell failed?)",
            )
        )
    elif not callable(function):
        reply = _raised(
            Raised((qualified_name(TypeError),), f"{name} is a {type(function).__name__}")
        )
    else:
        try:
            reply = _returned(function(*args), args)
        except KeyboardInterrupt:
            raise
        except BaseException as exc:  # SystemExit too: a function that calls exit() failed
            reply = _raised(Raised.of(exc))
    try:
        text = json.dumps(reply)
    except (WireError, ValueError, RecursionError) as exc:
        text = json.dumps(_raised(Raised((qualified_name(WireError),), str(exc))))
    if len(text) > MAX_REPLY:
        text = json.dumps(
            _raised(
                Raised((qualified_name(WireError),), f"the result is too large ({len(text)} chars)")
            )
        )
    publish_display_data({MIME: json.loads(text)})


def limit_resources(memory_bytes: int, cpu_seconds: int) -> None:
    """Cap this kernel's address space and CPU time (hard limits: the student cannot raise them).

    Runs as the first cell of every graded notebook, before any student code. Where the platform
    has no ``resource`` module (Windows), grading runs without these caps.
    """
    try:
        import resource
    except ImportError:  # pragma: no cover - not on the platforms we grade on
        return
    if memory_bytes > 0:
        resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
    if cpu_seconds > 0:
        resource.setrlimit(resource.RLIMIT_CPU, (cpu_seconds, cpu_seconds + 5))
