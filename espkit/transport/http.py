"""The one request pipeline every HTTP provider (and the sandbox) goes through.

Per attempt: wait for the shared rate limiter -> send with (connect, read) timeouts ->
observe rate-limit headers -> map errors to the typed tree. Around attempts, tenacity drives
retries; the *decision* to retry is ``should_retry`` (the checker), the *delay* is
``retry_delay`` (server hint first, else exponential backoff with full jitter), and the
*allowance* is the shared ``RetryBudget``: three separate pieces, as in botocore. That loop
is ``RetryRunner``; ``Transport`` runs every HTTP request through one, and providers that do
not speak HTTP themselves (SES, via boto3) run their calls through one too.

Non-idempotent requests (POST, PATCH) are only retried when the ESP cannot have acted on them:
a 429, or a connection that was never established. Anything ambiguous (read timeout, reset
after sending, 5xx) is raised with ``maybe_applied=True`` so the caller reads back first.
"""

from __future__ import annotations

import email.utils
import logging
import os
import random
import threading
import time
import urllib.parse
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

import attrs
import requests
import tenacity
import urllib3.exceptions

from espkit.errors import (
    AlreadyExists,
    AuthError,
    EspError,
    NotFound,
    RateLimited,
    Rejected,
    ServerError,
    TransportError,
)
from espkit.transport.ratelimit import Limiter, RateLimiter, RetryBudget

log = logging.getLogger("espkit.http")
T = TypeVar("T")

IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS"})
DEFAULT_TIMEOUT = (5.0, 30.0)
_SECRET_PARAMS = ("key", "token", "secret", "password", "auth")


@attrs.frozen
class RetryPolicy:
    """How hard to try. ``max_retry_after``: a server asking us to wait longer than this is
    reported as ``RateLimited`` straight away rather than slept on."""

    max_attempts: int = 5
    base_delay: float = 0.5
    max_backoff: float = 20.0
    max_retry_after: float = 120.0


NO_RETRY = RetryPolicy(max_attempts=1)


@attrs.frozen
class HttpResponse:
    status: int
    body: Any
    headers: Mapping[str, str] = attrs.field(repr=False)
    request_id: str | None = None


@attrs.frozen
class ErrorDetail:
    """What a provider's error parser extracts from an error response. ``error_class``
    overrides the status-based default (e.g. a Mailgun 400 that means "already exists")."""

    message: str
    code: str | None = None
    error_class: type[EspError] | None = None


ErrorParser = Callable[[requests.Response, Any], ErrorDetail]


def default_error_parser(response: requests.Response, body: Any) -> ErrorDetail:
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
    text = (response.text or "").strip()
    return ErrorDetail(text[:300] or response.reason or f"HTTP {response.status_code}")


