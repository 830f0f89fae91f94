"""adlfs and dask.dataframe on Dask workers, through the notebook's worker credential (issue 13).

Real processes: Azurite over HTTPS (it checks the emulator's tokens: issuer, audience, lifetime),
a ``distributed.LocalCluster`` with worker processes, the emulator. The kernel (this process)
writes a parquet dataset with pandas through adlfs, then ``dask.dataframe.read_parquet`` reads it
back on the workers with ``storage_options={..., "credential": nbauth.async_worker_credential()}``.
The workers trust Azurite's certificate through the environment they inherit (the emulator's
``SSL_CERT_FILE`` / ``REQUESTS_CA_BUNDLE``), and never ask the emulator for anything: its request
log holds only the kernel's refreshes. Everything listens on 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import os
import time
import uuid

import _worker_tasks as tasks
import pandas as pd
import pytest
from _core_fixtures import (  # noqa: F401 - the *_fixture names register fixtures
    ALICE,
    STORAGE_SCOPE,
    admin_fixture,
    sign_in,
    token_requests,
)
from _emulator_process import AZURE_CLI_CLIENT_ID
from _grant_fixtures import (  # noqa: F401 - kernel_fixture registers a fixture
    kernel_fixture,
    local_cluster,
    wait_for_next_push,
)

import nbauth
from tools.services import AZURITE_ACCOUNT, running_azurite

pytestmark = pytest.mark.slow

LOOPBACK = "tcp://127.0.0.1:"


@pytest.fixture(scope="module")
def azurite(emulator, tmp_path_factory):
    with running_azurite(emulator, tmp_path_factory.mktemp("azurite-adlfs")) as url:
        yield url


@pytest.fixture(scope="module")
def cluster(emulator):
    """The client of a LocalCluster, started after the emulator exported its CA bundle here."""
    with local_cluster(threads_per_worker=1) as (_, client):
        yield client


def storage_options(blob_url: str, credential) -> dict:
    """adlfs's arguments for a storage account at a custom https address, such as Azurite's
    ``https://127.0.0.1:<port>/devstoreaccount1``: ``account_host`` is everything after
    ``https://`` (adlfs builds ``https://{account_host}``)."""
    return {
        "account_name": AZURITE_ACCOUNT,
        "account_host": blob_url.split("://", 1)[1],
        "credential": credential,
    }


def trips(part: int) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "trip": range(part * 100, part * 100 + 100),
            "km": [float(i % 17) for i in range(100)],
            "zone": [f"z{(part + i) % 5}" for i in range(100)],
        }
    )


def write_dataset(blob_url: str, credential, container: str, parts: int) -> pd.DataFrame:
    """Write `parts` parquet files with pandas through adlfs, in the kernel."""
    from adlfs import AzureBlobFileSystem

    options = storage_options(blob_url, credential)
    fs = AzureBlobFileSystem(**options)
    fs.mkdir(container)
    for part in range(parts):
        trips(part).to_parquet(
            f"abfs://{container}/trips/part-{part}.parquet", storage_options=options, index=False
        )
    written = sorted(path.rsplit("/", 1)[-1] for path in fs.ls(f"{container}/trips"))
    assert written == [f"part-{part}.parquet" for part in range(parts)]
    return pd.concat([trips(part) for part in range(parts)], ignore_index=True)


def read_on_workers(container: str, options: dict) -> tuple[pd.DataFrame, set[int]]:
    """The dataset as dask.dataframe reads it on the cluster, and the pids that read it."""
    import dask.dataframe as dd

    frame = dd.read_parquet(f"abfs://{container}/trips", storage_options=options)
    read = frame.map_partitions(lambda part: part.assign(pid=os.getpid())).compute()
    pids = set(read.pop("pid"))
    return read.sort_values("trip", ignore_index=True), pids


def test_dask_reads_parquet_from_azurite_through_the_worker_credential(
    azurite, cluster, kernel, admin
):
    client = cluster
    workers = client.run(os.getpid)
    assert len(workers) == 2 and all(address.startswith(LOOPBACK) for address in workers)
    assert os.getpid() not in workers.values()
    sign_in(kernel, admin, ALICE)
    credential = nbauth.async_worker_credential(STORAGE_SCOPE)  # the default Dask client
    assert "Dask cluster" in repr(credential)
    container = f"trips-{uuid.uuid4().hex[:8]}"
    expected = write_dataset(azurite, credential, container, parts=4)
    admin.clear_requests()

    read, pids = read_on_workers(container, storage_options(azurite, credential))

    pd.testing.assert_frame_equal(read, expected, check_dtype=False)
    assert pids and pids <= set(workers.values())  # the workers read it, not the kernel
    # No process asked the emulator for anything while the workers read: they had the token.
    assert admin.requests() == []


