"""What a fake ESP offers the shared provider suite, and what the wire-level fakes share.

A fake is a small, stateful emulation of one ESP's management API at the wire level, built
from that ESP's official request/response shapes (spec or docs), so the real provider module
and the real transport pipeline run against it unchanged. HTTP ESPs intercept with the
``responses`` library (``HttpFake``); SES uses moto plus botocore hooks (``WireFake``). Faults
are injected at the wire.

Lifecycle, driven by the suite::

    with FakeClass() as fake:            # starts interception (responses / mock_aws)
        acct = fake.connect()            # espkit.connect(<provider>, ...) wired to the fake
        ...
        fake.publish_dns("news.acme.example")   # the customer published the records
        fake.fail_next("timeout_after_commit", "POST", "domains")

Layers: ``EspFake`` is the interface (the sandbox implements it on its own emulator);
``WireFake`` implements its accessors once (published DNS, fault queue, request log, counts)
for every fake that sees each request itself; ``HttpFake`` adds the ``responses`` plumbing and
the wire step every HTTP ESP shares (log, fault, route, lose the answer), leaving each ESP module
its hosts, routes, body shapes and auth.
"""

from __future__ import annotations

import email.utils
import fnmatch
import json
import re
import threading
import time
import urllib.parse
from dataclasses import dataclass
from typing import Any, ClassVar, Literal, TypeVar

import requests
import responses
from requests.structures import CaseInsensitiveDict

import espkit

Fault = Literal[
    "429",                    # rate limited, Retry-After in delta seconds
    "429-date",               # rate limited, Retry-After as an HTTP date
    "503",                    # server error, nothing applied
    "timeout_after_commit",   # the ESP applies the request, then the client times out
]
#: what a ``responses`` callback answers: status, headers, body
Reply = tuple[int, dict[str, str], str]

_HttpFakeT = TypeVar("_HttpFakeT", bound="HttpFake")


def matches(wanted_method: str, wanted_path: str, method: str, path: str, *,
            fold_case: bool = False) -> bool:
    """The one rule ``fail_next`` and ``sent`` select requests by: ``wanted_method`` is a method
    (any case) or ``*``/empty for any; ``wanted_path`` is a fragment of the path (or SES
    operation name), or a glob (``*?[``) the whole of it must match."""
    if wanted_method not in ("*", "") and wanted_method.upper() != method.upper():
        return False
    if fold_case:
        wanted_path, path = wanted_path.lower(), path.lower()
    if any(c in wanted_path for c in "*?["):
        return fnmatch.fnmatchcase(path, wanted_path)
    return wanted_path in path


def retry_after(fault: Fault) -> str:
    """The Retry-After value of a rate-limit fault: delta seconds, or an HTTP date."""
    if fault == "429-date":
        return email.utils.formatdate(time.time() + 2, usegmt=True)
    return "1"


class FaultQueue:
    """Faults waiting for their request: each matches one request (see ``matches``), first
    come first served."""

    def __init__(self, *, fold_case: bool = False) -> None:
        self._waiting: list[tuple[Fault, str, str]] = []
        self._fold_case = fold_case

    def add(self, fault: Fault, method: str, fragment: str) -> None:
        self._waiting.append((fault, method, fragment))

    def take(self, method: str, path: str) -> Fault | None:
        for i, (fault, m, fragment) in enumerate(self._waiting):
            if matches(m, fragment, method, path, fold_case=self._fold_case):
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

    def connect(self, **options: Any) -> espkit.Account:
        """An account handle talking to this fake (credentials, region, etc. filled in);
        ``options``: more ``espkit.connect`` keywords (``rate_limit=``, say)."""
        raise NotImplementedError

    def publish_dns(self, domain: str) -> None:
        """Make every record the ESP asked for valid, as if the customer published them;
        the next verify (or status read, for ESPs that verify on their own) sees it."""
        raise NotImplementedError

    def fail_next(self, fault: Fault, method: str, path_contains: str) -> None:
        """The next request whose method matches and whose URL path (or, for SES, operation
        name) contains ``path_contains`` gets ``fault`` instead of its normal answer
        (``timeout_after_commit`` applies it first). One request only. ``WireFake`` selects by
        ``matches``; the sandbox's emulator takes ``path_contains`` as a glob of the path."""
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


