"""Whole notebooks using the magics, executed with nbclient in a real kernel against the emulator.

Each notebook in ``tests/notebooks/`` says in a cell's metadata what the person at the sign-in
page does while that cell runs (``"nbauth_e2e"``):

- ``{"approve": USERNAME}``: once the emulator holds a new pending device code, approve it as
  USERNAME through the admin API (the cell is blocked in ``%azlogin`` meanwhile);
- ``"after_output": true``: wait for the cell's first output before approving (proves that a
  later cell waits for a ``--no-wait`` sign-in rather than finding it finished);
- ``{"interrupt": true}``: once the cell has shown its prompt and the code is pending, interrupt
  the kernel through the kernel manager (what JupyterLab's stop button does).

After every run the executed notebook is written **with its widget state**
(``store_widget_state=True``) and searched, as one text, for every secret the emulator issued.
Executed copies are kept in ``test-artifacts/notebooks/`` (git-ignored) for people to look at.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tools.services import DEMO_CONTAINER, running_azurite

pytestmark = pytest.mark.slow

REPO_ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = Path(__file__).resolve().parent / "notebooks"
ARTIFACTS = REPO_ROOT / "test-artifacts" / "notebooks"
ALICE, CAROL = "alice@contoso.example", "carol@fabrikam.example"
CELL_TIMEOUT_S = 120
PERSON_TIMEOUT_S = 60  # how long the "person" waits for a code to appear
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"


@pytest.fixture(scope="module")
def storage(emulator, tmp_path_factory):
    with running_azurite(emulator, tmp_path_factory.mktemp("azurite-magics"), seeded=True) as url:
        yield url


@pytest.fixture
def kernel_env(emulator, storage, monkeypatch):
    """What the kernel inherits: the emulator's env (already in os.environ), Azurite's URL and
    the working tree on sys.path (the package need not be installed)."""
    monkeypatch.setenv(
        "PYTHONPATH", os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")]))
    )
    monkeypatch.setenv("NBAUTH_DEMO_BLOB_URL", storage)
    monkeypatch.setenv("NBAUTH_DEMO_CONTAINER", DEMO_CONTAINER)


@dataclass
class Run:
    nb: object
    saved: Path
    approved: list[str] = field(default_factory=list)
    interrupted: list[str] = field(default_factory=list)

    @property
    def code_cells(self) -> list:
        return [c for c in self.nb.cells if c.cell_type == "code"]

    def text(self, index: int) -> str:
        """What a front-end without widgets shows for code cell `index`: stream text,
        ``text/plain`` of displays and results, and error tracebacks."""
        return outputs_text(self.code_cells[index])

    def outputs(self, index: int) -> list:
        return self.code_cells[index].outputs


def outputs_text(cell) -> str:
    parts = []
    for out in cell.get("outputs", []):
        if out.output_type == "stream":
            parts.append(out.text)
        elif out.output_type in ("display_data", "execute_result"):
            parts.append(str(out.data.get("text/plain", "")))
        elif out.output_type == "error":
            parts.append(f"{out.ename}: {out.evalue}\n" + "\n".join(out.traceback))
    return "\n".join(parts)


def visible_lines(cell) -> list[str]:
    """The non-blank lines a front-end renders for `cell` (an error shows its traceback lines)."""
    lines = []
    for out in cell.get("outputs", []):
        if out.output_type == "stream":
            lines += out.text.splitlines()
        elif out.output_type in ("display_data", "execute_result"):
            lines += str(out.data.get("text/plain", "")).splitlines()
        elif out.output_type == "error":
            lines += [line for entry in out.traceback for line in entry.splitlines()]
    return [line for line in lines if line.strip()]


def errors_in(run: Run, allowed: tuple[int, ...] = ()) -> list[str]:
    found = []
    for i, cell in enumerate(run.code_cells):
        if i in allowed:
            continue
        for out in cell.outputs:
            if out.output_type == "error" or (out.output_type == "stream" and out.name == "stderr"):
                found.append(f"cell {i} ({cell.source.splitlines()[0]!r}):\n{outputs_text(cell)}")
                break
    return found


class Person:
    """Plays the person at the device-login page, through the emulator's admin API."""

    def __init__(self, admin) -> None:
        self.admin = admin
        self.seen: set[str] = set()  # codes already approved or abandoned

    async def new_pending_code(self, task: asyncio.Task, cell) -> str:
        deadline = time.monotonic() + PERSON_TIMEOUT_S
        while time.monotonic() < deadline:
            pending = await asyncio.to_thread(self.admin.pending)
            fresh = [p["user_code"] for p in pending if p["user_code"] not in self.seen]
            if fresh:
                return fresh[-1]
            if task.done():
                raise AssertionError(
                    f"The cell finished without asking for a sign-in:\n{cell.source}\n{outputs_text(cell)}"
                )
            await asyncio.sleep(0.05)
        raise AssertionError(
            f"No device code became pending within {PERSON_TIMEOUT_S} s:\n{cell.source}"
        )

    async def first_output(self, task: asyncio.Task, cell) -> None:
        deadline = time.monotonic() + PERSON_TIMEOUT_S
        while not cell.outputs:
            if task.done() or time.monotonic() > deadline:
                raise AssertionError(
                    f"The cell showed nothing while it should wait:\n{cell.source}"
                )
            await asyncio.sleep(0.02)


