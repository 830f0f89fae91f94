"""Worker credentials without Dask (issue 13): the loopback relay, the identity export.

Real processes all the way: multiprocessing with fork and spawn, ProcessPoolExecutor, joblib's
loky, a subprocess handed a pickled credential, azure-identity's DefaultAzureCredential in a
subprocess through the export. The kernel is this test process, signed in to the emulator.
"""

from __future__ import annotations

import gc
import json
import multiprocessing
import os
import pickle
import subprocess
import sys
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from urllib.parse import urlencode

import _worker_tasks as tasks
import cloudpickle
import pytest
import requests
from _core_fixtures import (  # noqa: F401 - the *_fixture names register fixtures
    ALICE,
    ARM_SCOPE,
    GRAPH_SCOPE,
    STORAGE_SCOPE,
    admin_fixture,
    assert_no_secret_in,
    clock_fixture,
    issued_secrets,
    jwt_claims,
    nbsession_fixture,
    sign_in,
    token_requests,
)
from _emulator_process import AZURE_CLI_CLIENT_ID, subprocess_env
from _grant_fixtures import kernel_fixture, wait_for_next_push  # noqa: F401 - fixture
from _service_fixtures import service_env_fixture  # noqa: F401 - fixture
from azure.core.credentials import AccessToken, AccessTokenInfo, SupportsTokenInfo, TokenCredential
from azure.core.credentials_async import AsyncTokenCredential
from azure.core.exceptions import ClientAuthenticationError

import nbauth
from nbauth._errors import AuthenticationRequired, ConfigurationError
from nbauth._grants import grants_for

KEY_VAULT_SCOPE = "https://vault.azure.net/.default"


@pytest.fixture
def alice(kernel, admin):
    sign_in(kernel, admin, ALICE)
    return kernel


def kernel_digest(session, scope: str) -> str:
    return tasks.digest(session.credential().get_token(scope).token)


def relay_get(cred, path: str, headers: dict | None = None) -> requests.Response:
    url = cred._source[1]
    with requests.Session() as http:
        http.trust_env = False
        return http.get(url + path, headers=headers or {}, timeout=10)


# -- the handle --------------------------------------------------------------------------------


def test_implements_azure_cores_protocols_and_pickles_into_a_handle(alice, admin):
    cred = nbauth.worker_credential(STORAGE_SCOPE)
    acred = nbauth.async_worker_credential(STORAGE_SCOPE)
    assert isinstance(cred, TokenCredential) and isinstance(cred, SupportsTokenInfo)
    assert isinstance(acred, AsyncTokenCredential)
    assert cred.scopes == (STORAGE_SCOPE,)

    token = cred.get_token(STORAGE_SCOPE)
    info = cred.get_token_info(STORAGE_SCOPE)
    assert isinstance(token, AccessToken) and isinstance(info, AccessTokenInfo)
    assert token.token == info.token == alice.credential().get_token(STORAGE_SCOPE).token
    assert jwt_claims(token.token)["aud"] == "https://storage.azure.com"
    assert info.token_type == "Bearer" and info.refresh_on <= info.expires_on
    # azure-core is told an expiry 30 s before the token's own (HANDOVER_MAX_S; +1 s when a
    # second ticked during the request), so it moves to the kernel's next token in time.
    assert jwt_claims(token.token)["exp"] - info.expires_on in (30, 31)
    assert token.expires_on == info.expires_on

    blobs = [pickle.dumps(cred), cloudpickle.dumps(cred), pickle.dumps(acred)]
    assert all(len(blob) <= 2048 for blob in blobs)
    # No token of any kind in the pickle, nor in what is shown of the credential.
    shown = [repr(cred), str(cred), repr(acred), repr(token), repr(info)]
    assert_no_secret_in([b.decode("latin-1") for b in blobs] + shown, issued_secrets(admin))
    secret = cred._source[2]
    assert all(secret not in text for text in shown)
    assert "127.0.0.1" in repr(cred)

    again = pickle.loads(blobs[0])
    assert again.get_token(STORAGE_SCOPE).token == token.token


def test_only_its_own_scopes(alice):
    cred = nbauth.worker_credential(STORAGE_SCOPE)
    for scopes in [(ARM_SCOPE,), (STORAGE_SCOPE, ARM_SCOPE), ()]:
        with pytest.raises(ClientAuthenticationError) as caught:
            cred.get_token(*scopes)
        assert STORAGE_SCOPE in str(caught.value)  # names what it allows
    with pytest.raises(ClientAuthenticationError, match="claims challenge"):
        cred.get_token(STORAGE_SCOPE, claims='{"access_token":{}}')
    # In another process too (the check is the credential's, not the kernel's).
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        name, text = pool.submit(tasks.error_of, cred, GRAPH_SCOPE).result(60)
    assert name == "AuthenticationError" and STORAGE_SCOPE in text and GRAPH_SCOPE in text


