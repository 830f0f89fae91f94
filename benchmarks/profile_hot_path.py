"""Where a cached ``NotebookCredential.get_token`` spends its time.

    python benchmarks/profile_hot_path.py

Signs in against a fresh emulator, then (1) times each step of the hot path on its own with
``time.perf_counter_ns`` (medians of 100k calls; the timer costs ~0.1 µs per sample) and (2)
runs cProfile over the whole call. cProfile's per-call overhead inflates small functions, so
read (1) for costs and (2) for the call structure.
"""

from __future__ import annotations

import cProfile
import io
import pstats
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks import _setup as S  # noqa: E402
from benchmarks._stats import median, time_calls  # noqa: E402


def main() -> int:
    S.install_loopback_guard()
    S.isolate_user_state()
    emulator = S.start_emulator(ROOT / ".bench" / "emulator-profile", extra_users=0)
    try:
        from azure.core.credentials import AccessToken

        from nbauth._token_store import TokenKey
        from nbauth._token_values import RedactedAccessToken as _AccessToken

        admin = emulator.admin
        S.fast_device_codes(admin)
        session = S.nbauth_session()
        S.nbauth_sign_in(session, admin)
        cred = session.credential()
        scopes = (S.ARM_SCOPE,)
        cred.get_token(*scopes)
        home = session.account.home_account_id
        key = TokenKey(tuple(sorted(scopes)), "", "", False, home)
        entry = session.tokens.store.peek(key)
        assert entry is not None, "the token should be in the store"

        steps = {
            "cred.get_token(scope)  [the whole hot path]": lambda: cred.get_token(*scopes),
            "cred.get_token_info(scope)": lambda: cred.get_token_info(*scopes),
            "session.token(scopes)": lambda: session.token(scopes),
            "TokenKey(tuple(sorted(scopes)), ...)": lambda: TokenKey(
                tuple(sorted(scopes)), "", "", False, home
            ),
            "tuple(sorted(scopes))": lambda: tuple(sorted(scopes)),
            "plain tuple key (tuple(sorted(scopes)), ...)": lambda: (
                tuple(sorted(scopes)),
                "",
                "",
                False,
                home,
            ),
            "token_store.peek(key)": lambda: session.tokens.store.peek(key),
            "time.time()": time.time,
            "_AccessToken(token, int(expires_on))": lambda: _AccessToken(
                entry.token, int(entry.expires_on)
            ),
            "tuple.__new__(AccessToken, ...) (no NamedTuple __new__)": lambda: tuple.__new__(
                AccessToken, (entry.token, int(entry.expires_on))
            ),
            "empty call (timer + loop overhead)": lambda: None,
        }
        print("median of 100k calls each (ns):")
        for name, fn in steps.items():
            print(f"  {median(time_calls(fn, 100_000)):7.0f}  {name}")

        profiler = cProfile.Profile()
        profiler.enable()
        for _ in range(200_000):
            cred.get_token(*scopes)
        profiler.disable()
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(12)
        print("\ncProfile, 200k cached get_token calls, by own time:")
        print("\n".join(out.getvalue().splitlines()[:30]))
        session.close()
    finally:
        emulator.stop()
        S.remove_tmpdirs()
    return 0


if __name__ == "__main__":
    sys.exit(main())
