"""The tutorials (notebooks/0*.ipynb) run top to bottom in a real kernel against the emulator,
its Key Vault and Azurite, as `make demo` and Binder run them.

The kernel gets the environment the launcher exports (`tools.services.notebook_env`), so every
`if EMULATOR:` branch runs. A background thread plays the person at the sign-in page: it approves
each device code as the next user the test expects, and declines any code nobody expected, so an
extra sign-in fails the notebook at once instead of hanging it. A cell tagged ``restart-kernel``
restarts the kernel before it runs, as the tutorial asks a reader to. Executed copies are kept in
``test-artifacts/tutorials/`` (git-ignored) for people to look at.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from _emulator_process import AZURE_CLI_CLIENT_ID
from _service_fixtures import METHOD_VARIABLES

from tools.services import DEMO_CONTAINER, notebook_env, running_azurite

pytestmark = pytest.mark.slow
REPO_ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = REPO_ROOT / "notebooks"
ARTIFACTS = REPO_ROOT / "test-artifacts" / "tutorials"
ALICE = "alice@contoso.example"
CAROL = "carol@fabrikam.example"
RESTART_TAG = "restart-kernel"


class Approver(threading.Thread):
    """Approves pending device codes as `usernames`, in order; declines any beyond them."""

    def __init__(self, admin, *usernames: str) -> None:
        super().__init__(daemon=True, name="tutorial-approver")
        self.admin = admin
        self.expected = list(usernames)
        self.approved: list[str] = []
        self.declined = 0
        self.errors: list[str] = []
        self.stopped = threading.Event()

    def run(self) -> None:
        from nbauth.emulator import AdminCallError

        while not self.stopped.wait(0.1):
            for pending in self.admin.pending():
                try:
                    if len(self.approved) < len(self.expected):
                        username = self.expected[len(self.approved)]
                        self.admin.approve(username, user_code=pending["user_code"])
                        self.approved.append(username)
                    else:
                        self.admin.decline(user_code=pending["user_code"])
                        self.declined += 1
                except AdminCallError as exc:  # e.g. the code expired meanwhile; keep serving
                    self.errors.append(str(exc))

    def __enter__(self) -> Approver:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopped.set()
        self.join(timeout=5)


@pytest.fixture(scope="module")
def storage(emulator, tmp_path_factory):
    directory = tmp_path_factory.mktemp("azurite-tutorials")
    with running_azurite(emulator, directory, seeded=True) as url:
        yield url


@pytest.fixture
def kernel_env(emulator, storage, emu_admin, tmp_path, monkeypatch) -> dict[str, str]:
    """The launcher's environment for the kernel (it inherits this process's); nothing else
    that would change what `auto` finds."""
    for name in METHOD_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    for name in ("NBAUTH_PERSIST", "NBAUTH_PERSIST_ALLOW_UNENCRYPTED", "NBAUTH_CLOUD"):
        monkeypatch.delenv(name, raising=False)
    ready = tmp_path / "emulator.json"
    ready.write_text(json.dumps(emulator))
    env = notebook_env(emulator, ready_file=ready, cache_dir=tmp_path / "nbauth-cache")
    env.update(NBAUTH_DEMO_BLOB_URL=storage, NBAUTH_DEMO_CONTAINER=DEMO_CONTAINER)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    emu_admin.settings(device_code_interval_s=1)
    return env


def run_notebook(name: str, workdir: Path):
    """Execute the notebook cell by cell (restarting the kernel where tagged); save it.

    Returns the notebook, the saved file and the pid of each kernel process it ran in."""
    import nbformat
    from jupyter_core.utils import run_sync
    from nbclient import NotebookClient

    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    client = NotebookClient(
        nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(workdir)}}
    )
    kernel_pids = []
    with client.setup_kernel():
        kernel_pids.append(client.km.provisioner.pid)
        for index, cell in enumerate(nb.cells):
            if RESTART_TAG in cell.metadata.get("tags", []):
                run_sync(client.km.restart_kernel)(now=True)
                run_sync(client.kc.wait_for_ready)(timeout=60)
                kernel_pids.append(client.km.provisioner.pid)
            client.execute_cell(cell, index)
    saved = workdir / name
    nbformat.write(nb, saved)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, ARTIFACTS / name)
    return nb, saved, kernel_pids


def output_text(nb) -> str:
    """What a reader sees: streams and text/plain of every output (widgets included)."""
    parts = []
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            if "text" in out:
                parts.append(out["text"])
            data = out.get("data", {})
            parts.extend(str(data[k]) for k in ("text/plain", "text/html") if k in data)
    return "\n".join(parts)


def assert_no_secret_saved(admin, saved: Path) -> None:
    """No token, refresh token, device code, secret or password the emulator knows is in the
    saved notebook (vault secret values included)."""
    text = saved.read_text()
    issued = admin.issued()
    assert issued["access_tokens"], "the emulator issued no token; the leak check would be vacuous"
    leaked = sorted(
        {kind for kind, values in issued.items() for s in values if len(s or "") >= 8 and s in text}
    )
    assert leaked == [], f"{saved.name} holds secrets of kind {leaked}"


def test_every_tutorial_is_tested():
    tested = {
        "01-quickstart.ipynb",  # tests/test_notebooks.py
        "02-accounts-and-subscriptions.ipynb",
        "03-sdk-clients.ipynb",
        "04-sign-in-methods.ipynb",
        "05-clouds.ipynb",
        "06-staying-signed-in.ipynb",
        "07-dask-and-workers.ipynb",
    }
    assert {p.name for p in NOTEBOOKS.glob("*.ipynb")} == tested


def test_accounts_and_subscriptions(kernel_env, emu_admin, tmp_path):
    with Approver(emu_admin, ALICE, CAROL) as approver:
        nb, saved, _ = run_notebook("02-accounts-and-subscriptions.ipynb", tmp_path)
    assert approver.approved == [ALICE, CAROL] and approver.declined == 0
    text = output_text(nb)
    assert "Using subscription Contoso Data Science (c0a50002-" in text
    assert "Fabrikam Analytics" in text  # Alice's guest tenant, reached without a sign-in
    assert f"Now using {ALICE}." in text
    assert f"Signed out {CAROL}." in text
    assert f"Signed out {ALICE}." in text
    assert_no_secret_saved(emu_admin, saved)


def test_accounts_and_subscriptions_with_auto_approval(kernel_env, emu_admin, tmp_path):
    """Binder: nobody can reach the sign-in page, the emulator approves by itself."""
    emu_admin.settings(auto_approve=ALICE, auto_approve_delay_s=0)
    nb, _, _ = run_notebook("02-accounts-and-subscriptions.ipynb", tmp_path)
    text = output_text(nb)
    assert f"Signed out {CAROL}." in text  # the second sign-in was Carol's, not Alice's again
    assert emu_admin.settings()["auto_approve"] == ALICE  # the notebook put it back


def test_sdk_clients(kernel_env, emu_admin, tmp_path):
    # Alice twice: the sign-in, then the inline re-prompt after her refresh tokens are revoked.
    with Approver(emu_admin, ALICE, ALICE) as approver:
        nb, saved, _ = run_notebook("03-sdk-clients.ipynb", tmp_path)
    assert approver.approved == [ALICE, ALICE] and approver.declined == 0
    text = output_text(nb)
    assert "Contoso Production c0a50001-" in text  # SubscriptionClient
    assert "rg-web westeurope" in text  # ResourceManagementClient
    assert "['hello.txt']" in text  # BlobServiceClient
    assert "blobs: ['hello.txt']" in text and "tenants: ['Contoso', 'Fabrikam']" in text  # .aio
    assert "notebook-greeting text/plain" in text  # SecretClient
    assert "nbauth got a new Key Vault token with the refresh token" in text
    assert "Read notebook-greeting once more." in text  # after the inline re-prompt
    devicecode = [r for r in emu_admin.requests() if r.get("endpoint") == "devicecode"]
    assert len(devicecode) == 2
    vault = [r["status"] for r in emu_admin.requests() if r.get("server") == "keyvault"]
    assert vault[0] == 401 and vault.count(200) == 3  # one challenge, then three reads
    assert emu_admin.settings()["access_token_lifetime_s"] == 3600  # the notebook put it back
    assert_no_secret_saved(emu_admin, saved)


def test_sign_in_methods(kernel_env, emu_admin, tmp_path):
    # Alice twice: `auto`'s device code, then the one Conditional Access refuses.
    with Approver(emu_admin, ALICE, ALICE) as approver:
        nb, saved, _ = run_notebook("04-sign-in-methods.ipynb", tmp_path)
    assert approver.approved == [ALICE, ALICE] and approver.declined == 0
    text = output_text(nb)
    assert f"auto sign-in: signed in as {ALICE} (device code sign-in)" in text
    assert "(this kernel's account)" in text  # the second auto run
    assert "(environment service principal)" in text
    assert "Contoso Production" in text  # the auth file's subscription
    assert "managed identity (system)" in text
    # Device code blocked: the card went on in the browser, the pasted address finished it; the
    # next device-code sign-in went to the browser at once; a wrong paste was refused.
    assert "does not allow signing in with a device code" in text
    assert "BrowserPrompt: This organization refused device code sign-in earlier" in text
    assert "Refused: That address is the answer to another sign-in" in text
    assert text.count(f"Signed in as {ALICE}") >= 2
    devicecode = [r for r in emu_admin.requests() if r.get("endpoint") == "devicecode"]
    redeemed = [r for r in emu_admin.requests() if r.get("grant_type") == "authorization_code"]
    assert len(devicecode) == 2 and [r["status"] for r in redeemed] == [200, 200]
    assert emu_admin.settings()["block_device_code"] is False  # the notebook put it back
    assert f"Now using {ALICE}." in text
    assert_no_secret_saved(emu_admin, saved)


def test_clouds(kernel_env, emu_admin, tmp_path):
    with Approver(emu_admin, ALICE) as approver:
        nb, saved, _ = run_notebook("05-clouds.ipynb", tmp_path)
    assert approver.approved == [ALICE] and approver.declined == 0
    text = output_text(nb)
    assert "nbauth-emulator" in text
    assert f"Resource Manager: {kernel_env['NBAUTH_ARM_ENDPOINT']}" in text
    assert "https://vault.azure.net/.default" in text
    assert "['Contoso Production', 'Contoso Data Science']" in text
    assert "(this kernel's account)" in text  # the cloud file: same cloud, no new sign-in
    assert_no_secret_saved(emu_admin, saved)


def test_staying_signed_in_across_a_restart(kernel_env, emu_admin, tmp_path):
    with Approver(emu_admin, ALICE) as approver:
        nb, saved, kernel_pids = run_notebook("06-staying-signed-in.ipynb", tmp_path)
    assert len(set(kernel_pids)) == 2  # the restart made a new kernel process
    assert approver.approved == [ALICE] and approver.declined == 0  # one sign-in, two kernels
    devicecode = [r for r in emu_admin.requests() if r.get("endpoint") == "devicecode"]
    assert len(devicecode) == 1
    text = output_text(nb)
    assert "can't pickle" not in text and "cannot be pickled" in text
    cache = Path(kernel_env["NBAUTH_CACHE_DIR"])
    assert ALICE not in (cache / "accounts.json").read_text()  # %azlogout forgot her
    assert_no_secret_saved(emu_admin, saved)


def test_dask_and_workers(kernel_env, emu_admin, tmp_path):
    with Approver(emu_admin, ALICE) as approver:
        nb, saved, _ = run_notebook("07-dask-and-workers.ipynb", tmp_path)
    assert approver.approved == [ALICE] and approver.declined == 0  # one sign-in for everything
    text = output_text(nb)
    assert "2 workers" in text
    assert "AsyncWorkerCredential grant=" in text
    assert "scopes=['https://storage.azure.com/.default'] via the Dask" in text
    assert "holds the token: False" in text  # the pickle is a handle
    # The workers wrote the dataset to Azurite and read it back.
    assert "4 parts, 1000 trips" in text
    assert "{'zone-0': 1000.0, 'zone-1': 1250.0, 'zone-2': 1000.0, 'zone-3': 1250.0}" in text
    # hello.txt and the four parts, listed in a pool process and by DefaultAzureCredential in a
    # child process through the export.
    assert "5 blobs, listed in a pool process" in text
    assert "5 blobs, from a child process with DefaultAzureCredential" in text
    assert "exported to processes started from this kernel" in text  # %azwhoami
    assert "Dask scheduler tcp://127.0.0.1:" in text
    assert "processes on this machine, through the relay at 127.0.0.1:" in text
    refused = [line for line in text.splitlines() if line.startswith("tcp://127.0.0.1:")]
    assert len(refused) == 2 and all("AuthenticationError" in line for line in refused)
    assert all("The notebook signed out" in line for line in refused)
    assert (tmp_path / "list_blobs.py").exists()  # written next to the notebook
    # Nobody but the kernel asked the emulator for a token: the workers, the pool and the child
    # process got theirs from it.
    tokens = [r for r in emu_admin.requests() if r.get("endpoint") == "token"]
    assert tokens and {r["client_id"] for r in tokens} == {AZURE_CLI_CLIENT_ID}
    assert_no_secret_saved(emu_admin, saved)


BINDER_CHECK = """
import json, os
import nbauth
from azure.storage.blob import BlobServiceClient

