"""Helpers for the user sign-in method tests (browser, broker, username/password, clouds).

``FakeBrowser``: a "browser" that is a plain HTTP client: it opens the sign-in URL on the
emulator, picks an account on the page (or takes the page's auto-submitted answer) and posts the
answer to the redirect URI, the way a browser runs the emulator's form. Only loopback is ever
contacted: ``localhost`` redirect URIs are sent to 127.0.0.1.

``arm_subscription_ids(credential)``: a real azure-core pipeline call to the emulator's
``GET /subscriptions``, proving a credential works with an SDK client.
"""

from __future__ import annotations

import os
from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit, urlunsplit

import requests

ARM_API_VERSION = "2022-12-01"


class _Forms(HTMLParser):
    """The forms of a page: action, method and the inputs a browser would submit."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: list[dict] = []
        self.radios: list[tuple[str, str, bool]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form":
            self.forms.append({"action": a.get("action", ""), "fields": {}})
        elif tag == "input" and self.forms:
            kind = a.get("type", "text")
            if kind == "hidden":
                self.forms[-1]["fields"][a.get("name", "")] = a.get("value", "")
            elif kind == "radio":
                self.radios.append((a.get("name", ""), a.get("value", ""), "checked" in a))


def parse_forms(page: str) -> _Forms:
    parser = _Forms()
    parser.feed(page)
    return parser


def to_loopback(url: str) -> str:
    parts = urlsplit(url)
    assert parts.hostname in ("localhost", "127.0.0.1"), f"refusing to leave loopback: {url}"
    netloc = f"127.0.0.1:{parts.port}" if parts.port else "127.0.0.1"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


class FakeBrowser:
    """Callable like `webbrowser.open`: ``browser(url) -> True`` after finishing the sign-in.

    ``username``: the account to pick (None: whichever the page preselects, e.g. from
    login_hint). ``action``: ``approve`` or ``decline``. ``do_nothing``: just record the URL (a
    person who has not clicked yet).
    """

    def __init__(
        self,
        username: str | None = None,
        action: str = "approve",
        do_nothing=False,
        follow: bool = True,
    ):
        self.username = username
        self.action = action
        self.do_nothing = do_nothing
        self.follow = follow
        """False: like a browser whose redirect to localhost finds nobody listening (a remote
        kernel): the address it ends on is in `ended_on`, to paste back."""
        self.urls: list[str] = []
        self.pages: list[str] = []
        self.redirect_status: int | None = None
        self.ended_on: str | None = None

    def __call__(self, url: str) -> bool:
        self.urls.append(url)
        if self.do_nothing:
            return True
        http = requests.Session()
        page = http.get(to_loopback(url), timeout=10, allow_redirects=False)
        if page.is_redirect:  # answered at once (auto-approval)
            return self._arrive(http, page.headers["Location"])
        self.pages.append(page.text)
        page.raise_for_status()
        forms = parse_forms(page.text)
        assert forms.forms, "the sign-in page has no form"
        form = forms.forms[0]
        if "request" in form["fields"]:  # the account picker
            chosen = self.username or next(v for _, v, checked in forms.radios if checked)
            page = http.post(
                urljoin(page.url, form["action"]),
                data={**form["fields"], "username": chosen, "action": self.action},
                timeout=10,
                allow_redirects=False,
            )
            if page.is_redirect:  # response_mode=query: the answer is in the address
                return self._arrive(http, page.headers["Location"])
            self.pages.append(page.text)
            forms = parse_forms(page.text)
            form = forms.forms[0]
        # The auto-submitted form_post answer: post it to the app's redirect URI.
        answer = http.post(to_loopback(form["action"]), data=form["fields"], timeout=10)
        self.redirect_status = answer.status_code
        return True

    def _arrive(self, http, location: str) -> bool:
        """The browser lands on the redirect address: the kernel's listener, if any."""
        self.ended_on = location
        if self.follow:
            self.redirect_status = http.get(to_loopback(location), timeout=10).status_code
        return True


def arm_subscription_ids(credential) -> list[str]:
    """Subscription IDs from the emulator's ARM, through azure-core's bearer token policy."""
    from azure.core import PipelineClient
    from azure.core.pipeline.policies import BearerTokenCredentialPolicy
    from azure.core.rest import HttpRequest

    endpoint = os.environ["NBAUTH_ARM_ENDPOINT"]
    policy = BearerTokenCredentialPolicy(credential, "https://management.azure.com/.default")
    with PipelineClient(endpoint, policies=[policy]) as client:
        response = client.send_request(
            HttpRequest("GET", f"{endpoint}subscriptions?api-version={ARM_API_VERSION}"),
            connection_verify=os.environ["REQUESTS_CA_BUNDLE"],
        )
        response.raise_for_status()
        return [s["subscriptionId"] for s in response.json()["value"]]
