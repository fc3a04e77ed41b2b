"""Batch calls: many items in one request, where an ESP's API has them.

A provider that has one implements the protocol here besides the one-item operation of
``Provider``; the account layer (``acct.domains.assign_many``, ``acct.pools.update_ips``)
uses it when the provider does and falls back to one call per item when it does not, so a
caller never has to ask. Each batch reports per item, so one bad item does not hide what
happened to the others.

Who has what (see ``benchmarks/README.md``, "Requests per operation"):

* Mailgun: ``PATCH /v3/ip_pools/{id}`` takes ``link_domain`` many times (``link_domains``)
  and ``add_ip``/``remove_ip`` many times (``set_pool_ips``).
* SendGrid, SparkPost, Postmark and SES: none for the operations espkit makes (SendGrid's
  multiple-domain subuser association batches an association espkit does not use: it
  creates a subuser's domains on its behalf).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

from espkit.errors import EspError
from espkit.models import IpPool


@runtime_checkable
class LinksDomains(Protocol):
    """Sends many domains from one pool in few requests."""

    def link_domains(self, pool: str, domains: Sequence[str]) -> dict[str, EspError | None]:
        """Make every domain of ``domains`` send from ``pool``: per domain, None when it
        does (now or already), else the error that stopped it."""
        ...


@runtime_checkable
class SetsPoolIps(Protocol):
    """Moves many IPs in and out of one pool in few requests."""

    def set_pool_ips(self, pool: str, add: Sequence[str], remove: Sequence[str]) -> IpPool:
        """Make ``add`` members of ``pool`` (taking them out of other pools where an IP is
        in one only) and ``remove`` not; the pool as it now is."""
        ...


__all__ = ["LinksDomains", "SetsPoolIps"]
