"""JupyterHub on a single machine for the blockkit course.

    jupyterhub -f deploy/jupyterhub_config.py

Everything a deployment changes comes from environment variables (documented in
``deploy/README.md``), so that the same file serves a classroom server and the project's own hub
test (``tests/test_hub.py``), which runs exactly this file on 127.0.0.1.

Two modes (``BLOCKKIT_HUB_MODE``):

* ``workshop`` (default): one shared password (``SharedPasswordAuthenticator``) and every student's
  server a process of the hub's own user (``SimpleLocalProcessSpawner``), each in its own home
  folder. Nothing to set up, but **no isolation between students**: anyone with the password can
  log in under any non-admin name, a classmate's included (``BLOCKKIT_HUB_USERS`` limits the
  names, not who uses them), and students' code runs as the hub's user, so it can read other
  students' files and the hub's own state (cookie secret, database, service token). For a
  workshop, a demonstration or a test; never for graded work.
* ``system``: each student is a Unix account (PAM passwords, ``LocalProcessSpawner``), servers run
  as that user, homes are the users' own. The hub runs as root. For a course on one server.

For a course at scale, use Kubernetes: ``deploy/helm/values.yaml`` (Zero to JupyterHub).
"""

# ruff: noqa: F821 - ``c`` is the config object JupyterHub provides when it loads this file

import os
import sys
from pathlib import Path

env = os.environ.get

mode = env("BLOCKKIT_HUB_MODE", "workshop")
if mode not in ("workshop", "system"):
    raise SystemExit(f"BLOCKKIT_HUB_MODE is workshop or system, not {mode!r}")
state = Path(env("BLOCKKIT_HUB_STATE", "/srv/jupyterhub"))
state.mkdir(parents=True, exist_ok=True)

# --- where the hub listens: behind a TLS reverse proxy by default (see deploy/README.md) -------
c.JupyterHub.ip = env("BLOCKKIT_HUB_IP", "127.0.0.1")
c.JupyterHub.port = int(env("BLOCKKIT_HUB_PORT", "8000"))
c.JupyterHub.hub_ip = "127.0.0.1"
c.JupyterHub.hub_port = int(env("BLOCKKIT_HUB_API_PORT", "8081"))
c.ConfigurableHTTPProxy.api_url = f"http://127.0.0.1:{env('BLOCKKIT_HUB_PROXY_API_PORT', '8001')}"
c.ConfigurableHTTPProxy.command = [env("BLOCKKIT_HUB_PROXY", "configurable-http-proxy")]
c.JupyterHub.db_url = f"sqlite:///{state / 'jupyterhub.sqlite'}"
c.JupyterHub.cookie_secret_file = str(state / "jupyterhub_cookie_secret")
c.JupyterHub.pid_file = str(state / "jupyterhub.pid")

# --- who may log in --------------------------------------------------------------------------
users_file = env("BLOCKKIT_HUB_USERS")
if users_file:
    # one name per line; blank lines and everything after a '#' are ignored
    lines = Path(users_file).read_text().splitlines()
    c.Authenticator.allowed_users = {n for line in lines for n in line.split("#")[0].split()}
admins = env("BLOCKKIT_HUB_ADMINS", "")
c.Authenticator.admin_users = set(admins.split())

if mode == "workshop":
    c.JupyterHub.authenticator_class = "shared-password"
    password = env("BLOCKKIT_HUB_PASSWORD")
    if not password:
        raise SystemExit("set BLOCKKIT_HUB_PASSWORD, the students' shared password (8+ characters)")
    c.SharedPasswordAuthenticator.user_password = password
    if env("BLOCKKIT_HUB_ADMIN_PASSWORD"):
        c.SharedPasswordAuthenticator.admin_password = env("BLOCKKIT_HUB_ADMIN_PASSWORD")
    if not users_file:
        c.Authenticator.allow_all = True
    c.JupyterHub.spawner_class = "simple"
    c.SimpleLocalProcessSpawner.home_dir_template = str(
        Path(env("BLOCKKIT_HUB_HOMES", "/srv/blockkit/home")) / "{username}"
    )
else:
    c.JupyterHub.authenticator_class = "pam"
    c.JupyterHub.spawner_class = "localprocess"
    if not users_file:
        c.Authenticator.allow_existing_users = True

# --- each student's server ---------------------------------------------------------------------
# The student environment: the blockkit student bundle installed (no solutions, no hidden cases).
python = env("BLOCKKIT_HUB_PYTHON", sys.executable)
c.Spawner.cmd = [python, "-m", "jupyterhub.singleuser"]
c.Spawner.default_url = "/lab"
c.Spawner.args = ["--ServerApp.terminals_enabled=False"] if env("BLOCKKIT_HUB_NO_TERMINALS") else []
if mode == "workshop" and os.geteuid() == 0:
    # Students' servers run as the hub's user; as root that is root (acceptable only in a
    # throwaway container, which is where CI runs; prefer an ordinary user).
    c.Spawner.args.append("--allow-root")
c.Spawner.start_timeout = int(env("BLOCKKIT_HUB_START_TIMEOUT", "60"))
c.Spawner.http_timeout = int(env("BLOCKKIT_HUB_START_TIMEOUT", "60"))
c.Spawner.environment = {"BLOCKKIT_HUB": "1", "PYTHONNOUSERSITE": "1"}
if env("BLOCKKIT_HUB_STUDENT_PATH"):
    # The student bundle's package, served without installing it (the project's hub test); an
    # image installs the bundle instead (deploy/Dockerfile) and leaves this unset.
    c.Spawner.environment["PYTHONPATH"] = env("BLOCKKIT_HUB_STUDENT_PATH")

# --- idle culling: stop servers nobody used for an hour, so memory goes to active students -----
services: list[dict] = []
roles: list[dict] = []
cull_after = int(env("BLOCKKIT_HUB_CULL_SECONDS", "3600"))
if cull_after > 0:
    command = [sys.executable, "-m", "jupyterhub_idle_culler", f"--timeout={cull_after}"]
    services.append({"name": "idle-culler", "command": command})
    roles.append(
        {
            "name": "idle-culler",
            "scopes": ["list:users", "read:users:activity", "read:servers", "delete:servers"],
            "services": ["idle-culler"],
        }
    )

# --- an API token for instructors' scripts (starting servers, collecting work) -------------------
admin_token = env("BLOCKKIT_HUB_SERVICE_TOKEN")
if admin_token:
    services.append({"name": "blockkit-admin", "api_token": admin_token})
    roles.append(
        {
            "name": "blockkit-admin",
            "scopes": ["admin:users", "admin:servers", "tokens", "access:servers"],
            "services": ["blockkit-admin"],
        }
    )
c.JupyterHub.services = services
c.JupyterHub.load_roles = roles
