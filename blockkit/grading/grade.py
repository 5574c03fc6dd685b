"""``blockkit grade``: grade a folder of submissions with nbval, in parallel, without trusting them.

For one assignment (a solution notebook ``solutions/NN-topic.ipynb``) and a folder of student
notebooks, ``grade``:

1. builds the trusted copy of the assignment (the exercise notebook, from the solution) and loads
   the instructor's hidden cases into the registry;
2. reads each submission as bytes and splices only its answer cells into the trusted copy
   (``blockkit.grading.splice``); a file that cannot be read gets a status, never a crash;
3. runs the graded copies with ``pytest --nbval-lax`` and the grading plugin
   (``blockkit.grading.plugin``) in batches, on all cores with ``pytest-xdist --dist loadfile``,
   each kernel capped in memory and CPU time; a submission whose kernel failed to start is retried;
4. reads the JUnit XML pytest wrote, keeps only check records signed with this run's key, checks
   that every exercise reported with the expected number of cases, and scores each exercise;
5. caches each student's result (signed, keyed by the submission's hash and the assignment's
   fingerprint), so a second run grades only what is new or changed;
6. writes the gradebook, feedback and summary (``blockkit.grading.report``).

Student ids come from the submission folder: ``SUBMISSIONS/<id>.ipynb`` or
``SUBMISSIONS/<id>/<any name>.ipynb`` (one notebook per folder, as JupyterHub or an LMS export
collects them).
"""

from __future__ import annotations

import hashlib
import math
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nbformat

from blockkit import __version__
from blockkit.errors import BlockkitError
from blockkit.grading.notebooks import NotebookError, build_exercise, cell_id, exercise_cells
from blockkit.grading.plugin import (
    KEY_VARIABLE,
    PROGRESS_PREFIX,
    RECORD_PROPERTY,
    sign,
    verify_signed,
)
from blockkit.grading.registry import get_exercise, load_hidden_cases
from blockkit.grading.splice import splice

__all__ = [
    "Assignment",
    "ExerciseResult",
    "GradeError",
    "GradeOptions",
    "StudentResult",
    "Submission",
    "discover_submissions",
    "grade",
    "load_assignment",
]

CACHE_DIR = ".blockkit-grade"
KERNEL_START_RETRIES = 2
_SAFE_ID = re.compile(r"[^A-Za-z0-9._@+-]+")
_KERNEL_START = ("Kernel died before replying to kernel_info", "Timeout waiting for IOPub")

# Statuses, most serious first: a student's status is the most serious thing that happened.
STATUSES = (
    "too-large",
    "invalid-json",
    "not-a-notebook",
    "wrong-nbformat",
    "no-notebook",
    "several-notebooks",
    "duplicate-id",
    "kernel-start-failed",
    "kernel-died",
    "memory-limit",
    "timeout",
    "output-flood",
    "results-tampered",
    "missing-exercises",
    "answer-error",
    "ok",
)


class GradeError(BlockkitError):
    """The instructor's input to ``blockkit grade`` is wrong (assignment, folder, hidden file)."""


# --- the assignment ------------------------------------------------------------------------------


@dataclass(frozen=True)
class ExerciseInfo:
    """One graded exercise of the assignment, as the grader expects it to report."""

    id: str
    title: str
    points: int
    cases: int
    """Number of cases its check must report, hidden ones included."""
    hidden: int


@dataclass(frozen=True)
class Assignment:
    """The trusted side of grading: the assignment notebook and what each check must report."""

    name: str
    trusted: Any
    exercises: tuple[ExerciseInfo, ...]
    hidden_files: tuple[Path, ...]
    fingerprint: str
    """Changes whenever anything that decides a grade changes: notebook, cases, limits, version."""

    @property
    def max_points(self) -> int:
        return sum(e.points for e in self.exercises)


