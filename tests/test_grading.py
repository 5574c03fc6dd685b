"""The exercise registry and the checks students run: verdicts, strictness, and every catalog
case against the solution notebooks' own answers."""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest

from blockkit.grading import (
    Case,
    CheckFailed,
    NotDoneYet,
    UnknownExercise,
    all_exercises,
    check,
    get_exercise,
    registry,
    run_cases,
)
from blockkit.grading.check import same, show

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def scratch():
    """A throwaway exercise 99.k, removed again afterwards."""
    made = []

    def make(number: int, function: str = "double", points: int = 2, cases=()):
        exercise_id = f"99.{number}"
        registry.define(exercise_id, "scratch", function=function, points=points, hint="think")
        registry.add_cases(exercise_id, cases)
        made.append(exercise_id)
        return exercise_id

    yield make
    for exercise_id in made:
        del registry._REGISTRY[exercise_id]


# --- the registry ------------------------------------------------------------------------------


def test_case_needs_exactly_one_judgement():
    with pytest.raises(ValueError, match="exactly one"):
        Case("nothing")
    with pytest.raises(ValueError, match="exactly one"):
        Case("two", (1,), expected=2, raises=ValueError)
    Case("fine", (1,), expected=None)  # None is a legitimate expected value


@pytest.mark.parametrize("bad", ["3.1", "03", "03.x", "003.1", "ab.1"])
def test_ids_are_NN_dot_k(bad):
    with pytest.raises(ValueError, match=r"NN\.k"):
        registry.define(bad, "t", function="f", points=1)


def test_define_refuses_duplicates_and_bad_points(scratch):
    scratch(1)
    with pytest.raises(ValueError, match="twice"):
        registry.define("99.1", "again", function="f", points=1)
    for points in (0, -1, 1.5, True and 0):
        with pytest.raises(ValueError, match="points"):
            registry.define("99.9", "t", function="f", points=points)


def test_unknown_exercise_names_the_known_ones_of_that_lesson():
    with pytest.raises(UnknownExercise, match=r"'01\.9'.*01\.1, 01\.2"):
        get_exercise("01.9")


def test_hidden_cases_run_only_when_asked(scratch):
    exercise_id = scratch(1, cases=[Case("visible", (2,), 4)])
    registry.add_cases(exercise_id, [Case("secret", (5,), 10)], hidden=True)
    wrong = lambda x: 4 if x == 2 else 0  # noqa: E731 — recognises the visible input only
    assert run_cases(exercise_id, wrong).passed
    graded = run_cases(exercise_id, wrong, include_hidden=True)
    assert not graded.passed and graded.points == 0
    verdict = graded.verdict()
    assert "secret" in verdict and "hidden case" in verdict
    assert "(5,)" not in verdict and "double(5)" not in verdict  # hidden inputs never shown


def test_every_lesson_exercise_has_enough_cases_and_a_hint():
    exercises = all_exercises()
    assert exercises, "the catalog is empty"
    for exercise in exercises.values():
        assert len(exercise.visible_cases()) >= 3, exercise.id
        assert exercise.hint or all(c.hint for c in exercise.cases), exercise.id
        assert re.fullmatch(r"[a-z_][a-z0-9_]*", exercise.function), exercise.id


# --- verdicts ----------------------------------------------------------------------------------


def test_a_passing_check_prints_the_points(scratch, capsys):
    exercise_id = scratch(1, cases=[Case("two", (2,), 4), Case("zero", (0,), 0)])
    check(exercise_id, lambda x: 2 * x)
    assert capsys.readouterr().out.strip() == (
        f"✔ {exercise_id} double: passed all 2 checks · 2/2 points"
    )


def test_a_failing_check_says_what_was_called_expected_and_got(scratch, capsys):
    exercise_id = scratch(
        1, cases=[Case("two", (2,), 4), Case("three", (3,), 6, hint="multiply, don't add")]
    )
    with pytest.raises(CheckFailed) as failure:
        check(exercise_id, lambda x: x + 2)
    assert not isinstance(failure.value, NotDoneYet)
    out = capsys.readouterr().out
    assert "1 of 2 checks failed · 0/2 points" in out
    assert "three: wrong value" in out
    assert "called:   double(3)" in out
    assert "expected: 6" in out and "got:      5" in out
    assert "hint:     multiply, don't add" in out


def test_an_untouched_stub_is_not_done_yet(scratch, capsys):
    exercise_id = scratch(1, cases=[Case("two", (2,), 4)])

    def double(x):
        raise NotImplementedError("exercise 99.1: replace this line with your code")

    with pytest.raises(NotDoneYet):
        check(exercise_id, double)
    assert "not answered yet" in capsys.readouterr().out


def test_an_exception_in_student_code_names_the_line(scratch):
    exercise_id = scratch(1, cases=[Case("two", (2,), 4)])

    def double(x):
        return x * undefined_name  # noqa: F821

    result = run_cases(exercise_id, double)
    (failure,) = result.failures
    assert "NameError" in failure.problem
    assert "return x * undefined_name" in failure.problem


def test_raises_and_verify_cases(scratch):
    exercise_id = scratch(
        1,
        cases=[
            Case("negative", (-1,), raises=ValueError),
            Case("even", (3,), verify=lambda r: None if r % 2 == 0 else "must be even"),
        ],
    )

    def good(x):
        if x < 0:
            raise ValueError("no")
        return 2 * x

    assert run_cases(exercise_id, good).passed
    result = run_cases(exercise_id, lambda x: x)
    problems = [f.problem for f in result.failures]
    assert problems == ["it should have raised ValueError, but returned normally", "must be even"]
    wrong_error = run_cases(exercise_id, lambda x: 1 / 0)
    assert "ZeroDivisionError" in wrong_error.failures[0].problem


