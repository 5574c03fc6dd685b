"""The student bundle and lesson links (``blockkit hub bundle``, ``blockkit hub link``).

What a hub serves comes from the bundle, so the bundle is where "no solution reaches a student" is
decided: these tests check what goes in, what never does, and that the bundle's blockkit still
runs every visible check without the hidden cases.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from blockkit import hub
from blockkit.cli import main
from blockkit.hub import HubError, build_bundle, find_notebook, hub_link

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
