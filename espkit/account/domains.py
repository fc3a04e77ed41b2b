"""``acct.domains``: one sending domain's lifecycle, from create to delete.

Create (with the DNS records the ESP requires), read, list, verify and wait until verified,
bind to a pool or dedicated IP and unbind, delete. The many-domain wait is not here: it runs
on the bulk engine, above the account (``espkit.wait_until_verified``).
"""

from __future__ import annotations

import builtins
import time
from collections.abc import Callable, Iterable, Iterator

from espkit import validate
from espkit.account.manager import (
    Manager,
    check_replacement,
    create_safely,
    or_none,
    read_back,
)
from espkit.errors import EspError, Unsupported, ValidationError, VerificationTimeout
from espkit.models import Assignment, AssignmentKind, Capability, Domain, DomainSpec
from espkit.providers.batch import LinksDomains


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
            read_back(self._provider,
                      lambda: or_none(lambda: self._provider.get_domain(spec.name))),
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

    def assign_many(self, names: Iterable[str], *, pool: str) -> dict[str, EspError | None]:
        """Make every domain of ``names`` send from ``pool``, in as few requests as the ESP
        allows (Mailgun: 100 domains per request; elsewhere one ``assign`` per domain). Per
        domain (canonical name): None when it sends from ``pool``, else the typed error
        that stopped it. Every name is checked before anything is sent."""
        domains = list(dict.fromkeys(validate.domain_name(n) for n in _names(names)))
        target = validate.pool_name(pool)
        self._require(Capability.ASSIGN_DOMAIN_POOL)
        if isinstance(self._provider, LinksDomains):
            return self._provider.link_domains(target, domains)
        out: dict[str, EspError | None] = {}
        for domain in domains:
            try:
                self._provider.assign(domain, AssignmentKind.POOL, target)
                out[domain] = None
            except EspError as exc:
                out[domain] = exc
        return out

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
        self._provider.unassign(domain, kind, target, check_replacement(replacement))

    def assignments(self, name: str) -> builtins.list[Assignment]:
        """What ``name`` sends from."""
        domain = validate.domain_name(name)
        if not ({Capability.ASSIGN_DOMAIN_IP, Capability.ASSIGN_DOMAIN_POOL}
                & self._provider.SUPPORTS):
            raise self._provider.unsupported(Capability.ASSIGN_DOMAIN_POOL)
        return self._provider.list_assignments(domain)


def _names(names: Iterable[str]) -> Iterable[str]:
    if isinstance(names, (str, bytes)):
        raise ValidationError("names", names, "must be an iterable of domain names, not one")
    return names


def _target(pool: str | None, ip: str | None) -> tuple[AssignmentKind, str]:
    if (pool is None) == (ip is None):
        raise ValidationError("pool/ip", (pool, ip), "give exactly one of pool= or ip=")
    if pool is not None:
        return AssignmentKind.POOL, validate.pool_name(pool)
    return AssignmentKind.IP, validate.ip_address(ip)


def _assign_cap(kind: AssignmentKind) -> Capability:
    return Capability.ASSIGN_DOMAIN_POOL if kind is AssignmentKind.POOL else (
        Capability.ASSIGN_DOMAIN_IP)


__all__ = ["Domains"]
