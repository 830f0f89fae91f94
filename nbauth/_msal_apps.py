"""The session's msal applications, their shared token cache and HTTP client.

One msal application per (authority, client ID, CAE), built once, so OIDC discovery happens once
per kernel. They share one token cache, kept on disk as the `Persister` says, and one
``requests`` session (nbauth's bounds and CA bundle: `nbauth._http`).
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any

from . import _clouds
from ._authority import Authority
from ._errors import AuthenticationError, discovery_error, unexpected_msal_error
from ._http import build_http_client, network_failure
from ._persistence import Persistence, PersistenceStatus, Persister

if TYPE_CHECKING:
    import msal
    import requests

    from ._signin import Account

__all__ = ["MsalApps"]


class MsalApps:
    """See the module docstring. ``clock``: the token store's (answers are checked against it)."""

    def __init__(self, persister: Persister, clock: Callable[[], float]) -> None:
        self._lock = threading.Lock()
        self._apps: dict[tuple[str, str, bool], msal.PublicClientApplication] = {}
        self._cache: Any = None  # msal.TokenCache once the first application exists
        self._http: requests.Session | None = None
        self._clock = clock
        self.persister = persister

    def __repr__(self) -> str:
        return f"<MsalApps {len(self._apps)} applications>"

    def http_client(self) -> requests.Session:
        with self._lock:
            return self._http_client_locked()

    def _http_client_locked(self) -> requests.Session:
        if self._http is None:
            self._http = build_http_client(clock=self._clock)
        return self._http

    def public_client(
        self, authority: str, client_id: str, *, cae: bool = False
    ) -> msal.PublicClientApplication:
        """The msal application for (authority, client_id, cae), built once."""
        key = (authority, client_id, bool(cae))
        app = self._apps.get(key)
        if app is not None:
            return app
        with self._lock:
            app = self._apps.get(key)
            if app is None:
                app = self._apps[key] = self._build(authority, client_id, cae)
            return app

    def _build(self, authority: str, client_id: str, cae: bool) -> msal.PublicClientApplication:
        import msal  # Lazy load: ~120 ms, paid on the first sign-in only.
        import requests

        if self._cache is None:
            self._cache = self.persister.new_token_cache()
        host = Authority.parse(authority).host
        try:
            return msal.PublicClientApplication(
                client_id,
                authority=authority,
                token_cache=self._cache,
                http_client=self._http_client_locked(),
                # Anything but Microsoft's own hosts: msal would ask login.microsoftonline.com
                # to vouch for the host first.
                instance_discovery=None if _clouds.uses_instance_discovery(host) else False,
                client_capabilities=["CP1"] if cae else None,
            )
        except requests.RequestException as exc:
            raise AuthenticationError(
                f"{network_failure(host, exc)}. Check the network connection and "
                f"authority_host, then try again."
            ) from None
        except ValueError as exc:
            raise discovery_error(authority, exc) from None
        except Exception as exc:  # noqa: BLE001 - see unexpected_msal_error
            raise unexpected_msal_error(host, exc) from None

    def switch_persister(self, new: Persister) -> None:
        """Save from now on as `new` says; what is in memory already is saved there too."""
        with self._lock:
            if new.saves_records:
                new.directory()  # refuse an unsafe directory now, not at the first sign-in
            if self._cache is not None:
                new.apply(self._cache)
            elif new.saves_tokens:
                self._cache = new.new_token_cache()
            self.persister = new

    def choose_persistence(
        self,
        persistence: Persistence | str | None,
        *,
        allow_unencrypted: bool | None,
        cache_dir: str | None,
        remember: Iterable[Account],
    ) -> None:
        """Save as a new strategy says from now on (see `Session.set_persistence`); `remember`:
        the accounts of this cache to record for the next kernel, the current one last."""
        # The new persister knows where the old one saved: a later sign-out cleans there too.
        new = self.persister.replaced(
            persistence, allow_unencrypted=allow_unencrypted, cache_dir=cache_dir or None
        )
        self.switch_persister(new)
        for account in remember:
            new.remember(account)

    @contextlib.contextmanager
    def persistence_undone_on_failure(self) -> Iterator[None]:
        """A persistence chosen inside this block goes back to what it was if the block fails."""
        earlier = self.persister
        try:
            yield
        except BaseException:
            if self.persister is not earlier:
                self.switch_persister(earlier)
            raise

    def status(self) -> PersistenceStatus:
        return self.persister.status(self._cache)

    def forget_account(self, msal_account: dict[str, Any]) -> None:
        """Remove an account's tokens from the cache, for every client ID in use."""
        with self._lock:
            apps = list(self._apps.values())
        seen: set[str] = set()
        for app in apps:
            if app.client_id in seen:
                continue
            seen.add(app.client_id)
            app.remove_account(msal_account)

    def forget_accounts(self, only: set[str] | None = None) -> None:
        """Remove every account (``only``: those home_account_ids) from the cache."""
        with self._lock:
            apps = list(self._apps.values())
        for app in apps:
            for msal_account in app.get_accounts():
                if only is None or msal_account.get("home_account_id") in only:
                    app.remove_account(msal_account)

    def close(self) -> None:
        """Release the HTTP connections."""
        with self._lock:
            if self._http is not None:
                self._http.close()
