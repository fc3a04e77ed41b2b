"""Decoding ESP answers: JSON in, models or a typed ``ProtocolError`` out.

An ESP's answer is untrusted input (docs/security.md): a broken or hostile server may send
anything, and ``espkit plan`` runs unattended in CI. So providers never index a body: they
read it with the readers below, which return what the models need or raise ``Malformed``,
and run every decoding step through ``decoded``, which turns ``Malformed`` into a
``ProtocolError`` naming the provider, status, request id and a short, scrubbed excerpt.

Two levels of strictness, on purpose:

* what espkit acts on (names, the ids it puts in the next request's path, the lists it
  iterates, pool membership, paging totals and cursors) must have the documented type, or the
  answer is refused;
* what it only reports (rDNS, timestamps, descriptions) is dropped when it has the wrong
  type, so a display field cannot make a listing of 50,000 domains fail.

ESP JSON is loosely typed (ids as numbers or strings, objects that may be missing or null,
IPs written in several forms); the readers accept the documented variants. The paging loops
that read many answers are in ``espkit.providers.paging``.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import json
import math
import re
import weakref
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any, TypeVar

import attrs

from espkit import validate
from espkit.errors import EspkitError, ProtocolError
from espkit.transport import scrub_text

Json = dict[str, Any]
T = TypeVar("T")

#: the largest id or count taken from an answer (what ESPs store in 64 bits)
MAX_WHOLE = 2**63 - 1
#: how much of an unreadable answer a ProtocolError quotes
EXCERPT_CHARS = 200


class Malformed(Exception):
    """An answer does not have the shape espkit reads; ``what`` says where and how."""

    def __init__(self, what: str) -> None:
        super().__init__(what)
        self.what = what


# -- readers -------------------------------------------------------------------------------


def kind(value: Any) -> str:
    """What a JSON value is, for messages (never the value: it may be huge or hostile)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "an empty string" if not value else "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def obj(value: Any) -> Json:
    """``value`` if it is a JSON object, else an empty one (for optional, report-only parts)."""
    return value if isinstance(value, dict) else {}


def need_obj(value: Any, what: str) -> Json:
    if isinstance(value, dict):
        return value
    raise Malformed(f"{what} is {kind(value)}, not an object")


def opt_obj(value: Any, what: str) -> Json:
    """An object that may be missing or null (then empty); anything else is malformed."""
    return {} if value is None else need_obj(value, what)


def objects(value: Any, what: str, *, required: bool = False) -> list[Json]:
    """A list of objects. Missing or null is an empty list (unless ``required``: a listing
    whose answer has no list is no listing), and null items are skipped (OpenAPI specs allow
    both); any other item is malformed."""
    if value is None and not required:
        return []
    if not isinstance(value, list):
        raise Malformed(f"{what} is {kind(value)}, not a list")
    out = []
    for index, item in enumerate(value):
        if item is None:
            continue
        if not isinstance(item, dict):
            raise Malformed(f"{what}[{index}] is {kind(item)}, not an object")
        out.append(item)
    return out


def strings(value: Any, what: str) -> list[str]:
    """A list of non-empty strings (null items skipped); missing or null is empty."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise Malformed(f"{what} is {kind(value)}, not a list")
    return [need_str(item, f"{what}[{i}]") for i, item in enumerate(value) if item is not None]


def need_str(value: Any, what: str) -> str:
    """A non-empty string without control characters."""
    if not isinstance(value, str) or not value:
        raise Malformed(f"{what} is {kind(value)}, not a non-empty string")
    if not value.isprintable():
        raise Malformed(f"{what} contains control characters")
    return value


def opt_text(value: Any, what: str) -> str:
    """A string that may be missing or null (then empty); anything else is malformed."""
    if value is None:
        return ""
    if not isinstance(value, str):
        raise Malformed(f"{what} is {kind(value)}, not a string")
    return value


def str_or_none(value: Any) -> str | None:
    """A report-only scalar as text: a string, or a finite number; anything else is None."""
    if isinstance(value, str):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value) if abs(value) <= MAX_WHOLE else None
    if isinstance(value, float) and math.isfinite(value):
        return str(value)
    return None


def whole(value: Any, what: str) -> int:
    """A whole number from 0 to ``MAX_WHOLE`` (also written 42.0: some specs type ids as
    ``number``)."""
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        value = int(value)
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= MAX_WHOLE:
        return value
    raise Malformed(f"{what} is {kind(value)}, not a whole number from 0 to 2^63-1")


def opt_whole(value: Any, what: str) -> int | None:
    return None if value is None else whole(value, what)


def opt_priority(value: Any, what: str) -> int | None:
    """An MX priority: a whole number that fits DNS's 16 bits (0-65535), or none."""
    number = opt_whole(value, what)
    if number is not None and number > 65535:
        raise Malformed(f"{what} is over 65535, not an MX priority")
    return number


