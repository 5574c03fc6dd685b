"""The student bundle and lesson links (``blockkit hub bundle``, ``blockkit hub link``).

What a hub serves comes from the bundle, so the bundle is where "no solution reaches a student" is
decided: these tests check what goes in, what never does, and that the bundle's blockkit still
runs every visible check without the hidden cases. Mid-term updates (``--git --onto REPO``) are
checked the way students get them: real git, and nbgitpuller's own pull into a student's home.
"""

from __future__ import annotations

import json
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from nbgitpuller.errors import GitPullerError
from nbgitpuller.pull import GitPuller

from blockkit import hub
from blockkit.cli import main
from blockkit.hub import HubError, build_bundle, find_notebook, hub_link, pending_update

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    return build_bundle(ROOT, tmp_path_factory.mktemp("b") / "bundle", git=True)


def test_the_bundle_holds_the_course_and_exercises_and_nothing_of_the_solutions(bundle):
    content = bundle / "content"
    for folder in ("course", "exercises"):
        names = sorted(p.name for p in (content / folder).glob("*.ipynb"))
        assert names == sorted(p.name for p in (ROOT / folder).glob("*.ipynb"))
        for name in names:
            assert (content / folder / name).read_bytes() == (ROOT / folder / name).read_bytes()
    everything = [p.relative_to(bundle).as_posix() for p in bundle.rglob("*")]
    assert not [p for p in everything if "solution" in p.lower()]
    assert not [p for p in everything if "/hidden" in p or p.startswith("tests")]
    assert (bundle / "package" / "blockkit" / "grading" / "catalog").is_dir()
    assert not (bundle / "package" / "blockkit" / "grading" / "hidden").exists()
    # the content is a git repository with everything committed (what nbgitpuller clones)
    status = subprocess.run(
        ["git", "status", "--porcelain"], cwd=content, capture_output=True, text=True, check=True
    )
    assert status.stdout == ""
    log = subprocess.run(
        ["git", "log", "--oneline"], cwd=content, capture_output=True, text=True, check=True
    )
    assert len(log.stdout.splitlines()) == 1


def test_the_bundles_blockkit_runs_every_visible_check_and_has_no_hidden_case(bundle):
    code = (
        "import json, blockkit\n"
        "from blockkit.grading.registry import all_exercises, has_hidden_cases\n"
        "ex = all_exercises()\n"
        "print(json.dumps({'file': blockkit.__file__, 'has_hidden': has_hidden_cases(),\n"
        "  'visible': {k: len(e.visible_cases()) for k, e in ex.items()},\n"
        "  'hidden': sum(c.hidden for e in ex.values() for c in e.cases)}))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        env={"PYTHONPATH": str(bundle / "package"), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=True,
        cwd=bundle,
    )
    seen = json.loads(done.stdout)
    assert seen["file"].startswith(str(bundle / "package"))
    assert seen["has_hidden"] is False and seen["hidden"] == 0
    from blockkit.grading.registry import all_exercises, has_hidden_cases

    assert has_hidden_cases()  # this checkout has them: the grader runs them
    full = all_exercises()
    assert seen["visible"] == {k: len(e.visible_cases()) for k, e in full.items()}
    assert sum(c.hidden for e in full.values() for c in e.cases) > 0


def test_a_bundle_never_overwrites_and_never_lands_in_the_repository(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "mine.txt").write_text("keep me")
    with pytest.raises(HubError, match="not empty"):
        build_bundle(ROOT, out)
    assert (out / "mine.txt").read_text() == "keep me"
    with pytest.raises(HubError, match="outside the repository"):
        build_bundle(ROOT, ROOT / "bundle-here")
    with pytest.raises(HubError, match="not a blockkit checkout"):
        build_bundle(tmp_path, tmp_path / "b")


def test_a_solution_slipping_into_the_content_stops_the_bundle(tmp_path, monkeypatch):
    monkeypatch.setattr(hub, "CONTENT", (*hub.CONTENT, "solutions"))
    with pytest.raises(HubError, match="solutions"):
        build_bundle(ROOT, tmp_path / "b")
    assert not (tmp_path / "b").exists()  # nothing left behind to push or build by mistake
    (tmp_path / "empty").mkdir()
    with pytest.raises(HubError, match="solutions"):
        build_bundle(ROOT, tmp_path / "empty")
    assert list((tmp_path / "empty").iterdir()) == []