def test_same_scopes_share_one_grant(alice):
    first = nbauth.worker_credential(STORAGE_SCOPE)
    second = nbauth.worker_credential(STORAGE_SCOPE)
    other = nbauth.worker_credential(STORAGE_SCOPE, ARM_SCOPE)
    assert first._grant_id == second._grant_id != other._grant_id
    assert len(grants_for(alice).summaries()) == 2


# -- the relay ---------------------------------------------------------------------------------


def test_relay_refuses_without_the_secret_a_wrong_one_and_other_scopes(alice):
    cred = nbauth.worker_credential(STORAGE_SCOPE)
    grant, secret = cred._grant_id, cred._source[2]
    ok = "/token?" + urlencode({"grant": grant, "scope": STORAGE_SCOPE})
    other = "/token?" + urlencode({"grant": grant, "scope": ARM_SCOPE})
    header = "X-Nbauth-Grant-Secret"

    assert cred._source[1].startswith("http://127.0.0.1:")
    assert relay_get(cred, ok).status_code == 401
    assert relay_get(cred, ok, {header: secret[:-1] + "x"}).status_code == 401
    assert relay_get(cred, ok, {header: ""}).status_code == 401
    refused = relay_get(cred, other, {header: secret})
    assert refused.status_code == 403 and STORAGE_SCOPE in refused.json()["message"]
    answer = relay_get(cred, ok, {header: secret})
    assert answer.status_code == 200
    body = answer.json()
    assert body["access_token"] == alice.credential().get_token(STORAGE_SCOPE).token
    assert body["refresh_on"] <= body["expires_on"]
    # Refusals carry no token; the relay serves nothing else.
    for response in (refused, relay_get(cred, ok)):
        assert "access_token" not in response.text
    assert relay_get(cred, "/").status_code == 404

    grants_for(alice).close()  # what the session's end does (or the kernel process's)
    with pytest.raises(requests.ConnectionError):
        relay_get(cred, ok, {header: secret})


def test_the_memory_scan_sees_into_what_the_collector_does_not_track():
    """The canary audit's memory scan (run in every worker and the scheduler) finds a secret
    held only in a dict of strings, which the collector does not track (Dask's scheduler keeps
    its worker plugins pickled in one), and in a tuple of strings."""
    secret = os.urandom(24).hex()
    masked = [tasks.mask(secret), tasks.mask(secret[::-1])]
    holder = [{"plugin": "x" + secret}, ("x" + secret[::-1], "y")]
    del secret
    gc.collect()  # the collector stops tracking the tuple too
    assert not any(gc.is_tracked(item) for item in holder)
    assert tasks.secrets_in_memory(masked) == [0, 1]
    assert holder


def test_a_secret_goes_to_loopback_only():
    from nbauth._worker_credential import WorkerCredential

    for place in ("http://10.0.0.1:8080", "https://127.0.0.1:8080", "http://localhost:80"):
        with pytest.raises(ValueError, match="127.0.0.1"):
            WorkerCredential("g", (STORAGE_SCOPE,), ("relay", place, "secret"))


def test_processes_get_the_kernels_token_fork_spawn_pool_loky(alice):
    import joblib

    cred = nbauth.worker_credential(STORAGE_SCOPE)
    expected = kernel_digest(alice, STORAGE_SCOPE)
    results = []
    for method in ("fork", "spawn"):
        context = multiprocessing.get_context(method)
        with context.Pool(2) as pool:
            results += pool.starmap(tasks.token_digest, [(cred, STORAGE_SCOPE)] * 4)
        with ProcessPoolExecutor(2, mp_context=context) as pool:
            results += list(pool.map(tasks.token_digest, [cred] * 4, [STORAGE_SCOPE] * 4))
    results += joblib.Parallel(n_jobs=2, backend="loky")(
        joblib.delayed(tasks.token_digest)(cred, STORAGE_SCOPE) for _ in range(4)
    )
    assert {mark for mark, _ in results} == {expected}
    assert os.getpid() not in {pid for _, pid in results}
    assert len({pid for _, pid in results}) >= 4  # really other processes


