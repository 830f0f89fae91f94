"""The directory that holds saved sign-ins, and the careful file handling it needs.

Everything nbauth keeps on disk goes through `CacheDir`: the directory is 0700 and the files
0600, both owned by the user; a symbolic link, a file owned by someone else or something that
is not a regular file is refused rather than followed; a looser mode on our own file is
tightened (with a warning); writes go to a temporary file that replaces the old one by rename,
so a reader never sees half a file; writers take a cross-process lock.

Standard library only: importing this module must stay cheap (see `nbauth._persistence`).
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
import stat
import sys
import threading
import time
import warnings
from collections.abc import Iterator
from pathlib import Path

from ._base_errors import ConfigurationError

__all__ = [
    "ENCRYPTED_NAME",
    "PLAINTEXT_NAME",
    "CacheDir",
    "CacheLocationError",
    "CacheLockTimeout",
    "DamagedCache",
    "PersistenceWarning",
    "Signature",
    "failure_reason",
    "unusable_directory",
    "warn",
]

Signature = tuple[int, int, int]
"""(inode, mtime in ns, size) of a file: changes whenever anyone replaces it."""

_POSIX = os.name == "posix"
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
# A token cache holds a handful of accounts; anything this big is not one of ours.
MAX_FILE_BYTES = 16 * 1024 * 1024
LOCK_NAME = ".lock"
PLAINTEXT_NAME = "token_cache.json"
# Encrypted stores keep the data elsewhere (keyring) or encrypted (DPAPI); a separate name keeps
# a plaintext file and an encrypted one from ever being taken for each other.
ENCRYPTED_NAME = "token_cache.bin"
# A writer holds the lock for a few milliseconds; waiting this long means something is wrong.
LOCK_TIMEOUT_S = 10.0


class PersistenceWarning(UserWarning):
    """Something about the saved sign-in cache the user should know (nothing secret in it)."""


class CacheLocationError(ConfigurationError):
    """The sign-in cache directory or one of its files is unsafe to use; the message says why
    and how to fix it."""


class DamagedCache(Exception):
    """A saved file that cannot be read (it never carries the text: that may hold tokens)."""


class CacheLockTimeout(OSError):
    """Another process held the sign-in cache lock for too long."""


def warn(message: str) -> None:
    warnings.warn(message, PersistenceWarning, stacklevel=3)


def unusable_directory(path: Path, exc: OSError) -> CacheLocationError:
    """The error for a cache directory that could not be created or opened."""
    return CacheLocationError(
        f"nbauth cannot use the sign-in cache directory {path} ({type(exc).__name__}: "
        f"{exc.strerror or 'I/O error'}). Check that it is writable, or set NBAUTH_CACHE_DIR to "
        f"another directory, or sign in without persistence (`--persist none`)."
    )


def failure_reason(exc: BaseException) -> str:
    """Why saving failed, for a warning: the message of a `CacheLocationError` (which says what
    to do), else the kind of failure."""
    return str(exc) if isinstance(exc, CacheLocationError) else type(exc).__name__


def _not_ours(path: Path, what: str) -> CacheLocationError:
    return CacheLocationError(
        f"The sign-in cache {what} {path} belongs to another user, so nbauth will not use it. "
        f"Set NBAUTH_CACHE_DIR to a directory of your own."
    )


def _symlink(path: Path, what: str) -> CacheLocationError:
    return CacheLocationError(
        f"The sign-in cache {what} {path} is a symbolic link; nbauth refuses to follow it (a "
        f"link could send your tokens somewhere else). Remove the link, or set NBAUTH_CACHE_DIR "
        f"to a real directory of your own."
    )


class CacheDir:
    """A private directory for saved sign-ins; see the module docstring.

    ``CacheDir(path)`` creates the directory if needed (0700) and checks it; file names given
    to the methods are plain names inside it.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(os.path.abspath(os.path.expanduser(os.fspath(path))))
        self._thread_lock = threading.RLock()
        self._lock_depth = 0
        self._lock_fd: int | None = None
        self._secure_directory()

    def __repr__(self) -> str:
        return f"<CacheDir {str(self.path)!r}>"

    def file(self, name: str) -> Path:
        return self.path / name

    # -- checks ------------------------------------------------------------------------------

    def _secure_directory(self) -> None:
        path = self.path
        try:
            st = os.lstat(path)
        except FileNotFoundError:
            path.parent.mkdir(parents=True, exist_ok=True)
            with contextlib.suppress(FileExistsError):  # another kernel made it just now
                os.mkdir(path, 0o700)
            st = os.lstat(path)
        if stat.S_ISLNK(st.st_mode):
            raise _symlink(path, "directory")
        if not stat.S_ISDIR(st.st_mode):
            raise CacheLocationError(
                f"The sign-in cache directory {path} exists but is not a directory. Move it "
                f"away, or set NBAUTH_CACHE_DIR to another directory."
            )
        if not _POSIX:
            return
        if st.st_uid != os.geteuid():
            raise _not_ours(path, "directory")
        if stat.S_IMODE(st.st_mode) != 0o700:
            os.chmod(path, 0o700)
            if stat.S_IMODE(st.st_mode) & 0o077:
                warn(
                    f"The sign-in cache directory {path} was readable by other users "
                    f"(mode {stat.S_IMODE(st.st_mode):o}); nbauth changed it to 700."
                )

    def _check_open_file(self, fd: int, path: Path) -> os.stat_result:
        """Check a file we opened (without following links): regular, ours, 0600."""
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise CacheLocationError(
                f"The sign-in cache file {path} is not a regular file. Remove it, then sign in "
                f"again."
            )
        if _POSIX:
            if st.st_uid != os.geteuid():
                raise _not_ours(path, "file")
            mode = stat.S_IMODE(st.st_mode)
            if mode & 0o077:
                os.fchmod(fd, 0o600)
                warn(
                    f"The sign-in cache file {path} was readable by other users (mode "
                    f"{mode:o}); nbauth changed it to 600."
                )
        return st

    def _open(self, name: str, flags: int, what: str = "file") -> int:
        path = self.file(name)
        with contextlib.suppress(FileNotFoundError):
            if stat.S_ISLNK(os.lstat(path).st_mode):
                raise _symlink(path, what)
        try:
            return os.open(path, flags | _NOFOLLOW | _CLOEXEC, 0o600)
        except OSError as exc:
            # Linux says ELOOP for O_NOFOLLOW on a link (some systems EMLINK): a link that
            # appeared after the lstat above.
            if exc.errno in (errno.ELOOP, errno.EMLINK):
                raise _symlink(path, what) from None
            raise

    # -- files -------------------------------------------------------------------------------

    def signature(self, name: str) -> Signature | None:
        """The file's `Signature`, or None if there is no such file."""
        try:
            st = os.lstat(self.file(name))
        except FileNotFoundError:
            return None
        return (st.st_ino, st.st_mtime_ns, st.st_size)

    def read(self, name: str) -> tuple[str, Signature] | None:
        """The file's text and signature, or None if it does not exist.

        Raises `CacheLocationError` for a link, a foreign or non-regular file; ValueError if it
        is not UTF-8 text or larger than `MAX_FILE_BYTES` (callers treat both as damage).
        """
        try:
            fd = self._open(name, os.O_RDONLY)
        except FileNotFoundError:
            return None
        try:
            st = self._check_open_file(fd, self.file(name))
            if st.st_size > MAX_FILE_BYTES:
                raise ValueError("too large")
            chunks = []
            total = 0
            while True:
                chunk = os.read(fd, 1 << 16)
                if not chunk:
                    break
                total += len(chunk)
                if total > MAX_FILE_BYTES:
                    raise ValueError("too large")
                chunks.append(chunk)
        finally:
            os.close(fd)
        return b"".join(chunks).decode("utf-8"), (st.st_ino, st.st_mtime_ns, st.st_size)

    def write(self, name: str, text: str) -> Signature:
        """Replace the file with `text` atomically (0600); returns the new signature."""
        target = self.file(name)
        with contextlib.suppress(FileNotFoundError):
            if stat.S_ISLNK(os.lstat(target).st_mode):
                raise _symlink(target, "file")
        tmp_name = f".{name}.{os.getpid()}.{secrets.token_hex(4)}.tmp"
        fd = self._open(tmp_name, os.O_WRONLY | os.O_CREAT | os.O_EXCL)
        tmp = self.file(tmp_name)
        try:
            try:
                data = text.encode("utf-8")
                view = memoryview(data)
                while view:
                    view = view[os.write(fd, view) :]
                # Without fsync a crash soon after the rename can leave an empty file behind.
                os.fsync(fd)
                st = os.fstat(fd)
            finally:
                os.close(fd)
            os.replace(tmp, target)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
        return (st.st_ino, st.st_mtime_ns, st.st_size)

    def move_aside(self, name: str) -> Path | None:
        """Rename a damaged file to ``<name>.corrupt-<UTC time>`` (kept 0600, never read)."""
        stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
        aside = self.file(f"{name}.corrupt-{stamp}")
        n = 1
        while aside.exists():
            n += 1
            aside = self.file(f"{name}.corrupt-{stamp}-{n}")
        try:
            os.replace(self.file(name), aside)
        except FileNotFoundError:
            return None
        return aside

    def remove(self, name: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.file(name))

    def copies_of(self, name: str) -> list[str]:
        """The copies of `name` nbauth never reads again: moved aside as damaged, or left by a
        writer that died between writing and renaming (call under the lock: writers hold it
        while their temporary file exists, so then any that is there is stale)."""
        try:
            entries = os.listdir(self.path)
        except FileNotFoundError:
            return []
        return [
            entry
            for entry in entries
            if entry.startswith(f"{name}.corrupt-")
            or (entry.startswith(f".{name}.") and entry.endswith(".tmp"))
        ]

    # -- the cross-process lock --------------------------------------------------------------

    @contextlib.contextmanager
    def locked(self, timeout: float = LOCK_TIMEOUT_S) -> Iterator[None]:
        """Hold the directory's lock (re-entrant in a thread; exclusive across threads and
        processes). An OS lock on an open file, so a process that dies releases it: no stale
        lock files to clean up, unlike lock-by-creating-a-file."""
        with self._thread_lock:
            if self._lock_depth:
                self._lock_depth += 1
                try:
                    yield
                finally:
                    self._lock_depth -= 1
                return
            try:
                fd = self._open(LOCK_NAME, os.O_RDWR | os.O_CREAT, what="lock file")
            except FileNotFoundError:
                # Someone deleted the directory (`rm -rf ~/.cache/nbauth`): what this kernel
                # holds in memory is saved again, in a directory made and checked as at first.
                self._secure_directory()
                fd = self._open(LOCK_NAME, os.O_RDWR | os.O_CREAT, what="lock file")
            try:
                self._check_open_file(fd, self.file(LOCK_NAME))
                _lock_fd(fd, timeout, self.file(LOCK_NAME))
                self._lock_fd, self._lock_depth = fd, 1
                try:
                    yield
                finally:
                    self._lock_fd, self._lock_depth = None, 0
                    _unlock_fd(fd)
            finally:
                os.close(fd)


def _lock_fd(fd: int, timeout: float, path: Path) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            # sys.platform, not _POSIX (the same test): type checkers know it picks the module.
            if sys.platform == "win32":  # pragma: no cover - Windows
                import msvcrt

                msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
            else:
                import fcntl

                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except OSError as exc:
            if exc.errno not in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK, errno.EDEADLK):
                raise
        if time.monotonic() >= deadline:
            raise CacheLockTimeout(
                errno.ETIMEDOUT,
                f"Another process held the sign-in cache lock {path} for over {timeout:g} s",
            )
        time.sleep(0.01)


def _unlock_fd(fd: int) -> None:
    if sys.platform == "win32":  # pragma: no cover - Windows
        import msvcrt

        with contextlib.suppress(OSError):
            os.lseek(fd, 0, os.SEEK_SET)
            msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)
    else:
        import fcntl

        fcntl.flock(fd, fcntl.LOCK_UN)
