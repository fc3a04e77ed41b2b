"""What of a URL reaches logs and errors: ``safe_url`` for ESP URLs, ``display_url`` and
``scrub`` for limiter URLs (which may be malformed, and appear inside driver messages)."""

from __future__ import annotations

import pytest

from espkit.transport.redaction import display_url, safe_url, scrub

# -- safe_url: an ESP's request URL ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://api.example.test/v3/domains", "https://api.example.test/v3/domains"),
        ("https://api:key-123@api.example.test/v3", "https://api.example.test/v3"),
        ("https://user@API.Example.test:8443/x", "https://api.example.test:8443/x"),
        ("https://h.test/x?api_key=s1&page=2", "https://h.test/x?api_key=***&page=2"),
        ("https://h.test/x?Key=s1", "https://h.test/x?Key=***"),
        ("https://h.test/x?access_token=s1&limit=5", "https://h.test/x?access_token=***&limit=5"),
        ("https://h.test/x?client_secret=s1", "https://h.test/x?client_secret=***"),
        ("https://h.test/x?password=s1&auth=s2", "https://h.test/x?password=***&auth=***"),
        ("https://h.test/x?q=a+b&skip=", "https://h.test/x?q=a+b&skip="),
        ("https://h.test/x#frag", "https://h.test/x"),
        ("http://u:p@[2001:db8::1]:8080/v1?token=t", "http://[2001:db8::1]:8080/v1?token=***"),
        ("http://[::1]/v1", "http://[::1]/v1"),
    ],
)
def test_safe_url(url: str, expected: str) -> None:
    assert safe_url(url) == expected
    for secret in ("key-123", "s1", "s2", ":p@", "user@"):
        assert secret not in safe_url(url)


# -- display_url and scrub: a limiter URL ----------------------------------------------------------


def test_display_url_and_scrub_mask_credentials() -> None:
    assert display_url("rediss://u:p@h:6380/2?password=x&db=1") == (
        "rediss://h:6380/2?password=***&db=1")
    # an unescaped "/" or "@" in a password is still masked whole
    assert display_url("redis://:pa/ss@w@host:1/0") == "redis://host:1/0"
    assert scrub("bad pa/ss@w and p%2Fw", "redis://:pa/ss@w@host:1/0") == "bad *** and p%2Fw"
    assert scrub("bad p/w", "redis://u:p%2Fw@host:1/0") == "bad ***"
