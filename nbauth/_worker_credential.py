"""The credentials workers get: ``nbauth.worker_credential()`` and its async twin.

A `WorkerCredential` pickles (pickle, cloudpickle) into three things: its grant's id, the scopes
it was granted, and its source (`nbauth._grant_engine.Source`): for Dask the scheduler's
address, for the loopback relay its address and the grant's random secret. Never a token. On
the other side it reads the process's registry (`nbauth._worker_tokens`), which the engine
fills, or which it fills itself from the relay. It gives tokens for its own scopes only.

``get_token`` with a fresh token is one dict lookup and one clock comparison. Light on purpose:
nothing of the session, msal or Dask is imported; azure-core comes with the first token.
"""

from __future__ import annotations

from time import time as _now
from typing import TYPE_CHECKING, Any

from . import _worker_tokens
from ._grant_engine import RELAY, Source, where
from ._worker_tokens import RECHECK_S, Held

if TYPE_CHECKING:
    from azure.core.credentials import AccessToken, AccessTokenInfo, TokenRequestOptions
    from azure.core.exceptions import ClientAuthenticationError

__all__ = ["AsyncWorkerCredential", "WorkerCredential"]


def _refused(message: str) -> ClientAuthenticationError:
    from ._errors import AuthenticationError  # Lazy load: azure-core

    return AuthenticationError(message)


