"""``%azlogin --persist`` / ``--allow-unencrypted``, ``c.LoginMagics.persist`` and the
``%azwhoami`` status line, through a real IPython shell against the emulator."""

from __future__ import annotations

import warnings

import pytest
from _core_fixtures import (  # noqa: F401 - the *_fixture names register fixtures
    ALICE,
    ARM_SCOPE,
    admin_fixture,
    assert_no_secret_in,
    clock_fixture,
    issued_secrets,
)
from _persistence_fixtures import (  # noqa: F401 - the *_fixture names register fixtures
    ACCOUNTS,
    TOKEN_CACHE,
    Approver,
    cache_dir_fixture,
    libsecret_available,
)
from IPython.core.error import UsageError
from IPython.utils.capture import capture_output
from traitlets.config import Config

from nbauth._magics import LoginMagics
from nbauth._persistence import Persistence, PersistenceWarning
from nbauth._session import Session


@pytest.fixture
def kernel(shell, emulator, cache_dir):
    """Factory: a fresh Session (a new kernel) over ``cache_dir`` with its LoginMagics."""
    made = []

    def make(config: Config | None = None) -> tuple[Session, LoginMagics]:
        s = Session(cache_dir=str(cache_dir))
        magics = LoginMagics(shell=shell, session=s, config=config or Config())
        shell.register_magics(magics)
        made.append(s)
        return s, magics

    yield make
    shell.user_ns.pop("credential", None)
    for s in made:
        if s.pending is not None:
            s.pending.cancel()
        s.close()


def azlogin(shell, admin, line: str, username: str | None = ALICE) -> str:
    """Run %azlogin; `username` approves if a code is shown. Returns the captured stdout."""
    approver = Approver(admin, username) if username else None
    if approver:
        approver.start()
    with capture_output() as captured, warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Sign-ins are saved UNENCRYPTED")
        shell.run_line_magic("azlogin", line)
    return captured.stdout


def devicecode_requests(admin) -> list[dict]:
    return [r for r in admin.requests() if r.get("endpoint") == "devicecode"]


def test_persist_flag_then_restart_is_silent(shell, kernel, admin, cache_dir):
    s, _ = kernel()
    out = azlogin(shell, admin, "--persist read_write --allow-unencrypted")
    assert "To sign in, open" in out
    assert s.persistence is Persistence.READ_WRITE
    assert (cache_dir / TOKEN_CACHE).exists() and (cache_dir / ACCOUNTS).exists()

    restarted, _ = kernel()
    admin.clear_requests()
    out = azlogin(shell, admin, "--persist --allow-unencrypted", username=None)
    assert out.startswith(f"Signed in as {ALICE}")
    assert devicecode_requests(admin) == []
    assert restarted.account.username == ALICE
    assert shell.user_ns["credential"].get_token(ARM_SCOPE).token

    with capture_output() as captured:
        shell.run_line_magic("azwhoami", "")
    shown = captured.outputs[0].data
    assert "Persistence:  read_write, NOT encrypted" in shown["text/plain"]
    assert "NOT encrypted" in shown["text/html"]
    assert_no_secret_in([out, *shown.values()], issued_secrets(admin))


def test_reauth_restart_asks_again_naming_the_account(shell, kernel, admin, cache_dir):
    kernel()
    azlogin(shell, admin, "--persist reauth")
    assert not (cache_dir / TOKEN_CACHE).exists()

    restarted, _ = kernel()
    admin.clear_requests()
    out = azlogin(shell, admin, "--persist reauth")
    assert f"Sign in as {ALICE}." in out
    assert len(devicecode_requests(admin)) == 1
    assert restarted.account.username == ALICE


def test_config_setting_chooses_the_strategy(shell, kernel, admin, cache_dir):
    config = Config()
    config.LoginMagics.persist = "read_write"
    config.LoginMagics.allow_unencrypted = True
    s, magics = kernel(config)
    assert magics.persist == "read_write" and magics.allow_unencrypted is True
    azlogin(shell, admin, "")
    assert s.persistence is Persistence.READ_WRITE
    assert (cache_dir / TOKEN_CACHE).exists()
    # the flag beats the setting
    azlogin(shell, admin, "--persist none", username=None)
    assert s.persistence is Persistence.NONE


def test_unknown_strategy_is_a_usage_error(shell, kernel, admin):
    kernel()
    with pytest.raises(UsageError, match="--persist must be one of none, read_write, reauth"):
        azlogin(shell, admin, "--persist forever", username=None)
    assert devicecode_requests(admin) == []


@pytest.mark.skipif(libsecret_available(), reason="this machine can encrypt the cache")
def test_persist_without_encryption_or_opt_in_is_a_usage_error(shell, kernel, admin, cache_dir):
    s, _ = kernel()
    with pytest.raises(UsageError) as caught:
        azlogin(shell, admin, "--persist", username=None)
    assert "--allow-unencrypted" in str(caught.value)
    assert s.persistence is Persistence.NONE and s.account is None
    assert devicecode_requests(admin) == []
    assert not (cache_dir / TOKEN_CACHE).exists()


def test_symlinked_cache_directory_is_a_usage_error(shell, kernel, admin, cache_dir, tmp_path):
    real = tmp_path / "real"
    real.mkdir(mode=0o700)
    cache_dir.symlink_to(real, target_is_directory=True)
    kernel()
    with pytest.raises(UsageError, match="symbolic link"):
        azlogin(shell, admin, "--persist read_write --allow-unencrypted", username=None)
    assert list(real.iterdir()) == []


def test_tightening_a_loose_cache_warns_visibly(shell, kernel, admin, cache_dir):
    import os

    cache_dir.mkdir(mode=0o755)
    os.chmod(cache_dir, 0o755)
    kernel()
    with pytest.warns(PersistenceWarning, match="changed it to 700"):
        azlogin(shell, admin, "--persist reauth")