def test_async_twin_in_another_process(alice):
    acred = nbauth.async_worker_credential(STORAGE_SCOPE)
    expected = kernel_digest(alice, STORAGE_SCOPE)
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        assert pool.submit(tasks.async_token_digest, acred, STORAGE_SCOPE).result(60) == expected


def test_a_subprocess_handed_the_pickle(alice, admin):
    cred = nbauth.worker_credential(STORAGE_SCOPE)
    code = (
        "import pickle, sys, hashlib\n"
        "cred = pickle.loads(sys.stdin.buffer.read())\n"
        "print(hashlib.sha256(cred.get_token(sys.argv[1]).token.encode()).hexdigest())\n"
        "mods = [m for m in ('msal', 'requests', 'nbauth._session', 'distributed') if m in sys.modules]\n"
        "print(','.join(mods))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, STORAGE_SCOPE],
        input=pickle.dumps(cred),
        capture_output=True,
        env=clean_env(),
        timeout=60,
    )
    assert done.returncode == 0, done.stderr.decode()
    digest, modules = done.stdout.decode().splitlines()
    assert digest == kernel_digest(alice, STORAGE_SCOPE)
    assert modules == ""  # the worker side is light: no msal, requests, session, Dask
    assert_no_secret_in([done.stderr.decode()], issued_secrets(admin))


def test_refreshes_one_request_per_scope_per_cycle_and_no_expired_token(kernel, admin):
    admin.settings(access_token_lifetime_s=4)  # refreshed every 2 s
    sign_in(kernel, admin, ALICE)
    cred = nbauth.worker_credential(STORAGE_SCOPE, ARM_SCOPE)
    admin.clear_requests()
    with ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("spawn")) as pool:
        jobs = [
            pool.submit(tasks.watch_tokens, cred, [STORAGE_SCOPE, ARM_SCOPE], 6.5) for _ in "ab"
        ]
        watched = [job.result(60) for job in jobs]
    summary = wait_for_next_push(kernel)  # counted right after a push: 2 s before the next
    requests_made = token_requests(admin)

    assert all(w["expired"] == w["told_late"] == 0 and w["calls"] > 50 for w in watched)
    for scope in (STORAGE_SCOPE, ARM_SCOPE):
        seen = [mark for w in watched for mark, _, _ in w["seen"][scope]]
        assert len(set(seen)) >= 3  # the job spanned at least 2 refresh cycles
    # Exactly one request per scope per refresh cycle, all the kernel's, none a worker's.
    assert summary.refreshes >= 3
    assert len(requests_made) == 2 * summary.refreshes
    assert {(r["grant_type"], r["client_id"]) for r in requests_made} == {
        ("refresh_token", AZURE_CLI_CLIENT_ID)
    }


def test_logout_mid_job_ends_it_within_two_seconds(alice, tmp_path):
    cred = nbauth.worker_credential(STORAGE_SCOPE)
    ready = tmp_path / "ready"
    with ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("spawn")) as pool:
        jobs = [pool.submit(tasks.until_refused, cred, STORAGE_SCOPE, 20, str(ready)) for _ in "ab"]
        while not ready.exists():
            time.sleep(0.02)
        logged_out_at = time.time()
        nbauth.logout()
        outcomes = [job.result(30) for job in jobs]
    for when, name, text in outcomes:
        assert when is not None and when - logged_out_at < 2.0
        assert name == "AuthenticationError" and "signed out" in text
    # And in the kernel itself, and for a process started afterwards.
    assert "signed out" in tasks.error_of(cred, STORAGE_SCOPE)[1]
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        assert "signed out" in pool.submit(tasks.error_of, cred, STORAGE_SCOPE).result(60)[1]


# -- bad input ---------------------------------------------------------------------------------


def test_nobody_signed_in_is_said_in_the_notebook(kernel):
    with pytest.raises(AuthenticationRequired, match="%azlogin"):
        nbauth.worker_credential(STORAGE_SCOPE)
    with pytest.raises(AuthenticationRequired, match="%azlogin"):
        nbauth.export_identity()


@pytest.mark.parametrize(
    "scopes",
    [("storage",), ("https://storage.azure.com/.default extra",), ("",), (), ("openid",), (5,)],
)
def test_a_scope_that_is_not_a_scope(alice, admin, scopes):
    admin.clear_requests()
    with pytest.raises(ConfigurationError) as caught:
        nbauth.worker_credential(*scopes)
    assert "scope" in str(caught.value)
    assert token_requests(admin) == []  # refused before anything was asked for