async def _maybe_await(value):
    return await value if inspect.isawaitable(value) else value


async def _execute(client, nb, person: Person, run: Run) -> None:
    async with client.async_setup_kernel():
        for index, cell in enumerate(nb.cells):
            if cell.cell_type != "code":
                continue
            plan = cell.metadata.get("nbauth_e2e", {})
            task = asyncio.create_task(client.async_execute_cell(cell, index))
            try:
                if plan.get("approve"):
                    code = await person.new_pending_code(task, cell)
                    if plan.get("after_output"):
                        await person.first_output(task, cell)
                    await asyncio.to_thread(person.admin.approve, plan["approve"], code)
                    person.seen.add(code)
                    run.approved.append(code)
                elif plan.get("interrupt"):
                    code = await person.new_pending_code(task, cell)
                    await person.first_output(task, cell)  # the prompt is shown: the cell waits
                    await _maybe_await(client.km.interrupt_kernel())
                    person.seen.add(code)
                    run.interrupted.append(code)
                await task
            finally:
                if not task.done():
                    task.cancel()
        client.set_widgets_metadata()


def run_notebook(name: str, admin, tmp_path: Path) -> Run:
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    client = NotebookClient(
        nb,
        timeout=CELL_TIMEOUT_S,
        kernel_name="python3",
        allow_errors=True,  # the tests read errors from the outputs, with the traceback
        store_widget_state=True,
        resources={"metadata": {"path": str(tmp_path)}},
    )
    saved = tmp_path / name
    run = Run(nb=nb, saved=saved)
    asyncio.run(_execute(client, nb, Person(admin), run))
    nbformat.write(nb, saved)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, ARTIFACTS / name)
    return run


def assert_no_secrets(run: Run, admin) -> None:
    """No token, refresh token, ID token, device code or client secret in the saved file."""
    issued = admin.issued()
    assert issued["device_codes"] and issued["access_tokens"], "the run issued nothing to look for"
    text = run.saved.read_text()
    leaked = [
        kind for kind, values in issued.items() for value in values if value and value in text
    ]
    assert leaked == [], f"{run.saved.name} holds issued secrets of kinds {sorted(set(leaked))}"


def assert_widget_state_saved(run: Run) -> dict:
    """The saved file carries widget state, so the leak check above covered it too."""
    saved = json.loads(run.saved.read_text())
    state = saved["metadata"].get("widgets", {}).get(WIDGET_STATE, {}).get("state", {})
    assert state, f"{run.saved.name}: no widget state was stored (did %azlogin show a widget?)"
    return state


@pytest.fixture
def admin(emu_admin):
    emu_admin.settings(device_code_interval_s=1)
    return emu_admin


def test_blocking_azlogin_approved_while_the_cell_waits(kernel_env, admin, tmp_path):
    run = run_notebook("magics_login_blocking.ipynb", admin, tmp_path)

    assert errors_in(run) == []
    assert len(run.approved) == 1
    login = run.text(1)
    assert ALICE in login, login
    # %azlogin returns nothing: no Out[] echo.
    assert [o for o in run.outputs(1) if o.output_type == "execute_result"] == []
    assert "blobs: ['hello.txt']" in run.text(2)
    whoami = run.text(3)
    assert ALICE in whoami and "device code" in whoami, whoami
    assert "storage.azure.com" in whoami, "expiry per resource already used is listed"
    # The sign-in ended: its user code is gone from the card's state and from the output.
    assert run.approved[0] not in run.saved.read_text()
    assert_widget_state_saved(run)
    assert_no_secrets(run, admin)


