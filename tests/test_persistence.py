"""Staying signed in across kernel restarts, with real msal against the emulator.

A "restart" here is a new `Session` over the same cache directory (it shares nothing in memory
with the old one); tests/test_persistence_restart.py does the same with real new processes.
"""

from __future__ import annotations

import json
import logging
import os
import pickle
import shutil
import warnings

import pytest
from _core_fixtures import (  # noqa: F401 - the *_fixture names register fixtures
    ALICE,
    ARM_SCOPE,
    BOB,
    STORAGE_SCOPE,
    admin_fixture,
    assert_no_secret_in,
    clock_fixture,
    issued_secrets,
    sign_in,
    token_requests,
)
from _persistence_fixtures import (  # noqa: F401 - the *_fixture names register fixtures
    ACCOUNTS,
    TOKEN_CACHE,
    cache_dir_fixture,
    cached_usernames,
    files_other_than_token_cache,
    libsecret_available,
    mode,
    persisted_fixture,
    refresh_token_owners,
)

from nbauth._errors import ConfigurationError
from nbauth._persistence import Persistence, PersistenceWarning
from nbauth._persistence_backends import EncryptionUnavailable
from nbauth._persistence_files import CacheLocationError
from nbauth._session import Session
from nbauth._whoami import whoami

POSIX = os.name == "posix"


def devicecode_requests(admin) -> list[dict]:
    return [r for r in admin.requests() if r.get("endpoint") == "devicecode"]


def persistence_warnings(caught) -> list[str]:
    return [str(w.message) for w in caught if issubclass(w.category, PersistenceWarning)]


# -- restart: silent sign-in ------------------------------------------------------------------


def test_restart_signs_in_the_same_account_silently(persisted, admin):
    first = persisted()
    sign_in(first, admin, ALICE)
    first.credential().get_token(ARM_SCOPE)

    restarted = persisted()
    admin.clear_requests()
    account = restarted.sign_in_silently()
    assert account is not None and account.username == ALICE
    assert account.method == "device_code"  # from the account record, not "cache"
    assert account.home_account_id == first.account.home_account_id
    assert devicecode_requests(admin) == []
    assert len(token_requests(admin)) <= 1
    assert restarted.credential().get_token(ARM_SCOPE).token


def test_restart_with_an_expiring_access_token_costs_exactly_one_refresh(persisted, admin):
    admin.settings(access_token_lifetime_s=120)  # msal refreshes tokens this close to expiry
    sign_in(persisted(), admin, ALICE)

    restarted = persisted()
    admin.clear_requests()
    assert restarted.sign_in_silently().username == ALICE
    assert [r.get("grant_type") for r in token_requests(admin)] == ["refresh_token"]
    assert devicecode_requests(admin) == []


def test_restart_picks_the_account_signed_in_last_and_can_be_told_another(persisted, admin):
    first = persisted()
    sign_in(first, admin, ALICE)
    sign_in(first, admin, BOB)

    restarted = persisted()
    assert restarted.remembered_account().username == BOB
    admin.clear_requests()
    assert restarted.sign_in_silently().username == BOB
    assert restarted.sign_in_silently(username=ALICE).username == ALICE
    assert devicecode_requests(admin) == []


def test_switching_persistence_on_after_signing_in_saves_that_sign_in(emulator, cache_dir, admin):
    s = Session(cache_dir=str(cache_dir))
    sign_in(s, admin, ALICE)
    assert not cache_dir.exists()  # the default saves nothing
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PersistenceWarning)
        s.set_persistence("read_write", allow_unencrypted=True)
    assert cached_usernames(cache_dir) == {ALICE}
    restarted = Session(persistence="read_write", allow_unencrypted=True, cache_dir=str(cache_dir))
    assert restarted.sign_in_silently().username == ALICE


def test_login_takes_the_persistence_option(emulator, cache_dir, admin):
    s = Session(cache_dir=str(cache_dir))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PersistenceWarning)
        sign_in(s, admin, ALICE, persistence="read_write", allow_unencrypted=True)
    assert s.persistence is Persistence.READ_WRITE
    assert cached_usernames(cache_dir) == {ALICE}


