"""The one request pipeline every HTTP provider (and the sandbox) goes through.

Per attempt: wait for the shared rate limiter -> send with (connect, read) timeouts ->
observe rate-limit headers -> map errors to the typed tree. Around attempts, the
``RetryRunner`` (``espkit.transport.retry``) decides whether, when and how often to send
again; this module knows what HTTP adds to that: which methods are idempotent, which
connection failures prove nothing was sent, and what the rate-limit headers say.

Non-idempotent requests (POST, PATCH) are only retried when the ESP cannot have acted on them:
a 429, or a connection that was never established. Anything ambiguous (read timeout, reset
after sending, 5xx) is raised with ``maybe_applied=True`` so the caller reads back first.

Every attempt is bounded whatever the ESP does: an overall ``deadline`` for connecting,
sending, the headers and the body (``espkit.transport.deadline``; a trickling body cannot
hold a call open), a cap on the answer's size (``espkit.transport.body``), and numbers from
headers read by total, bounded parsers (``espkit.transport.retry``). What the ESP says in an
error is bounded and scrubbed of credentials before an exception keeps it
(``espkit.transport.redaction``). A plain ``http://`` base URL is refused unless it is
loopback or the user opted in (``espkit.transport.endpoint``).
"""

from __future__ import annotations

import logging
import math
import os
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import attrs
import requests
import tenacity
import urllib3.exceptions

