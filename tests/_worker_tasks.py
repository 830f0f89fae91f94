"""Tasks that run in other processes (pools with fork and spawn, loky, Dask workers, a plain
subprocess). They live in a module of their own so every kind of child can import them by name.

Tokens never come back whole: a task returns their SHA-256, which the test compares with the
kernel's own tokens.
"""

from __future__ import annotations

import gc
import hashlib
import os
import sys
import time


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def own_expiry(token: str) -> int:
    """The token's own expiry: its ``exp`` claim (the emulator's tokens are JWTs; read, not
    verified). A worker credential tells azure-core an earlier one."""
    from nbauth._jwt import jwt_claims

    return int(jwt_claims(token)["exp"])


def token_digest(cred, scope: str) -> tuple[str, int]:
    """(the token's digest, the pid that got it)."""
    return digest(cred.get_token(scope).token), os.getpid()


def info_of(cred, scope: str) -> tuple[str, int, int | None, int]:
    """(digest, the expiry azure-core is told, refresh_on, the token's own expiry)."""
    info = cred.get_token_info(scope)
    return digest(info.token), info.expires_on, info.refresh_on, own_expiry(info.token)


def error_of(cred, scope: str) -> tuple[str, str]:
    """(the exception's class name and its text) of get_token, or ("", "")."""
    try:
        cred.get_token(scope)
    except Exception as exc:  # noqa: BLE001 - the test reads what was raised
        return type(exc).__name__, str(exc)
    return "", ""


async def _async_token(cred, scope: str) -> str:
    async with cred:
        return digest((await cred.get_token(scope)).token)


def async_token_digest(cred, scope: str) -> str:
    import asyncio

    return asyncio.run(_async_token(cred, scope))


def watch_tokens(cred, scopes: list[str], seconds: float, pause: float = 0.05) -> dict:
    """Ask for every scope's token for `seconds`: the distinct tokens seen (digest, expires_on,
    first seen) per scope, how many answers had expired when they were given (by the token's
    own expiry, its ``exp``), and how many told azure-core an expiry later than that."""
    seen: dict[str, list[tuple[str, int, float]]] = {scope: [] for scope in scopes}
    expired = told_late = calls = 0
    end = time.time() + seconds
    while time.time() < end:
        for scope in scopes:
            token = cred.get_token(scope)
            now = time.time()
            calls += 1
            own = own_expiry(token.token)
            expired += own <= now
            told_late += token.expires_on > own
            mark = digest(token.token)
            if not seen[scope] or seen[scope][-1][0] != mark:
                seen[scope].append((mark, token.expires_on, now))
        time.sleep(pause)
    return {
        "seen": seen,
        "expired": expired,
        "told_late": told_late,
        "calls": calls,
        "pid": os.getpid(),
    }


def until_refused(cred, scope: str, seconds: float, ready_file: str | None = None) -> tuple:
    """Ask for a token every 20 ms until get_token raises: (when, class name, text), or
    (None, "", "") if it never did within `seconds`. ``ready_file``: created once the first
    token came, so the test knows the loop runs."""
    end = time.time() + seconds
    first = True
    while time.time() < end:
        try:
            cred.get_token(scope)
        except Exception as exc:  # noqa: BLE001 - the test reads what was raised
            return time.time(), type(exc).__name__, str(exc)
        if first and ready_file:
            open(ready_file, "a").close()
            first = False
        time.sleep(0.02)
    return None, "", ""


def secrets_in_memory(masked: list[bytes]) -> list[int]:
    """Which of the secrets (each masked: every byte XOR 0x5A, so the task's arguments hold
    none of them) occur in a string or bytes object this process references: the indexes.

    Every object the garbage collector tracks is searched through what it refers to (dict keys
    and values, list items, instance slots, frames' locals...). The unmasked list and this
    frame are left out: they hold the secrets only because this scan put them there."""
    wanted = [bytes(b ^ 0x5A for b in m).decode() for m in masked]
    skip = {id(wanted), id(sys._getframe())}
    found: set[int] = set()
    texts: dict[int, object] = {}
    # Containers of plain values are not tracked by the collector (an AccessToken, a tuple of
    # strings; a dict of strings, such as the scheduler's worker plugins, pickled): followed
    # from what holds them.
    pending = [h for h in gc.get_objects() if id(h) not in skip]
    while pending:
        holder = pending.pop()
        for item in gc.get_referents(holder):
            if isinstance(item, (str, bytes, bytearray)):
                if len(item) >= 16:
                    texts[id(item)] = item
            elif isinstance(item, (tuple, frozenset, dict)) and not gc.is_tracked(item):
                pending.append(item)
    for item in texts.values():
        for index in range(len(wanted)):
            if index in found:
                continue
            if isinstance(item, str):
                hit = wanted[index] in item
            else:
                hit = wanted[index].encode() in item
            if hit:
                found.add(index)
    texts.clear()
    return sorted(found)


def mask(secret: str) -> bytes:
    return bytes(b ^ 0x5A for b in secret.encode())
