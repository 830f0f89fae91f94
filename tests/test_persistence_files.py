"""The saved-sign-in directory and its files: strategies and settings, 0700/0600, links and
foreign files refused, atomic writes, the cross-process lock (no emulator needed)."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import warnings
from pathlib import Path

import pytest
from _persistence_fixtures import (  # noqa: F401 - the *_fixture names register fixtures
    cache_dir_fixture,
    mode,
)

from nbauth._errors import ConfigurationError
from nbauth._persistence import (
    AccountRecord,
    Persistence,
    Persister,
    default_cache_dir,
)
from nbauth._persistence_files import (
    CacheDir,
    CacheLocationError,
    CacheLockTimeout,
    PersistenceWarning,
)

POSIX = os.name == "posix"
ROOT = POSIX and os.geteuid() == 0


# -- strategies and settings ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("none", Persistence.NONE),
        ("read_write", Persistence.READ_WRITE),
        ("READ-WRITE", Persistence.READ_WRITE),
        (" reauth ", Persistence.REAUTH),
        (Persistence.REAUTH, Persistence.REAUTH),
    ],
)
def test_strategy_names(given, expected):
    assert Persistence.parse(given) is expected
    assert str(expected) == expected.value


def test_unknown_strategy_names_the_choices():
    with pytest.raises(ConfigurationError) as caught:
        Persistence.parse("forever")
    assert "none, read_write, reauth" in str(caught.value)


def test_default_is_none_and_environment_chooses_otherwise(cache_dir, monkeypatch):
    assert Persister(cache_dir=cache_dir).strategy is Persistence.NONE
    monkeypatch.setenv("NBAUTH_PERSIST", "reauth")
    assert Persister(cache_dir=cache_dir).strategy is Persistence.REAUTH
    # an explicit choice beats the environment
    assert Persister("none", cache_dir=cache_dir).strategy is Persistence.NONE


def test_bad_environment_values_name_the_variable(cache_dir, monkeypatch):
    """Raised where the setting is needed, not when the persister (the session) is made:
    signing out must work whatever the environment says."""
    monkeypatch.setenv("NBAUTH_PERSIST", "sometimes")
    persister = Persister(cache_dir=cache_dir)
    assert not persister.saves_records and not persister.saves_tokens
    with pytest.raises(ConfigurationError, match=r"\$NBAUTH_PERSIST must be one of"):
        persister.check()
    with pytest.raises(ConfigurationError, match="none, read_write, reauth; got 'sometimes'"):
        persister.strategy  # noqa: B018 - the property raises
    persister.forget({"someone.tenant"})
    assert not cache_dir.exists()
    # Chosen explicitly, the environment's strategy does not matter.
    assert persister.replaced("reauth").strategy.value == "reauth"

    monkeypatch.setenv("NBAUTH_PERSIST", "read_write")
    monkeypatch.setenv("NBAUTH_PERSIST_ALLOW_UNENCRYPTED", "perhaps")
    with pytest.raises(ConfigurationError, match=r"\$NBAUTH_PERSIST_ALLOW_UNENCRYPTED must be"):
        Persister(cache_dir=cache_dir).check()
    # ... nor the flag when no token is saved, or when it is given.
    Persister("none", cache_dir=cache_dir).check()
    assert Persister(allow_unencrypted=True, cache_dir=cache_dir).allow_unencrypted is True
    monkeypatch.setenv("NBAUTH_PERSIST_ALLOW_UNENCRYPTED", "yes")
    assert Persister(cache_dir=cache_dir).allow_unencrypted is True


def test_cache_dir_default_order(tmp_path, monkeypatch):
    monkeypatch.delenv("NBAUTH_CACHE_DIR", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    assert default_cache_dir() == tmp_path / "home" / ".cache" / "nbauth"
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/is/ignored")
    assert default_cache_dir() == tmp_path / "home" / ".cache" / "nbauth"
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert default_cache_dir() == tmp_path / "xdg" / "nbauth"
    monkeypatch.setenv("NBAUTH_CACHE_DIR", str(tmp_path / "mine"))
    assert default_cache_dir() == tmp_path / "mine"


def test_creating_a_session_touches_no_file(cache_dir):
    from nbauth._session import Session

    s = Session(persistence="read_write", cache_dir=str(cache_dir))
    assert s.persistence is Persistence.READ_WRITE
    assert not cache_dir.exists()


def test_session_with_persistence_from_the_environment_imports_no_msal(tmp_path):
    """``%load_ext nbauth`` creates the kernel's session: with NBAUTH_PERSIST set it still must
    not pay for msal until the first sign-in."""
    env = dict(os.environ, NBAUTH_PERSIST="read_write", NBAUTH_CACHE_DIR=str(tmp_path / "c"))
    code = (
        "import sys, nbauth; s = nbauth.session(); nbauth.whoami(); "
        "print(s.persistence, 'msal' in sys.modules, 'msal_extensions' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    ).stdout.split()
    assert out == ["read_write", "False", "False"]
    assert not (tmp_path / "c").exists()


# -- the directory ----------------------------------------------------------------------------


@pytest.mark.skipif(not POSIX, reason="POSIX modes")
def test_directory_is_created_0700(cache_dir):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a fresh directory needs no warning
        CacheDir(cache_dir / "deeper")
    assert mode(cache_dir / "deeper") == 0o700


@pytest.mark.skipif(not POSIX, reason="POSIX modes")
def test_looser_directory_is_tightened_with_a_warning(cache_dir):
    cache_dir.mkdir(mode=0o755)
    os.chmod(cache_dir, 0o755)
    with pytest.warns(PersistenceWarning, match="readable by other users"):
        CacheDir(cache_dir)
    assert mode(cache_dir) == 0o700


def test_symlinked_directory_is_refused(cache_dir, tmp_path):
    real = tmp_path / "elsewhere"
    real.mkdir(mode=0o700)
    cache_dir.symlink_to(real, target_is_directory=True)
    with pytest.raises(CacheLocationError) as caught:
        CacheDir(cache_dir)
    assert "symbolic link" in str(caught.value) and str(cache_dir) in str(caught.value)
    assert list(real.iterdir()) == []


def test_a_file_where_the_directory_should_be_is_refused(cache_dir):
    cache_dir.write_text("not a directory")
    with pytest.raises(CacheLocationError, match="not a directory"):
        CacheDir(cache_dir)


@pytest.mark.skipif(not ROOT, reason="needs root to create a directory owned by someone else")
def test_directory_of_another_user_is_refused(cache_dir):
    cache_dir.mkdir(mode=0o700)
    os.chown(cache_dir, 4242, 4242)
    with pytest.raises(CacheLocationError, match="belongs to another user"):
        CacheDir(cache_dir)


# -- files ------------------------------------------------------------------------------------


@pytest.mark.skipif(not POSIX, reason="POSIX modes")
def test_writes_are_0600_atomic_and_leave_no_temporary_file(cache_dir):
    d = CacheDir(cache_dir)
    first = d.write("f.json", '{"a": 1}')
    second = d.write("f.json", '{"a": 2}')
    assert d.read("f.json") == ('{"a": 2}', second)
    assert first != second  # a replaced file has a new signature (new inode)
    assert d.signature("f.json") == second
    assert mode(cache_dir / "f.json") == 0o600
    assert sorted(p.name for p in cache_dir.iterdir()) == ["f.json"]


@pytest.mark.skipif(not POSIX, reason="POSIX modes")
def test_looser_file_is_tightened_with_a_warning(cache_dir):
    d = CacheDir(cache_dir)
    d.write("f.json", "{}")
    os.chmod(cache_dir / "f.json", 0o644)
    with pytest.warns(PersistenceWarning, match="changed it to 600"):
        assert d.read("f.json")[0] == "{}"
    assert mode(cache_dir / "f.json") == 0o600


@pytest.mark.skipif(not ROOT, reason="needs root to create a file owned by someone else")
def test_file_of_another_user_is_refused(cache_dir):
    d = CacheDir(cache_dir)
    d.write("f.json", "{}")
    os.chown(cache_dir / "f.json", 4242, 4242)
    with pytest.raises(CacheLocationError, match="belongs to another user"):
        d.read("f.json")


def test_symlinked_file_is_refused_for_reading_and_writing(cache_dir, tmp_path):
    d = CacheDir(cache_dir)
    target = tmp_path / "target.json"
    target.write_text('{"victim": true}')
    (cache_dir / "f.json").symlink_to(target)
    with pytest.raises(CacheLocationError, match="symbolic link"):
        d.read("f.json")
    with pytest.raises(CacheLocationError, match="symbolic link"):
        d.write("f.json", "{}")
    assert target.read_text() == '{"victim": true}'
    assert (cache_dir / "f.json").is_symlink()


def test_symlinked_lock_file_is_refused(cache_dir, tmp_path):
    d = CacheDir(cache_dir)
    (cache_dir / ".lock").symlink_to(tmp_path / "lock-target")
    with pytest.raises(CacheLocationError, match="symbolic link"):
        with d.locked():
            pass
    assert not (tmp_path / "lock-target").exists()


def test_non_regular_file_is_refused(cache_dir):
    d = CacheDir(cache_dir)
    (cache_dir / "f.json").mkdir()
    with pytest.raises((CacheLocationError, IsADirectoryError)):
        d.read("f.json")


def test_oversized_file_counts_as_damage(cache_dir):
    from nbauth import _persistence_files

    d = CacheDir(cache_dir)
    (cache_dir / "f.json").write_bytes(b" " * (_persistence_files.MAX_FILE_BYTES + 1))
    os.chmod(cache_dir / "f.json", 0o600)
    with pytest.raises(ValueError):
        d.read("f.json")


def test_move_aside_keeps_the_file_private_and_unread(cache_dir):
    d = CacheDir(cache_dir)
    d.write("f.json", "broken{")
    aside = d.move_aside("f.json")
    assert aside is not None and aside.name.startswith("f.json.corrupt-")
    assert not (cache_dir / "f.json").exists()
    assert aside.read_text() == "broken{"
    if POSIX:
        assert mode(aside) == 0o600
    again = d.write("f.json", "broken{") and d.move_aside("f.json")
    assert again != aside and again.exists()  # two in the same second do not collide


# -- the lock ---------------------------------------------------------------------------------


def test_lock_is_reentrant_in_a_thread_and_exclusive_across_threads(cache_dir):
    d = CacheDir(cache_dir)
    order: list[str] = []

    def other_thread() -> None:
        with d.locked():
            order.append("b")

    with d.locked():
        with d.locked():  # re-entrant: no self-deadlock
            other = threading.Thread(target=other_thread)
            other.start()
            other.join(0.3)  # it must still be waiting
            order.append("a")
    other.join(5)
    assert order == ["a", "b"]


LOCK_HOLDER = """
import sys, time
from nbauth._persistence_files import CacheDir
with CacheDir(sys.argv[1]).locked():
    print("locked", flush=True)
    time.sleep(float(sys.argv[2]))
"""


def test_lock_is_exclusive_across_processes_and_times_out(cache_dir):
    d = CacheDir(cache_dir)
    holder = subprocess.Popen(
        [sys.executable, "-c", LOCK_HOLDER, str(cache_dir), "30"],
        stdout=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).resolve().parent.parent,
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(CacheLockTimeout):
            with d.locked(timeout=0.2):
                pass
    finally:
        holder.kill()
        holder.wait()
    # The holder died without unlocking: the OS released its lock, nothing stale is left.
    with d.locked(timeout=5):
        pass


# -- the account record -----------------------------------------------------------------------


def test_account_record_round_trip_and_rejects_junk():
    record = AccountRecord(
        username="alice@contoso.example",
        home_account_id="oid.tid",
        authority="https://127.0.0.1:1234/organizations",
        client_id="cid",
        method="device_code",
    )
    assert record.authority_host == "https://127.0.0.1:1234"
    assert record.tenant == "organizations"
    from dataclasses import asdict

    assert AccountRecord.from_json(asdict(record)) == record
    assert AccountRecord.from_json({"username": "x"}) is None
    assert AccountRecord.from_json(dict(asdict(record), authority="javascript:alert(1)")) is None
    assert AccountRecord.from_json(["not", "a", "dict"]) is None
