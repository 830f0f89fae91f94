"""Attacker-controlled text from the identity endpoint, through every view of a sign-in.

A compromised or spoofed endpoint controls the device-code answer (``verification_uri``,
``message``) and error texts (``error_description``). The emulator's ``patch`` fault changes
those fields of its real answer, so the sign-in still runs end to end. Asserted for the
device-code card (widgets), the text view (terminal / ``ui="text"``) and the default prompt of
``nbauth.login()``: server text is shown as text; it becomes a link only for https, or http on a
loopback host; hosts that are neither Microsoft's sign-in pages nor loopback get a warning;
markup is never interpreted, and control characters are shown, not obeyed.
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import pytest
from _core_fixtures import (  # noqa: F401 - the *_fixture names register fixtures
    ALICE,
    admin_fixture,
    clock_fixture,
    nbsession_fixture,
    poller_threads,
)

import nbauth
from nbauth._errors import AuthenticationError
from nbauth._links import link_warning, safe_href
from nbauth._prompt import DeviceCodePrompt, print_prompt
from nbauth._ui import display as ui_display
from nbauth._ui.text import TextSignInView

CANARY = "nbauth_canary()"
MARKUP = f'<script>{CANARY}</script><img src=x onerror="{CANARY}">'
NOT_HTTPS = "not a secure (https) page"
FOREIGN = "not one of Microsoft's sign-in pages"
CARD_JS = Path(nbauth.__file__).parent / "_ui" / "device_code_card.js"

URLS = [
    # (verification_uri, may be a link, warning)
    ("javascript:alert(document.cookie)", False, NOT_HTTPS),
    ("JAVASCRIPT:alert(1)//https://microsoft.com/devicelogin", False, NOT_HTTPS),
    ("http://evil.example/devicelogin", False, NOT_HTTPS),
    ("https://login.microsoftonline.com@evil.example/devicelogin", False, NOT_HTTPS),
    ("https://evil.example/devicelogin", True, FOREIGN),
    ("https://microsoft.com.evil.example/devicelogin", True, FOREIGN),
    ("https://microsoft.com/devicelogin", True, ""),
    ("https://login.microsoftonline.us/common/oauth2/deviceauth", True, ""),
    ("http://127.0.0.1:9/devicelogin", True, ""),
]
URL_IDS = [
    "javascript",
    "javascript-disguised",
    "http-foreign",
    "userinfo-lookalike",
    "https-foreign",
    "https-lookalike-host",
    "microsoft",
    "usgov",
    "loopback-http",
]


@pytest.fixture
def spoof(admin):
    """Make the next device-code answer carry these fields (the flow itself keeps working)."""

    def apply(**fields):
        admin.fault("devicecode", patch=fields)

    return apply


def finish(signin) -> None:
    signin.cancel()
    for thread in poller_threads():
        thread.join(5)
    assert poller_threads() == []


@pytest.mark.parametrize("url, linkable, warning", URLS, ids=URL_IDS)
def test_card_links_only_safe_addresses_and_warns(nbsession, spoof, url, linkable, warning):
    spoof(verification_uri=url, message=f"Go to {url} {MARKUP}")
    shown = ui_display.start_sign_in(nbsession, blocking=False, ui="widgets")
    card = shown.card
    try:
        view = card.view
        assert view.verification_uri == url  # shown as text, as sent
        assert view.link_href == (url if linkable else "")
        if warning:
            assert warning in view.link_warning
        else:
            assert view.link_warning == ""
        assert CANARY not in json.dumps(view.get_state())  # the message is not shown at all
    finally:
        finish(shown.signin)


@pytest.mark.parametrize("url, linkable, warning", URLS, ids=URL_IDS)
def test_text_view_prints_the_address_as_text_with_the_warning(
    nbsession, spoof, url, linkable, warning, capsys
):
    spoof(verification_uri=url)
    view = TextSignInView(blocking=False)
    signin = nbsession.login(wait=False, prompt=view.show_prompt)
    try:
        out = capsys.readouterr().out
        assert url in out and signin.prompt.user_code in out
        if warning:
            assert f"Warning: {warning}" in out or warning in out
        else:
            assert "Warning" not in out
    finally:
        finish(signin)


@pytest.mark.parametrize("url, linkable, warning", URLS, ids=URL_IDS)
def test_default_prompt_warns_too(nbsession, spoof, url, linkable, warning, capsys):
    spoof(verification_uri=url)
    signin = nbsession.login(wait=False)  # nbauth.login()'s default prompt: print_prompt
    try:
        out = capsys.readouterr().out
        assert url in out and signin.prompt.user_code in out
        assert (warning in out) if warning else ("Warning" not in out)
    finally:
        finish(signin)


def test_a_message_pointing_elsewhere_is_not_printed(nbsession, spoof, capsys):
    """The default prompt prints Entra's message only when it names the address and code it
    came with; otherwise its own sentence (a message could send people to another page)."""
    spoof(message=f'Open <a href="https://evil.example">https://evil.example</a> {MARKUP}')
    signin = nbsession.login(wait=False)
    try:
        out = capsys.readouterr().out
        assert "evil.example" not in out and CANARY not in out
        assert signin.prompt.verification_uri in out and signin.prompt.user_code in out
    finally:
        finish(signin)


def test_markup_in_a_genuine_message_is_printed_as_text(capsys):
    """A message naming the right address and code, with markup: printed verbatim (stdout is
    text, in a terminal and in a notebook), with nothing to warn about."""
    prompt = DeviceCodePrompt(
        verification_uri="https://microsoft.com/devicelogin",
        user_code="ABCD1234",
        expires_on=time.time() + 900,
        message=f"<b>Open</b> https://microsoft.com/devicelogin, enter ABCD1234. {MARKUP}",
        interval=5,
    )
    print_prompt(prompt)
    assert capsys.readouterr().out == prompt.message + "\n"


def test_a_sign_in_with_a_markup_message_still_completes(nbsession, admin, spoof):
    spoof(message=MARKUP)
    signin = nbsession.login(prompt=lambda p: admin.approve(ALICE, p.user_code))
    assert signin.status == "succeeded" and signin.prompt.message == MARKUP


ESCAPES = "\x1b[8mhidden\x1b[0m \x1b]8;;https://evil.example\x07click\x1b]8;;\x07 \x9b31m"


def test_control_characters_are_shown_not_obeyed(nbsession, spoof, capsys):
    spoof(message=ESCAPES, verification_uri="https://microsoft.com/devicelogin\x1b[2K")
    view = TextSignInView(blocking=False)
    signin = nbsession.login(wait=False, prompt=view.show_prompt)
    try:
        out = capsys.readouterr().out
        assert not re.search("[\x00-\x08\x0b-\x1f\x7f-\x9f]", out), repr(out)
        prompt = signin.prompt
        for text in (prompt.message, prompt.verification_uri):
            assert "\x1b" not in text and "\x07" not in text and "\x9b" not in text
        assert "\ufffd" in prompt.verification_uri
        # Still https to microsoft.com (the junk is in the path): a link, nothing to warn about.
        assert safe_href(prompt.verification_uri) is not None
        assert link_warning(prompt.verification_uri) == ""
    finally:
        finish(signin)


def test_error_description_markup_is_text_in_the_card_and_never_html(nbsession, admin):
    """An `error_description` with markup ends the sign-in: the card says so through
    `status` (set with textContent by the front-end), and no HTML widget carries it raw."""
    import ipywidgets

    admin.fault(
        "token",
        status=400,
        body={
            "error": "invalid_request",
            "error_description": f"AADSTS900144: The request is bad. {MARKUP}",
            "error_codes": [900144],
        },
    )
    shown = ui_display.start_sign_in(nbsession, blocking=False, ui="widgets")
    with pytest.raises(AuthenticationError) as caught:
        shown.signin.wait(20)
    shown.finish(shown.signin)
    assert MARKUP in str(caught.value)  # the text keeps Entra's words (harmless as text)
    view = shown.card.view
    assert view.state == "failed" and MARKUP in view.status and view.user_code == ""
    state = ipywidgets.Widget.get_manager_state(drop_defaults=False)["state"]
    html_values = [
        str(s["state"].get("value", ""))
        for s in state.values()
        if s.get("model_name") == "HTMLModel" or s["state"].get("_model_name") == "HTMLModel"
    ]
    assert not [v for v in html_values if "<script>" in v and CANARY in v]
    assert poller_threads() == []


def test_card_front_end_never_turns_text_into_markup():
    """The card's JavaScript sets every server-provided value with textContent, and its only
    link target is `link_href`, which the kernel fills per the link policy."""
    js = CARD_JS.read_text()
    for sink in (
        "innerHTML",
        "outerHTML",
        "insertAdjacentHTML",
        "document.write",
        "DOMParser",
        "createContextualFragment",
        "srcdoc",
        "eval(",
        "new Function",
    ):
        assert sink not in js, f"the card's JS uses {sink}"
    hrefs = re.findall(r"\.href\s*=\s*([^;\n]+)", js)
    assert hrefs and all(h.strip() == "href" for h in hrefs), hrefs
    opened = re.findall(r"window\.open\(([^,]+),", js)
    assert opened and all(o.strip() == "href" for o in opened), opened
    assert re.search(r'const href = model\.get\("link_href"\)', js)
