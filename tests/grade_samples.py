"""Submissions for grading tests and the grading benchmark, made from lesson 03's notebooks.

Each sample is the student's exercise notebook with some answer cells replaced, or a file that is
not a notebook at all; ``HOSTILE`` pairs each with the gradebook row it must get. Lesson 03
(Merkle trees) is the assignment: three exercises (1 + 3 + 3 points) and a kernel that starts in
about a second.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
ASSIGNMENT = "03-merkle-trees"
EXERCISE = ROOT / "exercises" / f"{ASSIGNMENT}.ipynb"
SOLUTION = ROOT / "solutions" / f"{ASSIGNMENT}.ipynb"
IDS = ("03.1", "03.2", "03.3")


def _load(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8"))


def _source(cell: dict[str, Any]) -> str:
    source = cell["source"]
    return source if isinstance(source, str) else "".join(source)


def solution_answers() -> dict[str, str]:
    """Each exercise's answer cell from the solution notebook (region markers left in: harmless)."""
    answers = {}
    for cell in _load(SOLUTION)["cells"]:
        tag = cell.get("metadata", {}).get("blockkit", {})
        if tag.get("role") == "answer":
            answers[tag["exercise"]] = _source(cell)
    return answers


def notebook(
    answers: dict[str, str] | None = None,
    edit: Callable[[dict[str, Any]], None] | None = None,
) -> bytes:
    """The exercise notebook with ``answers`` (exercise id → source) in its answer cells."""
    nb = _load(EXERCISE)
    for cell in nb["cells"]:
        tag = cell.get("metadata", {}).get("blockkit", {})
        if tag.get("role") == "answer" and tag["exercise"] in (answers or {}):
            cell["source"] = answers[tag["exercise"]]  # type: ignore[index]
    if edit:
        edit(nb)
    return json.dumps(nb, indent=1).encode()


def cell(nb: dict[str, Any], cell_id: str) -> dict[str, Any]:
    return next(c for c in nb["cells"] if c.get("id") == cell_id)


def correct(**replace: str) -> dict[str, str]:
    """All three answers right, except the exercises given (``_03_2="..."``)."""
    answers = solution_answers()
    for key, value in replace.items():
        answers[key.lstrip("_").replace("_", ".")] = value
    return answers


@dataclass(frozen=True)
class Sample:
    student: str
    data: bytes
    points: tuple[int, int, int]
    status: str
    feedback: tuple[str, ...] = ()
    """Text the student's feedback must contain."""


WRONG_ROOT = "def merkle_root(leaves):\n    return bytes(32)\n"
LOOP = "def merkle_root(leaves):\n    while True:\n        pass\n"
# Each trick below answers exercise 03.3 (verify_proof), which nothing else depends on, so the
# other two exercises show the trick cost nothing but its own points.
ALWAYS_EQUAL = """
class Anything(int):
    def __eq__(self, other):
        return True
    __hash__ = int.__hash__

def verify_proof(root, leaf, proof):
    return Anything(1)
"""
FAKE_CHECK = """
def check(exercise, function):
    print(f"✔ {exercise} passed all 12 checks · 3/3 points")

def verify_proof(root, leaf, proof):
    return True
"""
MONKEYPATCH = """
import builtins

import blockkit.grading
import blockkit.grading.check as checking
import blockkit.grading.remote as remote
from IPython.display import publish_display_data

checking.judge = lambda case, call, outcome: checking.CaseOutcome(case, True)
checking.same = lambda a, b: True
blockkit.grading.check = lambda *args: print("✔ passed all checks")
builtins.all = lambda items: True
builtins.any = lambda items: True
remote.serve = lambda function, name, arguments: publish_display_data(
    {remote.MIME: {"returned": {"t": "other"}}}
)

def verify_proof(root, leaf, proof):
    return True
"""
WRITE_FILES = """
import glob, os
for name in ("gradebook.csv", "../gradebook.csv", "graded.xml", "../pytest.ini"):
    with open(name, "w") as handle:
        handle.write("student,03.1\\nmallory,1000\\n")
for junit in glob.glob("../junit-*.xml"):
    with open(junit, "w") as handle:
        handle.write("forged")
"""


def _skip_markers(nb: dict[str, Any]) -> None:
    for cell_id in ("ex-03-2-check", "ex-03-3-check"):
        target = cell(nb, cell_id)
        target["source"] = "# NBVAL_SKIP\n" + _source(target)
        target["metadata"]["tags"] = ["nbval-skip", "raises-exception"]
    answer = cell(nb, "ex-03-3-answer")
    answer["source"] = "# NBVAL_RAISES_EXCEPTION\n" + _source(answer)


def _edit_metadata(nb: dict[str, Any]) -> None:
    for c in nb["cells"]:
        tag = c.get("metadata", {}).get("blockkit")
        if tag:
            tag["points"] = 100
    cell(nb, "ex-03-2-check")["metadata"]["blockkit"]["role"] = "solution-only"
    nb["metadata"]["kernelspec"] = {"name": "bash", "display_name": "Bash", "language": "bash"}


def _rename(nb: dict[str, Any]) -> None:
    answer = cell(nb, "ex-03-2-answer")
    answer["id"] = "my-answer"
    answer["metadata"].pop("blockkit")


def _write_files(nb: dict[str, Any]) -> None:
    answer = cell(nb, "ex-03-1-answer")
    answer["source"] = _source(answer) + "\n" + WRITE_FILES


