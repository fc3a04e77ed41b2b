"""The ``{placeholder}`` templates of a fleet file (a stream's ``domain: "news.{domain}"``, a
template's ``subaccount: "{customer}-prod"``): checked for unknown names and stray braces,
and expanded per customer and stream.

Plain functions on strings, shared by the checks of streams, templates and customers.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from espkit.fleet.reader import excerpt

PLACEHOLDER = re.compile(r"\{([^{}]*)\}")
#: what a domain template may use
DOMAIN_FIELDS = ("customer", "domain", "stream")
#: what a subaccount template may use
SUBACCOUNT_FIELDS = ("customer", "domain")


def placeholder_problem(text: str, allowed: tuple[str, ...]) -> str | None:
    """What is wrong with the placeholders of ``text`` (only ``allowed`` may be used), or
    None."""
    names = PLACEHOLDER.findall(text)
    unknown = [n for n in names if n not in allowed]
    use = ", ".join("{" + a + "}" for a in allowed)
    if unknown:
        shown = ", ".join("{" + n + "}" for n in unknown)
        return f"unknown placeholder {shown} in {excerpt(text)}; use {use}"
    rest = PLACEHOLDER.sub("", text)
    if "{" in rest or "}" in rest:
        return f"unbalanced brace in {excerpt(text)}; placeholders are {use}"
    return None


def expand(text: str, values: Mapping[str, str]) -> str:
    """``text`` with every placeholder replaced by its value (all checked to be known)."""
    return PLACEHOLDER.sub(lambda m: values[m.group(1)], text)


def needs(text: str, field: str) -> bool:
    """Whether ``text`` uses the placeholder ``{field}``."""
    return field in PLACEHOLDER.findall(text)


__all__ = [
    "DOMAIN_FIELDS",
    "PLACEHOLDER",
    "SUBACCOUNT_FIELDS",
    "expand",
    "needs",
    "placeholder_problem",
]
