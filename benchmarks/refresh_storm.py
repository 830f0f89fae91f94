"""Refresh storm: 64 threads call ``get_token`` just after the token reached its refresh point.

Real time, real refresh: the emulator is told to send ``refresh_in`` (as Entra does for
long-lived tokens), the benchmark sleeps past that point, turns ``refresh_in`` off again (so the
refreshed token is fresh for everybody), then releases all threads at once from a barrier. The
emulator counts the token requests.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from . import _setup as S
from ._result import Row, verdict

THREADS = 64
REFRESH_IN_S = 2
"""Seconds until the token's refresh point (the emulator's minimum useful value is 1)."""


@dataclass
class StormResult:
    token_requests: int
    refresh_token_requests: int
    errors: int
    threads: int
    got_token: int
    got_new_token: int
    """How many threads already received the refreshed token (the rest: the still-valid one)."""
    seconds: float


def _storm(
    admin,
    get_token: Callable[[], str],
    refresh_on: float,
    threads: int,
) -> StormResult:
    """Wait until `refresh_on` has passed, then call `get_token` from `threads` threads at once."""
    old_token = get_token()
    delay = refresh_on - time.time() + 0.25
    if delay > 0:
        time.sleep(delay)
    admin.settings(refresh_in_s=None)
    admin.clear_requests()
    barrier = threading.Barrier(threads)
    tokens: list[str | None] = [None] * threads
    errors: list[BaseException] = []

    def worker(i: int) -> None:
        barrier.wait()
        try:
            tokens[i] = get_token()
        except Exception as exc:  # noqa: BLE001 - counted and reported
            errors.append(exc)

    started = time.perf_counter()
    pool = [
        threading.Thread(target=worker, args=(i,), name=f"bench-storm-{i}") for i in range(threads)
    ]
    for t in pool:
        t.start()
    for t in pool:
        t.join(60)
    seconds = time.perf_counter() - started
    requests = S.token_requests(admin)
    return StormResult(
        token_requests=len(requests),
        refresh_token_requests=sum(1 for r in requests if r.get("grant_type") == "refresh_token"),
        errors=len(errors),
        threads=threads,
        got_token=sum(1 for t in tokens if t),
        got_new_token=sum(1 for t in tokens if t is not None and t != old_token),
        seconds=round(seconds, 3),
    )


def storm_nbauth(info: dict, admin, threads: int = THREADS) -> StormResult:
    """nbauth's NotebookCredential, signed in by device code."""
    S.fast_device_codes(admin)
    admin.settings(refresh_in_s=REFRESH_IN_S)
    session = S.nbauth_session()
    try:
        S.nbauth_sign_in(session, admin)
        cred = session.credential()
        refresh_on = cred.get_token_info(S.ARM_SCOPE).refresh_on
        assert refresh_on is not None
        return _storm(admin, lambda: cred.get_token(S.ARM_SCOPE).token, refresh_on, threads)
    finally:
        session.close()


def storm_azure_identity(info: dict, admin, threads: int = THREADS) -> StormResult:
    """azure-identity's DeviceCodeCredential, signed in by device code."""
    S.fast_device_codes(admin)
    admin.settings(refresh_in_s=REFRESH_IN_S)
    cred = S.azure_identity_device_code(admin)
    scope = "https://management.azure.com/.default"
    refresh_on = cred.get_token_info(scope).refresh_on
    assert refresh_on is not None, "the emulator sent no refresh_in"
    return _storm(admin, lambda: cred.get_token(scope).token, refresh_on, threads)


def storm_msal(info: dict, admin, threads: int = THREADS) -> StormResult:
    """Bare msal: acquire_token_silent on one PublicClientApplication."""
    S.fast_device_codes(admin)
    admin.settings(refresh_in_s=REFRESH_IN_S)
    app = S.msal_app(info)
    S.msal_device_sign_in(app, admin)
    account = app.get_accounts()[0]
    cached = app.acquire_token_silent([S.ARM_SCOPE], account) or {}
    refresh_on = float(cached.get("refresh_on") or time.time() + REFRESH_IN_S)
    return _storm(
        admin,
        lambda: app.acquire_token_silent([S.ARM_SCOPE], account)["access_token"],
        refresh_on,
        threads,
    )


def measure(bench: S.Bench) -> Row:
    row = Row(
        "refresh-storm",
        f"{THREADS} threads call `get_token` as the token reaches its refresh point",
        "azure-identity DeviceCodeCredential (and bare msal)",
        "nbauth: exactly 1 token request",
    )
    storms = bench.scaled(2, 1)
    nb, ai, ms = [], [], []
    for _ in range(storms):
        nb.append(storm_nbauth(bench.info, bench.admin))
        ai.append(storm_azure_identity(bench.info, bench.admin))
        ms.append(storm_msal(bench.info, bench.admin))
    bench.admin.reset()

    def counts(results: list[StormResult]) -> str:
        return ", ".join(str(r.token_requests) for r in results)

    row.data = {
        "storms": storms,
        "nbauth": [vars(r) for r in nb],
        "azure_identity": [vars(r) for r in ai],
        "msal": [vars(r) for r in ms],
    }
    errors = sum(r.errors for r in nb)
    row.nbauth = f"{counts(nb)} token request(s) per storm ({errors} errors)"
    row.baseline = (
        f"DeviceCodeCredential {counts(ai)} ({sum(r.errors for r in ai)} errors); msal {counts(ms)}"
    )
    row.status = verdict(all(r.token_requests == 1 for r in nb) and errors == 0)
    row.notes.append(
        f"{storms} storm(s) each; nbauth threads that arrive while its one refresh is in flight "
        "get the still-valid token at once instead of waiting"
    )
    return row
