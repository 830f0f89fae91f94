"""Cached ``get_token`` latency, and how it scales with the accounts cached, against
azure-identity and msal.

Every contender holds a valid token for the scope before timing starts, so each call is a pure
cache hit; the emulator's request log confirms that no timed call went to the network.
"""

from __future__ import annotations

import time

from . import _setup as S
from ._result import FAIL, Row, fmt_us, verdict
from ._stats import interleaved, ratio, summarize_ns, timer_overhead_ns

# azure-identity and msal users ask for the resource's usual scope; the value does not change
# what a cache hit costs.
AI_ARM_SCOPE = "https://management.azure.com/.default"
CACHED_TARGET_RATIO = 30.0
ACCOUNTS_FLATNESS = 1.20
ACCOUNT_TIERS = (1, 100, 1000)


def _nbauth_signed_in(bench: S.Bench, username: str = S.ALICE):
    session = S.nbauth_session()
    S.nbauth_sign_in(session, bench.admin, username)
    return session


def measure_cache_hit(bench: S.Bench) -> Row:
    """Cached get_token latency: median and p99, nbauth vs azure-identity vs msal."""
    row = Row(
        "cached-token-latency",
        "`get_token` on a cached token (median, p99)",
        "azure-identity DeviceCodeCredential, ClientSecretCredential; msal acquire_token_silent",
        f"nbauth >= {CACHED_TARGET_RATIO:g}x faster than azure-identity's median",
    )
    admin = bench.admin
    S.fast_device_codes(admin)

    session = _nbauth_signed_in(bench)
    cred = session.credential()
    cred.get_token(S.ARM_SCOPE)

    device_code = S.azure_identity_device_code(admin)
    device_code.get_token(AI_ARM_SCOPE)
    client_secret = S.azure_identity_client_secret(bench.info)
    client_secret.get_token(AI_ARM_SCOPE)

    app = S.msal_app(bench.info)
    S.msal_device_sign_in(app, admin)
    msal_account = app.get_accounts()[0]

    # Many short rounds: a burst of load from another process then lands on every contender.
    rounds = bench.scaled(10, 2)
    big, small = bench.scaled(15_000, 5_000), bench.scaled(1_500, 500)
    contenders = {
        "nbauth get_token": (lambda: cred.get_token(S.ARM_SCOPE), big),
        "nbauth get_token_info": (lambda: cred.get_token_info(S.ARM_SCOPE), big // 3),
        "azure-identity DeviceCodeCredential.get_token": (
            lambda: device_code.get_token(AI_ARM_SCOPE),
            small,
        ),
        "azure-identity DeviceCodeCredential.get_token_info": (
            lambda: device_code.get_token_info(AI_ARM_SCOPE),
            small // 3,
        ),
        "azure-identity ClientSecretCredential.get_token": (
            lambda: client_secret.get_token(AI_ARM_SCOPE),
            small,
        ),
        "msal acquire_token_silent": (
            lambda: app.acquire_token_silent([S.ARM_SCOPE], msal_account),
            small,
        ),
    }
    admin.clear_requests()
    samples = interleaved(contenders, rounds)
    network_calls = len(S.identity_requests(admin))
    overhead_ns = timer_overhead_ns(bench.scaled(100_000, 20_000))
    session.close()

    stats = {name: summarize_ns(values) for name, values in samples.items()}
    nb = stats["nbauth get_token"]["median_us"]
    dcc = stats["azure-identity DeviceCodeCredential.get_token"]["median_us"]
    csc = stats["azure-identity ClientSecretCredential.get_token"]["median_us"]
    msal_median = stats["msal acquire_token_silent"]["median_us"]
    ratios = {
        "DeviceCodeCredential / nbauth": ratio(dcc, nb),
        "ClientSecretCredential / nbauth": ratio(csc, nb),
        "msal / nbauth": ratio(msal_median, nb),
        "DeviceCodeCredential.get_token_info / nbauth get_token_info": ratio(
            stats["azure-identity DeviceCodeCredential.get_token_info"]["median_us"],
            stats["nbauth get_token_info"]["median_us"],
        ),
    }
    worst = min(ratios["DeviceCodeCredential / nbauth"], ratios["ClientSecretCredential / nbauth"])
    row.data = {
        "stats": stats,
        "ratios": ratios,
        "timer_overhead_ns": round(overhead_ns),
        "identity_requests_while_timing": network_calls,
        "rounds": rounds,
    }
    nb_stats = stats["nbauth get_token"]
    row.nbauth = f"median {fmt_us(nb)}, p99 {fmt_us(nb_stats['p99_us'])} (n={nb_stats['n']:,})"
    row.baseline = (
        f"DeviceCodeCredential {fmt_us(dcc)} ({ratios['DeviceCodeCredential / nbauth']}x), "
        f"ClientSecretCredential {fmt_us(csc)} ({ratios['ClientSecretCredential / nbauth']}x), "
        f"msal {fmt_us(msal_median)} ({ratios['msal / nbauth']}x)"
    )
    row.status = verdict(worst >= CACHED_TARGET_RATIO and network_calls == 0)
    row.notes.append(
        f"each sample includes ~{overhead_ns:.0f} ns of timer and loop overhead (not subtracted)"
    )
    if network_calls:
        row.status = FAIL
        row.notes.append(f"{network_calls} identity requests during timing: not all cache hits")
    return row


def _sign_in_many(bench: S.Bench, count: int):
    """A Session whose msal cache holds `count` accounts, each signed in by device code; the
    last one is current. Accounts 2..count are the seeded bench users."""
    session = S.nbauth_session()
    S.nbauth_sign_in(session, bench.admin, S.ALICE)
    for i in range(count - 1):
        S.nbauth_sign_in(session, bench.admin, S.extra_username(i))
    return session


def _silent(app, account):
    return lambda: app.acquire_token_silent([S.ARM_SCOPE], account)


def _stock_msal_copy(bench: S.Bench, cache):
    """A plain msal application over a plain msal cache holding a copy of `cache`'s entries.

    nbauth's session cache may be a subclass (persistence); msal is compared as people use it.
    Returns None when `cache` cannot be serialized (then it is msal's own in-memory cache).
    """
    import msal

    serialize = getattr(cache, "serialize", None)
    if serialize is None:
        return None
    copy = msal.SerializableTokenCache()
    copy.deserialize(serialize())
    return S.msal_app(bench.info, token_cache=copy)


def measure_accounts_scaling(bench: S.Bench) -> Row:
    """Accounts scaling: cached get_token with 1, 100 and 1000 accounts in the session's cache.

    One Session per tier, all alive at once so the tiers are timed in interleaved rounds (the
    machine's noise then hits every tier alike). msal is timed twice: as shipped (a plain msal
    cache holding the same entries) and on the nbauth session's own msal application, i.e. on
    the cache nbauth's slow path (new scopes, refreshes, silent sign-ins) goes through.
    """
    tiers = ACCOUNT_TIERS if not bench.quick else (1, 10, 100)
    row = Row(
        "accounts-scaling",
        f"`get_token` with {', '.join(map(str, tiers))} accounts in the cache",
        "msal acquire_token_silent (plain msal cache with the same accounts)",
        f"nbauth flat within {round((ACCOUNTS_FLATNESS - 1) * 100)}%",
    )
    S.fast_device_codes(bench.admin)
    started = time.perf_counter()
    contenders = {}
    sessions = []
    msal_calls = bench.scaled(1_000, 300)
    for count in tiers:
        session = _sign_in_many(bench, count)
        sessions.append(session)
        cred = session.credential()
        cred.get_token(S.ARM_SCOPE)
        username = session.account.username
        app = session.public_client(
            f"{bench.info['authority_host']}/organizations", S.AZURE_CLI_CLIENT_ID
        )
        cached_accounts = len(app.get_accounts())
        if cached_accounts != count:
            raise RuntimeError(
                f"expected {count} accounts in the msal cache, found {cached_accounts}"
            )
        stock = _stock_msal_copy(bench, app.token_cache) or app
        contenders[f"nbauth {count}"] = (
            lambda cred=cred: cred.get_token(S.ARM_SCOPE),
            bench.scaled(10_000, 3_000),
        )
        contenders[f"msal {count}"] = (
            _silent(stock, stock.get_accounts(username=username)[0]),
            msal_calls,
        )
        contenders[f"msal on nbauth's cache {count}"] = (
            _silent(app, app.get_accounts(username=username)[0]),
            # Up to milliseconds a call with 1000 accounts: fewer calls, still a stable median.
            max(50, msal_calls // count),
        )
    setup_s = time.perf_counter() - started
    bench.admin.clear_requests()
    samples = interleaved(contenders, bench.scaled(10, 2))
    network_calls = len(S.identity_requests(bench.admin))
    for session in sessions:
        session.close()

    stats = {name: summarize_ns(values) for name, values in samples.items()}
    nb = [stats[f"nbauth {c}"]["median_us"] for c in tiers]
    ms = [stats[f"msal {c}"]["median_us"] for c in tiers]
    on_nb = [stats[f"msal on nbauth's cache {c}"]["median_us"] for c in tiers]
    spread = round(max(nb) / min(nb), 3)
    row.data = {
        "stats": stats,
        "nbauth_max_over_min": spread,
        "msal_max_over_min": round(max(ms) / min(ms), 3),
        "msal_on_nbauth_cache_max_over_min": round(max(on_nb) / min(on_nb), 3),
        "setup_s": round(setup_s, 1),
        "identity_requests_while_timing": network_calls,
    }
    row.nbauth = " / ".join(fmt_us(v) for v in nb) + f" (max/min {spread:.2f})"
    row.baseline = (
        "msal " + " / ".join(fmt_us(v) for v in ms) + f" (max/min {max(ms) / min(ms):.2f})"
    )
    row.status = verdict(spread <= ACCOUNTS_FLATNESS)
    if network_calls:
        row.status = FAIL
        row.notes.append(f"{network_calls} identity requests during timing: not all cache hits")
    row.notes.append(
        "msal acquire_token_silent on the nbauth session's own msal cache (what nbauth's slow "
        "path uses: new scopes, refreshes, silent sign-ins): "
        + " / ".join(fmt_us(v) for v in on_nb)
        + f" (max/min {max(on_nb) / min(on_nb):.2f})"
    )
    row.notes.append(
        f"signing in {sum(tiers)} accounts by device code took {setup_s:.1f} s (not timed)"
    )
    return row
