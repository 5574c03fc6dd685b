"""Exercise notebooks are generated from solution notebooks, so the two can never drift apart.

A solution notebook ``solutions/NN-topic.ipynb`` marks what a student must write::

    def merkle_root(leaves):
        # BEGIN SOLUTION
        # Step 1: hash every leaf.
        level = [hash_leaf(leaf) for leaf in leaves]
        ...
        # END SOLUTION

``build_exercise`` turns each marked region into a stub that keeps the region's comment lines (the
steps) and raises ``NotImplementedError``, drops every output, and drops cells marked
``solution-only``. Each graded exercise has an *answer* cell and a *check* cell, identified in
cell metadata as ``{"blockkit": {"exercise": "03.2", "points": 2, "role": "answer"}}`` and by the
cell ids ``ex-03-2-answer`` and ``ex-03-2-check``: the grader uses them to splice a student's
answer cells into a trusted copy of the notebook.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nbformat

from blockkit.errors import BlockkitError
from blockkit.grading.registry import UnknownExercise, all_exercises, get_exercise

__all__ = [
    "BEGIN",
    "END",
    "NotebookError",
    "build_exercise",
    "build_exercises",
    "cell_id",
    "exercise_cells",
    "stub_source",
]

BEGIN = "# BEGIN SOLUTION"
END = "# END SOLUTION"
ROLES = ("answer", "check", "solution-only")
_NAME = re.compile(r"^(\d\d)-[a-z0-9]+(-[a-z0-9]+)*\.ipynb$")


class NotebookError(BlockkitError):
    """A solution notebook breaks the conventions the exercise builder relies on."""


def cell_id(exercise_id: str, role: str) -> str:
    """The stable cell id of an exercise's answer or check cell: ``ex-03-2-answer``."""
    return f"ex-{exercise_id.replace('.', '-')}-{role}"


def stub_source(source: str, exercise_id: str, where: str = "") -> str:
    """``source`` with every solution region replaced by its comments and a ``raise``."""
    lines = source.split("\n")
    out: list[str] = []
    region: list[str] | None = None
    indent = ""
    for number, line in enumerate(lines, start=1):
        stripped = line.strip()
        if stripped == BEGIN:
            if region is not None:
                raise NotebookError(f"{where}line {number}: {BEGIN} inside another solution region")
            region, indent = [], line[: len(line) - len(line.lstrip())]
        elif stripped == END:
            if region is None:
                raise NotebookError(f"{where}line {number}: {END} without {BEGIN}")
            out.extend(f"{indent}{comment}" for comment in region)
            out.append(
                f'{indent}raise NotImplementedError("exercise {exercise_id}: '
                'replace this line with your code")'
            )
            region = None
        elif region is not None:
            if stripped.startswith("#"):
                region.append(stripped)
        else:
            out.append(line)
    if region is not None:
        raise NotebookError(f"{where}{BEGIN} is never closed by {END}")
    return "\n".join(out)


@dataclass(frozen=True)
class ExerciseCells:
    """Where one exercise sits in a notebook."""

    exercise_id: str
    points: int
    answer: int
    """Index of the answer cell."""
    check: int
    """Index of the check cell."""


def _tag(cell: Any) -> dict[str, Any]:
    tag = cell.get("metadata", {}).get("blockkit", {})
    return tag if isinstance(tag, dict) else {}


