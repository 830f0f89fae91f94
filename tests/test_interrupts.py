"""The stop button and sign-out against work in flight (issue 10, items 1, 2 and 5).

- An interrupt while a token is being refreshed reaches the cell without the refresh token,
  under every ``%xmode`` (Verbose prints every frame's variables): through the credential, an
  azure-core pipeline, the async credential and ``%azlogin --account U --scope S``. The refresh
  itself goes on and its token serves the next call, with no second request.
- A sign-out wins against every refresh in flight: the caller that asked before it gets an error,
  and neither memory nor the saved cache holds a token afterwards (50 rounds, with and without
  persistence).
- An async credential waiting for a pending sign-in occupies no thread: timed-out awaits leave
  the loop's default executor (and getaddrinfo, which aiohttp runs there) free.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import threading
import time
import warnings

import pytest
from _audit_fixtures import canaries, leaked_kinds
from _core_fixtures import (  # noqa: F401 - the *_fixture names register fixtures
    ALICE,
    ARM_SCOPE,
    GRAPH_SCOPE,
    STORAGE_SCOPE,
    admin_fixture,
    clock_fixture,
    nbsession_fixture,
    sign_in,
    token_requests,
)
from _persistence_fixtures import TOKEN_CACHE, cache_dir_fixture  # noqa: F401
from IPython.core.interactiveshell import InteractiveShell
from IPython.utils.capture import capture_output

from nbauth._errors import AuthenticationRequired
from nbauth._session import Session

XMODES = ["Plain", "Context", "Verbose", "Minimal", "Docs"]
SLOW_S = 3.0  # how long the token endpoint takes while the stop button is pressed
PRESS_AFTER_S = 0.8


def press_stop_after(seconds: float) -> threading.Timer:
    """The notebook's stop button: SIGINT to the kernel's main thread."""
    timer = threading.Timer(
        seconds, signal.pthread_kill, args=(threading.main_thread().ident, signal.SIGINT)
    )
    timer.start()
    return timer


def interrupted_cell(code: str, namespace: dict, xmode: str) -> tuple[str, BaseException | None]:
    """Run `code` in a real IPython shell under `xmode` and press stop while it runs."""
    shell = InteractiveShell.instance()
    shell.user_ns.update(namespace)
    shell.run_line_magic("xmode", xmode)
    timer = press_stop_after(PRESS_AFTER_S)
    try:
        with capture_output() as captured:
            result = shell.run_cell(code)
    finally:
        timer.cancel()
        shell.run_line_magic("xmode", "Context")
    shown = captured.stdout + captured.stderr + "".join(str(o.data) for o in captured.outputs)
    return re.sub(r"\x1b\[[0-9;]*m", "", shown), result.error_in_exec


def _sdk_call(credential) -> int:
    """An Azure SDK's shape: an azure-core pipeline whose bearer policy asks the credential."""
    from azure.core import PipelineClient
    from azure.core.pipeline.policies import BearerTokenCredentialPolicy
    from azure.core.rest import HttpRequest

    arm = os.environ["NBAUTH_ARM_ENDPOINT"]
    with PipelineClient(arm, policies=[BearerTokenCredentialPolicy(credential, GRAPH_SCOPE)]) as c:
        return c.send_request(
            HttpRequest("GET", f"{arm}tenants?api-version=2022-12-01")
        ).status_code


CELLS = {
    "credential": "credential.get_token(SCOPE)",
    "sdk_pipeline": "sdk_call(credential)",
    "async_credential": "asyncio.run(acredential.get_token(SCOPE))",
}


@pytest.mark.parametrize("xmode", XMODES)
@pytest.mark.parametrize("path", sorted(CELLS))
def test_stop_during_a_refresh_shows_no_secret(path, xmode, nbsession, admin):
    sign_in(nbsession, admin)
    credential = nbsession.credential()
    credential.get_token(ARM_SCOPE)
    admin.fault("token", delay_s=SLOW_S, count=1)
    before = len(token_requests(admin, "refresh_token"))
    namespace = {
        "credential": credential,
        "acredential": nbsession.async_credential(),
        "asyncio": asyncio,
        "sdk_call": _sdk_call,
        "SCOPE": GRAPH_SCOPE,
    }

    shown, error = interrupted_cell(CELLS[path], namespace, xmode)

    assert isinstance(error, KeyboardInterrupt), (error, shown[-1500:])
    assert "KeyboardInterrupt" in shown
    if xmode == "Verbose":
        assert "self=" in shown or "self =" in shown, "Verbose printed no variables: vacuous"
    leaked = leaked_kinds([shown], admin, secrets=canaries(admin))
    assert leaked == [], f"{leaked} shown after the stop button under %xmode {xmode} ({path})"
    # The refresh was not lost: the next call gets its token without another request.
    assert credential.get_token(GRAPH_SCOPE).token
    assert len(token_requests(admin, "refresh_token")) == before + 1


