"""The course pipeline: exercises generated from solutions, lesson structure, and the exercise
notebooks under ``nbval --nbval-lax`` failing only where a stub is called.

(The lessons and solution notebooks themselves are run by nbval with outputs compared: they are in
pytest's ``testpaths``.)
"""

from __future__ import annotations

import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import nbformat
import pytest

from blockkit.cli import main
from blockkit.grading.notebooks import (
    NotebookError,
    build_exercise,
    build_exercises,
    cell_id,
    exercise_cells,
    stub_source,
)

ROOT = Path(__file__).resolve().parents[1]
COURSE = sorted((ROOT / "course").glob("*.ipynb"))
SOLUTIONS = sorted((ROOT / "solutions").glob("*.ipynb"))
EXERCISES = sorted((ROOT / "exercises").glob("*.ipynb"))


# --- stubs -------------------------------------------------------------------------------------

SOLVED = '''def merkle_root(leaves):
    """Docstring stays."""
    # BEGIN SOLUTION
    # Step 1: hash the leaves.
    level = [h(x) for x in leaves]
    for i in range(3):
        # Step 2: pair them up.
        level = pair(level)  # trailing comments go with the code
    return level[0]
    # END SOLUTION


print("after")'''


def test_stub_keeps_step_comments_and_raises():
    assert (
        stub_source(SOLVED, "03.2")
        == '''def merkle_root(leaves):
    """Docstring stays."""
    # Step 1: hash the leaves.
    # Step 2: pair them up.
    raise NotImplementedError("exercise 03.2: replace this line with your code")


print("after")'''
    )


def test_stub_of_a_stub_compiles_and_raises():
    namespace: dict = {}
    exec(stub_source(SOLVED, "03.2"), namespace)
    with pytest.raises(NotImplementedError, match=r"03\.2"):
        namespace["merkle_root"]([b"a"])


@pytest.mark.parametrize(
    "source, message",
    [
        ("# BEGIN SOLUTION\nx = 1", "never closed"),
        ("x = 1\n# END SOLUTION", "without"),
        ("# BEGIN SOLUTION\n# BEGIN SOLUTION\n# END SOLUTION", "inside another"),
    ],
)
def test_broken_markers_are_refused(source, message):
    with pytest.raises(NotebookError, match=message):
        stub_source(source, "01.1")


# --- notebooks ---------------------------------------------------------------------------------


def _solution():
    return nbformat.read(ROOT / "solutions" / "01-hashing.ipynb", as_version=4)


def test_exercise_notebook_has_no_outputs_and_keeps_ids_and_metadata():
    solution = _solution()
    exercise = build_exercise(solution)
    assert [c.id for c in exercise.cells] == [c.id for c in solution.cells]
    for cell in exercise.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None
            assert "# BEGIN SOLUTION" not in cell.source
    tags = [c.metadata["blockkit"] for c in exercise.cells if "blockkit" in c.metadata]
    assert {"exercise": "01.4", "points": 3, "role": "answer"} in tags
    assert solution.cells[3].outputs or any(c.get("outputs") for c in solution.cells)  # untouched


def test_solution_only_cells_are_dropped():
    solution = _solution()
    extra = nbformat.v4.new_code_cell("print('teacher notes')", id="notes")
    extra.metadata["blockkit"] = {"role": "solution-only"}
    solution.cells.append(extra)
    assert "notes" not in [c.id for c in build_exercise(solution).cells]


def _broken(change):
    nb = _solution()
    change(nb)
    return nb


def _cell(nb, exercise_id, role):
    return next(c for c in nb.cells if c.get("id") == cell_id(exercise_id, role))


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda nb: _cell(nb, "01.2", "answer").metadata["blockkit"].update(points=5), "points"),
        (
            lambda nb: _cell(nb, "01.2", "answer").metadata["blockkit"].update(exercise="01.9"),
            "no exercise",
        ),
        (lambda nb: setattr(_cell(nb, "01.2", "answer"), "id", "renamed"), "cell id"),
        (lambda nb: nb.cells.remove(_cell(nb, "01.3", "check")), "no check cell"),
        (
            lambda nb: _cell(nb, "01.3", "check").update(source="check('01.3', hash_chain)"),
            "must call check",
        ),
        (
            lambda nb: _cell(nb, "01.1", "answer").metadata["blockkit"].update(role="answr"),
            "not one of",
        ),
        (
            lambda nb: nb.cells.insert(0, nb.cells.pop(nb.cells.index(_cell(nb, "01.4", "check")))),
            "comes before its answer",
        ),
        (lambda nb: _cell(nb, "01.1", "answer").metadata.pop("blockkit"), "no blockkit role"),
    ],
)
def test_solution_notebook_mistakes_are_named(change, message):
    with pytest.raises(NotebookError, match=message):
        exercise_cells(_broken(change), "solutions/01-hashing.ipynb")


