"""Input checks run before any request is built.

Every value that ends up in a URL path goes through one of these and then through
``segment()``, so a hostile or mistyped name can never change which endpoint is hit.
"""

from __future__ import annotations

import ipaddress
import re
import unicodedata
import urllib.parse
from collections.abc import Iterable
from typing import Any

import idna

from espkit.errors import ValidationError
from espkit.models import DomainSpec

# fullmatch, not ``$``: ``$`` also matches before a trailing newline
_LABEL = re.compile(r"(?!-)[a-z0-9-]{1,63}(?<!-)")
_FORBIDDEN = re.compile(r"[/\\%@:?#\s\x00-\x1f\x7f]")
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
#: the longest domain name, counted on the ASCII (punycode) form without the trailing dot
MAX_NAME = 253
MAX_LABEL = 63

#: the values espkit accepts for the DomainSpec options of the same names (whatever the
#: provider: which options a provider honours is its ``DOMAIN_OPTIONS``)
DKIM_KEY_SIZES = (1024, 2048)
SPAM_ACTIONS = ("disabled", "block", "tag")
WEB_SCHEMES = ("http", "https")
#: the DomainSpec creation options ``domain_option`` checks (all but name, ips and pool),
#: in the order ``domain_spec`` checks them
DOMAIN_OPTIONS = (
    "dkim_key_size", "spam_action", "web_scheme", "wildcard", "dkim_selector", "web_prefix",
)


def domain_name(value: object, field: str = "domain") -> str:
    """Return the canonical form of a domain name: IDNA 2008 (UTS 46, non-transitional)
    A-labels, lower case, no trailing dot.

    Upper case folds to lower and one trailing dot is dropped; any other change the IDNA
    mapping would make (a zero-width or soft-hyphen character dropped, a compatibility dot
    or full-width letter replaced, any NFKC change) is refused with the name it would become,
    because then the domain acted on is not the one typed (IDNA 2003 turned ``faß.de`` into
    ``fass.de`` and ``x\u200b.com`` into ``x.com``)."""
    if not isinstance(value, str):
        raise ValidationError(field, value, "must be a string")
    if not value:
        raise ValidationError(field, value, "must not be empty")
    if _FORBIDDEN.search(value):
        raise ValidationError(
            field, value, "contains a character not allowed in a domain name "
            "(slash, percent, whitespace, control character, ...)"
        )
    name = value[:-1] if value.endswith(".") else value
    if not name or ".." in name or name.startswith(".") or name.endswith("."):
        raise ValidationError(field, value, "has an empty label")
    # Nothing legal is longer (nothing may be dropped, and each Unicode character costs at
    # least one ASCII one): this bounds the work the IDNA code below does on hostile input.
    if len(name) > MAX_NAME:
        raise ValidationError(field, value, f"is longer than {MAX_NAME} characters")
    unicode_name = name.lower() if name.isascii() else _uts46_unchanged(name, value, field)
    labels = [_a_label(label, value, field) for label in unicode_name.split(".")]
    ascii_name = ".".join(labels)
    if len(ascii_name) > MAX_NAME:
        raise ValidationError(
            field, value, f"is longer than {MAX_NAME} characters as sent ({ascii_name!r})"
        )
    if len(labels) < 2:
        raise ValidationError(field, value, "needs at least two labels, e.g. mail.example.com")
    if labels[-1].isdigit():
        raise ValidationError(field, value, "top-level label cannot be numeric")
    return ascii_name


def _uts46_unchanged(name: str, value: str, field: str) -> str:
    """The UTS 46 mapping of a non-ASCII ``name``, which may only fold upper case."""
    try:
        # non-transitional (ß and ς kept) is the default of every idna release; the
        # ``transitional`` argument is deprecated with UTS 46's transitional processing (a
        # no-op in recent idna) and is not passed, so that its removal cannot break this
        mapped = idna.uts46_remap(name, std3_rules=True)
        # character by character, to tell the fold apart from every other mapping
        folds = [_folded(c) for c in name]
    except (idna.IDNAError, UnicodeError) as exc:
        raise ValidationError(field, value, f"is not a valid IDNA 2008 name ({exc})") from None
    # NFKC: the Kelvin sign folds to a plain "k" but is no more the letter typed than a
    # full-width one is; the whole-name comparison also catches what NFC would recompose
    if (None in folds or "".join(c for c in folds if c is not None) != mapped
            or unicodedata.normalize("NFKC", name) != name):
        raise ValidationError(field, value, f"would become {_shown(mapped)} under IDNA 2008 "
                              "mapping: give that name if it is the one meant")
    return mapped