def hostile() -> list[Sample]:
    """Every hostile or broken submission the grader must survive, with the row it must get."""
    right = solution_answers()
    return [
        Sample("alice-correct", notebook(right), (1, 3, 3), "ok", ("7 / 7 points",)),
        Sample("bob-untouched", notebook(), (0, 0, 0), "ok", ("Not attempted",)),
        Sample(
            "carol-partial",
            notebook({"03.1": right["03.1"], "03.2": WRONG_ROOT}),
            (1, 0, 0),
            "ok",
            ("called: `merkle_root(", "hint:"),
        ),
        Sample("dan-invalid-json", b'{"cells": [', (0, 0, 0), "invalid-json"),
        Sample("erin-not-a-notebook", b'{"hello": "world"}', (0, 0, 0), "not-a-notebook"),
        Sample(
            "frank-nbformat3",
            json.dumps({"nbformat": 3, "nbformat_minor": 0, "worksheets": []}).encode(),
            (0, 0, 0),
            "wrong-nbformat",
        ),
        Sample(
            "grace-renamed-exercise",
            notebook(right, _rename),
            (1, 0, 3),
            "missing-exercises",
            ("no answer cell",),
        ),
        Sample(
            "heidi-renamed-function",
            notebook(correct(_03_2=right["03.2"].replace("def merkle_root", "def root"))),
            (1, 0, 3),
            "ok",
            ("merkle_root is not defined",),
        ),
        Sample(
            "ivan-exception",
            notebook(correct(_03_3='raise RuntimeError("my answer cell crashes")\n')),
            (1, 3, 0),
            "answer-error",
            ("RuntimeError: my answer cell crashes",),
        ),
        Sample("judy-infinite-loop", notebook(correct(_03_2=LOOP)), (1, 0, 3), "timeout"),
        Sample(
            "ken-loop-at-top-level",
            notebook(correct(_03_3="while True:\n    pass\n")),
            (1, 3, 0),
            "timeout",
        ),
        Sample(
            "leo-os-exit",
            notebook(correct(_03_2="import os\n\nos._exit(3)\n")),
            (1, 0, 0),
            "kernel-died",
        ),
        Sample(
            "mallory-memory-bomb",
            notebook(
                correct(_03_3="hoard = []\nwhile True:\n    hoard.append(bytearray(10**8))\n")
            ),
            (1, 3, 0),
            "memory-limit",
        ),
        Sample(
            "niaj-output-flood",
            notebook(correct(_03_3='while True:\n    print("spam " * 2000)\n')),
            (1, 3, 0),
            "output-flood",
        ),
        Sample("olivia-fake-check", notebook(correct(_03_3=FAKE_CHECK)), (1, 3, 0), "ok"),
        Sample("peggy-monkeypatch", notebook(correct(_03_3=MONKEYPATCH)), (1, 3, 0), "ok"),
        Sample("rupert-always-equal", notebook(correct(_03_3=ALWAYS_EQUAL)), (1, 3, 0), "ok"),
        Sample(
            "sybil-nbval-markers",
            notebook({"03.1": right["03.1"], "03.2": WRONG_ROOT}, _skip_markers),
            (1, 0, 0),
            "ok",
            ("NBVAL markers in the answer were removed", "ex-03-2-check: edited"),
        ),
        Sample(
            "trent-metadata",
            notebook({"03.1": right["03.1"]}, _edit_metadata),
            (1, 0, 0),
            "ok",
            ("edited blockkit metadata", "kernelspec changed"),
        ),
        Sample(
            "victor-writes-files",
            notebook(right, _write_files),
            (1, 3, 3),
            "ok",
            ("files written while grading", "gradebook.csv"),
        ),
    ]


def class_of(size: int) -> list[tuple[str, bytes]]:
    """A class of ``size`` ordinary students for the benchmark: right, partly right, untouched."""
    right = solution_answers()
    kinds = [
        notebook(right),
        notebook({"03.1": right["03.1"], "03.2": WRONG_ROOT}),
        notebook(),
        notebook({"03.1": right["03.1"], "03.3": right["03.3"]}),
    ]
    return [(f"student{i:04d}", kinds[i % len(kinds)]) for i in range(size)]


HIDDEN_FILE = """
import hashlib

from blockkit.grading import Case

HIDDEN_CASES = {
    "03.1": [
        Case(
            "a leaf nobody has seen",
            (b"hidden-input-7f3a",),
            hashlib.sha256(b"\\x00hidden-input-7f3a").digest(),
            hint="hard-coding the visible cases does not help",
        )
    ]
}
"""
HIDDEN_SECRETS = ("hidden-input-7f3a", "7f3a")
"""Text from the hidden case that must never reach a student's feedback."""

HARDCODED = """
import hashlib

KNOWN = {
    b"alice pays bob 5": hashlib.sha256(b"\\x00alice pays bob 5").digest(),
    b"": hashlib.sha256(b"\\x00").digest(),
    bytes(range(64)): hashlib.sha256(b"\\x00" + bytes(range(64))).digest(),
}

def leaf_hash(data):
    return KNOWN.get(data, b"")
"""


def hardcoded() -> Sample:
    """Passes the visible cases of 03.1 by a lookup table; the hidden case catches it."""
    return Sample(
        "walter-hardcoded",
        notebook(correct(_03_1=HARDCODED)),
        (0, 0, 0),
        "ok",
        ("hidden case *a leaf nobody has seen* failed", "hard-coding"),
    )


def write_class(folder: Path, samples: list[Sample]) -> None:
    """Lay the samples out as a submissions folder, half as files, half in student folders."""
    folder.mkdir(parents=True, exist_ok=True)
    for index, sample in enumerate(samples):
        if index % 2:
            (folder / sample.student).mkdir()
            (folder / sample.student / f"{ASSIGNMENT}.ipynb").write_bytes(sample.data)
        else:
            (folder / f"{sample.student}.ipynb").write_bytes(sample.data)