def _tree(tmp_path):
    for folder in ("solutions", "exercises"):
        (tmp_path / folder).mkdir()
    solution = ROOT / "solutions" / "01-hashing.ipynb"
    (tmp_path / "solutions" / solution.name).write_bytes(solution.read_bytes())
    return tmp_path


def test_build_then_check_is_clean_and_a_change_is_detected(tmp_path, capsys):
    root = _tree(tmp_path)
    assert build_exercises(root, check=True) == ["exercises/01-hashing.ipynb"]  # missing
    assert main(["exercises", "build", "--root", str(root)]) == 0
    assert "wrote exercises/01-hashing.ipynb" in capsys.readouterr().out
    assert main(["exercises", "build", "--check", "--root", str(root)]) == 0
    built = (root / "exercises" / "01-hashing.ipynb").read_bytes()
    assert built == (ROOT / "exercises" / "01-hashing.ipynb").read_bytes()

    path = root / "solutions" / "01-hashing.ipynb"
    nb = nbformat.read(path, as_version=4)
    _cell(nb, "01.1", "answer").source += "\n# a new step"
    nbformat.write(nb, path)
    assert main(["exercises", "build", "--check", "--root", str(root)]) == 1
    err = capsys.readouterr().err
    assert "out of date: exercises/01-hashing.ipynb" in err
    assert (root / "exercises" / "01-hashing.ipynb").read_bytes() == built  # --check writes nothing


def test_an_exercise_without_a_solution_is_reported_and_kept(tmp_path, capsys):
    root = _tree(tmp_path)
    build_exercises(root)
    orphan = root / "exercises" / "07-old-topic.ipynb"
    orphan.write_text("{}")
    assert main(["exercises", "build", "--check", "--root", str(root)]) == 1
    assert "no solutions/07-old-topic.ipynb" in capsys.readouterr().err
    assert orphan.exists()


def test_a_missing_solutions_folder_is_a_clear_error(tmp_path, capsys):
    assert main(["exercises", "build", "--root", str(tmp_path)]) == 2
    assert "no solutions/ folder" in capsys.readouterr().err


def test_badly_named_or_broken_solution_notebooks_are_named(tmp_path):
    root = _tree(tmp_path)
    (root / "solutions" / "2-topic.ipynb").write_text("{}")
    with pytest.raises(NotebookError, match="NN-topic-words"):
        build_exercises(root)
    (root / "solutions" / "2-topic.ipynb").unlink()
    (root / "solutions" / "02-broken.ipynb").write_text("not json")
    with pytest.raises(NotebookError, match=r"02-broken\.ipynb is not a readable notebook"):
        build_exercises(root)


