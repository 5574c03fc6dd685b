"""The ``blockkit`` command line: version, help, info, chain summaries and friendly errors."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import blockkit
from blockkit.cli import build_parser, command, main
from blockkit.keys import PrivateKey
from blockkit.storage import open_chain


def test_version_flag_prints_the_package_version(capsys):
    with pytest.raises(SystemExit) as done:
        main(["--version"])
    assert done.value.code == 0
    assert capsys.readouterr().out.strip() == f"blockkit {blockkit.__version__}"


def test_help_lists_every_registered_command(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    assert "usage: blockkit" in out
    for name in ("info", "chain"):
        assert name in out


def test_no_command_prints_help_and_fails(capsys):
    assert main([]) == 2
    assert "usage: blockkit" in capsys.readouterr().out


def test_info_names_versions_suites_and_presets(capsys):
    assert main(["info"]) == 0
    out = capsys.readouterr().out
    assert blockkit.__version__ in out
    for word in ("p256", "ed25519", "secp256k1", "classroom", "realistic"):
        assert word in out


def test_chain_summarises_a_store(tmp_path, capsys):
    path = tmp_path / "chain.db"
    chain = open_chain(path)
    miner = PrivateKey.from_seed(b"cli").address
    for t in (10, 20, 30):
        chain.add_block(chain.mine_block(proposer=miner, timestamp=t))
    head = chain.head_hash.hex()
    chain.store.close()
    assert main(["chain", str(path), "--blocks", "2"]) == 0
    out = capsys.readouterr().out
    assert head in out and "height=3" in out and "3 blocks" in out
    assert "\n      2 " in out and "\n      1 " not in out  # only the last two rows


def test_chain_errors_are_one_line_without_traceback(tmp_path, capsys):
    assert main(["chain", str(tmp_path / "missing.db")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("blockkit chain: no chain store at") and "Traceback" not in err
    garbage = tmp_path / "garbage.db"
    garbage.write_bytes(b"\x00not sqlite" * 100)
    assert main(["chain", str(garbage)]) == 2
    assert "not a blockkit chain store" in capsys.readouterr().err


def test_registering_a_name_twice_is_refused():
    with pytest.raises(ValueError, match="registered twice"):
        command("info", "again")(lambda args: 0)
    assert "info" in build_parser().format_help()


@pytest.mark.parametrize(
    "argv",
    [
        pytest.param(["blockkit"], id="console-script"),
        pytest.param([sys.executable, "-m", "blockkit"], id="python-m"),
    ],
)
def test_installed_entry_points_print_the_version(argv):
    if argv[0] == "blockkit":
        script = shutil.which("blockkit", path=str(Path(sys.executable).parent))
        if script is None:
            pytest.fail("the 'blockkit' console script is not installed next to this Python")
        argv = [script]
    out = subprocess.run([*argv, "--version"], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == f"blockkit {blockkit.__version__}"
