"""Committed notebooks run top to bottom in a real kernel against the emulator and Azurite.

A background thread plays the person at the sign-in page: it approves each device code the
kernel asks for, through the emulator's admin API, while the cell blocks.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest

from tools.services import running_azurite

pytestmark = pytest.mark.slow
NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"


class Approver(threading.Thread):
    """Approves every pending device code as `username` until stopped."""

    def __init__(self, admin, username: str) -> None:
        super().__init__(daemon=True)
        self.admin, self.username = admin, username
        self.stopped = threading.Event()
        self.approved: list[str] = []

    def run(self) -> None:
        while not self.stopped.wait(0.1):
            for pending in self.admin.pending():
                self.approved.append(self.admin.approve(self.username, user_code=pending["user_code"])["user_code"])

    def stop(self) -> None:
        self.stopped.set()
        self.join(timeout=5)


@pytest.fixture(scope="module")
def storage(emulator, tmp_path_factory):
    with running_azurite(emulator, tmp_path_factory.mktemp("azurite-nb"), seeded=True) as url:
        yield url


def run_notebook(path: Path, tmp_path: Path):
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    NotebookClient(nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    saved = tmp_path / path.name
    nbformat.write(nb, saved)
    return nb, saved


def outputs_text(nb) -> str:
    return "\n".join(json.dumps(cell.get("outputs", [])) for cell in nb.cells if cell.cell_type == "code")


def test_quickstart_runs_top_to_bottom(emulator, emu_admin, storage, tmp_path, monkeypatch):
    monkeypatch.setenv("NBAUTH_DEMO_BLOB_URL", storage)
    monkeypatch.setenv("NBAUTH_DEMO_CONTAINER", "demo")
    emu_admin.settings(device_code_interval_s=1)
    approver = Approver(emu_admin, "alice@contoso.example")
    approver.start()
    try:
        nb, saved = run_notebook(NOTEBOOKS / "01-quickstart.ipynb", tmp_path)
    finally:
        approver.stop()
    text = outputs_text(nb)
    assert len(approver.approved) == 1  # one sign-in for the whole notebook
    assert "alice@contoso.example" in text  # the badge (its text/plain) names who signed in
    assert "hello.txt" in text
    saved_text = saved.read_text()
    leaked = [s for values in emu_admin.issued().values() for s in values if s and s in saved_text]
    assert leaked == []


def test_committed_notebooks_hold_no_outputs():
    """Committed tutorials diff cleanly and can hold no stale secret: outputs are stripped."""
    import nbformat

    for path in sorted(NOTEBOOKS.glob("*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        dirty = [i for i, c in enumerate(nb.cells) if c.cell_type == "code" and (c.outputs or c.execution_count)]
        assert dirty == [], f"{path.name}: strip the outputs of cells {dirty}"
