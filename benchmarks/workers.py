"""Worker credentials on a Dask cluster: requests per refresh cycle with 1 / 8 / 32 workers, a
worker's cached ``get_token``, a refresh reaching every worker, and the pickle's size.

Each tier is a real ``distributed.LocalCluster`` of worker processes on loopback (one thread
each, 512 MiB, the loopback guard installed in every worker) driven by this process as the
kernel: signed in by device code, the emulator issuing 8 s tokens so that the kernel refreshes
every ~4 s. Every worker runs a task that asks its `nbauth.worker_credential` for the token
every 20 ms for `WATCH_S` seconds, noting when each new token first reached it and whether a
token it was given had expired. The emulator's log gives each refresh's moment and who asked.

Compared on the same workers: azure-identity's ``DefaultAzureCredential`` with an environment
service principal on each worker (a client secret shipped to every worker, what people do
today), two token lifetimes; and azure-identity's ``DeviceCodeCredential`` signed in in the
kernel and pickled to a worker, which arrives without its tokens and starts a device-code
sign-in there that nobody sees.

The four rows share one run of the tiers (`_tiers`), whichever of them is asked for first.
"""

from __future__ import annotations

import hashlib
import logging
import os
import pickle
import time
from dataclasses import dataclass, field
from typing import Any

from . import _setup as S
from ._result import Row, fmt_ms, fmt_us, verdict
from ._stats import median, summarize_ns, time_calls

TIERS = (1, 8, 32)
QUICK_TIERS = (1, 4)
LIFETIME_S = 8
"""The emulator's access-token lifetime during the watch: the kernel refreshes at half of it,
so a push has 4 s before the previous token expires (an hour's token gives it 5 minutes)."""
WATCH_S = 14.5
"""Long enough for 3 refresh cycles."""
BASELINE_LIFETIME_S = 3
"""The token lifetime for DefaultAzureCredential's cycles (they wait it out)."""
POLL_S = 0.02
PROPAGATION_TARGET_MS = 1000.0
GET_TOKEN_TARGET_US = 2.0
PICKLE_TARGET_BYTES = 2048
DEVICE_CODE_TIMEOUT_S = 4
"""How long the pickled DeviceCodeCredential waits on the worker for a person who never comes."""


# -- what runs on the workers (imported by name there) -----------------------------------------


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()[:16]


def watch_tokens(cred: Any, scope: str, seconds: float, pause: float = POLL_S) -> dict:
    """Ask for the token every `pause` s for `seconds`: when each distinct token was first seen
    (digest -> time), how many calls found no valid token (given an expired one, or refused
    because the one held had expired), how many calls."""
    first_seen: dict[str, float] = {}
    expired = calls = refused = 0
    started = time.time()
    end = started + seconds
    while time.time() < end:
        calls += 1
        try:
            token = cred.get_token(scope)
        except Exception:  # noqa: BLE001 - "expired and the notebook sent no new one"
            refused += 1
        else:
            now = time.time()
            expired += token.expires_on <= now
            first_seen.setdefault(_digest(token.token), now)
        time.sleep(pause)
    return {
        "first_seen": first_seen,
        "expired": expired + refused,
        "calls": calls,
        "started": started,
        "ended": time.time(),
    }


def time_get_token(cred: Any, scope: str, calls: int) -> list[int]:
    """Nanoseconds of each of `calls` cached ``get_token`` calls, in this worker."""
    return time_calls(lambda: cred.get_token(scope), calls)


def set_environment(values: dict[str, str]) -> None:
    os.environ.update(values)


_dac: dict[str, Any] = {}


def default_azure_credential_token(scope: str) -> str:
    """``DefaultAzureCredential`` as a worker keeps it: one per process, asked again later."""
    if "credential" not in _dac:
        from azure.identity import DefaultAzureCredential

        _dac["credential"] = DefaultAzureCredential(disable_instance_discovery=True)
    return _digest(_dac["credential"].get_token(scope).token)


def nobody_sees(verification_uri: str, user_code: str, expires_on: Any) -> None:
    """The device-code prompt on a worker: printed to a log nobody reads, at best."""


def device_code_on_worker(cred: Any, scope: str) -> tuple[str, float]:
    """What a pickled DeviceCodeCredential does on a worker: (outcome, seconds)."""
    logging.getLogger("azure.identity").setLevel(logging.CRITICAL)  # its timeout warning
    started = time.perf_counter()
    try:
        cred.get_token(scope)
        outcome = "a token"
    except Exception as exc:  # noqa: BLE001 - the outcome is what is measured
        outcome = type(exc).__name__
    return outcome, round(time.perf_counter() - started, 1)


