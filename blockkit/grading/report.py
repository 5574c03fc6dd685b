"""What ``blockkit grade`` writes: the gradebook, each student's feedback, and the summary.

- ``gradebook.csv``: one row per student — ``student``, one column of points per exercise,
  ``total``, ``max``, ``percent``, ``status``, ``reason``. Plain CSV (UTF-8, comma, header row), so
  an LMS imports it by matching the ``student`` column.
- ``feedback/<student>.md``: each exercise's verdict, and for a failed visible case what was
  called, expected and returned, with its hint; a failed hidden case shows only its name and hint,
  never its input or expected answer. Then what the grader ignored (edited check cells, files
  written).
- ``summary.csv`` and ``difficulty.png``: per exercise, how many students passed; the plot puts the
  hardest exercise at the top.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from blockkit.grading.grade import Assignment, StudentResult, safe_name

__all__ = ["gradebook", "summary", "write_reports"]


def gradebook(results: list[StudentResult], assignment: Assignment) -> pd.DataFrame:
    """One row per student, columns as in ``gradebook.csv``."""
    rows = []
    for result in results:
        row: dict[str, object] = {"student": result.student}
        for exercise in assignment.exercises:
            row[exercise.id] = result.exercises[exercise.id].points
        row["total"] = result.total
        row["max"] = assignment.max_points
        row["percent"] = round(100 * result.total / assignment.max_points, 1)
        row["status"] = result.status
        row["reason"] = result.reason
        rows.append(row)
    columns = ["student", *(e.id for e in assignment.exercises)]
    columns += ["total", "max", "percent", "status", "reason"]
    return pd.DataFrame(rows, columns=columns)


def summary(results: list[StudentResult], assignment: Assignment) -> pd.DataFrame:
    """Per exercise: points, how many students passed, the pass rate and the mean points."""
    rows = []
    for exercise in assignment.exercises:
        passed = sum(r.exercises[exercise.id].passed for r in results)
        attempted = sum(
            r.exercises[exercise.id].reported
            and not all(
                o.get("not_implemented")
                for o in r.exercises[exercise.id].record.get("outcomes", [])
            )
            for r in results
        )
        count = len(results)
        rows.append(
            {
                "exercise": exercise.id,
                "title": exercise.title,
                "points": exercise.points,
                "cases": exercise.cases,
                "hidden": exercise.hidden,
                "students": count,
                "attempted": attempted,
                "passed": passed,
                "pass_rate": round(passed / count, 3) if count else 0.0,
                "mean_points": round(
                    sum(r.exercises[exercise.id].points for r in results) / count, 2
                )
                if count
                else 0.0,
            }
        )
    return pd.DataFrame(rows)


def _case_lines(outcome: dict[str, object], hints: set[str]) -> list[str]:
    """A failed case; its hint only the first time the exercise's feedback shows it."""
    name = outcome.get("name", "")
    hint = str(outcome.get("hint") or "")
    if hint in hints:
        hint = ""
    hints.add(hint)
    if outcome.get("hidden"):
        lines = [f"- ✘ hidden case *{name}* failed: {outcome.get('problem', '')}"]
    else:
        lines = [
            f"- ✘ case *{name}*: {outcome.get('problem', '')}",
            f"  - called: `{outcome.get('call', '')}`",
            f"  - expected: `{outcome.get('expected', '')}`",
            f"  - got: `{outcome.get('got', '')}`",
        ]
    if hint:
        lines.append(f"  - hint: {hint}")
    return lines


def feedback(result: StudentResult, assignment: Assignment) -> str:
    """The Markdown feedback for one student."""
    percent = 100 * result.total / assignment.max_points
    lines = [
        f"# {assignment.name}: feedback for {result.student}",
        "",
        f"**{result.total} / {assignment.max_points} points ({percent:.0f}%)**",
        "",
    ]
    if result.status != "ok":
        lines += [f"Status: **{result.status}** — {result.reason}", ""]
    for info in assignment.exercises:
        slot = result.exercises[info.id]
        title = f"## {info.id} {info.title} — {slot.points}/{info.points}"
        lines += [title, ""]
        outcomes = slot.record.get("outcomes", []) if slot.reported else []
        if slot.passed:
            hidden = f" ({info.hidden} hidden)" if info.hidden else ""
            lines += [f"✔ passed all {info.cases} checks{hidden}.", ""]
            continue
        if slot.problem:
            lines += [f"✘ {slot.problem}", ""]
        if outcomes and all(o.get("not_implemented") for o in outcomes):
            lines += ["Not attempted: the function still raises NotImplementedError.", ""]
            continue
        failed = [o for o in outcomes if not o.get("passed")]
        if failed:
            lines.append(f"✘ {len(failed)} of {len(outcomes)} checks failed:")
            hints: set[str] = set()
            for outcome in failed:
                lines += _case_lines(outcome, hints)
            lines.append("")
        stopped = slot.record.get("stopped")
        if stopped:
            lines += [f"Grading stopped: {stopped}", ""]
    if result.cell_errors:
        lines += ["## Cells that failed", ""]
        lines += [f"- {error}" for error in result.cell_errors]
        lines.append("")
    if result.ignored:
        lines += [
            "## Ignored",
            "",
            "Only your answer cells are graded; these changes were not used:",
            "",
        ]
        lines += [f"- {note}" for note in result.ignored]
        lines.append("")
    return "\n".join(lines)


def _plot(table: pd.DataFrame, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ordered = table.sort_values("pass_rate", ascending=False)
    labels = [f"{row.exercise} {row.title}" for row in ordered.itertuples()]
    figure, axes = plt.subplots(figsize=(7, 0.45 * len(ordered) + 1.2))
    bars = axes.barh(labels, ordered["pass_rate"] * 100, color="#4C72B0")
    axes.bar_label(bars, labels=[f"{p:.0%}" for p in ordered["pass_rate"]], padding=3)
    axes.set_xlim(0, 110)
    axes.set_xlabel("students who passed (%)")
    axes.set_title("Which exercises are hard (lowest pass rate at the bottom)")
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


def write_reports(results: list[StudentResult], assignment: Assignment, out: Path) -> pd.DataFrame:
    """Write the gradebook, feedback, summary and plot into ``out``; return the summary table."""
    out.mkdir(parents=True, exist_ok=True)
    gradebook(results, assignment).to_csv(out / "gradebook.csv", index=False)
    folder = out / "feedback"
    folder.mkdir(exist_ok=True)
    names: set[str] = set()
    for result in results:
        name = safe_name(result.student)
        while name in names:
            name += "_"
        names.add(name)
        (folder / f"{name}.md").write_text(feedback(result, assignment), encoding="utf-8")
    table = summary(results, assignment)
    table.to_csv(out / "summary.csv", index=False)
    if len(table):
        _plot(table, out / "difficulty.png")
    return table