def _folded(c: str) -> str | None:
    """``c`` as UTS 46 maps it if that is ``c`` itself or its lower case, else None."""
    if c.isascii():
        return c.lower()
    m = idna.uts46_remap(c, std3_rules=True)
    return m if m in (c, c.lower()) else None


def _shown(mapped: str) -> str:
    try:
        return f"{mapped!r} ({idna.encode(mapped, uts46=False).decode('ascii')!r})"
    except (idna.IDNAError, UnicodeError):
        return repr(mapped)


def _a_label(label: str, value: str, field: str) -> str:
    """The A-label (or LDH label) for one label of a mapped name."""
    try:
        if not label.isascii():
            # the length first, in the form sent (the punycode idna itself uses), so that
            # the message can say so
            ascii_label = "xn--" + label.encode("punycode").decode("ascii")
            if len(ascii_label) > MAX_LABEL:
                raise ValidationError(field, value, f"label {label!r} is longer than "
                                      f"{MAX_LABEL} characters as sent ({ascii_label!r})")
            if idna.alabel(label).decode("ascii") != ascii_label:  # pragma: no cover
                raise ValidationError(field, value, f"label {label!r} has no stable A-label")
        elif label.startswith("xn--"):
            # an A-label must be the canonical encoding of a valid U-label: ``xn--zz`` is
            # not punycode, and a non-canonical spelling would name another domain
            if idna.alabel(idna.ulabel(label)).decode("ascii") != label:
                raise ValidationError(field, value, f"label {label!r} is not a canonical A-label")
            ascii_label = label
        else:
            # plain LDH labels keep the DNS rules espkit always applied (``ab--c`` is a
            # valid host name though IDNA reserves it for future prefixes)
            ascii_label = label
    except (idna.IDNAError, UnicodeError) as exc:
        raise ValidationError(
            field, value, f"label {label!r} is not a valid IDNA 2008 label ({exc})"
        ) from None
    if not _LABEL.fullmatch(ascii_label):
        raise ValidationError(
            field, value,
            f"label {ascii_label!r} must be 1-63 letters, digits or hyphens, "
            "not starting or ending with a hyphen",
        )
    return ascii_label


def ip_address(value: object, field: str = "ip") -> str:
    """Return the canonical text form of an IPv4 or IPv6 address."""
    if not isinstance(value, str):
        raise ValidationError(field, value, "must be a string")
    try:
        return str(ipaddress.ip_address(value.strip() if value.strip() == value else value))
    except ValueError:
        raise ValidationError(field, value, "is not an IPv4 or IPv6 address") from None


def ip_addresses(values: Iterable[object], field: str = "ips") -> tuple[str, ...]:
    if isinstance(values, str):
        raise ValidationError(field, values, "must be a list of addresses, not one string")
    out: list[str] = []
    for v in values:
        ip = ip_address(v, field)
        if ip not in out:
            out.append(ip)
    return tuple(out)


def resource_name(value: object, field: str) -> str:
    """Pool and subaccount names: 1-64 of letters, digits, ``.``, ``_``, ``-``."""
    if not isinstance(value, str):
        raise ValidationError(field, value, "must be a string")
    if not _NAME.fullmatch(value):
        raise ValidationError(
            field, value,
            "must be 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit",
        )
    return value


def pool_name(value: object) -> str:
    return resource_name(value, "pool")


def subaccount_name(value: object) -> str:
    return resource_name(value, "subaccount")


