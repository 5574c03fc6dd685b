"""deploy/Dockerfile's own steps, run here without Docker (there is no Docker engine to build it).

Two of its steps need nothing from the base image but a shell, git and Python, so they run for
real, from the Dockerfile's own text:

* the ``bundle`` stage: exactly what its ``COPY`` lines bring from the repository, then its ``RUN``,
  with an interpreter that has only the standard library (the Dockerfile says the command needs
  nothing else, so nothing is installed in that stage);
* the final stage's refusal ``RUN``: it must pass for the bundle that stage made, and stop the
  build when the image could import the hidden cases, or holds a solution or a ``tests`` folder;
* the ``COPY`` of ``lab-overrides.json``: it lands where JupyterLab reads ``overrides.json``, and
  JupyterLab's own settings code takes every value in it.

Container paths (``/src``, ``/bundle``, ``/opt/blockkit``) are replaced by temporary folders.
"""

from __future__ import annotations

import json
import re
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCKERFILE = ROOT / "deploy" / "Dockerfile"
#: The shell of RUN lines: the base image (Jupyter Docker Stacks, docker-stacks-foundation) sets
#: SHELL ["/bin/bash", "-o", "pipefail", "-c"], and images built from it inherit it.
BASE_IMAGE_SHELL = ["/bin/bash", "-o", "pipefail", "-c"]


@dataclass
class Stage:
    """One ``FROM`` of the Dockerfile and its instructions, as ``(INSTRUCTION, arguments)``."""

    name: str | None
    instructions: list[tuple[str, str]] = field(default_factory=list)

    def all(self, instruction: str) -> list[str]:
        return [args for name, args in self.instructions if name == instruction]


def parse_dockerfile(text: str) -> list[Stage]:
    """The stages of a Dockerfile, as Docker reads them: a ``\\`` at the end of a line continues
    the instruction on the next (the backslash and newline removed), ``#`` lines are comments,
    also inside a continued instruction."""
    logical: list[str] = []
    current: str | None = None
    for line in text.splitlines():
        if line.lstrip().startswith("#") or (current is None and not line.strip()):
            continue
        continued = line.rstrip().endswith("\\")
        piece = line.rstrip()[:-1] if continued else line
        current = piece if current is None else current + piece
        if not continued:
            logical.append(current)
            current = None
    assert current is None, "the Dockerfile ends inside a continued instruction"
    stages: list[Stage] = []
    for instruction in logical:
        name, _, args = instruction.strip().partition(" ")
        name, args = name.upper(), args.strip()
        if name == "FROM":
            alias = re.search(r"\s+AS\s+(\S+)\s*$", args, flags=re.IGNORECASE)
            stages.append(Stage(alias.group(1) if alias else None))
        elif stages:
            stages[-1].instructions.append((name, args))
    return stages


def _stage(name: str | None) -> Stage:
    """The stage called ``name``; ``None``: the last one (the image itself)."""
    stages = parse_dockerfile(DOCKERFILE.read_text())
    if name is None:
        return stages[-1]
    (found,) = [s for s in stages if s.name == name]
    return found


def _shell(stage: Stage) -> list[str]:
    shells = stage.all("SHELL")
    return json.loads(shells[-1]) if shells else BASE_IMAGE_SHELL


def _copy_args(args: str) -> tuple[dict[str, str], list[str], str]:
    """``COPY [--flag=value ...] SRC... DEST`` as (flags, sources, destination)."""
    words = shlex.split(args)
    flags = dict(w[2:].partition("=")[::2] for w in words if w.startswith("--"))
    paths = [w for w in words if not w.startswith("--")]
    return flags, paths[:-1], paths[-1]


def _copy(source: Path, destination: Path, *, into: bool) -> None:
    """Docker's COPY of one source: a folder's contents, or a file (into a folder when the
    destination ends with ``/`` or several sources are given)."""
    if source.is_dir():
        shutil.copytree(source, destination, dirs_exist_ok=True, symlinks=True)
    else:
        target = destination / source.name if into else destination
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target)


def _substitute(text: str, paths: dict[str, Path]) -> str:
    """``text`` with each container path in ``paths`` (as a whole path component) replaced."""
    for container, host in paths.items():
        text = re.sub(rf"(?<![\w./-]){re.escape(container)}(?=[/\s\"']|$)", str(host), text)
    return text


