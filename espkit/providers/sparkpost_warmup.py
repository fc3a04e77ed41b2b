"""SparkPost's automatic IP warmup for one scope of an account, behind espkit's ``Warmup``.
``SparkPostProvider`` delegates its warmup calls here.

Sources (``../shared/specs/sparkpost``): ``sending-ips.apib`` ("Sending IP Object":
``auto_warmup_enabled``, ``auto_warmup_stage`` "between 1 and 29"; "Update a Sending IP"
``PUT /v1/sending-ips/{external_ip}``: the stage "Must be less than or equal to current stage"
and "auto_warmup_enabled must be true to update auto_warmup_stage"); ``ip-pools.apib`` ("List
IP Pools" ``GET /v1/ip-pools``: each pool with its ``ips``, which carry ``external_ip``,
``auto_warmup_enabled`` and ``auto_warmup_stage``, and the pool's ``auto_warmup_overflow_pool``,
a pool id or ``"shared pool"``). The volumes are SparkPost's published stage table,
``espkit.warmup.published.schedule("sparkpost-auto")`` (its ``source`` names the page).

Every status is read from the pool listing, not from ``/sending-ips``: one request carries
every IP's warmup fields *and* the overflow setting of the pool each IP is in (the IP
listing has no overflow), and inside a run (``Account.batch``) it is the very listing the
pool calls already read once. A warmup write forgets that listing, so the status returned
after it is read again.

Mapping:

* ``auto_warmup_enabled`` true at stage ``s`` (1-29): ``WARMING``, ``stage`` s of 29 stages,
  ``progress`` s/29, ``daily_cap`` the published volume of stage s (derived from the
  published table: the API reports no volume);
* stage 30 (the published table's "Stage 30: DONE"), whether or not auto warmup is still on:
  ``WARM``;
* auto warmup off (or never on): ``NOT_STARTED``. SparkPost also switches it off when a stage
  above 1 has not progressed for 10 days: such an IP stopped warming, it did not finish;
* ``overflow``: the pool's ``auto_warmup_overflow_pool``: ``"shared"`` for SparkPost's shared
  pool, else the overflow pool's name (its id when the listing does not name it); None when
  the pool sets none.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

from espkit.errors import NotFound, ValidationError
from espkit.models import IpPool, Warmup, WarmupState
from espkit.providers import payload as pl
from espkit.warmup.published import schedule

if TYPE_CHECKING:
    from espkit.providers.sparkpost import SparkPostProvider

Json = dict[str, Any]

#: SparkPost's published auto warmup stages (stage n is sending day n)
SCHEDULE = schedule("sparkpost-auto")
#: the last stage an IP can be put on (sending-ips.apib: "between 1 and 29")
LAST_STAGE = SCHEDULE.days
#: the stage the published table calls DONE
DONE_STAGE = LAST_STAGE + 1
#: what ``auto_warmup_overflow_pool`` says for SparkPost's shared pool (ip-pools.apib)
SHARED_POOL = "shared pool"


class SparkPostWarmups:
    """The automatic IP warmup of one ``SparkPostProvider`` (one scope of the account)."""

    def __init__(self, provider: SparkPostProvider) -> None:
        self.p = provider

    # -- reading -----------------------------------------------------------------------------

    def _all(self) -> list[Warmup]:
        """Every IP's warmup, from the pool listing (read once per run)."""
        pools = self.p.pools.table()
        return pl.decoded(lambda _: _warmups(pools), [p.raw for p in pools],
                          lambda: self.p.source("GET", "/ip-pools"))

    def listing(self) -> Iterator[Warmup]:
        return iter(self._all())

    def status(self, ip: str) -> Warmup:
        for warmup in self._all():
            if warmup.ip == ip:
                return warmup
        raise NotFound(f"no sending IP {ip} in any IP pool of this account",
                       provider=self.p.name)

    # -- writing -----------------------------------------------------------------------------

    def start(self, ip: str, stage: int | None) -> Warmup:
        """Turn auto warmup on for ``ip``, at ``stage`` (1-29) if given. An IP already
        warming at that stage (or at any, without ``stage``) costs no write. SparkPost moves
        stages only backwards: a ``stage`` above the one it reports is refused here,
        before the write; when it reports none, SparkPost judges."""
        if stage is not None and not 1 <= stage <= LAST_STAGE:
            raise ValidationError("stage", stage, f"SparkPost's auto warmup stages run from "
                                                  f"1 to {LAST_STAGE}")
        current = self.status(ip)
        if current.warming and stage in (None, current.stage):
            return current
        reported = _stage(current.raw)
        if stage is not None and reported is not None and stage > reported:
            raise ValidationError("stage", stage, f"SparkPost moves an IP's auto warmup "
                                                  f"stage only back: {ip} is at stage "
                                                  f"{reported}; choose 1 to {reported}")
        payload: Json = {"auto_warmup_enabled": True}
        if stage is not None:
            payload["auto_warmup_stage"] = stage
        return self._put(ip, payload)

    def stop(self, ip: str) -> Warmup:
        """Turn auto warmup off for ``ip`` (it then sends its full volume); an IP not
        warming costs no write."""
        current = self.status(ip)
        if not current.warming:
            return current
        return self._put(ip, {"auto_warmup_enabled": False})

    def _put(self, ip: str, payload: Json) -> Warmup:
        try:
            self.p._call("PUT", f"/sending-ips/{self.p.seg(ip)}", pl.ignored, json=payload)
        finally:  # the run's pool listing holds the IPs' warmup fields: read it anew
            self.p.lookups.forget("pools")
        return self.status(ip)


