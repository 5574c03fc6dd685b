"""blockkit benchmarks: each figure is a ratio against a raw baseline measured in the same run.

    python bench/run.py              # prints one line per figure:  NAME VALUE GOAL
    python bench/run.py --quick      # smaller inputs, for a smoke test
    python bench/run.py --only hub_  # only the figures whose name starts with hub_ (any prefix)

Ratios, not seconds, so the figures mean the same on a laptop and on CI: how much of the raw
speed of the underlying primitive (pycryptodome's verify, hashlib's sha256) blockkit keeps.
Each measurement is the best of several repeats, which discounts noise from other processes.

The hub_ figures are the exception: absolute seconds and MiB of a single-user JupyterLab server
and of the kernels that run the lessons, measured to size a student's memory and CPU on
JupyterHub (Zero to JupyterHub's singleuser.memory and singleuser.cpu guarantees and limits).
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import operator
import os
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run from a checkout, installed or not


def best_time(action: Callable[[], object], repeats: int) -> float:
    """The fastest of ``repeats`` runs of ``action``, in seconds."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        action()
        times.append(time.perf_counter() - start)
    return min(times)


# --- validate_ratio ---------------------------------------------------------------------------


def validate_ratio(transactions: int, senders: int, repeats: int) -> float:
    """Full block validation (header, body, signatures, state) ÷ bare signature verification.

    The baseline verifies the same signatures over the same messages with pycryptodome's DSS
    directly, keys already imported: the least work any validator of these transactions must do.
    """
    from Crypto.Hash import SHA256
    from Crypto.PublicKey import ECC
    from Crypto.Signature import DSS

    from blockkit.chain import Chain
    from blockkit.keys import PrivateKey
    from blockkit.params import CLASSROOM
    from blockkit.transactions import sign_transaction

    keys = [PrivateKey.from_seed(f"bench-{i}".encode()) for i in range(senders)]
    miner = PrivateKey.from_seed(b"bench-miner").address
    allocations = {key.address: 10**12 for key in keys}
    per_sender = transactions // senders
    txs = [
        sign_transaction(key, miner, 1, nonce=n, chain_id=CLASSROOM.chain_id, fee=1)
        for n in range(per_sender)
        for key in keys
    ]
    proposer = Chain(CLASSROOM, allocations=allocations)
    block = proposer.mine_block(txs, proposer=miner, timestamp=10)

    def validate() -> None:
        chain = Chain(CLASSROOM, allocations=allocations)
        chain.add_block(block)
        assert chain.height == 1

    verifiers = {
        key.address: DSS.new(ECC.import_key(key.public_key.data, curve_name="P-256"), "fips-186-3")
        for key in keys
    }
    work = [(verifiers[tx.sender], SHA256.new(tx.signing_message), tx.signature) for tx in txs]

    def raw_verify() -> None:
        for verifier, digest, signature in work:
            verifier.verify(digest, signature)

    validate()  # warm caches (public key decoding) the way a running node has them warm
    blockkit_rate = len(txs) / best_time(validate, repeats)
    raw_rate = len(txs) / best_time(raw_verify, repeats)
    return blockkit_rate / raw_rate


# --- merkle_ratio -----------------------------------------------------------------------------


def merkle_ratio(leaves: int, repeats: int) -> float:
    """Time of ``merkle_root`` ÷ time of a bare hashlib loop computing the same root."""
    from blockkit.merkle import merkle_root

    data = [i.to_bytes(8, "big") * 4 for i in range(leaves)]

    def bare() -> bytes:
        sha = hashlib.sha256
        level = [sha(b"\x00" + leaf).digest() for leaf in data]
        while len(level) > 1:
            nxt = [
                sha(b"\x01" + level[i] + level[i + 1]).digest() for i in range(0, len(level) - 1, 2)
            ]
            if len(level) % 2:
                nxt.append(level[-1])
            level = nxt
        return sha(b"\x02" + len(data).to_bytes(8, "big") + level[0]).digest()

    if bare() != merkle_root(data):
        raise AssertionError("the baseline and blockkit disagree on the root")
    return best_time(lambda: merkle_root(data), repeats) / best_time(bare, repeats)


