"""How hard to try an ESP call again, and when: the retry loop every ESP call goes through.

Kept apart from the HTTP code because SES calls go through boto3, not ``Transport``, and must
be retried by the same rules. Three separate pieces, as in botocore: the *decision* to retry
is ``RetryRunner.should_retry`` (the checker), the *delay* is ``RetryRunner.retry_delay``
(the server's hint first, else exponential backoff with full jitter), and the *allowance* is
the shared ``RetryBudget``. tenacity drives the loop.

Non-idempotent calls (POST, PATCH) are only retried when the ESP cannot have acted on them:
a 429, or a connection that was never established. Anything ambiguous (read timeout, reset
after sending, 5xx) surfaces with ``maybe_applied=True`` so the caller reads back first.
A request that certainly never reached the ESP (``TransportError`` with
``maybe_applied=False``: refused, a connect timeout, a failed DNS lookup) goes again at once,
within the retry budget: waiting protects an ESP from load, and it got none.

``parse_retry_after`` and ``parse_reset`` read the server's hints (``Retry-After``,
``X-RateLimit-Reset``) into the seconds-from-now the delay and the limiter work in, and
``parse_count`` the counts (``X-RateLimit-Limit``, ``-Remaining``). A header is the ESP's
word, and a broken or hostile ESP's word: each parser is total (any text in, a bounded finite
number or ``None`` out), and the policy's ``max_retry_after`` caps what is slept on.
"""

from __future__ import annotations

import email.utils
import logging
import math
import random
import re
import threading
import time
from collections.abc import Callable
from typing import TypeVar

import attrs
import tenacity

from espkit.errors import (
    EspError,
    NotFound,
    RateLimited,
    ResponseTooLarge,
    ServerError,
    TransportError,
    ValidationError,
)
from espkit.transport.grants import GrantLine
from espkit.transport.ratelimit import Limiter, RateLimiter, RetryBudget

# the retry loop's messages have always been the HTTP pipeline's: one logger for both
log = logging.getLogger("espkit.http")
T = TypeVar("T")


@attrs.frozen
class RetryPolicy:
    """How hard to try. ``max_retry_after``: a server asking us to wait longer than this is
    reported as ``RateLimited`` straight away rather than slept on. It caps every wait a
    server's word can cause (``Retry-After``, a rate-limit reset pausing the limiter, a
    window a learnt rate is spread over), so no header can hold a call longer."""

    max_attempts: int = attrs.field(default=5, validator=lambda _, a, v: _whole(a.name, v))
    base_delay: float = attrs.field(default=0.5, validator=lambda _, a, v: _seconds(a.name, v))
    max_backoff: float = attrs.field(default=20.0, validator=lambda _, a, v: _seconds(a.name, v))
    max_retry_after: float = attrs.field(default=120.0,
                                         validator=lambda _, a, v: _seconds(a.name, v))


