"""The exercise registry: every graded exercise, its points, and the cases that check it.

An exercise is known by an id ``"NN.k"`` (lesson ``NN``, exercise ``k``). Its cases call the
student's function with chosen inputs and judge what comes back, so any correct answer passes,
however it is written. The same registry serves three readers:

* ``check("03.2", merkle_root)`` in a notebook runs the visible cases and prints a verdict;
* the tests run every case against the reference solutions (and against wrong answers);
* the grader adds instructors' hidden cases with ``add_cases(..., hidden=True)`` before grading.

The cases of each lesson live in ``blockkit.grading.catalog``, one module per lesson, loaded the
first time any exercise is looked up; the catalog's own hidden cases live apart, in
``blockkit.grading.hidden``, which the student bundle leaves out.
"""

from __future__ import annotations

import importlib
import importlib.util
import pkgutil
import runpy
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = [
    "NO_VALUE",
    "Case",
    "Exercise",
    "UnknownExercise",
    "add_cases",
    "all_exercises",
    "define",
    "get_exercise",
    "has_hidden_cases",
    "load_hidden_cases",
]


class _NoValue:
    def __repr__(self) -> str:
        return "NO_VALUE"


#: Marks a case whose answer is judged by ``verify`` or ``raises`` rather than compared.
NO_VALUE: Any = _NoValue()

Arguments = tuple[Any, ...]
Verify = Callable[[Any], "str | None"]


class UnknownExercise(LookupError):
    """An exercise id that no lesson defines."""


@dataclass(frozen=True)
class Case:
    """One behavioural test of a student's function.

    The function is called with ``args`` (or with what ``args()`` returns, for inputs that must be
    fresh on every call because a function might change them). Then exactly one judgement applies:

    * ``expected``: the result must be of the same type and equal to it;
    * ``raises``: the call must raise this exception type (or a subclass);
    * ``verify``: a function of the result that returns ``None`` when it is right, or a sentence
      saying what is wrong (for answers with many right forms, such as a nonce that solves a
      puzzle).
    """

    name: str
    """What the case tries, in a few words a student understands ("an empty list")."""
    args: Arguments | Callable[[], Arguments] = ()
    expected: Any = NO_VALUE
    raises: type[BaseException] | None = None
    verify: Verify | None = None
    hint: str = ""
    """What to try next when this case fails; falls back to the exercise's hint."""
    hidden: bool = False
    """Hidden cases run only when grading; students never see their inputs."""

    def __post_init__(self) -> None:
        judgements = sum(
            (self.expected is not NO_VALUE, self.raises is not None, self.verify is not None)
        )
        if judgements != 1:
            raise ValueError(f"case {self.name!r} needs exactly one of expected, raises, verify")

    def arguments(self) -> Arguments:
        """Fresh arguments for one call."""
        return self.args() if callable(self.args) else self.args


@dataclass
class Exercise:
    """A graded exercise: the function students write and the cases that judge it."""

    id: str
    """``"NN.k"``: lesson number and exercise number."""
    title: str
    function: str
    """Name of the function the student defines (``merkle_root``)."""
    points: int
    hint: str = ""
    """A general hint, shown when a failing case has none of its own."""
    cases: list[Case] = field(default_factory=list)

    def visible_cases(self) -> list[Case]:
        """The cases a student's ``check`` runs."""
        return [case for case in self.cases if not case.hidden]


_REGISTRY: dict[str, Exercise] = {}
_loaded = False


def define(exercise_id: str, title: str, *, function: str, points: int, hint: str = "") -> Exercise:
    """Define an exercise (a catalog module does this once per exercise)."""
    lesson, _, number = exercise_id.partition(".")
    if not (len(lesson) == 2 and lesson.isdigit() and number.isdigit()):
        raise ValueError(f"exercise id {exercise_id!r} is not of the form 'NN.k'")
    if exercise_id in _REGISTRY:
        raise ValueError(f"exercise {exercise_id} is defined twice")
    if not isinstance(points, int) or points < 1:
        raise ValueError(f"exercise {exercise_id}: points must be a positive int")
    exercise = Exercise(exercise_id, title, function, points, hint)
    _REGISTRY[exercise_id] = exercise
    return exercise


