"""What the API modules beside ``app`` (``warmup``, ``sends``) need of a request, without
importing ``app`` (which imports them to route to their handlers).

A handler here takes any object shaped like ``app.Call``; paging reads ``limit`` and ``cursor``
as ``app``'s listings do (the same bounds, pinned equal in tests), so a client pages every
sandbox listing the same way.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from espkit.sandbox.store import ApiError

#: the same bounds as ``app``'s listings
MAX_PAGE = 100
DEFAULT_PAGE = 20


class CallLike(Protocol):
    """One routed request (``app.Call``)."""

    @property
    def account(self) -> str:
        """"" for the main account, else the subaccount id of the scope header."""

    @property
    def params(self) -> dict[str, str]: ...

    @property
    def query(self) -> dict[str, str]: ...

    @property
    def body(self) -> Any: ...


Handler = Callable[[CallLike], tuple[int, Any]]
Route = tuple[str, str, Handler]


def window(query: Mapping[str, str]) -> tuple[int, int]:
    """(position after which the page starts, page size) from ``cursor`` and ``limit``."""
    try:
        limit = int(query.get("limit", DEFAULT_PAGE))
    except ValueError:
        limit = 0
    if not 1 <= limit <= MAX_PAGE:
        raise ApiError(400, "invalid_request", f"limit must be 1-{MAX_PAGE}")
    after = 0
    if "cursor" in query:
        try:
            after = int(base64.urlsafe_b64decode(query["cursor"].encode()).decode())
        except ValueError:
            raise ApiError(400, "invalid_request", "invalid cursor") from None
        if after < 0:
            raise ApiError(400, "invalid_request", "invalid cursor")
    return after, limit


def cursor(last: int | None) -> str | None:
    """The opaque cursor of the page after position ``last`` (None: no more pages)."""
    return None if last is None else base64.urlsafe_b64encode(str(last).encode()).decode()


def main_only(call: CallLike, what: str) -> None:
    if call.account:
        raise ApiError(403, "forbidden", f"subaccounts cannot {what}")


def only_fields(call: CallLike, fields: set[str]) -> dict[str, str]:
    """The query parameters, refusing names the endpoint does not know (a typo in a client
    should fail loudly, not read the whole account)."""
    unknown = sorted(set(call.query) - fields)
    if unknown:
        raise ApiError(400, "invalid_request", f"unknown parameter(s): {', '.join(unknown)}")
    return call.query


__all__ = ["DEFAULT_PAGE", "MAX_PAGE", "CallLike", "Handler", "Route", "cursor", "main_only",
           "only_fields", "window"]
