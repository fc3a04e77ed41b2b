"""What of a URL or an ESP's text may be shown: credentials never reach a log line or an error.

Two kinds of URL are named in messages. An ESP's request URL (``safe_url``) is well formed,
so it is parsed properly, brackets and port included. A limiter URL given by the user
(``display_url``, ``scrub``) may be malformed, and must still be named, without its password,
in the very error that rejects it: those helpers parse nothing that can fail. ``scrub``
masks a URL's secrets inside text we did not write (a Redis driver's error messages).

An ESP's error answer is text we did not write either, and a broken or hostile ESP may echo
the request's headers in it. ``scrub_text`` and ``scrub_body`` bound that text and mask the
request's own credentials (``request_secrets``: every header named like a secret, in each form
``secret_forms`` knows) and anything shaped like one (``Authorization:`` echoes, ``Basic``
and ``Bearer`` tokens, ``api:<key>``, passwords in URLs), before it is kept in an exception.
"""

from __future__ import annotations

import base64
import re
import urllib.parse
from collections.abc import Iterable, Mapping
from typing import Any

#: query parameters whose values ``safe_url`` masks (substrings of the lowercased name)
_URL_SECRET_PARAMS = ("key", "token", "secret", "password", "auth")
#: query parameters whose values ``display_url`` and ``scrub`` mask
_LIMITER_SECRET_PARAMS = ("pass", "secret", "token", "key", "auth")


def safe_url(url: str) -> str:
    """URL fit for logs and errors: no userinfo, secret-looking query values masked.

    Total: a malformed URL (a port that is no number, an unclosed IPv6 bracket) is still
    named, through the parser that cannot fail, since it is named in the very error that
    rejects it."""
    try:
        parts = urllib.parse.urlsplit(url)
        netloc = parts.hostname or ""
        if ":" in netloc:  # an IPv6 literal keeps its brackets
            netloc = f"[{netloc}]"
        if parts.port:
            netloc += f":{parts.port}"
        query = parts.query
        shown = urllib.parse.urlunsplit((parts.scheme, netloc, parts.path, "", ""))
    except ValueError:
        scheme, _, host, path, query = _split(url)
        shown = f"{scheme}://{host.lower()}{path}" if scheme else f"{host.lower()}{path}"
    masked = _mask_query(query, _URL_SECRET_PARAMS)
    return f"{shown}?{masked}" if masked else shown


def _mask_query(query: str, secret_names: tuple[str, ...]) -> str:
    pairs = urllib.parse.parse_qsl(query, keep_blank_values=True)
    masked = [(k, "***" if any(s in k.lower() for s in secret_names) else v) for k, v in pairs]
    return urllib.parse.urlencode(masked, safe="*")


def display_url(url: str) -> str:
    """``url`` fit for errors and logs: no user or password, secret-looking query values
    masked. Unlike ``safe_url`` it parses nothing that can fail (port, IPv6
    brackets), so a malformed URL can still be named in the error that rejects it."""
    scheme, _, host, path, query = _split(url)
    masked = [
        (k, "***" if any(s in k.lower() for s in _LIMITER_SECRET_PARAMS) else v)
        for k, v in urllib.parse.parse_qsl(query, keep_blank_values=True)
    ]
    shown = f"{scheme}://{host}{path}" if scheme else f"{host}{path}"
    return f"{shown}?{urllib.parse.urlencode(masked, safe='*')}" if masked else shown


def scrub(text: str, url: str) -> str:
    """``text`` with every credential in ``url`` replaced by ``***``: driver messages are
    not ours, and must not be the way a password reaches a log."""
    _, userinfo, _, _, query = _split(url)
    # the password, or a lone userinfo (someone's password written where a user name goes);
    # a user name beside a password is an identifier, and masking it would garble messages
    # such as "invalid username-password pair"
    password = userinfo.partition(":")[2] or userinfo
    secrets = [password, urllib.parse.unquote(password)]
    secrets += [v for k, v in urllib.parse.parse_qsl(query)
                if any(s in k.lower() for s in _LIMITER_SECRET_PARAMS)]
    # longest first, so a password containing the user name is masked whole
    for secret in sorted({s for s in secrets if s}, key=len, reverse=True):
        text = text.replace(secret, "***")
    return text


# -- an ESP's error text -----------------------------------------------------------------------

