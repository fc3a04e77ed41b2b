"""The provider calls that pass straight on to a helper object: an ESP's warmup plans
(``<esp>_warmup``) and delivery figures (``<esp>_stats``) are each read and written by a
class of their own, and ``Delegates`` gives a provider the ``Provider`` methods that hand
them on, so each provider does not write the same five one-line methods again.

A provider mixing it in sets ``self.warmups`` and ``self.metrics`` in its constructor and
lists ``Delegates`` before its base class, so these methods win over the base's
``Unsupported`` ones.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Protocol

from espkit.models import DeliveryStats, StatsQuery, Warmup


class WarmupCalls(Protocol):
    """What an ESP's warmup helper does (``Provider.warmup_status`` ... ``stop_warmup``)."""

    def status(self, ip: str, /) -> Warmup: ...

    def listing(self) -> Iterator[Warmup]: ...

    def start(self, ip: str, stage: int | None, /) -> Warmup: ...

    def stop(self, ip: str, /) -> Warmup: ...


class StatsCalls(Protocol):
    """What an ESP's delivery-figures helper does (``Provider.delivery_stats``)."""

    def rows(self, query: StatsQuery, /) -> Iterator[DeliveryStats]: ...


class Delegates:
    """``Provider``'s warmup and delivery-figure calls, handed to ``self.warmups`` and
    ``self.metrics`` (the base class documents each)."""

    warmups: WarmupCalls
    metrics: StatsCalls

    def warmup_status(self, ip: str) -> Warmup:
        return self.warmups.status(ip)

    def list_warmups(self) -> Iterator[Warmup]:
        return self.warmups.listing()

    def start_warmup(self, ip: str, stage: int | None = None) -> Warmup:
        return self.warmups.start(ip, stage)

    def stop_warmup(self, ip: str) -> Warmup:
        return self.warmups.stop(ip)

    def delivery_stats(self, query: StatsQuery) -> Iterator[DeliveryStats]:
        return self.metrics.rows(query)


__all__ = ["Delegates", "StatsCalls", "WarmupCalls"]
