"""AsyncNotebookCredential: same session and store, driven from an asyncio loop."""

from __future__ import annotations

import asyncio

import pytest
from _core_fixtures import (  # noqa: F401 - the *_fixture names register fixtures
    ALICE,
    ARM_SCOPE,
    FABRIKAM,
    STORAGE_SCOPE,
    admin_fixture,
    clock_fixture,
    jwt_claims,
    nbsession_fixture,
    sign_in,
    token_requests,
)
from azure.core.credentials import AccessToken, AccessTokenInfo

from nbauth._errors import AuthenticationRequired
from nbauth.aio import AsyncNotebookCredential


def refreshes(admin) -> list[dict]:
    return token_requests(admin, "refresh_token")


def test_get_token_and_get_token_info_in_a_loop(nbsession, admin):
    sign_in(nbsession, admin, ALICE)
    cred = nbsession.async_credential()
    assert nbsession.async_credential() is cred
    admin.clear_requests()

    async def main():
        async with cred:
            token = await cred.get_token(STORAGE_SCOPE)
            info = await cred.get_token_info(STORAGE_SCOPE, options={"tenant_id": None})
            return token, info

    token, info = asyncio.run(main())

    assert isinstance(token, AccessToken) and isinstance(info, AccessTokenInfo)
    assert token.token == info.token and info.token_type == "Bearer"
    assert jwt_claims(token.token)["upn"] == ALICE
    assert len(refreshes(admin)) == 1  # the second call was a cache hit


def test_concurrent_gather_makes_one_request(nbsession, admin):
    sign_in(nbsession, admin, ALICE)
    cred = AsyncNotebookCredential(session=nbsession)
    admin.clear_requests()

    async def main():
        return await asyncio.gather(*(cred.get_token(STORAGE_SCOPE) for _ in range(24)))

    tokens = asyncio.run(main())

    assert len({t.token for t in tokens}) == 1
    assert len(refreshes(admin)) == 1


def test_concurrent_gather_on_an_expired_token_makes_one_request(nbsession, admin, clock):
    sign_in(nbsession, admin, ALICE)
    cred = nbsession.async_credential()
    old = asyncio.run(cred.get_token(STORAGE_SCOPE))
    admin.clear_requests()
    clock.advance(3600 + 60)

    async def main():
        return await asyncio.gather(*(cred.get_token_info(STORAGE_SCOPE) for _ in range(24)))

    infos = asyncio.run(main())

    assert len({i.token for i in infos}) == 1 and infos[0].token != old.token
    assert len(refreshes(admin)) == 1


def test_guest_tenant_through_the_async_credential(nbsession, admin):
    sign_in(nbsession, admin, ALICE)
    token = asyncio.run(nbsession.async_credential().get_token(ARM_SCOPE, tenant_id=FABRIKAM))
    assert jwt_claims(token.token)["tid"] == FABRIKAM


def test_without_sign_in_raises_authentication_required(nbsession):
    with pytest.raises(AuthenticationRequired, match="%azlogin"):
        asyncio.run(nbsession.async_credential().get_token(ARM_SCOPE))


def test_async_get_token_waits_for_a_pending_sign_in_without_blocking_the_loop(nbsession, admin):
    signin = nbsession.login(wait=False, prompt=lambda p: None)

    async def main():
        ticks = 0

        async def ticker():
            nonlocal ticks
            while not signin.done():
                ticks += 1
                await asyncio.sleep(0.01)

        async def approve_later():
            await asyncio.sleep(0.2)
            await asyncio.to_thread(admin.approve, ALICE, signin.prompt.user_code)

        token, _, _ = await asyncio.gather(
            nbsession.async_credential().get_token(STORAGE_SCOPE), ticker(), approve_later()
        )
        return token, ticks

    token, ticks = asyncio.run(main())
    assert jwt_claims(token.token)["upn"] == ALICE
    assert ticks > 1  # the loop kept running while the credential waited


def test_azure_core_async_pipeline_calls_arm(nbsession, admin, emulator):
    from azure.core import AsyncPipelineClient
    from azure.core.pipeline.policies import AsyncBearerTokenCredentialPolicy
    from azure.core.pipeline.transport import AioHttpTransport
    from azure.core.rest import HttpRequest

    sign_in(nbsession, admin, ALICE)

    async def main():
        policy = AsyncBearerTokenCredentialPolicy(nbsession.async_credential(), ARM_SCOPE)
        async with AsyncPipelineClient(
            emulator["arm_endpoint"], policies=[policy], transport=AioHttpTransport()
        ) as client:
            url = emulator["arm_endpoint"] + "subscriptions?api-version=2022-12-01"
            response = await client.send_request(HttpRequest("GET", url))
            await response.read()
            return response

    response = asyncio.run(main())
    assert response.status_code == 200
    assert {s["displayName"] for s in response.json()["value"]} >= {"Contoso Data Science"}
