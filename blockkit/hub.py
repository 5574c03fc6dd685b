"""Serving the course on JupyterHub: the student bundle and one-click links to its lessons.

A hub serves students two things, both made from this repository by ``blockkit hub bundle OUT``:

* ``OUT/package/``: the ``blockkit`` package that the single-user image installs
  (``deploy/Dockerfile``), without the catalog's hidden cases (``blockkit.grading.hidden``);
* ``OUT/content/``: what lands in each student's home, the lesson notebooks (``course/``), the
  exercise notebooks (``exercises/``) and a short README; with ``--git`` it is a git repository,
  which nbgitpuller pulls into the student's home from a link (``blockkit hub link``).

Mid-term, ``--git --onto REPO`` makes ``OUT/content`` a clone of the repository students already
pull from, with the new content committed on top of its history: nbgitpuller merges that into
students' copies, whereas a fresh repository (a history of its own) pushed over it makes every
student's next pull fail ("refusing to merge unrelated histories").

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
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode, urlsplit

from blockkit.errors import BlockkitError

__all__ = [
    "CONTENT",
    "FORBIDDEN",
    "HubError",
    "Update",
    "build_bundle",
    "find_notebook",
    "hub_link",
    "pending_update",
]

#: What a student's home receives: (path in the repository, path in the bundle's content).
CONTENT = ("course", "exercises")
#: Never in a bundle: the solution notebooks, the hidden cases, the tests (which hold answers).
FORBIDDEN = ("solutions", "grading/hidden", "tests")
#: The directory the content lands in, in each student's home.
DEFAULT_TARGET = "blockkit-course"
#: The content's branch: what ``build_bundle`` commits on and ``hub_link`` tells nbgitpuller.
DEFAULT_BRANCH = "main"
#: Commit messages when none is given: a first bundle, and an update ``--onto`` a repository.
FIRST_MESSAGE = "blockkit course bundle"
UPDATE_MESSAGE = "Update the course (blockkit hub bundle)"
#: Who commits when git knows no identity (a build container): ``_identity``.
_BLOCKKIT_IDENTITY = {
    "GIT_AUTHOR_NAME": "blockkit",
    "GIT_AUTHOR_EMAIL": "blockkit@localhost",
    "GIT_COMMITTER_NAME": "blockkit",
    "GIT_COMMITTER_EMAIL": "blockkit@localhost",
}

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


def _check_paths(paths: Iterable[str]) -> None:
    """Refuse any path (relative, ``/``-separated) that is, or lies in, something of ``FORBIDDEN``,
    and any notebook named like a solution."""
    for relative in paths:
        for forbidden in FORBIDDEN:
            if f"/{forbidden}/" in f"/{relative}/":
                raise HubError(f"the bundle would contain {relative}; it must not ({forbidden})")
        if relative.endswith(".ipynb") and "solution" in relative.rsplit("/", 1)[-1].lower():
            raise HubError(f"the bundle would contain a solution notebook ({relative})")


def _check_clean(out: Path) -> None:
    """Refuse a bundle holding anything of ``FORBIDDEN`` (a last line of defence).

    ``content/.git`` is git's own store (a clone's refs and packs, with ``--onto``), not files a
    student opens; what git will commit from it is checked by ``_check_paths`` on the index.
    """
    store = out / "content" / ".git"
    _check_paths(
        path.relative_to(out).as_posix()
        for path in out.rglob("*")
        if path != store and store not in path.parents
    )


def _check_branch(branch: str) -> str:
    if not branch or branch.startswith("-") or any(c.isspace() for c in branch):
        raise HubError(f"branch {branch!r} is not a git branch name")
    return branch


def build_bundle(
    repository: Path,
    out: Path,
    *,
    git: bool = False,
    onto: str | None = None,
    branch: str = DEFAULT_BRANCH,
    message: str | None = None,
) -> Path:
    """Write the student bundle of ``repository`` (a blockkit checkout) into ``out``; return it.

    ``out`` must not exist or be empty (nothing is overwritten); if the bundle is refused, what
    was written into ``out`` is removed again. With ``git``, ``out/content`` is a git repository
    whose ``branch`` holds the content, committed with ``message``:

    * without ``onto``, a new repository with one commit, for a first push;
    * with ``onto`` (the URL or path of the repository students pull the course from), a clone of
      its ``branch`` whose whole tree (deletions included) is replaced by the new content and
      committed on top, so that a plain ``git push`` updates it and nbgitpuller can merge the
      update into students' copies. ``onto`` must be course content, nothing at its top but
      what a bundle writes (``course/``, ``exercises/``, ``README.md``): the blockkit checkout
      itself, or any other repository, is refused rather than emptied. If nothing changed since
      its last commit, no commit is made (``pending_update`` tells which).

    The commit is the user's if git knows who they are, else blockkit's (a build container).
    """
    repository, out = Path(repository).resolve(), Path(out).resolve()
    for needed in (*CONTENT, "blockkit", "pyproject.toml"):
        if not (repository / needed).exists():
            raise HubError(f"{repository} is not a blockkit checkout: it has no {needed}")
    if out.exists() and any(out.iterdir()):
        raise HubError(f"{out} is not empty; give a new folder (nothing is overwritten)")
    if repository == out or repository in out.parents:
        raise HubError("write the bundle outside the repository")
    if not git and onto is not None:
        raise HubError(
            "--onto needs --git: the content is committed on top of REPO's history "
            "(blockkit hub bundle OUT --git --onto REPO)"
        )
    if not git and (message is not None or branch != DEFAULT_BRANCH):
        raise HubError("--branch and --message need --git (they are the content's git commit)")
    _check_branch(branch)
    if message is not None and not message.strip():
        raise HubError("the commit message is empty")
    existed = out.exists()
    try:
        content, package = out / "content", out / "package"
        if onto is None:
            content.mkdir(parents=True)
        else:
            _clone_course(onto, branch, content)
            for old in content.iterdir():
                if old.name != ".git":
                    _remove(old)
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
            default = FIRST_MESSAGE if onto is None else UPDATE_MESSAGE
            _commit(content, branch=branch, message=message or default, first=onto is None)
    except BaseException:
        # A refused bundle must not stay behind to be pushed or built by mistake.
        if existed:
            for written in out.iterdir():
                _remove(written)
        else:
            shutil.rmtree(out, ignore_errors=True)
        raise
    return out


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink()


def _git(folder: Path | None, *args: str, env: dict[str, str] | None = None) -> str:
    """Run ``git args`` in ``folder``; return its output, or raise ``HubError`` with git's own
    message, shortened to its last lines (the ones that say what went wrong)."""
    done = subprocess.run(
        ["git", *args], cwd=folder, env=env, capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        lines = [line.strip() for line in (done.stderr or done.stdout).splitlines()]
        said = " ".join([line for line in lines if line][-3:])
        raise HubError(f"git {args[0]} failed: {said[:300] or f'exit status {done.returncode}'}")
    return done.stdout


def _shown(url: str) -> str:
    """``url`` without a password or token in it (``https://user:token@host/...``): for messages."""
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        authority, slash, path = rest.partition("/")
        if "@" in authority:
            return f"{scheme}://{authority.rsplit('@', 1)[1]}{slash}{path}"
    return url


def _clone_course(repo: str, branch: str, content: Path) -> None:
    """Clone ``branch`` of ``repo`` into ``content`` (its ``origin`` stays ``repo``); refuse a
    repository that is not course content."""
    try:
        _git(
            None,
            "clone",
            "--quiet",
            "--single-branch",
            f"--branch={branch}",
            "--",
            repo,
            str(content),
        )
    except HubError as error:
        raise HubError(
            f"cannot clone {_shown(repo)} (branch {branch}): {error}. Check the URL or path "
            "and --branch; a repository with no commits yet gets a first bundle made with --git "
            "alone (deploy/README.md, Distributing lessons)"
        ) from None
    top = {path.name for path in content.iterdir()} - {".git"}
    missing = [f"{name}/" for name in CONTENT if not (content / name).is_dir()]
    extra = sorted(top - {*CONTENT, "README.md"})
    if missing or extra:
        reasons = [f"it has no {' or '.join(missing)} at its top"] if missing else []
        if extra:
            listed = ", ".join(extra[:6]) + (", ..." if len(extra) > 6 else "")
            reasons.append(f"its top holds {listed} besides what a bundle writes")
        raise HubError(
            f"{_shown(repo)} (branch {branch}) is not course content: {'; '.join(reasons)}. "
            "--onto takes the repository students pull the course from (course/, exercises/ "
            "and README.md, first pushed from a bundle made with --git) and replaces its whole "
            "tree, so it refuses any other repository rather than delete its files"
        )


def _identity(folder: Path) -> dict[str, str]:
    """The environment for committing in ``folder``: git's own identity for the user if it has
    one (an instructor's commit on the course repository is theirs), blockkit's otherwise."""
    for ident in ("GIT_AUTHOR_IDENT", "GIT_COMMITTER_IDENT"):
        known = subprocess.run(
            ["git", "var", ident], cwd=folder, capture_output=True, text=True, check=False
        )
        if known.returncode != 0:
            return {**os.environ, **_BLOCKKIT_IDENTITY}
    return dict(os.environ)


def _commit(folder: Path, *, branch: str, message: str, first: bool) -> None:
    """Commit everything in ``folder`` on ``branch`` (a new repository if ``first``); nothing
    when the tree is the one of the last commit (``pending_update`` tells which)."""
    if first:
        _git(folder, "init", "--quiet", f"--initial-branch={branch}")
    # --force: the user's global excludes (core.excludesFile) must not leave a file out.
    _git(folder, "add", "--all", "--force")
    _check_paths(_git(folder, "ls-files", "-z").split("\0")[:-1])
    if not first and not _git(folder, "status", "--porcelain"):
        return
    _git(folder, "commit", "--quiet", "--message", message, env=_identity(folder))


@dataclass(frozen=True)
class Update:
    """Where a bundle made ``--onto`` a repository stands against that repository."""

    #: The repository (``origin``; a password or token in its URL left out) and its branch.
    origin: str
    branch: str
    #: ``<hash> <subject>`` of the repository's last commit, the one the bundle was built on.
    base: str
    #: ``<hash> <subject>`` of the bundle's commit on top, or None: nothing changed, no commit.
    commit: str | None
    #: git's summary of the change (``2 files changed, 5 insertions(+), 1 deletion(-)``).
    stat: str


def pending_update(content: Path) -> Update:
    """What ``content`` (``OUT/content`` of a bundle made ``--onto`` a repository) has that the
    repository it was cloned from does not, yet: what ``git push`` will publish."""
    content = Path(content)

    def git(*args: str) -> str:
        return _git(content, *args).strip()

    origin = _shown(git("remote", "get-url", "origin"))
    branch = git("rev-parse", "--abbrev-ref", "HEAD")
    base = git("log", "-1", "--format=%h %s", "@{upstream}")
    if git("rev-list", "--count", "@{upstream}..HEAD") == "0":
        return Update(origin, branch, base=base, commit=None, stat="")
    commit = git("log", "-1", "--format=%h %s", "HEAD")
    stat = git("diff", "--shortstat", "@{upstream}", "HEAD")
    return Update(origin, branch, base=base, commit=commit, stat=stat)


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
    branch: str = DEFAULT_BRANCH,
    target: str = DEFAULT_TARGET,
) -> str:
    """The nbgitpuller link that opens ``notebook`` (a path in the content) on ``hub``.

    ``repo`` is where the hub's servers can clone the bundle's content from (``https://...``, or
    ``file:///srv/...`` on a hub without internet); ``target`` is the folder it lands in, in each
    student's home.
    """
    hub = _check_url(hub, "hub", ("https", "http"))
    repo = _check_url(repo, "repo", ("https", "http", "file", "ssh", "git"))
    _check_branch(branch)
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
