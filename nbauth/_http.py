"""The HTTP session nbauth hands to msal.

One `requests.Session` per nbauth Session, shared by all its msal applications so connections
to the authority are reused. Things msal's default session does not do:

- one bound on every wait: connecting takes at most `CONNECT_TIMEOUT_S` (10 s), an answer at
  most `READ_TIMEOUT_S` (60 s); ``$NBAUTH_HTTP_TIMEOUT`` (seconds, at most 600) sets both
  (connecting: the smaller of the two). A request that timed out is never sent again (msal's
  default retries it, doubling the wait); only a refused connection is tried once more, at
  once. `network_failure` says what happened ("<host> did not answer within 60 s"),
  `network_error` adds what to do next;
- ``$NBAUTH_CA_BUNDLE``: a CA bundle for nbauth alone. requests lets ``$REQUESTS_CA_BUNDLE``
  override a session's ``verify`` attribute, so the bundle is passed on each request instead.
- `keep_authority_port`: msal builds its user-realm discovery URL (username/password sign-in)
  from the authority's host name alone, ``https://<host>/common/userrealm/...``, which drops a
  non-default port (an emulator, a private cloud on ``:8443``). Authorities registered here get
  their port back on such URLs; nothing else is rewritten.
- a cap on the size of an answer (`MAX_RESPONSE_BYTES`): identity answers are a few KB, and
  msal reads a whole body into memory (several copies) and logs non-JSON ones whole, so a
  broken or hostile endpoint sending megabytes must fail fast with `ResponseTooLarge`.
- token answers checked before msal caches them (`nbauth._token_answers`): a lifetime that
  makes no sense, or a token of another tenant, fails as `UnusableTokenAnswer`; a lifetime too
  long is clamped, with a warning. The same request is not sent again for
  `REFUSED_ANSWER_PAUSE_S` (30 s, azure-identity's pause between refresh attempts): it fails
  at once with the same error, so a server that keeps answering that way is not asked on
  every ``get_token``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

from ._token_answers import UnusableTokenAnswer, check_token_answer, seconds, shown

if TYPE_CHECKING:
    import requests
    from typing_extensions import Self
    from urllib3.util.retry import Retry

__all__ = [
    "CONNECT_TIMEOUT_S",
    "MAX_RESPONSE_BYTES",
    "READ_TIMEOUT_S",
    "REFUSED_ANSWER_PAUSE_S",
    "ResponseTooLarge",
    "UnusableTokenAnswer",
    "build_http_client",
    "describe_network_failure",
    "http_timeouts",
    "keep_authority_port",
    "network_error",
    "network_failure",
]

_LOGGER = logging.getLogger("nbauth")

CONNECT_TIMEOUT_S = 10.0
READ_TIMEOUT_S = 60.0
MAX_HTTP_TIMEOUT_S = 600.0
TIMEOUT_VARIABLE = "NBAUTH_HTTP_TIMEOUT"
MAX_RESPONSE_BYTES = 1 << 20
REFUSED_ANSWER_PAUSE_S = 30.0

# POST <authority>/<tenant>/oauth2[/v2.0]/token: every grant msal sends.
_TOKEN_PATH = re.compile(r"/([^/]+)/oauth2/(?:v2\.0/)?token$")


class ResponseTooLarge(ValueError):
    """An answer bigger than `MAX_RESPONSE_BYTES`. A ValueError, as msal's other unreadable
    answers are, so every caller already turns it into an error that says what happened."""


def http_timeouts() -> tuple[float, float]:
    """(connect, read) timeouts in seconds for one request; see the module docstring."""
    raw = os.environ.get(TIMEOUT_VARIABLE, "").strip()
    if not raw:
        return CONNECT_TIMEOUT_S, READ_TIMEOUT_S
    value = seconds(raw)
    if value is None or not 0 < value <= MAX_HTTP_TIMEOUT_S:
        _warn_bad_timeout(raw)
        return CONNECT_TIMEOUT_S, READ_TIMEOUT_S
    return min(CONNECT_TIMEOUT_S, value), value


_warned_timeouts: set[str] = set()


def _warn_bad_timeout(raw: str) -> None:
    if raw in _warned_timeouts:
        return
    _warned_timeouts.add(raw)
    _LOGGER.warning(
        "$%s=%s is not a number of seconds between 0 and %g; using %g s.",
        TIMEOUT_VARIABLE,
        shown(raw),
        MAX_HTTP_TIMEOUT_S,
        READ_TIMEOUT_S,
    )


def build_http_client(*, clock: Callable[[], float] = time.monotonic) -> requests.Session:
    """A requests session with nbauth's timeouts, CA bundle and checks; see the module
    docstring. ``clock`` times the pause after a refused token answer."""
    import requests  # Lazy load: ~100 ms, paid on the first sign-in only.
    from requests.adapters import HTTPAdapter

    class _NbauthHttpSession(requests.Session):
        # host name -> "host:port" of authorities with a non-default port (keep_authority_port)
        authority_ports: dict[str, str]
        refused: _RefusedAnswers

        # Takes *args as requests does; its own get, post... pass all but method and url by name.
        def request(
            self, method: str, url: str | bytes, *args: Any, **kwargs: Any
        ) -> requests.Response:
            if isinstance(url, str) and self.authority_ports:
                url = _with_authority_port(url, self.authority_ports)
            kwargs.setdefault("timeout", http_timeouts())
            bundle = os.environ.get("NBAUTH_CA_BUNDLE")
            if bundle and kwargs.get("verify") in (None, True):
                kwargs["verify"] = bundle
            if kwargs.get("stream"):  # the caller reads the body itself
                return super().request(method, url, *args, **kwargs)
            kwargs["stream"] = True  # read below, capped: _read_capped
            tenant = _token_request_tenant(method, url)
            key = None if tenant is None else _request_key(method, url, kwargs)
            if key is not None:
                self.refused.check(key)
            response = super().request(method, url, *args, **kwargs)
            _read_capped(response)
            if tenant is not None and key is not None and response.status_code == 200:
                _check_token_answer(response, tenant, self.refused, key)
            return response

    session = _NbauthHttpSession()
    session.authority_ports = {}
    session.refused = _RefusedAnswers(clock)
    # Unlike msal's default (one retry of anything), a refused connection only: a timeout is
    # the bound, and a request that was sent may have been acted on.
    adapter = HTTPAdapter(max_retries=_refused_connection_retry())
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    return session


def _refused_connection_retry() -> Retry:
    from urllib3.exceptions import ConnectTimeoutError, NewConnectionError
    from urllib3.util.retry import Retry

    class _RetryRefusedConnection(Retry):
        def increment(self, *args: Any, **kwargs: Any) -> Self:
            error = kwargs.get("error")
            if isinstance(error, ConnectTimeoutError) and not isinstance(
                error, NewConnectionError
            ):
                # Timed out connecting: give up now, as MaxRetryError (requests: ConnectTimeout).
                return Retry.increment(self.new(total=0), *args, **kwargs)
            return super().increment(*args, **kwargs)

    return _RetryRefusedConnection(total=1, connect=1, read=False, status=0, other=0)


def network_error(where: str, exc: BaseException, during: str = "") -> str:
    """The whole message for a request to `where` that failed on the wire, with what to do:
    ``Could not reach <where> (<why>) <during>. Check the network connection and try again.``"""
    doing = f" {during}" if during else ""
    return f"{network_failure(where, exc)}{doing}. Check the network connection and try again."


def network_failure(where: str, exc: BaseException) -> str:
    """What went wrong on the wire, as the start of a sentence: ``<where> did not answer within
    60 s`` or ``Could not reach <where> (the connection was refused)``. `where` names the host
    (or the service); `exc` is a requests, urllib3 or azure-core exception."""
    return describe_network_failure(where, exc) or f"Could not reach {where} ({type(exc).__name__})"


def describe_network_failure(where: str, exc: BaseException) -> str | None:
    """`network_failure`, or None when nothing in `exc`'s chain is a network failure."""
    connect_s, read_s = http_timeouts()
    kinds = _failure_kinds(exc)
    if "read_timeout" in kinds:
        return f"{where} did not answer within {read_s:g} s"
    if "connect_timeout" in kinds:
        return f"Could not reach {where} (no connection within {connect_s:g} s)"
    for kind, why in _FAILURE_WORDS:
        if kind in kinds:
            return f"Could not reach {where} ({why})"
    return None