def test_sign_out_removes_the_saved_sign_in(persisted, admin, cache_dir):
    first = persisted()
    sign_in(first, admin, ALICE)
    first.logout()
    assert ALICE not in cached_usernames(cache_dir)
    assert refresh_token_owners(cache_dir) == set()
    restarted = persisted()
    assert restarted.remembered_account() is None
    assert restarted.sign_in_silently() is None


def test_persistence_none_after_read_write_stops_saving(persisted, admin, cache_dir):
    s = persisted()
    sign_in(s, admin, ALICE)
    s.set_persistence("none")
    sign_in(s, admin, BOB)
    assert cached_usernames(cache_dir) == {ALICE}
    assert s.persistence_status().describe() == "none (this kernel only)"


# -- encryption -------------------------------------------------------------------------------


@pytest.mark.skipif(libsecret_available(), reason="this machine can encrypt the cache")
def test_unencrypted_cache_is_refused_without_opt_in(emulator, cache_dir, admin):
    s = Session(persistence="read_write", cache_dir=str(cache_dir))
    with pytest.raises(EncryptionUnavailable) as caught:
        sign_in(s, admin, ALICE)
    message = str(caught.value)
    assert isinstance(caught.value, ConfigurationError)
    assert "libsecret" in message
    assert "--allow-unencrypted" in message and "NBAUTH_PERSIST_ALLOW_UNENCRYPTED=1" in message
    assert "--persist reauth" in message
    assert devicecode_requests(admin) == []  # refused before anyone was asked to sign in
    assert not (cache_dir / TOKEN_CACHE).exists()

    # Asked for explicitly, the refusal leaves the session as it was.
    plain = Session(cache_dir=str(cache_dir))
    with pytest.raises(EncryptionUnavailable):
        plain.set_persistence("read_write")
    assert plain.persistence is Persistence.NONE


@pytest.mark.skipif(libsecret_available(), reason="this machine can encrypt the cache")
def test_plaintext_when_allowed_warns_exactly_once_and_is_private(emulator, cache_dir, admin):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")  # nbauth, not Python's registry, must keep it to one
        first = Session(persistence="read_write", allow_unencrypted=True, cache_dir=str(cache_dir))
        sign_in(first, admin, ALICE)
        second = Session(persistence="read_write", allow_unencrypted=True, cache_dir=str(cache_dir))
        second.sign_in_silently()
        sign_in(second, admin, BOB)
    messages = persistence_warnings(caught)
    assert len(messages) == 1, messages
    assert "UNENCRYPTED" in messages[0] and str(cache_dir / TOKEN_CACHE) in messages[0]
    if POSIX:
        assert mode(cache_dir) == 0o700
        for name in (TOKEN_CACHE, ACCOUNTS, ".lock"):
            assert mode(cache_dir / name) == 0o600, name
    status = first.persistence_status()
    assert status.is_encrypted is False and status.storage == "plaintext file"
    info = whoami(first)
    assert info.is_encrypted is False
    assert f"Persistence:  read_write, NOT encrypted: {cache_dir / TOKEN_CACHE}" in str(info)
    assert "NOT encrypted" in info._repr_html_()


def test_whoami_says_when_nothing_is_saved(emulator, cache_dir, admin):
    s = Session(cache_dir=str(cache_dir))
    sign_in(s, admin, ALICE)
    info = whoami(s)
    assert info.is_encrypted is None
    assert "Persistence:  none (this kernel only)" in str(info)
    assert pickle.loads(pickle.dumps(info)).persistence == info.persistence


def test_msal_extensions_stores_plug_in_through_the_same_cache(
    emulator, admin, cache_dir, msal_app, device_sign_in
):
    """The adapter for msal-extensions' stores (libsecret, Keychain, DPAPI), exercised with
    its portable FilePersistence since this machine has no keyring."""
    from msal_extensions import FilePersistence

    from nbauth._persistence_backends import EncryptedBackend, open_token_backend
    from nbauth._persistence_cache import PersistentTokenCache
    from nbauth._persistence_files import CacheDir

    directory = CacheDir(cache_dir)

    def store():
        def make(location: str):
            return FilePersistence(location), "test store"

        backend = open_token_backend(directory, allow_unencrypted=False, encrypted=make)
        cache = PersistentTokenCache()
        cache.attach(backend)
        return backend, cache

    backend, first = store()
    assert isinstance(backend, EncryptedBackend) and backend.storage == "test store"
    device_sign_in(msal_app(token_cache=first), ALICE)
    _, second = store()  # a restarted kernel
    assert [a["username"] for a in msal_app(token_cache=second).get_accounts()] == [ALICE]

    # A damaged keyring entry cannot be moved aside: it is replaced by an empty cache.
    with open(backend.location, "w") as damaged:
        damaged.write("garbage")
    with pytest.warns(PersistenceWarning, match="could not be read"):
        _, third = store()
    assert msal_app(token_cache=third).get_accounts() == []