from espkit import validate
from espkit.errors import (
    ConfigError,
    DeadlineExceeded,
    EspError,
    NotFound,
    RateLimited,
    ResponseTooLarge,
    TransportError,
    ValidationError,
)
from espkit.transport.body import DEFAULT_MAX_RESPONSE_BYTES, read_body
from espkit.transport.deadline import Deadline, DeadlineAdapter, attempt_deadline
from espkit.transport.endpoint import check_base_url
from espkit.transport.error_mapping import ErrorParser, default_error_parser, status_class
from espkit.transport.prepare import prepare, send
from espkit.transport.ratelimit import Limiter, RetryBudget, requesting
from espkit.transport.redaction import (
    MAX_MESSAGE,
    request_secrets,
    safe_url,
    scrub_body,
    scrub_text,
)
from espkit.transport.retry import (
    MAX_HINT,
    RetryPolicy,
    RetryRunner,
    parse_count,
    parse_reset,
    parse_retry_after,
)

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

    ``timeout`` is (connect, read) per socket operation; ``deadline`` bounds a whole
    attempt (connect, send, headers, body) and defaults to the read timeout.
    ``max_response_bytes`` caps an answer's size. ``allow_insecure`` allows a plain
    ``http://`` base URL to a host other than loopback (so does
    ``ESPKIT_ALLOW_INSECURE_HTTP=1``).
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
        deadline: float | None = None,
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
        allow_insecure: bool = False,
    ) -> None:
        check_base_url(base_url, allow_insecure=allow_insecure)
        if not (isinstance(timeout, (tuple, list)) and len(timeout) == 2
                and all(_positive(t) for t in timeout)):
            raise ValidationError("timeout", timeout,
                                  "must be (connect, read) seconds, both positive and finite")
        timeout = (timeout[0], timeout[1])
        if deadline is None:
            deadline = timeout[1]
        elif not _positive(deadline):
            raise ValidationError("deadline", deadline, "must be positive, finite seconds")
        if isinstance(max_response_bytes, bool) or not isinstance(max_response_bytes, int) \
                or max_response_bytes < 1:
            raise ValidationError("max_response_bytes", max_response_bytes,
                                  "must be a positive whole number of bytes")
        self.provider = provider
        self.base_url = base_url.rstrip("/")
        self._shown_base = (self.base_url, safe_url(self.base_url))
        self.timeout = timeout
        #: seconds one attempt may take in all, connect to last byte
        self.deadline = float(deadline)
        self.max_response_bytes = max_response_bytes
        self.allow_insecure = allow_insecure
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
            # (its connections report their sockets, so a deadline can cut even the headers)
            adapter = DeadlineAdapter(pool_connections=4, pool_maxsize=256)
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

    @property
    def key_fingerprint(self) -> str | None:
        """The fingerprint of the key this transport signs with (``Secret.fingerprint``, never
        the key), or None when its auth is not one of espkit's credential objects."""
        fingerprint = getattr(self._auth, "fingerprint", None)
        return fingerprint if isinstance(fingerprint, str) else None

    def scoped(self, headers: Mapping[str, str]) -> Transport:
        """A copy that adds ``headers`` to every request (subaccount scoping) and shares the
        session, limiter, budget and counters."""
        for name, value in headers.items():
            # a subaccount id goes into a header: printable ASCII, or refused before sending
            validate.header_value(name, value)
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
            deadline=self.deadline, max_response_bytes=self.max_response_bytes,
            allow_insecure=self.allow_insecure,
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
        # None, not {}, when there are none: requests merges a per-request dict into the
        # session's headers on every call, which None skips
        send_headers = {**self._headers, **headers} if headers else self._headers or None

        def attempt() -> HttpResponse:
            return self._send_once(method, url, params, data, json, send_headers, idempotent)

        def gone(exc: NotFound) -> HttpResponse:
            return HttpResponse(exc.status or 404, None, {}, exc.request_id)

        # the label names the request in retry logs and errors; the base URL was made safe
        # once, and a path with no query has nothing more to mask
        if self._shown_base[0] != self.base_url:
            self._shown_base = (self.base_url, safe_url(self.base_url))
        shown = (self._shown_base[1] + path if "?" not in path and "#" not in path
                 else safe_url(url))
        # the path picks the limiter of its scope when the ESP budgets parts of its API apart
        with requesting(path):
            return self.runner.run(
                attempt, idempotent=idempotent, label=f"{method} {shown}",
                gone=gone if method == "DELETE" else None,
            )

    def _send_once(
        self,
        method: str,
        url: str,
        params: Any,
        data: Any,
        json: Any,
        headers: Mapping[str, str] | None,
        idempotent: bool,
    ) -> HttpResponse:
        self.runner.start_attempt()
        start = time.perf_counter()
        # no socket operation may wait longer than the whole attempt may take
        timeout = (min(self.timeout[0], self.deadline), min(self.timeout[1], self.deadline))
        with attempt_deadline(self.deadline) as deadline:
            unsendable = False
            try:
                response = self._send(method, url, params, data, json, headers, timeout)
            except requests.RequestException as exc:
                raise self._failed(method, url, exc, deadline, start) from None
            except UnicodeError:
                unsendable = True
            if unsendable:
                # http.client refuses a header it cannot encode before sending anything. Its
                # message quotes the value, which may be the key: raised out here, so that
                # not even the suppressed context keeps it.
                raise ConfigError(
                    f"a request header for {method} {safe_url(url)} holds characters that "
                    "cannot be sent (the value is not shown: it may be a credential)"
                )

            def fail(what: str) -> TransportError:
                log.debug("%s %s -> %s after %.1f ms", method, safe_url(url), what,
                          (time.perf_counter() - start) * 1000)
                kind: type[TransportError] = (
                    ResponseTooLarge if what.startswith("answer too large")
                    else DeadlineExceeded if what.startswith("deadline of")
                    else TransportError)
                return kind(
                    f"{what} (the request may have been applied)", provider=self.provider,
                    method=method, url=safe_url(url), maybe_applied=True,
                )

            read_body(response, deadline, self.max_response_bytes, fail)
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

    def _send(self, method: str, url: str, params: Any, data: Any, json: Any,
              headers: Mapping[str, str] | None, timeout: tuple[float, float]
              ) -> requests.Response:
        """``Session.request`` without re-merging settings our sessions read once (prepare)."""
        session, auth = self.session, self._auth
        if session.trust_env:  # a caller's session: requests' own way, environment and all
            return session.request(method, url, params=params, data=data, json=json,
                                   headers=headers, auth=auth, timeout=timeout,
                                   allow_redirects=False, stream=True)
        prepared = prepare(session, method, url, params, data, json, headers, auth)
        return send(session, prepared, timeout)

    def _failed(self, method: str, url: str, exc: requests.RequestException,
                deadline: Deadline, start: float) -> TransportError:
        """The error for a request that got no answer: a timeout, a refused or broken
        connection, or the deadline (which shut the socket down under requests)."""
        cut = deadline.finish()
        never_sent = _never_sent(exc)
        if cut:
            what = f"deadline of {deadline.seconds:g} s passed"
        else:
            what = "timed out" if isinstance(exc, requests.Timeout) else "connection failed"
        log.debug("%s %s -> %s after %.1f ms", method, safe_url(url), what,
                  (time.perf_counter() - start) * 1000)
        return (DeadlineExceeded if cut else TransportError)(
            f"{what}: {type(exc).__name__}"
            + ("" if never_sent else " (the request may have been applied)"),
            provider=self.provider, method=method, url=safe_url(url),
            maybe_applied=not never_sent,
        )

    def _error(
        self, method: str, url: str, response: requests.Response, body: Any, idempotent: bool
    ) -> EspError:
        status = response.status_code
        try:
            detail = self.parse_error(response, body)
        except Exception as exc:  # a provider's parser, on a hostile body
            # the error being reported matters more than the parser's trouble with it
            log.warning("%s: error parser failed on a %d answer (%s); using the default",
                        self.provider, status, type(exc).__name__)
            detail = default_error_parser(response, body)
        cls = detail.error_class or status_class(status)
        # An ESP may echo the request (headers included) in its error: what it says is
        # scrubbed of this request's credentials and anything shaped like one, and bounded.
        sent = response.request
        secrets = request_secrets(sent.headers if sent is not None else {},
                                  (sent.url or "") if sent is not None else "")
        common: dict[str, Any] = {
            "provider": self.provider, "status": status, "method": method,
            "url": safe_url(url), "request_id": self._request_id(response, clean=True),
            "code": None if detail.code is None else scrub_text(str(detail.code), secrets, 100),
            "body": scrub_body(body, secrets),
            "maybe_applied": status >= 500 and not idempotent,
        }
        message = scrub_text(str(detail.message), secrets, MAX_MESSAGE)
        if issubclass(cls, RateLimited):
            retry_after = parse_retry_after(response.headers.get("Retry-After"))
            if retry_after is None:
                retry_after = parse_reset(response.headers.get("X-RateLimit-Reset"))
            if retry_after is None and isinstance(body, dict):
                retry_after = _seconds_or_none(body.get("retry-seconds"))
            self.runner.throttled(retry_after)
            return RateLimited(message, retry_after=retry_after, **common)
        return cls(message, **common)

    def _request_id(self, response: requests.Response, *, clean: bool = False) -> str | None:
        for name in self.request_id_headers:
            value = response.headers.get(name)
            if value:
                # the ESP's word: bounded, and for an error (shown in its text) scrubbed
                return scrub_text(value, limit=200) if clean else value[:200]
        return None

    def _learn_limit(self, response: requests.Response) -> None:
        """Without ``X-RateLimit-Remaining``, learn the account's limit from
        ``X-RateLimit-Limit`` (requests per window) and ``X-RateLimit-Reset`` (time left in
        the window). The window's length is at least the longest time-to-reset seen, so
        ``limit / longest`` only ever comes down towards the true rate: an early
        over-estimate is harmless, and the limiter never sends faster than the ESP said."""
        # a limit that is not a positive whole number is ignored: read as a rate,
        # "0.0001" would hold every request for days
        limit = parse_count(response.headers.get("X-RateLimit-Limit"))
        if not limit:
            return
        reset = parse_reset(response.headers.get("X-RateLimit-Reset"))
        # a longer window (an hourly or daily quota) says nothing about a per-second pace,
        # and pacing to it would mean silent waits longer than the policy allows
        if reset is None or not 0 < reset <= self.retry.max_retry_after:
            return
        if self.runner.longer_window(reset):
            self.limiter.lower_ceiling(limit / reset)

    def _observe_rate_headers(self, response: requests.Response) -> None:
        """The budget an answer announces (SendGrid's on every answer, the sandbox's):
        ``Remaining`` more requests until ``Reset``, ``Limit`` per window. The limiter
        spends exactly that, upward as well as downward (``Limiter.announce``). An
        announcement is ignored when it makes no sense (more left than the limit, a limit of
        0) or when its window ends later than ``max_retry_after``: spending it would end in
        a silent wait longer than the policy allows (the ESP's 429 surfaces it instead). A
        429 is not read here: its ``Retry-After`` or ``Reset`` pauses the limiter."""
        if response.status_code == 429:
            self._learn_limit(response)
            return
        left = parse_count(response.headers.get("X-RateLimit-Remaining"))
        if left is None:
            self._learn_limit(response)
            return
        reset = parse_reset(response.headers.get("X-RateLimit-Reset"))
        if reset is None or not 0 < reset <= self.retry.max_retry_after:
            return
        limit = parse_count(response.headers.get("X-RateLimit-Limit"))
        if limit == 0 or (limit is not None and left > limit):
            return
        self.limiter.announce(limit, left, reset)


def _json_or_none(response: requests.Response) -> Any:
    if not response.content:
        return None
    try:
        return response.json()
    except (ValueError, RecursionError):  # not JSON, or nested deeper than Python recurses
        return None


def _seconds_or_none(v: object) -> float | None:
    """A wait in seconds from a JSON body: a finite, non-negative number (or such a number
    written as a string), at most ``MAX_HINT``; anything else is no hint."""
    if isinstance(v, str):
        return parse_retry_after(v) if v.strip(" \t")[:1].isdigit() else None
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return None
    try:
        seconds = float(v)
    except OverflowError:  # an integer of hundreds of digits
        return None
    return min(seconds, MAX_HINT) if math.isfinite(seconds) and seconds >= 0 else None


def _positive(v: object) -> bool:
    return (isinstance(v, (int, float)) and not isinstance(v, bool)
            and math.isfinite(v) and v > 0)


__all__ = [
    "DEFAULT_TIMEOUT",
    "IDEMPOTENT_METHODS",
    "HttpResponse",
    "Transport",
]
