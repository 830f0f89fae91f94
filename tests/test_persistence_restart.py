"""Kernel restarts and several kernels, for real: each "kernel" is a new Python process with
its own IPython shell or nbauth session, sharing only the cache directory and the emulator."""

from __future__ import annotations

import json
import time

from _core_fixtures import (  # noqa: F401 - the *_fixture names register fixtures
    ALICE,
    BOB,
    admin_fixture,
    assert_no_secret_in,
    clock_fixture,
    issued_secrets,
    token_requests,
)
from _persistence_fixtures import (  # noqa: F401 - the *_fixture names register fixtures
    ACCOUNTS,
    Approver,
    cache_dir_fixture,
    cached_usernames,
    child_result,
    files_other_than_token_cache,
    persisted_fixture,
    refresh_token_owners,
    run_child,
)

PLAINTEXT_OK = {"NBAUTH_PERSIST_ALLOW_UNENCRYPTED": "1"}


def devicecode_requests(admin) -> list[dict]:
    return [r for r in admin.requests() if r.get("endpoint") == "devicecode"]


IPYTHON_AZLOGIN = """
import contextlib, io
from IPython.core.interactiveshell import InteractiveShell
import nbauth
shell = InteractiveShell.instance()
shell.run_line_magic("load_ext", "nbauth")
out = io.StringIO()
with contextlib.redirect_stdout(out):
    shell.run_line_magic("azlogin", {line!r})
    shell.run_line_magic("azwhoami", "")
account = nbauth.current_account()
emit(
    username=account.username if account else None,
    method=account.method if account else None,
    out=out.getvalue(),
    token_ok=bool(shell.user_ns["credential"].get_token(
        "https://management.azure.com//.default").token),
)
"""


def test_restarted_kernel_process_signs_in_silently_with_azlogin(emulator, admin, cache_dir):
    approver = Approver(admin, ALICE)
    approver.start()
    first = run_child(
        IPYTHON_AZLOGIN.format(line="--persist read_write --allow-unencrypted"),
        emulator=emulator,
        cache_dir=cache_dir,
    )
    result, out1, err1 = child_result(first)
    approver.join(5)
    assert approver.codes, "the first kernel never asked for a code"
    assert result["username"] == ALICE and result["token_ok"]
    assert "To sign in, open" in result["out"]
    assert err1.count("UNENCRYPTED") == 1  # the one visible warning

    # The restarted kernel runs the same notebook, with the setting in its environment.
    admin.clear_requests()
    second = run_child(
        IPYTHON_AZLOGIN.format(line=""),
        emulator=emulator,
        cache_dir=cache_dir,
        extra_env={"NBAUTH_PERSIST": "read_write", **PLAINTEXT_OK},
    )
    result, out2, err2 = child_result(second)
    assert devicecode_requests(admin) == []
    assert len(token_requests(admin)) <= 1
    assert result["username"] == ALICE and result["method"] == "device_code"
    assert result["token_ok"]
    assert result["out"].startswith(f"Signed in as {ALICE}")
    assert "To sign in, open" not in result["out"]
    assert "Persistence:  read_write, NOT encrypted" in result["out"]

    assert_no_secret_in(
        [out1, err1, out2, err2, *files_other_than_token_cache(cache_dir).values()],
        issued_secrets(admin),
    )


KERNEL_SIGNING_IN = """
import pathlib
import msal, nbauth, nbauth._session  # pay the imports before the start line
user = os.environ["TEST_USER"]
go = pathlib.Path(os.environ["TEST_GO"])
while not go.exists():
    time.sleep(0.005)
nbauth.login(
    prompt=lambda p: admin.approve(user, p.user_code),
    persistence="read_write",
    allow_unencrypted=True,
)
s = nbauth.session()
account = s.account
app = s.public_client(account.authority, account.client_id)
msal_account = app.get_accounts(username=user)[0]
scopes = ["https://storage.azure.com/.default", "https://graph.microsoft.com/.default"]
for i in range(6):
    # each forced refresh rotates the refresh token: one more write racing the other kernel
    result = app.acquire_token_silent(
        [scopes[i % 2]], msal_account, force_refresh=True
    )
    assert result and "access_token" in result, "refresh failed"
emit(username=account.username)
"""


def test_two_kernels_signing_in_different_accounts_at_once_both_survive(
    emulator, admin, cache_dir, persisted, tmp_path
):
    go = tmp_path / "go"
    kernels = [
        run_child(
            KERNEL_SIGNING_IN,
            emulator=emulator,
            cache_dir=cache_dir,
            extra_env={"TEST_USER": user, "TEST_GO": str(go)},
        )
        for user in (ALICE, BOB)
    ]
    time.sleep(0.5)  # both started and waiting at the line; correctness does not depend on it
    go.touch()
    results = [child_result(k)[0] for k in kernels]
    assert sorted(r["username"] for r in results) == [ALICE, BOB]

    assert cached_usernames(cache_dir) == {ALICE, BOB}
    assert len(refresh_token_owners(cache_dir)) == 2
    records = json.loads((cache_dir / ACCOUNTS).read_text())["accounts"]
    assert sorted(r["username"] for r in records) == [ALICE, BOB]

    # A third kernel, later, signs either one in without asking anyone.
    third = persisted()
    admin.clear_requests()
    assert third.sign_in_silently(username=ALICE).username == ALICE
    assert third.sign_in_silently(username=BOB).username == BOB
    assert devicecode_requests(admin) == []
    assert_no_secret_in(files_other_than_token_cache(cache_dir).values(), issued_secrets(admin))