def _container_path(destination: str, paths: dict[str, Path]) -> Path:
    for container, host in paths.items():
        if destination == container or destination.startswith(f"{container}/"):
            return host / destination[len(container) :].lstrip("/")
    raise AssertionError(f"this test does not know where {destination} goes; add it to paths")


def _interpreter(folder: Path, command: str) -> Path:
    """A ``python`` command in ``folder`` that runs ``command`` (an interpreter and options)."""
    folder.mkdir(parents=True, exist_ok=True)
    python = folder / "python"
    python.write_text(f'#!/bin/sh\nexec {command} "$@"\n')
    python.chmod(0o755)
    return python


def _stdlib_only_python(folder: Path) -> Path:
    """The interpreter this venv was made from, with ``-S``: no site-packages at all (neither the
    venv's nor the base's), so it imports the standard library and what PYTHONPATH names."""
    base = Path(getattr(sys, "_base_executable", "") or sys.executable).resolve()
    python = _interpreter(folder, f"{shlex.quote(str(base))} -S")
    probe = subprocess.run(
        [str(python), "-c", "import sys; print(sys.prefix); import blockkit"],
        env={"PATH": "/usr/bin:/bin", "PYTHONNOUSERSITE": "1"},
        cwd=folder,
        capture_output=True,
        text=True,
        check=False,
    )
    assert probe.returncode != 0 and "No module named 'blockkit'" in probe.stderr, probe
    return python