def identifier(value: object, field: str) -> str:
    """An ESP-issued id (opaque). Reject anything that could escape a path segment."""
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or not value:
        raise ValidationError(field, value, "must be a non-empty string")
    if _FORBIDDEN.search(value) or value in {".", ".."}:
        raise ValidationError(field, value, "contains a character not allowed in an id")
    return value


def header_value(field: str, value: object, secret: bool = False) -> str:
    """Check a value espkit puts in an HTTP header (a subaccount id, a key) and return it.

    HTTP carries header values as bytes: a non-ASCII character would be sent as Latin-1
    or raise a bare ``UnicodeEncodeError`` deep in http.client (whose message shows the
    value), and CR/LF would end the header. Printable ASCII only, with no surrounding
    space (HTTP strips it, so the ESP would see another value). With ``secret`` the error
    shows ``<redacted>`` and says only where the bad character is."""
    shown = "<redacted>" if secret else value
    if not isinstance(value, str):
        raise ValidationError(field, "<redacted>" if secret else value, "must be a string")
    if not value:
        raise ValidationError(field, shown, "must not be empty")
    for position, c in enumerate(value):
        if not " " <= c <= "~":
            kind = "a control character" if c.isascii() else "a non-ASCII character"
            what = kind if secret else f"{kind} ({c!r})"
            raise ValidationError(
                field, shown, f"has {what} at position {position}: HTTP headers carry "
                "printable ASCII only",
            )
    if value != value.strip(" "):
        raise ValidationError(field, shown, "must not start or end with a space")
    return value


def choice(value: object, field: str, allowed: Iterable[object]) -> None:
    allowed = tuple(allowed)
    if value not in allowed:
        raise ValidationError(field, value, f"must be one of {', '.join(map(repr, allowed))}")


def domain_option(key: str, value: Any) -> Any:
    """Check one DomainSpec creation option other than name, ips and pool (one of
    ``DOMAIN_OPTIONS``) and return its value, normalised (``dkim_key_size`` as an int)."""
    if key == "dkim_key_size":
        choice(value, key, DKIM_KEY_SIZES)
        return int(value)  # 1024.0 is 1024
    if key == "spam_action":
        choice(value, key, SPAM_ACTIONS)
        return value
    if key == "web_scheme":
        choice(value, key, WEB_SCHEMES)
        return value
    if key == "wildcard":
        if not isinstance(value, bool):
            raise ValidationError(key, value, "must be true or false")
        return value
    if key in ("dkim_selector", "web_prefix"):
        return resource_name(value, key)
    raise ValidationError(
        "domain option", key, f"is not one of {', '.join(map(repr, DOMAIN_OPTIONS))}"
    )


def domain_spec(spec: DomainSpec) -> DomainSpec:
    """Check a spec against espkit's own rules, whatever the provider, and return it
    normalised: the canonical name and IPs, ``dkim_key_size`` an int.

    Whether the provider honours each option is the account's check
    (``Domains.check_spec``)."""
    name = domain_name(spec.name)
    options = {
        key: domain_option(key, getattr(spec, key))
        for key in DOMAIN_OPTIONS
        if getattr(spec, key) is not None
    }
    ips = ip_addresses(spec.ips)
    pool = pool_name(spec.pool) if spec.pool is not None else None
    if ips and pool:
        raise ValidationError("pool", pool, "give ips or pool, not both")
    return DomainSpec(name=name, ips=ips, pool=pool, **options)


def segment(value: str) -> str:
    """Percent-encode one URL path segment (nothing is left unquoted, not even ``/``)."""
    return urllib.parse.quote(value, safe="")


__all__ = [
    "DKIM_KEY_SIZES",
    "DOMAIN_OPTIONS",
    "MAX_LABEL",
    "MAX_NAME",
    "SPAM_ACTIONS",
    "WEB_SCHEMES",
    "choice",
    "domain_name",
    "domain_option",
    "domain_spec",
    "header_value",
    "identifier",
    "ip_address",
    "ip_addresses",
    "pool_name",
    "resource_name",
    "segment",
    "subaccount_name",
]