def _shown(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 100 else text[:97] + "..."


def _restore(cls: type[_WorkerCredentialBase], grant_id: str, scopes: Any, source: Any) -> Any:
    return cls(grant_id, tuple(scopes), tuple(source))


class _WorkerCredentialBase:
    """What both twins share: the handle, and every decision off the hot path."""

    __slots__ = ("_grant_id", "_held", "_scopes", "_source")

    def __init__(self, grant_id: str, scopes: tuple[str, ...], source: Source) -> None:
        if source and source[0] == RELAY:
            _worker_tokens.loopback_url(source[1])  # a secret goes to loopback only
        self._grant_id = grant_id
        self._scopes = scopes
        self._source = source
        self._held = _worker_tokens.held_for(grant_id)

    @property
    def scopes(self) -> tuple[str, ...]:
        """The scopes this credential gives tokens for."""
        return self._scopes

    def __reduce__(self) -> tuple[Any, ...]:
        return (_restore, (type(self), self._grant_id, self._scopes, self._source))

    def __repr__(self) -> str:
        # The source's secret never shows: `where` names the place only. The grant id (not a
        # secret) tells grants apart: fsspec caches filesystems by the str() of their arguments,
        # so a new grant after signing in again must not look like the ended one.
        return (
            f"<{type(self).__name__} grant={self._grant_id} scopes={list(self._scopes)!r} "
            f"via {where(self._source)}>"
        )

    def _cached(self, scopes: tuple[str, ...], claims: object) -> Held | None:
        if len(scopes) == 1 and not claims:
            held = self._held.get(scopes[0])
            if held is not None and _now() < held.good_until:
                return held
        return None

    def _scope(self, scopes: tuple[str, ...], claims: object) -> str:
        """The one granted scope asked for, or the error that says why not."""
        allowed = ", ".join(self._scopes)
        if len(scopes) != 1:
            raise _refused(
                f"A worker credential gives one token per scope; ask for one of its scopes "
                f"({allowed}) at a time, not {len(scopes)}."
            )
        scope = scopes[0]
        if scope not in self._scopes:
            raise _refused(
                f"This worker credential only gives tokens for {allowed}, not "
                f"{_shown(scope)}. Make one for that scope in the notebook: "
                f"nbauth.worker_credential({_shown(scope)})."
            )
        if claims:
            raise _refused(
                "The service asked for a new sign-in (a claims challenge), which a worker cannot "
                "do: run `%azlogin` in the notebook, then make a new worker credential there."
            )
        reason = _worker_tokens.ended(self._grant_id)
        if reason is not None:
            raise self._ended(reason)
        return scope

    def _ended(self, reason: str) -> ClientAuthenticationError:
        return _refused(
            f"{reason}, which ended this worker credential ({', '.join(self._scopes)}). Sign in "
            f"there again and make a new one with nbauth.worker_credential()."
        )

    def _pushed(self, scope: str) -> Held:
        """The token an engine pushed, if it is still valid."""
        held = self._held.get(scope)
        if held is None:
            raise _refused(
                f"No token for {scope} reached this process: this worker credential works in "
                f"tasks on {where(self._source)}. Use it there, or make one for processes on "
                f"the notebook's machine with nbauth.worker_credential(..., dask_client=False)."
            )
        if _now() >= held.expires_on:
            raise _refused(
                f"The token for {scope} expired and the notebook sent no new one: is its "
                f"kernel still running and signed in? Run `%azwhoami` there."
            )
        return held

    def _from_relay(self, scope: str, status: int, body: dict[str, Any]) -> Held:
        message = body.get("message") if isinstance(body.get("message"), str) else None
        if status == 200:
            try:
                token = body["access_token"]
                expires_on, refresh_on = float(body["expires_on"]), float(body["refresh_on"])
                if not isinstance(token, str) or not token:
                    raise TypeError
            except (KeyError, TypeError, ValueError):
                raise _refused("The notebook's relay gave a broken answer.") from None
            _worker_tokens.install(
                self._grant_id,
                {scope: (token, expires_on, refresh_on)},
                good_until=_now() + RECHECK_S,
            )
            return self._pushed(scope)
        if status == 410:
            reason = message or "The notebook signed out"
            _worker_tokens.end(self._grant_id, reason)
            raise self._ended(reason)
        if status == 401:
            raise _refused(
                "The notebook's kernel does not know this worker credential (did it restart?): "
                "make a new one there with nbauth.worker_credential()."
            )
        from ._base_errors import redact

        raise _refused(redact(message or f"The notebook's relay answered HTTP {status}."))

    def _unreachable(self, scope: str, exc: OSError) -> Held:
        """Nothing answers at the relay: the kernel has stopped. Its last token serves until
        it expires (asked again after `RECHECK_S`); then a clear error."""
        held = self._held.get(scope)
        if held is not None and _now() < held.expires_on:
            held.good_until = min(_now() + RECHECK_S, held.expires_on)
            return held
        why = "no answer" if isinstance(exc, TimeoutError) else type(exc).__name__
        raise _refused(
            f"Cannot reach {where(self._source)} ({why}), and no "
            f"valid token for {scope} is left: the kernel has stopped. Start it again, sign in "
            f"and make a new worker credential."
        ) from None


class WorkerCredential(_WorkerCredentialBase):
    """The notebook's access tokens for a few scopes, in any process: azure-core's
    ``TokenCredential`` and ``SupportsTokenInfo``. Made by ``nbauth.worker_credential()``.

    In [1]: cred = nbauth.worker_credential("https://storage.azure.com/.default")
    In [2]: client.submit(lambda: BlobServiceClient(url, credential=cred).get_account_information())
    """

    __slots__ = ()

    def get_token(
        self,
        *scopes: str,
        claims: str | None = None,
        tenant_id: str | None = None,
        enable_cae: bool = False,
        **kwargs: Any,
    ) -> AccessToken:
        """An access token for one of this credential's scopes (azure-core
        ``TokenCredential``). ``tenant_id`` is the notebook's: a grant has one tenant."""
        held = self._cached(scopes, claims)
        return (held or self._get(scopes, claims)).access_token

    def get_token_info(
        self, *scopes: str, options: TokenRequestOptions | None = None
    ) -> AccessTokenInfo:
        """The same with its refresh time (azure-core ``SupportsTokenInfo``)."""
        claims = options.get("claims") if options else None
        held = self._cached(scopes, claims)
        return (held or self._get(scopes, claims)).info

    def _get(self, scopes: tuple[str, ...], claims: object) -> Held:
        scope = self._scope(scopes, claims)
        if self._source[0] != RELAY:
            return self._pushed(scope)
        try:
            status, body = _worker_tokens.fetch(
                self._source[1], self._source[2], self._grant_id, scope
            )
        except OSError as exc:
            return self._unreachable(scope, exc)
        return self._from_relay(scope, status, body)

    def close(self) -> None:
        """Nothing to release."""

    def __enter__(self) -> WorkerCredential:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class AsyncWorkerCredential(_WorkerCredentialBase):
    """The async twin of `WorkerCredential` (azure-core ``AsyncTokenCredential``), for ``.aio``
    clients and adlfs. Made by ``nbauth.async_worker_credential()``.

    In [1]: opts = {"account_name": name, "credential": nbauth.async_worker_credential(scope)}
    In [2]: dask.dataframe.read_parquet("abfs://container/data", storage_options=opts)
    """

    __slots__ = ()

    async def get_token(
        self,
        *scopes: str,
        claims: str | None = None,
        tenant_id: str | None = None,
        enable_cae: bool = False,
        **kwargs: Any,
    ) -> AccessToken:
        """An access token for one of this credential's scopes (azure-core
        ``AsyncTokenCredential``)."""
        held = self._cached(scopes, claims)
        return (held or await self._get(scopes, claims)).access_token

    async def get_token_info(
        self, *scopes: str, options: TokenRequestOptions | None = None
    ) -> AccessTokenInfo:
        """The same with its refresh time (azure-core ``AsyncSupportsTokenInfo``)."""
        claims = options.get("claims") if options else None
        held = self._cached(scopes, claims)
        return (held or await self._get(scopes, claims)).info

    async def _get(self, scopes: tuple[str, ...], claims: object) -> Held:
        scope = self._scope(scopes, claims)
        if self._source[0] != RELAY:
            return self._pushed(scope)
        try:
            status, body = await _worker_tokens.fetch_async(
                self._source[1], self._source[2], self._grant_id, scope
            )
        except OSError as exc:
            return self._unreachable(scope, exc)
        return self._from_relay(scope, status, body)

    async def close(self) -> None:
        """Nothing to release."""

    async def __aenter__(self) -> AsyncWorkerCredential:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()