def exercise_cells(
    nb: Any, name: str = "notebook", *, solution: bool = True
) -> list[ExerciseCells]:
    """Find and validate every exercise's answer and check cell in ``nb``.

    ``solution=False`` reads an exercise (or a student's) notebook, whose answer cells have no
    solution region.

    Raises ``NotebookError`` naming the cell when the metadata, ids, points or order are wrong.
    """
    found: dict[str, dict[str, int]] = {}
    points: dict[str, int] = {}
    for index, cell in enumerate(nb.cells):
        tag = _tag(cell)
        where = f"{name}, cell {index}"
        has_region = BEGIN in cell.source
        if not tag:
            if has_region:
                raise NotebookError(f"{where}: has {BEGIN} but no blockkit role=answer metadata")
            continue
        role = tag.get("role")
        if role not in ROLES:
            raise NotebookError(f"{where}: blockkit role {role!r} is not one of {ROLES}")
        if role == "solution-only":
            continue
        exercise_id = tag.get("exercise")
        try:
            exercise = get_exercise(exercise_id)
        except UnknownExercise as exc:
            raise NotebookError(f"{where}: {exc}") from None
        if tag.get("points") != exercise.points:
            raise NotebookError(
                f"{where}: exercise {exercise_id} is worth {exercise.points} points in the "
                f"registry but {tag.get('points')!r} in the cell metadata"
            )
        if cell.get("id") != cell_id(exercise_id, role):
            raise NotebookError(f"{where}: the cell id must be {cell_id(exercise_id, role)!r}")
        if role in found.get(exercise_id, {}):
            raise NotebookError(f"{where}: exercise {exercise_id} has two {role} cells")
        if role == "answer" and solution and not has_region:
            raise NotebookError(f"{where}: the answer cell of {exercise_id} has no {BEGIN} region")
        if role == "check":
            if has_region:
                raise NotebookError(f"{where}: a check cell must not contain a solution region")
            if f'check("{exercise_id}", {exercise.function})' not in cell.source:
                raise NotebookError(
                    f'{where}: the check cell must call check("{exercise_id}", {exercise.function})'
                )
            if "answer" not in found.get(exercise_id, {}):
                raise NotebookError(f"{where}: the check of {exercise_id} comes before its answer")
        found.setdefault(exercise_id, {})[role] = index
        points[exercise_id] = exercise.points
    result = []
    for exercise_id, roles in found.items():
        if "check" not in roles:
            raise NotebookError(f"{name}: exercise {exercise_id} has no check cell")
        result.append(
            ExerciseCells(exercise_id, points[exercise_id], roles["answer"], roles["check"])
        )
    return result


def build_exercise(solution: Any, name: str = "notebook") -> Any:
    """The student notebook: regions stubbed, no outputs, no solution-only cells."""
    exercise_cells(solution, name)
    nb = copy.deepcopy(solution)
    cells = []
    for index, cell in enumerate(nb.cells):
        tag = _tag(cell)
        if tag.get("role") == "solution-only":
            continue
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
            cell.metadata.pop("execution", None)
            if tag.get("role") == "answer":
                cell.source = stub_source(cell.source, tag["exercise"], f"{name}, cell {index}: ")
        cells.append(cell)
    nb.cells = cells
    nb.metadata.pop("widgets", None)
    nbformat.validate(nb)
    return nb


def _serialise(nb: Any) -> str:
    text = nbformat.writes(nb)
    return text if text.endswith("\n") else text + "\n"


def build_exercises(root: Path, *, check: bool = False) -> list[str]:
    """Write ``exercises/`` from ``solutions/`` under ``root``; return the notebooks that changed.

    With ``check=True`` nothing is written: the return value lists the exercise notebooks that
    are missing, out of date, or have no solution any more.
    """
    solutions, exercises = root / "solutions", root / "exercises"
    if not solutions.is_dir():
        raise NotebookError(
            f"there is no solutions/ folder in {root}; run this in the blockkit checkout "
            "or pass --root"
        )
    stale: list[str] = []
    seen: set[str] = set()
    defined = set()
    for path in sorted(solutions.glob("*.ipynb")):
        if not _NAME.match(path.name):
            raise NotebookError(f"{path}: solution notebooks are named NN-topic-words.ipynb")
        seen.add(path.name)
        try:
            solution = nbformat.read(path, as_version=4)
        except Exception as exc:
            raise NotebookError(f"{path} is not a readable notebook: {exc}") from None
        cells = exercise_cells(solution, str(path))
        defined.update(c.exercise_id for c in cells)
        text = _serialise(build_exercise(solution, str(path)))
        target = exercises / path.name
        current = target.read_text(encoding="utf-8") if target.exists() else None
        if current != text:
            stale.append(f"exercises/{path.name}")
            if not check:
                exercises.mkdir(exist_ok=True)
                target.write_text(text, encoding="utf-8")
    for path in sorted(exercises.glob("*.ipynb")) if exercises.is_dir() else []:
        if path.name not in seen:
            stale.append(f"exercises/{path.name} (no solutions/{path.name})")
    lessons = {p.name[:2] for p in solutions.glob("*.ipynb")}
    missing = [i for i in all_exercises() if i[:2] in lessons and i not in defined]
    if missing:
        raise NotebookError(
            f"exercises {', '.join(missing)} are registered but appear in no solution notebook"
        )
    return stale
