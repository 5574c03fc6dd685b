"""Run a command in a private mount namespace: as an ordinary user, or as root beside test
accounts that exist only there. Started by root:

    unshare --mount --propagation private -- python tests/sandbox.py --staging DIR \\
        [--need PATH ...] [--account NAME:UID:PASSWORD:HOME ...] [--uid UID] -- COMMAND ...

CI runs as root, and the project's interpreter may live where an ordinary user cannot go
(pyenv's Python under /root, mode 700). Inside the namespace (``unshare --mount``: its mounts are
seen by this process tree only and vanish with it), every directory on the way to a ``--need``
path that others may not enter is covered by a small tmpfs holding bind mounts of just the
entries on those paths: ordinary users reach the interpreter and the project and nothing else of
/root (no keys, no history).

``--account`` adds a Unix account (its own group, a SHA-512 password, an existing home) to
copies of /etc/passwd, /etc/shadow and /etc/group bind-mounted over the real ones, so PAM and
``pwd`` know it inside the namespace and the machine never does. ``--uid`` drops to that user
(its primary group, no supplementary groups, no capabilities) before executing COMMAND;
without it COMMAND runs as root.

``tests/test_hub.py`` runs the hub test as ``nobody`` with it, and the hub's system mode (PAM
logins, a server per Unix account) with test students; it is not a test itself.
"""

from __future__ import annotations

import argparse
import os
import pwd
import stat
import subprocess
import sys
import tempfile
from pathlib import Path


def _ancestors(path: Path) -> list[Path]:
    """``path``'s directories from the root down, ``path`` itself last."""
    return [*reversed(path.parents), path]


def first_closed(needs: list[Path]) -> Path | None:
    """The shallowest directory on the way to a needed path that others may not enter."""
    for depth in range(max(len(p.parts) for p in needs)):
        for path in needs:
            chain = _ancestors(path)
            if depth < len(chain) - 1:  # the path's directories, not the path itself
                directory = chain[depth]
                if not os.stat(directory).st_mode & stat.S_IXOTH:
                    return directory
    return None


def _mount(*args: str) -> None:
    done = subprocess.run(["mount", *args], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"mount {' '.join(args)} failed: {done.stderr.strip()}")


def expose(needs: list[Path], staging: Path) -> list[Path]:
    """Open the way to every path in ``needs``; return the directories covered."""
    covered: list[Path] = []
    while (closed := first_closed(needs)) is not None:
        if closed in covered:
            raise SystemExit(f"{closed} is still closed after covering it")
        names = sorted({p.relative_to(closed).parts[0] for p in needs if closed in p.parents})
        stage = Path(tempfile.mkdtemp(dir=staging))
        _mount("-t", "tmpfs", "-o", "mode=0755,size=64k", "tmpfs", str(stage))
        for name in names:
            source, target = closed / name, stage / name
            if source.is_dir():
                target.mkdir()
            else:
                target.touch()
            _mount("--bind", str(source), str(target))
        _mount("--rbind", str(stage), str(closed))
        covered.append(closed)
    return covered


def add_accounts(accounts: list[str], staging: Path) -> None:
    """Bind copies of /etc/passwd, /etc/shadow and /etc/group that also hold ``accounts``
    (each ``NAME:UID:PASSWORD:HOME``) over the real files."""
    files = {name: Path("/etc", name).read_text() for name in ("passwd", "shadow", "group")}
    taken = {line.split(":")[i] for line in files["passwd"].splitlines() for i in (0, 2)}
    for account in accounts:
        name, uid, password, home = account.split(":", 3)
        if name in taken or uid in taken:
            raise SystemExit(f"{name} or uid {uid} exists on this machine already")
        if not Path(home).is_dir():
            raise SystemExit(f"make {name}'s home {home} first")
        hashed = subprocess.run(
            ["openssl", "passwd", "-6", "-stdin"], input=password, capture_output=True,
            text=True, check=True,
        ).stdout.strip()  # fmt: skip
        files["passwd"] += f"{name}:x:{uid}:{uid}:blockkit test student:{home}:/bin/sh\n"
        files["shadow"] += f"{name}:{hashed}:19000:0:99999:7:::\n"
        files["group"] += f"{name}:x:{uid}:\n"
    folder = Path(tempfile.mkdtemp(dir=staging))
    for name, text in files.items():
        copy = folder / name
        copy.write_text(text)
        copy.chmod(0o640 if name == "shadow" else 0o644)
        _mount("--bind", str(copy), f"/etc/{name}")


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--staging", type=Path, required=True, help="an empty folder of root's")
    parser.add_argument("--need", type=Path, action="append", default=[])
    parser.add_argument("--account", action="append", default=[])
    parser.add_argument("--uid", type=int, help="run COMMAND as this user (default: root)")
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if os.geteuid() != 0 or not command:
        raise SystemExit("run as root, inside unshare --mount, with a command after --")
    if args.need:
        needs = sorted({p.absolute() for p in args.need} | {p.resolve() for p in args.need})
        expose(needs, args.staging)
    if args.account:
        add_accounts(args.account, args.staging)
    if args.uid is not None:
        account = pwd.getpwuid(args.uid)
        os.setgroups([])
        os.setgid(account.pw_gid)
        os.setuid(args.uid)
        if os.getuid() == 0 or os.geteuid() == 0:
            raise SystemExit("could not drop root")
    os.execvp(command[0], command)


if __name__ == "__main__":
    main(sys.argv[1:])