#: the longest ESP message an error keeps, and the longest string inside a kept body
MAX_MESSAGE = 500
#: how much of an error body is kept: values in all, and how deep
MAX_BODY_VALUES = 200
MAX_BODY_DEPTH = 8
#: what stands for a value dropped to keep a body within those bounds
ELIDED = "\u2026"
#: a credential shorter than this is not masked wherever it appears (it would garble text)
MIN_SECRET = 6

#: request headers whose values are credentials (names, lowercased, containing one of these)
_SECRET_HEADERS = ("auth", "token", "key", "secret", "pass", "cookie", "signature", "credential")

# Every pattern is anchored on a literal or a word start and every repeat is bounded, so
# scrubbing stays linear in the text whatever an ESP sends (no catastrophic backtracking).

# An echoed Authorization header: its whole value is the credential, whatever it looks like.
_AUTH_ECHO = re.compile(
    r"""(\b(?:proxy-)?authorization["']?\s{0,8}[:=]\s{0,8})"""
    r"""("[^"\r\n]{0,2048}"|'[^'\r\n]{0,2048}'|[^\r\n,;}\]]{0,2048})""",
    re.IGNORECASE,
)
# "Basic <base64>", "Bearer <token>" and friends, wherever they stand
_SCHEME_TOKEN = re.compile(
    r"\b(Basic|Bearer|Token|Digest|ApiKey)(\s{1,8})([A-Za-z0-9._~+/=-]{1,4096})", re.IGNORECASE)
# A header, JSON field or query parameter, with its value: masked when named like a secret
_NAMED_VALUE = re.compile(
    r"""(?<![\w-])([\w-]{1,64})(["']?\s{0,8}[:=]\s{0,8}["']?)([^\s"',;&}\]]{1,1024})""")
_SECRET_NAME = re.compile(r"token|api[-_]?key|secret|password|passwd", re.IGNORECASE)
# userinfo in a URL: scheme://user:password@ (Mailgun's api:<key>)
_USERINFO = re.compile(
    r"(?<![a-z0-9+.-])([a-z][a-z0-9+.-]{0,30}://[^\s:/@]{0,256}:)([^\s/@]{1,1024})(@)",
    re.IGNORECASE)
# a bare api:<key>, as Basic credentials are written before encoding
_API_PAIR = re.compile(r"\b(api:)([A-Za-z0-9._~+/=-]{8,1024})", re.IGNORECASE)
# C0/C1 controls (but tab and newline) and bidirectional overrides: an ESP's text must not
# drive the terminal that shows the error, nor reorder what it shows. Lone surrogates (JSON
# may spell one, "\ud800") cannot be encoded at all: printing or logging them raises
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ud800-\udfff]")


def secret_forms(value: str) -> set[str]:
    """``value`` (a credential header's value) in every form an ESP might echo it: whole,
    without its scheme, Basic's base64 decoded (``api:<key>``) and its password alone, each
    also percent-encoded and base64-encoded. Forms shorter than ``MIN_SECRET`` are left out."""
    forms = {value, value.strip()}
    scheme, _, rest = value.strip().partition(" ")
    rest = rest.strip()
    if rest:
        forms.add(rest)
    if scheme.lower() == "basic" and rest:
        try:
            decoded = base64.b64decode(rest, validate=True).decode("utf-8")
        except (ValueError, UnicodeDecodeError):
            decoded = ""
        if decoded:
            forms.add(decoded)
            forms.add(decoded.partition(":")[2])
    elif not rest:
        # a bare key: its Basic form as Mailgun-style clients would send it
        forms.add(base64.b64encode(f"api:{value.strip()}".encode()).decode())
    for form in list(forms):
        forms.add(urllib.parse.quote(form, safe=""))
        forms.add(base64.b64encode(form.encode()).decode())
    return {f for f in forms if len(f) >= MIN_SECRET}


def request_secrets(headers: Mapping[str, str], url: str = "") -> frozenset[str]:
    """The credentials a request carried (values of headers named like secrets, query
    values named like secrets), each in every form ``secret_forms`` knows."""
    found: set[str] = set()
    for name, value in headers.items():
        if isinstance(value, bytes):
            value = value.decode("latin-1")
        if isinstance(value, str) and any(s in str(name).lower() for s in _SECRET_HEADERS):
            found |= secret_forms(value)
    query = urllib.parse.urlsplit(url).query if "?" in url else ""
    for k, v in urllib.parse.parse_qsl(query, keep_blank_values=True):
        if any(s in k.lower() for s in _URL_SECRET_PARAMS):
            found |= secret_forms(v)
    return frozenset(found)