def _str_or_none(v: object) -> str | None:
    return None if v is None else str(v)


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """``Retry-After`` as delta-seconds or an HTTP-date; seconds from now, never negative."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def parse_reset(value: str | None, now: float | None = None) -> float | None:
    """``X-RateLimit-Reset``: ESPs send epoch seconds, epoch milliseconds or a delta.
    Returns seconds from now."""
    if not value:
        return None
    try:
        n = float(value.strip())
    except ValueError:
        return parse_retry_after(value, now)
    now = time.time() if now is None else now
    if n > 1e12:
        n = n / 1000.0 - now
    elif n > 1e9:
        n = n - now
    return max(0.0, n)


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
        (k, "***" if any(s in k.lower() for s in _SECRET_PARAMS) else v) for k, v in query
    ]
    return urllib.parse.urlunsplit(
        (parts.scheme, netloc, parts.path, urllib.parse.urlencode(masked, safe="*"), "")
    )


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



class RetryRunner:
    """The retry loop every ESP call goes through, whatever carries it (``Transport`` for
    HTTP, boto3 for SES): one attempt function, retried per the checker (``should_retry``),
    the delay (``retry_delay``) and the shared ``RetryBudget``, with the shared limiter
    acquired before each attempt.

    An attempt raises ``EspError``s already mapped to the tree (``RateLimited``,
    ``ServerError``/``TransportError`` with ``maybe_applied`` ...) and reports to the runner
    with ``start_attempt`` (before sending), ``succeeded`` and ``throttled``.
    Thread-safe; share one per account.
    """

    def __init__(
        self,
        provider: str,
        *,
        retry: RetryPolicy = RetryPolicy(),
        limiter: Limiter | None = None,
        budget: RetryBudget | None = None,
        sleep: Callable[[float], None] | None = None,
    ) -> None:
        self.provider = provider
        self.retry = retry
        self.limiter: Limiter = limiter or RateLimiter(None)
        self.budget = budget or RetryBudget()
        self._sleep = sleep
        #: counters for reports and benchmarks
        self.stats: dict[str, int] = {"requests": 0, "retries": 0, "throttled": 0}
        self._stats_lock = threading.Lock()
        #: moving average of the ESP's answer time in seconds (None until one answer): the
        #: bulk engine sizes its concurrency from it (Little's law: in flight = rate x time)
        self.latency: float | None = None
        self.backing_off = 0
        #: the longest time-to-reset of a rate-limit window seen (see Transport._learn_limit)
        self.window = 0.0
        self._sent_at = threading.local()
        self._retrying = {flag: self._make_retrying(flag) for flag in (True, False)}

    def __repr__(self) -> str:
        return f"RetryRunner({self.provider!r}, {self.retry!r})"

    def run(
        self,
        attempt: Callable[[], T],
        *,
        idempotent: bool,
        label: str = "",
        gone: Callable[[NotFound], T] | None = None,
    ) -> T:
        """Call ``attempt`` until it returns, retrying what the checker allows.

        ``idempotent``: the call may be re-sent after an ambiguous failure (a 5xx, a timeout
        after sending); otherwise only throttles and never-sent failures are retried.
        ``label`` names the call in logs. ``gone``: for deletes, the result to return when
        an attempt after an ambiguous one gets ``NotFound`` (the earlier one did delete).
        """
        ambiguous: list[bool] = []

        def once() -> T:
            try:
                return attempt()
            except NotFound as exc:
                # A delete whose earlier attempt may have landed: "not found" now means it
                # did. Deleting is idempotent, so report success rather than a false error.
                if gone is not None and ambiguous:
                    log.info("%s: gone after an ambiguous earlier attempt; deleted",
                             label or self.provider)
                    return gone(exc)
                raise
            except (TransportError, ServerError) as exc:
                if not isinstance(exc, TransportError) or exc.maybe_applied:
                    ambiguous.append(True)
                raise

        # Fast path: a first attempt that succeeds never enters tenacity (the common case
        # on a hot provisioning loop). On failure tenacity takes over with that failure as
        # its attempt 1, so checking, waiting, logging and budgeting stay in one place.
        try:
            return once()
        except EspError as exc:
            first: list[EspError] = [exc]

        def resume(label: str) -> T:
            if first:
                raise first.pop()
            return once()

        result: T = self._retrying[idempotent](resume, label=label)
        return result

    # -- what attempts report ------------------------------------------------------------

    def start_attempt(self) -> None:
        """Wait for the shared limiter and count the request. Call right before sending."""
        self.limiter.acquire()
        self.count("requests")
        # after the limiter: time spent queueing for a token is not the ESP's latency
        self._sent_at.value = time.monotonic()

    def answered(self) -> None:
        """An answer arrived (any status): fold its round-trip time into ``latency``."""
        sent = getattr(self._sent_at, "value", None)
        if sent is None:
            return
        self._sent_at.value = None
        took = time.monotonic() - sent
        with self._stats_lock:
            self.latency = took if self.latency is None else 0.8 * self.latency + 0.2 * took

    def longer_window(self, reset: float) -> bool:
        """Record a rate-limit window's time-to-reset; true when it is the longest seen."""
        with self._stats_lock:
            if reset <= self.window:
                return False
            self.window = reset
            return True

    def succeeded(self) -> None:
        self.answered()
        self.limiter.on_success()
        self.budget.refund()

    def throttled(self, retry_after: float | None) -> None:
        """The ESP throttled us; ``retry_after`` is its hint in seconds, if any."""
        self.answered()
        self.count("throttled")
        # A wait longer than max_retry_after is surfaced, not slept on: do not impose it on
        # every caller of the shared limiter either.
        too_long = retry_after is not None and retry_after > self.retry.max_retry_after
        self.limiter.on_throttle(None if too_long else retry_after)

    def count(self, counter: str) -> None:
        with self._stats_lock:
            self.stats[counter] += 1

    # -- the retry checker, delay and budget -------------------------------------------

    def _make_retrying(self, idempotent: bool) -> tenacity.Retrying:
        def check(state: tenacity.RetryCallState) -> bool:
            # tenacity asks the checker before the stop condition: on the last attempt there
            # is no retry to pay for, so do not let should_retry spend the budget on one
            if state.attempt_number >= self.retry.max_attempts:
                return False
            exc = state.outcome.exception() if state.outcome else None
            return exc is not None and self.should_retry(exc, idempotent)

        # tenacity keeps per-call state thread-locally, so one instance serves all threads
        return tenacity.Retrying(
            stop=tenacity.stop_after_attempt(self.retry.max_attempts),
            retry=check,
            wait=self.retry_delay,
            sleep=self.back_off,
            before_sleep=self._log_retry,
            reraise=True,
        )

    def should_retry(self, exc: BaseException, idempotent: bool) -> bool:
        if isinstance(exc, RateLimited):
            wanted = exc.retry_after
            if wanted is not None and wanted > self.retry.max_retry_after:
                return False
        elif isinstance(exc, TransportError):
            if exc.maybe_applied and not idempotent:
                return False
        elif isinstance(exc, ServerError):
            if not idempotent:
                return False
        else:
            return False
        timeout = isinstance(exc, TransportError)
        if not self.budget.spend(timeout=timeout):
            log.warning("%s: retry budget exhausted, not retrying %s", self.provider, exc)
            return False
        return True

    def pause(self, attempt: int) -> None:
        """Back off before re-sending by hand (a create re-sent after a read-back found
        nothing): the same jittered delay as the retry loop's, counted as a retry."""
        self.count("retries")
        cap = min(self.retry.max_backoff, self.retry.base_delay * 2 ** (attempt - 1))
        self.back_off(random.uniform(0, cap))  # noqa: S311 - jitter

    def back_off(self, seconds: float) -> None:
        """Sleep between attempts. ``backing_off`` counts the threads doing so: while they
        sleep they send nothing, so the bulk engine adds workers to keep the limiter busy."""
        with self._stats_lock:
            self.backing_off += 1
        try:
            (self._sleep or _sleep)(seconds)
        finally:
            with self._stats_lock:
                self.backing_off -= 1

    def retry_delay(self, state: tenacity.RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, RateLimited) and exc.retry_after is not None:
            return exc.retry_after
        cap = min(self.retry.max_backoff, self.retry.base_delay * 2 ** (state.attempt_number - 1))
        return random.uniform(0, cap)  # noqa: S311 - jitter, not cryptography

    def _log_retry(self, state: tenacity.RetryCallState) -> None:
        self.count("retries")
        exc = state.outcome.exception() if state.outcome else None
        delay = state.next_action.sleep if state.next_action else 0.0
        log.info("retry %d/%d in %.2f s after %s", state.attempt_number,
                 self.retry.max_attempts - 1, delay, exc)


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
        retry: RetryPolicy = RetryPolicy(),
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

def _sleep(seconds: float) -> None:
    # looked up per call so tests can replace time.sleep
    time.sleep(seconds)


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
    "NO_RETRY",
    "ErrorDetail",
    "HttpResponse",
    "RetryPolicy",
    "RetryRunner",
    "Transport",
    "default_error_parser",
    "parse_reset",
    "parse_retry_after",
    "safe_url",
    "status_class",
]
