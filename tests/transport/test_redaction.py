"""What of a URL or an ESP's text reaches logs and errors: ``safe_url`` for ESP URLs,
``display_url`` and ``scrub`` for limiter URLs (which may be malformed, and appear inside
driver messages), ``scrub_text`` and ``scrub_body`` for what an ESP says in an error."""

from __future__ import annotations

import base64
from typing import Any
from urllib.parse import quote

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from support.hang import within

from espkit.transport.redaction import (
    ELIDED,
    MAX_BODY_VALUES,
    MAX_MESSAGE,
    display_url,
    request_secrets,
    safe_url,
    scrub,
    scrub_body,
    scrub_text,
    secret_forms,
)

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


# -- safe_url is total ---------------------------------------------------------------------------


@pytest.mark.parametrize(("url", "expected"), [
    ("https://h:abc/v1", "https://h:abc/v1"),
    ("https://[::1/v1?token=t", "https://[::1/v1?token=***"),
    ("https://u:pw@H:99999/x", "https://h:99999/x"),
    ("https://u:pw@[::1/x", "https://[::1/x"),
])
def test_safe_url_names_malformed_urls_without_raising(url: str, expected: str) -> None:
    assert safe_url(url) == expected


@settings(max_examples=300, deadline=None)
@given(url=st.text(max_size=60))
def test_safe_url_is_total(url: str) -> None:
    assert isinstance(safe_url(url), str)


@settings(max_examples=300, deadline=None)
@given(scheme=st.sampled_from(["https", "http", "x"]),
       user=st.text(st.characters(blacklist_characters="/?#@\\"), max_size=10),
       rest=st.text(max_size=30))
def test_safe_url_never_shows_a_password(scheme: str, user: str, rest: str) -> None:
    # whatever follows the userinfo (a bad port, an unclosed bracket, more "@"s)
    assert "pw-SECRET-123" not in safe_url(f"{scheme}://{user}:pw-SECRET-123@{rest}")


# -- scrubbing an ESP's error text -----------------------------------------------------------------

KEY = "key-0123456789abcdef0123"
BASIC = base64.b64encode(f"api:{KEY}".encode()).decode()
SENT = {"Authorization": f"Basic {BASIC}", "User-Agent": "espkit/0.1",
        "X-Postmark-Server-Token": "pm-server-token-777"}


def test_request_secrets_cover_every_form_of_the_credentials() -> None:
    found = request_secrets(SENT, "https://h.test/x?api_key=qs-value-1&page=2")
    for form in (f"Basic {BASIC}", BASIC, f"api:{KEY}", KEY, quote(KEY, safe=""),
                 "pm-server-token-777", "qs-value-1"):
        assert form in found
    assert "espkit/0.1" not in found
    assert "2" not in found
    # a bearer token: the token, its base64 and Basic forms
    bearer = secret_forms(f"Bearer {KEY}")
    assert {KEY, f"Bearer {KEY}", base64.b64encode(KEY.encode()).decode()} <= bearer
    assert "abc" not in secret_forms("abc")  # too short to mask wherever it appears


@pytest.mark.parametrize("text", [
    f"you sent Authorization: Basic {BASIC}",
    f'{{"headers": {{"authorization": "Basic {BASIC}"}}}}',
    f"bad credentials api:{KEY}",
    f"see https://api:{KEY}@api.mailgun.net/v3",
    f"token {BASIC} is not valid",
    f"Bearer {KEY}",
    f"the key {KEY} is revoked",
    f"%2F{quote(KEY, safe='')}",
])
def test_the_request_credentials_never_survive(text: str) -> None:
    secrets = request_secrets(SENT)
    out = scrub_text(text, secrets)
    assert KEY not in out
    assert BASIC not in out
    assert quote(KEY, safe="") not in out
    assert "***" in out


@pytest.mark.parametrize(("text", "expected"), [
    ("Authorization: Basic dXNlcjpwYXNz", "Authorization: ***"),
    ("proxy-authorization=whatever, next", "proxy-authorization=***, next"),
    ("use Bearer eyJhbGciOiJIUzI1NiJ9.e30.x", "use Bearer ***"),
    ("Basic YXBpOmtleQ== given", "Basic *** given"),
    ("https://user:p4ss@host/x", "https://user:***@host/x"),
    ("api:abcdefgh12 was refused", "api:*** was refused"),
    ('"api_key": "abcd1234efgh"', '"api_key": "***"'),
    ("X-Server-Token: s3cr3t-t0ken", "X-Server-Token: ***"),
    # prose is left alone: the other side of each heuristic
    ("Basic plan does not include dedicated IPs", "Basic plan does not include dedicated IPs"),
    ("Bearer token required", "Bearer token required"),
    ("token: invalid", "token: invalid"),
    ("api: unavailable", "api: unavailable"),
])
def test_credential_shaped_text_is_masked_and_prose_is_not(text: str, expected: str) -> None:
    assert scrub_text(text) == expected