from nbauth.emulator import EmulatorAdmin

EmulatorAdmin(os.environ["NBAUTH_EMULATOR_ADMIN_URL"]).settings(auto_approve_delay_s=0)  # no wait
nbauth.login(prompt=lambda prompt: None)  # the emulator approves it by itself on Binder
container = BlobServiceClient(os.environ["NBAUTH_DEMO_BLOB_URL"], credential=nbauth.credential())
blobs = container.get_container_client(os.environ["NBAUTH_DEMO_CONTAINER"]).list_blobs()
print(json.dumps({
    "env": {k: v for k, v in os.environ.items() if k.startswith(("AZURE_", "NBAUTH_", "REQ"))},
    "user": nbauth.current_account().username,
    "blobs": [blob.name for blob in blobs],
}))
"""


def test_binder_start_brings_up_the_services(tmp_path):
    """binder/start as Binder runs it: services up, their environment in the server's process,
    a sign-in (auto-approved) and a blob listing work; the services stop on SIGTERM."""
    workdir = tmp_path / "services"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AZURE_", "NBAUTH_"))}
    env.update(
        NBAUTH_SERVICES_DIR=str(workdir),
        PATH=f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}",
        REQUESTS_CA_BUNDLE=os.environ.get("REQUESTS_CA_BUNDLE", ""),  # replaced by env.sh
    )
    try:
        result = subprocess.run(
            [str(REPO_ROOT / "binder" / "start"), "python", "-c", BINDER_CHECK],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            cwd=tmp_path,
        )
        assert result.returncode == 0, result.stderr[-2000:]
        seen = json.loads(result.stdout.strip().splitlines()[-1])
    finally:
        pid_file = workdir / "services.pid"
        if pid_file.exists():
            pid = int(pid_file.read_text())
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pid = None
            deadline = time.monotonic() + 20
            while pid is not None and time.monotonic() < deadline:
                try:
                    os.kill(pid, 0)
                except ProcessLookupError:
                    break
                time.sleep(0.1)
            else:
                if pid is not None:
                    os.kill(pid, signal.SIGKILL)
                    raise AssertionError("the services did not stop on SIGTERM")
    assert seen["env"]["AZURE_AUTHORITY_HOST"].startswith("https://127.0.0.1:")
    assert seen["env"]["NBAUTH_EMULATOR_ADMIN_URL"].startswith("http://127.0.0.1:")
    assert seen["env"]["REQUESTS_CA_BUNDLE"].startswith(str(workdir))
    assert seen["user"] == ALICE
    assert seen["blobs"] == ["hello.txt"]