# --- pow_ratio --------------------------------------------------------------------------------


def pow_ratio(attempts: int, repeats: int) -> float:
    """Mining hashes/s ÷ a bare hashlib loop hashing the same header bytes with each nonce."""
    from blockkit.blocks import HEADER_TAG, Header
    from blockkit.consensus.pow import mine
    from blockkit.keys import Address

    header = Header(
        parent=b"\x11" * 32,
        height=1,
        timestamp=10,
        transactions_root=b"\x22" * 32,
        state_root=b"\x33" * 32,
        target=1,  # unreachable: every attempt is a miss, so exactly ``attempts`` hashes run
        proposer=Address(b"\x44" * 20),
    )
    encoded = header.encoded
    prefix = len(HEADER_TAG).to_bytes(1, "big") + HEADER_TAG
    if hashlib.sha256(prefix + encoded).digest() != header.hash:
        # the baseline must hash exactly what blockkit hashes; if the header hash changes form,
        # this benchmark has to change with it
        raise AssertionError("baseline bytes differ from the header hash input")
    body = prefix + encoded[:-8]

    def bare() -> None:
        sha = hashlib.sha256
        for nonce in range(attempts):
            if int.from_bytes(sha(body + nonce.to_bytes(8, "big")).digest(), "big") <= 1:
                break

    def blockkit_mine() -> None:
        assert mine(header, max_attempts=attempts) is None

    return best_time(bare, repeats) / best_time(blockkit_mine, repeats)


# --- import_s ---------------------------------------------------------------------------------


def import_seconds(repeats: int) -> float:
    """Seconds ``import blockkit`` adds to a fresh interpreter (median, minus a bare start)."""

    def run(code: str) -> float:
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], check=True)
        return time.perf_counter() - start

    bare = statistics.median(run("pass") for _ in range(repeats))
    loaded = statistics.median(run("import blockkit") for _ in range(repeats))
    return max(0.0, loaded - bare)


# --- sim_pow_s, sim_pbft_s, events per second ------------------------------------------------


@functools.cache
def simulate(protocol: str, nodes: int, blocks: int) -> tuple[float, float]:
    """Seconds to simulate ``nodes`` nodes of ``protocol`` until every honest node holds ``blocks``
    blocks, and the simulator's events per second over that run.

    Every node runs a real ``Chain``: each block is validated by every node (proof of work
    checked, seals and votes signed and verified). Messages are counted but not logged, as in a
    long experiment.
    """
    from blockkit.network import Network

    network = Network(protocol, nodes=nodes, seed=1, record_messages=False)
    start = time.perf_counter()
    network.run(blocks=blocks)
    seconds = time.perf_counter() - start
    return seconds, network.sim.events_processed / seconds


def sim_pow_overhead(nodes: int, blocks: int, repeats: int) -> float:
    """The proof-of-work simulation's time ÷ the least work it stands for.

    The baseline, in the same run: every node adds every block of the final main chain to a fresh
    ``Chain`` (the validation no simulation can skip), and a bare ``heapq`` pushes and pops as
    many events as the simulation processed. Above 1 is what gossip, duplicates, orphans, forks
    and bookkeeping cost on top.
    """
    import heapq

    from blockkit.chain import Chain
    from blockkit.network import Network

    seconds = simulate("pow", nodes, blocks)[0]
    network = Network("pow", nodes=nodes, seed=1, record_messages=False).run(blocks=blocks)
    reference = network.reference_node().chain
    main = list(reference.main_chain())[1:]
    events = network.sim.events_processed

    def bare() -> None:
        for _ in range(nodes):
            chain = Chain(reference.params, consensus=network.consensus)
            for block in main:
                chain.add_block(block)
        queue: list[tuple[float, int]] = []
        for i in range(events):
            heapq.heappush(queue, (float(i % 97), i))
        while queue:
            heapq.heappop(queue)

    return seconds / best_time(bare, repeats)


# --- vm_steps_per_s, vm_slowdown, token_transfer_gas, token_transfer_ratio --------------------

