"""A real JupyterLab, started by the tests, driven by Debian's Chromium through Playwright.

- ``azurite``: Azurite over HTTPS trusting the emulator's tokens, seeded with ``demo/hello.txt``.
- ``jupyterlab``: ``python -m jupyter lab`` on 127.0.0.1 with a random token, its own config,
  runtime, settings and workspace folders under tmp, and the emulator's environment (so kernels
  it starts sign in against the emulator and reach Azurite). Stopped through ``/api/shutdown``,
  which also shuts its kernels down.
- ``browser`` / ``lab_page``: Chromium from ``/usr/bin/chromium`` (Playwright's own browser
  download does not work on these machines; ``make install-test`` installs the Debian package).

Screenshots go to ``test-artifacts/browser/`` (git-ignored); a failing test also leaves
``failure-<test>.png`` there.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from tools.services import DEMO_CONTAINER, free_port, running_azurite

REPO_ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO_ROOT / "test-artifacts" / "browser"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
    "--disable-quic",
]
# JupyterLab start-up takes ~5-10 s here; a first kernel start a few more.
LAB_START_TIMEOUT_S = 90
UI_TIMEOUT_MS = 60_000

# Settings a person would click once; here they keep the run quiet and offline and make
# JupyterLab store widget state in the saved notebook (so the leak check covers it).
LAB_USER_SETTINGS = {
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {
        "fetchNews": "false",
        "checkForUpdates": False,
    },
    "@jupyter-widgets/jupyterlab-manager/plugin.jupyterlab-settings": {"saveState": True},
}


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"rep_{report.when}", report)


@pytest.fixture(scope="module")
def azurite(emulator, tmp_path_factory):
    """Azurite's blob endpoint (``https://127.0.0.1:<port>/devstoreaccount1``) with demo/hello.txt."""
    with running_azurite(emulator, tmp_path_factory.mktemp("azurite-browser"), seeded=True) as url:
        yield url


class JupyterLab:
    """A running JupyterLab (or Notebook 7: ``app="notebook"``) server: its URL, token and the
    folder it serves."""

    def __init__(
        self,
        url: str,
        token: str,
        root: Path,
        proc: subprocess.Popen,
        log: Path,
        app: str = "lab",
    ):
        self.url, self.token, self.root, self.proc, self.log = url, token, root, proc, log
        self.app = app

    def notebook_url(self, name: str) -> str:
        if self.app == "notebook":
            return f"{self.url}/notebooks/{name}?token={self.token}"
        # `reset`: a fresh workspace, so no notebook of an earlier test is reopened.
        return f"{self.url}/lab/tree/{name}?reset&token={self.token}"

    def kernel_idle(self, name: str) -> bool:
        """Whether the notebook `name` has a kernel that is idle (the server's view)."""
        sessions = self.api("GET", "/api/sessions").json()
        return any(
            s.get("path", "").endswith(name) and s.get("kernel", {}).get("execution_state") == "idle"
            for s in sessions
        )

    def api(self, method: str, path: str, **kwargs) -> requests.Response:
        headers = {"Authorization": f"token {self.token}"}
        return requests.request(method, f"{self.url}{path}", headers=headers, timeout=30, **kwargs)

    def log_tail(self, chars: int = 4000) -> str:
        return self.log.read_text(errors="replace")[-chars:] if self.log.exists() else ""


def _write_lab_settings(settings_dir: Path) -> None:
    for relative, values in LAB_USER_SETTINGS.items():
        path = settings_dir / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(values))


def _wait_until_serving(lab: JupyterLab) -> None:
    deadline = time.monotonic() + LAB_START_TIMEOUT_S
    while time.monotonic() < deadline:
        if lab.proc.poll() is not None:
            raise RuntimeError(f"JupyterLab exited with {lab.proc.returncode}:\n{lab.log_tail()}")
        try:
            if lab.api("GET", "/api/status").status_code == 200:
                return
        except requests.ConnectionError:
            pass
        time.sleep(0.2)
    raise RuntimeError(
        f"JupyterLab did not answer within {LAB_START_TIMEOUT_S} s:\n{lab.log_tail()}"
    )


def _stop(lab: JupyterLab) -> None:
    if lab.proc.poll() is None:
        try:
            lab.api("POST", "/api/shutdown")  # also shuts down the kernels it started
        except requests.RequestException:
            pass
        try:
            lab.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(lab.proc.pid, signal.SIGTERM)
            try:
                lab.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(lab.proc.pid, signal.SIGKILL)
                lab.proc.wait()


