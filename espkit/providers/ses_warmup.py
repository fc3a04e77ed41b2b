"""Amazon SES v2's dedicated IP warm-up behind espkit's ``Warmup``. ``SesProvider`` delegates
its warmup calls here.

Source: the botocore SES v2 model (``botocore/data/sesv2/2019-09-27/service-2.json``):

* ``GetDedicatedIp`` / ``GetDedicatedIps`` answer ``DedicatedIp`` objects whose required
  ``WarmupStatus`` is ``IN_PROGRESS`` ("the dedicated IP warm-up process is ongoing"),
  ``DONE`` ("complete, and the IP address is ready to use") or ``NOT_APPLICABLE`` ("used for IP
  addresses in managed dedicated IP pools, where Amazon SES automatically handles the warm-up
  process"), and whose ``WarmupPercentage`` is "0-100 ... A value of 100 means the IP address
  is fully warmed up and ready for use", or -1 for IPs of managed pools.
* ``PutDedicatedIpWarmupAttributes`` (``Ip``, ``WarmupPercentage``) sets that percentage: the
  request is "useful when you want to resume the warm-up process for an existing IP address".
  So ``start_warmup`` sets it to 0 (SES's plan from its beginning) and ``stop_warmup`` to 100
  (warmed up: the IP sends its full volume). SES's plan has no stages to choose, so a
  ``stage`` is refused before anything is sent.
* ``PutAccountDedicatedIpWarmupAttributes`` (``AutoWarmupEnabled``) switches the automatic
  warm-up on or off for *every* dedicated IP of the account in the region. A per-IP call never
  flips it: ``start_warmup`` reads it (``GetAccount``'s ``DedicatedIpAutoWarmupEnabled``, once
  per run) and refuses with ``ConflictingState`` when it is off, since a percentage then warms
  nothing; ``set_auto_warmup`` (``acct.provider.warmups.set_auto_warmup(True)``) is the
  account-wide switch, for a caller who means it.

Mapping: ``IN_PROGRESS`` -> ``WARMING``, ``DONE`` -> ``WARM``, ``NOT_APPLICABLE`` ->
``NOT_APPLICABLE``; ``progress`` is the percentage / 100 (None for -1 or when not applicable).
SES publishes no per-day figures for its plan (``espkit.warmup.published``), so ``daily_cap``,
``stage`` and ``stages`` stay None, and it does not say where mail over the plan goes
(``overflow`` None). Starting or stopping an IP of a MANAGED pool is a ``ConflictingState``
naming the pool, raised after the status read and before any write: SES warms those itself.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from espkit.errors import ConflictingState, ValidationError
from espkit.models import DedicatedIp, Warmup, WarmupState
from espkit.providers import payload as pl

if TYPE_CHECKING:
    from espkit.providers.ses import SesProvider

Json = dict[str, Any]

#: where SES keeps standard dedicated IPs that are in no pool of yours (AWS docs)
DEFAULT_POOL = "ses-default-dedicated-pool"
_STATES = {"IN_PROGRESS": WarmupState.WARMING, "DONE": WarmupState.WARM,
           "NOT_APPLICABLE": WarmupState.NOT_APPLICABLE}
#: where SES's plan begins and ends (WarmupPercentage)
START, DONE = 0, 100
#: the run's reading of the account-wide switch
_AUTO = "account auto warmup"
PAGE = 100


class SesWarmups:
    """The dedicated IP warm-up of one ``SesProvider``."""

    def __init__(self, provider: SesProvider) -> None:
        self.p = provider

    def status(self, ip: str) -> Warmup:
        return self.p._call("GetDedicatedIp",
                            lambda body: warmup(body.get("DedicatedIp"), ip),
                            idempotent=True, Ip=ip)

    def listing(self) -> Iterator[Warmup]:
        """Every dedicated IP's warm-up: the IP listing (which carries it), page by page."""
        return self.p._pages("GetDedicatedIps", "DedicatedIps", warmup, PAGE)

    def start(self, ip: str, stage: int | None) -> Warmup:
        """Put ``ip`` on SES's warm-up plan from 0 %. An IP already warming costs one read
        and no write."""
        if stage is not None:
            raise ValidationError("stage", stage, "SES's warm-up has no stages to choose: it "
                                                  "goes by a percentage SES moves on itself")
        current = self.status(ip)
        if current.state is WarmupState.WARMING:
            return current
        self._refuse_managed(current, "start")
        if self.p.lookups.table(_AUTO, self.auto_warmup_enabled) is False:
            raise ConflictingState(
                f"SES's automatic warm-up of dedicated IPs is off for this account in "
                f"{self.p.region}, so a warm-up percentage on {ip} warms nothing; it is "
                "account-wide: acct.provider.warmups.set_auto_warmup(True) turns it on for "
                "every dedicated IP", provider=self.p.name)
        return self._put(ip, START)

    def stop(self, ip: str) -> Warmup:
        """Mark ``ip`` warmed up (100 %): it then sends its full volume. An IP not warming
        costs one read and no write."""
        current = self.status(ip)
        self._refuse_managed(current, "stop")
        if current.state is not WarmupState.WARMING:
            return current
        return self._put(ip, DONE)

    def _put(self, ip: str, percentage: int) -> Warmup:
        self.p._call("PutDedicatedIpWarmupAttributes", pl.ignored, idempotent=True, Ip=ip,
                     WarmupPercentage=percentage)
        self.p.lookups.forget("ips")  # the run's IP listing carries the warm-up fields
        return self.status(ip)  # what SES says now, not what espkit assumes it did

    def _refuse_managed(self, current: Warmup, verb: str) -> None:
        if current.state is WarmupState.NOT_APPLICABLE:
            pool = pl.str_or_none(current.raw.get("PoolName")) or "a managed pool"
            raise ConflictingState(
                f"cannot {verb} the warm-up of {current.ip}: it is in {pool!r}, a MANAGED "
                "pool, whose IPs SES warms itself; use an IP of a STANDARD pool",
                provider=self.p.name)

    # -- the account-wide switch ---------------------------------------------------------------

    def auto_warmup_enabled(self) -> bool | None:
        """``GetAccount``'s ``DedicatedIpAutoWarmupEnabled`` (None when SES leaves it out)."""
        def decode(body: Json) -> bool | None:
            return pl.opt_bool(body.get("DedicatedIpAutoWarmupEnabled"))

        return self.p._call("GetAccount", decode, idempotent=True)

    def set_auto_warmup(self, enabled: bool) -> None:
        """Switch SES's automatic warm-up on or off for every dedicated IP of the account in
        this region (``PutAccountDedicatedIpWarmupAttributes``)."""
        if not isinstance(enabled, bool):
            raise ValidationError("enabled", enabled, "must be True or False")
        try:
            self.p._call("PutAccountDedicatedIpWarmupAttributes", pl.ignored,
                         idempotent=True, AutoWarmupEnabled=enabled)
        finally:
            self.p.lookups.forget(_AUTO)