def ident(value: Any, what: str) -> str:
    """An id: a non-empty string without control characters, or a whole number. Not "." or
    "..": ids go into the path of later requests, where a dot segment would be resolved away
    and the request sent to another endpoint (``DELETE /v3/ip_pools/..`` is
    ``DELETE /v3/``)."""
    if isinstance(value, str):
        if value.strip() in ("", ".", ".."):
            raise Malformed(f"{what} is {value.strip() or 'blank'!r}, not an id")
        return need_str(value, what)
    return str(whole(value, what))


def opt_ident(value: Any, what: str) -> str | None:
    """An id that may be missing, null or empty (then None)."""
    return None if value is None or value == "" else ident(value, what)


def opt_bool(value: Any) -> bool | None:
    """A report-only flag: True, False, or None for anything else."""
    return value if isinstance(value, bool) else None


# A name as an ESP writes it: dot-separated labels of letters, digits, '-' and '_', nothing
# that could walk a path or hide another name (whitespace, '/', '..', control characters).
LABEL = re.compile(r"[\w-]{1,63}", re.ASCII)


def domain(value: Any, what: str) -> str:
    """A domain name read from an ESP, in espkit's form (lower case, no trailing dot)."""
    name = need_str(value, what).rstrip(".").lower()
    labels = name.split(".")
    if len(name) > 253 or not all(LABEL.fullmatch(label) for label in labels):
        raise Malformed(f"{what} is not a domain name")
    return name


def same_domain(answered: str, asked: str) -> bool:
    """True when the name an ESP answered is the one espkit asked for (``asked`` is already
    canonical; an ESP may answer in another case, with a trailing dot, or as Unicode)."""
    if answered == asked:
        return True
    try:
        return validate.domain_name(answered) == asked
    except EspkitError:
        return False


def named(answered: str, asked: str, what: str) -> str:
    """``asked``, after checking the answer is about that domain and no other."""
    if not same_domain(answered, asked):
        raise Malformed(f"{what} names another domain than the one asked for")
    return asked


def is_ip(value: str) -> bool:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


def canonical_ip(value: str) -> str:
    """The form ``validate.ip_address`` produces, so ESP and user IPs compare equal; a value
    that is not an IP is returned as is."""
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        return value


def ip(value: Any, what: str) -> str:
    """An IP address from an answer, canonical; anything else is malformed."""
    text = need_str(value, what)
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        raise Malformed(f"{what} is not an IP address") from None


def ips(value: Any, what: str) -> list[str]:
    return [ip(item, f"{what}[{i}]") for i, item in enumerate(strings(value, what))]


# -- answers -> models or ProtocolError ------------------------------------------------------


@attrs.frozen
class Source:
    """Where an answer came from, for the ``ProtocolError`` that refuses it. ``write``: the
    request was a non-idempotent write answered 2xx, so it may well have been applied."""

    provider: str
    method: str = ""
    url: str = ""
    status: int | None = None
    request_id: str | None = None
    write: bool = False
    #: the request's credentials, in every form the excerpt must not show
    secrets: frozenset[str] = attrs.field(default=frozenset(), repr=False)

    def error(self, what: str, body: Any = None) -> ProtocolError:
        # ``what`` may quote the answer (a key espkit did not expect): scrubbed of this
        # request's credentials and of control characters, and bounded, like the excerpt
        return ProtocolError(
            scrub_text(what, self.secrets, MAX_WHAT), excerpt=excerpt(body, self.secrets),
            provider=self.provider,
            status=self.status, method=self.method or None, url=self.url or None,
            request_id=self.request_id, maybe_applied=self.write,
        )


#: the longest a ProtocolError's own message (not its excerpt) may be
MAX_WHAT = 300

#: what a bug in a decoder (or a parser of someone else's) raises on an answer of the wrong
#: shape; ``decoded`` still turns it into a ProtocolError, keeping the original as its
#: ``__cause__`` (which the fuzz tests look for)
SLIPS = (LookupError, TypeError, ValueError, AttributeError, ArithmeticError, RecursionError)


def decoded(decode: Callable[[Any], T], body: Any,
            source: Source | Callable[[], Source]) -> T:
    """``decode(body)``, with an unreadable answer raised as a ``ProtocolError``.

    ``source`` may be a function making the ``Source``: naming where an answer came from
    costs a URL parse, paid only when the answer is refused, not on every call."""
    try:
        return decode(body)
    except EspkitError:
        raise
    except Malformed as exc:
        raise _source(source).error(exc.what, body) from None
    except SLIPS as exc:
        raise _source(source).error(
            f"espkit could not read the answer ({type(exc).__name__})", body) from exc