def test_an_unpicklable_combination_says_what_to_use(alice):
    from azure.identity import ChainedTokenCredential

    chain = ChainedTokenCredential(nbauth.worker_credential(STORAGE_SCOPE), nbauth.credential())
    with pytest.raises(TypeError, match="worker_credential"):
        pickle.dumps(chain)
    with pytest.raises(TypeError, match="worker_credential"):
        cloudpickle.dumps(nbauth.async_credential())
    with pytest.raises(TypeError, match="worker_credential"):
        pickle.dumps({"session": alice, "cred": nbauth.worker_credential(STORAGE_SCOPE)})


KERNEL_SCRIPT = """
import os, pickle, sys, time
from nbauth import _kernel
from nbauth.emulator import EmulatorAdmin
import nbauth

admin = EmulatorAdmin(sys.argv[1])
_kernel.session().login(prompt=lambda p: admin.approve(sys.argv[2], p.user_code))
cred = nbauth.worker_credential(sys.argv[3])
sys.stdout.buffer.write(pickle.dumps(cred))
sys.stdout.flush()
os.close(1)  # the test reads to the end of the pickle
time.sleep(120)
"""


def test_the_kernel_dying_mid_job(emulator, admin):
    """Workers go on with their last token, then fail with a clear error once it expires."""
    admin.settings(access_token_lifetime_s=3)
    kernel = subprocess.Popen(
        [sys.executable, "-c", KERNEL_SCRIPT, emulator["admin_url"], ALICE, STORAGE_SCOPE],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env=subprocess_env(),
    )
    try:
        cred = pickle.loads(kernel.stdout.read())
        token = cred.get_token(STORAGE_SCOPE)
    finally:
        kernel.kill()
        kernel.wait()
    assert cred.get_token(STORAGE_SCOPE).token == token.token  # still valid: still served
    # Past the token's own expiry (azure-core is told an earlier one), with a second to spare.
    time.sleep(max(0.0, tasks.own_expiry(token.token) - time.time()) + 1.5)
    with pytest.raises(ClientAuthenticationError, match="kernel has stopped"):
        cred.get_token(STORAGE_SCOPE)


def clean_env() -> dict[str, str]:
    """A child's environment with none of nbauth's or Azure's variables."""
    env = subprocess_env()
    for name in list(env):
        if name.startswith(("NBAUTH_", "AZURE_", "IDENTITY_", "MSI_")):
            del env[name]
    return env


# -- the identity export -----------------------------------------------------------------------

CHILD_SCRIPT = """
import hashlib, json, sys
from azure.identity import DefaultAzureCredential, ManagedIdentityCredential

out = {}
dac = DefaultAzureCredential()
for scope in sys.argv[1:]:
    out[scope] = hashlib.sha256(dac.get_token(scope).token.encode()).hexdigest()
try:
    ManagedIdentityCredential().get_token("https://graph.microsoft.com/.default")
except Exception as exc:
    out["refused"] = str(exc)
print(json.dumps(out))
"""


def child_env() -> dict[str, str]:
    """What a process started later from the kernel gets, with no Azure variable of the test's
    own, and every other managed-identity probe pointed at a closed loopback port."""
    env = clean_env()
    env["IDENTITY_ENDPOINT"] = os.environ["IDENTITY_ENDPOINT"]
    env["IDENTITY_HEADER"] = os.environ["IDENTITY_HEADER"]
    env["AZURE_POD_IDENTITY_AUTHORITY_HOST"] = os.environ["AZURE_POD_IDENTITY_AUTHORITY_HOST"]
    return env


