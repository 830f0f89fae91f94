"""Saved sign-ins under pressure (issue 10, items 3, 4 and 10).

- Sign-out removes this kernel's accounts from every cache it saved to, whatever the strategy
  is now (item 3).
- Another process that damages, empties or deletes the cache does not sign this kernel out:
  the kernel's memory is the truth and the file is rewritten from it (item 4).
- A bad ``$NBAUTH_PERSIST`` / ``$NBAUTH_PERSIST_ALLOW_UNENCRYPTED`` is one line naming the
  variable, and signing out still works (item 10).

"Another process" is simulated by doing what it would do to the files: truncate, rewrite,
delete.
"""

from __future__ import annotations

import json
import shutil
import warnings

import pytest
from _core_fixtures import (  # noqa: F401 - the *_fixture names register fixtures
    ALICE,
    ARM_SCOPE,
    BOB,
    GRAPH_SCOPE,
    STORAGE_SCOPE,
    admin_fixture,
    approving_prompt,
    assert_no_secret_in,
    clock_fixture,
    issued_secrets,
    sign_in,
    token_requests,
)
from _persistence_fixtures import (  # noqa: F401 - the *_fixture names register fixtures
    ACCOUNTS,
    TOKEN_CACHE,
    Approver,
    cache_dir_fixture,
    cached_usernames,
    persisted_fixture,
)
from IPython.utils.capture import capture_output

import nbauth
from nbauth._errors import ConfigurationError
from nbauth._kernel import reset_session
from nbauth._magics import AccountMagics, LoginMagics
from nbauth._persistence import PersistenceWarning
from nbauth._session import Session


def devicecode_requests(admin) -> list[dict]:
    return [r for r in admin.requests() if r.get("endpoint") == "devicecode"]


def persistence_warnings(caught) -> list[str]:
    return [str(w.message) for w in caught if issubclass(w.category, PersistenceWarning)]


def saved_records(directory) -> set[str]:
    path = directory / ACCOUNTS
    if not path.exists():
        return set()
    return {r["username"] for r in json.loads(path.read_text())["accounts"]}


def saved_token_owners(directory) -> set[str]:
    """Whose refresh tokens, access tokens and accounts the token cache file holds."""
    path = directory / TOKEN_CACHE
    if not path.exists():
        return set()
    data = json.loads(path.read_text())
    return {
        entry["home_account_id"]
        for kind in ("RefreshToken", "AccessToken", "IdToken", "Account")
        for entry in data.get(kind, {}).values()
    }


def run_cell(shell, line: str) -> str:
    """What the person sees for a cell: its output and, if it failed, the error as shown."""
    with capture_output() as captured, warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Sign-ins are saved UNENCRYPTED")
        shell.run_cell(line, store_history=False)
    shown = [o.data.get("text/plain", "") + "\n" for o in captured.outputs]
    return captured.stdout + "".join(shown) + captured.stderr


@pytest.fixture
def kernel(shell, emulator, cache_dir):
    """A fresh Session saving to ``cache_dir`` (when told to), with its magics registered."""
    s = Session(cache_dir=str(cache_dir))
    shell.register_magics(LoginMagics(shell=shell, session=s))
    yield s
    shell.user_ns.pop("credential", None)
    if s.pending is not None:
        s.pending.cancel()
    s.close()


# -- item 3: sign-out removes what this kernel saved, whatever the strategy is now ------------


def test_azlogout_removes_what_was_saved_before_persist_none(shell, kernel, admin, cache_dir):
    """The issue's steps: the plaintext warning says `%azlogout` removes the saved sign-in."""
    approver = Approver(admin, ALICE)
    approver.start()
    run_cell(shell, "%azlogin --persist read_write --allow-unencrypted")
    alice = kernel.account.home_account_id
    assert alice in saved_token_owners(cache_dir) and saved_records(cache_dir) == {ALICE}
    run_cell(shell, "%azlogin --persist none")
    assert kernel.account.username == ALICE

    out = run_cell(shell, "%azlogout --all")
    assert "Signed out of every account" in out
    assert saved_token_owners(cache_dir) == set()
    assert saved_records(cache_dir) == set()
    secrets = [s for s in issued_secrets(admin) if len(s) >= 32]
    assert_no_secret_in([(cache_dir / TOKEN_CACHE).read_text()], secrets)
    assert Session(persistence="read_write", cache_dir=str(cache_dir)).remembered_account() is None


def test_sign_out_cleans_every_directory_the_session_saved_to(persisted, admin, tmp_path):
    first, second = tmp_path / "first", tmp_path / "second"
    s = persisted(cache_dir=first)
    sign_in(s, admin, ALICE)
    sign_in(s, admin, BOB)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PersistenceWarning)
        s.set_persistence("read_write", cache_dir=str(second))
    alice, bob = (a.home_account_id for a in s.accounts())
    for directory in (first, second):
        assert saved_token_owners(directory) == {alice, bob}
        assert saved_records(directory) == {ALICE, BOB}

    s.logout_account(ALICE)
    for directory in (first, second):
        assert saved_token_owners(directory) == {bob}, directory
        assert saved_records(directory) == {BOB}, directory
    s.set_persistence("none")
    s.logout()
    for directory in (first, second):
        assert saved_token_owners(directory) == set(), directory
        assert saved_records(directory) == set(), directory


