"""A real student's path: JupyterLab in headless Chromium runs lesson 01 and the widget responds.

The test starts its own JupyterLab on 127.0.0.1 (a random free port, a random token, settings and
runtime files in a temporary folder), opens a copy of ``course/01-hashing.ipynb`` in Debian's
Chromium driven by Playwright (``executable_path``: Playwright never downloads a browser here),
runs all cells from the menu, moves the avalanche widget's slider with the keyboard, reads the
new verdict from the page and compares it with ``blockkit`` computing the same flip. A screenshot
is saved to ``test-artifacts/lesson-01-avalanche.png``.

Without Chromium the test is skipped with the command that installs it, except under ``.ci/run``,
which installs Chromium and sets ``BLOCKKIT_REQUIRE_BROWSER=1`` so that a missing browser fails.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import nbformat
import pytest

from blockkit.widgets.hashing import avalanche

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "test-artifacts"
LESSON = ROOT / "course" / "01-hashing.ipynb"
EXERCISE = ROOT / "exercises" / "01-hashing.ipynb"
EXERCISE_COPY = "exercise-01-hashing.ipynb"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

pytestmark = pytest.mark.browser


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    if not Path(CHROMIUM).exists():
        message = "Debian's chromium is not installed: apt-get install chromium (.ci/run does this)"
        if os.environ.get("BLOCKKIT_REQUIRE_BROWSER"):
            pytest.fail(message)
        pytest.skip(message)
    home = tmp_path_factory.mktemp("lab")
    notebooks = home / "notebooks"
    notebooks.mkdir()
    shutil.copy(LESSON, notebooks)
    shutil.copy(EXERCISE, notebooks / "exercise-01-hashing.ipynb")
    # JupyterLab 4 renders only the cells in view; render them all so every prompt can be read.
    tracker = home / "settings" / "@jupyterlab" / "notebook-extension"
    tracker.mkdir(parents=True)
    (tracker / "tracker.jupyterlab-settings").write_text('{"windowingMode": "none"}')
    news = home / "settings" / "@jupyterlab" / "apputils-extension"
    news.mkdir(parents=True)
    (news / "notification.jupyterlab-settings").write_text('{"fetchNews": "false"}')
    port, token = _free_port(), secrets.token_hex(16)
    env = {
        **os.environ,
        "JUPYTER_CONFIG_DIR": str(home / "config"),
        "JUPYTER_RUNTIME_DIR": str(home / "runtime"),
        "IPYTHONDIR": str(home / "ipython"),
    }
    command = [
        sys.executable, "-m", "jupyter", "lab", "--no-browser",
        "--ip=127.0.0.1", f"--port={port}", f"--IdentityProvider.token={token}",
        f"--ServerApp.root_dir={notebooks}",
        f"--LabApp.user_settings_dir={home / 'settings'}",
        f"--LabApp.workspaces_dir={home / 'workspaces'}",
    ]  # fmt: skip
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        command.append("--allow-root")  # CI containers run as root
    log = (home / "jupyter.log").open("w")
    server = subprocess.Popen(
        command, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if server.poll() is not None:
                pytest.fail(f"jupyter lab exited: {(home / 'jupyter.log').read_text()[-2000:]}")
            try:
                with urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=2):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    pytest.fail("jupyter lab did not answer on 127.0.0.1 within 60 s")
                time.sleep(0.3)
        yield base, token, home
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()
        log.close()


def _wait_for_connected_kernel(base: str, token: str, notebook: str) -> None:
    """Until ``notebook``'s kernel is idle and the page holds a connection to it."""
    deadline, state = time.monotonic() + 60, None
    while time.monotonic() < deadline:
        with urllib.request.urlopen(f"{base}/api/sessions?token={token}", timeout=5) as reply:
            sessions = [x for x in json.load(reply) if x["path"] == notebook]
        if sessions:
            kernel = sessions[0]["kernel"]["id"]
            url = f"{base}/api/kernels/{kernel}?token={token}"
            with urllib.request.urlopen(url, timeout=5) as reply:
                state = json.load(reply)
            if state["execution_state"] == "idle" and state["connections"] > 0:
                return
        time.sleep(0.3)
    pytest.fail(f"no connected idle kernel for {notebook} after 60 s: {state}")


def _menu(page, menu: str, item: str) -> None:
    page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(rf"^{menu}$")).click()
    page.locator(".lm-Menu-itemLabel", has_text=re.compile(rf"^{item}$")).click()


def run_all_cells(page):
    """Edit > Clear Outputs of All Cells, then Run > Run All Cells; returns the notebook's code
    cells (a locator). Clearing first means that every prompt number and output the caller
    then waits for was made by this run's kernel, not stored in the notebook."""
    from playwright.sync_api import expect

    code_cells = page.locator(".jp-NotebookPanel .jp-CodeCell")
    first_prompt = code_cells.first.locator(".jp-InputPrompt")
    _menu(page, "Edit", "Clear Outputs of All Cells")
    prompts = page.locator(".jp-NotebookPanel .jp-CodeCell .jp-InputPrompt")
    expect(prompts.filter(has_text=re.compile(r"\d"))).to_have_count(0)
    expect(page.locator(".jp-NotebookPanel .jp-OutputArea-output")).to_have_count(0)
    for attempt in range(3):
        _menu(page, "Run", "Run All Cells")
        try:
            # A click that lands while the kernel connection is still settling runs nothing;
            # the first prompt shows whether execution started.
            expect(first_prompt).not_to_have_text("[ ]:", timeout=15_000)
            break
        except AssertionError:
            print(f"Run All Cells started nothing (attempt {attempt + 1}); again")
    return code_cells