def test_export_signs_in_default_azure_credential_in_a_subprocess(alice, admin, shell):
    before = {name: os.environ.get(name) for name in ("IDENTITY_ENDPOINT", "IDENTITY_HEADER")}
    endpoint = nbauth.export_identity()
    assert endpoint.startswith("http://127.0.0.1:") and os.environ["IDENTITY_ENDPOINT"] == endpoint
    header = os.environ["IDENTITY_HEADER"]

    done = subprocess.run(
        [sys.executable, "-c", CHILD_SCRIPT, STORAGE_SCOPE, ARM_SCOPE, KEY_VAULT_SCOPE],
        capture_output=True,
        text=True,
        env=child_env(),
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    got = json.loads(done.stdout.splitlines()[-1])
    for scope in (STORAGE_SCOPE, ARM_SCOPE, KEY_VAULT_SCOPE):
        assert got[scope] == kernel_digest(alice, scope)  # the notebook user's own tokens
    assert "exports tokens only for" in got["refused"]  # Graph was not allowed

    # Shown by %azwhoami (never the header); %azlogout ends it and puts the variables back.
    from nbauth._magics import LoginMagics

    shell.register_magics(LoginMagics(shell=shell, session=alice))
    shown = str(nbauth.whoami())
    assert "exported to processes started from this kernel" in shown and endpoint in shown
    assert header not in shown and header not in nbauth.whoami()._repr_html_()
    shell.run_line_magic("azlogout", "")
    assert {n: os.environ.get(n) for n in before} == before
    late = requests.get(
        endpoint,
        params={"resource": "https://storage.azure.com", "api-version": "2019-08-01"},
        headers={"X-IDENTITY-HEADER": header},
        timeout=10,
    )
    assert late.status_code == 410 and "signed out" in late.json()["message"]
    assert_no_secret_in([done.stdout, done.stderr, shown], issued_secrets(admin))


def test_export_serves_only_the_allowed_scopes_and_the_right_header(alice):
    endpoint = nbauth.export_identity([STORAGE_SCOPE])
    header = os.environ["IDENTITY_HEADER"]

    def ask(resource: str, secret: str | None, **extra: str) -> requests.Response:
        params = {"resource": resource, "api-version": "2019-08-01", **extra}
        headers = {"X-IDENTITY-HEADER": secret} if secret is not None else {}
        return requests.get(endpoint, params=params, headers=headers, timeout=10)

    ok = ask("https://storage.azure.com", header)
    assert ok.status_code == 200
    body = ok.json()
    assert body["token_type"] == "Bearer" and body["resource"] == "https://storage.azure.com"
    assert isinstance(body["expires_on"], str) and int(body["expires_on"]) > time.time()
    assert body["access_token"] == alice.credential().get_token(STORAGE_SCOPE).token
    assert ask("https://storage.azure.com", None).status_code == 401
    assert ask("https://storage.azure.com", header + "x").status_code == 401
    assert ask("https://management.azure.com/", header).status_code == 403
    assert ask("https://storage.azure.com", header, client_id="someone").status_code == 400
    assert nbauth.unexport_identity() is True
    assert "IDENTITY_ENDPOINT" not in os.environ and nbauth.unexport_identity() is False


def test_the_kernels_auto_chain_never_takes_its_own_export_for_a_managed_identity(
    kernel, admin, service_env
):
    sign_in(kernel, admin, ALICE)
    nbauth.export_identity()
    from nbauth._methods import managed_identity

    assert managed_identity.endpoint_kind() is None
    signin = nbauth.login("auto")
    assert signin.account.username == ALICE  # the kernel's own account, not "managed identity"
    assert "own export" in signin.report.step("managed_identity").reason
    assert signin.report.step("managed_identity").status == "skipped"


def test_azlogin_export_flag_azwhoami_and_azlogout(shell, magics, admin, nbsession, service_env):
    from IPython.core.error import UsageError
    from IPython.utils.capture import capture_output

    with pytest.raises(UsageError, match="invalid scope value"):
        shell.run_line_magic("azlogin", "--export --export-scope storage")
    assert "IDENTITY_ENDPOINT" not in os.environ  # refused before anything changed

    admin.settings(auto_approve=ALICE, auto_approve_delay_s=0.1)
    with capture_output():
        shell.run_line_magic(
            "azlogin", f"--method device_code --no-wait --export-scope {STORAGE_SCOPE}"
        )
        signin = nbsession.pending
    exported = threading.Event()  # done callbacks run in order: this one after the export's
    signin.add_done_callback(lambda _: exported.set())
    assert exported.wait(30) and signin.status == "succeeded"
    endpoint, header = os.environ["IDENTITY_ENDPOINT"], os.environ["IDENTITY_HEADER"]

    def ask(resource: str) -> requests.Response:
        params = {"resource": resource, "api-version": "2019-08-01"}
        return requests.get(
            endpoint, params=params, headers={"X-IDENTITY-HEADER": header}, timeout=10
        )

    assert ask("https://storage.azure.com").json()["access_token"] == (
        nbsession.credential().get_token(STORAGE_SCOPE).token
    )
    assert ask("https://management.azure.com/").status_code == 403  # only what was allowed
    with capture_output() as captured:
        shell.run_line_magic("azwhoami", "")
    shown = captured.stdout + "".join(str(o.data) for o in captured.outputs)
    assert "exported to processes started from this kernel" in shown and STORAGE_SCOPE in shown
    assert header not in shown

    shell.run_line_magic("azlogout", "")
    assert "IDENTITY_ENDPOINT" not in os.environ and "IDENTITY_HEADER" not in os.environ
    assert ask("https://storage.azure.com").status_code == 410