# -- the kernel's side ---------------------------------------------------------------------------


@dataclass
class Tier:
    workers: int
    refreshes: int = 0
    token_requests: int = 0
    requesters: list[str] = field(default_factory=list)
    """(grant type, client id) of every token request during the watch."""
    propagation_ms: list[float] = field(default_factory=list)
    """Per refresh: the emulator received the kernel's request -> the last worker has it."""
    missed: int = 0
    """Refreshed tokens some worker never saw (it would have been given an older one)."""
    expired: int = 0
    calls: int = 0
    get_token_ns: list[int] = field(default_factory=list, repr=False)
    baseline_requests_per_cycle: list[int] = field(default_factory=list)
    device_code: dict[str, Any] = field(default_factory=dict)
    pickled: dict[str, int] = field(default_factory=dict)

    def requests_per_cycle(self) -> float | None:
        return round(self.token_requests / self.refreshes, 2) if self.refreshes else None

    def shown_per_cycle(self) -> str:
        value = self.requests_per_cycle()
        return "?" if value is None else f"{value:g}"

    def summary(self) -> dict[str, Any]:
        out = {k: v for k, v in vars(self).items() if k != "get_token_ns"}
        out["requests_per_cycle"] = self.requests_per_cycle()
        if self.get_token_ns:
            out["get_token"] = summarize_ns(self.get_token_ns)
        return out


QUIET_WORKERS = {
    # Dask's statistical profiler samples every worker's threads every 10 ms: with 32 idle
    # workers it alone keeps 2 cores busy, and a broadcast to them takes 1.5-3 s instead of
    # ~70 ms. Its monitors are slowed down for the same reason.
    "distributed.worker.profile.enabled": False,
    "distributed.worker.memory.monitor-interval": "1s",
    "distributed.admin.system-monitor.interval": "1s",
}


def local_cluster(workers: int) -> tuple[Any, Any]:
    import dask
    import distributed

    with dask.config.set(QUIET_WORKERS):  # the nannies pass it on to the workers they start
        cluster = _local_cluster(workers)
    client = distributed.Client(cluster, set_as_default=False)
    client.wait_for_workers(workers, timeout=300)
    client.run(S.install_loopback_guard)
    return cluster, client


def _local_cluster(workers: int) -> Any:
    import distributed

    return distributed.LocalCluster(
        n_workers=workers,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        dashboard_address=None,
        memory_limit="512MiB",
        silence_logs=logging.CRITICAL,  # workers outliving the scheduler at close
    )


def kernel_session(admin):
    """This process as a fresh kernel, signed in as Alice by device code."""
    from nbauth import _kernel

    _kernel.reset_session()
    session = _kernel.session()
    S.nbauth_sign_in(session, admin)
    return session


def _grant_refreshes() -> int:
    import nbauth

    (grant,) = nbauth.whoami().grants
    return grant.refreshes or 0


def wait_for_next_push(timeout: float = 15.0) -> int:
    """Wait until the kernel has pushed its next refresh (none is then in flight)."""
    before = _grant_refreshes()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        now = _grant_refreshes()
        if now > before:
            return now
        time.sleep(0.005)
    raise RuntimeError("the kernel pushed no refresh")


def on_each_worker(client, fn, *args) -> list[Any]:
    """`fn` as a task on every worker at once (a task, not ``client.run``: the worker's event
    loop must stay free to receive the kernel's pushes meanwhile)."""
    workers = sorted(client.scheduler_info()["workers"])
    return client.gather([client.submit(fn, *args, workers=[w], pure=False) for w in workers])