def _run_bundle_stage(tmp: Path, omit: str | None = None) -> subprocess.CompletedProcess[str]:
    """The ``bundle`` stage in ``tmp``: its COPY lines from the repository into ``tmp/src``
    (leaving out the source ``omit``), then its RUN lines, writing ``tmp/bundle``."""
    stage = _stage("bundle")
    paths = {"/src": tmp / "src", "/bundle": tmp / "bundle"}
    assert not (ROOT / ".dockerignore").exists(), (
        "a .dockerignore now filters the build context: teach _run_bundle_stage to apply it"
    )
    copies = stage.all("COPY")
    assert copies, "the bundle stage copies nothing from the repository"
    for args in copies:
        flags, sources, destination = _copy_args(args)
        assert "from" not in flags, f"the bundle stage copies from another stage: {args}"
        into = destination.endswith("/") or len(sources) > 1
        for source in sources:
            if source != omit:
                _copy(ROOT / source, _container_path(destination, paths), into=into)
    python = _stdlib_only_python(tmp / "bin")
    work = tmp / "home"  # the base image's WORKDIR: not the repository, no blockkit in it
    work.mkdir()
    runs = stage.all("RUN")
    assert runs, "the bundle stage runs nothing"
    done = None
    for command in runs:
        done = subprocess.run(
            [*_shell(stage), _substitute(command, paths)],
            # a build container: no git identity, no user site, only the stage's own PYTHONPATH
            env={"PATH": f"{python.parent}:/usr/bin:/bin", "HOME": str(work)},
            cwd=work,
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0:
            break
    return done


@pytest.fixture(scope="module")
def stage_bundle(tmp_path_factory) -> Path:
    """The bundle as deploy/Dockerfile's bundle stage makes it."""
    tmp = tmp_path_factory.mktemp("stage")
    done = _run_bundle_stage(tmp)
    assert done.returncode == 0, done.stderr[-2000:]
    return tmp / "bundle"


def _git(folder: Path, *args: str) -> str:
    done = subprocess.run(["git", *args], cwd=folder, capture_output=True, text=True, check=True)
    return done.stdout.strip()


def test_the_bundle_stage_makes_the_bundle_from_what_it_copies_with_the_standard_library(
    stage_bundle,
):
    content, package = stage_bundle / "content", stage_bundle / "package"
    assert (content / ".git").is_dir()
    assert _git(content, "status", "--porcelain") == ""
    assert _git(content, "log", "--format=%an %s").splitlines() == [
        "blockkit blockkit course bundle"
    ]
    assert sorted(p.name for p in (content / "course").glob("*.ipynb")) == sorted(
        p.name for p in (ROOT / "course").glob("*.ipynb")
    )
    assert (content / "exercises" / "03-merkle-trees.ipynb").is_file()
    assert (package / "blockkit" / "grading" / "catalog").is_dir()
    assert (package / "pyproject.toml").is_file()
    assert not (package / "blockkit" / "grading" / "hidden").exists()
    everything = [p.relative_to(stage_bundle).as_posix() for p in stage_bundle.rglob("*")]
    assert not [p for p in everything if "solution" in p.lower() or "/tests/" in f"/{p}/"]


def test_the_bundle_stage_copies_everything_its_command_needs(tmp_path):
    """Each source the COPY lines name is needed: without it, the stage's RUN fails (so a file the
    command needs and no COPY brings fails the test above, as it would fail the build)."""
    sources = [s for args in _stage("bundle").all("COPY") for s in _copy_args(args)[1]]
    assert sorted(sources) == ["README.md", "blockkit", "course", "exercises", "pyproject.toml"]
    for source in sources:
        done = _run_bundle_stage(tmp_path / source, omit=source)
        assert done.returncode != 0, f"the bundle stage ran without {source}"
        assert not (tmp_path / source / "bundle").exists()


def _refusal() -> tuple[Stage, str]:
    image = _stage(None)
    (run,) = [args for args in image.all("RUN") if "refusing to build" in args]
    return image, run


def _image_files(tmp: Path, bundle: Path) -> tuple[Path, Path]:
    """What the image holds in ``tmp``: ``/opt/blockkit`` as the image's COPY --from=bundle lines
    fill it, and the bundle's package (standing for the installed blockkit)."""
    image, _ = _refusal()
    opt = tmp / "opt"
    paths = {"/opt/blockkit": opt}
    for args in image.all("COPY"):
        flags, sources, destination = _copy_args(args)
        if flags.get("from") == "bundle" and destination.startswith("/opt/blockkit"):
            for source in sources:
                relative = Path(source).relative_to("/bundle")
                _copy(bundle / relative, _container_path(destination, paths), into=False)
    assert (opt / "course" / "course").is_dir(), "the image holds no course content"
    package = tmp / "package"
    shutil.copytree(bundle / "package", package, symlinks=True)
    return opt, package


def _run_refusal(tmp: Path, opt: Path, pythonpath: Path) -> subprocess.CompletedProcess[str]:
    image, run = _refusal()
    python = _interpreter(tmp / "bin", shlex.quote(sys.executable))
    env = {
        "PATH": f"{python.parent}:/usr/bin:/bin",
        "HOME": str(tmp),
        "PYTHONPATH": str(pythonpath),
    }
    return subprocess.run(
        [*_shell(image), _substitute(run, {"/opt/blockkit": opt})],
        env=env,
        cwd=tmp,
        capture_output=True,
        text=True,
        check=False,
    )


@pytest.fixture
def image(tmp_path_factory, stage_bundle) -> tuple[Path, Path, Path]:
    """A fresh copy of the image's files: (tmp, /opt/blockkit, the installed package's root)."""
    tmp = tmp_path_factory.mktemp("image")
    # the RUN matches paths containing "solution" (and names "hidden", "tests"): the folders
    # this test works in must not, or every case would be refused for the wrong reason
    assert not re.search(r"solution|/hidden/|/tests/", f"{tmp}/", flags=re.IGNORECASE), tmp
    opt, package = _image_files(tmp, stage_bundle)
    return tmp, opt, package


def test_the_image_check_passes_the_bundle_the_stage_made(image):
    tmp, opt, package = image
    which = subprocess.run(
        [sys.executable, "-c", "import blockkit; print(blockkit.__file__)"],
        env={"PYTHONPATH": str(package), "PATH": "/usr/bin:/bin"},
        cwd=tmp,
        capture_output=True,
        text=True,
        check=True,
    )
    assert which.stdout.strip() == str(package / "blockkit" / "__init__.py")  # not the checkout's
    done = _run_refusal(tmp, opt, package)
    assert done.returncode == 0, done.stderr
    assert "refusing" not in done.stderr


def test_the_image_check_refuses_importable_hidden_cases(image):
    tmp, opt, _ = image
    done = _run_refusal(tmp, opt, ROOT)  # the checkout's blockkit: it has blockkit.grading.hidden
    assert done.returncode != 0
    # refused by the import check itself, which stops the build before the search for files
    assert [line for line in done.stderr.splitlines() if "refusing" in line] == [
        "refusing to build: the image holds blockkit.grading.hidden (hidden cases)"
    ]


def test_the_image_check_refuses_hidden_cases_that_no_file_name_gives_away(image):
    """Hidden cases as one module (``hidden.py``, not a ``hidden`` folder): only the import check
    sees them, so it alone must stop the build."""
    tmp, opt, package = image
    (package / "blockkit" / "grading" / "hidden.py").write_text("HIDDEN_CASES = {}\n")
    done = _run_refusal(tmp, opt, package)
    assert done.returncode != 0
    assert "refusing to build: the image holds blockkit.grading.hidden" in done.stderr


def _refused(done: subprocess.CompletedProcess[str]) -> list[str]:
    assert done.returncode != 0, done.stderr
    said = done.stderr.split("refusing to build: the image holds ", 1)
    assert len(said) == 2, done.stderr
    return said[1].strip().splitlines()


def test_the_image_check_refuses_a_solution_in_the_content(image):
    tmp, opt, package = image
    planted = opt / "course" / "solutions" / "03-merkle-trees.ipynb"
    planted.parent.mkdir()
    planted.write_text("{}")
    assert sorted(_refused(_run_refusal(tmp, opt, package))) == [
        str(planted.parent),
        str(planted),
    ]


def test_the_image_check_refuses_a_solution_notebook_among_the_exercises(image):
    tmp, opt, package = image
    planted = opt / "course" / "exercises" / "03-merkle-trees-SOLUTION.ipynb"
    planted.write_text("{}")
    assert _refused(_run_refusal(tmp, opt, package)) == [str(planted)]


def test_the_image_check_refuses_tests_in_the_package(image):
    tmp, opt, package = image
    planted = package / "blockkit" / "tests"
    planted.mkdir()
    (planted / "test_answers.py").write_text("")
    assert _refused(_run_refusal(tmp, opt, package)) == [str(planted)]


def test_the_image_check_refuses_a_hidden_folder_that_does_not_import(image):
    """A ``hidden`` folder is refused by name too, even where it is not importable as
    ``blockkit.grading.hidden`` (here: in the content)."""
    tmp, opt, package = image
    planted = opt / "course" / "exercises" / "hidden"
    planted.mkdir()
    assert _refused(_run_refusal(tmp, opt, package)) == [str(planted)]


def test_the_images_lab_overrides_are_settings_jupyterlab_takes(tmp_path, monkeypatch):
    """The image copies deploy/lab-overrides.json to where JupyterLab reads ``overrides.json``
    (its app settings folder under the image's Python prefix, ``${CONDA_DIR}``). Copy it as the
    ``COPY`` line says and read it with jupyterlab_server's own code: every plugin and key must
    exist in the installed JupyterLab's schemas, every value must be valid for its schema, and
    each becomes that setting's default (a misspelt key is otherwise ignored without a word)."""
    import jsonschema
    from jupyterlab.commands import get_app_dir
    from jupyterlab_server.settings_utils import get_settings

    monkeypatch.delenv("JUPYTERLAB_DIR", raising=False)
    (line,) = [a for a in _stage(None).all("COPY") if "lab-overrides.json" in a]
    _, (source,), destination = _copy_args(line)
    prefix = tmp_path / "conda"
    # JupyterLab's app folder is <prefix>/share/jupyter/lab; LabApp's app_settings_dir its settings/
    app_settings = prefix / Path(get_app_dir()).relative_to(sys.prefix) / "settings"
    installed = _container_path(destination, {"${CONDA_DIR}": prefix})
    assert installed == app_settings / "overrides.json", f"JupyterLab never reads {destination}"
    _copy(ROOT / source, installed, into=False)

    schemas, user, plain_settings = (
        Path(get_app_dir()) / "schemas",
        tmp_path / "user",
        tmp_path / "plain",
    )
    user.mkdir()
    plain_settings.mkdir()

    def settings_from(app_settings_dir: Path) -> dict:
        found, warnings = get_settings(str(app_settings_dir), str(schemas), str(user))
        assert not [w for w in warnings if w], warnings
        return {plugin["id"]: plugin["schema"] for plugin in found["settings"]}

    overrides = json.loads((ROOT / source).read_text())
    plain, image = settings_from(plain_settings), settings_from(app_settings)
    for plugin, values in overrides.items():
        assert plugin in plain, f"JupyterLab has no plugin {plugin}"
        for key, value in values.items():
            # an unknown key is added to the schema quietly, so look for it in the plain one
            assert key in plain[plugin]["properties"], f"{plugin} has no setting {key}"
            jsonschema.validate({key: value}, {**plain[plugin], "required": []})
            assert image[plugin]["properties"][key]["default"] == value
