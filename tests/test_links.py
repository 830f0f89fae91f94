"""The link policy: server text becomes a link only when https, or http on a loopback host."""

from __future__ import annotations

import pytest

from nbauth._links import escape, link_html, link_warning, safe_href


@pytest.mark.parametrize(
    "url",
    [
        "https://microsoft.com/devicelogin",
        "https://login.microsoftonline.com/common/oauth2/deviceauth",
        "HTTPS://Example.com/path?q=1",
        "http://127.0.0.1:8123/devicelogin",
        "http://127.8.9.10/devicelogin",
        "http://localhost:9000/devicelogin",
        "http://LOCALHOST/devicelogin",
        "http://[::1]:9000/devicelogin",
        "  https://microsoft.com/devicelogin  ",  # surrounding whitespace is trimmed
    ],
)
def test_links_allowed(url):
    assert safe_href(url) == url.strip()
    # A link, with a warning only when https goes to none of Microsoft's sign-in hosts
    # (tests/test_security_links.py covers that warning).
    assert link_warning(url) == "" or "not one of Microsoft's sign-in pages" in link_warning(url)
    assert link_html(url).startswith('<a href="')


@pytest.mark.parametrize(
    "url",
    [
        "javascript:alert(1)",
        "JavaScript:alert(document.cookie)//https://microsoft.com",
        "data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==",
        "vbscript:msgbox(1)",
        "http://microsoft.com/devicelogin",  # http to a foreign host
        "http://128.0.0.1/devicelogin",  # not loopback
        "http://localhost.evil.example/devicelogin",
        "http://127.0.0.1.evil.example/",
        "https://login.microsoftonline.com@evil.example/devicelogin",  # user info: look-alike
        "https://user:pw@microsoft.com/",
        "https://micro soft.com/",  # whitespace inside
        "https://microsoft.com/\nfoo",
        "https:///devicelogin",  # no host
        "//microsoft.com/devicelogin",  # scheme-relative
        "ftp://127.0.0.1/devicelogin",
        "file:///etc/passwd",
        "https://microsoft.com:99999/",  # bad port
        "https://[::1/",  # malformed IPv6
        "",
        None,
        42,
    ],
)
def test_links_refused(url):
    assert safe_href(url) is None
    assert "not a secure (https) page" in link_warning(url)


def test_refused_link_is_shown_as_escaped_text_only():
    html = link_html("javascript:alert('<b>hi</b>')")
    assert "<a" not in html and "href" not in html
    assert "&lt;b&gt;hi&lt;/b&gt;" in html
    assert "<b>" not in html


def test_markup_in_server_text_is_escaped():
    url = 'https://example.com/"><script>alert(1)</script>'
    html = link_html(url)
    assert "<script>" not in html
    assert "&lt;script&gt;" in html
    # the attribute cannot be closed early by a quote in the URL
    assert '"><' not in html
    assert escape('<img src=x onerror="alert(1)">') == (
        "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;"
    )


def test_link_text_is_what_the_server_sent():
    html = link_html("https://microsoft.com/devicelogin")
    assert ">https://microsoft.com/devicelogin</a>" in html
    assert 'target="_blank"' in html and 'rel="noopener noreferrer"' in html