def resolve_assignment(spec: str, root: Path) -> Path:
    """The solution notebook meant by ``spec``: a path, ``03-merkle-trees`` or just ``03``."""
    path = Path(spec)
    if path.suffix == ".ipynb":
        if not path.is_file():
            raise GradeError(f"assignment notebook {spec} does not exist")
        return path
    folder = root / "solutions"
    matches = sorted(folder.glob(f"{spec}.ipynb")) or sorted(folder.glob(f"{spec}-*.ipynb"))
    if len(matches) != 1:
        known = ", ".join(p.stem for p in sorted(folder.glob("*.ipynb"))) or "none"
        raise GradeError(
            f"no single assignment {spec!r} in {folder} (found {len(matches)}); "
            f"use one of: {known}, or pass the solution notebook's path"
        )
    return matches[0]


def load_assignment(
    spec: str, *, root: Path = Path("."), hidden: Sequence[Path] = (), limits: str = ""
) -> Assignment:
    """Build the trusted notebook for ``spec`` and load the hidden cases into the registry."""
    path = resolve_assignment(spec, root)
    hidden_files = tuple(Path(h).resolve() for h in hidden)
    digest = hashlib.sha256(f"blockkit {__version__}\n{limits}\n".encode())
    for file in hidden_files:
        try:
            load_hidden_cases(file)
            digest.update(file.read_bytes())
        except GradeError:
            raise
        except Exception as exc:
            raise GradeError(f"hidden cases file {file}: {exc}") from None
    try:
        trusted = build_exercise(nbformat.read(path, as_version=4), str(path))
        cells = exercise_cells(trusted, str(path), solution=False)
    except (NotebookError, OSError, ValueError) as exc:
        raise GradeError(f"assignment {path} cannot be graded: {exc}") from None
    if not cells:
        raise GradeError(f"assignment {path} has no graded exercises")
    exercises = []
    for cell in cells:
        exercise = get_exercise(cell.exercise_id)
        hidden_count = sum(case.hidden for case in exercise.cases)
        exercises.append(
            ExerciseInfo(
                exercise.id, exercise.title, exercise.points, len(exercise.cases), hidden_count
            )
        )
        digest.update(f"{exercise.id}:{exercise.points}:{len(exercise.cases)}\n".encode())
    digest.update(nbformat.writes(trusted).encode())
    return Assignment(path.stem, trusted, tuple(exercises), hidden_files, digest.hexdigest())


# --- submissions --------------------------------------------------------------------------------


@dataclass
class Submission:
    """One student's file, read once into memory (so later edits on disk change nothing)."""

    student: str
    path: Path | None
    data: bytes = b""
    status: str = "ok"
    reason: str = ""

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()


def _notebooks_in(folder: Path) -> list[Path]:
    return sorted(
        p
        for p in folder.rglob("*.ipynb")
        if p.is_file() and not any(part.startswith(".") for part in p.relative_to(folder).parts)
    )


def discover_submissions(folder: Path, assignment_name: str = "") -> list[Submission]:
    """One ``Submission`` per student in ``folder``, sorted by student id.

    ``folder/<id>.ipynb`` is student ``<id>``; so is ``folder/<id>/`` holding one notebook (at any
    depth, checkpoints ignored). A folder with several notebooks uses the one named like the
    assignment, else it gets the status ``several-notebooks``.
    """
    if not folder.is_dir():
        raise GradeError(f"submissions folder {folder} does not exist or is not a folder")
    found: dict[str, list[Submission]] = {}
    for entry in sorted(folder.iterdir()):
        if entry.name.startswith(".") or entry.name == "__MACOSX":
            continue
        if entry.is_file() and entry.suffix == ".ipynb":
            found.setdefault(entry.stem, []).append(Submission(entry.stem, entry))
        elif entry.is_dir():
            notebooks = _notebooks_in(entry)
            named = [p for p in notebooks if p.stem == assignment_name]
            if len(notebooks) == 1 or len(named) == 1:
                chosen = notebooks[0] if len(notebooks) == 1 else named[0]
                found.setdefault(entry.name, []).append(Submission(entry.name, chosen))
            elif not notebooks:
                found.setdefault(entry.name, []).append(
                    Submission(entry.name, None, status="no-notebook", reason="no .ipynb file")
                )
            else:
                names = ", ".join(str(p.relative_to(entry)) for p in notebooks[:5])
                found.setdefault(entry.name, []).append(
                    Submission(
                        entry.name,
                        None,
                        status="several-notebooks",
                        reason=f"{len(notebooks)} notebooks ({names}); keep one, or name it "
                        f"{assignment_name}.ipynb",
                    )
                )
    submissions = []
    for student, entries in sorted(found.items()):
        if len(entries) > 1:
            where = " and ".join(str(e.path or folder / student) for e in entries)
            submissions.append(
                Submission(student, None, status="duplicate-id", reason=f"two submissions: {where}")
            )
            continue
        submission = entries[0]
        if submission.path is not None:
            try:
                submission.data = submission.path.read_bytes()
            except OSError as exc:
                submission.status, submission.reason = "invalid-json", f"unreadable: {exc}"
        submissions.append(submission)
    return submissions