def scrub_text(text: str, secrets: Iterable[str] = (), limit: int = MAX_MESSAGE) -> str:
    """``text`` from an ESP made fit for an exception, a log or a terminal: every form of
    ``secrets`` and anything shaped like a credential masked, control characters replaced,
    at most ``limit`` characters."""
    # Cut first (a 10 MB body is not run through every pattern), far enough past the limit
    # that a secret straddling this cut lies wholly beyond the final one.
    text = text[: limit + 4096]
    # longest first, so a secret containing another is masked whole
    for secret in sorted(secrets, key=len, reverse=True):
        if len(secret) >= MIN_SECRET:
            text = text.replace(secret, "***")
    text = _AUTH_ECHO.sub(r"\1***", text)
    text = _SCHEME_TOKEN.sub(_mask_scheme_token, text)
    text = _NAMED_VALUE.sub(_mask_named, text)
    text = _USERINFO.sub(r"\1***\3", text)
    text = _API_PAIR.sub(r"\1***", text)
    text = _CONTROL.sub("\ufffd", text)
    if len(text) > limit:
        text = text[: max(0, limit - 1)] + ELIDED
    return text


def scrub_body(body: Any, secrets: Iterable[str] = ()) -> Any:
    """An ESP's (JSON) error body, bounded and scrubbed for keeping in an exception: the same
    shape, strings through ``scrub_text``, at most ``MAX_BODY_VALUES`` values and
    ``MAX_BODY_DEPTH`` levels (the rest ``ELIDED``)."""
    secrets = tuple(secrets)
    budget = [MAX_BODY_VALUES]

    def walk(value: Any, depth: int) -> Any:
        if budget[0] <= 0:
            return ELIDED
        budget[0] -= 1
        if value is None or isinstance(value, (bool, float)):
            return value
        if isinstance(value, int):
            # a 4,000-digit number is not an ESP's answer, and would fill every message
            return value if abs(value) < 10**18 else ELIDED
        if isinstance(value, str):
            return scrub_text(value, secrets)
        if depth >= MAX_BODY_DEPTH:
            return ELIDED
        if isinstance(value, dict):
            out: dict[str, Any] = {}
            for k, v in value.items():
                if budget[0] <= 0:
                    out[ELIDED] = ELIDED
                    break
                out[scrub_text(str(k), secrets, limit=100)] = walk(v, depth + 1)
            return out
        if isinstance(value, (list, tuple)):
            items: list[Any] = []
            for v in value:
                if budget[0] <= 0:
                    items.append(ELIDED)
                    break
                items.append(walk(v, depth + 1))
            return items
        return scrub_text(str(value), secrets)

    return walk(body, 0)


def _mask_scheme_token(m: re.Match[str]) -> str:
    token = m.group(3)
    return f"{m.group(1)}{m.group(2)}***" if _credential_like(token) else m.group(0)


def _mask_named(m: re.Match[str]) -> str:
    if _SECRET_NAME.search(m.group(1)) and _credential_like(m.group(3)):
        return f"{m.group(1)}{m.group(2)}***"
    return m.group(0)


def _credential_like(token: str) -> bool:
    """Whether a word after ``Basic``/``Bearer``/``token=`` looks like a credential rather
    than prose ("Basic plan", "token: invalid"): long, or with digits, base64 padding or
    case changes inside."""
    if len(token) < 8:
        return False
    return (len(token) >= 20 or any(c.isdigit() for c in token)
            or any(c in "+/=" for c in token) or re.search(r"[a-z][A-Z]", token) is not None)


# The userinfo runs to the *last* "@", so a password with an unescaped "/" or "@" is still
# masked whole (too much at worst); nothing here can fail on a malformed port or address.
_URL = re.compile(
    r"(?:(?P<scheme>[^:/?#]+)://)?(?:(?P<userinfo>.*)@)?"
    r"(?P<host>[^/?#]*)(?P<path>[^?#]*)(?:\?(?P<query>[^#]*))?"
)


def _split(url: str) -> tuple[str, str, str, str, str]:
    """scheme, userinfo, host[:port], path, query."""
    m = _URL.match(url)
    assert m is not None  # every group is optional: it matches any string
    scheme, userinfo, host, path, query = m.group("scheme", "userinfo", "host", "path", "query")
    return scheme or "", userinfo or "", host, path, query or ""


__all__ = [
    "ELIDED",
    "MAX_MESSAGE",
    "display_url",
    "request_secrets",
    "safe_url",
    "scrub",
    "scrub_body",
    "scrub_text",
    "secret_forms",
]
