"""Worker credentials on Dask (issue 13): tokens travel through Dask itself, never in the pickle.

Two real clusters on loopback: a ``distributed.LocalCluster`` with worker processes, and a
scheduler and workers started with the ``dask scheduler`` / ``dask worker`` command lines in
processes of their own, with a clean environment (none of nbauth's or Azure's variables). The
emulator shortens token lifetimes so that a job spans several refresh cycles; its logs show who
asked for tokens. The canary audit then searches the pickles, the task graph, the scheduler's and
workers' logs and the workers' memory for every secret the emulator issued.
"""

from __future__ import annotations

import os
import pickle
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import _worker_tasks as tasks
import cloudpickle
import distributed
import pytest
from _core_fixtures import (  # noqa: F401 - the *_fixture names register fixtures
    ALICE,
    ARM_SCOPE,
    STORAGE_SCOPE,
    admin_fixture,
    assert_no_secret_in,
    issued_secrets,
    jwt_claims,
    sign_in,
    token_requests,
)
from _emulator_process import AZURE_CLI_CLIENT_ID, REPO_ROOT
from _grant_fixtures import (  # noqa: F401 - kernel_fixture registers a fixture
    kernel_fixture,
    local_cluster,
    wait_for_next_push,
)

import nbauth

pytestmark = pytest.mark.slow

SCOPES = [STORAGE_SCOPE, ARM_SCOPE]
AUDIENCES = {"https://storage.azure.com", "https://management.azure.com/"}


@pytest.fixture(name="local_cluster", scope="module")
def local_cluster_fixture(emulator):
    with local_cluster(threads_per_worker=2) as running:
        yield running


def kernel_digest(session, scope: str) -> str:
    return tasks.digest(session.credential().get_token(scope).token)


def on_each_worker(client, fn, *args, workers=None):
    """Run `fn` as a task on each worker (a task, not client.run: the worker's event loop must
    stay free to receive the refreshed tokens meanwhile)."""
    workers = workers or sorted(client.scheduler_info()["workers"])
    futures = [client.submit(fn, *args, workers=[w], pure=False) for w in workers]
    return dict(zip(workers, client.gather(futures), strict=True))


def forbidden_and_allowed(admin) -> tuple[list[str], list[str]]:
    """The emulator's secrets split in two: access tokens for the granted scopes (which workers
    may hold), and everything else (which nothing outside the kernel may hold)."""
    allowed = [
        t for t in admin.issued()["access_tokens"] if str(jwt_claims(t).get("aud")) in AUDIENCES
    ]
    forbidden = [s for s in issued_secrets(admin) if s not in allowed and len(s) >= 8]
    return forbidden, allowed


def audit_memory(client, secrets: list[str]) -> dict[str, list[int]]:
    masked = [tasks.mask(s) for s in secrets]
    return client.run(tasks.secrets_in_memory, masked)


