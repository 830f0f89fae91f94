"""The kernel credential with a real storage service: Azurite checks the emulator's tokens.

Azurite (`--oauth basic`) rejects a request whose bearer token has the wrong issuer, audience or
lifetime, so a passing upload proves the credential produced a token a storage service accepts.
"""

from __future__ import annotations

import asyncio
import threading
import uuid

import pytest

from tools.services import running_azurite

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def azurite(emulator, tmp_path_factory):
    with running_azurite(emulator, tmp_path_factory.mktemp("azurite")) as url:
        yield url


@pytest.fixture
def signed_in(emulator, emu_admin):
    """A fresh session signed in as alice through the device flow, approved over the admin API."""
    from nbauth import Session

    emu_admin.settings(device_code_interval_s=1)
    session = Session()
    sign_in = session.login(wait=False, prompt=lambda prompt: None)
    emu_admin.approve("alice@contoso.example", user_code=sign_in.prompt.user_code)
    sign_in.wait(timeout=30)
    yield session
    session.logout(all=True)


def test_blob_round_trip_with_sync_client(azurite, signed_in):
    from azure.core.exceptions import ResourceExistsError
    from azure.storage.blob import BlobServiceClient

    from nbauth import NotebookCredential

    service = BlobServiceClient(azurite, credential=NotebookCredential(session=signed_in))
    name = f"sync-{uuid.uuid4().hex[:8]}"
    container = service.create_container(name)
    container.upload_blob("hello.txt", b"hello from nbauth")
    assert container.download_blob("hello.txt").readall() == b"hello from nbauth"
    assert [b.name for b in container.list_blobs()] == ["hello.txt"]
    with pytest.raises(ResourceExistsError):
        service.create_container(name)  # a real service answering, not a pass-through


def test_blob_round_trip_with_async_client(azurite, signed_in):
    from azure.storage.blob.aio import BlobServiceClient

    from nbauth import AsyncNotebookCredential

    async def round_trip() -> bytes:
        async with AsyncNotebookCredential(session=signed_in) as credential:
            async with BlobServiceClient(azurite, credential=credential) as service:
                container = await service.create_container(f"async-{uuid.uuid4().hex[:8]}")
                await container.upload_blob("data.bin", b"\x00\x01async")
                stream = await container.download_blob("data.bin")
                return await stream.readall()

    assert asyncio.run(round_trip()) == b"\x00\x01async"


def test_azurite_rejects_a_token_for_another_resource(azurite, signed_in):
    """Guards the test itself: Azurite really checks tokens, so the passes above mean something."""
    from azure.core.credentials import AccessToken
    from azure.core.exceptions import ClientAuthenticationError, HttpResponseError
    from azure.storage.blob import BlobServiceClient

    from nbauth import NotebookCredential

    inner = NotebookCredential(session=signed_in)

    class WrongAudience:
        def get_token(self, *scopes, **kwargs) -> AccessToken:
            return inner.get_token("https://management.azure.com//.default")

    service = BlobServiceClient(azurite, credential=WrongAudience())
    with pytest.raises((ClientAuthenticationError, HttpResponseError)) as info:
        service.create_container(f"denied-{uuid.uuid4().hex[:8]}")
    assert info.value.status_code in (401, 403)


def test_many_threads_share_one_storage_token(azurite, signed_in, emu_admin):
    from azure.storage.blob import BlobServiceClient

    from nbauth import NotebookCredential

    service = BlobServiceClient(azurite, credential=NotebookCredential(session=signed_in))
    container = service.create_container(f"threads-{uuid.uuid4().hex[:8]}")
    before = [r for r in emu_admin.requests() if r.get("endpoint") == "token"]
    errors: list[BaseException] = []

    def upload(i: int) -> None:
        try:
            container.upload_blob(f"b{i}", f"{i}".encode())
        except BaseException as exc:  # collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=upload, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    after = [r for r in emu_admin.requests() if r.get("endpoint") == "token"]
    # the storage token was already obtained by create_container: no thread asked again
    assert len(after) == len(before)
    assert len(list(container.list_blobs())) == 8
