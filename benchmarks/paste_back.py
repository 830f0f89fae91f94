"""Paste to token: the browser sign-in a person finishes by pasting back the address (issue 12).

A remote kernel (``NBAUTH_KERNEL_LOCATION=remote``), a fresh Session each run:
``login("browser", wait=False)``; the person's browser opens the sign-in page and picks an
account (`EmulatorAdmin.pick_account`: the page, then the picked account, two requests that
are the browser's, not the kernel's); the kernel redeems the pasted address. Counted from the
emulator's request log; timed from ``signin.complete(address)`` until
``credential().get_token`` returns (a usable token, held in memory by then).

Compared with msal's own ``acquire_token_by_auth_code_flow`` on the same answer (what nbauth
calls inside ``complete``): the difference is nbauth's checks of the address, the thread the
redemption runs in (``nbauth._flight``) and making the account current.

Target: one token request, nothing else from the kernel but OIDC discovery; paste -> token
<= 50 ms on loopback. Why 50 ms: the paste is the person's last step and the card turns into the
badge only then; 100 ms is where a reaction stops feeling instant, and a loopback HTTPS round
trip with the emulator signing three RS256 tokens takes ~10-20 ms on these 2 cores, so 50 ms
leaves nbauth's own work a budget of about one more round trip. Against Entra the network
round trip (tens to hundreds of ms) dominates; that is not what this row measures.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from urllib.parse import parse_qs, urlsplit

from . import _setup as S
from ._result import Row, fmt_ms, verdict
from ._stats import median

BUDGET_MS = 50.0
KERNEL_REQUESTS = 2
"""OIDC discovery (msal builds the sign-in address from it) + the one token request."""


@dataclass
class PasteBackRun:
    paste_to_token_ms: list[float] = field(default_factory=list)
    requests: list[dict[str, int]] = field(default_factory=list)
    """Per run: requests per endpoint the emulator served (``authorize``, ``token``...)."""


def _by_endpoint(admin) -> dict[str, int]:
    counts: dict[str, int] = {}
    for r in S.identity_requests(admin):
        counts[str(r.get("endpoint"))] = counts.get(str(r.get("endpoint")), 0) + 1
    return counts


def nbauth_paste_back(admin, runs: int) -> PasteBackRun:
    """`runs` paste-back sign-ins, each in a fresh Session on a remote kernel."""
    result = PasteBackRun()
    with S.temporary_env(NBAUTH_KERNEL_LOCATION="remote"):
        for _ in range(runs):
            admin.reset()
            session = S.nbauth_session()
            try:
                signin = session.login("browser", wait=False, prompt=lambda p: None)
                address = admin.pick_account(signin.prompt.verification_uri, S.ALICE)
                started = time.perf_counter()
                signin.complete(address)
                token = session.credential().get_token(S.ARM_SCOPE)
                result.paste_to_token_ms.append((time.perf_counter() - started) * 1000)
                if not token.token:
                    raise RuntimeError("the paste-back sign-in gave no token")
                result.requests.append(_by_endpoint(admin))
            finally:
                pending = session.pending
                if pending is not None:
                    pending.cancel()
                session.close()
    return result


def msal_redeem(info: dict, admin, runs: int) -> list[float]:
    """msal alone: ``acquire_token_by_auth_code_flow`` on the same kind of answer, in ms."""
    import warnings

    times = []
    for _ in range(runs):
        app = S.msal_app(info)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # msal recommends form_post
            flow = app.initiate_auth_code_flow(
                [S.ARM_SCOPE], redirect_uri="http://localhost:50123", response_mode="query"
            )
        address = admin.pick_account(flow["auth_uri"], S.ALICE)
        answer = {k: v[0] for k, v in parse_qs(urlsplit(address).query).items()}
        started = time.perf_counter()
        answered = app.acquire_token_by_auth_code_flow(flow, answer)
        times.append((time.perf_counter() - started) * 1000)
        if "access_token" not in answered:
            raise RuntimeError(f"msal could not redeem the code: {answered.get('error')}")
    return times


def measure(bench: S.Bench) -> Row:
    row = Row(
        "paste-to-token",
        "browser sign-in finished by pasting the address (remote kernel): identity requests "
        "(sign-in page / kernel), paste -> usable token (median)",
        "msal acquire_token_by_auth_code_flow on the same answer",
        f"1 token request, kernel <= {KERNEL_REQUESTS} requests; paste -> token <= "
        f"{BUDGET_MS:g} ms",
    )
    runs = bench.scaled(15, 3)
    ours, theirs = PasteBackRun(), []
    for _ in range(runs):  # interleaved: a busy moment of the machine hits both alike
        one = nbauth_paste_back(bench.admin, 1)
        ours.paste_to_token_ms += one.paste_to_token_ms
        ours.requests += one.requests
        theirs += msal_redeem(bench.info, bench.admin, 1)
    bench.admin.reset()
    tokens = {r.get("token", 0) for r in ours.requests}
    pages = {r.get("authorize", 0) for r in ours.requests}
    kernel = {sum(n for k, n in r.items() if k != "authorize") for r in ours.requests}
    ours_ms, theirs_ms = median(ours.paste_to_token_ms), median(theirs)
    row.data = {
        "runs": runs,
        "requests_per_run": ours.requests,
        "paste_to_token_ms": [round(x, 2) for x in ours.paste_to_token_ms],
        "msal_redeem_ms": [round(x, 2) for x in theirs],
        "median_ms": {"nbauth": round(ours_ms, 2), "msal": round(theirs_ms, 2)},
    }
    row.nbauth = (
        f"{_one(pages)} sign-in page / {_one(kernel)} kernel ({_one(tokens)} token); "
        f"paste -> token median {fmt_ms(ours_ms)}, max {fmt_ms(max(ours.paste_to_token_ms))}"
    )
    row.baseline = f"msal median {fmt_ms(theirs_ms)} (+{fmt_ms(max(0.0, ours_ms - theirs_ms))})"
    row.status = verdict(tokens == {1} and max(kernel) <= KERNEL_REQUESTS and ours_ms <= BUDGET_MS)
    row.notes.append(
        f"{runs} interleaved runs, a fresh Session each; the sign-in page's requests are the person's "
        "browser (page + account picked); the kernel's are OIDC discovery and the token request"
    )
    return row


def _one(values: set[int]) -> str:
    """One number when every run agreed, else the range (a difference between runs shows)."""
    return str(next(iter(values))) if len(values) == 1 else f"{min(values)}-{max(values)}"