def test_no_wait_then_a_later_cell_waits_for_the_sign_in(kernel_env, admin, tmp_path):
    run = run_notebook("magics_login_no_wait.ipynb", admin, tmp_path)

    assert errors_in(run) == []
    assert len(run.approved) == 1
    assert run.outputs(1), "%azlogin --no-wait showed nothing"
    # The badge replaced the card in the first cell's output once the sign-in ended.
    assert f"Signed in as {ALICE}" in run.text(1), run.text(1)
    using = run.text(2)
    assert "sign-in still pending: True" in using, using
    assert "subscriptions: ['Contoso Data Science', 'Contoso Production']" in using, using
    last = run.text(3)
    assert f"signed in as: {ALICE}" in last
    assert "bound to credential? False" in last, "--var cred binds `cred`, not `credential`"
    assert_widget_state_saved(run)
    assert_no_secrets(run, admin)


def test_interrupt_during_blocking_azlogin_cancels_cleanly(kernel_env, admin, tmp_path):
    run = run_notebook("magics_interrupt.ipynb", admin, tmp_path)

    assert len(run.approved) == 1 and len(run.interrupted) == 1
    # What a front-end shows for the cell: one line, no traceback wall. (It may be the cell's
    # error, rendered through `_render_traceback_`, so that "Run all" stops there.)
    shown = visible_lines(run.code_cells[2])
    assert len(shown) == 1, shown
    assert shown[0].startswith("Sign-in cancelled"), shown
    assert f"{ALICE} is still signed in" in shown[0], shown
    text = run.text(2)
    assert "Traceback" not in text and "KeyboardInterrupt" not in text, text
    # The kernel still works, nothing polls any more, and Alice still gets tokens.
    assert errors_in(run, allowed=(2,)) == []
    after = run.text(3)
    assert f"current account: {ALICE}" in after, after
    assert "pending sign-in: None" in after, after
    assert "nbauth threads: []" in after, after  # no poller left behind
    assert "storage token ok: True" in after, after
    assert "blobs: ['hello.txt']" in run.text(4)
    assert_widget_state_saved(run)
    assert_no_secrets(run, admin)


def test_account_switch_and_subscription_pick(kernel_env, admin, tmp_path):
    run = run_notebook("magics_accounts.ipynb", admin, tmp_path)

    assert errors_in(run) == []
    assert len(run.approved) == 2, "alice and carol each sign in once; nothing else prompts"
    assert f"current: {CAROL}" in run.text(3)
    listing = run.text(4)
    assert ALICE in listing and CAROL in listing, listing
    assert f"current: {ALICE}" in run.text(5)
    subscriptions = run.text(6)
    assert "Contoso Production" in subscriptions and "Contoso Data Science" in subscriptions, (
        subscriptions
    )
    by_name = run.text(7)
    assert "subscription_id = c0a50002-0000-4000-8000-000000000002" in by_name, by_name
    assert "nbauth.subscription_id() = c0a50002-0000-4000-8000-000000000002" in by_name, by_name
    # Fabrikam Analytics: Alice is a guest there; her token for that tenant came silently.
    guest = run.text(8)
    assert "subscription_id = fab00004-0000-4000-8000-000000000004" in guest, guest
    assert "nbauth.subscription_id() = fab00004-0000-4000-8000-000000000004" in guest, guest
    whoami = run.text(9)
    assert ALICE in whoami and "fab00004-0000-4000-8000-000000000004" in whoami, whoami
    assert_widget_state_saved(run)
    assert_no_secrets(run, admin)


def test_test_notebooks_are_committed_without_outputs():
    import nbformat

    for path in sorted(NOTEBOOKS.glob("*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        nbformat.validate(nb)
        dirty = [
            i
            for i, c in enumerate(nb.cells)
            if c.cell_type == "code" and (c.outputs or c.execution_count)
        ]
        assert dirty == [], f"{path.name}: strip the outputs of cells {dirty}"
        assert "widgets" not in nb.metadata, f"{path.name}: strip the stored widget state"
