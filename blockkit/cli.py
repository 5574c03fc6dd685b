"""The ``blockkit`` command: one entry point, one subcommand per job.

    blockkit --version
    blockkit info                  # versions, key suites, presets: paste it into a bug report
    blockkit chain course.db       # what a chain store holds
    blockkit exercises build       # exercises/ from solutions/ (--check: is it up to date?)
    blockkit grade SUBMISSIONS --assignment 03 --out grades/   # gradebook, feedback, summary
    blockkit hub bundle OUT --git  # what a JupyterHub serves students (no solutions, no hidden)
    blockkit hub link --hub URL --repo URL --lesson 03   # a one-click nbgitpuller link

Each subcommand is a function registered with ``@command``; later parts of the kit (grading,
exercise generation, hosting) add theirs the same way, so ``blockkit --help`` lists everything.
Errors a user can fix (a ``BlockkitError``) print one line and exit with status 2, never a
traceback.
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from blockkit import __version__
from blockkit.errors import BlockkitError

__all__ = ["command", "main"]

Configure = Callable[[argparse.ArgumentParser], None]
Run = Callable[[argparse.Namespace], int]


@dataclass(frozen=True)
class _Command:
    name: str
    help: str
    configure: Configure
    run: Run


_COMMANDS: dict[str, _Command] = {}


def command(name: str, help: str, configure: Configure | None = None) -> Callable[[Run], Run]:
    """Register ``run`` as ``blockkit <name>``; ``configure`` adds its arguments to a parser."""

    def register(run: Run) -> Run:
        if name in _COMMANDS:
            raise ValueError(f"blockkit command {name!r} is registered twice")
        _COMMANDS[name] = _Command(name, help, configure or (lambda parser: None), run)
        return run

    return register


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser, with every registered subcommand."""
    parser = argparse.ArgumentParser(
        prog="blockkit",
        description="blockkit: a blockchain you can read, and the course built on it.",
        epilog="Open the course: see README.md (jupyter lab, starting at course/00-welcome.ipynb)",
    )
    parser.add_argument("--version", action="version", version=f"blockkit {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for cmd in _COMMANDS.values():
        child = sub.add_parser(cmd.name, help=cmd.help, description=cmd.help)
        cmd.configure(child)
        child.set_defaults(run=cmd.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status (0 success, 2 usage or input error)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "run", None) is None:
        parser.print_help()
        return 2
    try:
        return args.run(args)
    except BlockkitError as exc:
        print(f"blockkit {args.command}: {exc}", file=sys.stderr)
        return 2


# --- commands ---------------------------------------------------------------------------------


@command("info", "Show versions, signature suites and chain presets (for bug reports).")
def _info(args: argparse.Namespace) -> int:
    import Crypto

    from blockkit.hashing import difficulty_from_target
    from blockkit.keys import DEFAULT_SUITE, SUITES
    from blockkit.params import PRESETS

    print(f"blockkit      {__version__}")
    print(f"python        {platform.python_version()} ({sys.executable})")
    print(f"pycryptodome  {Crypto.__version__}")
    print(f"key suites    {', '.join(sorted(SUITES))} (default {DEFAULT_SUITE})")
    for name, params in PRESETS.items():
        print(
            f"preset        {name}: chain_id={params.chain_id}, "
            f"difficulty={difficulty_from_target(params.initial_target):g}, "
            f"block time={params.target_block_time}s, "
            f"retarget every {params.retarget_interval} blocks"
        )
    return 0


def _configure_chain(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("path", help="a chain store written by blockkit.storage.open_chain")
    parser.add_argument(
        "--blocks", type=int, default=10, metavar="N", help="show the last N blocks (default 10)"
    )


@command(
    "chain",
    "Summarise a chain store: its preset, height, head and latest blocks.",
    _configure_chain,
)
def _chain(args: argparse.Namespace) -> int:
    from pathlib import Path

    from blockkit.errors import StorageError
    from blockkit.storage import open_chain

    if not Path(args.path).is_file():
        raise StorageError(f"no chain store at {args.path}; check the path")
    chain = open_chain(args.path)
    try:
        print(chain)
        print(f"params    {chain.params.name} (chain_id {chain.params.chain_id})")
        print(f"head      {chain.head_hash.hex()}")
        print(
            f"stored    {len(chain.store)} blocks, {len(chain.store.rejected)} rejected on replay"
        )
        for rejected in chain.store.rejected:
            print(f"rejected  #{rejected.seq} {rejected.block_hash.hex()[:16]}…: {rejected.reason}")
        if args.blocks > 0:
            table = chain.to_dataframe("blocks").tail(args.blocks)
            print(
                table[["height", "hash", "timestamp", "transactions", "difficulty"]].to_string(
                    index=False
                )
            )
    finally:
        chain.store.close()
    return 0


def _configure_exercises(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", choices=["build"], help="build: write exercises/ from solutions/")
    parser.add_argument(
        "--check",
        action="store_true",
        help="write nothing; exit 1 naming each exercise notebook that is out of date",
    )
    parser.add_argument(
        "--root", default=".", help="the blockkit checkout holding solutions/ (default: here)"
    )


@command(
    "exercises",
    "Generate exercises/ from solutions/ (stubs for solution regions, no outputs).",
    _configure_exercises,
)
def _exercises(args: argparse.Namespace) -> int:
    from pathlib import Path

    from blockkit.grading.notebooks import build_exercises

    changed = build_exercises(Path(args.root), check=args.check)
    if args.check:
        for name in changed:
            print(f"out of date: {name}", file=sys.stderr)
        if changed:
            print("run `blockkit exercises build` and commit exercises/", file=sys.stderr)
            return 1
        print("exercises/ is up to date")
        return 0
    for name in changed:
        print(f"wrote {name}")
    if not changed:
        print("exercises/ is up to date")
    return 0


def _configure_grade(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "submissions",
        help="folder of submissions: <student>.ipynb or <student>/<notebook>.ipynb per student",
    )
    parser.add_argument(
        "--assignment",
        required=True,
        help="the assignment: 03, 03-merkle-trees, or a solution notebook's path",
    )
    parser.add_argument("--out", required=True, help="folder for gradebook.csv, feedback/, summary")
    parser.add_argument(
        "--hidden",
        action="append",
        default=[],
        metavar="FILE",
        help="Python file defining HIDDEN_CASES (repeatable); keep it out of the student bundle",
    )
    parser.add_argument(
        "--workers", type=int, default=0, help="parallel kernels (default: one per CPU core)"
    )
    parser.add_argument(
        "--force", action="store_true", help="regrade everything (default: skip graded ones)"
    )
    parser.add_argument("--cell-timeout", type=float, default=60.0, help="seconds per cell")
    parser.add_argument("--case-timeout", type=float, default=20.0, help="seconds per check case")
    parser.add_argument(
        "--notebook-timeout", type=float, default=300.0, help="seconds per notebook"
    )
    parser.add_argument(
        "--memory-mb", type=int, default=2048, help="address-space limit per kernel (0: none)"
    )
    parser.add_argument(
        "--root", default=".", help="the blockkit checkout holding solutions/ (default: here)"
    )


class _ProgressBar:
    """``[#####.....] 12/200 students`` on a terminal; a line per tenth when piped."""

    def __init__(self) -> None:
        self.tty = sys.stderr.isatty()
        self.shown = -1

    def __call__(self, done: int, total: int, checks: int) -> None:
        if total == 0:
            return
        width = 30
        filled = round(width * done / total)
        line = f"[{'#' * filled}{'.' * (width - filled)}] {done}/{total} students"
        if self.tty:
            print(f"\r{line} · {checks} checks in this batch ", end="", file=sys.stderr)
            if done == total:
                print(file=sys.stderr)
        elif done * 10 // total != self.shown:
            self.shown = done * 10 // total
            print(line, file=sys.stderr, flush=True)


@command(
    "grade",
    "Grade a folder of submissions: gradebook.csv, per-student feedback, summary and plot.",
    _configure_grade,
)
def _grade(args: argparse.Namespace) -> int:
    from pathlib import Path

    import pandas as pd

    from blockkit.grading.grade import GradeOptions, grade, load_assignment
    from blockkit.grading.report import write_reports

    options = GradeOptions(
        workers=args.workers,
        cell_timeout=args.cell_timeout,
        case_timeout=args.case_timeout,
        notebook_timeout=args.notebook_timeout,
        memory_mb=args.memory_mb,
        force=args.force,
    )
    assignment = load_assignment(
        args.assignment,
        root=Path(args.root),
        hidden=[Path(h) for h in args.hidden],
        limits=options.limits(),
    )
    out = Path(args.out)
    started = time.monotonic()
    results = grade(Path(args.submissions), assignment, out, options, progress=_ProgressBar())
    table = write_reports(results, assignment, out)
    elapsed = time.monotonic() - started
    with pd.option_context("display.width", 120, "display.max_colwidth", 40):
        print(
            table[["exercise", "title", "points", "passed", "students", "pass_rate"]].to_string(
                index=False
            )
        )
    statuses = pd.Series([r.status for r in results], dtype=object).value_counts()
    print("statuses:  " + ", ".join(f"{name} {count}" for name, count in statuses.items()))
    cached = sum(r.cached for r in results)
    print(
        f"graded {len(results) - cached} submissions in {elapsed:.1f} s"
        + (f"; {cached} unchanged since the last run (--force regrades them)" if cached else "")
    )
    print(
        f"wrote {out / 'gradebook.csv'}, {out / 'feedback'}/, {out / 'summary.csv'}, "
        f"{out / 'difficulty.png'}"
    )
    return 0


def _configure_hub(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    bundle = sub.add_parser(
        "bundle",
        help="write the student bundle: content/ (course, exercises) and package/ (blockkit "
        "without hidden cases); never solutions/",
    )
    bundle.add_argument("out", help="a new or empty folder")
    bundle.add_argument("--git", action="store_true", help="make out/content a git repository")
    bundle.add_argument(
        "--onto",
        metavar="REPO",
        help="with --git: clone REPO (the repository students pull the course from, URL or "
        "path) into out/content and commit the new content on top of its history, ready for "
        "`git push` (a mid-term update); nothing is committed if nothing changed",
    )
    bundle.add_argument(
        "--branch", default="main", help="with --git: the content's branch (default main)"
    )
    bundle.add_argument(
        "--message",
        help="with --git: the commit message (default: 'blockkit course bundle', or with "
        "--onto 'Update the course (blockkit hub bundle)')",
    )
    bundle.add_argument("--root", default=".", help="the blockkit checkout (default: here)")
    link = sub.add_parser("link", help="print the nbgitpuller link that opens a lesson on a hub")
    link.add_argument("--hub", required=True, help="the hub's address: https://hub.example.edu")
    link.add_argument(
        "--repo", required=True, help="where the hub can clone the bundle's content (git URL)"
    )
    link.add_argument("--lesson", required=True, help="03, 3 or 03-merkle-trees")
    link.add_argument("--exercise", action="store_true", help="open the exercise notebook")
    link.add_argument("--branch", default="main", help="the content's branch (default main)")
    link.add_argument(
        "--target",
        default="blockkit-course",
        help="folder in the student's home (default blockkit-course)",
    )
    link.add_argument(
        "--root", default=".", help="a checkout or bundle content, to find the lesson's file"
    )


@command(
    "hub", "Bundle the course for a JupyterHub, or print a one-click lesson link.", _configure_hub
)
def _hub(args: argparse.Namespace) -> int:
    from pathlib import Path

    from blockkit.hub import find_notebook, hub_link

    if args.action == "bundle":
        return _hub_bundle(args)
    notebook = find_notebook(Path(args.root), args.lesson, exercise=args.exercise)
    print(hub_link(args.hub, args.repo, notebook, branch=args.branch, target=args.target))
    return 0


def _hub_bundle(args: argparse.Namespace) -> int:
    """``blockkit hub bundle``: write the bundle; with ``--onto``, say what the new commit holds
    and how to publish it, or that nothing changed (exit 0: re-running a script is harmless)."""
    import shlex
    from pathlib import Path

    from blockkit.hub import build_bundle, pending_update

    out = build_bundle(
        Path(args.root),
        Path(args.out),
        git=args.git,
        onto=args.onto,
        branch=args.branch,
        message=args.message,
    )
    content, package = out / "content", out / "package"
    wrote_package = f"wrote {package} (blockkit without hidden cases: pip install it in the image)"
    if args.onto is None:
        print(f"wrote {content} (course, exercises{', a git repository' if args.git else ''})")
        print(wrote_package)
        return 0
    print(wrote_package)
    update = pending_update(content)
    if update.commit is None:
        print(
            f"nothing changed since the last commit of {update.origin} on {update.branch} "
            f"({update.base}): no commit made, nothing to push"
        )
        return 0
    quoted = shlex.quote(str(content))
    print(f"wrote {content}: a clone of {update.origin} ({update.branch}) with one new commit,")
    print(f"  {update.commit} ({update.stat}), on top of {update.base}")
    print("next: look at the change, then publish it (students get it at their next lesson link)")
    print(f"  git -C {quoted} show --stat")
    print(f"  git -C {quoted} push")
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
