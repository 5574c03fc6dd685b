"""The project's promises about itself: README set-up commands, CI entry point, lint, examples."""

from __future__ import annotations

import contextlib
import io
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from blockkit.errors import InvalidCertificate

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


def _blocks(language):
    return re.findall(rf"```{language}\n(.*?)```", README, flags=re.S)


def test_readme_has_exactly_two_set_up_commands_and_ci_runs_the_test_one():
    commands = [block.strip() for block in _blocks("bash")]
    assert len(commands) == 2, commands
    course, tests = commands
    assert course.endswith("jupyter lab --LabApp.default_url=/lab/tree/course/00-welcome.ipynb")
    assert tests.endswith("python -m pytest")
    ci = (ROOT / ".ci" / "run").read_text()
    assert tests in ci.splitlines()
    assert (ROOT / ".ci" / "run").stat().st_mode & 0o111, ".ci/run must be executable"


def test_readme_examples_run_and_say_what_they_print():
    chain_example, network_example, contract_example, sharing_example = _blocks("python")
    namespace: dict = {}
    exec(compile(chain_example, "README.md", "exec"), namespace)
    chain, bob = namespace["chain"], namespace["bob"]
    claimed = re.search(r"chain\.balance\(bob\.address\)\s+# .*= (\d+)", chain_example)
    assert claimed and chain.balance(bob.address) == int(claimed.group(1))
    namespace = {}
    exec(compile(network_example, "README.md", "exec"), namespace)
    net = namespace["net"]
    assert "view change" in network_example and "agrees" in network_example
    assert net.summary()["agree"] and all(node.view > 0 for node in net.honest_nodes)
    namespace = {}
    exec(compile(contract_example, "README.md", "exec"), namespace)
    chain, send, token, bob = (namespace[n] for n in ("chain", "send", "token", "bob"))
    receipt = chain.receipt(send.hash)
    assert receipt.ok and 0 < receipt.gas_used < send.fee and len(receipt.events) == 1
    claimed = re.search(r"balance_of.*: (\d+)", contract_example)
    assert claimed and chain.call_view(token, "balance_of", [bob.address]) == int(claimed.group(1))
    namespace = {}
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        exec(compile(sharing_example, "README.md", "exec"), namespace)
    chain, loans, ann, eve, digest = (
        namespace[n] for n in ("chain", "loans", "ann", "eve", "digest")
    )
    assert printed.getvalue() == "not-a-member\n" and chain.height == 1
    assert loans.read("loan-7", ann, height=2) == b"250,000 EUR to Muster GmbH"
    assert loans.verify("loan-7", digest) == ("bank", "tax")
    with pytest.raises(InvalidCertificate, match="not trusted"):
        loans.read("loan-7", eve, height=2)


@pytest.mark.parametrize("command", [["check"], ["format", "--check"]], ids=["lint", "format"])
def test_code_and_notebooks_are_ruff_clean(command):
    """Library, tests, benchmarks and every notebook code cell: students copy what they read."""
    ruff = shutil.which("ruff", path=str(Path(sys.executable).parent)) or shutil.which("ruff")
    if ruff is None:
        pytest.fail("ruff is not installed: install the test extra, pip install -e '.[test]'")
    result = subprocess.run([ruff, *command, "."], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_benchmarks_print_their_figures_in_the_agreed_format():
    """Format and sanity only: speed is judged by reading the ratios, never by a timed assert."""
    result = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "run.py"), "--quick"],
        capture_output=True,
        text=True,
        check=True,
    )
    lines = [line.split() for line in result.stdout.splitlines()]
    assert [line[0] for line in lines] == [
        "validate_ratio",
        "merkle_ratio",
        "pow_ratio",
        "import_s",
        "sim_pow_s",
        "sim_pow_events_per_s",
        "sim_pow_overhead",
        "sim_pbft_s",
        "sim_pbft_events_per_s",
        "vm_steps_per_s",
        "vm_slowdown",
        "token_transfer_gas",
        "token_transfer_ratio",
        "permissioned_ratio",
        "grade_ratio",
        "grade_per_min",
        "hub_server_start_s",
        "hub_server_mib",
        "hub_kernel_mib_00",
        "hub_kernel_mib_01",
        "hub_kernel_mib_max",
        "hub_students_per_gib",
    ]
    for name, value, goal in lines:
        assert float(value) >= 0, name
        assert re.fullmatch(r"(>=|<=|<|>)\d+(\.\d+)?", goal), goal
