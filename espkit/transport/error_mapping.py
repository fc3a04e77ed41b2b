"""How an ESP's error answer becomes one of espkit's error classes.

Shared by every provider whatever carries its calls: ``Transport`` maps HTTP answers with a
provider's ``ErrorParser`` (``default_error_parser`` unless the ESP's bodies need their own),
and SES, whose calls go through boto3, maps its status codes with the same ``status_class``.
The error classes themselves live in ``espkit.errors``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import attrs
import requests

from espkit.errors import (
    AlreadyExists,
    AuthError,
    EspError,
    NotFound,
    RateLimited,
    Rejected,
    ServerError,
)


@attrs.frozen
class ErrorDetail:
    """What a provider's error parser extracts from an error response. ``error_class``
    overrides the status-based default (e.g. a Mailgun 400 that means "already exists")."""

    message: str
    code: str | None = None
    error_class: type[EspError] | None = None


ErrorParser = Callable[[requests.Response, Any], ErrorDetail]


def default_error_parser(response: requests.Response, body: Any) -> ErrorDetail:
    """The message in the JSON shapes ESPs commonly answer with, else the start of the body
    (else the reason phrase)."""
    if isinstance(body, dict):
        for key in ("message", "Message", "error", "Reason", "detail"):
            value = body.get(key)
            if isinstance(value, str) and value:
                return ErrorDetail(value)
            if isinstance(value, dict) and isinstance(value.get("message"), str):
                return ErrorDetail(value["message"], code=_str_or_none(value.get("code")))
        errors = body.get("errors")
        if isinstance(errors, list) and errors and isinstance(errors[0], dict):
            first = errors[0]
            text = first.get("message") or first.get("description") or str(first)
            return ErrorDetail(str(text), code=_str_or_none(first.get("code")))
    text = body_excerpt(response).strip()
    return ErrorDetail(text[:300] or response.reason or f"HTTP {response.status_code}")


def body_excerpt(response: requests.Response, limit: int = 4096) -> str:
    """The start of an answer's body as text. Not ``response.text``: without a charset it
    guesses one by scanning the whole body (seconds for a large one), and a bogus charset
    name must not fail the error it explains."""
    head = (response.content or b"")[:limit]
    try:
        return head.decode(response.encoding or "utf-8", errors="replace")
    except LookupError:  # a charset Python does not know
        return head.decode("utf-8", errors="replace")


def _str_or_none(v: object) -> str | None:
    return None if v is None else str(v)


def status_class(status: int) -> type[EspError]:
    """The error class espkit uses for an HTTP status (401/403 auth, 404, 409, 429, 5xx)."""
    if status in (401, 403):
        return AuthError
    if status == 404:
        return NotFound
    if status == 409:
        return AlreadyExists
    if status == 429:
        return RateLimited
    if status >= 500:
        return ServerError
    return Rejected


__all__ = [
    "ErrorDetail",
    "ErrorParser",
    "body_excerpt",
    "default_error_parser",
    "status_class",
]