def _summary(page) -> str:
    return page.locator(".blockkit-avalanche-summary").inner_text()


@pytest.fixture
def browser_page(lab, request):
    """A fresh headless Chromium page; on failure, a screenshot and the server log are kept."""
    from playwright.sync_api import expect, sync_playwright

    _, _, home = lab
    expect.set_options(timeout=60_000)  # a loaded CI machine is slow; waits end as soon as met
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(home / f"chromium-{request.node.name}"),
            executable_path=CHROMIUM,
            headless=True,
            args=CHROMIUM_FLAGS,
            viewport={"width": 1400, "height": 1000},
        )
        page = context.pages[0] if context.pages else context.new_page()
        page.set_default_timeout(60_000)
        failed = True
        try:
            yield page
            failed = False
        finally:
            if failed:  # evidence for CI: what the page looked like and what the server said
                page.screenshot(path=str(ARTIFACTS / f"{request.node.name}-failure.png"))
                print((home / "jupyter.log").read_text()[-4000:])
            context.close()


def _open(page, base: str, token: str, name: str) -> None:
    from playwright.sync_api import expect

    # A workspace per notebook: JupyterLab would otherwise reopen the previous test's tabs.
    workspace = re.sub(r"[^a-z0-9]", "-", name.lower())
    page.goto(f"{base}/lab/workspaces/{workspace}/tree/{name}?token={token}")
    page.locator(".jp-NotebookPanel .jp-Cell").first.wait_for()
    expect(page.locator(".jp-Notebook-ExecutionIndicator[data-status='idle']")).to_have_count(1)
    _wait_for_connected_kernel(base, token, name)


def test_lesson_01_runs_in_chromium_and_the_avalanche_widget_responds(lab, browser_page):
    from playwright.sync_api import expect

    base, token, _ = lab
    page = browser_page
    _open(page, base, token, LESSON.name)

    code_cells = run_all_cells(page)
    count = code_cells.count()
    expected_cells = sum(c.cell_type == "code" for c in nbformat.read(LESSON, 4).cells)
    assert count == expected_cells, f"the page shows {count} of {expected_cells} code cells"
    last_prompt = code_cells.nth(count - 1).locator(".jp-InputPrompt")
    expect(last_prompt).to_have_text(re.compile(r"\[\d+\]:"), timeout=120_000)
    prompts = [c.locator(".jp-InputPrompt").inner_text() for c in code_cells.all()]
    assert all(re.fullmatch(r"\[\d+\]:", p.strip()) for p in prompts), prompts
    stderr = "application/vnd.jupyter.stderr"
    errors = page.locator(f".jp-OutputArea-output[data-mime-type='{stderr}']")
    assert errors.count() == 0, errors.all_inner_texts()

    summary = page.locator(".blockkit-avalanche-summary")
    expect(summary).to_have_count(1)
    before = _summary(page)
    assert before == avalanche("blockkit", 7).summary(), before

    handle = page.locator(".widget-slider .noUi-handle").first
    handle.focus()
    handle.press("ArrowRight")
    expected = avalanche("blockkit", 8).summary()
    expect(summary).to_have_text(expected)
    assert expected != before

    summary.scroll_into_view_if_needed()
    shot = ARTIFACTS / "lesson-01-avalanche.png"
    page.screenshot(path=str(shot), full_page=False)
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def _run_cell(page, cell, source: str | None = None) -> None:
    """Optionally replace a code cell's text, then run it and wait for its prompt number."""
    from playwright.sync_api import expect

    editor = cell.locator(".cm-content")
    editor.click()
    if source is not None:
        page.keyboard.press("Control+a")
        page.keyboard.insert_text(source)  # inserted as is: no auto-indent or bracket closing
    page.keyboard.press("Control+Enter")
    expect(cell.locator(".jp-InputPrompt")).to_have_text(re.compile(r"\[\d+\]:"))


def test_a_student_sees_a_check_fail_helpfully_then_pass(lab, browser_page):
    """Exercise 01.1 in the generated notebook: a wrong answer, its verdict, then a right one."""
    from playwright.sync_api import expect

    base, token, _ = lab
    page = browser_page
    _open(page, base, token, EXERCISE_COPY)
    panel = page.locator(".jp-NotebookPanel:visible")
    setup = panel.locator(".jp-CodeCell").first
    answer = panel.locator(".jp-CodeCell", has_text="def sha256_hex")
    check = panel.locator(".jp-CodeCell", has_text='check("01.1", sha256_hex)')
    _run_cell(page, setup)

    _run_cell(page, answer)  # the untouched stub
    _run_cell(page, check)
    expect(check.locator(".jp-OutputArea")).to_contain_text("not answered yet")

    wrong = "def sha256_hex(text):\n    return hashlib.sha256(text.encode()).hexdigest()[:32]\n"
    _run_cell(page, answer, wrong)
    _run_cell(page, check)
    verdict = check.locator(".jp-OutputArea")
    expect(verdict).to_contain_text("✘ 01.1 sha256_hex: 4 of 4 checks failed · 0/1 points")
    expect(verdict).to_contain_text("expected:")
    expect(verdict).to_contain_text("hint:")
    assert "Traceback" not in verdict.inner_text()  # one short red line, not a traceback

    right = "def sha256_hex(text):\n    return hashlib.sha256(text.encode('utf-8')).hexdigest()\n"
    _run_cell(page, answer, right)
    _run_cell(page, check)
    expect(verdict).to_have_text(
        re.compile(r"✔ 01\.1 sha256_hex: passed all 4 checks · 1/1 points")
    )
    page.screenshot(path=str(ARTIFACTS / "exercise-01-check.png"))