def add_cases(exercise_id: str, cases: Iterable[Case], *, hidden: bool | None = None) -> None:
    """Add cases to an exercise; ``hidden=True`` marks them all hidden (the grader's extras)."""
    # A catalog module adds cases to the exercise it just defined: take it as it is, so that
    # importing one lesson's module does not load the whole catalog (and the hidden cases, which
    # import from that module) while it is half-imported.
    exercise = _REGISTRY.get(exercise_id) or get_exercise(exercise_id)
    for case in cases:
        if not isinstance(case, Case):
            raise TypeError(f"exercise {exercise_id}: expected Case objects, got {case!r}")
        if hidden is not None and case.hidden != hidden:
            case = Case(
                case.name, case.args, case.expected, case.raises, case.verify, case.hint, hidden
            )
        exercise.cases.append(case)


def _load_catalog() -> None:
    global _loaded
    if _loaded:
        return
    _loaded = True
    from blockkit.grading import catalog

    packages = [catalog]
    try:  # the instructor's install has the hidden cases; the student bundle leaves them out
        from blockkit.grading import hidden

        packages.append(hidden)
    except ImportError:
        pass
    for package in packages:
        for module in sorted(pkgutil.iter_modules(package.__path__), key=lambda m: m.name):
            importlib.import_module(f"{package.__name__}.{module.name}")


def has_hidden_cases() -> bool:
    """True when the catalog's hidden cases are installed (an instructor's install, not the
    student bundle a hub serves)."""
    return importlib.util.find_spec("blockkit.grading.hidden") is not None


def get_exercise(exercise_id: str) -> Exercise:
    """The exercise with this id; ``UnknownExercise`` names the known ids when there is none."""
    _load_catalog()
    try:
        return _REGISTRY[exercise_id]
    except KeyError:
        lesson = exercise_id.split(".")[0] if isinstance(exercise_id, str) else ""
        same_lesson = [i for i in _REGISTRY if i.split(".")[0] == lesson]
        known = ", ".join(same_lesson or sorted(_REGISTRY))
        raise UnknownExercise(
            f"there is no exercise {exercise_id!r}; check the id in the cell (known: {known})"
        ) from None


def all_exercises() -> Mapping[str, Exercise]:
    """Every defined exercise, by id, in lesson order."""
    _load_catalog()
    return dict(sorted(_REGISTRY.items(), key=lambda item: _sort_key(item[0])))


def _sort_key(exercise_id: str) -> tuple[int, int]:
    lesson, number = exercise_id.split(".")
    return int(lesson), int(number)


_hidden_loaded: set[Path] = set()


def load_hidden_cases(path: Path) -> int:
    """Add an instructor's hidden cases from a Python file; returns how many were added.

    The file (kept outside the student bundle) defines ``HIDDEN_CASES``, a dict from exercise id to
    a list of ``Case``::

        from blockkit.grading import Case
        HIDDEN_CASES = {"03.2": [Case("seven leaves", ([b"a"] * 7,), expected=...)]}

    Every case is marked hidden whatever it says. Loading the same file twice adds nothing.
    """
    path = Path(path).resolve()
    if path in _hidden_loaded:
        return 0
    if not path.is_file():
        raise FileNotFoundError(f"hidden cases file {path} does not exist")
    namespace = runpy.run_path(str(path))
    table = namespace.get("HIDDEN_CASES")
    if not isinstance(table, dict):
        raise ValueError(
            f"{path} must define HIDDEN_CASES = {{'NN.k': [Case(...), ...]}} "
            "(see the instructor guide)"
        )
    added = 0
    for exercise_id, cases in table.items():
        cases = list(cases)
        add_cases(exercise_id, cases, hidden=True)
        added += len(cases)
    _hidden_loaded.add(path)
    return added
