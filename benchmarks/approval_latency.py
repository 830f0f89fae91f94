"""Approval latency: from the person approving on the device-login page until the kernel holds
a token.

Worst case on purpose: the approval lands right after a poll was answered
``authorization_pending``, so every contender has to wait out (almost) a full polling
interval. What is left over the interval is the cost of the polling loop itself: nbauth's
poller sleeps on an event; msal (and azure-identity, which uses msal's loop) sleep in one-second
ticks, which is the same thing when the interval is a whole number of seconds.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from . import _setup as S
from ._result import Row, fmt_ms, verdict
from ._stats import median

INTERVAL_S = 1
"""The emulator's polling interval (its minimum; Entra ID usually says 5)."""
BUDGET_MS = 100.0


def _wait_for_first_pending_poll(admin, timeout: float = 10.0) -> None:
    """Return as soon as the emulator has answered a device-code poll (still pending)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for r in S.token_requests(admin, "urn:ietf:params:oauth:grant-type:device_code"):
            if r.get("status") == 400:
                return
        time.sleep(0.003)
    raise RuntimeError("no device-code poll reached the emulator")


def _trial(admin, start: Callable[[], Callable[[], None]]) -> float:
    """`start()` begins a sign-in whose code is pending and returns a `finish()` that blocks
    until the kernel holds a token. Returns approve -> token, in ms."""
    S.fast_device_codes(admin)
    admin.clear_requests()
    finish = start()
    _wait_for_first_pending_poll(admin)
    approved_at = time.perf_counter()
    admin.approve(S.ALICE)
    finish()
    return (time.perf_counter() - approved_at) * 1000


def _nbauth() -> Callable[[], None]:
    session = S.nbauth_session()
    signin = session.login(wait=False, prompt=lambda p: None)

    def finish() -> None:
        signin.wait(timeout=30)
        session.credential().get_token(S.ARM_SCOPE)  # held in memory: no request
        session.close()

    return finish


def _in_thread(fn: Callable[[], object]) -> Callable[[], None]:
    done = threading.Event()
    errors: list[BaseException] = []

    def run() -> None:
        try:
            fn()
        except BaseException as exc:  # noqa: BLE001 - re-raised by finish()
            errors.append(exc)
        finally:
            done.set()

    S.start_thread(run, name="bench-approval")

    def finish() -> None:
        if not done.wait(30):
            raise RuntimeError("the sign-in did not finish within 30 s")
        if errors:
            raise errors[0]

    return finish


def _azure_identity(admin) -> Callable[[], Callable[[], None]]:
    def start() -> Callable[[], None]:
        cred = S.azure_identity_device_code(admin, prompt_callback=lambda *args: None)
        return _in_thread(lambda: cred.get_token("https://management.azure.com/.default"))

    return start


def _msal(info: dict) -> Callable[[], Callable[[], None]]:
    def start() -> Callable[[], None]:
        app = S.msal_app(info)
        flow = app.initiate_device_flow(scopes=[S.ARM_SCOPE])

        def redeem() -> None:
            result = app.acquire_token_by_device_flow(flow)
            if "access_token" not in result:
                raise RuntimeError(f"msal device flow failed: {result.get('error')}")

        return _in_thread(redeem)

    return start


def measure(bench: S.Bench) -> Row:
    row = Row(
        "approval-latency",
        "approval on the device-login page until the kernel holds a token (worst case)",
        "the polling interval; azure-identity DeviceCodeCredential; msal",
        f"<= interval + {BUDGET_MS:g} ms",
    )
    trials = bench.scaled(3, 1)
    contenders = {
        "nbauth": lambda: _nbauth(),
        "azure-identity": _azure_identity(bench.admin),
        "msal": _msal(bench.info),
    }
    results: dict[str, list[float]] = {name: [] for name in contenders}
    for _ in range(trials):
        for name, start in contenders.items():
            results[name].append(round(_trial(bench.admin, start), 1))
    bench.admin.reset()
    interval_ms = INTERVAL_S * 1000
    worst = max(results["nbauth"])
    row.data = {
        "interval_ms": interval_ms,
        "approve_to_token_ms": results,
        "median_ms": {name: median(v) for name, v in results.items()},
        "nbauth_worst_over_interval_ms": round(worst - interval_ms, 1),
    }
    row.nbauth = (
        f"median {fmt_ms(median(results['nbauth']))}, worst {fmt_ms(worst)} "
        f"(interval {interval_ms} ms)"
    )
    row.baseline = (
        f"azure-identity median {fmt_ms(median(results['azure-identity']))}, "
        f"msal median {fmt_ms(median(results['msal']))}"
    )
    row.status = verdict(worst <= interval_ms + BUDGET_MS)
    row.notes.append(
        f"{trials} trials each; approval right after a poll answered authorization_pending, so "
        "about one interval is the floor for everyone"
    )
    return row