def test_a_lesson_link_opens_that_lesson_through_nbgitpuller():
    notebook = find_notebook(ROOT, "3")
    assert notebook == "course/03-merkle-trees.ipynb"
    assert find_notebook(ROOT, "03-merkle-trees") == notebook
    assert find_notebook(ROOT, "03", exercise=True) == "exercises/03-merkle-trees.ipynb"
    link = hub_link("https://hub.example.edu/", "https://git.example.edu/course.git", notebook)
    parts = urlsplit(link)
    assert (parts.scheme, parts.netloc) == ("https", "hub.example.edu")
    assert parts.path == "/hub/user-redirect/git-pull"
    assert {k: v[0] for k, v in parse_qs(parts.query).items()} == {
        "repo": "https://git.example.edu/course.git",
        "branch": "main",
        "targetPath": "blockkit-course",
        "urlpath": "lab/tree/blockkit-course/course/03-merkle-trees.ipynb",
    }


@pytest.mark.parametrize(
    ("hub_url", "repo", "options", "message"),
    [
        ("hub.example.edu", "https://git/x", {}, "not a https or http URL"),
        ("https://hub", "not a url", {}, "repo"),
        ("https://hub", "https://git/x", {"branch": "two words"}, "branch"),
        ("https://hub", "https://git/x", {"target": "../escape"}, "inside the student's home"),
    ],
)
def test_a_bad_link_request_says_what_to_change(hub_url, repo, options, message):
    with pytest.raises(HubError, match=message):
        hub_link(hub_url, repo, "course/00-welcome.ipynb", **options)


def test_the_hub_command_prints_a_link_or_a_clear_error(capsys):
    argv = ["hub", "link", "--hub", "https://hub.example.edu", "--repo", "https://g/c.git"]
    assert main([*argv, "--lesson", "01", "--root", str(ROOT)]) == 0
    assert "01-hashing.ipynb" in capsys.readouterr().out
    assert main([*argv, "--lesson", "42", "--root", str(ROOT)]) == 2
    error = capsys.readouterr().err
    assert "no single course notebook for '42'" in error and "00-welcome" in error


@pytest.mark.parametrize("module", ["l08_contracts", "l11_capstone"])
def test_importing_one_lessons_cases_first_still_loads_its_hidden_cases(module):
    """A lesson notebook imports its catalog module directly; the registry must still load the
    hidden cases (which import from that module) once it is whole, not while it is half-imported."""
    code = (
        f"import blockkit.grading.catalog.{module}\n"
        "from blockkit.grading.registry import all_exercises\n"
        "print(sum(c.hidden for e in all_exercises().values() for c in e.cases))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False, cwd=ROOT
    )
    assert done.returncode == 0, done.stderr[-1000:]
    from blockkit.grading.registry import all_exercises

    assert int(done.stdout) == sum(c.hidden for e in all_exercises().values() for c in e.cases)


def test_the_admin_guide_documents_every_setting_the_hub_config_reads():
    """deploy/README.md is what admins follow: each BLOCKKIT_HUB_* variable that
    deploy/jupyterhub_config.py (the file the hub test runs) reads must be in its table."""
    import re

    config = (ROOT / "deploy" / "jupyterhub_config.py").read_text()
    guide = (ROOT / "deploy" / "README.md").read_text()
    read = set(re.findall(r"env\([\"'](BLOCKKIT_HUB_[A-Z_]+)[\"']", config))
    assert len(read) > 10
    documented = set(re.findall(r"^\| `(BLOCKKIT_HUB_[A-Z_]+)` \|", guide, flags=re.M))
    assert read - documented == set(), f"not in deploy/README.md: {sorted(read - documented)}"
    assert documented - read == set(), f"documented but never read: {sorted(documented - read)}"
    # the image is built from the bundle the tests check, and checks itself for hidden cases
    dockerfile = (ROOT / "deploy" / "Dockerfile").read_text()
    assert "hub bundle" in dockerfile and "blockkit.grading.hidden" in dockerfile


# --- mid-term updates: --git --onto the repository students pull from ---------------------------


def _git(*args: str, cwd: Path | None = None) -> str:
    done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=True)
    return done.stdout.strip()