def test_sign_out_after_reauth_forgets_the_record(persisted, admin, cache_dir):
    s = persisted("reauth")
    sign_in(s, admin, ALICE)
    assert saved_records(cache_dir) == {ALICE}
    s.set_persistence("none")
    s.logout(all=True)
    assert saved_records(cache_dir) == set()
    assert persisted("reauth").remembered_account() is None


def test_sign_out_cleans_the_cache_directory_without_persistence(persisted, admin, cache_dir):
    """A kernel that saves nothing still removes its account from what its directory holds
    (saved there by an earlier kernel), and leaves other people's sign-ins alone."""
    earlier = persisted()
    sign_in(earlier, admin, ALICE)
    sign_in(earlier, admin, BOB)
    bob = earlier.account.home_account_id

    s = Session(cache_dir=str(cache_dir))
    sign_in(s, admin, ALICE)
    s.logout()
    assert saved_token_owners(cache_dir) == {bob}
    assert saved_records(cache_dir) == {BOB}


def test_sign_out_deletes_unreadable_copies_that_hold_the_account(persisted, admin, cache_dir):
    """A damaged cache moved aside, and the temporary file of a writer that died before its
    rename, may still hold the refresh token; nbauth never reads them, so sign-out deletes
    them (and leaves alone those of other accounts)."""
    s = persisted()
    sign_in(s, admin, ALICE)
    text = (cache_dir / TOKEN_CACHE).read_text()
    for name, content in [
        (f".{TOKEN_CACHE}.4242.0badf00d.tmp", text),
        (TOKEN_CACHE, text[: len(text) // 2]),
        (f"{TOKEN_CACHE}.corrupt-20260101T000000Z", '{"someone": "else"}'),
    ]:
        (cache_dir / name).write_text(content)
        (cache_dir / name).chmod(0o600)
    with pytest.warns(PersistenceWarning, match="could not be read"):
        s.credential().get_token(STORAGE_SCOPE)  # moves the damaged file aside
    copies = sorted(p.name for p in cache_dir.iterdir() if TOKEN_CACHE + "." in p.name)
    assert len(copies) == 3, copies

    s.logout()
    left = [p.name for p in cache_dir.iterdir() if TOKEN_CACHE + "." in p.name]
    assert left == [f"{TOKEN_CACHE}.corrupt-20260101T000000Z"]
    secrets = [x for x in issued_secrets(admin) if len(x) >= 32]
    assert_no_secret_in([p.read_text() for p in cache_dir.iterdir() if p.is_file()], secrets)


def test_sign_out_without_persistence_creates_nothing(emulator, admin, tmp_path, cache_dir):
    s = Session(cache_dir=str(tmp_path / "never"))
    sign_in(s, admin, ALICE)
    s.logout(all=True)
    assert not (tmp_path / "never").exists()


# -- item 4: the kernel's memory is the truth -------------------------------------------------


def _truncate(cache_dir):
    path = cache_dir / TOKEN_CACHE
    text = path.read_text()
    path.write_text(text[: len(text) // 2])


def _empty_object(cache_dir):
    (cache_dir / TOKEN_CACHE).write_text("{}")


def _delete_file(cache_dir):
    (cache_dir / TOKEN_CACHE).unlink()


def _delete_directory(cache_dir):
    shutil.rmtree(cache_dir)


DAMAGE = [
    pytest.param(_truncate, id="truncated"),
    pytest.param(_empty_object, id="emptied"),
    pytest.param(_delete_file, id="file-deleted"),
    pytest.param(_delete_directory, id="directory-deleted"),
]


@pytest.mark.parametrize("damage", DAMAGE)
def test_damaged_or_deleted_cache_does_not_sign_the_kernel_out(persisted, admin, cache_dir, damage):
    s = persisted()
    sign_in(s, admin, ALICE)
    damage(cache_dir)
    admin.clear_requests()

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        token = s.credential().get_token(STORAGE_SCOPE)  # a new scope: msal needs the RT
        s.credential().get_token(GRAPH_SCOPE)
    assert token.token
    assert devicecode_requests(admin) == []
    assert [r.get("grant_type") for r in token_requests(admin)] == ["refresh_token"] * 2
    messages = persistence_warnings(caught)
    assert len(messages) == 1, messages
    assert str(cache_dir / TOKEN_CACHE) in messages[0]
    assert "still signed in" in messages[0]

    # The file was rewritten from memory: a restarted kernel signs in silently.
    assert cached_usernames(cache_dir) == {ALICE}
    assert persisted().sign_in_silently().username == ALICE
    assert devicecode_requests(admin) == []


def test_a_kernel_signed_in_from_the_file_survives_its_deletion(persisted, admin, cache_dir):
    """After a restart the tokens came from the file, not from a sign-in in this process."""
    sign_in(persisted(), admin, ALICE)
    restarted = persisted()
    assert restarted.sign_in_silently().username == ALICE
    shutil.rmtree(cache_dir)
    admin.clear_requests()
    with pytest.warns(PersistenceWarning, match="was deleted"):
        assert restarted.credential().get_token(STORAGE_SCOPE).token
    assert devicecode_requests(admin) == []
    assert cached_usernames(cache_dir) == {ALICE}
    assert saved_records(cache_dir) == {ALICE}


def test_other_kernels_sign_ins_still_come_and_go_through_the_file(persisted, admin, cache_dir):
    """Only this kernel's own sign-ins outlive the file; another kernel's sign-out is kept."""
    a, b = persisted(), persisted()
    sign_in(a, admin, ALICE)
    sign_in(b, admin, BOB)
    assert cached_usernames(cache_dir) == {ALICE, BOB}
    b.logout()
    with warnings.catch_warnings():
        warnings.simplefilter("error", PersistenceWarning)  # nothing of a's was lost
        a.credential().get_token(STORAGE_SCOPE)  # a reads the file, then writes its refresh
    assert cached_usernames(cache_dir) == {ALICE}
    assert a.sign_in_silently(username=BOB) is None


def test_damaged_record_file_in_a_live_kernel_is_rewritten(persisted, admin, cache_dir):
    s = persisted("reauth")
    sign_in(s, admin, ALICE)
    (cache_dir / ACCOUNTS).write_text('{"accounts": [')
    with pytest.warns(PersistenceWarning, match="recorded there again"):
        assert s.remembered_account().username == ALICE
    assert saved_records(cache_dir) == {ALICE}
    assert persisted("reauth").remembered_account().username == ALICE


# -- item 10: a bad environment setting is one line, and signing out still works ---------------

BAD_SETTINGS = [
    pytest.param("NBAUTH_PERSIST", "sometimes", "none, read_write, reauth", id="persist"),
    pytest.param("NBAUTH_PERSIST_ALLOW_UNENCRYPTED", "perhaps", "1 or 0", id="allow-unencrypted"),
]


@pytest.fixture
def kernel_session(shell, emulator, cache_dir):
    """The kernel's own session (`nbauth.session()`), made on first use as in a notebook, with
    the magics resolving it themselves."""
    reset_session()
    shell.register_magics(LoginMagics(shell=shell))
    shell.register_magics(AccountMagics(shell=shell))
    yield
    shell.user_ns.pop("credential", None)
    reset_session()


@pytest.mark.parametrize(("variable", "value", "choices"), BAD_SETTINGS)
def test_bad_environment_setting_is_one_line_in_every_magic(
    shell, kernel_session, admin, monkeypatch, variable, value, choices
):
    monkeypatch.setenv(variable, value)
    for line in ("%azwhoami", "%azlogin", "%azlogin --method device_code"):
        out = run_cell(shell, line)
        assert "Traceback" not in out, out
        assert len(out.strip().splitlines()) == 1, out
        assert f"${variable} must be" in out and choices in out and value in out, out
    assert devicecode_requests(admin) == []
    assert nbauth.current_account() is None

    # Signing out needs no persistence choice; the other magics answer as usual.
    assert run_cell(shell, "%azlogout").strip() == "Nobody was signed in."
    assert (
        run_cell(shell, "%azlogout --all").strip() == "Signed out of every account in this kernel."
    )
    for line in ("%azaccount --list", "%azsubscription --list"):
        out = run_cell(shell, line)
        assert "Traceback" not in out and len(out.strip().splitlines()) == 1, out

    # Correcting the variable in the running kernel is enough, as the message says.
    monkeypatch.delenv(variable)
    assert run_cell(shell, "%azwhoami").strip().startswith("Nobody is signed in")


def test_choosing_in_the_kernel_overrides_a_bad_environment_setting(
    shell, kernel_session, admin, monkeypatch
):
    monkeypatch.setenv("NBAUTH_PERSIST", "sometimes")
    approver = Approver(admin, ALICE)
    approver.start()
    out = run_cell(shell, "%azlogin --persist none")
    assert "Traceback" not in out and "UsageError" not in out, out
    assert nbauth.current_account().username == ALICE
    assert "Persistence:  none" in run_cell(shell, "%azwhoami")
    assert run_cell(shell, "%azlogout").strip() == f"Signed out {ALICE}."


@pytest.mark.parametrize(("variable", "value", "choices"), BAD_SETTINGS)
def test_login_with_a_bad_environment_setting_names_it(
    emulator, admin, cache_dir, monkeypatch, variable, value, choices
):
    monkeypatch.setenv(variable, value)
    reset_session()
    try:
        with pytest.raises(ConfigurationError) as caught:
            nbauth.login(prompt=approving_prompt(admin))
        assert f"${variable} must be" in str(caught.value) and choices in str(caught.value)
        assert devicecode_requests(admin) == []
        assert nbauth.session().pending is None
        nbauth.logout(all=True)  # signing out needs no persistence choice
        with pytest.raises(ConfigurationError, match=variable):
            nbauth.session().persistence_status()
    finally:
        reset_session()