def _source(source: Source | Callable[[], Source]) -> Source:
    return source if isinstance(source, Source) else source()


def ignored(body: Any) -> None:
    """The decoder of answers espkit does not read (deletes, membership changes)."""


# -- excerpts ------------------------------------------------------------------------------

#: object keys whose values an excerpt never shows
_SECRET_KEY = re.compile(r"(?i)token|passw|secret|api[-_]?key|authori[sz]|credential|"
                         r"signature|private|cookie")


def excerpt(body: Any, secrets: Iterable[str] = (), limit: int = EXCERPT_CHARS) -> str:
    """At most ``limit`` characters of ``body`` as compact JSON, escaped to ASCII (so no
    control or escape sequence can reach a terminal), values of secret-named keys left out,
    and ``secrets`` and anything shaped like a credential masked (``scrub_text``), however
    large or deeply nested the body is."""
    if body is None:
        return ""
    out: list[str] = []
    _render(body, out, [limit + 64], 0)
    return scrub_text("".join(out), secrets, limit=limit)


# Credentials per HTTP session: an ESP may echo the key anywhere in an answer, and the
# provider that reads the answer never holds the key. Scoped copies and Postmark's server
# transport share their parent's session, so each session knows every key it carries.
_CREDENTIALS: weakref.WeakKeyDictionary[Any, frozenset[str]] = weakref.WeakKeyDictionary()


def remember_credentials(session: Any, headers: Mapping[str, str]) -> None:
    """Note the credential ``headers`` (as an auth object sets them) sent over ``session``,
    so that ``credentials_of(session)`` can mask them in excerpts."""
    forms: set[str] = set()
    for value in headers.values():
        scheme, _, rest = value.partition(" ")
        forms |= {value, rest}
        if scheme.lower() == "basic" and rest:
            try:
                user_pass = base64.b64decode(rest, validate=True).decode("utf-8")
            except (binascii.Error, UnicodeDecodeError):
                user_pass = ""
            forms |= {user_pass, user_pass.partition(":")[2]}
    known = _CREDENTIALS.get(session, frozenset())
    _CREDENTIALS[session] = known | {f for f in forms if len(f) >= 6}


def credentials_of(session: Any) -> frozenset[str]:
    return _CREDENTIALS.get(session, frozenset())


def _render(value: Any, out: list[str], room: list[int], depth: int) -> None:
    """Append ``value`` as JSON to ``out`` until ``room`` characters are used (bounded in
    depth and length, so a hostile body costs a few hundred characters of work)."""
    if room[0] <= 0:
        return
    if isinstance(value, dict) and depth < 8:
        parts: Iterator[Any] = iter(value.items())
        out.append("{")
        room[0] -= 1
        for n, (key, item) in enumerate(parts):
            if room[0] <= 0:
                return
            if n:
                out.append(",")
            _emit(json.dumps(str(key)[:64]) + ":", out, room)
            if _SECRET_KEY.search(str(key)):
                _emit('"***"', out, room)  # Postmark's ApiTokens, Mailgun's smtp_password
            else:
                _render(item, out, room, depth + 1)
        out.append("}")
    elif isinstance(value, list) and depth < 8:
        out.append("[")
        room[0] -= 1
        for n, item in enumerate(value):
            if room[0] <= 0:
                return
            if n:
                out.append(",")
            _render(item, out, room, depth + 1)
        out.append("]")
    elif isinstance(value, (dict, list)):
        _emit("{...}" if isinstance(value, dict) else "[...]", out, room)
    elif isinstance(value, str):
        _emit(json.dumps(value[: room[0]]), out, room)
    elif isinstance(value, int) and not isinstance(value, bool) and abs(value) > 10**30:
        _emit("<a very large number>", out, room)
    else:
        try:
            _emit(json.dumps(value), out, room)
        except (TypeError, ValueError):
            _emit(json.dumps(repr(value)[:64]), out, room)


def _emit(text: str, out: list[str], room: list[int]) -> None:
    out.append(text[: max(room[0], 0)])
    room[0] -= len(text)


__all__ = [
    "EXCERPT_CHARS",
    "LABEL",
    "SLIPS",
    "Json",
    "Malformed",
    "Source",
    "canonical_ip",
    "credentials_of",
    "decoded",
    "domain",
    "excerpt",
    "ident",
    "ignored",
    "ip",
    "ips",
    "is_ip",
    "kind",
    "named",
    "need_obj",
    "need_str",
    "obj",
    "objects",
    "opt_bool",
    "opt_ident",
    "opt_obj",
    "opt_priority",
    "opt_text",
    "opt_whole",
    "remember_credentials",
    "same_domain",
    "str_or_none",
    "strings",
    "whole",
]