def _serve(app: str, emulator, azurite, tmp_path_factory, extra_env=None):
    """JupyterLab (``lab``) or Notebook 7 (``notebook``) serving an empty tmp folder, with the
    emulator's and Azurite's environment (and `extra_env` for its kernels)."""
    base = tmp_path_factory.mktemp(f"jupyter-{app}")
    root, config, runtime, data = (base / n for n in ("root", "config", "runtime", "data"))
    for folder in (root, config, runtime, data):
        folder.mkdir()
    _write_lab_settings(config / "lab" / "user-settings")
    token = secrets.token_hex(16)
    port = free_port()
    env = {
        **os.environ,  # already holds the emulator's env (see the `emulator` fixture)
        **emulator["env"],
        "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")])),
        "JUPYTER_CONFIG_DIR": str(config),
        "JUPYTER_RUNTIME_DIR": str(runtime),
        "JUPYTERLAB_SETTINGS_DIR": str(config / "lab" / "user-settings"),
        "JUPYTERLAB_WORKSPACES_DIR": str(config / "lab" / "workspaces"),
        "IPYTHONDIR": str(base / "ipython"),
        "NBAUTH_DEMO_BLOB_URL": azurite,
        "NBAUTH_DEMO_CONTAINER": DEMO_CONTAINER,
        **(extra_env or {}),
    }
    # Kernels find their kernelspec in sys.prefix; don't let a per-user data dir add others.
    env["JUPYTER_DATA_DIR"] = str(data)
    log = base / f"{app}.log"
    command = [
        sys.executable,
        "-m",
        "jupyter",
        app,
        "--no-browser",
        "--allow-root",  # CI containers run as root
        "--ip=127.0.0.1",
        f"--port={port}",
        "--ServerApp.port_retries=0",
        f"--IdentityProvider.token={token}",
        f"--ServerApp.root_dir={root}",
    ]
    if app == "lab":
        # Offline and quiet: no PyPI extension manager, no news, no update check.
        command += [
            "--LabApp.extension_manager=readonly",
            "--LabApp.news_url=None",
            "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
        ]
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            command, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=root, start_new_session=True
        )
    server = JupyterLab(f"http://127.0.0.1:{port}", token, root, proc, log, app)
    try:
        _wait_until_serving(server)
        yield server
    finally:
        _stop(server)


@pytest.fixture(scope="module")
def jupyterlab(emulator, azurite, tmp_path_factory):
    """JupyterLab serving an empty tmp folder, with the emulator's and Azurite's environment."""
    yield from _serve("lab", emulator, azurite, tmp_path_factory)


@pytest.fixture(scope="module", params=["lab", "notebook"])
def remote_server(request, emulator, azurite, tmp_path_factory):
    """JupyterLab, then Notebook 7, whose kernels believe they run on a remote machine."""
    remote = {"NBAUTH_KERNEL_LOCATION": "remote"}
    yield from _serve(request.param, emulator, azurite, tmp_path_factory, remote)


@pytest.fixture
def remote_notebook(browser, remote_server, request, artifacts):
    """(browser context, the paste-back notebook open in it, "lab" or "notebook")."""
    # The emulator's sign-in pages are HTTPS under a local test CA that Chromium does not know.
    context = browser.new_context(viewport={"width": 1280, "height": 900}, ignore_https_errors=True)
    context.set_default_timeout(UI_TIMEOUT_MS)
    source = REPO_ROOT / "tests" / "notebooks" / "browser_paste_back.ipynb"
    try:
        yield context, NotebookPage.open(context, remote_server, source), remote_server.app
    finally:
        failed = getattr(request.node, "rep_call", None)
        if failed is not None and failed.failed:
            for i, page in enumerate(context.pages):
                try:
                    page.screenshot(
                        path=str(artifacts / f"failure-paste-{remote_server.app}-{i}.png")
                    )
                except Exception:  # noqa: BLE001 - best effort; the test already failed
                    pass
        context.close()


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.fail(
            f"{CHROMIUM} is missing: run `make install-test` (installs Debian's chromium). "
            "Do not run `playwright install`; its download does not work here."
        )
    from playwright.sync_api import sync_playwright

    playwright = sync_playwright().start()
    try:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()
    finally:
        playwright.stop()