def test_local_cluster_refreshes_late_joiners_logout_and_the_canary_audit(
    local_cluster, kernel, admin, tmp_path
):
    cluster, client = local_cluster
    admin.settings(access_token_lifetime_s=4)  # refreshed every 2 s
    sign_in(kernel, admin, ALICE)
    cred = nbauth.worker_credential(*SCOPES)  # the notebook's current Dask client
    assert cred._source == ("dask", cluster.scheduler_address)
    assert "Dask cluster" in repr(cred)
    admin.clear_requests()

    # A job that spans several refresh cycles on both workers.
    watched = on_each_worker(client, tasks.watch_tokens, cred, SCOPES, 6.5)
    summary = wait_for_next_push(kernel)
    requests_made = token_requests(admin)
    assert len(watched) == 2 and len({w["pid"] for w in watched.values()}) == 2
    for w in watched.values():
        assert w["expired"] == w["told_late"] == 0 and w["calls"] > 50
        for scope in SCOPES:
            assert len(w["seen"][scope]) >= 3  # at least 2 refreshes reached this worker
    # One request per scope per cycle, all from the kernel's client id, none from a worker.
    assert summary.refreshes >= 3 and len(requests_made) == 2 * summary.refreshes
    assert {(r["grant_type"], r["client_id"]) for r in requests_made} == {
        ("refresh_token", AZURE_CLI_CLIENT_ID)
    }
    assert "Dask scheduler" in str(nbauth.whoami())

    # A worker that joins later gets the current tokens from the scheduler.
    before = set(client.scheduler_info()["workers"])
    cluster.scale(3)
    client.wait_for_workers(3, timeout=60)
    (late,) = set(client.scheduler_info()["workers"]) - before
    # Asked right after a push; on a loaded machine the next (2 s later) may still land while
    # the task runs: then the worker holds either the token before it or the one after.
    wait_for_next_push(kernel)
    token_before = kernel_digest(kernel, STORAGE_SCOPE)
    got = on_each_worker(client, tasks.token_digest, cred, STORAGE_SCOPE, workers=[late])
    assert got[late][0] in {token_before, kernel_digest(kernel, STORAGE_SCOPE)}

    # The canary audit: nothing but the granted access tokens outside the kernel.
    forbidden, allowed = forbidden_and_allowed(admin)
    import dask

    delayed = dask.delayed(tasks.token_digest)(cred, STORAGE_SCOPE)
    graph = cloudpickle.dumps(dict(delayed.__dask_graph__()))
    pickled = [pickle.dumps(cred), cloudpickle.dumps(cred), graph]
    logs = [
        line
        for source in (client.get_scheduler_logs(), *client.get_worker_logs().values())
        for _, line in source
    ]
    assert_no_secret_in([b.decode("latin-1") for b in pickled] + logs, forbidden + allowed)
    assert audit_memory(client, forbidden) == {w: [] for w in client.scheduler_info()["workers"]}
    # The scan is not blind: it finds the current tokens the workers hold.
    # (A refresh may land between reading the kernel's tokens and the scan: read them again.)
    deadline = time.monotonic() + 10
    while True:
        current = [kernel.credential().get_token(scope).token for scope in SCOPES]
        if all(found == [0, 1] for found in audit_memory(client, current).values()):
            break
        assert time.monotonic() < deadline, "the workers' memory scan found no current token"
        time.sleep(0.2)

    # Signing out ends the grant on every worker within 2 s.
    ready = tmp_path / "ready"
    futures = [
        client.submit(tasks.until_refused, cred, STORAGE_SCOPE, 20, str(ready), workers=[w])
        for w in client.scheduler_info()["workers"]
    ]
    while not ready.exists():
        time.sleep(0.02)
    time.sleep(0.2)  # let every worker's loop start
    logged_out_at = time.time()
    nbauth.logout()
    for when, name, text in client.gather(futures):
        assert when is not None and when - logged_out_at < 2.0
        assert name == "AuthenticationError" and "signed out" in text
    cluster.scale(2)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class CommandLineCluster:
    """``dask scheduler`` and ``dask worker`` in processes of their own (each its own process
    group, ended by pid), with a clean environment and their logs in files."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.port = free_port()
        self.address = f"tcp://127.0.0.1:{self.port}"
        self.procs: list[subprocess.Popen] = []
        self.logs: list[Path] = []
        self.env = {
            "PATH": os.path.dirname(sys.executable) + os.pathsep + "/usr/bin:/bin",
            "HOME": str(workdir),
            "PYTHONPATH": os.pathsep.join([str(REPO_ROOT), str(REPO_ROOT / "tests")]),
            "LANG": "C.UTF-8",
        }
        dask = str(Path(sys.executable).parent / "dask")
        self.start(
            [dask, "scheduler", "--host", "127.0.0.1", "--port", str(self.port), "--no-dashboard"],
            "scheduler",
        )
        self.dask = dask

    def start(self, command: list[str], name: str) -> None:
        log = self.workdir / f"{name}.log"
        with open(log, "wb") as out:
            self.procs.append(
                subprocess.Popen(
                    command,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    env=self.env,
                    cwd=self.workdir,
                    start_new_session=True,
                )
            )
        self.logs.append(log)

    def add_worker(self, name: str) -> None:
        self.start(
            [
                self.dask,
                "worker",
                self.address,
                "--host",
                "127.0.0.1",
                "--no-dashboard",
                "--nthreads",
                "2",
                "--name",
                name,
            ],
            name,
        )

    def stop(self) -> None:
        for proc in reversed(self.procs):
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()

    def log_text(self) -> list[str]:
        return [log.read_text(errors="replace") for log in self.logs]


def test_command_line_cluster_with_a_clean_environment(kernel, admin, tmp_path):
    cluster = CommandLineCluster(tmp_path)
    try:
        for name in ("w1", "w2"):
            cluster.add_worker(name)
        client = distributed.Client(cluster.address, timeout=60, set_as_default=False)
        try:
            client.wait_for_workers(2, timeout=60)
            sign_in(kernel, admin, ALICE)
            cred = nbauth.worker_credential(STORAGE_SCOPE, dask_client=client)
            assert cred._source == ("dask", cluster.address)
            expected = kernel_digest(kernel, STORAGE_SCOPE)
            got = on_each_worker(client, tasks.token_digest, cred, STORAGE_SCOPE)
            assert len(got) == 2 and {mark for mark, _ in got.values()} == {expected}
            # Nothing of nbauth's reached the workers' environment.
            envs = client.run(
                lambda: sorted(
                    k for k in os.environ if "IDENTITY" in k or k.startswith(("NBAUTH_", "AZURE_"))
                )
            )
            assert all(names == [] for names in envs.values())

            # A worker started after the credential was made.
            cluster.add_worker("w3")
            client.wait_for_workers(3, timeout=60)
            workers = client.scheduler_info()["workers"]
            (late,) = [w for w, info in workers.items() if info.get("name") == "w3"]
            got = on_each_worker(client, tasks.token_digest, cred, STORAGE_SCOPE, workers=[late])
            assert got[late][0] == expected

            forbidden, _ = forbidden_and_allowed(admin)
            assert all(found == [] for found in audit_memory(client, forbidden).values())
            # The scheduler (a process of its own here) keeps the latest tokens for workers that
            # join later: the granted access tokens, nothing else. Not blind: it finds those.
            masked = [tasks.mask(s) for s in forbidden]
            assert client.run_on_scheduler(tasks.secrets_in_memory, masked) == []
            current = kernel.credential().get_token(STORAGE_SCOPE).token
            found = client.run_on_scheduler(tasks.secrets_in_memory, [tasks.mask(current)])
            assert found == [0]

            nbauth.logout()
            refused = on_each_worker(client, tasks.error_of, cred, STORAGE_SCOPE)
            assert all("signed out" in text for _, text in refused.values())

            dying_kernel_on(client, cluster.address, admin)
        finally:
            client.close()
    finally:
        cluster.stop()
    forbidden, allowed = forbidden_and_allowed(admin)
    assert_no_secret_in(cluster.log_text(), forbidden + allowed)


KERNEL_SCRIPT = """
import os, pickle, sys, time
import distributed
import nbauth
from nbauth import _kernel
from nbauth.emulator import EmulatorAdmin

