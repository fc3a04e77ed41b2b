"""Small readers for ESP payloads, shared by the provider modules.

ESP JSON is loosely typed (ids as numbers or strings, objects that may be missing or null,
IPs written in several forms); these turn it into what the models expect without raising.
"""

from __future__ import annotations

import ipaddress
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


__all__ = ["Json", "canonical_ip", "is_ip", "obj", "str_or_none"]