def test_a_read_spanning_refresh_cycles_never_uses_an_expired_token(
    azurite, cluster, kernel, admin
):
    """Tokens live 12 s (refreshed every 6 s: room for a loaded 2-core machine to push them);
    Azurite refuses an expired one. The workers read for 27 s, long after the first token
    expired: every read succeeds, and the only requests the emulator saw are the kernel's
    refreshes, one per cycle."""
    client = cluster
    admin.settings(access_token_lifetime_s=12)
    sign_in(kernel, admin, ALICE)
    credential = nbauth.async_worker_credential(STORAGE_SCOPE, dask_client=client)
    admin.clear_requests()  # from here on, every refresh is counted and logged
    first_expiry = nbauth.whoami().grants[0].expires_on
    container = f"cycles-{uuid.uuid4().hex[:8]}"
    expected = write_dataset(azurite, credential, container, parts=2)

    options = storage_options(azurite, credential)
    reads = 0
    deadline = time.time() + 27
    while time.time() < deadline:
        read, _ = read_on_workers(container, options)
        pd.testing.assert_frame_equal(read, expected, check_dtype=False)
        reads += 1
    assert time.time() > first_expiry + 12  # at least one more token lifetime after the first
    refreshes = wait_for_next_push(kernel).refreshes  # counted right after a push
    requests_made = token_requests(admin)

    assert reads >= 3 and refreshes >= 2
    assert len(requests_made) == refreshes  # one per cycle, however many workers read
    assert {(r["grant_type"], r["client_id"]) for r in requests_made} == {
        ("refresh_token", AZURE_CLI_CLIENT_ID)
    }
    assert {r["endpoint"] for r in admin.requests()} == {"token"}


def test_azure_core_moves_to_the_pushed_token_while_the_old_one_has_time_left(
    azurite, cluster, kernel, admin
):
    """azure-core's bearer policy keeps a token until ``min(refresh_on + up to 60 s,
    expires_on)``: a token that lives seconds is kept until the expiry it was told, and a request
    sent a moment before it arrives after it (Azurite allows no clock skew). A worker credential
    tells an expiry halfway between the kernel's refresh (pushed at half-life) and the token's
    own, so requests move to the new token while the old one has half of that left: 3 s here."""
    from azure.storage.blob.aio import BlobServiceClient

    admin.settings(access_token_lifetime_s=12)  # refreshed at 6 s
    sign_in(kernel, admin, ALICE)
    credential = nbauth.async_worker_credential(STORAGE_SCOPE, dask_client=cluster)
    container = f"handover-{uuid.uuid4().hex[:8]}"
    left: list[tuple[float, str, int]] = []  # (time left on the token when sent, digest, status)

    def sending(request) -> None:
        request.context["sent_at"] = time.time()  # just before the bearer policy runs

    def answered(response) -> None:
        token = response.http_request.headers["Authorization"].removeprefix("Bearer ")
        sent_at = response.context["sent_at"]
        status = response.http_response.status_code
        left.append((tasks.own_expiry(token) - sent_at, tasks.digest(token), status))

    async def ask_until_three_tokens() -> None:
        async with BlobServiceClient(
            azurite, credential=credential, raw_request_hook=sending, raw_response_hook=answered
        ) as service:
            await service.create_container(container)
            box = service.get_container_client(container)
            deadline = time.time() + 45
            while len({d for _, d, _ in left}) < 3 and time.time() < deadline:
                assert await box.exists()
                await asyncio.sleep(0.05)

    asyncio.run(ask_until_three_tokens())

    assert len({d for _, d, _ in left}) == 3  # two hand-overs to a pushed token
    assert {status for _, _, status in left} == {200, 201}  # Azurite accepted every token
    assert min(t for t, _, _ in left) > 1.5  # no request in a token's last seconds


def filesystem_holds(options: dict) -> bool:
    """Whether adlfs, given `options`, uses their credential (and not an older one's
    filesystem from fsspec's instance cache)."""
    from adlfs import AzureBlobFileSystem

    return AzureBlobFileSystem(**options).credential is options["credential"]


def test_signing_in_again_gives_adlfs_the_new_credential(azurite, cluster, kernel, admin):
    """fsspec keeps one filesystem per set of arguments, keyed on their ``str()``, in every
    process. A worker credential made after signing in again must not be taken for the ended
    one it replaces: that one only says the notebook signed out (after azure-storage's retries,
    about 80 s)."""
    client = cluster
    sign_in(kernel, admin, ALICE)
    first = nbauth.async_worker_credential(STORAGE_SCOPE, dask_client=client)
    container = f"again-{uuid.uuid4().hex[:8]}"
    expected = write_dataset(azurite, first, container, parts=2)
    read_on_workers(container, storage_options(azurite, first))  # cached in every process
    nbauth.logout()  # ends the first credential everywhere

    sign_in(kernel, admin, ALICE)
    second = nbauth.async_worker_credential(STORAGE_SCOPE, dask_client=client)
    options = storage_options(azurite, second)

    assert filesystem_holds(options)  # in the kernel
    assert client.run(filesystem_holds, options) == {w: True for w in client.run(os.getpid)}
    read, _ = read_on_workers(container, options)
    pd.testing.assert_frame_equal(read, expected, check_dtype=False)
