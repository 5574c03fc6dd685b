"""Exercises and their checks: the registry of graded exercises and the ``check`` students run.

In a notebook::

    from blockkit.grading import check
    check("03.2", merkle_root)
"""

from __future__ import annotations

from blockkit.grading.check import CheckFailed, CheckResult, NotDoneYet, check, run_cases
from blockkit.grading.registry import (
    Case,
    Exercise,
    UnknownExercise,
    add_cases,
    all_exercises,
    define,
    get_exercise,
)

__all__ = [
    "Case",
    "CheckFailed",
    "CheckResult",
    "Exercise",
    "NotDoneYet",
    "UnknownExercise",
    "add_cases",
    "all_exercises",
    "check",
    "define",
    "get_exercise",
    "run_cases",
]