@pytest.fixture
def artifacts() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


@pytest.fixture
def lab_context(browser, jupyterlab, request, artifacts):
    """A fresh browser profile with clipboard access granted to JupyterLab's origin."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=jupyterlab.url)
    context.set_default_timeout(UI_TIMEOUT_MS)
    yield context
    failed = getattr(request.node, "rep_call", None)
    if failed is not None and failed.failed:
        for i, page in enumerate(context.pages):
            name = re.sub(r"[^A-Za-z0-9_.-]", "_", request.node.name)
            try:
                page.screenshot(path=str(artifacts / f"failure-{name}-{i}.png"))
            except Exception:  # noqa: BLE001 - best effort; the test already failed
                pass
    context.close()


class NotebookPage:
    """A notebook open in JupyterLab, operated the way a person does (click, Shift+Enter)."""

    def __init__(self, page, lab: JupyterLab, name: str) -> None:
        self.page, self.lab, self.name = page, lab, name

    @classmethod
    def open(cls, context, lab: JupyterLab, source: Path) -> NotebookPage:
        shutil.copy(source, lab.root / source.name)
        page = context.new_page()
        page.goto(lab.notebook_url(source.name))
        notebook = cls(page, lab, source.name)
        notebook.cells.first.wait_for()
        notebook.wait_for_kernel_idle()
        return notebook

    @property
    def cells(self):
        return self.page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook .jp-CodeCell")

    def cell(self, index: int):
        return self.cells.nth(index)

    def outputs(self, index: int):
        return self.cell(index).locator(".jp-OutputArea-output")

    def wait_for_kernel_idle(self) -> None:
        if self.lab.app == "notebook":
            # Notebook 7 has no status bar: the server says when the kernel is idle, then the
            # page's kernel indicator (top right) says the page is connected to it.
            deadline = time.monotonic() + UI_TIMEOUT_MS / 1000
            while not self.lab.kernel_idle(self.name):
                if time.monotonic() > deadline:
                    raise AssertionError(f"no idle kernel for {self.name}")
                self.page.wait_for_timeout(200)
            self.page.locator(".jp-NotebookKernelStatus, .jp-Notebook-ExecutionIndicator").first.wait_for()
            self.page.wait_for_timeout(500)
            return
        # The status bar reads "No Kernel | Initializing", "... | Connecting", then "... | Idle";
        # the toolbar's execution indicator already says idle before the kernel is connected.
        self.page.wait_for_function(
            "() => /\\(ipykernel\\) \\| Idle/.test("
            "document.querySelector('#jp-main-statusbar')?.textContent || '')",
            timeout=UI_TIMEOUT_MS,
        )

    def run_cell(self, index: int) -> None:
        """Select the cell's editor and press Ctrl+Enter (runs it in place: no new cell at the end)."""
        self.cell(index).locator(".jp-InputArea-editor").click()
        self.page.keyboard.press("Control+Enter")

    def wait_for_cell_done(self, index: int) -> None:
        """The prompt shows ``[n]:`` (not ``[*]:``) once the cell finished."""
        prompt = self.cell(index).locator(".jp-InputArea-prompt")
        self.page.wait_for_function(
            "el => /\\[\\d+\\]/.test(el.textContent)",
            arg=prompt.element_handle(),
            timeout=UI_TIMEOUT_MS,
        )

    def save(self) -> Path:
        """Save with Ctrl+S (as a person does) and wait until the file on disk is rewritten."""
        path = self.lab.root / self.name
        before = path.stat().st_mtime_ns
        self.cell(0).locator(".jp-InputArea-prompt").click()  # command mode, no editor focus
        self.page.keyboard.press("Control+s")
        deadline = time.monotonic() + UI_TIMEOUT_MS / 1000
        while path.stat().st_mtime_ns == before:
            if time.monotonic() > deadline:
                raise AssertionError(f"JupyterLab did not save {self.name}")
            self.page.wait_for_timeout(100)
        if self.lab.app == "lab":
            self.page.locator(".lm-TabBar-tab.jp-mod-current:not(.jp-mod-dirty)").wait_for()
        return path


@pytest.fixture
def open_notebook(lab_context, jupyterlab):
    def open_(source: Path) -> NotebookPage:
        return NotebookPage.open(lab_context, jupyterlab, source)

    return open_