@pytest.fixture
def nobody(tmp_path, monkeypatch):
    """No git configuration of the machine running the tests: a home of its own (as a student's
    server, or a build container, has), so git knows no identity and no global settings."""
    home = tmp_path / "nobody"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    for name in ("AUTHOR", "COMMITTER"):
        for part in ("NAME", "EMAIL"):
            monkeypatch.delenv(f"GIT_{name}_{part}", raising=False)
    return home


@pytest.fixture
def published(tmp_path, nobody):
    """The course repository of the term: a bare repository (as on a git server) holding a first
    bundle of this checkout, pushed as deploy/README.md says."""
    bare = tmp_path / "course.git"
    _git("init", "--quiet", "--bare", "--initial-branch=main", str(bare))
    first = build_bundle(ROOT, tmp_path / "bundle-1", git=True)
    _git("push", "--quiet", str(bare), "main", cwd=first / "content")
    return bare


def _student_pull(url: str, home: Path) -> str:
    """A student's click on a lesson link: nbgitpuller's pull into ~/blockkit-course (a clone the
    first time, a merge of the instructor's update with the student's work after)."""
    puller = GitPuller(url, str(home / hub.DEFAULT_TARGET), branch="main")
    return "".join(puller.pull())


def _instructors_copy(tmp_path: Path) -> Path:
    """What ``build_bundle`` reads of a checkout, copied so a test can change the course."""
    copy = tmp_path / "instructor"
    copy.mkdir()
    for name in ("course", "exercises", "blockkit"):
        shutil.copytree(ROOT / name, copy / name, ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, copy / name)
    return copy


