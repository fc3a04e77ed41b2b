"""The one request pipeline every HTTP provider (and the sandbox) goes through.

Per attempt: wait for the shared rate limiter -> send with (connect, read) timeouts ->
observe rate-limit headers -> map errors to the typed tree. Around attempts, the
``RetryRunner`` (``espkit.transport.retry``) decides whether, when and how often to send
again; this module knows what HTTP adds to that: which methods are idempotent, which
connection failures prove nothing was sent, and what the rate-limit headers say.

Non-idempotent requests (POST, PATCH) are only retried when the ESP cannot have acted on them:
a 429, or a connection that was never established. Anything ambiguous (read timeout, reset
after sending, 5xx) is raised with ``maybe_applied=True`` so the caller reads back first.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import attrs
import requests
import tenacity
import urllib3.exceptions

from espkit.errors import EspError, NotFound, RateLimited, TransportError
from espkit.transport.error_mapping import ErrorParser, default_error_parser, status_class
from espkit.transport.ratelimit import Limiter, RetryBudget
from espkit.transport.redaction import safe_url
from espkit.transport.retry import RetryPolicy, RetryRunner, parse_reset, parse_retry_after

log = logging.getLogger("espkit.http")

IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS"})
DEFAULT_TIMEOUT = (5.0, 30.0)


@attrs.frozen
class HttpResponse:
    """A successful answer: its status, its JSON body (``None`` when empty or not JSON), its
    headers and the ESP's request id when one of the provider's headers carried it."""

    status: int
    body: Any
    headers: Mapping[str, str] = attrs.field(repr=False)
    request_id: str | None = None


def _never_sent(exc: requests.RequestException) -> bool:
    """True when the connection was never established, so the ESP cannot have acted."""
    if isinstance(exc, requests.ConnectTimeout):
        return True
    seen: set[int] = set()
    cur: BaseException | None = exc
    while cur is not None and id(cur) not in seen:
        seen.add(id(cur))
        if isinstance(cur, urllib3.exceptions.NewConnectionError):
            return True
        if isinstance(cur, urllib3.exceptions.MaxRetryError) and isinstance(
            cur.reason, urllib3.exceptions.NewConnectionError
        ):
            return True
        cur = cur.__cause__ or cur.__context__ or (cur.args[0] if cur.args and isinstance(
            cur.args[0], BaseException) else None)
    return False


class Transport:
    """Sends requests for one provider account. Thread-safe; share one per account.

    ``limiter`` and ``budget`` are normally the process-wide ones for this account
    (see ``ratelimit.shared_limiter``) so every thread and every scoped copy shares them.
    """

    def __init__(
        self,
        provider: str,
        base_url: str,
        *,
        auth: requests.auth.AuthBase | None = None,
        headers: Mapping[str, str] | None = None,
        timeout: tuple[float, float] = DEFAULT_TIMEOUT,
        retry: RetryPolicy = RetryPolicy(),  # noqa: B008 - frozen (attrs), safe to share
        limiter: Limiter | None = None,
        budget: RetryBudget | None = None,
        session: requests.Session | None = None,
        parse_error: ErrorParser = default_error_parser,
        request_id_headers: Sequence[str] = ("X-Request-Id",),
        sleep: Callable[[float], None] | None = None,
    ) -> None:
        self.provider = provider
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        #: the retry loop; its limiter, budget and counters are this transport's
        self.runner = RetryRunner(provider, retry=retry, limiter=limiter, budget=budget,
                                  sleep=sleep)
        self.parse_error = parse_error
        self.request_id_headers = tuple(request_id_headers)
        self._auth = auth
        self._headers = dict(headers or {})
        self._sleep = sleep
        if session is None:
            session = requests.Session()
            # as many kept-alive connections as the bulk engine may have requests in flight
            adapter = requests.adapters.HTTPAdapter(pool_connections=4, pool_maxsize=256)
            session.mount("https://", adapter)
            session.mount("http://", adapter)
            session.headers["User-Agent"] = "espkit/0.1"
            # requests re-reads proxy and CA-bundle variables from the environment on every
            # call (about a fifth of its CPU per request): read them once, here, instead
            session.proxies.update(requests.utils.get_environ_proxies(base_url))
            bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
            if bundle:
                session.verify = bundle
            session.trust_env = False
        self.session = session

    def __repr__(self) -> str:
        return f"Transport({self.provider!r}, {safe_url(self.base_url)!r})"

    @property
    def retry(self) -> RetryPolicy:
        return self.runner.retry

    @retry.setter
    def retry(self, value: RetryPolicy) -> None:
        self.runner.retry = value

    @property
    def limiter(self) -> Limiter:
        return self.runner.limiter

    @limiter.setter
    def limiter(self, value: Limiter) -> None:
        self.runner.limiter = value

    @property
    def budget(self) -> RetryBudget:
        return self.runner.budget

    @budget.setter
    def budget(self, value: RetryBudget) -> None:
        self.runner.budget = value

    @property
    def stats(self) -> dict[str, int]:
        """Counters for reports and benchmarks: requests, retries, throttled."""
        return self.runner.stats

    def should_retry(self, exc: BaseException, idempotent: bool) -> bool:
        return self.runner.should_retry(exc, idempotent)

    def retry_delay(self, state: tenacity.RetryCallState) -> float:
        return self.runner.retry_delay(state)

    def scoped(self, headers: Mapping[str, str]) -> Transport:
        """A copy that adds ``headers`` to every request (subaccount scoping) and shares the
        session, limiter, budget and counters."""
        clone = object.__new__(Transport)
        clone.__dict__.update(self.__dict__)
        clone._headers = {**self._headers, **headers}
        return clone

    def rebased(self, base_url: str, *, retry: RetryPolicy | None = None) -> Transport:
        """A transport to another host of the same account (an ESP's other region) with the
        same credentials, headers, session and error parser, and its own retry policy. It
        shares this one's limiter and budget: meant for one-off calls such as a probe."""
        return Transport(
            self.provider, base_url, auth=self._auth, headers=self._headers,
            timeout=self.timeout, retry=retry or self.retry, limiter=self.limiter,
            budget=self.budget, session=self.session, parse_error=self.parse_error,
            request_id_headers=self.request_id_headers, sleep=self._sleep,
        )

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | Sequence[tuple[str, Any]] | None = None,
        data: Mapping[str, Any] | Sequence[tuple[str, Any]] | None = None,
        json: Any = None,
        headers: Mapping[str, str] | None = None,
        idempotent: bool | None = None,
    ) -> HttpResponse:
        method = method.upper()
        if idempotent is None:
            idempotent = method in IDEMPOTENT_METHODS
        url = self.base_url + path
        send_headers = {**self._headers, **(headers or {})}

        def attempt() -> HttpResponse:
            return self._send_once(method, url, params, data, json, send_headers, idempotent)

        def gone(exc: NotFound) -> HttpResponse:
            return HttpResponse(exc.status or 404, None, {}, exc.request_id)

        return self.runner.run(
            attempt, idempotent=idempotent, label=f"{method} {safe_url(url)}",
            gone=gone if method == "DELETE" else None,
        )

    def _send_once(
        self,
        method: str,
        url: str,
        params: Any,
        data: Any,
        json: Any,
        headers: Mapping[str, str],
        idempotent: bool,
    ) -> HttpResponse:
        self.runner.start_attempt()
        start = time.perf_counter()
        try:
            response = self.session.request(
                method, url, params=params, data=data, json=json, headers=headers,
                auth=self._auth, timeout=self.timeout, allow_redirects=False,
            )
        except requests.RequestException as exc:
            never_sent = _never_sent(exc)
            what = "timed out" if isinstance(exc, requests.Timeout) else "connection failed"
            log.debug("%s %s -> %s after %.1f ms", method, safe_url(url), what,
                      (time.perf_counter() - start) * 1000)
            raise TransportError(
                f"{what}: {type(exc).__name__}"
                + ("" if never_sent else " (the request may have been applied)"),
                provider=self.provider, method=method, url=safe_url(url),
                maybe_applied=not never_sent,
            ) from None
        elapsed = (time.perf_counter() - start) * 1000
        if log.isEnabledFor(logging.DEBUG):
            log.debug("%s %s -> %d in %.1f ms", method, safe_url(response.url or url),
                      response.status_code, elapsed)
        self._observe_rate_headers(response)
        body = _json_or_none(response)
        # redirects are not followed (they would re-send credentials elsewhere): a 3xx is
        # an error like any other unexpected answer
        if response.status_code < 300:
            self.runner.succeeded()
            return HttpResponse(response.status_code, body, response.headers,
                                self._request_id(response))
        raise self._error(method, url, response, body, idempotent)

    def _error(
        self, method: str, url: str, response: requests.Response, body: Any, idempotent: bool
    ) -> EspError:
        status = response.status_code
        detail = self.parse_error(response, body)
        cls = detail.error_class or status_class(status)
        common: dict[str, Any] = {
            "provider": self.provider, "status": status, "method": method,
            "url": safe_url(url), "request_id": self._request_id(response),
            "code": detail.code, "body": body,
            "maybe_applied": status >= 500 and not idempotent,
        }
        if issubclass(cls, RateLimited):
            retry_after = parse_retry_after(response.headers.get("Retry-After"))
            if retry_after is None:
                retry_after = parse_reset(response.headers.get("X-RateLimit-Reset"))
            if retry_after is None and isinstance(body, dict):
                retry_after = _float_or_none(body.get("retry-seconds"))
            self.runner.throttled(retry_after)
            return RateLimited(detail.message, retry_after=retry_after, **common)
        return cls(detail.message, **common)

    def _request_id(self, response: requests.Response) -> str | None:
        for name in self.request_id_headers:
            value = response.headers.get(name)
            if value:
                return value
        return None

    def _learn_limit(self, response: requests.Response) -> None:
        """Learn the account's limit from ``X-RateLimit-Limit`` (requests per window) and
        ``X-RateLimit-Reset`` (time left in the window). The window's length is at least the
        longest time-to-reset seen, so ``limit / longest`` only ever comes down towards the
        true rate: an early over-estimate is harmless, and the limiter never sends faster
        than the ESP said."""
        limit = _float_or_none(response.headers.get("X-RateLimit-Limit"))
        if not limit or limit <= 0:
            return
        reset = parse_reset(response.headers.get("X-RateLimit-Reset"))
        # a longer window (an hourly or daily quota) says nothing about a per-second pace,
        # and pacing to it would mean silent waits longer than the policy allows
        if reset is None or not 0 < reset <= self.retry.max_retry_after:
            return
        if self.runner.longer_window(reset):
            self.limiter.lower_ceiling(limit / reset)

    def _observe_rate_headers(self, response: requests.Response) -> None:
        self._learn_limit(response)
        remaining = response.headers.get("X-RateLimit-Remaining")
        if remaining is None or response.status_code == 429:
            return
        try:
            left = float(remaining)
        except ValueError:
            return
        if left <= 0:
            reset = parse_reset(response.headers.get("X-RateLimit-Reset"))
            # a wait beyond max_retry_after is not slept on (the ESP's 429 will surface it)
            if reset and reset <= self.retry.max_retry_after:
                self.limiter.pause_for(reset)


def _json_or_none(response: requests.Response) -> Any:
    if not response.content:
        return None
    try:
        return response.json()
    except ValueError:
        return None


def _float_or_none(v: object) -> float | None:
    try:
        return float(v)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None


__all__ = [
    "DEFAULT_TIMEOUT",
    "IDEMPOTENT_METHODS",
    "HttpResponse",
    "Transport",
]
