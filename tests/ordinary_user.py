"""Run a command as an ordinary user, started by root, seeing only what it needs of root's files.

    unshare --mount --propagation private -- \\
        python tests/ordinary_user.py --uid 65534 --need PATH ... -- COMMAND ...

CI runs as root, and the project's interpreter may live where an ordinary user cannot go
(pyenv's Python under /root, mode 700). Inside a private mount namespace (``unshare --mount``:
its mounts are seen by this process tree only and vanish with it), every directory on the way to
a ``--need`` path that others may not enter is covered by a small tmpfs holding bind mounts of
just the entries on those paths. The user reaches the interpreter and the project and nothing
else of /root (no keys, no history). Then the process drops to ``--uid`` with its primary group,
no supplementary groups and no capabilities, and executes COMMAND.

``tests/test_hub.py`` uses it to run the hub test as ``nobody``; it is not a test itself.
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


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--uid", type=int, required=True)
    parser.add_argument("--need", type=Path, action="append", default=[])
    parser.add_argument("--staging", type=Path, required=True, help="an empty folder of root's")
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if os.geteuid() != 0 or not command:
        raise SystemExit("run as root, inside unshare --mount, with a command after --")
    needs = sorted({p.absolute() for p in args.need} | {Path(p).resolve() for p in args.need})
    expose(needs, args.staging)
    account = pwd.getpwuid(args.uid)
    os.setgroups([])
    os.setgid(account.pw_gid)
    os.setuid(args.uid)
    if os.getuid() == 0 or os.geteuid() == 0:
        raise SystemExit("could not drop root")
    os.execvp(command[0], command)


if __name__ == "__main__":
    main(sys.argv[1:])