# --- results ------------------------------------------------------------------------------------


@dataclass
class ExerciseResult:
    """One exercise of one student: points and the check's record (cases, hints)."""

    id: str
    points: int = 0
    passed: bool = False
    reported: bool = False
    record: dict[str, Any] = field(default_factory=dict)
    problem: str = ""
    """Why the exercise scored zero without a verdict (never reported, tampered, ...)."""


@dataclass
class StudentResult:
    """Everything the gradebook and the feedback say about one student."""

    student: str
    sha256: str
    status: str
    reason: str = ""
    exercises: dict[str, ExerciseResult] = field(default_factory=dict)
    ignored: list[str] = field(default_factory=list)
    """Changes outside the answer cells, and files the notebook wrote: reported, not graded."""
    cell_errors: list[str] = field(default_factory=list)
    cached: bool = False
    """True when this result was read back from an earlier run instead of graded now."""

    @property
    def total(self) -> int:
        return sum(e.points for e in self.exercises.values())

    def flag(self, status: str, reason: str) -> None:
        """Record a problem; the status (and its reason) is the most serious one seen."""
        if STATUSES.index(status) < STATUSES.index(self.status):
            self.status, self.reason = status, reason
        elif status == self.status and not self.reason:
            self.reason = reason

    def to_json(self) -> dict[str, Any]:
        return {
            "student": self.student,
            "sha256": self.sha256,
            "status": self.status,
            "reason": self.reason,
            "exercises": {k: vars(v) for k, v in self.exercises.items()},
            "ignored": self.ignored,
            "cell_errors": self.cell_errors,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> StudentResult:
        exercises = {k: ExerciseResult(**v) for k, v in data["exercises"].items()}
        return cls(
            data["student"],
            data["sha256"],
            data["status"],
            data["reason"],
            exercises,
            list(data["ignored"]),
            list(data["cell_errors"]),
        )


# --- options and the cache ----------------------------------------------------------------------


@dataclass(frozen=True)
class GradeOptions:
    """Limits and parallelism; the defaults suit the course's notebooks."""

    workers: int = 0
    """Parallel kernels (pytest-xdist workers); 0 means one per CPU core."""
    batch: int = 0
    """Submissions per pytest run (results are cached after each); 0 picks 64 per worker."""
    cell_timeout: float = 60.0
    case_timeout: float = 20.0
    notebook_timeout: float = 300.0
    memory_mb: int = 2048
    """Address-space limit of each kernel (RLIMIT_AS); 0 for none."""
    output_limit: int = 2_000_000
    force: bool = False
    """Regrade everything, ignoring cached results."""

    def limits(self) -> str:
        """The options that can change a grade, for the assignment fingerprint."""
        return (
            f"cell {self.cell_timeout} case {self.case_timeout} notebook {self.notebook_timeout} "
            f"memory {self.memory_mb} output {self.output_limit}"
        )

    def worker_count(self) -> int:
        return self.workers if self.workers > 0 else max(1, os.cpu_count() or 1)


class _Cache:
    """Finished results in ``OUT/.blockkit-grade/``, one signed file per student."""

    def __init__(self, out: Path) -> None:
        self.folder = out / CACHE_DIR
        self.folder.mkdir(parents=True, exist_ok=True)
        key_file = self.folder / "key"
        if not key_file.exists():
            _write_private(key_file, secrets.token_hex(32))
        self.key = key_file.read_text().strip().encode()

    def _file(self, student: str) -> Path:
        return self.folder / (hashlib.sha256(student.encode()).hexdigest()[:32] + ".json")

    def get(self, submission: Submission, fingerprint: str) -> StudentResult | None:
        path = self._file(submission.student)
        if not path.is_file():
            return None
        data = verify_signed(path.read_text(encoding="utf-8"), self.key)
        if data is None:
            return None
        if data.get("fingerprint") != fingerprint or data["result"]["sha256"] != submission.sha256:
            return None
        return StudentResult.from_json(data["result"])

    def put(self, result: StudentResult, fingerprint: str) -> None:
        text = sign({"fingerprint": fingerprint, "result": result.to_json()}, self.key)
        path = self._file(result.student)
        partial = path.with_suffix(".tmp")
        partial.write_text(text, encoding="utf-8")
        partial.replace(path)


def _write_private(path: Path, text: str) -> None:
    """Write a key file only its owner can read (created 0600, never world-readable)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)


# --- running pytest ----------------------------------------------------------------------------


@dataclass
class _Job:
    """One submission in a batch: where its graded copy is and what the splice found."""

    submission: Submission
    folder: str
    """``sNNNN``: the graded copy is ``<workdir>/sNNNN/graded.ipynb``."""
    code_cells: list[str]
    """Cell id of each code cell of the graded copy, in nbval's ``Cell N`` order."""
    result: StudentResult
    notebook: Any = None
    """The graded copy, or ``None`` when the submission could not be spliced."""
    attempts: int = 0


Progress = Callable[[int, int, int], None]
"""``progress(students_done, students_total, checks_done_in_batch)``."""

Runner = Callable[[list[str], Path, "GradeOptions", list[Path], bytes, Callable[[], None]], Path]
"""``runner(notebooks, workdir, options, hidden_files, key, tick) -> junit_path``."""


def run_pytest(
    notebooks: list[str],
    workdir: Path,
    options: GradeOptions,
    hidden: list[Path],
    key: bytes,
    tick: Callable[[], None],
) -> Path:
    """Run the graded notebooks under nbval with the grading plugin; return the JUnit XML path.

    pytest runs in ``workdir`` with an empty config (the project's own pytest settings and any
    ``conftest.py`` are not used), plugins loaded explicitly, and the signing key in a file the
    plugin deletes before the first kernel starts. The whole process group is killed when the batch
    overruns its time limit, so a runaway kernel cannot outlive it.
    """
    key_file = workdir / "key"
    _write_private(key_file, key.decode())
    junit = workdir / f"junit-{secrets.token_hex(4)}.xml"
    (workdir / "pytest.ini").write_text("[pytest]\n", encoding="utf-8")
    workers = min(options.worker_count(), len(notebooks))
    command = [
        sys.executable,
        "-m",
        "pytest",
        *notebooks,
        "-c",
        str(workdir / "pytest.ini"),
        "--rootdir",
        str(workdir),
        "--noconftest",
        "-p",
        "no:cacheprovider",
        "-p",
        "nbval.plugin",
        "-p",
        "blockkit.grading.plugin",
        "--blockkit-grade",
        "--nbval-lax",
        "--nbval-current-env",
        f"--nbval-cell-timeout={options.cell_timeout:g}",
        f"--blockkit-case-timeout={options.case_timeout:g}",
        f"--blockkit-notebook-timeout={options.notebook_timeout:g}",
        f"--blockkit-output-limit={options.output_limit}",
        f"--junitxml={junit}",
        "-q",
        "--tb=line",
        "-o",
        "junit_logging=no",
    ]
    for file in hidden:
        command.append(f"--blockkit-hidden={file}")
    if workers > 1:
        command += ["-p", "xdist.plugin", "-n", str(workers), "--dist", "loadfile"]
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("PYTEST_", "BLOCKKIT_GRADE", "JUPYTER_")) and k != "PYTHONPATH"
    }
    env.update({KEY_VARIABLE: str(key_file), "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"})
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    rounds = math.ceil(len(notebooks) / max(1, workers))
    deadline = time.monotonic() + 60 + rounds * (options.notebook_timeout + 60)
    with open(workdir / "pytest.log", "ab") as log:
        process = subprocess.Popen(
            command,
            cwd=workdir,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
        assert process.stderr is not None
        try:
            os.set_blocking(process.stderr.fileno(), False)
            buffer = b""
            while True:
                chunk = process.stderr.read(65536)
                if chunk:
                    buffer += chunk
                    *lines, buffer = buffer.split(b"\n")
                    for line in lines:
                        if line.strip() == PROGRESS_PREFIX.encode():
                            tick()
                        else:
                            log.write(line + b"\n")
                elif process.poll() is not None:
                    break
                elif time.monotonic() > deadline:
                    log.write(b"blockkit grade: the batch overran its time limit; stopped\n")
                    break
                else:
                    time.sleep(0.05)
        finally:
            _kill_group(process)
    return junit


def _kill_group(process: subprocess.Popen[bytes]) -> None:
    """Stop pytest and everything it started (kernels included)."""
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    process.wait()


# --- reading the results -----------------------------------------------------------------------


@dataclass
class _Case:
    """One nbval test case from the JUnit XML."""

    folder: str
    cell: int
    outcome: str
    """passed / failed / error / skipped."""
    message: str
    records: list[str]


_MAX_JUNIT_BYTES = 200_000_000


def read_junit(path: Path) -> list[_Case]:
    """The test cases in pytest's JUnit XML; an absent or unreadable file gives none."""
    try:
        data = path.read_bytes()
    except OSError:
        return []
    # pytest never writes a DOCTYPE; one here means the file was replaced (entity bombs).
    if len(data) > _MAX_JUNIT_BYTES or b"<!DOCTYPE" in data or b"<!ENTITY" in data:
        return []
    try:
        root = ET.fromstring(data)
    except ET.ParseError:
        return []
    cases = []
    for testcase in root.iter("testcase"):
        classname = testcase.get("classname", "")
        name = testcase.get("name", "")
        if not name.startswith("Cell ") or not name[5:].isdigit():
            continue
        outcome, message = "passed", ""
        for kind in ("failure", "error", "skipped"):
            element = testcase.find(kind)
            if element is not None:
                outcome = {"failure": "failed"}.get(kind, kind)
                # The message attribute is cut short; the element's text has the whole report.
                message = f"{element.get('message', '')}\n{element.text or ''}"
                break
        records = [
            p.get("value", "")
            for p in testcase.iter("property")
            if p.get("name") == RECORD_PROPERTY
        ]
        cases.append(_Case(classname.split(".")[0], int(name[5:]), outcome, message, records))
    return cases


def _stopped_status(stopped: str) -> str:
    if stopped.startswith("output flood"):
        return "output-flood"
    if stopped.startswith("the kernel died"):
        return "kernel-died"
    return "timeout"


def _cell_error(message: str) -> tuple[str, str]:
    """The status and a one-line reason for a failed cell, from nbval's report.

    Only nbval's own header (before the cell's source) and the exception line are read, so words
    in a student's code cannot change the status.
    """
    header = _ANSI.sub("", message).split("Input:")[0]
    short = _short(message)
    if "Timeout of" in header:
        return "timeout", "did not finish within the cell time limit (interrupted)"
    if "Kernel dead" in header or "Kernel died" in header:
        return "kernel-died", "the kernel died (os._exit, a crash, or the memory limit)"
    if "output flood" in header:
        return "output-flood", short.removeprefix("pytest plugin exception: ")
    if short.startswith("MemoryError"):
        return "memory-limit", "MemoryError: the kernel reached its memory limit"
    return "cell-error", short


_ANSI = re.compile(r"(?:\x1b|#x1B)\[[0-9;]*m")
_EXCEPTION_LINE = re.compile(r"^[A-Za-z_][\w.]*(Error|Exception|Exit|Interrupt|Limit)(: .*)?$")


def _short(message: str, limit: int = 200) -> str:
    """The exception line of an nbval failure (``NameError: name 'x' is not defined``)."""
    lines = [line.strip() for line in _ANSI.sub("", message).splitlines() if line.strip()]
    text = lines[-1] if lines else ""
    for line in lines:
        if _EXCEPTION_LINE.match(line):
            text = line
    return text[:limit]


def _score(job: _Job, cases: list[_Case], assignment: Assignment, key: bytes) -> None:
    """Fill ``job.result`` from this submission's test cases and verified check records."""
    result = job.result
    expected = {e.id: e for e in assignment.exercises}
    for case in cases:
        known = case.cell < len(job.code_cells)
        where = job.code_cells[case.cell] if known else f"Cell {case.cell}"
        verified = [r for r in (verify_signed(text, key) for text in case.records) if r is not None]
        if len(verified) != len(case.records):
            result.flag("results-tampered", "a check record was not signed by this grader")
        for record in verified:
            exercise = record.get("exercise")
            info = expected.get(exercise) if isinstance(exercise, str) else None
            if info is None or record.get("submission") != job.folder:
                result.flag("results-tampered", "a check record belongs to another notebook")
                continue
            if where != cell_id(info.id, "check"):
                result.flag("results-tampered", f"a check record came from {where}")
                continue
            slot = result.exercises[info.id]
            if slot.reported:
                slot.problem = "reported twice"
                slot.points, slot.passed = 0, False
                continue
            slot.reported, slot.record = True, record
            consistent = (case.outcome == "passed") == bool(record.get("passed"))
            if record.get("cases") != info.cases or len(record.get("outcomes", [])) != info.cases:
                slot.problem = (
                    f"the check reported {record.get('cases')} cases, {info.cases} expected"
                )
            elif not consistent:
                slot.problem = "the check's record and its test outcome disagree"
            elif record.get("passed") and record.get("points") == info.points:
                slot.points, slot.passed = info.points, True
            stopped = str(record.get("stopped") or "")
            limit = str(record.get("limit") or "")
            if stopped or limit:
                status = _stopped_status(stopped) if stopped else "timeout"
                result.flag(status, f"{info.id}: {stopped or limit}")
        if case.outcome in ("failed", "error") and not case.records:
            if case.message.startswith("failed on setup"):
                status, short = "kernel-start-failed", _short(case.message)
            else:
                status, short = _cell_error(case.message)
            if status == "cell-error" and where.endswith("-answer"):
                status = "answer-error"
            result.cell_errors.append(f"{where}: {short}")
            if status != "cell-error":
                result.flag(status, f"{where}: {short}")
    for slot in result.exercises.values():
        if not slot.reported and not slot.problem:
            slot.problem = "its check never reported (the notebook stopped before it?)"


def _kernel_start_failed(cases: list[_Case]) -> bool:
    """True when the kernel never came up: retry the submission instead of failing it."""
    if not cases:
        return True
    return any(
        c.outcome == "error" and any(text in c.message for text in _KERNEL_START) for c in cases
    ) and not any(c.records for c in cases)


# --- the whole run -----------------------------------------------------------------------------


def _prepare(submission: Submission, assignment: Assignment, options: GradeOptions) -> _Job:
    result = StudentResult(submission.student, submission.sha256, submission.status)
    result.reason = submission.reason
    result.exercises = {e.id: ExerciseResult(e.id) for e in assignment.exercises}
    job = _Job(submission, "", [], result)
    if submission.status != "ok":
        return job
    spliced = splice(
        assignment.trusted,
        submission.data,
        memory_bytes=options.memory_mb * 1024 * 1024,
        cpu_seconds=int(options.notebook_timeout) + 30,
    )
    result.ignored = list(spliced.ignored)
    if spliced.notebook is None:
        result.status, result.reason = spliced.status, spliced.reason
        return job
    if spliced.status != "ok":
        result.status, result.reason = spliced.status, spliced.reason
        for exercise_id in spliced.missing:
            result.exercises[exercise_id].problem = "no answer cell in the submission"
    job.code_cells = [str(c.get("id", "")) for c in spliced.notebook.cells if c.cell_type == "code"]
    job.notebook = spliced.notebook
    return job


def _files_written(folder: Path) -> list[str]:
    written = sorted(
        str(p.relative_to(folder)) for p in folder.rglob("*") if p.name != "graded.ipynb"
    )
    return written[:20]


def grade(
    submissions_folder: Path,
    assignment: Assignment,
    out: Path,
    options: GradeOptions = GradeOptions(),
    *,
    progress: Progress | None = None,
    runner: Runner = run_pytest,
) -> list[StudentResult]:
    """Grade every submission in ``submissions_folder``; write nothing but the cache.

    Returns one ``StudentResult`` per student. ``blockkit.grading.report.write_reports`` turns them
    into the gradebook, feedback and summary.
    """
    out.mkdir(parents=True, exist_ok=True)
    submissions = discover_submissions(submissions_folder, assignment.name)
    cache = _Cache(out)
    results: dict[str, StudentResult] = {}
    pending: list[_Job] = []
    for submission in submissions:
        cached = None if options.force else cache.get(submission, assignment.fingerprint)
        if cached is not None:
            cached.cached = True
            results[submission.student] = cached
            continue
        job = _prepare(submission, assignment, options)
        if job.notebook is None:
            results[submission.student] = job.result
            cache.put(job.result, assignment.fingerprint)
        else:
            pending.append(job)
    total = len(submissions)
    done = len(results)
    if progress:
        progress(done, total, 0)
    batch_size = options.batch or 64 * options.worker_count()
    counter = 0
    while pending:
        batch, pending = pending[:batch_size], pending[batch_size:]
        checks = 0
        workdir = Path(tempfile.mkdtemp(prefix="blockkit-grade-"))
        try:
            paths = []
            for job in batch:
                counter += 1
                job.folder = f"s{counter:05d}"
                (workdir / job.folder).mkdir()
                nbformat.write(job.notebook, workdir / job.folder / "graded.ipynb")
                paths.append(f"{job.folder}/graded.ipynb")

            def tick(done: int = done) -> None:
                nonlocal checks
                checks += 1
                if progress:
                    progress(done, total, checks)

            key = secrets.token_hex(32).encode()
            junit = runner(paths, workdir, options, list(assignment.hidden_files), key, tick)
            cases = read_junit(junit)
            by_folder: dict[str, list[_Case]] = {}
            for case in cases:
                by_folder.setdefault(case.folder, []).append(case)
            for job in batch:
                mine = by_folder.get(job.folder, [])
                if _kernel_start_failed(mine) and job.attempts < KERNEL_START_RETRIES:
                    job.attempts += 1
                    pending.append(job)
                    continue
                if not mine:
                    job.result.flag("kernel-start-failed", "the kernel never started (retried)")
                _score(job, mine, assignment, key)
                written = _files_written(workdir / job.folder)
                if written:
                    job.result.ignored.append(
                        "files written while grading (ignored): " + ", ".join(written)
                    )
                results[job.submission.student] = job.result
                cache.put(job.result, assignment.fingerprint)
                done += 1
                if progress:
                    progress(done, total, checks)
        finally:
            shutil.rmtree(workdir, ignore_errors=True)
    return [results[s.student] for s in submissions]


def safe_name(student: str) -> str:
    """A file name for ``student``'s feedback that cannot leave the feedback folder."""
    name = _SAFE_ID.sub("_", student).strip("._") or "student"
    return name[:80]