_FAILURE_WORDS = (
    ("name", "its name could not be resolved"),
    ("refused", "the connection was refused"),
    ("tls", "the secure connection could not be set up"),
    ("dropped", "the connection was closed without an answer"),
    ("request", "the request could not be sent"),
    ("response", "no answer could be read"),
)
_KIND_OF = {
    "ReadTimeout": "read_timeout",
    "ReadTimeoutError": "read_timeout",
    "ServiceResponseTimeoutError": "read_timeout",
    "ConnectTimeout": "connect_timeout",
    "ConnectTimeoutError": "connect_timeout",
    "ServiceRequestTimeoutError": "connect_timeout",
    "NameResolutionError": "name",
    "gaierror": "name",
    "NewConnectionError": "refused",
    "ConnectionRefusedError": "refused",
    "SSLError": "tls",
    "SSLCertVerificationError": "tls",
    "RemoteDisconnected": "dropped",
    "ConnectionResetError": "dropped",
    "ConnectionAbortedError": "dropped",
    "IncompleteRead": "dropped",
    "ProtocolError": "dropped",
    "ServiceRequestError": "request",
    "ServiceResponseError": "response",
    "ConnectionError": "request",
}


def _failure_kinds(exc: BaseException) -> set[str]:
    """The kinds of failure named anywhere in `exc`'s chain: its causes, contexts, arguments
    and urllib3's ``reason``, by class name (no import of requests or azure-core needed)."""
    kinds: set[str] = set()
    todo: list[object] = [exc]
    seen: set[int] = set()
    while todo and len(seen) < 32:
        item = todo.pop()
        if not isinstance(item, BaseException) or id(item) in seen:
            continue
        seen.add(id(item))
        for cls in type(item).__mro__:
            kind = _KIND_OF.get(cls.__name__)
            if kind is not None:
                kinds.add(kind)
                break
        if isinstance(item, TimeoutError):  # socket.timeout: which wait, the rest tells
            kinds.add("timeout")
        todo.extend([item.__cause__, item.__context__, getattr(item, "reason", None)])
        todo.extend(item.args)
    if "connect_timeout" in kinds and "refused" in kinds:
        kinds.discard("connect_timeout")  # urllib3's NewConnectionError is a ConnectTimeoutError
    if "timeout" in kinds and not kinds & {"connect_timeout", "refused", "name"}:
        kinds.add("read_timeout")
    return kinds