def watch(tier: Tier, client, admin, cred) -> None:
    """Requests per refresh cycle, propagation and expired answers, over `WATCH_S`."""
    # Once first, so that every worker has imported what the watch needs: the watches then
    # start together instead of one after another as each worker pays for its imports.
    on_each_worker(client, watch_tokens, cred, S.STORAGE_SCOPE, 0.0)
    # Counted from just after a push to just after another: no refresh is in flight at either.
    before = wait_for_next_push()
    admin.clear_requests()
    watched = on_each_worker(client, watch_tokens, cred, S.STORAGE_SCOPE, WATCH_S)
    tier.refreshes = wait_for_next_push() - before
    requests = S.token_requests(admin)
    tier.token_requests = len(requests)
    tier.requesters = sorted({f"{r.get('grant_type')} {r.get('client_id')}" for r in requests})
    tier.expired = sum(w["expired"] for w in watched)
    tier.calls = sum(w["calls"] for w in watched)
    # Each new token came from the last refresh request before anyone saw it; it has reached
    # every worker when the last of them first saw it. Left out: a token some worker saw before
    # every worker was watching (Dask starts the tasks one after another), and one first seen
    # in the watch's last second (it may not have had time to reach them all).
    started = max(w["started"] for w in watched)
    ended = min(w["ended"] for w in watched)
    earliest: dict[str, float] = {}
    for w in watched:
        for digest, seen in w["first_seen"].items():
            earliest[digest] = min(seen, earliest.get(digest, seen))
    for digest, first in sorted(earliest.items(), key=lambda kv: kv[1]):
        made = [r["time"] for r in requests if r["time"] <= first]
        if not made or first < started or first > ended - 1.0:
            continue
        seen = [w["first_seen"].get(digest) for w in watched]
        if None in seen:
            tier.missed += 1
            continue
        tier.propagation_ms.append(round((max(seen) - made[-1]) * 1000, 1))


def time_workers(tier: Tier, client, admin, cred, calls: int, max_workers: int = 4) -> None:
    """Cached get_token in up to `max_workers` workers, one at a time, with an hour's token."""
    admin.settings(access_token_lifetime_s=3600)
    wait_for_next_push()
    for worker in sorted(client.scheduler_info()["workers"])[:max_workers]:
        samples = client.submit(
            time_get_token, cred, S.STORAGE_SCOPE, calls, workers=[worker], pure=False
        ).result()
        tier.get_token_ns += samples


def default_azure_credential_cycles(tier: Tier, client, bench: S.Bench, cycles: int = 2) -> None:
    """An environment service principal on each worker: token requests per token lifetime."""
    sp = bench.info["service_principal"]
    client.run(
        set_environment,
        {
            "AZURE_TENANT_ID": sp["tenant_id"],
            "AZURE_CLIENT_ID": sp["client_id"],
            "AZURE_CLIENT_SECRET": sp["client_secret"],
        },
    )
    bench.admin.settings(access_token_lifetime_s=BASELINE_LIFETIME_S)
    scope = "https://storage.azure.com/.default"
    for _ in range(cycles):
        bench.admin.clear_requests()
        on_each_worker(client, default_azure_credential_token, scope)
        requests = S.token_requests(bench.admin, "client_credentials")
        tier.baseline_requests_per_cycle.append(len(requests))
        time.sleep(BASELINE_LIFETIME_S + 1)  # every worker's token has expired


def pickled_device_code(tier: Tier, client, admin) -> None:
    """azure-identity's DeviceCodeCredential, signed in here, pickled to a worker."""
    from azure.identity import DeviceCodeCredential

    cred = DeviceCodeCredential(
        authority=os.environ["AZURE_AUTHORITY_HOST"],
        disable_instance_discovery=True,
        prompt_callback=nobody_sees,
        timeout=DEVICE_CODE_TIMEOUT_S,
    )
    approver = S.start_thread(_approve_next, admin, name="bench-approver")
    token = cred.get_token(S.STORAGE_SCOPE).token  # signed in, holding a token, in the kernel
    approver.join(10)
    pickled = pickle.dumps(cred)
    admin.clear_requests()
    worker = sorted(client.scheduler_info()["workers"])[0]
    outcome, seconds = client.submit(
        device_code_on_worker, cred, S.STORAGE_SCOPE, workers=[worker], pure=False
    ).result()
    requests = [r.get("endpoint") for r in S.identity_requests(admin)]
    tier.device_code = {
        "outcome": outcome,
        "seconds": seconds,
        "device_code_requests": requests.count("devicecode"),
        "token_requests": requests.count("token"),
        "pickled_bytes": len(pickled),
        "pickle_holds_the_token": token.encode() in pickled,
    }


