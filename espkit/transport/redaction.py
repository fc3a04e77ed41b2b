"""What of a URL may be shown: credentials never reach a log line or an error message.

Two kinds of URL are named in messages. An ESP's request URL (``safe_url``) is well formed,
so it is parsed properly, brackets and port included. A limiter URL given by the user
(``display_url``, ``scrub``) may be malformed, and must still be named, without its password,
in the very error that rejects it: those helpers parse nothing that can fail. ``scrub``
masks a URL's secrets inside text we did not write (a Redis driver's error messages).
"""

from __future__ import annotations

import re
import urllib.parse

#: query parameters whose values ``safe_url`` masks (substrings of the lowercased name)
_URL_SECRET_PARAMS = ("key", "token", "secret", "password", "auth")
#: query parameters whose values ``display_url`` and ``scrub`` mask
_LIMITER_SECRET_PARAMS = ("pass", "secret", "token", "key", "auth")


def safe_url(url: str) -> str:
    """URL fit for logs and errors: no userinfo, secret-looking query values masked."""
    parts = urllib.parse.urlsplit(url)
    netloc = parts.hostname or ""
    if ":" in netloc:  # an IPv6 literal keeps its brackets
        netloc = f"[{netloc}]"
    if parts.port:
        netloc += f":{parts.port}"
    query = urllib.parse.parse_qsl(parts.query, keep_blank_values=True)
    masked = [
        (k, "***" if any(s in k.lower() for s in _URL_SECRET_PARAMS) else v) for k, v in query
    ]
    return urllib.parse.urlunsplit(
        (parts.scheme, netloc, parts.path, urllib.parse.urlencode(masked, safe="*"), "")
    )


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
    "display_url",
    "safe_url",
    "scrub",
]