def _whole(name: str, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 1000:
        raise ValidationError(name, value, "must be a whole number from 1 to 1000")


def _seconds(name: str, value: object) -> None:
    # a nan or infinite cap would let any server hint through: every comparison with nan
    # is false, and nothing is longer than infinity
    if isinstance(value, bool) or not isinstance(value, (int, float)) \
            or not math.isfinite(value) or value < 0:
        raise ValidationError(name, value, "must be a finite, non-negative number of seconds")


NO_RETRY = RetryPolicy(max_attempts=1)


#: the longest wait any server hint is read as (a year): a bigger number is a server's
#: mistake, and the retry policy's ``max_retry_after`` refuses to sleep on it anyway
MAX_HINT = 366 * 86400.0
#: the share of the policy's back-off a retry waits at least, however full the budget
MIN_STRAIN = 0.2
#: the biggest count read from a rate-limit header
MAX_COUNT = 10**12
#: a grant that took longer than this was waited for (the limiter held the thread back)
_WAITED = 0.002
#: hints longer than this are not numbers or dates any ESP sends: not parsed at all
_MAX_HINT_TEXT = 256
# ASCII digits only: float() also reads "nan", "inf", "1e-320", "1_000" and Arabic-Indic
# digits, none of which a server's hint means
_DECIMAL = re.compile(r"[0-9]{1,20}(?:\.[0-9]{1,20})?")
_WHOLE = re.compile(r"[0-9]{1,13}")


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """``Retry-After`` as delta-seconds or an HTTP-date: seconds from now, in
    ``[0, MAX_HINT]``; ``None`` when it is neither (negative, ``nan``, garbage)."""
    if not value or len(value) > _MAX_HINT_TEXT:
        return None
    seconds = _decimal(value)
    if seconds is not None:
        return min(seconds, MAX_HINT)
    when = _http_date(value)
    if when is None:
        return None
    return _bounded(when - (time.time() if now is None else now))


def parse_reset(value: str | None, now: float | None = None) -> float | None:
    """``X-RateLimit-Reset``: ESPs send epoch seconds, epoch milliseconds or a delta.
    Returns seconds from now in ``[0, MAX_HINT]``, or ``None`` when unreadable."""
    if not value or len(value) > _MAX_HINT_TEXT:
        return None
    n = _decimal(value)
    if n is None:
        return parse_retry_after(value, now)
    now = time.time() if now is None else now
    if n > 1e12:
        n = n / 1000.0 - now
    elif n > 1e9:
        n = n - now
    return _bounded(n)


def parse_count(value: str | None) -> int | None:
    """A rate-limit count (``X-RateLimit-Limit``, ``-Remaining``): a whole number in
    ``[0, MAX_COUNT]``, else ``None``. A fraction, a sign, an exponent, ``nan`` or ``inf``
    is ignored: read as a rate, ``0.0001`` requests per window would stall the limiter for
    days."""
    if not value or len(value) > _MAX_HINT_TEXT:
        return None
    m = _WHOLE.fullmatch(value.strip(" \t"))
    if m is None:
        return None
    n = int(m.group())
    return n if n <= MAX_COUNT else None


def _decimal(value: str) -> float | None:
    m = _DECIMAL.fullmatch(value.strip(" \t"))
    return float(m.group()) if m else None


def _http_date(value: str) -> float | None:
    """An HTTP-date as epoch seconds; ``None`` for anything the email parser cannot place
    on the calendar (it raises several kinds of error on hostile input)."""
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when is None:
        return None
    try:
        return when.timestamp()
    except (OverflowError, OSError, ValueError):
        return None


def _bounded(seconds: float) -> float | None:
    if not math.isfinite(seconds):
        return None
    return min(max(0.0, seconds), MAX_HINT)


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
        clock: Callable[[], float] | None = None,
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
        #: of the recent grants, the share a thread had to wait for (a moving average): near
        #: 0 the limiter is not what holds the bulk engine back, so more workers may help
        self.limited = 0.0
        # one thread at a time waits for the limiter, the others stand in line (``grants``):
        # a thread finishing a call that failed goes first
        self._line = GrantLine()
        self._urgent = threading.local()
        #: the longest time-to-reset of a rate-limit window seen (``Transport`` reads it
        #: from the rate-limit headers)
        self.window = 0.0
        self._sent_at = threading.local()
        self._give_up = threading.local()
        # what ``pause`` measures a back-off on: the real clock when it sleeps for real; with
        # an injected sleep and no clock of that sleep's, nothing (the whole back-off is slept)
        self._clock = clock if clock is not None else (time.monotonic if sleep is None
                                                        else None)
        self._failed_at = threading.local()
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
                answer = attempt()
            except NotFound as exc:
                # A delete whose earlier attempt may have landed: "not found" now means it
                # did. Deleting is idempotent, so report success rather than a false error.
                if gone is not None and ambiguous:
                    log.info("%s: gone after an ambiguous earlier attempt; deleted",
                             label or self.provider)
                    return gone(exc)
                raise
            except (TransportError, ServerError) as exc:
                # what this thread sends next finishes a late item: first in line
                self._urgent.value = True
                if not isinstance(exc, TransportError) or exc.maybe_applied:
                    ambiguous.append(True)
                    if self._clock is not None:
                        self._failed_at.value = self._clock()
                raise
            # answered: a failure this thread had before is no longer the one a pause
            # would follow, nor a reason to go first
            self._failed_at.value = None
            self._urgent.value = False
            return answer

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
        queued = time.monotonic()
        with self._line.turn(getattr(self._urgent, "value", False)):
            self.limiter.acquire()
        waited = time.monotonic() - queued > _WAITED
        with self._stats_lock:
            self.stats["requests"] += 1
            self.limited = 0.9 * self.limited + (0.1 if waited else 0.0)
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
        # (SES hands its own hints in: anything not a finite wait is no hint at all)
        retry_after = _finite(retry_after)
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

    def start_item(self, give_up: Callable[[], bool] | None = None) -> None:
        """The calling thread starts a new piece of work (a bulk item): what it did before
        (a failure to follow with a back-off, a place at the head of the line) is forgotten,
        and while ``give_up()`` is true it retries nothing. The bulk engine's workers pass
        their breaker's state, so that once the ESP is found down the requests still in
        flight stop knocking and only the probe goes out."""
        self._give_up.check = give_up
        self._urgent.value = False
        self._failed_at.value = None

    def should_retry(self, exc: BaseException, idempotent: bool) -> bool:
        check = getattr(self._give_up, "check", None)
        if check is not None and check():
            return False
        if isinstance(exc, RateLimited):
            wanted = _finite(exc.retry_after)
            if wanted is not None and wanted > self.retry.max_retry_after:
                return False
        elif isinstance(exc, ResponseTooLarge):
            return False  # the same request would bring the same answer
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
        nothing): the same jittered delay as the retry loop's, counted as a retry.

        As in the loop, the back-off runs from the ambiguous failure being retried, so the
        read-back made since then is part of it: the re-send still goes out no sooner than
        the drawn delay after the failure, and a short job does not pay the read-back's
        answer time on top of it."""
        self.count("retries")
        delay = random.uniform(0, self.backoff_cap(attempt))  # noqa: S311 - jitter
        failed_at = getattr(self._failed_at, "value", None)
        self._failed_at.value = None
        if failed_at is not None and self._clock is not None:
            delay = max(0.0, delay - (self._clock() - failed_at))
        self.back_off(delay)

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
        if never_sent(exc):
            # the ESP never saw it: no load to spare it, so no wait (the budget still pays)
            return 0.0
        wanted = _finite(exc.retry_after) if isinstance(exc, RateLimited) else None
        if wanted is not None:
            # should_retry already refused waits over max_retry_after; cap anyway, so no
            # hint can hold a thread longer than the policy allows
            return min(wanted, self.retry.max_retry_after)
        return random.uniform(0, self.backoff_cap(state.attempt_number))  # noqa: S311

    def backoff_cap(self, attempt: int) -> float:
        """The longest back-off before re-sending after failed attempt ``attempt``: the
        policy's exponential cap, scaled by how much of the retry budget is spent, and at
        least ``MIN_STRAIN`` of it. Sporadic failures (the budget full: successes earn back
        more than retries spend) go again soon: the limiter already paces every re-send and
        the budget bounds them, and a short job's wall time is its slowest item's retries.
        Failures that drain the budget get the whole back-off, as an ESP in trouble should."""
        cap = min(self.retry.max_backoff, self.retry.base_delay * 2 ** (attempt - 1))
        capacity = self.budget.capacity
        spent = 1.0 - self.budget.available / capacity if capacity > 0 else 1.0
        return float(cap * min(1.0, max(MIN_STRAIN, spent)))

    def _log_retry(self, state: tenacity.RetryCallState) -> None:
        self.count("retries")
        exc = state.outcome.exception() if state.outcome else None
        delay = state.next_action.sleep if state.next_action else 0.0
        log.info("retry %d/%d in %.2f s after %s", state.attempt_number,
                 self.retry.max_attempts - 1, delay, exc)


def never_sent(exc: BaseException | None) -> bool:
    """True when ``exc`` proves the request never reached the ESP: a ``TransportError`` the
    transport marked as not applied (``Transport`` does so only for a connection that was
    never made: ``ConnectTimeout``, or a ``ConnectionError`` caused by urllib3's
    ``NewConnectionError``; SES's mapping likewise). A deadline, an oversized answer or a reset
    after sending may have been applied and never count."""
    return (isinstance(exc, TransportError) and not exc.maybe_applied
            and not isinstance(exc, ResponseTooLarge))


def _finite(seconds: float | None) -> float | None:
    """A wait in seconds, or ``None`` when it is none (negative, ``nan``, ``inf``)."""
    if seconds is None or not math.isfinite(seconds) or seconds < 0:
        return None
    return seconds


def _sleep(seconds: float) -> None:
    # looked up per call so tests can replace time.sleep
    time.sleep(seconds)


__all__ = [
    "MAX_COUNT",
    "MAX_HINT",
    "NO_RETRY",
    "RetryPolicy",
    "RetryRunner",
    "never_sent",
    "parse_count",
    "parse_reset",
    "parse_retry_after",
]
