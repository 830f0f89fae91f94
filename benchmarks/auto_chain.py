"""Auto chain latency: time to a token on a machine with no CLI, no managed identity and a
cached account.

nbauth's ``auto`` chain against azure-identity's ``DefaultAzureCredential``, both
kept on loopback: managed identity's probe goes to a closed loopback port
(``AZURE_POD_IDENTITY_AUTHORITY_HOST``), no ``IDENTITY_ENDPOINT`` / ``MSI_ENDPOINT``, a PATH
without ``az``, ``azd`` or ``pwsh``, and an audit-hook guard that refuses any other address.

DefaultAzureCredential runs in a child process whose HOME holds azure-identity's own persisted
cache with a signed-in account (written by a DeviceCodeCredential with
``TokenCachePersistenceOptions``), which is what its SharedTokenCacheCredential looks for.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from . import _setup as S
from ._result import ERROR, Row, fmt_ms, verdict
from ._stats import median

BUDGET_MS = 100.0
_CLEARED = (
    "IDENTITY_ENDPOINT",
    "IDENTITY_HEADER",
    "IDENTITY_SERVER_THUMBPRINT",
    "IMDS_ENDPOINT",
    "MSI_ENDPOINT",
    "MSI_SECRET",
    "AZURE_CLIENT_ID",
    "AZURE_CLIENT_SECRET",
    "AZURE_TENANT_ID",
    "AZURE_CLIENT_CERTIFICATE_PATH",
    "AZURE_CLIENT_CERTIFICATE_PASSWORD",
    "AZURE_USERNAME",
    "AZURE_PASSWORD",
    "AZURE_FEDERATED_TOKEN_FILE",
    "AZURE_TOKEN_CREDENTIALS",
    "AZURE_CONFIG_DIR",
)
_CLI_TOOLS = ("az", "azd", "pwsh", "powershell")


def path_without_clis(path: str | None = None) -> str:
    """$PATH minus every directory that holds az, azd or pwsh."""
    dirs = (path if path is not None else os.environ.get("PATH", "")).split(os.pathsep)
    return os.pathsep.join(
        d for d in dirs if d and not any(Path(d, tool).exists() for tool in _CLI_TOOLS)
    )


def no_cli_no_mi_env() -> dict[str, str | None]:
    """Changes that make this machine one with no CLI and no managed identity."""
    changes: dict[str, str | None] = dict.fromkeys(_CLEARED)
    changes["AZURE_POD_IDENTITY_AUTHORITY_HOST"] = f"http://127.0.0.1:{S.closed_loopback_port()}"
    changes["PATH"] = path_without_clis()
    return changes


_CACHE_ACCOUNT = textwrap.dedent(
    """
    import os
    from azure.identity import DeviceCodeCredential, TokenCachePersistenceOptions
    from nbauth.emulator import EmulatorAdmin
    admin = EmulatorAdmin(os.environ['NBAUTH_BENCH_ADMIN_URL'])
    DeviceCodeCredential(
        authority=os.environ['AZURE_AUTHORITY_HOST'], disable_instance_discovery=True,
        cache_persistence_options=TokenCachePersistenceOptions(allow_unencrypted_storage=True),
        prompt_callback=lambda uri, code, expires: admin.approve('alice@contoso.example', code),
    ).authenticate(scopes=['https://management.azure.com/.default'])
    """
)
_DEFAULT_CREDENTIAL = textwrap.dedent(
    """
    import json, sys, time
    from azure.identity import DefaultAzureCredential
    started = time.perf_counter()
    try:
        DefaultAzureCredential(**json.loads(sys.argv[1])).get_token(
            'https://management.azure.com/.default')
        outcome, tried = 'token', []
    except Exception as exc:
        outcome = type(exc).__name__
        # "\tName: why" lines: which credentials it tried (no secrets in them).
        tried = [line.strip().split(':')[0] for line in str(exc).splitlines()
                 if line.startswith('\t')]
    print(json.dumps({'ms': (time.perf_counter() - started) * 1000, 'outcome': outcome,
                      'tried': tried}))
    """
)


def _child(code: str, env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", S.GUARD_SOURCE + code, *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise RuntimeError(f"child process failed: {last[:200]}")
    return done.stdout


def default_azure_credential(bench: S.Bench, runs: int, **kwargs: bool) -> dict:
    """DefaultAzureCredential(**kwargs) in `runs` child processes: ms to its answer, median."""
    home = S.bench_tmpdir("dac-home")
    env = S.child_env({"HOME": str(home), "NBAUTH_BENCH_ADMIN_URL": bench.info["admin_url"]})
    for key, value in no_cli_no_mi_env().items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    S.fast_device_codes(bench.admin)
    _child(_CACHE_ACCOUNT, env)
    times, outcomes, tried = [], set(), []
    for _ in range(runs):
        result = json.loads(_child(_DEFAULT_CREDENTIAL, env, json.dumps(kwargs)).splitlines()[-1])
        times.append(round(result["ms"], 1))
        outcomes.add(result["outcome"])
        tried = result["tried"]
    return {
        "kwargs": kwargs,
        "ms": times,
        "median_ms": median(times),
        "outcomes": sorted(outcomes),
        "tried": tried,
    }


def nbauth_auto(bench: S.Bench, runs: int) -> dict:
    """``login("auto")`` in a kernel that already holds a signed-in account, until a token."""

    def refuse(prompt) -> None:
        raise RuntimeError("the auto chain asked for an interactive sign-in")

    S.fast_device_codes(bench.admin)
    times, chosen, steps = [], set(), {}
    with S.temporary_env(**no_cli_no_mi_env()):
        for _ in range(runs):
            session = S.nbauth_session()
            S.nbauth_sign_in(session, bench.admin)
            started = time.perf_counter()
            signin = session.login("auto", wait=True, prompt=refuse)
            session.credential().get_token(S.ARM_SCOPE)
            times.append(round((time.perf_counter() - started) * 1000, 1))
            report = signin.report  # the chain's own account of itself
            if report is not None:
                chosen.add(str(report.chosen))
                steps = {
                    r.name: [r.status, None if r.duration_ms is None else round(r.duration_ms, 1)]
                    for r in report.steps
                }
            session.close()
    return {"ms": times, "median_ms": median(times), "chosen": sorted(chosen), "steps": steps}


def measure(bench: S.Bench) -> Row:
    row = Row(
        "auto-chain-latency",
        "`auto` chain to a token: no CLI, no managed identity, a cached account",
        "DefaultAzureCredential",
        f"nbauth < {BUDGET_MS:g} ms; report DefaultAzureCredential",
    )
    runs = bench.scaled(5, 2)
    try:
        # With managed identity each run waits out ~5 s of retries: fewer runs, same median.
        dac = default_azure_credential(bench, bench.scaled(3, 1))
        no_mi = default_azure_credential(bench, runs, exclude_managed_identity_credential=True)
    except RuntimeError as exc:
        dac = no_mi = {"error": str(exc)}
        row.baseline = f"DefaultAzureCredential {ERROR}: {exc}"
    else:
        row.baseline = (
            f"DefaultAzureCredential {fmt_ms(dac['median_ms'])} -> {', '.join(dac['outcomes'])}"
            f" ({fmt_ms(no_mi['median_ms'])} without managed identity)"
        )
        row.notes.append(
            "DefaultAzureCredential tried: " + ", ".join(dac["tried"]) + ". Its "
            "ManagedIdentityCredential retries the pod-identity address with backoff (no 1 s "
            "probe once AZURE_POD_IDENTITY_AUTHORITY_HOST is set); its SharedTokenCacheCredential "
            "finds no account because msal records the emulator's host without its port"
        )
    row.data["default_azure_credential"] = dac
    row.data["default_azure_credential_without_managed_identity"] = no_mi
    try:
        nb = nbauth_auto(bench, runs)
    except Exception as exc:  # noqa: BLE001 - keep the DefaultAzureCredential figures shown
        row.nbauth = f"{ERROR}: {type(exc).__name__}: {str(exc)[:160]}"
        row.status = ERROR
    else:
        row.data["nbauth"] = nb
        via = f" via {', '.join(nb['chosen'])}" if nb["chosen"] else ""
        row.nbauth = f"median {fmt_ms(nb['median_ms'])}{via}"
        row.status = verdict(nb["median_ms"] < BUDGET_MS and nb["chosen"] in ([], ["cached"]))
        if nb["steps"]:
            row.notes.append(
                "nbauth auto steps: "
                + ", ".join(
                    f"{name} {status}" + (f" {ms:g} ms" if ms is not None else "")
                    for name, (status, ms) in nb["steps"].items()
                )
            )
    bench.admin.reset()
    row.notes.append(
        "DefaultAzureCredential timed in a child process from construction to its answer "
        "(import excluded); median of 3 (5 without managed identity) processes. nbauth: "
        "login('auto') + get_token in a kernel already signed in. Managed identity's address "
        "is a closed loopback port here, so neither pays the IMDS probe timeout a real "
        "machine without IMDS may pay (nbauth <= 0.5 s, azure-identity <= 1 s)"
    )
    return row
