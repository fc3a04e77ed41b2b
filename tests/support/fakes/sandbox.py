"""The sandbox in the shared provider suite: the real emulator, with its own fault hooks."""

from __future__ import annotations

import fnmatch
from datetime import date, datetime, time, timezone
from typing import Any

import espkit
from espkit.sandbox import FakeClock

from .base import EspFake, Fault

_KINDS = {"429": "429", "429-date": "429", "503": "503",
          "timeout_after_commit": "timeout_after_commit"}
VERIFY_DELAY = 60.0


class SandboxFake(EspFake):
    provider = "sandbox"
    create_domain_path = "/v1/domains"
    get_domain_path = "/v1/domains/*"

    def __enter__(self) -> SandboxFake:
        self.clock = FakeClock()
        self.acct = espkit.connect("sandbox", path=":memory:", clock=self.clock,
                                   verify_delay=VERIFY_DELAY)
        self.emulator = self.acct.provider.emulator  # type: ignore[attr-defined]
        self.ips = tuple(ip.address for ip in self.acct.ips.list() if ":" not in ip.address)
        return self

    def __exit__(self, *exc: object) -> None:
        self.acct.close()

    def connect(self, **options: Any) -> espkit.Account:
        return self.acct

    def publish_dns(self, domain: str) -> None:
        # records turn valid once verify_delay has passed since creation
        self.clock.advance(VERIFY_DELAY + 1)

    def fail_next(self, fault: Fault, method: str, path_contains: str) -> None:
        self.emulator.inject(_KINDS[fault], method=method, path=path_contains, times=1)

    def domain_count(self) -> int:
        return sum(1 for _ in self.acct.domains.list())

    def record_sends(self, when: date | datetime, *, domain: str, ip: str | None = None,
                     subaccount: str | None = None, sent: int = 0, **figures: int) -> None:
        """``sent`` messages from ``domain`` through ``ip`` at ``when`` (a day: its 00:00
        UTC), with ``figures`` by name (``bounced_hard=3``): ``Emulator.record_sends``. The
        sandbox refuses a moment after its now, so its clock is moved there first."""
        moment = when if isinstance(when, datetime) else datetime.combine(
            when, time(), timezone.utc)
        self.clock.advance(max(0.0, moment.timestamp() - self.clock.time()))
        self.emulator.record_sends(domain, sent, at=when, ip=ip, subaccount=subaccount,
                                   **figures)

    def advance_days(self, days: float) -> None:
        """Move the sandbox clock on (warmup stages follow it, a sending day at a time)."""
        self.clock.advance(days * 86400)

    def sent(self, method: str, path_contains: str) -> int:
        return sum(1 for m, p, _ in self.emulator.history
                   if m == method and fnmatch.fnmatchcase(p, path_contains))


FAKE = SandboxFake
