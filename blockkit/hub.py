"""Serving the course on JupyterHub: the student bundle and one-click links to its lessons.

A hub serves students two things, both made from this repository by ``blockkit hub bundle OUT``:

* ``OUT/package/``: the ``blockkit`` package that the single-user image installs
  (``deploy/Dockerfile``), without the catalog's hidden cases (``blockkit.grading.hidden``);
* ``OUT/content/``: what lands in each student's home, the lesson notebooks (``course/``), the
  exercise notebooks (``exercises/``) and a short README; with ``--git`` it is a git repository,
  which nbgitpuller pulls into the student's home from a link (``blockkit hub link``).

Neither holds ``solutions/`` nor the hidden cases: whatever a student can reach on a hub comes
from the bundle, and ``build_bundle`` refuses to finish if anything of the kind slipped in.

``hub_link`` makes the nbgitpuller link that opens one lesson (or its exercise notebook) on a
given hub: the first click clones the content into the student's home, later clicks pull the
instructor's updates and merge them with the student's own edits (nbgitpuller never overwrites a
file the student changed).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterable
from pathlib import Path
from urllib.parse import urlencode, urlsplit

from blockkit.errors import BlockkitError

__all__ = [
    "CONTENT",
    "FORBIDDEN",
    "HubError",
    "build_bundle",
    "find_notebook",
    "hub_link",
]

#: What a student's home receives: (path in the repository, path in the bundle's content).
CONTENT = ("course", "exercises")
#: Never in a bundle: the solution notebooks, the hidden cases, the tests (which hold answers).
FORBIDDEN = ("solutions", "grading/hidden", "tests")
#: The directory the content lands in, in each student's home.
DEFAULT_TARGET = "blockkit-course"

_STUDENT_README = """\
# blockkit course

Open `course/00-welcome.ipynb` and work through the lessons in order; after each lesson, open the
exercise notebook of the same name in `exercises/` and run each check cell after your answer.

