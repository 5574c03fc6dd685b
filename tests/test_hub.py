"""A real JupyterHub serving the course: two students, their own servers, their own tokens.

The test runs ``deploy/jupyterhub_config.py`` as deployed (workshop mode: a shared password and a
local process spawner) with configurable-http-proxy from the npm registry (``deploy/proxy``,
installed with ``npm ci`` on first use), everything on 127.0.0.1 and in a temporary folder. The
students' servers serve the student bundle (``blockkit hub bundle``): the course content arrives
in each home through nbgitpuller, as from a link made by ``blockkit hub link``, and the blockkit
package the kernels import is the bundle's, which has no hidden cases.

Without node and npm the test is skipped saying how to install them, except under ``.ci/run``,
which installs them and sets ``BLOCKKIT_REQUIRE_HUB=1`` so that a missing tool fails. The hub
runs as whoever runs the tests, and so do students' servers (the config passes ``--allow-root``
only when that is root). As root (CI), the module's hub tests also run a second time as
``nobody``, in a private mount namespace that lets that user reach the interpreter under /root
(``tests/sandbox.py``), so both ways are tested on every run. As root, the config's system mode
runs too: PAM logins and a server per Unix account, for accounts that exist only in the hub's
mount namespace.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import ClassVar
from urllib.parse import parse_qs, urlsplit

import pytest

from blockkit.hub import build_bundle, find_notebook, hub_link

requests = pytest.importorskip("requests")
websocket = pytest.importorskip("websocket")

ROOT = Path(__file__).resolve().parents[1]
DEPLOY = ROOT / "deploy"
PROXY = DEPLOY / "proxy"
STUDENTS = ("alice", "bob")
TARGET = "blockkit-course"

pytestmark = pytest.mark.hub


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _missing(message: str) -> None:
    if os.environ.get("BLOCKKIT_REQUIRE_HUB"):
        pytest.fail(message)
    pytest.skip(message)


def proxy_command() -> Path:
    """configurable-http-proxy from the npm registry, installed from deploy/proxy's lock file."""
    binary = PROXY / "node_modules" / ".bin" / "configurable-http-proxy"
    if binary.exists():
        return binary
    if not (shutil.which("node") and shutil.which("npm")):
        _missing("node and npm are needed for the hub's proxy: apt-get install nodejs npm")
    done = subprocess.run(
        ["npm", "ci", "--no-audit", "--no-fund"],
        cwd=PROXY,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if done.returncode != 0 or not binary.exists():
        _missing(f"npm ci in deploy/proxy failed: {done.stderr[-500:]}")
    return binary


def lab_user_settings(home: Path) -> None:
    """The lab settings the image installs as overrides (deploy/lab-overrides.json), written as
    the student's own settings: no news fetched, every cell rendered."""
    overrides = json.loads((DEPLOY / "lab-overrides.json").read_text())
    base = home / ".jupyter" / "lab" / "user-settings"
    for plugin, settings in overrides.items():
        package, name = plugin.rsplit(":", 1)
        folder = base / package
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{name}.jupyterlab-settings").write_text(json.dumps(settings))


class Hub:
    """A running hub: its address, an admin API token, its bundle. Workshop mode: a shared
    password, every student's server a process of the hub's own user."""

    students = (*STUDENTS, "carol")

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.bundle = build_bundle(ROOT, tmp / "bundle", git=True)
        self.repo = (self.bundle / "content").as_uri()
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.password = secrets.token_urlsafe(12)
        self.token = secrets.token_hex(16)
        self.tokens: dict[str, str] = {}
        self.homes = tmp / "homes"
        for name in self.students:
            lab_user_settings(self.homes / name)
        self.env = {
            **os.environ,
            "BLOCKKIT_HUB_STATE": str(tmp / "state"),
            "BLOCKKIT_HUB_IP": "127.0.0.1",
            "BLOCKKIT_HUB_PORT": str(self.port),
            "BLOCKKIT_HUB_API_PORT": str(_free_port()),
            "BLOCKKIT_HUB_PROXY_API_PORT": str(_free_port()),
            "BLOCKKIT_HUB_PROXY": str(proxy_command()),
            "BLOCKKIT_HUB_SERVICE_TOKEN": self.token,
            "BLOCKKIT_HUB_PYTHON": sys.executable,
            "BLOCKKIT_HUB_STUDENT_PATH": str(self.bundle / "package"),
            "BLOCKKIT_HUB_START_TIMEOUT": "120",
            **self.settings(),
        }
        self.env.pop("PYTHONPATH", None)
        self.log = (tmp / "hub.log").open("w")
        started = time.monotonic()
        self.process = subprocess.Popen(
            [
                *self.launcher(),
                sys.executable,
                "-m",
                "jupyterhub",
                "-f",
                str(DEPLOY / "jupyterhub_config.py"),
            ],
            cwd=tmp,
            env=self.env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self._wait(lambda: requests.get(f"{self.url}/hub/api", timeout=2).ok, 60, "the hub")
        self.start_seconds = time.monotonic() - started

    def settings(self) -> dict[str, str]:
        """The mode's own BLOCKKIT_HUB_* settings."""
        return {"BLOCKKIT_HUB_PASSWORD": self.password, "BLOCKKIT_HUB_HOMES": str(self.homes)}

    def launcher(self) -> list[str]:
        """What the hub's command runs under (nothing: the hub runs as the tests' user)."""
        return []

    def _wait(self, ready, seconds: float, what: str) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"the hub exited while waiting for {what}:\n{self.logs()}")
            try:
                if ready():
                    return
            except requests.RequestException:
                pass
            time.sleep(0.3)
        raise AssertionError(f"{what} was not ready within {seconds} s:\n{self.logs()}")

    def logs(self) -> str:
        self.log.flush()
        return (self.tmp / "hub.log").read_text()[-4000:]

    def api(self, method: str, path: str, **kwargs):
        headers = {"Authorization": f"token {self.token}"}
        return requests.request(
            method, f"{self.url}/hub/api{path}", headers=headers, timeout=30, **kwargs
        )

    def login(self, name: str, password: str | None = None):
        """A browser-like session logged in through the login form (None when refused)."""
        session = requests.Session()
        session.get(f"{self.url}/hub/login", timeout=10)
        xsrf = session.cookies.get("_xsrf", "")
        reply = session.post(
            f"{self.url}/hub/login",
            data={"username": name, "password": password or self.password, "_xsrf": xsrf},
            allow_redirects=False,
            timeout=10,
        )
        return session if reply.status_code == 302 else None

    def start_server(self, name: str) -> str:
        """Start ``name``'s server (as an instructor's script would) and return a token of
        ``name``'s own, which carries only that student's permissions."""
        if name in self.tokens:
            return self.tokens[name]
        if self.api("GET", f"/users/{name}").status_code == 404:  # never logged in yet
            assert self.api("POST", f"/users/{name}").status_code == 201
        reply = self.api("POST", f"/users/{name}/server")
        assert reply.status_code in (201, 202), reply.text

        def ready() -> bool:
            server = self.api("GET", f"/users/{name}").json()["servers"].get("", {})
            return bool(server.get("ready"))

        self._wait(ready, 120, f"{name}'s server")
        return self.user_token(name)

    def user_token(self, name: str) -> str:
        """A token of ``name``'s own (made with the admin token), with only its permissions."""
        if name not in self.tokens:
            reply = self.api("POST", f"/users/{name}/tokens", json={"note": "hub test"})
            assert reply.status_code == 201, reply.text
            self.tokens[name] = reply.json()["token"]
        return self.tokens[name]

    def wait_for_kernel(self, name: str, path: str) -> None:
        """Until the notebook at ``path`` has an idle kernel that the page is connected to."""
        headers = {"Authorization": f"token {self.user_token(name)}"}
        base = f"{self.url}/user/{name}/api"

        def connected() -> bool:
            sessions = requests.get(f"{base}/sessions", headers=headers, timeout=10).json()
            kernels = [s["kernel"]["id"] for s in sessions if s["path"] == path]
            if not kernels:
                return False
            state = requests.get(f"{base}/kernels/{kernels[0]}", headers=headers, timeout=10)
            return state.json()["execution_state"] == "idle" and state.json()["connections"] > 0

        self._wait(connected, 60, f"the kernel of {path}")

    def stop(self) -> None:
        try:
            for name in self.students:
                self.api("DELETE", f"/users/{name}/server")
        except requests.RequestException:
            pass
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(10)
        self.log.close()


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    running = Hub(tmp_path_factory.mktemp("hub"))
    try:
        yield running
    finally:
        running.stop()


def sandboxed(
    staging: Path, needs: list, *, accounts: list[str] = (), uid: int | None = None
) -> list[str]:
    """The command prefix that runs a command in a private mount namespace (tests/sandbox.py):
    the interpreter and ``needs`` reachable by ordinary users, ``accounts`` known to the system
    there only, and the command run as ``uid`` (root without it)."""
    if not shutil.which("unshare"):
        _missing("unshare (util-linux) is needed for the hub's ordinary-user and system tests")
    reach = [sys.executable, sys.prefix, sys.base_prefix, *needs]
    return [
        "unshare", "--mount", "--propagation", "private", "--",
        sys.executable, str(ROOT / "tests" / "sandbox.py"), "--staging", str(staging),
        *[f"--need={p}" for p in reach], *[f"--account={a}" for a in accounts],
        *([f"--uid={uid}"] if uid is not None else []), "--",
    ]  # fmt: skip


class SystemHub(Hub):
    """System mode as deploy/README.md sets it up on one server: the hub runs as root, each
    student is a Unix account with its own password (PAM) and private home, and each server
    runs as its student. The accounts exist only in the hub's private mount namespace
    (tests/sandbox.py), never on the machine. Homes hold a copy of the course, as the image's
    starting copy does (nbgitpuller is the workshop hub's part of the test)."""

    # carol has an account but is not in the class list
    uids: ClassVar[dict[str, int]] = {"alice": 61001, "bob": 61002, "carol": 61003}

    def settings(self) -> dict[str, str]:
        self.passwords = {name: secrets.token_urlsafe(12) for name in self.uids}
        for folder in (self.tmp, self.homes):
            folder.chmod(0o711)  # students pass through to their homes; nobody lists them
        for name, uid in self.uids.items():
            home = self.homes / name
            course = shutil.ignore_patterns(".git")
            shutil.copytree(self.bundle / "content", home / TARGET, ignore=course)
            for path in (home, *home.rglob("*")):
                os.chown(path, uid, uid)
            home.chmod(0o700)
        users = self.tmp / "class.txt"
        users.write_text(
            "alice\nbob  # carol has an account on the machine but is not in the class\n"
        )
        return {"BLOCKKIT_HUB_MODE": "system", "BLOCKKIT_HUB_USERS": str(users)}

    def launcher(self) -> list[str]:
        self.staging = Path(tempfile.mkdtemp(prefix="blockkit-hub-staging-"))
        accounts = [
            f"{n}:{uid}:{self.passwords[n]}:{self.homes / n}" for n, uid in self.uids.items()
        ]
        return sandboxed(self.staging, [self.bundle / "package", self.homes], accounts=accounts)

    def stop(self) -> None:
        super().stop()
        shutil.rmtree(self.staging, ignore_errors=True)


@pytest.fixture(scope="module")
def system_hub(tmp_path_factory):
    if os.geteuid() != 0:
        pytest.skip("system mode runs the hub as root (deploy/README.md): run the tests as root")
    running = SystemHub(tmp_path_factory.mktemp("system-hub"))
    try:
        yield running
    finally:
        running.stop()


def pull_course(hub: Hub, name: str, token: str) -> None:
    """What a click on the lesson link does in the student's server: nbgitpuller clones the
    bundle's content into the home (its page calls this API and follows its progress)."""
    link = hub_link(hub.url, hub.repo, find_notebook(hub.bundle / "content", "01"))
    query = {k: v[0] for k, v in parse_qs(urlsplit(link).query).items()}
    reply = requests.get(
        f"{hub.url}/user/{name}/git-pull/api",
        params={
            "repo": query["repo"],
            "branch": query["branch"],
            "targetpath": query["targetPath"],
        },
        headers={"Authorization": f"token {token}"},
        stream=True,
        timeout=120,
    )
    assert reply.status_code == 200, reply.text
    phases = [
        json.loads(line[len("data:") :])
        for line in reply.iter_lines(decode_unicode=True)
        if line and line.startswith("data:")
    ]
    assert phases and phases[-1].get("phase") == "finished", phases[-3:]


def run_notebook(hub: Hub, name: str, token: str, path: str, extra: list[str] = ()) -> list[dict]:
    """Open ``path`` in ``name``'s server (a session, as JupyterLab does), run every code cell
    over the kernel's websocket, then the ``extra`` cells; return each cell's reply and outputs."""
    headers = {"Authorization": f"token {token}"}
    base = f"{hub.url}/user/{name}/api"
    notebook = requests.get(f"{base}/contents/{path}", headers=headers, timeout=30)
    assert notebook.status_code == 200, notebook.text
    cells = [
        "".join(c["source"])
        for c in notebook.json()["content"]["cells"]
        if c["cell_type"] == "code"
    ]
    session = requests.post(
        f"{base}/sessions",
        json={"path": path, "type": "notebook", "kernel": {"name": "python3"}},
        headers=headers,
        timeout=60,
    )
    assert session.status_code == 201, session.text
    kernel = session.json()["kernel"]["id"]
    ws = websocket.create_connection(
        f"ws://127.0.0.1:{hub.port}/user/{name}/api/kernels/{kernel}/channels",
        header=[f"Authorization: token {token}"],
        timeout=120,
    )
    results = []
    try:
        for code in [*cells, *extra]:
            msg_id = uuid.uuid4().hex
            ws.send(json.dumps({
                "header": {"msg_id": msg_id, "msg_type": "execute_request", "username": name,
                           "session": kernel, "version": "5.3"},
                "parent_header": {}, "metadata": {}, "channel": "shell", "buffers": [],
                "content": {"code": code, "silent": False, "store_history": True,
                            "user_expressions": {}, "allow_stdin": False, "stop_on_error": True},
            }))  # fmt: skip
            outputs, reply, idle = [], None, False
            while reply is None or not idle:
                message = json.loads(ws.recv())
                if message.get("parent_header", {}).get("msg_id") != msg_id:
                    continue
                kind = message["msg_type"]
                if kind == "execute_reply":
                    reply = message["content"]
                elif kind == "status" and message["content"]["execution_state"] == "idle":
                    idle = True
                elif kind in ("stream", "execute_result", "display_data", "error"):
                    outputs.append(message["content"])
            results.append({"code": code, "reply": reply, "outputs": outputs})
    finally:
        ws.close()
        requests.delete(f"{base}/sessions/{session.json()['id']}", headers=headers, timeout=30)
    return results


def _streams(outputs: list[dict]) -> str:
    return "".join(o.get("text", "") for o in outputs if "name" in o)


def _stored_streams(path: Path) -> list[str]:
    cells = json.loads(path.read_text())["cells"]
    return [
        "".join("".join(o.get("text", "")) for o in c["outputs"] if o["output_type"] == "stream")
        for c in cells
        if c["cell_type"] == "code"
    ]


def _text(outputs: list[dict]) -> str:
    return "".join(o.get("text", "") or o.get("data", {}).get("text/plain", "") for o in outputs)


def test_students_log_in_with_the_shared_password_and_only_with_it(hub):
    assert hub.login("alice") is not None
    assert hub.login("bob") is not None
    assert hub.login("alice", "not-the-password") is None


def run_lesson_01(hub: Hub, name: str, token: str, checks: list[str]) -> list[dict]:
    """Run lesson 01 from ``name``'s copy of the course, then ``checks``; every cell must
    succeed and print what it printed when the lesson was executed and stored."""
    lesson = f"{TARGET}/{find_notebook(hub.bundle / 'content', '01')}"
    results = run_notebook(hub, name, token, lesson, checks)
    failed = [r for r in results if r["reply"]["status"] != "ok"]
    assert not failed, (failed[0]["code"][:200], failed[0]["outputs"])
    stored = _stored_streams(hub.homes / name / lesson)
    assert len(stored) > 5
    assert [_streams(r["outputs"]) for r in results[: len(stored)]] == stored
    return results


def test_two_students_each_get_a_server_pull_the_course_and_run_a_lesson(hub):
    for name in STUDENTS:
        token = hub.start_server(name)
        pull_course(hub, name, token)
        assert (hub.homes / name / TARGET / "course" / "01-hashing.ipynb").is_file()
        checks = [
            "import blockkit, importlib.util; print(blockkit.__file__)",
            "print(importlib.util.find_spec('blockkit.grading.hidden'))",
        ]
        results = run_lesson_01(hub, name, token, checks)
        # the kernel imports the bundle's blockkit, which has no hidden cases
        assert _text(results[-2]["outputs"]).strip().startswith(str(hub.bundle / "package"))
        assert _text(results[-1]["outputs"]).strip() == "None"


def test_a_students_token_is_refused_on_another_students_server(hub):
    tokens = {name: hub.start_server(name) for name in STUDENTS}
    for owner, other in (("alice", "bob"), ("bob", "alice")):
        mine = requests.get(
            f"{hub.url}/user/{owner}/api/contents",
            headers={"Authorization": f"token {tokens[owner]}"},
            timeout=30,
        )
        assert mine.status_code == 200
        theirs = requests.get(
            f"{hub.url}/user/{other}/api/contents",
            headers={"Authorization": f"token {tokens[owner]}"},
            timeout=30,
            allow_redirects=False,
        )
        assert theirs.status_code == 403, (theirs.status_code, theirs.text[:300])
    nobody = requests.get(f"{hub.url}/user/alice/api/contents", timeout=30, allow_redirects=False)
    assert nobody.status_code in (302, 403)


def test_no_solution_is_reachable_from_a_students_server(hub):
    token = hub.start_server("alice")
    if not (hub.homes / "alice" / TARGET).exists():  # when this test runs on its own
        pull_course(hub, "alice", token)
    headers = {"Authorization": f"token {token}"}
    listing = requests.get(
        f"{hub.url}/user/alice/api/contents/{TARGET}", headers=headers, timeout=30
    )
    assert listing.status_code == 200
    names = {entry["name"] for entry in listing.json()["content"]}
    assert {"course", "exercises"} <= names and "solutions" not in names
    home = hub.homes / "alice"
    assert not [p for p in home.rglob("*") if "solution" in p.name.lower() or p.name == "hidden"]
    # the server serves the home only: the repository's solutions are out of its reach
    for path in ("../solutions", "%2E%2E/solutions", str(ROOT / "solutions")):
        reply = requests.get(
            f"{hub.url}/user/alice/api/contents/{path}", headers=headers, timeout=30
        )
        assert reply.status_code in (400, 403, 404), (path, reply.status_code)


def _student_processes(hub: Hub) -> dict[int, tuple[str, int, list[str]]]:
    """Every process of a student's on this hub (servers and their kernels, which inherit the
    server's environment): pid -> (student, real uid, command line)."""
    found = {}
    api = f":{hub.env['BLOCKKIT_HUB_API_PORT']}/"
    for proc in Path("/proc").iterdir():
        try:
            environ = dict(
                item.split(b"=", 1)
                for item in (proc / "environ").read_bytes().split(b"\0")
                if b"=" in item
            )
            if api.encode() not in environ.get(b"JUPYTERHUB_API_URL", b""):
                continue
            if not environ.get(b"JUPYTERHUB_USER"):
                continue  # a hub service (the idle culler)
            status = (proc / "status").read_text().splitlines()
            uid = int(next(line for line in status if line.startswith("Uid:")).split()[1])
            command = (proc / "cmdline").read_bytes().decode().split("\0")
        except (OSError, ValueError, StopIteration):
            continue  # not a process, or gone meanwhile
        found[int(proc.name)] = (environ[b"JUPYTERHUB_USER"].decode(), uid, command)
    return found


def test_the_hub_and_every_students_process_run_as_the_user_who_started_it(hub):
    """The hub runs as whoever started it, and so does each student's server and kernel (the
    simple spawner); ``--allow-root`` reaches students' servers only when that user is root.
    ``BLOCKKIT_TEST_EXPECT_UID`` is set by the ordinary-user run below, to prove it ran so."""
    expected = int(os.environ.get("BLOCKKIT_TEST_EXPECT_UID", os.geteuid()))
    assert os.geteuid() == expected
    status = Path(f"/proc/{hub.process.pid}/status").read_text().splitlines()
    assert (
        next(line for line in status if line.startswith("Uid:")).split()[1:] == [str(expected)] * 4
    )
    for name in STUDENTS:
        hub.start_server(name)
    processes = _student_processes(hub)
    servers = {who: cmd for who, _, cmd in processes.values() if "jupyterhub.singleuser" in cmd}
    assert set(servers) == set(STUDENTS), processes
    assert {uid for _, uid, _ in processes.values()} == {expected}
    assert {("--allow-root" in cmd) for cmd in servers.values()} == {expected == 0}


def test_system_mode_lets_in_the_class_each_with_its_own_unix_password(system_hub):
    passwords = system_hub.passwords
    assert system_hub.login("alice", passwords["alice"]) is not None
    assert system_hub.login("bob", passwords["bob"]) is not None
    assert system_hub.login("alice", passwords["bob"]) is None  # a classmate's password
    assert system_hub.login("carol", passwords["carol"]) is None  # an account, not in the class
    assert system_hub.login("root", passwords["alice"]) is None


def test_system_mode_runs_each_server_as_its_student_who_cannot_read_a_classmates_home(
    system_hub,
):
    hub = system_hub
    tokens = {name: hub.start_server(name) for name in STUDENTS}
    uids: dict[str, set[int]] = {}
    for who, uid, command in _student_processes(hub).values():
        uids.setdefault(who, set()).add(uid)
        assert "--allow-root" not in command
    assert uids == {name: {hub.uids[name]} for name in STUDENTS}
    bob = hub.homes / "bob"
    checks = [
        "import os; print(os.getuid(), os.environ['HOME'])",
        f"try:\n    os.listdir({str(bob)!r})\nexcept PermissionError:\n    print('refused')",
    ]
    results = run_lesson_01(hub, "alice", tokens["alice"], checks)
    assert _text(results[-2]["outputs"]).split() == [
        str(hub.uids["alice"]),
        str(hub.homes / "alice"),
    ]
    assert _text(results[-1]["outputs"]).strip() == "refused"
    theirs = requests.get(
        f"{hub.url}/user/bob/api/contents",
        headers={"Authorization": f"token {tokens['alice']}"},
        timeout=30,
        allow_redirects=False,
    )
    assert theirs.status_code == 403


def test_the_hub_runs_as_an_ordinary_user_too():
    """As root, run this module's hub tests again as ``nobody``: the hub, the proxy, students'
    servers and their kernels with no privilege at all (tests/sandbox.py lets that user
    reach the interpreter where it lives under /root, and nothing else there). As an ordinary
    user there is nothing to add: every test above ran as one."""
    if os.geteuid() != 0:
        pytest.skip("running as an ordinary user already: the tests above are this test")
    proxy = proxy_command()  # installed by root, read by nobody
    nobody = 65534
    work = Path(tempfile.mkdtemp(prefix="blockkit-hub-nobody-"))
    staging = Path(tempfile.mkdtemp(prefix="blockkit-hub-staging-"))
    try:
        os.chown(work, nobody, nobody)
        ours = [
            name
            for name, test in globals().items()
            if name.startswith("test_")
            and name != "test_the_hub_runs_as_an_ordinary_user_too"
            and not name.startswith("test_system_mode")  # system mode runs as root
            and not any(m.name == "browser" for m in getattr(test, "pytestmark", []))
        ]
        tools = filter(None, [shutil.which("git"), shutil.which("node")])
        command = [
            *sandboxed(staging, [ROOT, proxy, work, *tools], uid=nobody),
            sys.executable, "-m", "pytest", str(Path(__file__)), "-p", "no:cacheprovider",
            "-q", "-rs", "--basetemp", str(work / "pytest"), "-k", " or ".join(ours),
        ]  # fmt: skip
        env = {
            **os.environ,
            "HOME": str(work),
            "BLOCKKIT_REQUIRE_HUB": "1",
            "BLOCKKIT_TEST_EXPECT_UID": str(nobody),
            "PYTHONDONTWRITEBYTECODE": "1",
        }
        done = subprocess.run(
            command, cwd=work, env=env, capture_output=True, text=True, timeout=600, check=False
        )
        report = done.stdout[-3000:] + done.stderr[-2000:]
        if "unshare failed" in done.stderr:
            _missing(f"this machine refuses a private mount namespace:\n{report}")
        assert done.returncode == 0, report
        summary = done.stdout.strip().splitlines()[-1]
        assert f"{len(ours)} passed" in summary and "skipped" not in summary, report
    finally:
        shutil.rmtree(work, ignore_errors=True)
        shutil.rmtree(staging, ignore_errors=True)


# --- a student's browser, through the hub ------------------------------------------------------


@pytest.mark.browser
def test_a_student_logs_in_clicks_a_lesson_link_and_runs_it_offline_in_chromium(hub):
    """Headless Chromium: the login form, the one-click lesson link (nbgitpuller's page pulls the
    course and opens the lesson), Run All, the avalanche widget answering a key press, a
    screenshot. The browser resolves no name but 127.0.0.1, as on a hub without internet, and
    every request it makes is watched: one to anywhere but the hub fails the test (lessons,
    widgets and maths must not need a CDN), and so does any console error."""
    import re

    from test_browser import ARTIFACTS, CHROMIUM, CHROMIUM_FLAGS, run_all_cells

    from blockkit.widgets.hashing import avalanche

    if not Path(CHROMIUM).exists():
        message = "Debian's chromium is not installed: apt-get install chromium (.ci/run does this)"
        if os.environ.get("BLOCKKIT_REQUIRE_BROWSER"):
            pytest.fail(message)
        pytest.skip(message)
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=60_000)
    ARTIFACTS.mkdir(exist_ok=True)
    outside: list[str] = []
    console: list[str] = []

    def watch(request) -> None:
        url = request.url
        if urlsplit(url).hostname != "127.0.0.1" and not url.startswith(("data:", "blob:")):
            outside.append(url)

    link = hub_link(hub.url, hub.repo, find_notebook(hub.bundle / "content", "01"))
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(hub.tmp / "chromium"),
            executable_path=CHROMIUM,
            headless=True,
            # as on a hub without internet: no name but 127.0.0.1 resolves
            args=[*CHROMIUM_FLAGS, "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"],
            viewport={"width": 1400, "height": 1000},
        )
        context.on("request", watch)
        page = context.pages[0] if context.pages else context.new_page()
        page.set_default_timeout(60_000)
        page.on("console", lambda m: m.type == "error" and console.append(m.text))
        page.on("pageerror", lambda e: console.append(str(e)))
        try:
            page.goto(f"{hub.url}/hub/login")
            page.fill("#username_input", "carol")
            page.fill("#password_input", hub.password)
            page.click("#login_submit")
            page.wait_for_url(re.compile(r"/user/carol/lab"), timeout=120_000)
            page.goto(link)  # the one-click link: pull the course, open lesson 01
            page.wait_for_url(re.compile(r"/lab/tree/blockkit-course/course/01-hashing"))
            page.locator(".jp-NotebookPanel .jp-Cell").first.wait_for()
            idle = page.locator(".jp-Notebook-ExecutionIndicator[data-status='idle']")
            expect(idle).to_have_count(1)
            hub.wait_for_kernel("carol", f"{TARGET}/course/01-hashing.ipynb")
            code_cells = run_all_cells(page)
            last = code_cells.nth(code_cells.count() - 1).locator(".jp-InputPrompt")
            expect(last).to_have_text(re.compile(r"\[\d+\]:"), timeout=120_000)
            stderr = page.locator(
                ".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']"
            )
            assert stderr.count() == 0, stderr.all_inner_texts()
            # maths typeset by the MathJax bundled with JupyterLab (no CDN)
            expect(page.locator("mjx-container").first).to_be_attached()
            summary = page.locator(".blockkit-avalanche-summary")
            expect(summary).to_have_text(avalanche("blockkit", 7).summary())
            handle = page.locator(".widget-slider .noUi-handle").first
            handle.focus()
            handle.press("ArrowRight")
            expect(summary).to_have_text(avalanche("blockkit", 8).summary())
            summary.scroll_into_view_if_needed()
            page.screenshot(path=str(ARTIFACTS / "hub-lesson-01.png"))
        except Exception:
            page.screenshot(path=str(ARTIFACTS / "hub-lesson-01-failure.png"))
            print(hub.logs())
            raise
        finally:
            context.close()
    assert not outside, f"the page asked for outside addresses: {outside[:5]}"
    assert not console, f"console errors: {console[:5]}"
    assert (hub.homes / "carol" / TARGET / "course" / "01-hashing.ipynb").is_file()