def warmup(raw: Any, asked: str | None = None) -> Warmup:
    """A ``Warmup`` from a ``DedicatedIp`` object (``asked``: the IP the call was about)."""
    raw = pl.need_obj(raw, "DedicatedIp")
    address = pl.ip(raw.get("Ip"), "Ip")
    if asked is not None and address != asked:
        raise pl.Malformed("the answer is about another IP than the one asked for")
    status = raw.get("WarmupStatus")
    state = _STATES.get(status) if isinstance(status, str) else None
    if state is None:
        raise pl.Malformed(f"WarmupStatus is {pl.kind(status)}, not IN_PROGRESS, DONE or "
                           "NOT_APPLICABLE")
    percentage = raw.get("WarmupPercentage")
    if percentage is None or (isinstance(percentage, int) and not isinstance(percentage, bool)
                              and percentage == -1):
        progress = None  # -1: an IP of a managed pool ("not applicable")
    else:
        share = pl.whole(percentage, "WarmupPercentage")
        if share > DONE:
            raise pl.Malformed(f"WarmupPercentage is {share}, over 100")
        progress = share / DONE
    if state is WarmupState.NOT_APPLICABLE:
        progress = None
    return Warmup(address, state, "ses", progress=progress, raw=raw)


def dedicated_ip(raw: Any) -> DedicatedIp:
    """A ``DedicatedIp`` from a ``DedicatedIp`` object; ``warming_up`` from its warm-up
    status (or, without one, a percentage under 100)."""
    raw = pl.need_obj(raw, "DedicatedIp")
    status = raw.get("WarmupStatus")
    percentage = raw.get("WarmupPercentage")
    if isinstance(status, str) and status in _STATES:
        warming: bool | None = status == "IN_PROGRESS"
    elif isinstance(percentage, int) and not isinstance(percentage, bool):
        warming = percentage < DONE
    else:
        warming = None
    pool = pl.str_or_none(raw.get("PoolName"))
    return DedicatedIp(
        address=pl.ip(raw.get("Ip"), "Ip"),
        provider="ses",
        pool=None if pool in (None, "", DEFAULT_POOL) else pool,
        warming_up=warming,
        raw=raw,
    )


__all__ = ["DEFAULT_POOL", "SesWarmups", "dedicated_ip", "warmup"]