def test_check_wants_the_function_itself(scratch):
    exercise_id = scratch(1, cases=[Case("two", (2,), 4)])
    with pytest.raises(TypeError, match=r"check\('99.1', double\)"):
        check(exercise_id, "double")


def test_an_exercise_with_no_cases_never_passes(scratch):
    exercise_id = scratch(1)
    result = run_cases(exercise_id, lambda x: x)
    assert not result.passed and result.points == 0
    assert "no cases" in result.verdict()


def test_fresh_arguments_for_every_call(scratch):
    exercise_id = scratch(1, cases=[Case("list", lambda: ([1, 2],), 3)] * 2)

    def total_and_clear(values):
        result = sum(values)
        values.clear()  # a careless answer that mutates its input
        return result

    assert run_cases(exercise_id, total_and_clear).passed


# --- no unearned points ------------------------------------------------------------------------


class _AlwaysEqual:
    def __eq__(self, other):
        return True

    __hash__ = object.__hash__


class _SneakyBytes(bytes):
    def __eq__(self, other):
        return True

    __hash__ = bytes.__hash__


class _SneakyInt(int):
    def __eq__(self, other):
        return True

    __hash__ = int.__hash__


@pytest.mark.parametrize(
    "expected, got",
    [
        (b"\x01" * 32, _AlwaysEqual()),
        (b"\x01" * 32, _SneakyBytes(b"\x02" * 32)),
        (7, _SneakyInt(8)),
        (7, _AlwaysEqual()),
        ("abc", _AlwaysEqual()),
        ([1, 2], _AlwaysEqual()),
        ([1, 2], (1, 2)),
        (True, 1),
        (1, True),
        ({"a": 1}, {"a": _SneakyInt(2)}),
        (None, 0),
    ],
)
def test_strict_comparison_refuses_lookalikes(expected, got):
    assert not same(expected, got)


def test_strict_comparison_accepts_equal_values_and_subclasses_with_equal_content():
    from blockkit.keys import Address

    assert same(b"\x00" * 20, Address(b"\x00" * 20))
    assert same([b"a", 1, "x", None], [b"a", 1, "x", None])
    assert same({"a": [1, 2]}, {"a": [1, 2]})
    assert same(_SneakyBytes(b"x") and b"x", b"x")


def test_a_forged_result_earns_nothing_through_check(scratch):
    exercise_id = scratch(1, cases=[Case("two", (2,), 4), Case("bytes", (b"a",), b"aa")])
    result = run_cases(exercise_id, lambda x: _AlwaysEqual())
    assert not result.passed and len(result.failures) == 2


def test_show_keeps_values_short_and_readable():
    assert show(b"A") == "b'A'"
    assert show(bytes(32)) == f"bytes.fromhex('{'00' * 32}')"
    assert show(bytes(100)).startswith("100 bytes: 0000")
    assert len(show("x" * 500)) == 100

    class Broken:
        def __repr__(self):
            raise RuntimeError("boom")

    assert "repr failed" in show(Broken())


# --- the catalogs against the solution notebooks ----------------------------------------------


def _answers(notebook: Path) -> dict[str, dict]:
    """Run a notebook's code cells (not its checks) and return its namespace per exercise id."""
    nb = nbformat.read(notebook, as_version=4)
    namespace: dict = {}
    ids = []
    for cell in nb.cells:
        tag = cell.metadata.get("blockkit", {})
        if cell.cell_type != "code" or tag.get("role") == "check":
            continue
        if cell.source.lstrip().startswith(("%", "!")):
            continue
        try:
            exec(compile(cell.source, f"{notebook.name}:{cell.id}", "exec"), namespace)
        except NotImplementedError:
            if "exercises" not in notebook.parts:
                raise  # only an exercise notebook's cells may call a stub
        if tag.get("role") == "answer":
            ids.append(tag["exercise"])
    return {exercise_id: namespace for exercise_id in ids}


SOLUTIONS = sorted((ROOT / "solutions").glob("*.ipynb"))
EXERCISES = sorted((ROOT / "exercises").glob("*.ipynb"))


@pytest.mark.parametrize("notebook", SOLUTIONS, ids=lambda p: p.stem)
def test_solution_answers_pass_every_case_including_hidden(notebook):
    answers = _answers(notebook)
    assert len(answers) >= 3, f"{notebook.name} has fewer than 3 graded exercises"
    for exercise_id, namespace in answers.items():
        function = namespace[get_exercise(exercise_id).function]
        result = run_cases(exercise_id, function, include_hidden=True)
        assert result.passed, result.verdict()


@pytest.mark.parametrize("notebook", EXERCISES, ids=lambda p: p.stem)
def test_exercise_stubs_are_not_done_yet(notebook):
    for exercise_id, namespace in _answers(notebook).items():
        function = namespace[get_exercise(exercise_id).function]
        result = run_cases(exercise_id, function)
        assert result.not_started and not result.passed, result.verdict()


@pytest.mark.parametrize("exercise_id", list(all_exercises()))
def test_trivial_answers_fail_every_exercise(exercise_id):
    """A function returning a constant or echoing its input never earns points."""
    for trivial in (lambda *a: None, lambda *a: a[0] if a else None, lambda *a: 0, lambda *a: ""):
        result = run_cases(exercise_id, trivial, include_hidden=True)
        assert not result.passed, f"{exercise_id} passes a trivial answer"