# -- token answers -----------------------------------------------------------------------------


class _RefusedAnswers:
    """Token requests whose answer was refused, by a hash of the request (which holds secrets),
    with when they may be sent again and the error they got."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._until: dict[str, tuple[float, str]] = {}

    def check(self, key: str) -> None:
        """Raise the remembered refusal of this request while its pause lasts."""
        with self._lock:
            entry = self._until.get(key)
            now = self._clock()
            if entry is None:
                return
            if now >= entry[0]:
                del self._until[key]
                return
        raise UnusableTokenAnswer(
            f"{entry[1]}; not asked again for {max(1, round(entry[0] - now))} s"
        )

    def remember(self, key: str, message: str) -> None:
        with self._lock:
            now = self._clock()
            for stale in [k for k, (until, _) in self._until.items() if until <= now]:
                del self._until[stale]
            self._until[key] = (now + REFUSED_ANSWER_PAUSE_S, message)


def _token_request_tenant(method: str | bytes, url: str | bytes) -> str | None:
    """The path segment before ``oauth2`` of a token request's URL (a tenant, ``adfs``, a B2C
    policy...), or None when the request is no token request."""
    verb = method.decode("ascii", "replace") if isinstance(method, bytes) else str(method)
    if not isinstance(url, str) or verb.upper() != "POST":
        return None
    found = _TOKEN_PATH.search(urlsplit(url).path)
    return found.group(1) if found else None


def _request_key(method: str | bytes, url: str | bytes, kwargs: dict[str, Any]) -> str:
    data = kwargs.get("data")
    if isinstance(data, dict):
        data = sorted((str(k), str(v)) for k, v in data.items())
    params = kwargs.get("params")
    if isinstance(params, dict):
        params = sorted((str(k), str(v)) for k, v in params.items())
    raw = repr((method, url, params, data, kwargs.get("json")))
    return hashlib.sha256(raw.encode("utf-8", "replace")).hexdigest()


def _check_token_answer(
    response: requests.Response, tenant: str, refused: _RefusedAnswers, key: str
) -> None:
    """Refuse or correct a token answer in place, before msal reads it; see the module
    docstring. Answers that are not JSON objects with an access token are left to msal."""
    try:
        body = json.loads(response.content)
    except (ValueError, RecursionError):  # RecursionError: absurdly nested
        return
    if not isinstance(body, dict) or "access_token" not in body:
        return
    host = urlsplit(response.url).netloc or "the server"
    try:
        kept, warnings = check_token_answer(body, tenant, time.time())
    except UnusableTokenAnswer as exc:
        refused.remember(key, str(exc))
        raise
    if warnings:
        _LOGGER.warning("%s sent a token answer nbauth corrected: %s.", host, "; ".join(warnings))
        response._content = json.dumps(kept).encode()


def _read_capped(response: requests.Response) -> None:
    """Read `response`'s body as requests would, but no more than `MAX_RESPONSE_BYTES`."""
    host = urlsplit(response.url).netloc or "the server"
    too_large = ResponseTooLarge(
        f"the answer from {host} is larger than {MAX_RESPONSE_BYTES // 1024} KiB, far more "
        f"than any sign-in answer"
    )
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_RESPONSE_BYTES:
        response.close()
        raise too_large
    body = bytearray()
    for chunk in response.iter_content(64 * 1024):
        body += chunk
        if len(body) > MAX_RESPONSE_BYTES:
            response.close()
            raise too_large
    # What requests itself does when it reads a body that was not streamed.
    response._content = bytes(body)


def keep_authority_port(client: requests.Session, authority_host: str) -> None:
    """Make `client` (from `build_http_client`) keep ``authority_host``'s port on the
    port-less URLs msal builds for it; see the module docstring. No-op without a port."""
    parts = urlsplit(authority_host)
    ports = getattr(client, "authority_ports", None)
    if ports is None or not parts.hostname or parts.port in (None, 443):
        return
    ports[parts.hostname.lower()] = f"{parts.hostname.lower()}:{parts.port}"


def _with_authority_port(url: str, ports: dict[str, str]) -> str:
    parts = urlsplit(url)
    if parts.scheme != "https" or parts.port is not None or not parts.hostname:
        return url
    netloc = ports.get(parts.hostname.lower())
    if netloc is None or not parts.path.startswith("/common/userrealm/"):
        return url
    return urlunsplit(parts._replace(netloc=netloc))
