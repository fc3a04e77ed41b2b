"""The capability matrix: what each provider supports natively, and what to do instead.

One source for ``espkit capabilities`` and the docs page (``docs/capabilities.md`` is filled
in at build time by ``docs/hooks.py``), so the published matrix cannot drift from the code.
"""

from __future__ import annotations

import attrs

from espkit import providers
from espkit.errors import ConfigError
from espkit.models import Capability

DESCRIPTIONS = {
    Capability.DOMAINS: "create, read, list and delete sending domains",
    Capability.DOMAIN_VERIFY: "ask the ESP to check DNS now",
    Capability.DOMAIN_DNS_RECORDS: "the DNS records each domain needs",
    Capability.DEDICATED_IPS: "list the account's dedicated IPs",
    Capability.IP_POOLS: "create and edit IP pools",
    Capability.ASSIGN_DOMAIN_IP: "make a domain send from one dedicated IP",
    Capability.ASSIGN_DOMAIN_POOL: "make a domain send from an IP pool",
    Capability.ASSIGN_SUBACCOUNT_POOL: "make a subaccount send from an IP pool",
    Capability.SUBACCOUNTS: "create and list subaccounts",
    Capability.SUBACCOUNT_SCOPE: "act on behalf of a subaccount",
    Capability.SUBACCOUNT_DISABLE: "enable and disable subaccounts",
    Capability.STREAMS: "message streams as objects",
    Capability.IP_WARMUP: "start, read and stop the ESP's warmup of a dedicated IP",
    Capability.DELIVERY_STATS: "delivery figures per day by domain, subaccount, IP or pool",
}


@attrs.frozen
class ProviderCapabilities:
    name: str
    supports: frozenset[Capability]
    hints: dict[Capability, str]
    #: why the provider could not be loaded (a missing extra), else None
    unavailable: str | None = None


def matrix() -> list[ProviderCapabilities]:
    rows = []
    for name in providers.names():
        try:
            cls = providers.get(name)
        except ConfigError as exc:
            rows.append(ProviderCapabilities(name, frozenset(), {}, str(exc)))
            continue
        rows.append(ProviderCapabilities(name, cls.SUPPORTS, dict(cls.HINTS)))
    return rows


def of(provider: str, *, like: str | None = None) -> ProviderCapabilities:
    """One provider's row: ``of("sendgrid")``; ``of("sandbox", like="sendgrid")`` is the
    sandbox as ``connect("sandbox", like="sendgrid")`` opens it (SendGrid's capabilities and
    hints). ``ConfigError`` for an unknown name, or ``like`` on anything but the sandbox."""
    cls = providers.get(provider)
    label = cls.name
    if like is not None:
        narrowed = getattr(cls, "narrowed", None)
        if narrowed is None:
            raise ConfigError(f"like= applies to the sandbox, not to {provider!r}")
        cls = narrowed(like)
        label = f"{cls.name} (like {cls.LIKE})"
    return ProviderCapabilities(label, cls.SUPPORTS, dict(cls.HINTS))


def markdown() -> str:
    """The matrix as a Markdown table, followed by each provider's hints."""
    rows = matrix()
    lines = [
        "| capability | " + " | ".join(r.name for r in rows) + " |",
        "|---|" + "---|" * len(rows),
    ]
    for cap in Capability:
        cells = ["?" if r.unavailable else ("yes" if cap in r.supports else "—") for r in rows]
        lines.append(f"| `{cap}` — {DESCRIPTIONS[cap]} | " + " | ".join(cells) + " |")
    for r in rows:
        notes = [f"- `{cap}`: {hint}" for cap, hint in r.hints.items() if hint]
        if r.unavailable:
            notes = [f"- not available here: {r.unavailable}"]
        if notes:
            lines += ["", f"**{r.name}**", "", *notes]
    return "\n".join(lines) + "\n"


__all__ = ["DESCRIPTIONS", "ProviderCapabilities", "markdown", "matrix", "of"]
