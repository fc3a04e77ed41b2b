"""The account handle users hold, and its managers.

Managers validate every input (raising ``ValidationError`` before anything is sent), check
capabilities, and make creates safe: after an ambiguous failure they read back and adopt the
existing object instead of re-sending blindly. Providers stay thin translators.
"""

from __future__ import annotations

import builtins
import inspect
import logging
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any, TypeVar

from espkit import providers, validate
from espkit.errors import (
    AlreadyExists,
    ConfigError,
    ConflictingState,
    EspError,
    NotFound,
    Unsupported,
    ValidationError,
    VerificationTimeout,
)
from espkit.models import (
    Assignment,
    AssignmentKind,
    Capability,
    DedicatedIp,
    Domain,
    DomainSpec,
    IpPool,
    Stream,
    StreamKind,
    Subaccount,
)
from espkit.providers.base import Provider
from espkit.transport import RetryRunner

log = logging.getLogger("espkit")
T = TypeVar("T")


def create_safely(
    what: str,
    create: Callable[[], T],
    read_back: Callable[[], T | None],
    matches: Callable[[T], bool],
    attempts: int | None = None,
    runner: RetryRunner | None = None,
) -> T:
    """Run ``create`` without ever re-sending it blind.

    After an ambiguous failure (``maybe_applied``) read back: adopt the object if it matches,
    report a conflict if it differs, re-send only if it is absent. An ``AlreadyExists`` on such
    a re-send means the first attempt landed late: read back and adopt it.

    With the account's ``runner``, re-sends follow its retry policy: as many attempts, the
    same jittered back-off, and the same retry budget (an ESP failing everything stops
    being re-sent to). ``attempts`` defaults to the policy's, or 3.
    """
    if attempts is None:
        attempts = runner.retry.max_attempts if runner is not None else 3
    resent = False
    last: EspError | None = None
    for attempt in range(1, attempts + 1):
        if resent and runner is not None:
            assert last is not None
            if not runner.should_retry(last, True):
                break
            runner.pause(attempt - 1)
        try:
            return create()
        except AlreadyExists as exc:
            if not resent:
                raise
            found = read_back()
            if found is not None and matches(found):
                log.info("%s: adopted the copy an earlier ambiguous attempt created", what)
                return found
            if found is not None:
                raise ConflictingState(
                    f"{what} exists but differs from what was requested: {found!r}",
                    provider=exc.provider,
                ) from exc
            raise
        except EspError as exc:
            if not exc.maybe_applied:
                raise
            last = exc
            log.warning("%s: %s; reading back before deciding to re-send", what, exc)
            found = read_back()
            if found is not None:
                if matches(found):
                    log.info("%s: the ambiguous attempt did apply; using it", what)
                    return found
                raise ConflictingState(
                    f"{what} exists but differs from what was requested: {found!r}",
                    provider=exc.provider,
                ) from exc
            resent = True
    assert last is not None
    raise last


def runner_of(provider: Provider) -> RetryRunner | None:
    """The provider's retry runner (HTTP providers keep it on their transport, SES on
    itself): its policy, budget, limiter, counters and measured latency."""
    holder: Any = provider
    runner = getattr(getattr(holder, "transport", None), "runner", None)
    if runner is None:
        runner = getattr(holder, "runner", None)
    return runner if isinstance(runner, RetryRunner) else None


def _or_none(fn: Callable[[], T]) -> T | None:
    try:
        return fn()
    except NotFound:
        return None


class Manager:
    """Base of the managers: holds the provider and checks capabilities."""

    def __init__(self, account: Account) -> None:
        self._account = account
        self._provider = account.provider
        self._runner = runner_of(account.provider)

    def _require(self, capability: Capability) -> None:
        if capability not in self._provider.SUPPORTS:
            raise self._provider.unsupported(capability)


