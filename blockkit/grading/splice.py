"""Take a student's answers, and only their answers, into the instructor's trusted notebook.

nbval trusts the notebook it runs: a student who tags a failing check ``nbval-skip``, adds
``# NBVAL_RAISES_EXCEPTION``, edits the points in the metadata or swaps the kernelspec would pass.
So the grader never runs the submitted file. It reads the submission as plain JSON, finds each
exercise's answer cell (by its stable cell id, else by its ``blockkit`` metadata), and copies that
cell's *source* into a fresh copy of the assignment built from the instructor's solution notebook.
Everything else in the submission is ignored, and what was ignored is reported so the student
learns that editing a check cell does nothing.
"""

from __future__ import annotations

import copy
import json
import re
from dataclasses import dataclass, field
from typing import Any

import nbformat

from blockkit.grading.notebooks import cell_id, exercise_cells

__all__ = ["HARNESS_ID", "MAX_SUBMISSION_BYTES", "Spliced", "splice"]

HARNESS_ID = "blockkit-grading-harness"
MAX_SUBMISSION_BYTES = 20_000_000
_MARKER = re.compile(r"^\s*#\s*NBVAL_\w+.*$", re.MULTILINE)


@dataclass
class Spliced:
    """The graded copy of one submission, or why there is none."""

    notebook: Any = None
    """The notebook to run, or ``None`` when the submission cannot be graded at all."""
    status: str = "ok"
    reason: str = ""
    missing: list[str] = field(default_factory=list)
    """Exercises whose answer cell was not found (they score zero)."""
    ignored: list[str] = field(default_factory=list)
    """What the student changed outside the answer cells (not used, reported)."""


def _source(cell: Any) -> str | None:
    source = cell.get("source") if isinstance(cell, dict) else None
    if isinstance(source, str):
        return source
    if isinstance(source, list) and all(isinstance(line, str) for line in source):
        return "".join(source)
    return None


def _tag(cell: Any) -> dict[str, Any]:
    metadata = cell.get("metadata") if isinstance(cell, dict) else None
    tag = metadata.get("blockkit") if isinstance(metadata, dict) else None
    return tag if isinstance(tag, dict) else {}


def _parse(data: bytes) -> tuple[dict[str, Any] | None, str, str]:
    """The submission as a JSON notebook, or a status and a reason a student can act on."""
    if len(data) > MAX_SUBMISSION_BYTES:
        return None, "too-large", f"the file is {len(data):,} bytes; clear outputs and resubmit"
    try:
        nb = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        return None, "invalid-json", f"the file is not valid notebook JSON ({exc})"[:300]
    if not isinstance(nb, dict) or not ("nbformat" in nb or "cells" in nb):
        return None, "not-a-notebook", "the file is JSON but not a Jupyter notebook (no cells)"
    if nb.get("nbformat") != 4 or not isinstance(nb.get("cells"), list):
        return (
            None,
            "wrong-nbformat",
            f"the notebook is nbformat {nb.get('nbformat')!r}; open it in JupyterLab and save "
            "it again (nbformat 4)",
        )
    return nb, "ok", ""


def _harness(memory_bytes: int, cpu_seconds: int) -> Any:
    cell = nbformat.v4.new_code_cell(
        "__import__('blockkit.grading.remote', fromlist=['limit_resources'])"
        f".limit_resources({memory_bytes}, {cpu_seconds})"
    )
    cell.id = HARNESS_ID
    return cell


def splice(trusted: Any, data: bytes, *, memory_bytes: int = 0, cpu_seconds: int = 0) -> Spliced:
    """The trusted notebook with the answers from the submission ``data`` (raw file bytes)."""
    student, status, reason = _parse(data)
    if student is None:
        return Spliced(None, status, reason)
    cells = [c for c in student["cells"] if isinstance(c, dict)]
    by_id: dict[str, list[dict[str, Any]]] = {}
    for cell in cells:
        if isinstance(cell.get("id"), str):
            by_id.setdefault(cell["id"], []).append(cell)
    graded = copy.deepcopy(trusted)
    result = Spliced(graded)
    used: set[int] = set()
    for exercise in exercise_cells(trusted, "assignment", solution=False):
        wanted = cell_id(exercise.exercise_id, "answer")
        candidates = by_id.get(wanted, []) or [
            c
            for c in cells
            if _tag(c).get("exercise") == exercise.exercise_id and _tag(c).get("role") == "answer"
        ]
        candidates = [
            c for c in candidates if c.get("cell_type") == "code" and _source(c) is not None
        ]
        if not candidates:
            result.missing.append(exercise.exercise_id)
            continue
        if len(candidates) > 1:
            result.ignored.append(f"{wanted}: {len(candidates)} answer cells; the first was graded")
        chosen = candidates[0]
        used.add(id(chosen))
        source = _source(chosen) or ""
        if _MARKER.search(source):
            source = _MARKER.sub("", source)
            result.ignored.append(f"{wanted}: NBVAL markers in the answer were removed")
        graded.cells[exercise.answer].source = source
        if _tag(chosen) and _tag(chosen) != _tag(trusted.cells[exercise.answer]):
            result.ignored.append(f"{wanted}: edited blockkit metadata (points, role) ignored")
    result.ignored.extend(_other_changes(trusted, cells, by_id, used))
    metadata = student.get("metadata")
    theirs = metadata.get("kernelspec") if isinstance(metadata, dict) else None
    if theirs is not None and theirs != trusted.metadata.get("kernelspec"):
        result.ignored.append("notebook kernelspec changed (the instructor's kernel was used)")
    graded.cells.insert(0, _harness(memory_bytes, cpu_seconds))
    if result.missing:
        result.status = "missing-exercises"
        result.reason = (
            f"no answer cell for {', '.join(result.missing)} (deleted, or its cell id changed?)"
        )
    return result


def _other_changes(
    trusted: Any, cells: list[dict[str, Any]], by_id: dict[str, list[dict[str, Any]]], used: set
) -> list[str]:
    """Edits outside the answer cells: reported, never used."""
    notes = []
    known = {cell.get("id") for cell in trusted.cells}
    for cell in trusted.cells:
        if _tag(cell).get("role") == "answer":
            continue
        theirs = by_id.get(cell.get("id"), [])
        if not theirs:
            notes.append(f"{cell.get('id')}: deleted (the trusted copy was run)")
            continue
        mine = theirs[0]
        if _source(mine) != cell.source:
            notes.append(f"{cell.get('id')}: edited (the trusted copy was run)")
        metadata = mine.get("metadata")
        if isinstance(metadata, dict) and (
            metadata.get("blockkit") != cell.metadata.get("blockkit")
            or metadata.get("tags", []) != cell.metadata.get("tags", [])
        ):
            notes.append(f"{cell.get('id')}: edited metadata or tags (ignored)")
    added = [c for c in cells if c.get("id") not in known and id(c) not in used]
    if added:
        notes.append(f"{len(added)} added cell(s) not run (only answer cells are graded)")
    return notes