_LOOP = """
class Loop:
    def run(self, n: int) -> int:
        total = 0
        i = 0
        while i < n:
            total = total + i * i % 7
            i += 1
        return total
"""


def _plain_loop(n: int) -> int:
    total = 0
    i = 0
    while i < n:
        total = total + i * i % 7
        i += 1
    return total


@functools.cache
def vm_loop(n: int, repeats: int) -> tuple[float, float]:
    """Interpreter steps per second on an arithmetic loop, and its time ÷ the same loop as plain
    Python in the same run (the cost of metering every step and never trusting the code).

    Every step costs exactly 1 gas in this loop (no storage, no allocation), so gas used counts
    steps."""
    from blockkit.contracts import LocalHost

    host = LocalHost()
    sender = host.account("bench", 0)
    contract, _ = host.deploy(_LOOP, sender=sender)
    result = host.transact(sender, contract, "run", n, gas_limit=10**9)
    assert result.ok and result.return_value == _plain_loop(n)
    vm = best_time(lambda: host.transact(sender, contract, "run", n, gas_limit=10**9), repeats)
    plain = best_time(lambda: _plain_loop(n), repeats)
    return result.gas_used / vm, vm / plain


def _plain_transfer(balances: dict[bytes, int], events: list, sender: bytes, to: bytes,
                    amount: int) -> None:  # fmt: skip
    """The standard token's transfer in plain Python: the same checks, the same effects."""
    if amount <= 0:
        raise ValueError("amount must be positive")
    have = balances.get(sender, 0)
    if have < amount:
        raise ValueError("not enough tokens")
    balances[sender] = have - amount
    balances[to] = balances.get(to, 0) + amount
    events.append(("Transfer", sender, to, amount))


@functools.cache
def token_transfer(transfers: int, repeats: int) -> tuple[int, float]:
    """Gas of one transfer of ``blockkit.contracts.standard.TOKEN``, and the time of a transfer
    through the VM and ``LocalHost`` ÷ the same transfer as a plain Python function on a dict."""
    from blockkit.contracts import LocalHost
    from blockkit.contracts.standard import TOKEN

    host = LocalHost()
    alice, bob = host.account("alice", 0), host.account("bob", 0)
    token, _ = host.deploy(TOKEN, "Bench", "B", 10**9, sender=alice)
    gas = host.transact(alice, token, "transfer", bob, 1).gas_used

    def vm() -> None:
        for _ in range(transfers):
            host.transact(alice, token, "transfer", bob, 1)

    balances: dict[bytes, int] = {alice: 10**9}
    events: list = []

    def plain() -> None:
        for _ in range(transfers):
            _plain_transfer(balances, events, alice, bob, 1)

    return gas, best_time(vm, repeats) / best_time(plain, repeats)


# --- permissioned_ratio -----------------------------------------------------------------------