Your work is saved in your own home on the hub. When your instructor updates the course, click
the lesson link again: new lessons and fixes arrive, and nothing you changed is overwritten.
"""


class HubError(BlockkitError):
    """A bundle or link that cannot be made as asked (the message says what to change)."""


def _ignore(directory: str, names: list[str]) -> set[str]:
    skipped = {"__pycache__", ".ipynb_checkpoints", ".pytest_cache"}
    return {n for n in names if n in skipped or n.endswith((".pyc", ".pyo"))}


def _check_clean(root: Path) -> None:
    """Refuse a bundle holding anything of ``FORBIDDEN`` (a last line of defence)."""
    for path in root.rglob("*"):
        relative = path.relative_to(root).as_posix()
        for forbidden in FORBIDDEN:
            if f"/{forbidden}/" in f"/{relative}/":
                raise HubError(f"the bundle would contain {relative}; it must not ({forbidden})")
    if any("solution" in p.name.lower() for p in root.rglob("*.ipynb")):
        raise HubError("the bundle would contain a solution notebook")


def build_bundle(repository: Path, out: Path, *, git: bool = False) -> Path:
    """Write the student bundle of ``repository`` (a blockkit checkout) into ``out``; return it.

    ``out`` must not exist or be empty (nothing is overwritten). With ``git``, ``out/content``
    becomes a git repository with one commit, ready to be pushed where the hub can pull it.
    """
    repository, out = Path(repository).resolve(), Path(out).resolve()
    for needed in (*CONTENT, "blockkit", "pyproject.toml"):
        if not (repository / needed).exists():
            raise HubError(f"{repository} is not a blockkit checkout: it has no {needed}")
    if out.exists() and any(out.iterdir()):
        raise HubError(f"{out} is not empty; give a new folder (nothing is overwritten)")
    if repository == out or repository in out.parents:
        raise HubError("write the bundle outside the repository")
    content, package = out / "content", out / "package"
    content.mkdir(parents=True)
    for name in CONTENT:
        shutil.copytree(repository / name, content / name, ignore=_ignore)
    (content / "README.md").write_text(_STUDENT_README)
    package.mkdir()
    shutil.copy2(repository / "pyproject.toml", package / "pyproject.toml")
    shutil.copy2(repository / "README.md", package / "README.md")
    shutil.copytree(repository / "blockkit", package / "blockkit", ignore=_ignore)
    shutil.rmtree(package / "blockkit" / "grading" / "hidden", ignore_errors=True)
    _check_clean(out)
    if git:
        _commit(content)
    return out


def _commit(folder: Path) -> None:
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "blockkit",
        "GIT_AUTHOR_EMAIL": "blockkit@localhost",
        "GIT_COMMITTER_NAME": "blockkit",
        "GIT_COMMITTER_EMAIL": "blockkit@localhost",
    }
    for args in (
        ["init", "-q", "-b", "main"],
        ["add", "-A"],
        ["commit", "-q", "-m", "blockkit course bundle"],
    ):
        done = subprocess.run(
            ["git", *args], cwd=folder, env=env, capture_output=True, text=True, check=False
        )
        if done.returncode != 0:
            raise HubError(f"git {args[0]} failed in {folder}: {done.stderr.strip()[:300]}")


def find_notebook(content: Path, lesson: str, *, exercise: bool = False) -> str:
    """The path (relative to the content root) of lesson ``lesson``'s notebook: ``"03"``,
    ``"3"`` or ``"03-merkle-trees"`` name the same one; ``exercise`` picks the exercise notebook.
    """
    folder = Path(content) / ("exercises" if exercise else "course")
    notebooks = sorted(p.name for p in folder.glob("*.ipynb"))
    if not notebooks:
        raise HubError(f"no notebooks in {folder}; pass --root, the blockkit checkout")
    wanted = lesson.removesuffix(".ipynb")
    if wanted.isdigit():
        wanted = f"{int(wanted):02d}"
    matches = [n for n in notebooks if n == f"{wanted}.ipynb" or n.startswith(f"{wanted}-")]
    if len(matches) != 1:
        listed = ", ".join(n.removesuffix(".ipynb") for n in notebooks)
        raise HubError(f"no single {folder.name} notebook for {lesson!r}; there are: {listed}")
    return f"{folder.name}/{matches[0]}"


def _check_url(url: str, what: str, schemes: Iterable[str]) -> str:
    parts = urlsplit(url)
    if parts.scheme not in schemes or not (parts.netloc or parts.scheme == "file"):
        raise HubError(
            f"{what} {url!r} is not a {' or '.join(schemes)} URL (for example "
            f"{'https://hub.example.edu' if what == 'hub' else 'https://git.example.edu/course'})"
        )
    return url.rstrip("/")


def hub_link(
    hub: str,
    repo: str,
    notebook: str,
    *,
    branch: str = "main",
    target: str = DEFAULT_TARGET,
) -> str:
    """The nbgitpuller link that opens ``notebook`` (a path in the content) on ``hub``.

    ``repo`` is where the hub's servers can clone the bundle's content from (``https://...``, or
    ``file:///srv/...`` on a hub without internet); ``target`` is the folder it lands in, in each
    student's home.
    """
    hub = _check_url(hub, "hub", ("https", "http"))
    repo = _check_url(repo, "repo", ("https", "http", "file", "ssh", "git"))
    if not branch or any(c.isspace() for c in branch):
        raise HubError(f"branch {branch!r} is not a git branch name")
    if not target or target.startswith("/") or ".." in Path(target).parts:
        raise HubError(f"target {target!r} must be a folder name inside the student's home")
    query = urlencode(
        {
            "repo": repo,
            "branch": branch,
            "targetPath": target,
            "urlpath": f"lab/tree/{target}/{notebook}",
        }
    )
    return f"{hub}/hub/user-redirect/git-pull?{query}"