def test_the_repository_exercises_are_up_to_date():
    """`blockkit exercises build --check` is clean: exercises/ matches solutions/."""
    result = subprocess.run(
        [sys.executable, "-m", "blockkit", "exercises", "build", "--check"],
        cwd=ROOT, capture_output=True, text=True,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr


# --- the lessons' shape ------------------------------------------------------------------------


def test_every_lesson_has_a_solution_and_an_exercise_notebook():
    names = lambda paths: [p.name for p in paths]  # noqa: E731
    assert names(COURSE) == names(SOLUTIONS) == names(EXERCISES)
    assert [p.name[:2] for p in COURSE] == [f"{n:02d}" for n in range(len(COURSE))]
    assert len(COURSE) >= 6


@pytest.mark.parametrize("path", COURSE + SOLUTIONS, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_notebook_opens_with_objectives_and_is_executed(path):
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    first = nb.cells[0]
    assert first.cell_type == "markdown" and first.source.startswith(f"# {path.name[:2]} · ")
    for part in ("Learning objectives", "Prerequisites", "Time", "blockkit modules used"):
        assert part in first.source, f"{path.name}: first cell lacks {part!r}"
    assert "SEED" in nb.cells[1].source, f"{path.name}: the setup cell fixes SEED"
    assert nb.metadata.kernelspec.name == "python3"
    for cell in nb.cells:
        if cell.cell_type == "code" and cell.source.strip():
            assert cell.execution_count is not None, f"{path.name}: cell {cell.id} not executed"
            errors = [o for o in cell.outputs if o.output_type == "error"]
            if "raises-exception" not in cell.metadata.get("tags", []):
                assert not errors, f"{path.name}: cell {cell.id} stored an error"


@pytest.mark.parametrize("path", COURSE, ids=lambda p: p.stem)
def test_lesson_has_a_widget_or_plot_and_a_summary(path):
    nb = nbformat.read(path, as_version=4)
    kinds = {
        key
        for cell in nb.cells
        if cell.cell_type == "code"
        for output in cell.outputs
        for key in output.get("data", {})
    }
    assert kinds & {"image/png", "application/vnd.jupyter.widget-view+json"}, path.name
    assert any(c.cell_type == "markdown" and "## Summary" in c.source for c in nb.cells)


@pytest.mark.parametrize("path", SOLUTIONS, ids=lambda p: p.stem)
def test_solution_has_three_exercises_each_checked_right_after(path):
    nb = nbformat.read(path, as_version=4)
    cells = exercise_cells(nb, path.name)
    assert len(cells) >= 3
    for c in cells:
        between = nb.cells[c.answer + 1 : c.check]
        assert all(x.cell_type == "markdown" for x in between), f"{c.exercise_id}: check not next"


# --- exercise notebooks under nbval-lax --------------------------------------------------------


def test_exercise_notebooks_fail_only_where_a_stub_is_called(tmp_path):
    """Run exercises/ with `pytest --nbval-lax`: every check cell fails as "not done yet", every
    other failure is a stub's NotImplementedError, and every other cell passes."""
    report = tmp_path / "report.xml"
    subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-o", "addopts=",
         "--nbval-lax", "--nbval-current-env", "--nbval-cell-timeout=300",
         f"--junitxml={report}", "-q", "exercises"],
        cwd=ROOT, capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    cases = ET.parse(report).getroot().iter("testcase")
    outcomes: dict[str, dict[int, str]] = {}
    for case in cases:
        number = int(case.get("name").split()[-1])
        failure = case.find("failure")
        if failure is None:
            failure = case.find("error")
        text = "" if failure is None else (failure.get("message", "") + (failure.text or ""))
        outcomes.setdefault(case.get("classname"), {})[number] = text
    assert len(outcomes) == len(EXERCISES), outcomes.keys()
    for path in EXERCISES:
        nb = nbformat.read(path, as_version=4)
        code = [c for c in nb.cells if c.cell_type == "code"]
        (results,) = [r for name, r in outcomes.items() if name.endswith(path.name)]
        assert len(results) == len(code), path.name
        for number, cell in enumerate(code):
            text = results[number]
            role = cell.metadata.get("blockkit", {}).get("role")
            where = f"{path.name} cell {cell.id}"
            if role == "check":
                assert "NotDoneYet" in text, f"{where}: a check on a stub must say not done yet"
            elif text:
                assert "NotImplementedError" in text and "replace this line" in text, (
                    f"{where} failed for another reason than a stub:\n{text[-1500:]}"
                )


def test_grader_can_splice_answers_by_cell_id():
    """What the grader relies on: answer cells found by id in both notebooks, same order."""
    for solution_path, exercise_path in zip(SOLUTIONS, EXERCISES, strict=True):
        solution = nbformat.read(solution_path, as_version=4)
        exercise = nbformat.read(exercise_path, as_version=4)
        a = [(c.exercise_id, c.points) for c in exercise_cells(solution, solution_path.name)]
        b = [(c.exercise_id, c.points) for c in exercise_cells(exercise, "x", solution=False)]
        assert a == b