class WireFake(EspFake):
    """``EspFake``'s accessors for a fake that sees every request itself.

    A subclass keeps its domains in ``self.domains``, reads ``self.published`` when it decides
    whether a record is valid, and calls ``_arrive`` once per request, before acting on it.
    """

    #: whether paths match ``fail_next``/``sent`` fragments whatever their case
    fold_case: ClassVar[bool] = False

    def __init__(self) -> None:
        #: the account's domains, in whatever shape the ESP keeps them
        self.domains: dict[Any, Any] = {}
        #: what ``publish_dns`` published (domain names, unless the ESP fake says otherwise)
        self.published: set[str] = set()
        self.faults = FaultQueue(fold_case=self.fold_case)
        #: (METHOD, path or operation) of every request that reached the fake, in order
        self.log: list[tuple[str, str]] = []

    def publish_dns(self, domain: str) -> None:
        self.published.add(domain)

    def fail_next(self, fault: Fault, method: str, path_contains: str) -> None:
        self.faults.add(fault, method, path_contains)

    def domain_count(self) -> int:
        return len(self.domains)

    def sent(self, method: str, path_contains: str) -> int:
        return sum(1 for m, p in self.log
                   if matches(method, path_contains, m, p, fold_case=self.fold_case))

    def _arrive(self, method: str, path: str) -> Fault | None:
        """Log a request; the fault it is to suffer, if one waits for it."""
        self.log.append((method.upper(), path))
        return self.faults.take(method, path)


@dataclass(frozen=True)
class Call:
    """One request as an ESP fake's router sees it."""

    request: requests.PreparedRequest
    #: upper-case
    method: str
    #: below the fake's base URL, percent-decoded
    path: str
    #: query parameters, first value of each
    args: dict[str, str]

    @property
    def headers(self) -> CaseInsensitiveDict[str]:
        return self.request.headers

    def text(self) -> str:
        body = self.request.body or ""
        return body.decode() if isinstance(body, bytes) else body

    def json(self) -> Any:
        """The JSON body, or None when there is none."""
        text = self.text()
        return json.loads(text) if text else None

    def form(self) -> dict[str, list[str]]:
        return urllib.parse.parse_qs(self.text())


class HttpFake(WireFake):
    """A ``WireFake`` on ``responses``: every request under ``base`` is logged, meets its
    injected fault (429 with Retry-After, 503, or applied and then a read timeout) and is
    otherwise routed by the ESP's ``_route``. The ESP module supplies the routes and the
    bodies of its own errors."""

    #: the URL the account talks to; routes, the log and faults see the path below it
    base: str = ""
    #: other hosts of the ESP (another region) that refuse this account's key
    foreign_hosts: tuple[str, ...] = ()

    def __init__(self) -> None:
        super().__init__()
        self.mock = responses.RequestsMock(assert_all_requests_are_fired=False)
        # An ESP applies one request at a time to its state; the bulk engine's workers call
        # from many threads, and a listing iterating ``domains`` while a delete removes one
        # raised "dictionary changed size" here (a 500 to espkit: one failed item in CI).
        self._serial = threading.RLock()

    def __enter__(self: _HttpFakeT) -> _HttpFakeT:
        for method in ("GET", "POST", "PUT", "PATCH", "DELETE"):
            self.mock.add_callback(method, _under(self.base), callback=self._handle)
            for host in self.foreign_hosts:
                self.mock.add_callback(method, _under(host),
                                       callback=lambda _: self._unauthorized())
        self.mock.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.mock.stop()
        self.mock.reset()

    # -- what each ESP module supplies -------------------------------------------------------

    def _route(self, call: Call) -> Reply:
        """The ESP's answer to a request that suffers no fault (auth checked here)."""
        raise NotImplementedError

    def _rate_limited(self, retry_after: str) -> Reply:
        """The ESP's 429, carrying ``retry_after`` in its Retry-After header."""
        raise NotImplementedError

    def _unavailable(self) -> Reply:
        """The ESP's 503."""
        raise NotImplementedError

    def _unauthorized(self) -> Reply:
        """The ESP's answer to a key it does not know (used for ``foreign_hosts``)."""
        raise NotImplementedError

    def _keep(self, call: Call) -> None:
        """Keep more of each request than ``log`` does, for tests that inspect it."""

    # -- the wire ---------------------------------------------------------------------------

    def _handle(self, request: requests.PreparedRequest) -> Reply:
        url = urllib.parse.urlsplit(request.url or "")
        below = urllib.parse.urlsplit(self.base).path
        call = Call(request, (request.method or "GET").upper(),
                    urllib.parse.unquote(url.path[len(below):]),
                    {k: v[0] for k, v in urllib.parse.parse_qs(url.query).items()})
        with self._serial:
            self._keep(call)
            fault = self._arrive(call.method, call.path)
            if fault in ("429", "429-date"):
                return self._rate_limited(retry_after(fault))
            if fault == "503":
                return self._unavailable()
            reply = self._route(call)
        if fault == "timeout_after_commit":
            raise requests.ReadTimeout("read timed out after the request was applied")
        return reply


def _under(url: str) -> re.Pattern[str]:
    return re.compile(re.escape(url) + r"/.*")