admin = EmulatorAdmin(sys.argv[1])
_kernel.session().login(prompt=lambda p: admin.approve(sys.argv[2], p.user_code))
client = distributed.Client(sys.argv[3], timeout=60)
sys.stdout.buffer.write(pickle.dumps(nbauth.worker_credential(sys.argv[4])))
sys.stdout.flush()
os.close(1)
time.sleep(120)
"""


def dying_kernel_on(client, address: str, admin) -> None:
    """A kernel (another process) grants its tokens to the cluster, then dies: the workers go
    on with the last token, then fail with a clear error once it has expired."""
    from _emulator_process import subprocess_env

    admin.settings(access_token_lifetime_s=3)
    kernel = subprocess.Popen(
        [sys.executable, "-c", KERNEL_SCRIPT, admin.admin_url, ALICE, address, STORAGE_SCOPE],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env=subprocess_env(),
    )
    try:
        cred = pickle.loads(kernel.stdout.read())
        infos = on_each_worker(client, tasks.info_of, cred, STORAGE_SCOPE)
    finally:
        kernel.kill()
        kernel.wait()
    expires_on = max(own for _, _, _, own in infos.values())
    time.sleep(max(0.0, expires_on - time.time()) + 1.5)  # past the token's own expiry
    failed = on_each_worker(client, tasks.error_of, cred, STORAGE_SCOPE)
    assert all("expired and the notebook sent no new one" in text for _, text in failed.values())