@pytest.mark.parametrize("xmode", XMODES)
def test_stop_during_azlogin_account_scope_shows_no_secret(xmode, nbsession, admin, magics):
    sign_in(nbsession, admin)
    admin.fault("token", delay_s=SLOW_S, count=1)

    shown, error = interrupted_cell(
        f"%azlogin --account {ALICE} --scope {STORAGE_SCOPE}", {}, xmode
    )

    # The magic turns the interrupt into a one-line error of its own, or lets it through.
    assert error is not None, "the cell finished: the interrupt did not land"
    assert shown.strip(), "the cell showed nothing"
    leaked = leaked_kinds([shown], admin, secrets=canaries(admin))
    assert leaked == [], f"{leaked} shown after the stop button in %azlogin --account"


# -- sign-out against a refresh in flight --------------------------------------------------------


def _race_once(session: Session, admin, scope: str) -> object:
    """Start a slow refresh in a thread, sign out while it is in flight; what the thread got."""
    admin.fault("token", delay_s=0.4, count=1)
    got: list[object] = []

    def ask() -> None:
        try:
            got.append(session.credential().get_token(scope))
        except Exception as exc:  # noqa: BLE001 - the outcome is what the test inspects
            got.append(exc)

    asker = threading.Thread(target=ask)
    asker.start()
    time.sleep(0.15)  # the request is in flight now: the endpoint answers after 0.4 s
    session.logout(all=True)
    asker.join(10)
    return got[0]


ROUNDS = 50


@pytest.mark.parametrize("persist", [False, True], ids=["memory", "read_write"])
def test_sign_out_wins_against_every_refresh_in_flight(persist, emulator, admin, clock, cache_dir):
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Sign-ins are saved UNENCRYPTED")
        session = Session(
            clock=clock,
            persistence="read_write" if persist else "none",
            allow_unencrypted=True,
            cache_dir=str(cache_dir),
        )
    handed_out = []
    try:
        for round_ in range(ROUNDS):
            sign_in(session, admin)
            session.credential().get_token(ARM_SCOPE)
            scope = STORAGE_SCOPE if round_ % 2 else GRAPH_SCOPE
            outcome = _race_once(session, admin, scope)
            if not isinstance(outcome, AuthenticationRequired):
                handed_out.append((round_, type(outcome).__name__))
            # Nothing in memory: no account to sign in silently, no token.
            assert session.sign_in_silently(username=ALICE) is None, f"round {round_}"
            assert session.account is None
            if persist:
                saved = (cache_dir / TOKEN_CACHE).read_text()
                found = leaked_kinds([saved], admin)
                assert found == [], f"round {round_}: {found} left in {TOKEN_CACHE}"
    finally:
        session.close()
    assert handed_out == [], f"a token was handed out across a sign-out: {handed_out}"


# -- the async credential and the event loop -----------------------------------------------------


def test_timed_out_async_waits_leave_the_event_loop_free(nbsession, admin):
    pending = nbsession.login(wait=False, prompt=lambda p: None)  # nobody will approve it
    acredential = nbsession.async_credential()
    threads_before = threading.active_count()

    async def scenario() -> tuple[int, int, object]:
        timed_out = 0
        for _ in range(8):
            try:
                await asyncio.wait_for(acredential.get_token(ARM_SCOPE), 0.3)
            except asyncio.TimeoutError:
                timed_out += 1
        loop = asyncio.get_running_loop()
        answer = await asyncio.wait_for(asyncio.to_thread(lambda: 42), 5)
        addresses = await asyncio.wait_for(loop.getaddrinfo("127.0.0.1", 443), 5)
        return timed_out, answer, addresses

    try:
        timed_out, answer, addresses = asyncio.run(scenario())
        threads_after = threading.active_count()
    finally:
        pending.cancel()
    assert timed_out == 8
    assert answer == 42 and addresses
    # asyncio.run shut its executor down; nothing of nbauth's waits on behalf of the 8 awaits.
    assert threads_after <= threads_before


def test_async_wait_for_a_pending_sign_in_gets_the_token_once_approved(nbsession, admin):
    from _core_fixtures import approving_prompt

    shown = []
    pending = nbsession.login(wait=False, prompt=shown.append)
    acredential = nbsession.async_credential()

    async def scenario():
        task = asyncio.ensure_future(acredential.get_token(ARM_SCOPE))
        await asyncio.sleep(0.2)
        assert not task.done()
        await asyncio.to_thread(approving_prompt(admin), shown[0])
        return await asyncio.wait_for(task, 15)

    token = asyncio.run(scenario())
    assert token.token and pending.status == "succeeded"


@pytest.mark.parametrize("xmode", ["Verbose", "Context"])
def test_stop_during_a_resource_manager_call_shows_no_token(xmode, nbsession, admin):
    """The family of item 1 beyond refreshes: an HTTP call that carries the bearer token
    (``%azsubscription`` listing through Resource Manager) interrupted under Verbose."""
    from nbauth._magics import AccountMagics

    shell = InteractiveShell.instance()
    shell.register_magics(AccountMagics(shell=shell, session=nbsession))
    sign_in(nbsession, admin)
    nbsession.credential().get_token(ARM_SCOPE)  # the token the ARM call will carry
    admin.fault("arm", delay_s=SLOW_S, count=1)

    shown, error = interrupted_cell("%azsubscription --list", {}, xmode)

    assert shown.strip(), "the cell showed nothing: the interrupt did not land"
    leaked = leaked_kinds([shown], admin, secrets=canaries(admin))
    assert leaked == [], f"{leaked} shown after the stop button in %azsubscription"