def test_scrub_text_bounds_and_strips_controls() -> None:
    assert scrub_text("x" * 10_000) == "x" * (MAX_MESSAGE - 1) + ELIDED
    assert len(scrub_text("y" * 10_000, limit=50)) == 50
    assert scrub_text("x" * MAX_MESSAGE) == "x" * MAX_MESSAGE  # at the limit: kept whole
    assert scrub_text("red \x1b[31mALERT\x1b[0m\r\x07 ok\tnext\nline") == (
        "red \ufffd[31mALERT\ufffd[0m\ufffd\ufffd ok\tnext\nline")
    assert "\u202e" not in scrub_text("abc\u202eevil")


@pytest.mark.parametrize("code", [0xD800, 0xDBFF, 0xDC00, 0xDFFF], ids=hex)
def test_a_lone_surrogate_becomes_printable(code: int) -> None:
    surrogate = chr(code)
    # JSON can spell one ("\\ud800"); left in, printing or logging the message raises
    out = scrub_text(f"bad {surrogate} name")
    assert out == "bad \ufffd name"
    out.encode("utf-8")
    # the neighbours of the range are ordinary characters, kept
    assert scrub_text("\ud7ff \ue000") == "\ud7ff \ue000"


def test_a_secret_straddling_the_cut_is_not_left_in_part() -> None:
    secrets = request_secrets(SENT)
    text = "a" * (MAX_MESSAGE - 5) + KEY + "b" * 10
    out = scrub_text(text, secrets)
    assert KEY[:5] not in out
    assert len(out) <= MAX_MESSAGE


def test_scrub_body_keeps_the_shape_bounded() -> None:
    secrets = request_secrets(SENT)
    body = {"message": f"bad {KEY}", "errors": [{"code": 7, "auth": f"Basic {BASIC}"}],
            "n": 10**30, "ok": True, "f": 1.5, "none": None, KEY: "key as a name"}
    out = scrub_body(body, secrets)
    assert out["message"] == "bad ***"
    assert out["errors"] == [{"code": 7, "auth": "***"}]  # the whole header value
    assert (out["n"], out["ok"], out["f"], out["none"]) == (ELIDED, True, 1.5, None)
    assert KEY not in repr(out)
    deep: Any = "bottom"
    for _ in range(50):
        deep = [deep]
    assert ELIDED in repr(scrub_body(deep))
    wide = scrub_body(list(range(1000)))
    assert len(wide) == MAX_BODY_VALUES
    assert wide[-1] == ELIDED


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=8), inner,
                                                                max_size=5),
    max_leaves=40,
)


@settings(max_examples=300, deadline=None)
@given(prefix=st.text(max_size=40), suffix=st.text(max_size=40),
       form=st.sampled_from([KEY, BASIC, f"Bearer {KEY}", f"Basic {BASIC}", f"api:{KEY}"]),
       body=json_values)
def test_no_form_of_the_key_survives_scrubbing(
    prefix: str, suffix: str, form: str, body: Any
) -> None:
    secrets = request_secrets(SENT)
    text = prefix + form + suffix
    out = scrub_text(text, secrets)
    assert KEY not in out
    assert BASIC not in out
    assert len(out) <= MAX_MESSAGE
    kept = scrub_body({"echo": text, "data": body}, secrets)
    assert KEY not in repr(kept)
    assert BASIC not in repr(kept)


@pytest.mark.parametrize("unit", ["x", "a.", "a:", "token", "Basic ", "authorization:", "a-",
                                  "=:", "a://", "api:", '"token": "', "Bearer a1"])
def test_scrubbing_ends_on_adversarial_text(unit: str) -> None:
    """Every pattern is anchored and bounded, and the text is cut before they run: 10 MB of
    junk is scrubbed in milliseconds, where catastrophic backtracking would take hours. The
    bound below only catches such a hang (``benchmarks/hostile_inputs.py`` prints the time
    it takes)."""
    text = unit * (10_000_000 // len(unit))
    out = within(lambda: scrub_text(text))
    assert len(out) <= MAX_MESSAGE
    kept = within(lambda: scrub_body({"m": text, "l": [text] * 3}))
    assert all(len(v) <= MAX_MESSAGE for v in [kept["m"], *kept["l"]])
