"""A small client for the emulator's admin API, over real HTTP (tests, tutorials, demos)."""

from __future__ import annotations

import html
import json
import os
import re
from typing import Any
from urllib.parse import urljoin, urlsplit

_LOOPBACK = ("127.0.0.1", "::1", "localhost")
# The emulator's own account picker and error page (_authorize.py): what a browser would read.
_PICKER_FORM = re.compile(r'<form method="post" action="([^"]*)">')
_REQUEST_FIELD = re.compile(r'name="request" value="([^"]*)"')
_PAGE_ERROR = re.compile(r'<p class="error" role="alert">(.*?)</p>', re.S)


class AdminCallError(RuntimeError):
    """The admin API refused a call; ``status`` and the server's ``error`` text are kept."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"Emulator admin API answered {status}: {message}")
        self.status = status
        self.message = message


class EmulatorAdmin:
    """Drive a running emulator: ``EmulatorAdmin(info["admin_url"]).approve("alice@contoso.example")``."""

    def __init__(self, admin_url: str, timeout: float = 10.0) -> None:
        import requests

        self.admin_url = admin_url.rstrip("/")
        self._timeout = timeout
        self._session = requests.Session()
        self._session.trust_env = False  # plain http on loopback: never through a proxy

    def __repr__(self) -> str:
        return f"EmulatorAdmin({self.admin_url!r})"

    def call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        # Python's JSON, not requests' strict one: a fault may patch NaN or Infinity into an
        # answer, as a broken server might send them (Python's and msal's parsers accept them).
        response = self._session.request(
            method,
            f"{self.admin_url}/{path.lstrip('/')}",
            data=None if body is None else json.dumps(body),
            headers=None if body is None else {"Content-Type": "application/json"},
            timeout=self._timeout,
        )
        if response.status_code >= 400:
            try:
                message = response.json().get("error", response.text)
            except ValueError:
                message = response.text
            raise AdminCallError(response.status_code, message)
        return response.json()

    def _object(self, method: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        answer = self.call(method, path, body)
        if not isinstance(answer, dict):
            raise AdminCallError(200, f"expected a JSON object from {path}, got {answer!r:.80}")
        return answer

    def _objects(self, path: str) -> list[dict[str, Any]]:
        answer = self.call("GET", path)
        if not isinstance(answer, list) or not all(isinstance(a, dict) for a in answer):
            raise AdminCallError(200, f"expected a list of JSON objects from {path}")
        return answer

    def approve(self, username: str, user_code: str | None = None) -> dict[str, Any]:
        """Approve a pending device code (the newest one when ``user_code`` is None)."""
        return self._object("POST", "approve", _drop_none(username=username, user_code=user_code))

    def decline(self, user_code: str | None = None) -> dict[str, Any]:
        return self._object("POST", "decline", _drop_none(user_code=user_code))

    def expire(self, user_code: str | None = None) -> dict[str, Any]:
        return self._object("POST", "expire", _drop_none(user_code=user_code))

    def revoke(self, username: str) -> dict[str, Any]:
        """Invalidate the user's refresh tokens (the next refresh fails with AADSTS50173)."""
        return self._object("POST", "revoke", {"username": username})

    def settings(self, **changes: Any) -> dict[str, Any]:
        """Update settings (``device_code_interval_s=1`` ...) and return all of them.

        ``block_device_code=True`` (or a list of tenant ids / domains): Conditional Access
        refuses the device-code flow there with AADSTS53003; ``False`` lifts it.
        """
        if not changes:
            return self._object("GET", "settings")
        return self._object("POST", "settings", changes)

    def advance_clock(self, seconds: float) -> dict[str, Any]:
        """Move the emulator's clock ahead: codes and refresh tokens expire as if time passed
        (``reset()`` moves it back). Tokens it signs keep real time. Returns all settings."""
        offset = self._object("GET", "settings")["clock_offset_s"]
        return self._object("POST", "settings", {"clock_offset_s": offset + seconds})

    def fault(
        self,
        endpoint: str,
        status: int | None = None,
        body: Any = None,
        delay_s: float | None = None,
        drop: bool = False,
        count: int = 1,
        *,
        headers: dict[str, str] | None = None,
        patch: dict[str, Any] | None = None,
        content_type: str | None = None,
        body_bytes: int | None = None,
    ) -> dict[str, Any]:
        """Make the next ``count`` calls of ``endpoint`` fail (token, devicecode, discovery, jwks, userrealm, arm).

        ``headers``: extra response headers (``Retry-After``, ``WWW-Authenticate``);
        ``patch``: merged into the real JSON answer instead of replacing it;
        ``content_type``: of the fault body; ``body_bytes``: repeat the body to this size.
        """
        spec = _drop_none(
            endpoint=endpoint,
            status=status,
            body=body,
            delay_s=delay_s,
            count=count,
            headers=headers,
            patch=patch,
            content_type=content_type,
            body_bytes=body_bytes,
        )
        if drop:
            spec["drop"] = True
        return self._object("POST", "faults", spec)

    def requests(self) -> list[dict[str, Any]]:
        return self._objects("requests")

    def clear_requests(self) -> None:
        self.call("DELETE", "requests")

    def issued(self) -> dict[str, Any]:
        """Every secret the emulator issued or knows, to search outputs for leaks."""
        return self._object("GET", "issued")

    def pick_account(
        self,
        authorize_url: str,
        username: str,
        *,
        action: str = "approve",
        verify: str | bool | None = None,
    ) -> str:
        """Stand in for a person's browser: open the sign-in page ``authorize_url`` (an
        app's ``.../oauth2/v2.0/authorize?...``), pick ``username`` (``action="decline"``
        declines) and return the address the browser then ends on, without going there:
        ``http://localhost:<port>/?code=...&state=...``, what a person copies from the address
        bar after a ``response_mode=query`` sign-in, for tests, tutorials and demos.

        ``verify``: the CA bundle for the emulator's HTTPS (default ``$REQUESTS_CA_BUNDLE``,
        which the ready file's ``env`` sets). The page must be on loopback.
        """
        import requests

        if urlsplit(authorize_url).hostname not in _LOOPBACK:
            raise AdminCallError(400, "pick_account opens the emulator's own page (loopback) only.")
        if verify is None:
            verify = os.environ.get("REQUESTS_CA_BUNDLE") or True
        options: dict[str, Any] = {"verify": verify, "timeout": self._timeout}
        with requests.Session() as http:
            http.trust_env = False  # loopback: never through a proxy
            page = http.get(authorize_url, allow_redirects=False, **options)
            if not page.is_redirect:  # the account picker (a redirect: auto-approved at once)
                form, request = _PICKER_FORM.search(page.text), _REQUEST_FIELD.search(page.text)
                if form is None or request is None:
                    raise AdminCallError(page.status_code, _page_error(page.text))
                fields = {"request": html.unescape(request[1]), "username": username}
                url = urljoin(authorize_url, html.unescape(form[1]))
                page = http.post(
                    url, data={**fields, "action": action}, allow_redirects=False, **options
                )
        if not page.is_redirect:
            raise AdminCallError(
                page.status_code,
                f"the sign-in ended on a page, not an address (a form_post request?): "
                f"{_page_error(page.text)}",
            )
        return str(page.headers["Location"])

    def pending(self) -> list[dict[str, Any]]:
        return self._objects("pending")

    def reset(self) -> dict[str, Any]:
        return self._object("POST", "reset")

    def directory(self) -> dict[str, Any]:
        return self._object("GET", "directory")


def _page_error(page: str) -> str:
    found = _PAGE_ERROR.search(page)
    text = re.sub(r"<[^>]+>", "", found[1]) if found else page[:200]
    return html.unescape(" ".join(text.split()))


def _drop_none(**kwargs: Any) -> dict[str, Any]:
    return {k: v for k, v in kwargs.items() if v is not None}
