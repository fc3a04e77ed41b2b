"""The account handle users hold, and ``connect``, which opens one.

An ``Account`` wraps one provider (one ESP account, or a subaccount of it) and carries a
manager per resource: ``domains``, ``ips`` (and their warmup), ``pools``, ``subaccounts``,
``streams``, ``stats`` (delivery figures). It
answers capability questions and hands out handles scoped to a subaccount.
"""

from __future__ import annotations

import contextlib
import inspect
from collections.abc import Iterator
from typing import Any

from espkit import providers
from espkit.account.domains import Domains
from espkit.account.manager import subaccount_id
from espkit.account.pools import Ips, Pools
from espkit.account.stats import Stats
from espkit.account.streams import Streams
from espkit.account.subaccounts import Subaccounts
from espkit.errors import ConfigError, ValidationError
from espkit.models import Capability, Subaccount
from espkit.providers.base import Provider


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
        self.stats = Stats(self)

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

    @contextlib.contextmanager
    def batch(self, *, size: int | None = None) -> Iterator[Account]:
        """A run: inside it, the name -> id lookups the ESP forces on us (pool ids, domain
        ids, configuration sets) are read once and shared by every call, from any thread,
        on this handle and on its ``on_behalf_of`` handles; when the outermost ``batch``
        ends they are dropped. Outside one, every call reads what it needs afresh.

        ``size``: how many items the run will touch, so that a whole listing is read only
        where it costs fewer requests than a lookup per item. Fleet plan and apply, the
        verification waits and every ``Bulk`` job open one themselves.

            with acct.batch(size=len(names)):
                for name in names:
                    acct.domains.assign(name, pool="marketing")
        """
        if size is not None and (isinstance(size, bool) or not isinstance(size, int)
                                 or size < 0):
            raise ValidationError("size", size, "must be a whole number of items (>= 0)")
        with self.provider.lookups.scope(size):
            yield self

    def on_behalf_of(self, subaccount: str | Subaccount) -> Account:
        """A handle whose every call acts inside ``subaccount``."""
        sub_id = subaccount_id(subaccount)
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

    ``rate_limit=`` replaces the ESP's documented budgets (Mailgun: 300 requests a minute on
    its domains API) with one for every request: requests/second (``rate_limit=5``) or a
    count per window (``"300/min"``, ``"500/10s"``, ``(300, 60)``); a value that is neither
    is a ``ValidationError`` naming it, before anything is sent.
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


__all__ = ["Account", "connect"]
