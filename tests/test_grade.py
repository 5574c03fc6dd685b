"""``blockkit grade``: a class of hostile and broken submissions graded end to end, and the pieces
that make the grade trustworthy (splicing, the wire format, signed records, the JUnit reader)."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import grade_samples as samples
import nbformat
import pytest

from blockkit.grading import Case, registry
from blockkit.grading.grade import (
    Assignment,
    ExerciseInfo,
    GradeError,
    GradeOptions,
    discover_submissions,
    grade,
    load_assignment,
    read_junit,
)
from blockkit.grading.notebooks import build_exercise
from blockkit.grading.plugin import RECORD_PROPERTY, sign, verify_signed
from blockkit.grading.registry import load_hidden_cases
from blockkit.grading.splice import HARNESS_ID, splice
from blockkit.grading.wire import Unrepresentable, WireError, decode, encode

ROOT = Path(__file__).resolve().parents[1]
LIMITS = ["--cell-timeout", "5", "--case-timeout", "3", "--notebook-timeout", "60"]


def blockkit(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "blockkit.cli", *args], cwd=cwd, capture_output=True, text=True
    )


def read_gradebook(out: Path) -> dict[str, dict[str, str]]:
    with open(out / "gradebook.csv", newline="", encoding="utf-8") as handle:
        return {row["student"]: row for row in csv.DictReader(handle)}


# --- a whole class, graded once through the command line --------------------------------------


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """The hostile class graded by `blockkit grade`, as an instructor runs it."""
    base = tmp_path_factory.mktemp("grade")
    class_ = [*samples.hostile(), samples.hardcoded()]
    samples.write_class(base / "submissions", class_)
    hidden = base / "instructor" / "hidden_03.py"
    hidden.parent.mkdir()
    hidden.write_text(samples.HIDDEN_FILE, encoding="utf-8")
    out = base / "grades"
    run = blockkit(
        "grade",
        str(base / "submissions"),
        "--assignment",
        "03",
        "--out",
        str(out),
        "--hidden",
        str(hidden),
        "--workers",
        "2",
        *LIMITS,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    return base, out, class_, run


def test_every_submission_gets_exactly_the_points_and_status_it_earned(graded):
    _, out, class_, _ = graded
    book = read_gradebook(out)
    assert sorted(book) == sorted(s.student for s in class_)
    wrong = []
    for sample in class_:
        row = book[sample.student]
        got = (tuple(int(row[i]) for i in samples.IDS), row["status"])
        if got != (sample.points, sample.status):
            wrong.append(f"{sample.student}: got {got}, want {(sample.points, sample.status)}")
    assert not wrong, "\n".join(wrong)


def test_the_gradebook_is_a_plain_csv_an_lms_can_import(graded):
    _, out, _, _ = graded
    header = (out / "gradebook.csv").read_text(encoding="utf-8").splitlines()[0]
    assert header == "student,03.1,03.2,03.3,total,max,percent,status,reason"
    for row in read_gradebook(out).values():
        points = sum(int(row[i]) for i in samples.IDS)
        assert int(row["total"]) == points and row["max"] == "7"
        assert float(row["percent"]) == round(100 * points / 7, 1)
        assert (row["status"] == "ok") or row["reason"], row


def test_feedback_explains_each_verdict(graded):
    _, out, class_, _ = graded
    for sample in class_:
        text = (out / "feedback" / f"{sample.student}.md").read_text(encoding="utf-8")
        assert f"feedback for {sample.student}" in text
        for phrase in sample.feedback:
            assert phrase in text, f"{sample.student}: {phrase!r} missing from\n{text}"


def test_hidden_cases_count_but_their_inputs_and_answers_never_leave_the_grader(graded):
    _, out, _, _ = graded
    book = read_gradebook(out)
    assert book["walter-hardcoded"]["03.1"] == "0"  # passes every visible case of 03.1
    assert book["alice-correct"]["03.1"] == "1"
    for path in out.rglob("*"):
        if path.is_file() and path.suffix in (".md", ".csv"):
            text = path.read_text(encoding="utf-8")
            for secret in samples.HIDDEN_SECRETS:
                assert secret not in text, f"{path} reveals the hidden case ({secret})"


def test_summary_table_and_difficulty_plot(graded):
    _, out, class_, run = graded
    book = read_gradebook(out)
    with open(out / "summary.csv", newline="", encoding="utf-8") as handle:
        summary = {row["exercise"]: row for row in csv.DictReader(handle)}
    for exercise in samples.IDS:
        passed = sum(row[exercise] != "0" for row in book.values())
        assert int(summary[exercise]["passed"]) == passed
        assert float(summary[exercise]["pass_rate"]) == round(passed / len(class_), 3)
    assert summary["03.1"]["hidden"] == "1"
    assert (out / "difficulty.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "pass_rate" in run.stdout and "03.3" in run.stdout
    assert "statuses:" in run.stdout
    assert f"{len(class_)}/{len(class_)} students" in run.stderr  # the progress bar's last line


def test_a_second_run_grades_only_what_changed_and_ignores_a_forged_cache(graded, tmp_path):
    base, out, class_, _ = graded
    # A copy, so the other tests keep reading the first run's results.
    copy = tmp_path / "grades"
    subprocess.run(["cp", "-r", str(out), str(copy)], check=True)
    submissions = tmp_path / "submissions"
    subprocess.run(["cp", "-r", str(base / "submissions"), str(submissions)], check=True)
    # carol fixes her answers; a late student arrives; someone edits bob's cached result.
    [carol] = [s.path for s in discover_submissions(submissions) if s.student == "carol-partial"]
    carol.write_bytes(samples.notebook(samples.solution_answers()))
    (submissions / "zoe-late.ipynb").write_bytes(samples.notebook())
    forged = 0
    for record in (copy / ".blockkit-grade").glob("*.json"):
        text = record.read_text(encoding="utf-8")
        if '"bob-untouched"' in text:
            record.write_text(text.replace('"points": 0', '"points": 3'), encoding="utf-8")
            forged += 1
    assert forged == 1
    run = blockkit(
        "grade",
        str(submissions),
        "--assignment",
        "03-merkle-trees",
        "--out",
        str(copy),
        "--hidden",
        str(base / "instructor" / "hidden_03.py"),
        *LIMITS,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    assert "graded 3 submissions in" in run.stdout
    assert f"{len(class_) - 2} unchanged since the last run" in run.stdout
    book, before = read_gradebook(copy), read_gradebook(out)
    assert book["carol-partial"]["total"] == "7"
    assert book["zoe-late"]["total"] == "0"
    assert book["bob-untouched"]["total"] == "0"
    for student in before:
        if student not in ("carol-partial", "bob-untouched"):
            assert book[student] == before[student]


# --- the assignment, the submissions folder, the command line ---------------------------------


def test_instructor_mistakes_are_one_line_errors(tmp_path):
    (tmp_path / "subs").mkdir()
    run = blockkit("grade", str(tmp_path / "subs"), "--assignment", "42", "--out", str(tmp_path))
    assert run.returncode == 2
    assert "no single assignment '42'" in run.stderr and "03-merkle-trees" in run.stderr
    run = blockkit("grade", str(tmp_path / "nope"), "--assignment", "03", "--out", str(tmp_path))
    assert run.returncode == 2 and "does not exist" in run.stderr
    bad = tmp_path / "hidden.py"
    bad.write_text("CASES = {}\n")
    run = blockkit(
        "grade", str(tmp_path / "subs"), "--assignment", "03", "--out", str(tmp_path),
        "--hidden", str(bad),
    )  # fmt: skip
    assert run.returncode == 2 and "HIDDEN_CASES" in run.stderr
    assert "Traceback" not in run.stderr


def test_student_ids_come_from_file_or_folder_names(tmp_path):
    folder = tmp_path / "subs"
    for path in [
        "amy.ipynb",
        "ben/work/03-merkle-trees.ipynb",
        "cat/03-merkle-trees.ipynb",
        "cat/scratch.ipynb",
        "dov/a.ipynb",
        "dov/b.ipynb",
        "eve/.ipynb_checkpoints/03-merkle-trees-checkpoint.ipynb",
        "fay.ipynb",
        "fay/03-merkle-trees.ipynb",
        ".hidden.ipynb",
        "notes.txt",
    ]:
        (folder / path).parent.mkdir(parents=True, exist_ok=True)
        (folder / path).write_text("{}")
    found = {s.student: s for s in discover_submissions(folder, samples.ASSIGNMENT)}
    assert sorted(found) == ["amy", "ben", "cat", "dov", "eve", "fay"]
    assert found["ben"].path == folder / "ben/work/03-merkle-trees.ipynb"
    assert found["cat"].path == folder / "cat/03-merkle-trees.ipynb"
    assert (found["dov"].status, found["eve"].status) == ("several-notebooks", "no-notebook")
    assert found["fay"].status == "duplicate-id"
    assert found["amy"].data == b"{}"


def _assignment() -> Assignment:
    """Lesson 03 as the grader sees it, built in this process without hidden cases."""
    trusted = build_exercise(nbformat.read(samples.SOLUTION, as_version=4))
    exercises = tuple(
        ExerciseInfo(e.id, e.title, e.points, len(e.cases), 0)
        for e in map(registry.get_exercise, samples.IDS)
    )
    return Assignment(samples.ASSIGNMENT, trusted, exercises, (), "fingerprint")


def _junit(workdir: Path, testcases: list[str]) -> Path:
    junit = workdir / "junit.xml"
    junit.write_text(f"<testsuites><testsuite>{''.join(testcases)}</testsuite></testsuites>")
    return junit


def _testcase(folder: str, cell: int, inner: str = "") -> str:
    return f'<testcase classname="{folder}.graded.ipynb" name="Cell {cell}">{inner}</testcase>'


def _property(text: str) -> str:
    value = text.replace("&", "&amp;").replace('"', "&quot;").replace("\n", "&#10;")
    return f'<properties><property name="{RECORD_PROPERTY}" value="{value}"/></properties>'


def _record(assignment: Assignment, folder: str, exercise_id: str, **changes) -> dict:
    info = next(e for e in assignment.exercises if e.id == exercise_id)
    record = {
        "submission": folder,
        "exercise": exercise_id,
        "cases": info.cases,
        "passed": True,
        "points": info.points,
        "stopped": "",
        "limit": "",
        "outcomes": [
            {"name": f"case {k}", "hidden": False, "passed": True} for k in range(info.cases)
        ],
    }
    record.update(changes)
    return record


def _honest_run(assignment: Assignment, workdir: Path, notebook: str, key: bytes, **forge):
    """The JUnit XML of a run where every check of ``notebook`` passed, signed with ``key``."""
    folder = notebook.split("/")[0]
    graded_copy = nbformat.read(workdir / notebook, as_version=4)
    testcases = []
    for number, cell in enumerate(c for c in graded_copy.cells if c.cell_type == "code"):
        tag = cell.metadata.get("blockkit", {})
        inner = ""
        if tag.get("role") == "check":
            record = _record(assignment, folder, tag["exercise"], **forge.get(tag["exercise"], {}))
            inner = _property(sign(record, key))
        testcases.append(_testcase(folder, number, inner))
    return testcases


def test_kernels_that_fail_to_start_are_retried_then_reported(tmp_path):
    """Kernels started together can clash on ports; the grader retries them (twice)."""
    assignment = _assignment()
    (tmp_path / "subs").mkdir()
    (tmp_path / "subs" / "flaky.ipynb").write_bytes(samples.notebook(samples.solution_answers()))
    (tmp_path / "subs" / "never.ipynb").write_bytes(samples.notebook())
    calls = []

    def runner(notebooks, workdir, options, hidden, key, tick):
        calls.append(len(notebooks))
        testcases = []
        for notebook in notebooks:
            answered = b"BEGIN SOLUTION" in (workdir / notebook).read_bytes()
            if answered and len(calls) > 1:
                testcases += _honest_run(assignment, workdir, notebook, key)
            else:
                testcases.append(
                    _testcase(
                        notebook.split("/")[0],
                        0,
                        '<error message="failed on setup with &quot;RuntimeError: Kernel died '
                        'before replying to kernel_info&quot;" />',
                    )
                )
        return _junit(workdir, testcases)

    results = grade(
        tmp_path / "subs", assignment, tmp_path / "out", GradeOptions(workers=1), runner=runner
    )
    by_student = {r.student: r for r in results}
    assert (by_student["flaky"].status, by_student["flaky"].total) == ("ok", 7)
    assert (by_student["never"].status, by_student["never"].total) == ("kernel-start-failed", 0)
    assert calls == [2, 2, 1]  # both, both again, then the one that never started


@pytest.mark.parametrize(
    ("forge", "status", "points"),
    [
        ({}, "ok", 7),
        ({"03.2": {"cases": 5}}, "ok", 4),  # a check that reported too few cases
        ({"03.2": {"submission": "s99999"}}, "results-tampered", 4),  # another notebook's record
        ({"03.3": {"exercise": "03.9"}}, "results-tampered", 4),
        ({"03.2": {"points": 30}}, "ok", 4),
    ],
)
def test_only_signed_complete_records_of_this_notebook_score(tmp_path, forge, status, points):
    assignment = _assignment()
    (tmp_path / "subs").mkdir()
    (tmp_path / "subs" / "x.ipynb").write_bytes(samples.notebook(samples.solution_answers()))

    def runner(notebooks, workdir, options, hidden, key, tick):
        return _junit(workdir, _honest_run(assignment, workdir, notebooks[0], key, **forge))

    [result] = grade(tmp_path / "subs", assignment, tmp_path / "out", runner=runner)
    assert (result.status, result.total) == (status, points)


def test_a_record_signed_with_another_key_or_edited_scores_nothing(tmp_path):
    assignment = _assignment()
    (tmp_path / "subs").mkdir()
    (tmp_path / "subs" / "x.ipynb").write_bytes(samples.notebook(samples.solution_answers()))

    def runner(notebooks, workdir, options, hidden, key, tick):
        return _junit(workdir, _honest_run(assignment, workdir, notebooks[0], b"a guessed key"))

    [result] = grade(tmp_path / "subs", assignment, tmp_path / "out", runner=runner)
    assert (result.status, result.total) == ("results-tampered", 0)
    assert all(e.problem for e in result.exercises.values())

    record = sign({"points": 1}, b"k")
    assert verify_signed(record, b"k") == {"points": 1}
    assert verify_signed(record.replace("1", "7"), b"k") is None
    assert verify_signed(record, b"other") is None


def test_a_failed_testcase_cannot_carry_a_passing_record(tmp_path):
    assignment = _assignment()
    (tmp_path / "subs").mkdir()
    (tmp_path / "subs" / "x.ipynb").write_bytes(samples.notebook(samples.solution_answers()))

    def runner(notebooks, workdir, options, hidden, key, tick):
        testcases = _honest_run(assignment, workdir, notebooks[0], key)
        testcases = [
            t.replace("</testcase>", '<failure message="CheckFailed" /></testcase>')
            if "03.2" in t
            else t
            for t in testcases
        ]
        return _junit(workdir, testcases)

    [result] = grade(tmp_path / "subs", assignment, tmp_path / "out", runner=runner)
    assert result.total == 4 and result.exercises["03.2"].points == 0


def test_a_missing_or_replaced_junit_file_scores_zero(tmp_path):
    for content in ["", "<testsuites", '<!DOCTYPE x [<!ENTITY a "aaaa">]><testsuites/>']:
        path = tmp_path / "junit.xml"
        path.write_text(content)
        assert read_junit(path) == []
    assert read_junit(tmp_path / "absent.xml") == []


# --- splicing -----------------------------------------------------------------------------------


def _trusted():
    return build_exercise(nbformat.read(samples.SOLUTION, as_version=4))


def test_splice_takes_only_answer_sources_into_the_trusted_copy():
    trusted = _trusted()
    data = samples.notebook({"03.1": "def leaf_hash(data):\n    return b'mine'\n"})
    spliced = splice(trusted, data, memory_bytes=10**9, cpu_seconds=99)
    graded = spliced.notebook
    assert spliced.status == "ok" and spliced.ignored == []
    assert (
        graded.cells[0].id == HARNESS_ID
        and "limit_resources(1000000000, 99)" in graded.cells[0].source
    )
    assert [c.id for c in graded.cells[1:]] == [c.id for c in trusted.cells]
    answer = next(c for c in graded.cells if c.id == "ex-03-1-answer")
    assert answer.source == "def leaf_hash(data):\n    return b'mine'\n"
    assert answer.metadata == next(c for c in trusted.cells if c.id == answer.id).metadata


def test_splice_finds_an_answer_by_metadata_when_its_id_changed():
    def new_id(nb):
        samples.cell(nb, "ex-03-2-answer")["id"] = "renamed"

    spliced = splice(_trusted(), samples.notebook({"03.2": "x = 1\n"}, new_id))
    assert spliced.status == "ok"
    assert next(c for c in spliced.notebook.cells if c.id == "ex-03-2-answer").source == "x = 1\n"


@pytest.mark.parametrize(
    ("data", "status"),
    [
        (b"\xff\xfe", "invalid-json"),
        (b"[1, 2]", "not-a-notebook"),
        (json.dumps({"nbformat": 5, "cells": []}).encode(), "wrong-nbformat"),
        (b"[" * 100_000, "invalid-json"),
        (b" " * 20_000_001, "too-large"),
    ],
)
def test_splice_refuses_what_is_not_a_notebook(data, status):
    spliced = splice(_trusted(), data)
    assert (spliced.notebook, spliced.status) == (None, status)
    assert spliced.reason


# --- the wire format and hidden cases -----------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [None, True, 0, -(10**30), 1.5, float("inf"), "", "ü", b"\x00", [1, (2, b"3")], {"a": [None]}],
)
def test_wire_round_trips_plain_data_with_exact_types(value):
    back = decode(json.loads(json.dumps(encode(value))))
    assert back == value and type(back) is type(value)


def test_wire_turns_everything_else_into_values_equal_to_nothing():
    class Sneaky(bytes):
        def __eq__(self, other):
            return True

        __hash__ = bytes.__hash__

    for value in [Sneaky(b"x"), object(), True.__class__.__mro__]:
        back = decode(json.loads(json.dumps(encode(value))))
        if not isinstance(value, tuple):
            assert isinstance(back, Unrepresentable) and back != back


def _value_samples():
    """One real value of each of blockkit's value types, as a student's function might return."""
    import random

    from blockkit.keys import PrivateKey
    from blockkit.sharing.credentials import issue_credential, present, vehicle_record
    from blockkit.sharing.identity import CertificateAuthority
    from blockkit.sharing.private import seal
    from blockkit.transactions import sign_transaction

    key = PrivateKey.from_seed("wire")
    ca = CertificateAuthority.from_seed("tax", "wire")
    member = ca.enrol("ann", seed="wire")
    sealed = seal(b"secret", [member.certificate], collection="loans", record_id="r1",
                  rng=random.Random(1))  # fmt: skip
    credential = issue_credential(
        key, issuer_name="DMV", holder=key.public_key, credential_id="c1", kind="vehicle",
        fields=vehicle_record(), issued_at=0, rng=random.Random(1),
    )  # fmt: skip
    shown = present(credential, key, ["vin"], verifier="v", challenge=b"c" * 16, at=1)
    return [
        key.address, key.public_key, member.certificate, ca.revoke(1, height=3),
        sign_transaction(key, key.address, 1, nonce=0, chain_id=1337),
        sealed, sealed.wrapped_keys[0], credential.header, credential, shown,
    ]  # fmt: skip


def test_wire_carries_blockkits_value_types_as_canonical_bytes():
    from blockkit.grading.wire import VALUE_TYPES

    samples_ = _value_samples()
    assert {f"{type(v).__module__}.{type(v).__qualname__}" for v in samples_} <= VALUE_TYPES
    for value in samples_:
        data = json.loads(json.dumps(encode(value)))
        assert data["t"] == "value", type(value)
        back = decode(data)
        assert back == value and type(back) is type(value)
    # what a kernel sends is only parsed: malformed bytes or an unknown type are refused
    from blockkit.encoding import encode as canonical

    data = encode(samples_[1])
    not_a_point = canonical([samples_[1].suite, b"\x02" + bytes(5)]).hex()
    with pytest.raises(WireError, match="PublicKey"):
        decode({**data, "v": not_a_point})
    with pytest.raises(WireError, match="value types"):
        decode({**data, "type": "os.system"})


@pytest.mark.parametrize(
    "data",
    [
        {"t": "int", "v": "1" * 5000},
        {"t": "int", "v": "0x10"},
        {"t": "bool", "v": 1},
        {"t": "float", "v": "1e99999x"},
        {"t": "bytes", "v": "zz"},
        {"t": "list", "v": [{"t": "none"}] * 100_001},
        {"t": "dict", "v": [[{"t": "list", "v": []}, {"t": "none"}]]},
        {"t": "pickle", "v": "gASVBQAAAAAAAABLAS4="},
        ["not", "tagged"],
    ],
)
def test_wire_rejects_malformed_or_oversized_replies(data):
    with pytest.raises(WireError):
        decode(data)


def test_wire_rejects_deep_nesting():
    data = {"t": "none"}
    for _ in range(40):
        data = {"t": "list", "v": [data]}
    with pytest.raises(WireError):
        decode(data)


def test_hidden_cases_file_adds_hidden_cases_once(tmp_path):
    registry.define("99.7", "scratch", function="double", points=1)
    try:
        registry.add_cases("99.7", [Case("two", (2,), 4)])
        file = tmp_path / "hidden.py"
        file.write_text(
            "from blockkit.grading import Case\n"
            "HIDDEN_CASES = {'99.7': [Case('big', (10**6,), 2 * 10**6)]}\n"
        )
        assert load_hidden_cases(file) == 1
        assert load_hidden_cases(file) == 0
        cases = registry.get_exercise("99.7").cases
        assert [(c.name, c.hidden) for c in cases] == [("two", False), ("big", True)]
    finally:
        del registry._REGISTRY["99.7"]


def test_a_bad_hidden_cases_file_is_an_instructor_error(tmp_path):
    file = tmp_path / "hidden.py"
    file.write_text("HIDDEN_CASES = {'77.1': []}\n")
    with pytest.raises(GradeError, match=r"77\.1"):
        load_assignment("03", root=ROOT, hidden=[file])


# --- every lesson's own answers, graded the way an instructor grades ------------------------------


@pytest.mark.parametrize(
    "solution", sorted((ROOT / "solutions").glob("*.ipynb")), ids=lambda path: path.stem
)
def test_blockkit_grade_gives_a_lessons_own_answers_full_marks(solution, tmp_path):
    """What check() accepts in a student's notebook, `blockkit grade` must accept too: the answers
    run in a kernel and every argument and result crosses between processes (pickle one way, the
    wire the other), which an in-process check never exercises."""
    submissions = tmp_path / "submissions"
    submissions.mkdir()
    (submissions / "alice.ipynb").write_bytes(solution.read_bytes())
    lesson = solution.name[:2]
    run = blockkit(
        "grade", str(submissions), "--assignment", lesson, "--out", str(tmp_path / "out"),
        "--workers", "1",
    )  # fmt: skip
    assert run.returncode == 0, run.stderr[-3000:]
    row = read_gradebook(tmp_path / "out")["alice"]
    feedback = (tmp_path / "out" / "feedback" / "alice.md").read_text(encoding="utf-8")
    assert row["status"] == "ok" and row["total"] == row["max"], feedback