def _approve_next(admin, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for pending in admin.pending():
            admin.approve(S.ALICE, user_code=pending["user_code"])
            return
        time.sleep(0.05)


def pickled_sizes(session, cred) -> dict[str, int]:
    """Sizes of a Dask and a relay worker credential's pickles; raises if one holds the token."""
    import cloudpickle

    import nbauth

    relay = nbauth.worker_credential(S.STORAGE_SCOPE, dask_client=False)
    pickles = {
        "dask pickle": pickle.dumps(cred),
        "dask cloudpickle": cloudpickle.dumps(cred),
        "relay pickle": pickle.dumps(relay),
        "relay cloudpickle": cloudpickle.dumps(relay),
    }
    token = session.credential().get_token(S.STORAGE_SCOPE).token.encode()
    if any(token in data for data in pickles.values()):
        raise RuntimeError("a worker credential's pickle holds the token")
    return {name: len(data) for name, data in pickles.items()}


def run_tier(bench: S.Bench, workers: int, *, calls: int, first: bool = True) -> Tier:
    """One cluster of `workers` worker processes, through every measurement; the ones that
    do not depend on the number of workers (pickles, DeviceCodeCredential) only if `first`."""
    import nbauth
    from nbauth import _kernel

    tier = Tier(workers)
    admin = bench.admin
    S.fast_device_codes(admin)
    cluster, client = local_cluster(workers)
    try:
        admin.settings(access_token_lifetime_s=LIFETIME_S)
        session = kernel_session(admin)
        cred = nbauth.worker_credential(S.STORAGE_SCOPE, dask_client=client)
        watch(tier, client, admin, cred)
        time_workers(tier, client, admin, cred, calls)
        if first:
            tier.pickled = pickled_sizes(session, cred)
        _kernel.reset_session()  # signs out: ends the grant on every worker
        default_azure_credential_cycles(tier, client, bench)
        if first:
            pickled_device_code(tier, client, admin)
    finally:
        _kernel.reset_session()
        client.close()
        cluster.close()
        admin.reset()
    return tier


def bench_tiers(bench: S.Bench) -> tuple[int, ...]:
    return QUICK_TIERS if bench.quick else TIERS


_results: dict[int, dict[int, Tier]] = {}


def _tiers(bench: S.Bench) -> dict[int, Tier]:
    """Every tier, measured once per benchmark run (the four rows share them)."""
    key = id(bench)
    if key not in _results:
        calls = bench.scaled(20_000, 5_000)
        tiers = bench_tiers(bench)
        _results[key] = {n: run_tier(bench, n, calls=calls, first=n == tiers[0]) for n in tiers}
    return _results[key]


def _kernel_get_token_ns(bench: S.Bench, calls: int) -> list[int]:
    """The kernel's own NotebookCredential.get_token, cached, for comparison."""
    session = S.nbauth_session()
    try:
        S.fast_device_codes(bench.admin)
        S.nbauth_sign_in(session, bench.admin)
        cred = session.credential()
        cred.get_token(S.STORAGE_SCOPE)
        return time_calls(lambda: cred.get_token(S.STORAGE_SCOPE), calls)
    finally:
        session.close()


def _slash(values: list[Any]) -> str:
    return " / ".join(str(v) for v in values)


# -- the rows ----------------------------------------------------------------------------------


def measure_requests(bench: S.Bench) -> Row:
    tiers = _tiers(bench)
    sizes = _slash(list(tiers))
    row = Row(
        "worker-refresh-requests",
        f"identity requests per refresh cycle with {sizes} Dask workers",
        "DefaultAzureCredential with an environment service principal on each worker; "
        "azure-identity's pickled DeviceCodeCredential",
        f"{_slash([1] * len(tiers))}",
    )
    per_cycle = [t.requests_per_cycle() for t in tiers.values()]
    shown = [t.shown_per_cycle() for t in tiers.values()]
    requesters = sorted({r for t in tiers.values() for r in t.requesters})
    row.nbauth = (
        f"{_slash(shown)} ({_slash([t.refreshes for t in tiers.values()])} cycles), "
        f"all refresh_token grants from the kernel's client id"
    )
    baseline = [median(t.baseline_requests_per_cycle) for t in tiers.values()]
    device = next((t.device_code for t in tiers.values() if t.device_code), {})
    row.baseline = f"DefaultAzureCredential {_slash([round(b) for b in baseline])}"
    if device:
        row.baseline += (
            f"; pickled DeviceCodeCredential: {device['device_code_requests']} new device code "
            f"on the worker, {device['outcome']} after {device['seconds']:g} s"
        )
    row.data = {"tiers": {n: t.summary() for n, t in tiers.items()}, "requesters": requesters}
    kernel_only = requesters == [f"refresh_token {S.AZURE_CLI_CLIENT_ID}"]
    row.status = verdict(all(p == 1 for p in per_cycle) and kernel_only)
    row.notes.append(
        "LocalCluster worker processes (1 thread, 512 MiB each) on 2 cores; "
        f"{LIFETIME_S} s tokens, so the kernel refreshes every ~{LIFETIME_S // 2} s during a "
        f"{WATCH_S:g} s watch; the emulator's log counts "
        "the requests and names the client"
    )
    row.notes.append(
        "DefaultAzureCredential: AZURE_TENANT_ID/CLIENT_ID/CLIENT_SECRET on every worker, each "
        "worker asks once per token lifetime (a client secret on every worker, too). "
        "DeviceCodeCredential pickles (azure-identity >= 1.16) but without its token cache: on "
        "the worker it starts a new device-code sign-in whose code nobody sees, and fails at "
        f"its timeout ({DEVICE_CODE_TIMEOUT_S} s here, 15 min by default): it cannot work"
    )
    return row


def measure_get_token(bench: S.Bench) -> Row:
    tiers = _tiers(bench)
    row = Row(
        "worker-get-token",
        "`get_token` of a worker credential on a Dask worker, cached (median, p99)",
        "the kernel's own NotebookCredential.get_token",
        f"<= {GET_TOKEN_TARGET_US:g} µs",
    )
    samples = [ns for t in tiers.values() for ns in t.get_token_ns]
    worker = summarize_ns(samples)
    kernel = summarize_ns(_kernel_get_token_ns(bench, bench.scaled(60_000, 10_000)))
    row.nbauth = f"median {fmt_us(worker['median_us'])}, p99 {fmt_us(worker['p99_us'])}"
    row.nbauth += f" (n={worker['n']:,})"
    row.baseline = f"kernel median {fmt_us(kernel['median_us'])}"
    row.data = {
        "worker": worker,
        "kernel": kernel,
        "per_tier": {n: summarize_ns(t.get_token_ns) for n, t in tiers.items()},
    }
    row.status = verdict(worker["median_us"] <= GET_TOKEN_TARGET_US)
    row.notes.append(
        "timed inside up to 4 workers of each cluster, one at a time, in a task; each sample "
        "includes the timer pair (~0.1 µs)"
    )
    return row


def measure_propagation(bench: S.Bench) -> Row:
    tiers = _tiers(bench)
    row = Row(
        "worker-refresh-propagation",
        f"a refresh in the kernel until every worker holds the new token ({_slash(list(tiers))} "
        "workers, worst cycle)",
        "-",
        f"<= {fmt_ms(PROPAGATION_TARGET_MS)}; no worker ever holds an expired token (3 cycles)",
    )
    worst = [max(t.propagation_ms, default=float("nan")) for t in tiers.values()]
    expired = sum(t.expired for t in tiers.values())
    calls = sum(t.calls for t in tiers.values())
    missed = sum(t.missed for t in tiers.values())
    cycles = [len(t.propagation_ms) for t in tiers.values()]
    row.nbauth = (
        f"worst {_slash([fmt_ms(w) for w in worst])}; {expired} expired tokens in {calls:,} "
        f"calls ({_slash(cycles)} cycles)"
    )
    row.baseline = "-"
    row.data = {n: t.summary() for n, t in tiers.items()}
    enough = all(c >= 3 for c in cycles)
    row.status = verdict(
        all(w <= PROPAGATION_TARGET_MS for w in worst) and expired == 0 and missed == 0 and enough
    )
    row.notes.append(
        "from the emulator receiving the kernel's refresh request to the last worker's first "
        f"get_token answered with the new token; workers ask every {POLL_S * 1000:g} ms, so "
        "that much is polling. The push is one Dask broadcast (a worker plugin): with Dask's "
        "profiler at its default (every 10 ms in every worker), 32 idle workers keep 2 cores "
        "busy and a broadcast takes 1.5-3 s; it is off here (QUIET_WORKERS)"
    )
    return row


def measure_pickle(bench: S.Bench) -> Row:
    tiers = _tiers(bench)
    row = Row(
        "worker-credential-pickle",
        "pickled size of a worker credential (pickle / cloudpickle)",
        "azure-identity DeviceCodeCredential, pickled after its sign-in",
        f"<= {PICKLE_TARGET_BYTES // 1024} KiB",
    )
    sizes = next((t.pickled for t in tiers.values() if t.pickled), {})
    device = next((t.device_code for t in tiers.values() if t.device_code), {})
    row.nbauth = (
        f"Dask {sizes.get('dask pickle')} / {sizes.get('dask cloudpickle')} B, relay "
        f"{sizes.get('relay pickle')} / {sizes.get('relay cloudpickle')} B; no token inside"
    )
    holds = "holds" if device.get("pickle_holds_the_token") else "no token inside either"
    row.baseline = f"DeviceCodeCredential {device.get('pickled_bytes')} B ({holds})"
    row.data = {"nbauth": sizes, "device_code": device}
    row.status = verdict(bool(sizes) and max(sizes.values()) <= PICKLE_TARGET_BYTES)
    return row