def permissioned_ratio(transactions: int, members: int, repeats: int) -> float:
    """Validating a block of payments on a permissioned chain ÷ the same payments on a plain one.

    Both chains hold the same funded senders and a first block (enrolments on the permissioned
    chain, one payment each on the plain one); the timed step is ``add_block`` of a second block
    with the same ``transactions`` signed payments from ``members`` members of two organisations.
    The difference is admission: every sender's certificate is found, checked against its CA's
    key, the revocation lists and its role. The certificate-signature cache is cleared before
    each run, so each member's certificate is verified at least once, as by a new node.
    """
    from blockkit.chain import Chain
    from blockkit.params import CLASSROOM
    from blockkit.sharing import identity
    from blockkit.sharing.permissioned import MembershipRules, enrol_transaction
    from blockkit.transactions import sign_transaction

    chain_id = CLASSROOM.chain_id
    cas = [identity.CertificateAuthority.from_seed(org, "bench") for org in ("tax", "bank")]
    people = [cas[i % 2].enrol(f"m{i}", seed=f"m{i}") for i in range(members)]
    allocations = {p.address: 10**12 for p in people}
    enrolments = [
        enrol_transaction(p.signing_key, p.certificate, nonce=0, chain_id=chain_id) for p in people
    ]
    own = [
        sign_transaction(p.signing_key, p.address, 1, nonce=0, chain_id=chain_id, fee=1)
        for p in people
    ]
    payments = [
        sign_transaction(p.signing_key, bytes(20), 1, nonce=n, chain_id=chain_id, fee=1)
        for n in range(1, transactions // members + 1)
        for p in people
    ]

    def timed(rules: MembershipRules | None, first: list) -> float:
        def new_chain() -> Chain:
            return Chain(CLASSROOM, allocations=allocations, admission=rules)

        proposer = new_chain()
        first_block = proposer.mine_block(first, proposer=bytes(20), timestamp=10)
        proposer.add_block(first_block)
        block = proposer.mine_block(payments, proposer=bytes(20), timestamp=20)
        best = float("inf")
        for _ in range(repeats):
            chain = new_chain()
            chain.add_block(first_block)
            identity._signed_by.cache_clear()
            start = time.perf_counter()
            chain.add_block(block)
            best = min(best, time.perf_counter() - start)
            assert chain.height == 2
        return best

    return timed(MembershipRules(cas), enrolments) / timed(None, own)


# --- grade_ratio, grade_per_min ---------------------------------------------------------------


@functools.cache
def grade_times(size: int, workers: int = 2) -> tuple[float, float]:
    """Seconds for ``blockkit grade`` on a class of ``size``, and for bare nbval on the same files.

    The class mixes right, partly right and untouched answers to lesson 03 (from
    ``tests/grade_samples.py``). The baseline is what grading costs without any of blockkit's
    safety: ``pytest --nbval-lax -n 2 --dist loadfile`` straight on the submitted files.
    """
    sys.path.insert(0, str(ROOT / "tests"))
    import grade_samples

    with tempfile.TemporaryDirectory(prefix="blockkit-bench-") as tmp:
        folder = Path(tmp)
        (folder / "subs").mkdir()
        (folder / "pytest.ini").write_text("[pytest]\n")
        for student, data in grade_samples.class_of(size):
            (folder / "subs" / f"{student}.ipynb").write_bytes(data)
        start = time.perf_counter()
        subprocess.run(
            [
                *(sys.executable, "-m", "pytest", "subs", "--nbval-lax", "--nbval-current-env"),
                *("-n", str(workers), "--dist", "loadfile", "-q", "-p", "no:cacheprovider"),
                *("-c", "pytest.ini", "--rootdir", "."),
            ],
            cwd=folder,
            capture_output=True,
            check=False,  # the untouched stubs fail, as they should
        )
        bare = time.perf_counter() - start
        start = time.perf_counter()
        subprocess.run(
            [
                *(sys.executable, "-m", "blockkit.cli", "grade", "subs", "--assignment", "03"),
                *("--out", "out", "--workers", str(workers), "--root", str(ROOT)),
            ],
            cwd=folder,
            capture_output=True,
            check=True,
        )
        graded = time.perf_counter() - start
    return graded, bare


# --- hub_server_start_s, hub_server_mib, hub_kernel_mib_NN, hub_kernel_mib_max, ...  ----------


def _rss_mib(pid: int) -> float:
    """Resident memory of process ``pid`` and all its descendants, in MiB."""
    import psutil

    process = psutil.Process(pid)
    total = 0
    for each in [process, *process.children(recursive=True)]:
        try:
            total += each.memory_info().rss
        except psutil.NoSuchProcess:
            pass  # a child that ended between the listing and the reading
    return total / 2**20


def _isolated_env(home: Path) -> dict[str, str]:
    """This process's environment with Jupyter's and IPython's per-user folders in ``home``, so
    no settings, extensions, kernels or startup files of whoever runs the benchmark leak in.
    (The environment's own ``<prefix>/etc/jupyter`` stays: a hub image has it too.)"""
    env = {k: v for k, v in os.environ.items() if k not in ("JUPYTER_PATH", "JUPYTER_CONFIG_PATH")}
    for variable, folder in [
        ("JUPYTER_CONFIG_DIR", "config"),
        ("JUPYTER_DATA_DIR", "data"),
        ("JUPYTER_RUNTIME_DIR", "data/runtime"),
        ("IPYTHONDIR", "ipython"),
    ]:
        env[variable] = str(home / folder)
    return env


def _stop(process: subprocess.Popen) -> None:
    """Terminate ``process`` (and its process group), kill it if it has not ended in 20 s."""
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    except ProcessLookupError:
        process.wait()  # already ended


def _serve_lab_once(home: Path) -> tuple[float, float]:
    """Seconds from starting ``jupyter lab`` until ``/api/status`` and the ``/lab`` page both
    answer 200, and the server's resident MiB right after serving that page."""
    import psutil

    (home / "notebooks").mkdir()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    token = secrets.token_hex(16)
    command = [
        *(sys.executable, "-m", "jupyter", "lab", "--no-browser", "--ServerApp.ip=127.0.0.1"),
        *(f"--ServerApp.port={port}", f"--IdentityProvider.token={token}"),
        f"--ServerApp.root_dir={home / 'notebooks'}",
    ]
    if os.geteuid() == 0:
        command.append("--allow-root")
    base = f"http://127.0.0.1:{port}"
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # ignore http_proxy
    log_path = home / "jupyter.log"

    def fail(why: str) -> AssertionError:
        return AssertionError(f"{why}; its log ends:\n{log_path.read_text()[-2000:]}")

    with log_path.open("wb") as log:
        start = time.perf_counter()
        server = subprocess.Popen(
            command,
            env=_isolated_env(home),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            deadline = start + 60
            while True:
                if server.poll() is not None:
                    raise fail(f"jupyter lab exited with {server.returncode}")
                try:
                    with opener.open(f"{base}/api/status?token={token}", timeout=2) as reply:
                        if reply.status == 200:
                            break
                except OSError:
                    pass  # not listening yet
                if time.perf_counter() > deadline:
                    raise fail("jupyter lab did not answer /api/status within 60 s")
                time.sleep(0.05)
            with opener.open(f"{base}/lab?token={token}", timeout=30) as reply:
                page = reply.read()
                if reply.status != 200 or b"jupyter-config-data" not in page:
                    raise fail(f"/lab answered {reply.status} without JupyterLab's page")
            seconds = time.perf_counter() - start
            # the server process alone: at start jupyter-lsp briefly runs `npm prefix -g` (node,
            # ~20 MiB, gone within a second), which would count or not depending on timing
            mib = psutil.Process(server.pid).memory_info().rss / 2**20
        finally:
            _stop(server)
    return seconds, mib


@functools.cache
def hub_server(repeats: int) -> tuple[float, float]:
    """The fastest start of a single-user JupyterLab server over ``repeats`` starts (until it
    serves ``/api/status`` and ``/lab``), and the largest resident MiB it had after serving
    ``/lab``. Each start has fresh, empty per-user Jupyter folders, as a new student's pod."""
    runs = []
    for _ in range(repeats):
        with tempfile.TemporaryDirectory(prefix="blockkit-bench-hub-") as tmp:
            runs.append(_serve_lab_once(Path(tmp)))
    return min(seconds for seconds, _ in runs), max(mib for _, mib in runs)


@functools.cache
def lesson_kernel_mib(lesson: Path) -> float:
    """Resident MiB of a fresh ipykernel (and any children) right after it ran every cell of
    ``lesson``, in the lesson's folder, as a student's kernel after working through it."""
    import nbclient
    import nbformat
    import psutil

    nb = nbformat.read(lesson, as_version=4)
    client = nbclient.NotebookClient(
        nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(lesson.parent)}}
    )
    client.reset_execution_trackers()
    with (
        tempfile.TemporaryDirectory(prefix="blockkit-bench-kernel-") as tmp,
        (Path(tmp) / "kernel.log").open("w+") as log,  # its warnings, kept off the figures
    ):
        try:
            # setup_kernel shuts the kernel down on leaving, whatever happened
            with client.setup_kernel(env=_isolated_env(Path(tmp)), stdout=log, stderr=log):
                kernel = psutil.Process(client.km.provisioner.process.pid)
                python = kernel.cmdline()[0]
                if python != sys.executable:
                    raise AssertionError(f"the kernel runs {python}, not {sys.executable}")
                for index, cell in enumerate(nb.cells):
                    client.execute_cell(cell, index, execution_count=client.code_cells_executed + 1)
                return _rss_mib(kernel.pid)
        except Exception as error:
            log.seek(0)
            error.add_note(f"{lesson.name}'s kernel log ends:\n{log.read()[-2000:]}")
            raise


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small inputs: a smoke test")
    parser.add_argument(
        "--only", default="", metavar="PREFIX", help="run only the figures named PREFIX..."
    )
    args = parser.parse_args()
    quick = args.quick
    pow_size = (20, 100) if quick else (100, 1_000)
    pbft_size = (4, 20) if quick else (16, 100)
    loop_n, transfers, repeats = (2_000, 50, 2) if quick else (50_000, 500, 5)
    perm_size = (200, 20) if quick else (1_000, 50)
    hub_repeats = 1 if quick else 3
    lessons = sorted((ROOT / "course").glob("*.ipynb"))
    if quick:
        lessons = [lesson for lesson in lessons if lesson.name[:2] in ("00", "01")]

    def kernel_mib_max() -> float:
        return max(lesson_kernel_mib(lesson) for lesson in lessons)

    figures = [
        (
            "validate_ratio",
            lambda: validate_ratio(200 if quick else 1_000, 50, 2 if quick else 5),
            ">=0.85",
        ),
        (
            "merkle_ratio",
            lambda: merkle_ratio(5_000 if quick else 100_000, 2 if quick else 5),
            "<=1.3",
        ),
        ("pow_ratio", lambda: pow_ratio(20_000 if quick else 200_000, 2 if quick else 5), ">=0.7"),
        ("import_s", lambda: import_seconds(3 if quick else 9), "<0.3"),
        ("sim_pow_s", lambda: simulate("pow", *pow_size)[0], "<10"),
        ("sim_pow_events_per_s", lambda: simulate("pow", *pow_size)[1], ">=0"),
        ("sim_pow_overhead", lambda: sim_pow_overhead(*pow_size, 1 if quick else 3), "<=3"),
        ("sim_pbft_s", lambda: simulate("pbft", *pbft_size)[0], "<5"),
        ("sim_pbft_events_per_s", lambda: simulate("pbft", *pbft_size)[1], ">=0"),
        ("vm_steps_per_s", lambda: vm_loop(loop_n, repeats)[0], ">=0"),
        ("vm_slowdown", lambda: vm_loop(loop_n, repeats)[1], "<=300"),
        ("token_transfer_gas", lambda: token_transfer(transfers, repeats)[0], ">=0"),
        ("token_transfer_ratio", lambda: token_transfer(transfers, repeats)[1], "<=1000"),
        (
            "permissioned_ratio",
            lambda: permissioned_ratio(*perm_size, repeats),
            "<=1.3",
        ),
        (
            "grade_ratio",
            lambda: operator.truediv(*grade_times(8 if quick else 200)),
            "<=1.3",
        ),
        (
            "grade_per_min",
            lambda: (8 if quick else 200) * 60 / grade_times(8 if quick else 200)[0],
            ">=100",
        ),
        ("hub_server_start_s", lambda: hub_server(hub_repeats)[0], "<10"),
        ("hub_server_mib", lambda: hub_server(hub_repeats)[1], ">=0"),
        *(
            (
                f"hub_kernel_mib_{lesson.name[:2]}",
                functools.partial(lesson_kernel_mib, lesson),
                ">=0",
            )
            for lesson in lessons
        ),
        ("hub_kernel_mib_max", kernel_mib_max, ">=0"),
        (
            "hub_students_per_gib",
            lambda: 1024 / (hub_server(hub_repeats)[1] + 2 * kernel_mib_max()),
            ">=2",
        ),
    ]
    figures = [figure for figure in figures if figure[0].startswith(args.only)]
    for name, measure, goal in figures:
        print(f"{name} {measure():.3f} {goal}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