class Domains(Manager):
    """``acct.domains``: sending domains, their DNS records, verification and assignment."""

    def create(
        self,
        name: str | DomainSpec,
        *,
        dkim_key_size: int | None = None,
        dkim_selector: str | None = None,
        spam_action: str | None = None,
        wildcard: bool | None = None,
        web_scheme: str | None = None,
        web_prefix: str | None = None,
        ips: Iterable[str] = (),
        pool: str | None = None,
    ) -> Domain:
        """Create a sending domain and return it with the DNS records the ESP requires.

        Passing a ``DomainSpec`` is the same as passing its fields as keywords.
        """
        self._require(Capability.DOMAINS)
        if isinstance(name, DomainSpec):
            spec = name
        else:
            spec = DomainSpec(
                name=name, dkim_key_size=dkim_key_size, dkim_selector=dkim_selector,
                spam_action=spam_action, wildcard=wildcard, web_scheme=web_scheme,
                web_prefix=web_prefix, ips=tuple(ips), pool=pool,
            )
        spec = self.check_spec(spec)
        return create_safely(
            f"create domain {spec.name}",
            lambda: self._provider.create_domain(spec),
            lambda: _or_none(lambda: self._provider.get_domain(spec.name)),
            lambda d: d.name == spec.name,
            runner=self._runner,
        )

    def check_spec(self, spec: DomainSpec) -> DomainSpec:
        """Validate a spec against espkit's rules and this provider's options."""
        checked = validate.domain_spec(spec)
        for option in ("dkim_key_size", "dkim_selector", "spam_action", "wildcard",
                       "web_scheme", "web_prefix", "ips", "pool"):
            value = getattr(checked, option)
            if value not in (None, ()) and option not in self._provider.DOMAIN_OPTIONS:
                raise Unsupported(
                    self._provider.name, f"domain option {option!r}",
                    "create the domain without it",
                )
        return checked

    def get(self, name: str) -> Domain:
        self._require(Capability.DOMAINS)
        return self._provider.get_domain(validate.domain_name(name))

    def list(self, *, page_size: int | None = None) -> Iterator[Domain]:
        """Every domain of the account, fetched lazily page by page."""
        self._require(Capability.DOMAINS)
        if page_size is not None and (
            not isinstance(page_size, int) or isinstance(page_size, bool) or page_size < 1
        ):
            raise ValidationError("page_size", page_size, "must be a positive integer")
        return self._provider.list_domains(page_size)

    def verify(self, name: str) -> Domain:
        """Ask the ESP to check the DNS records now; returns the domain as it now stands."""
        self._require(Capability.DOMAIN_VERIFY)
        return self._provider.verify_domain(validate.domain_name(name))

    def wait_until_verified(
        self,
        name: str,
        *,
        timeout: float = 600.0,
        poll: float | None = None,
        interval: float | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> Domain:
        """Re-verify one domain every ``poll`` seconds (default 15) until it is verified;
        returns the ``Domain``, or raises ``VerificationTimeout`` when the next check would
        come after ``timeout``. ``interval`` is the former name of ``poll``.

        Many domains: ``espkit.wait_until_verified(account, names)`` checks them in rounds
        through the bulk engine, with backoff, and reports every domain's outcome.
        """
        if not isinstance(name, str):
            # the many-domain wait sits above the account (it runs on the bulk engine)
            raise ValidationError(
                "name", type(name).__name__,
                "is not one domain name; wait for many with "
                "espkit.wait_until_verified(account, names)")
        if interval is not None:
            if poll is not None and poll != interval:
                raise ValidationError("interval", interval,
                                      f"is the old name of poll; give one (poll={poll!r})")
            poll = interval
        every = 15.0 if poll is None else poll
        if not every > 0:
            raise ValidationError("poll", every, "must be more than 0 seconds")
        name = validate.domain_name(name)
        start = clock()
        while True:
            domain = self.verify(name)
            if domain.verified:
                return domain
            waited = clock() - start
            if waited + every > timeout:
                raise VerificationTimeout(domain, waited)
            sleep(every)

    def delete(self, name: str) -> None:
        self._require(Capability.DOMAINS)
        self._provider.delete_domain(validate.domain_name(name))

    def assign(self, name: str, *, pool: str | None = None, ip: str | None = None) -> Assignment:
        """Make ``name`` send from ``pool`` or from the dedicated ``ip``."""
        domain = validate.domain_name(name)
        kind, target = _target(pool, ip)
        self._require(_assign_cap(kind))
        return self._provider.assign(domain, kind, target)

    def unassign(
        self,
        name: str,
        *,
        pool: str | None = None,
        ip: str | None = None,
        replacement: str | None = None,
    ) -> None:
        """Stop ``name`` sending from ``pool``/``ip``. Some ESPs (Mailgun, when unlinking a
        pool) need a ``replacement``: an IP, a pool name, or ``"shared"``."""
        domain = validate.domain_name(name)
        kind, target = _target(pool, ip)
        self._require(_assign_cap(kind))
        self._provider.unassign(domain, kind, target, _replacement(replacement))

    def assignments(self, name: str) -> builtins.list[Assignment]:
        """What ``name`` sends from."""
        domain = validate.domain_name(name)
        if not ({Capability.ASSIGN_DOMAIN_IP, Capability.ASSIGN_DOMAIN_POOL}
                & self._provider.SUPPORTS):
            raise self._provider.unsupported(Capability.ASSIGN_DOMAIN_POOL)
        return self._provider.list_assignments(domain)


def _replacement(value: str | None) -> str | None:
    """Where traffic goes instead: an IP, a pool name, or ``"shared"``."""
    if value is None or value == "shared":
        return value
    try:
        return validate.ip_address(value, "replacement")
    except ValidationError:
        return validate.resource_name(value, "replacement")


def _target(pool: str | None, ip: str | None) -> tuple[AssignmentKind, str]:
    if (pool is None) == (ip is None):
        raise ValidationError("pool/ip", (pool, ip), "give exactly one of pool= or ip=")
    if pool is not None:
        return AssignmentKind.POOL, validate.pool_name(pool)
    return AssignmentKind.IP, validate.ip_address(ip)


def _assign_cap(kind: AssignmentKind) -> Capability:
    return Capability.ASSIGN_DOMAIN_POOL if kind is AssignmentKind.POOL else (
        Capability.ASSIGN_DOMAIN_IP)


class Ips(Manager):
    """``acct.ips``: the account's dedicated IPs."""

    def list(self) -> Iterator[DedicatedIp]:
        self._require(Capability.DEDICATED_IPS)
        return self._provider.list_ips()

    def get(self, address: str) -> DedicatedIp:
        self._require(Capability.DEDICATED_IPS)
        return self._provider.get_ip(validate.ip_address(address))


class Pools(Manager):
    """``acct.pools``: named groups of dedicated IPs."""

    def create(
        self, name: str, *, ips: Iterable[str] = (), description: str | None = None
    ) -> IpPool:
        self._require(Capability.IP_POOLS)
        name = validate.pool_name(name)
        addresses = validate.ip_addresses(ips)
        if description is not None and (not isinstance(description, str)
                                        or any(c in description for c in "\r\n\x00")):
            raise ValidationError("description", description, "must be one line")
        return create_safely(
            f"create pool {name}",
            lambda: self._provider.create_pool(name, addresses, description),
            lambda: _or_none(lambda: self._provider.get_pool(name)),
            lambda p: p.name == name and set(addresses) <= set(p.ips),
            runner=self._runner,
        )

    def list(self) -> Iterator[IpPool]:
        self._require(Capability.IP_POOLS)
        return self._provider.list_pools()

    def get(self, name: str) -> IpPool:
        self._require(Capability.IP_POOLS)
        return self._provider.get_pool(validate.pool_name(name))

    def add_ip(self, pool: str, ip: str) -> IpPool:
        """Ensure ``ip`` is in ``pool``. On ESPs where an IP is in at most one pool this
        moves it out of its current pool."""
        self._require(Capability.IP_POOLS)
        return self._provider.add_ip_to_pool(validate.pool_name(pool), validate.ip_address(ip))

    def remove_ip(self, pool: str, ip: str) -> IpPool:
        self._require(Capability.IP_POOLS)
        return self._provider.remove_ip_from_pool(
            validate.pool_name(pool), validate.ip_address(ip)
        )

    def delete(self, name: str, *, replacement: str | None = None) -> None:
        self._require(Capability.IP_POOLS)
        self._provider.delete_pool(validate.pool_name(name), _replacement(replacement))


class Subaccounts(Manager):
    """``acct.subaccounts``: child accounts (one per customer, typically)."""

    def create(self, name: str) -> Subaccount:
        self._require(Capability.SUBACCOUNTS)
        name = validate.subaccount_name(name)
        return create_safely(
            f"create subaccount {name}",
            lambda: self._provider.create_subaccount(name),
            lambda: next((s for s in self._provider.list_subaccounts() if s.name == name), None),
            lambda s: s.name == name,
            runner=self._runner,
        )

    def list(self) -> Iterator[Subaccount]:
        self._require(Capability.SUBACCOUNTS)
        return self._provider.list_subaccounts()

    def ids_by_name(self) -> dict[str, str]:
        """Subaccount name -> id, from one listing: what fleets (which know customers'
        subaccounts by name) need. Where an ESP lets two share a name, the later listed
        wins."""
        return {s.name: s.id for s in self.list()}

    def get(self, subaccount: str | Subaccount) -> Subaccount:
        self._require(Capability.SUBACCOUNTS)
        return self._provider.get_subaccount(_sub_id(subaccount))

    def enable(self, subaccount: str | Subaccount) -> Subaccount:
        self._require(Capability.SUBACCOUNT_DISABLE)
        return self._provider.set_subaccount_enabled(_sub_id(subaccount), True)

    def disable(self, subaccount: str | Subaccount) -> Subaccount:
        self._require(Capability.SUBACCOUNT_DISABLE)
        return self._provider.set_subaccount_enabled(_sub_id(subaccount), False)

    def assign(self, subaccount: str | Subaccount, *, pool: str) -> Assignment:
        """Make everything the subaccount sends go out of ``pool`` (the binding SparkPost
        and SendGrid offer where Mailgun binds pools to domains)."""
        self._require(Capability.ASSIGN_SUBACCOUNT_POOL)
        return self._provider.assign_subaccount_pool(_sub_id(subaccount), validate.pool_name(pool))


class Streams(Manager):
    """``acct.streams``: message streams where the ESP has them (Postmark)."""

    def list(self) -> Iterator[Stream]:
        self._require(Capability.STREAMS)
        return self._provider.list_streams()

    def create(self, stream_id: str, *, name: str | None = None,
               kind: StreamKind | str = StreamKind.BROADCAST) -> Stream:
        self._require(Capability.STREAMS)
        sid = validate.resource_name(stream_id, "stream")
        try:
            stream_kind = StreamKind(kind)
        except ValueError:
            raise ValidationError("kind", kind, "must be transactional, broadcast or inbound") \
                from None
        label = name if name is not None else sid
        if not isinstance(label, str) or not label.strip() or any(c in label for c in "\r\n"):
            raise ValidationError("name", label, "must be one non-empty line")
        return create_safely(
            f"create stream {sid}",
            lambda: self._provider.create_stream(sid, label, stream_kind),
            lambda: _or_none(lambda: self._provider.get_stream(sid)),
            lambda s: s.id == sid and s.kind is stream_kind,
            runner=self._runner,
        )

    def get(self, stream_id: str) -> Stream:
        self._require(Capability.STREAMS)
        return self._provider.get_stream(validate.resource_name(stream_id, "stream"))


def _sub_id(subaccount: str | Subaccount) -> str:
    if isinstance(subaccount, Subaccount):
        return subaccount.id
    return validate.identifier(subaccount, "subaccount")


class Account:
    """One ESP account (or subaccount). Get one from ``espkit.connect``."""

    def __init__(self, provider: Provider, subaccount: str | None = None) -> None:
        self.provider = provider
        self.subaccount = subaccount
        self.domains = Domains(self)
        self.ips = Ips(self)
        self.pools = Pools(self)
        self.subaccounts = Subaccounts(self)
        self.streams = Streams(self)

    def __repr__(self) -> str:
        scope = f", subaccount={self.subaccount!r}" if self.subaccount else ""
        return f"Account({self.provider!r}{scope})"

    @property
    def name(self) -> str:
        return self.provider.name

    @property
    def capabilities(self) -> frozenset[Capability]:
        return self.provider.SUPPORTS

    def supports(self, capability: Capability | str) -> bool:
        try:
            return Capability(capability) in self.provider.SUPPORTS
        except ValueError:
            known = ", ".join(c.value for c in Capability)
            raise ConfigError(f"unknown capability {capability!r}; known: {known}") from None

    def on_behalf_of(self, subaccount: str | Subaccount) -> Account:
        """A handle whose every call acts inside ``subaccount``."""
        sub_id = _sub_id(subaccount)
        if Capability.SUBACCOUNT_SCOPE not in self.provider.SUPPORTS:
            raise self.provider.unsupported(Capability.SUBACCOUNT_SCOPE)
        return Account(self.provider.on_behalf_of(sub_id), subaccount=sub_id)

    def close(self) -> None:
        self.provider.close()

    def __enter__(self) -> Account:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def connect(provider: str = "sandbox", **options: Any) -> Account:
    """Open an account handle.

    ``connect("mailgun", region="eu")``; ``connect("sandbox")``;
    ``connect("mailgun", api_key=key, base_url="http://127.0.0.1:8080")``.
    Options are the provider's ``from_options`` keywords; unknown ones are a ``ConfigError``.
    """
    cls = providers.get(provider)
    try:
        inspect.signature(cls.from_options).bind(**options)
    except TypeError:
        allowed = [p for p in inspect.signature(cls.from_options).parameters if p != "cls"]
        unknown = sorted(set(options) - set(allowed))
        raise ConfigError(
            f"unknown option(s) {', '.join(map(repr, unknown))} for {cls.name}; "
            f"accepted: {', '.join(allowed)}"
        ) from None
    return Account(cls.from_options(**options))


__all__ = [
    "Account",
    "Domains",
    "Ips",
    "Manager",
    "Pools",
    "Streams",
    "Subaccounts",
    "VerificationTimeout",
    "connect",
    "create_safely",
    "runner_of",
]