def _replace(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert text.count(old) == 1, f"{old!r} is not once in {path}"
    path.write_text(text.replace(old, new))


STUB_031 = 'raise NotImplementedError(\\"exercise 03.1: replace this line with your code\\")'
INTRO_03 = "Replace each `raise NotImplementedError(...)` line with your code"
TITLE_02 = "# 02 · Keys and signatures: who may write to the chain"


def test_an_update_onto_the_course_repository_reaches_students_and_keeps_their_work(
    tmp_path, published, capsys
):
    url = published.as_uri()  # file:///..., as a hub without a git server has it
    home = tmp_path / "student"
    _student_pull(url, home)
    mine = home / hub.DEFAULT_TARGET
    assert (mine / "course" / "02-keys-and-signatures.ipynb").is_file()
    # the student answers 03.1, takes notes in the exercises' README, deletes lesson 01 and has
    # a notebook of their own
    _replace(mine / "exercises" / "03-merkle-trees.ipynb", STUB_031, "return b'my answer'")
    notes = (mine / "exercises" / "README.md").read_text() + "\nmy notes\n"
    (mine / "exercises" / "README.md").write_text(notes)
    (mine / "course" / "01-hashing.ipynb").unlink()
    (mine / "course" / "12-extra.ipynb").write_text("the student's own notebook")

    # the instructor fixes lesson 02, rewords exercise 03 (the student's line too), drops both
    # READMEs and adds a notebook, then bundles onto the course repository and pushes
    instructor = _instructors_copy(tmp_path)
    _replace(instructor / "course" / "02-keys-and-signatures.ipynb", TITLE_02, f"{TITLE_02} (v2)")
    exercise = instructor / "exercises" / "03-merkle-trees.ipynb"
    _replace(exercise, INTRO_03, "Replace every `raise NotImplementedError(...)` with your code")
    _replace(exercise, STUB_031, STUB_031.replace("replace this line", "write it here"))
    (instructor / "course" / "README.md").unlink()
    (instructor / "exercises" / "README.md").unlink()
    (instructor / "course" / "12-extra.ipynb").write_text("the instructor's new notebook")
    argv = ["hub", "bundle", str(tmp_path / "bundle-2"), "--git", "--onto", url]
    assert main([*argv, "--message", "Lesson 02 v2", "--root", str(instructor)]) == 0
    said = capsys.readouterr().out
    assert "one new commit" in said and "Lesson 02 v2" in said
    push = [line.strip() for line in said.splitlines() if line.strip().endswith(" push")]
    assert len(push) == 1
    subprocess.run(shlex.split(push[0]), check=True, capture_output=True)  # as printed
    assert _git("log", "--format=%s", cwd=published).splitlines() == [
        "Lesson 02 v2",
        hub.FIRST_MESSAGE,
    ]

    _student_pull(url, home)
    lesson = (mine / "course" / "02-keys-and-signatures.ipynb").read_text()
    assert f"{TITLE_02} (v2)" in lesson  # the fix arrived
    assert not (mine / "course" / "README.md").exists()  # the deletion arrived
    assert (mine / "exercises" / "README.md").read_text() == notes  # changed by the student: kept
    assert (mine / "course" / "12-extra.ipynb").read_text() == "the instructor's new notebook"
    renamed = list((mine / "course").glob("12-extra__*.ipynb"))  # the student's, kept aside
    assert [p.read_text() for p in renamed] == ["the student's own notebook"]
    assert (mine / "course" / "01-hashing.ipynb").is_file()  # deleted by the student: back
    answer = (mine / "exercises" / "03-merkle-trees.ipynb").read_text()
    assert "return b'my answer'" in answer and "write it here" not in answer  # student's line
    assert "Replace every `raise" in answer  # the instructor's other change merged in
    json.loads(answer)  # and still a notebook
    # the merge finished: nothing in conflict, only the student's renamed file is not in git
    assert _git("status", "--porcelain", cwd=mine) == f"?? course/{renamed[0].name}"


def test_a_new_bundle_force_pushed_over_the_course_breaks_every_students_pull(tmp_path, published):
    """Why --onto exists: a fresh bundle is a history of its own, which nbgitpuller cannot merge."""
    url = published.as_uri()
    home = tmp_path / "student"
    _student_pull(url, home)
    fresh = build_bundle(ROOT, tmp_path / "bundle-2", git=True, message="a history of its own")
    _git("push", "--quiet", "--force", str(published), "main", cwd=fresh / "content")
    said: list[str] = []
    with pytest.raises(subprocess.CalledProcessError) as failed:
        said.extend(GitPuller(url, str(home / hub.DEFAULT_TARGET), branch="main").pull())
    assert "refusing to merge unrelated histories" in "".join(said)
    # what the student's browser shows, and deploy/README.md's troubleshooting quotes
    assert GitPullerError.from_exception(failed.value).message == "Merge error detected"
    # the way back (deploy/README.md, Troubleshooting): the old history pushed back from the
    # bundle pushed last; the student's next pull works again (then update with --onto)
    first = tmp_path / "bundle-1" / "content"
    _git("push", "--quiet", "--force", str(published), "main", cwd=first)
    _student_pull(url, home)
    mine = home / hub.DEFAULT_TARGET
    assert _git("rev-parse", "HEAD", cwd=mine) == _git("rev-parse", "HEAD", cwd=first)


def test_an_update_with_nothing_new_commits_nothing_and_exits_0(tmp_path, published, capsys):
    before = _git("rev-parse", "main", cwd=published)
    out = tmp_path / "bundle-2"
    assert main(["hub", "bundle", str(out), "--git", "--onto", str(published)]) == 0
    said = capsys.readouterr().out
    assert "nothing changed" in said and "nothing to push" in said and "git -C" not in said
    update = pending_update(out / "content")
    assert update.commit is None and update.base.endswith(hub.FIRST_MESSAGE)
    assert _git("rev-parse", "HEAD", cwd=out / "content") == before
    assert (out / "package" / "blockkit").is_dir()  # the package is written all the same
    _git("push", "--quiet", cwd=out / "content")  # a script that pushes anyway: a no-op
    assert _git("rev-parse", "main", cwd=published) == before


def test_the_update_is_committed_as_the_instructor_when_git_knows_them(
    tmp_path, published, monkeypatch
):
    instructor = _instructors_copy(tmp_path)
    (instructor / "course" / "12-extra.ipynb").write_text("new")
    anonymous = build_bundle(instructor, tmp_path / "b2", git=True, onto=str(published))
    assert _git("log", "-1", "--format=%an <%ae>", cwd=anonymous / "content") == (
        "blockkit <blockkit@localhost>"
    )
    for name in ("AUTHOR", "COMMITTER"):
        monkeypatch.setenv(f"GIT_{name}_NAME", "Ada Instructor")
        monkeypatch.setenv(f"GIT_{name}_EMAIL", "ada@example.edu")
    theirs = build_bundle(instructor, tmp_path / "b3", git=True, onto=str(published))
    assert _git("log", "-1", "--format=%an <%ae> %s", cwd=theirs / "content") == (
        f"Ada Instructor <ada@example.edu> {hub.UPDATE_MESSAGE}"
    )
    update = pending_update(theirs / "content")
    assert update.origin == str(published) and update.branch == "main"
    assert "1 file changed" in update.stat


def test_onto_needs_git(tmp_path, published, capsys):
    out = tmp_path / "b"
    assert main(["hub", "bundle", str(out), "--onto", str(published)]) == 2
    assert "--onto needs --git" in capsys.readouterr().err
    assert not out.exists()
    with pytest.raises(HubError, match="need --git"):
        build_bundle(ROOT, out, message="an update")
    with pytest.raises(HubError, match="need --git"):
        build_bundle(ROOT, out, branch="spring")


def test_the_content_branch_is_the_one_links_name(tmp_path, published):
    out = build_bundle(ROOT, tmp_path / "b", git=True, branch="spring")
    assert _git("rev-parse", "--abbrev-ref", "HEAD", cwd=out / "content") == "spring"
    _git("push", "--quiet", str(published), "spring", cwd=out / "content")
    again = build_bundle(ROOT, tmp_path / "b2", git=True, onto=str(published), branch="spring")
    assert _git("rev-parse", "--abbrev-ref", "@{upstream}", cwd=again / "content") == (
        "origin/spring"
    )
    with pytest.raises(HubError, match="not a git branch name"):
        build_bundle(ROOT, tmp_path / "b3", git=True, onto=str(published), branch="--force")


def test_a_repository_that_cannot_be_cloned_is_named_with_gits_reason(tmp_path, published):
    out = tmp_path / "b"
    with pytest.raises(HubError, match=r"cannot clone .*nowhere\.git.*does not exist") as raised:
        build_bundle(ROOT, out, git=True, onto=str(tmp_path / "nowhere.git"))
    assert len(str(raised.value)) < 600
    assert not out.exists()
    with pytest.raises(HubError, match="Remote branch autumn not found"):
        build_bundle(ROOT, out, git=True, onto=str(published), branch="autumn")
    assert not out.exists()
    token = "https://teacher:s3cret-token@127.0.0.1:1/course.git"  # nothing listens there
    with pytest.raises(HubError, match="cannot clone") as raised:
        build_bundle(ROOT, out, git=True, onto=token)
    assert "s3cret-token" not in str(raised.value)


@pytest.mark.parametrize(
    ("keep", "message"),
    [
        # the instructor's own repository: course/ and exercises/, and everything else
        (("course", "exercises", "blockkit", "pyproject.toml", "README.md"), "blockkit, pyproj"),
        (("course", "README.md"), "no exercises/"),
    ],
)
def test_onto_refuses_a_repository_that_is_not_course_content(tmp_path, nobody, keep, message):
    other = _instructors_copy(tmp_path)
    for path in other.iterdir():
        if path.name not in keep:
            shutil.rmtree(path) if path.is_dir() else path.unlink()
    _git("init", "--quiet", "--initial-branch=main", cwd=other)
    _git("add", "--all", cwd=other)
    _git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "theirs", cwd=other)
    out = tmp_path / "b"
    with pytest.raises(HubError, match=f"is not course content.*{message}"):
        build_bundle(ROOT, out, git=True, onto=str(other))
    assert not out.exists()
    assert _git("log", "--format=%s", cwd=other) == "theirs"


def test_the_committed_tree_is_checked_too(tmp_path, published, monkeypatch):
    """Whatever reaches git's index is checked again before the commit: a solution notebook that
    got past the check of the files (here: written after it) stops the update."""

    def solution_after_the_check(out: Path) -> None:
        (out / "content" / "exercises" / "03-merkle-trees-solution.ipynb").write_text("{}")

    monkeypatch.setattr(hub, "_check_clean", solution_after_the_check)
    before = _git("rev-parse", "main", cwd=published)
    out = tmp_path / "b"
    with pytest.raises(HubError, match="solution notebook"):
        build_bundle(ROOT, out, git=True, onto=str(published))
    assert not out.exists()
    with pytest.raises(HubError, match="solution notebook"):
        build_bundle(ROOT, out, git=True)
    assert _git("rev-parse", "main", cwd=published) == before
