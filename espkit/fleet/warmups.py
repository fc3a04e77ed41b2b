"""The ``warmup:`` of a fleet's pools and streams against the ESP's warmups: which IPs'
ESP warmup ``apply`` starts or stops.

``auto`` wants the ESP's own warmup on an IP that has not begun one; ``off`` and a
``schedule`` (the platform paces its own sending) want no ESP warmup running. An IP whose
ESP warmup has finished (``warm``) or that the ESP warms by itself (``not_applicable``, an
SES managed pool) is left alone either way. Some ESPs (Mailgun, SendGrid) list only the IPs
warming now, so an IP that finished its warmup there reads as not started: take ``warmup:
auto`` off a pool once its IPs are warm, or ``plan`` shows them to start again.
"""

from __future__ import annotations

from espkit.account import Account
from espkit.fleet.model import Fleet
from espkit.models import Capability, Warmup, WarmupState


def read(fleet: Fleet, connection: str, acct: Account) -> dict[str, Warmup] | None:
    """Every IP's warmup in one listing, when the fleet declares a warmup on this
    connection and the ESP has warmups (None otherwise: nothing to compare)."""
    if not fleet.warmups(connection) or Capability.IP_WARMUP not in acct.capabilities:
        return None
    return {w.ip: w for w in acct.ips.warmups()}


def wanted(fleet: Fleet, connection: str, acct: Account,
           live: dict[str, Warmup] | None) -> list[tuple[str, bool, str]]:
    """(IP, start (True) or stop (False), why) for each IP whose ESP warmup differs from
    the file. ``auto`` on an ESP without warmups is refused with the ESP's hint."""
    declared = fleet.warmups(connection)
    if any(spec.esp_warmup for spec, _ in declared.values()) and live is None:
        raise acct.provider.unsupported(Capability.IP_WARMUP)
    out: list[tuple[str, bool, str]] = []
    for ip, (spec, where) in sorted(declared.items()):
        state = live[ip].state if live is not None and ip in live else WarmupState.NOT_STARTED
        if spec.esp_warmup and state is WarmupState.NOT_STARTED:
            out.append((ip, True, f"{where}: {spec.describe()}; the ESP's warmup has not "
                                  "started"))
        elif not spec.esp_warmup and state is WarmupState.WARMING:
            out.append((ip, False, f"{where}: {spec.describe()}; the ESP's own warmup runs"))
    return out


__all__ = ["read", "wanted"]
