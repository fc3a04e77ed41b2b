"""What a fake ESP offers the shared provider suite.

A fake is a small, stateful emulation of one ESP's management API at the wire level, built
from that ESP's official request/response shapes (spec or docs), so the real provider module
and the real transport pipeline run against it unchanged. HTTP ESPs intercept with the
``responses`` library; SES uses moto plus botocore hooks. Faults are injected at the wire.

Lifecycle, driven by the suite::

    with FakeClass() as fake:            # starts interception (responses / mock_aws)
        acct = fake.connect()            # espkit.connect(<provider>, ...) wired to the fake
        ...
        fake.publish_dns("news.acme.example")   # the customer published the records
        fake.fail_next("timeout_after_commit", "POST", "domains")
"""

from __future__ import annotations

from typing import Literal

import espkit

Fault = Literal[
    "429",                    # rate limited, Retry-After in delta seconds
    "429-date",               # rate limited, Retry-After as an HTTP date
    "503",                    # server error, nothing applied
    "timeout_after_commit",   # the ESP applies the request, then the client times out
]


class FaultQueue:
    """Faults waiting for their request: each matches one request by method and a fragment
    of its path (or SES operation name), first come first served."""

    def __init__(self) -> None:
        self._waiting: list[tuple[Fault, str, str]] = []

    def add(self, fault: Fault, method: str, fragment: str) -> None:
        self._waiting.append((fault, method.upper(), fragment))

    def take(self, method: str, path: str) -> Fault | None:
        for i, (fault, m, fragment) in enumerate(self._waiting):
            if m == method.upper() and fragment in path:
                del self._waiting[i]
                return fault
        return None


class EspFake:
    #: espkit provider name, e.g. "mailgun"
    provider: str = ""
    #: at least four dedicated IPs the fake account owns (empty for ESPs without IPs)
    ips: tuple[str, ...] = ()

    def __enter__(self) -> EspFake:
        raise NotImplementedError

    def __exit__(self, *exc: object) -> None:
        raise NotImplementedError

    def connect(self) -> espkit.Account:
        """An account handle talking to this fake (credentials, region, etc. filled in)."""
        raise NotImplementedError

    def publish_dns(self, domain: str) -> None:
        """Make every record the ESP asked for valid, as if the customer published them;
        the next verify (or status read, for ESPs that verify on their own) sees it."""
        raise NotImplementedError

    def fail_next(self, fault: Fault, method: str, path_contains: str) -> None:
        """The next request whose method matches and whose URL path (or, for SES, operation
        name) contains ``path_contains`` gets ``fault`` instead of its normal answer
        (``timeout_after_commit`` applies it first). One request only."""
        raise NotImplementedError

    def domain_count(self) -> int:
        """How many domains the fake account holds (to prove no duplicate was made)."""
        raise NotImplementedError

    def sent(self, method: str, path_contains: str) -> int:
        """How many requests matching ``method`` and ``path_contains`` reached the fake."""
        raise NotImplementedError

    #: the path fragment (or SES operation) of the domain-create call, for fault injection
    create_domain_path: str = "domains"
    #: the path fragment (or SES operation) of the domain-read call
    get_domain_path: str = "domains"