# -- reauth -----------------------------------------------------------------------------------


def test_reauth_remembers_who_signed_in_but_saves_no_token(persisted, admin, cache_dir):
    first = persisted("reauth")
    sign_in(first, admin, ALICE)
    assert not (cache_dir / TOKEN_CACHE).exists()
    saved = json.loads((cache_dir / ACCOUNTS).read_text())
    (record,) = saved["accounts"]
    assert record["username"] == ALICE
    assert set(record) == {
        "username",
        "home_account_id",
        "authority",
        "client_id",
        "method",
        "tenant_id",
        "saved_at",
    }
    assert_no_secret_in(files_other_than_token_cache(cache_dir).values(), issued_secrets(admin))

    restarted = persisted("reauth")
    assert restarted.remembered_account().username == ALICE
    admin.clear_requests()
    assert restarted.sign_in_silently() is None  # no token: a person signs in again
    assert token_requests(admin) == []
    assert "reauth (remembers who signed in" in restarted.persistence_status().describe()


# -- damage -----------------------------------------------------------------------------------


def _truncated(text: str) -> str:
    return text[: len(text) // 2]


@pytest.mark.parametrize(
    "damage",
    [
        pytest.param(_truncated, id="truncated"),
        pytest.param(lambda text: "\x00\x01 not json at all", id="garbage"),
        pytest.param(lambda text: '{"RefreshToken": 5}', id="wrong-shape"),
        pytest.param(lambda text: "", id="empty"),
        pytest.param(lambda text: text.replace('"expires_on"', '"expires_off"'), id="no-expiry"),
    ],
)
def test_damaged_cache_is_moved_aside_and_the_kernel_keeps_working(
    persisted, admin, cache_dir, damage
):
    sign_in(persisted(), admin, ALICE)
    cache_file = cache_dir / TOKEN_CACHE
    damaged = damage(cache_file.read_text())
    cache_file.write_text(damaged)
    secrets = issued_secrets(admin)

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        restarted = persisted()
        assert restarted.sign_in_silently() is None
    messages = persistence_warnings(caught)
    assert len(messages) == 1, messages
    assert "could not be read" in messages[0] and "%azlogin" in messages[0]
    assert_no_secret_in(messages, secrets)
    (aside,) = [p for p in cache_dir.iterdir() if p.name.startswith(TOKEN_CACHE + ".corrupt-")]
    assert str(aside) in messages[0]
    assert aside.read_text() == damaged  # kept for whoever wants to look, never echoed
    if POSIX:
        assert mode(aside) == 0o600

    # The kernel keeps working: a new sign-in is saved to a good file.
    sign_in(restarted, admin, ALICE)
    assert cached_usernames(cache_dir) == {ALICE}
    assert persisted().sign_in_silently().username == ALICE


def test_damaged_account_record_is_moved_aside(persisted, admin, cache_dir):
    sign_in(persisted(), admin, ALICE)
    (cache_dir / ACCOUNTS).write_text('{"accounts": [')
    with pytest.warns(PersistenceWarning, match="could not be read and was moved"):
        assert persisted().remembered_account() is None
    assert any(p.name.startswith(ACCOUNTS + ".corrupt-") for p in cache_dir.iterdir())


def test_write_failure_turns_persistence_off_and_keeps_the_sign_in(persisted, admin, cache_dir):
    s = persisted()
    sign_in(s, admin, ALICE)
    # The directory disappears under the kernel (and root ignores permission bits, so a
    # read-only directory would prove nothing here).
    shutil.move(cache_dir, cache_dir.with_name("moved"))
    cache_dir.write_text("a file where the directory was")
    with pytest.warns(PersistenceWarning, match="in memory only"):
        token = s.credential().get_token(STORAGE_SCOPE)
    assert token.token
    status = s.persistence_status()
    assert status.problem and "off in this kernel" in status.describe()
    assert s.credential().get_token(STORAGE_SCOPE).token == token.token


# -- refusals ---------------------------------------------------------------------------------


def test_symlinked_cache_file_is_refused(emulator, cache_dir, tmp_path):
    cache_dir.mkdir(mode=0o700)
    target = tmp_path / "somewhere-else.json"
    target.write_text("{}")
    (cache_dir / TOKEN_CACHE).symlink_to(target)
    s = Session(cache_dir=str(cache_dir))
    with pytest.raises(CacheLocationError, match="symbolic link"):
        s.set_persistence("read_write", allow_unencrypted=True)
    assert s.persistence is Persistence.NONE
    assert target.read_text() == "{}"


def test_symlinked_cache_directory_is_refused(emulator, cache_dir, tmp_path):
    real = tmp_path / "real"
    real.mkdir(mode=0o700)
    cache_dir.symlink_to(real, target_is_directory=True)
    for strategy in ("read_write", "reauth"):
        with pytest.raises(CacheLocationError, match="symbolic link"):
            Session(cache_dir=str(cache_dir)).set_persistence(strategy, allow_unencrypted=True)
    assert list(real.iterdir()) == []


def test_unusable_cache_directory_is_a_clear_error(emulator, tmp_path, admin):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    s = Session(cache_dir=str(blocker / "nbauth"))
    with pytest.raises(CacheLocationError, match="cannot use the sign-in cache directory"):
        s.set_persistence("reauth")
    # chosen up front, the error comes at the first sign-in, before anyone is asked
    s = Session(persistence="read_write", allow_unencrypted=True, cache_dir=str(blocker / "x"))
    with pytest.raises(CacheLocationError, match="NBAUTH_CACHE_DIR"):
        sign_in(s, admin, ALICE)
    assert devicecode_requests(admin) == []


# -- several kernels --------------------------------------------------------------------------


def test_two_live_sessions_share_one_cache(persisted, admin, cache_dir):
    """Each sees the other's sign-in (the file is re-read when someone else replaced it), and
    neither write loses the other's account."""
    a, b = persisted(), persisted()
    sign_in(a, admin, ALICE)
    sign_in(b, admin, BOB)
    assert cached_usernames(cache_dir) == {ALICE, BOB}
    admin.clear_requests()
    assert a.sign_in_silently(username=BOB).username == BOB
    assert devicecode_requests(admin) == []
    # a's refresh of alice's token (a write) keeps bob's refresh token on disk
    a.sign_in_silently(username=ALICE, scopes=STORAGE_SCOPE)
    assert len(refresh_token_owners(cache_dir)) == 2


def test_logout_all_ends_only_this_kernels_sign_ins(persisted, admin, cache_dir):
    a, b = persisted(), persisted()
    sign_in(a, admin, ALICE)
    sign_in(b, admin, BOB)
    a.logout(all=True)
    assert cached_usernames(cache_dir) == {BOB}
    restarted = persisted()
    assert restarted.remembered_account().username == BOB
    assert restarted.sign_in_silently(username=ALICE) is None
    assert restarted.sign_in_silently(username=BOB).username == BOB


# -- nothing secret outside the token cache ---------------------------------------------------


def test_no_secret_outside_the_token_cache(persisted, admin, cache_dir, caplog):
    caplog.set_level(logging.DEBUG, logger="nbauth")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        first = persisted()
        sign_in(first, admin, ALICE)
        first.credential().get_token(STORAGE_SCOPE)
        restarted = persisted()
        restarted.sign_in_silently()
        restarted.credential().get_token(ARM_SCOPE)
        texts = [
            str(whoami(restarted)),
            whoami(restarted)._repr_html_(),
            repr(restarted.persistence_status()),
            repr(restarted.remembered_account()),
            repr(restarted),
        ]
    secrets = issued_secrets(admin)
    # The canaries are real: the token cache itself does hold the refresh token.
    cache_text = (cache_dir / TOKEN_CACHE).read_text()
    assert any(s in cache_text for s in secrets if len(s) >= 8)
    assert_no_secret_in(files_other_than_token_cache(cache_dir).values(), secrets)
    assert_no_secret_in([r.getMessage() for r in caplog.records], secrets)
    assert_no_secret_in([str(w.message) for w in caught], secrets)
    assert_no_secret_in(texts, secrets)
