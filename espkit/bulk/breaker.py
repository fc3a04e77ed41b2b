"""The bulk engine's circuit breaker: when the ESP stops answering, stop sending and probe.

An overnight job must not give up on a blip, nor spend 50,000 items on an ESP that is down.
``Breaker`` watches item results: ``threshold`` ESP-side failures in a row (5xx, refused or
reset connections, timeouts: the ``UNHEALTHY`` kinds, counted after each request's own
retries) open it. While it is open the run sends nothing but one probe at a time, the next
item, at growing intervals (``FIRST_PROBE`` seconds, doubling up to ``MAX_PROBE_EVERY``);
the first answer from the ESP closes it and the run carries on at full pace. The items that
failed in the run of failures, and any that fail while it is open, go back to the queue
instead of being marked failed.

The run gives up only when the outage has lasted ``max_outage`` seconds: a last probe is made
at that moment, and if it fails too the run stops with the items still to do left pending
for a resume. Outage times are counted from the first failure of the run that opened it.

``epoch`` tells answers apart: a request started before the breaker opened and answered
after it says nothing about now, only the probe (started while open) can close it.

State only, with the clock injected (``clock()`` in seconds): the run loop asks ``due()``
and ``gave_up()`` and does the waiting itself, so tests drive it without real time.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import attrs

from espkit.errors import TransportError

#: seconds from opening to the first probe, and the longest gap between probes: one request
#: every 8 s is no load for an ESP, and a 20-second blip costs the run ~23 s, not ~31 s
FIRST_PROBE = 1.0
MAX_PROBE_EVERY = 8.0


@attrs.frozen
class Outage:
    """What the run is waiting out, for progress displays and the report."""

    #: wall-clock time (``time.time()``) of the first failure, for saying "since 12:01:03"
    since: float
    #: seconds the outage has lasted so far, on the breaker's clock
    lasted: float
    #: seconds between probes now
    probe_every: float
    #: probes made so far
    probes: int
    #: the last failure, as ``Type: message``
    last_error: str
    #: the last failure got no answer at all (refused, reset, timed out), rather than a 5xx
    unreachable: bool = True

    @property
    def state(self) -> str:
        return "unreachable" if self.unreachable else "failing every request"

    def describe(self) -> str:
        when = time.strftime("%H:%M:%S", time.localtime(self.since))
        return (f"ESP {self.state} since {when}, probing every {self.probe_every:g} s "
                f"(last: {self.last_error})")


class Breaker:
    """Thread-safe. ``threshold``: failures in a row that open it; ``max_outage``: seconds
    an outage may last before ``gave_up``; ``clock``: monotonic seconds."""

    def __init__(self, *, threshold: int, max_outage: float,
                 clock: Callable[[], float] = time.monotonic,
                 first_probe: float = FIRST_PROBE,
                 max_probe_every: float = MAX_PROBE_EVERY) -> None:
        self.threshold = threshold
        self.max_outage = max_outage
        self.clock = clock
        self.first_probe = first_probe
        self.max_probe_every = max_probe_every
        self._lock = threading.Lock()
        #: bumped on every opening; a request carries the epoch it started in
        self.epoch = 0
        self.open = False
        self.streak = 0
        self.probing = False
        self.probes = 0
        #: outages so far, and the seconds they lasted (the current one included)
        self.outages = 0
        self._waited = 0.0
        self._first_failure = 0.0  # clock time of the streak's first failure
        self._since_wall = 0.0
        self._opened_at = 0.0
        self._every = first_probe
        self._next_probe = 0.0
        self._probe_started = 0.0
        self._exhausted = False
        self._last_error = ""
        self._unreachable = True

    # -- what the workers report ---------------------------------------------------------

    def answered(self, epoch: int) -> bool:
        """The ESP answered a request started in ``epoch`` (success, or a refusal of the
        item such as a 400). Returns True when this closed an outage."""
        with self._lock:
            self.streak = 0
            if not self.open or epoch != self.epoch:
                return False
            self._waited += self.clock() - self._opened_at
            self.open = self.probing = self._exhausted = False
            return True

    def failed(self, epoch: int, error: BaseException, *, probe: bool) -> bool:
        """An ESP-side failure of a request started in ``epoch``. Returns True when this
        opened the breaker."""
        with self._lock:
            now = self.clock()
            self._last_error = f"{type(error).__name__}: {error}"[:200]
            self._unreachable = isinstance(error, TransportError)
            if self.open:
                if probe:
                    self.probing = False
                    # a probe sent at or after the deadline was the last chance
                    self._exhausted = self._probe_started >= self._deadline()
                    self._every = min(self.max_probe_every, self._every * 2)
                    self._next_probe = min(now + self._every, self._deadline())
                return False
            if epoch != self.epoch:
                return False  # started before the last outage ended: old news
            if self.streak == 0:
                self._first_failure = now
                self._since_wall = time.time()
            self.streak += 1
            if self.streak < self.threshold:
                return False
            self.open = True
            self.epoch += 1
            self.outages += 1
            self.probes = 0
            self._exhausted = False
            self._opened_at = now
            self._every = self.first_probe
            self._next_probe = min(now + self._every, self._deadline())
            return True

    # -- what the run loop asks --------------------------------------------------------------

    def due(self) -> float:
        """Seconds until the next probe may go (0: now); only meaningful while open and not
        probing."""
        with self._lock:
            return max(0.0, self._next_probe - self.clock())

    def start_probe(self) -> int:
        """Mark a probe in flight; returns the epoch it runs in."""
        with self._lock:
            self.probing = True
            self.probes += 1
            self._probe_started = self.clock()
            return self.epoch

    def gave_up(self) -> bool:
        """True once the outage has lasted ``max_outage`` and the probe made at that moment
        (or after it) failed too."""
        with self._lock:
            return self.open and not self.probing and self._exhausted

    def _deadline(self) -> float:
        return self._first_failure + self.max_outage

    def outage(self) -> Outage | None:
        """The outage being waited out, or None while the ESP answers."""
        with self._lock:
            if not self.open:
                return None
            return Outage(since=self._since_wall, lasted=self.clock() - self._first_failure,
                          probe_every=self._every, probes=self.probes,
                          last_error=self._last_error, unreachable=self._unreachable)

    @property
    def waited(self) -> float:
        """Seconds spent with the breaker open, the current outage included."""
        with self._lock:
            extra = self.clock() - self._opened_at if self.open else 0.0
            return self._waited + extra


__all__ = ["FIRST_PROBE", "MAX_PROBE_EVERY", "Breaker", "Outage"]