# -- decoding ---------------------------------------------------------------------------------


def _stage(raw: Mapping[str, Any]) -> int | None:
    """``auto_warmup_stage``: 1 to 29 while warming, 30 once done; missing is unknown."""
    stage = pl.opt_whole(raw.get("auto_warmup_stage"), "auto_warmup_stage")
    if stage is not None and not 1 <= stage <= DONE_STAGE:
        raise pl.Malformed(f"auto_warmup_stage is {stage}, not a stage from 1 to {DONE_STAGE}")
    return stage


def _enabled(raw: Json) -> bool:
    """``auto_warmup_enabled``: missing or null is off (the blueprint's samples leave it out
    for IPs that never warmed); anything but a boolean is refused (espkit acts on it)."""
    value = raw.get("auto_warmup_enabled")
    if value is None:
        return False
    if not isinstance(value, bool):
        raise pl.Malformed(f"auto_warmup_enabled is {pl.kind(value)}, not a boolean")
    return value


def _overflow(pool: IpPool, names: dict[str, str]) -> str | None:
    """Where the pool's warming IPs send what is over their stage's volume (report-only: a
    value of the wrong type is dropped, not refused)."""
    value = pool.raw.get("auto_warmup_overflow_pool")
    if not isinstance(value, str) or not value or not value.isprintable():
        return None
    return "shared" if value == SHARED_POOL else names.get(value, value)


def _warmups(pools: list[IpPool]) -> list[Warmup]:
    names = {str(p.id): p.name for p in pools}
    out: list[Warmup] = []
    for pool in pools:
        overflow = _overflow(pool, names)
        for raw in pl.objects(pool.raw.get("ips"), "ips"):
            out.append(warmup(raw, overflow))
    return out


def warmup(raw: Json, overflow: str | None) -> Warmup:
    """One IP's ``Warmup`` from its entry in a pool's ``ips`` (or a sending IP object)."""
    address = pl.ip(raw.get("external_ip"), "ips[].external_ip")
    stage, enabled = _stage(raw), _enabled(raw)
    if stage == DONE_STAGE:
        return Warmup(address, WarmupState.WARM, "sparkpost", stages=LAST_STAGE, progress=1.0,
                      overflow=overflow, raw=raw)
    if not enabled:
        return Warmup(address, WarmupState.NOT_STARTED, "sparkpost", stages=LAST_STAGE,
                      overflow=overflow, raw=raw)
    return Warmup(
        address, WarmupState.WARMING, "sparkpost", stage=stage, stages=LAST_STAGE,
        progress=None if stage is None else stage / LAST_STAGE,
        # derived from SparkPost's published stage table: the API reports no volume
        daily_cap=None if stage is None else SCHEDULE.cap(stage),
        overflow=overflow, raw=raw,
    )


__all__ = ["DONE_STAGE", "LAST_STAGE", "SCHEDULE", "SparkPostWarmups", "warmup"]
