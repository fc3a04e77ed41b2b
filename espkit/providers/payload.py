"""Small readers for ESP payloads, shared by the provider modules.

ESP JSON is loosely typed (ids as numbers or strings, objects that may be missing or null,
IPs written in several forms); these turn it into what the models expect without raising.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Iterator, Sequence
from typing import Any

Json = dict[str, Any]


def obj(value: Any) -> Json:
    """``value`` if it is a JSON object, else an empty one."""
    return value if isinstance(value, dict) else {}


def str_or_none(value: Any) -> str | None:
    return None if value is None else str(value)


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


def offset_pages(fetch: Callable[[int, int], Json], key: str, limit: int,
                 total_keys: Sequence[str]) -> Iterator[Json]:
    """Offset paging (Mailgun's skip/limit, Postmark's count/offset): ``fetch(limit,
    offset)`` returns one page, whose ``key`` holds the items and whose first present
    ``total_keys`` entry (if any) the total; stops at a short page or at the total."""
    offset = 0
    while True:
        body = fetch(limit, offset)
        items = [i for i in body.get(key) or [] if isinstance(i, dict)]
        yield from items
        offset += len(items)
        total = next((body[k] for k in total_keys if k in body), None)
        if len(items) < limit or (isinstance(total, int) and offset >= total):
            return


__all__ = ["Json", "canonical_ip", "is_ip", "obj", "offset_pages", "str_or_none"]
