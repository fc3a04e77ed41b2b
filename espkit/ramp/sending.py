"""From a fleet to complete sending routes: each customer's domain of a stream, the
connection's provider, and the per-message options that make that ESP send from the pool.

The options, as each ESP's send API names them (checked against each ESP's send API
reference):

* Mailgun: ``o:sending-ip-pool`` takes the DIPP's *id*, which only the account knows;
  with ``pool_ids`` (from ``acct.pools.list()``) it is set, without it it is left out and
  the domain's DIPP link, which ``espkit apply`` makes, selects the pool.
* SendGrid: ``ip_pool_name``, the pool's name.
* SparkPost: ``options.ip_pool``, the pool's id, which SparkPost derives from its name:
  the id from ``pool_ids`` when given, else the name.
* Amazon SES: ``ConfigurationSetName``, the set espkit binds the pool through
  (``configuration_set_prefix`` + the pool name with dots as ``_``, as
  ``SesProvider.config_set_name``).
* Postmark: ``MessageStream``, the fleet stream's name (Postmark has no pools; name the
  fleet's streams after the server's message streams).
* The sandbox: the options of the provider it is ``like``, else ``ip_pool``.

A stream that sends from listed ``ips`` or from shared IPs gets no pool option.
"""

from __future__ import annotations

import weakref
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from espkit.errors import ValidationError
from espkit.ramp.model import Ramp, SendingRoute

if TYPE_CHECKING:
    from espkit.fleet.model import DesiredDomain, Fleet

#: pool ids per connection: {connection: {pool name: the ESP's pool id}}
PoolIds = Mapping[str, Mapping[str, str]]
#: SesProvider's default ``configuration_set_prefix``
SES_PREFIX = "espkit-"


def send_options(provider: str, connection_options: Mapping[str, Any], stream: str,
                 pool: str | None, pool_id: str | None = None) -> dict[str, str]:
    """The per-message options that send ``stream`` from ``pool`` on ``provider``."""
    if provider == "sandbox":
        like = connection_options.get("like")
        if isinstance(like, str) and like != "sandbox":
            return send_options(like, {}, stream, pool, pool_id)
        return {} if pool is None else {"ip_pool": pool}
    if provider == "postmark":
        return {"MessageStream": stream}
    if pool is None:
        return {}
    if provider == "mailgun":
        return {} if pool_id is None else {"o:sending-ip-pool": pool_id}
    if provider == "sendgrid":
        return {"ip_pool_name": pool}
    if provider == "sparkpost":
        return {"options.ip_pool": pool_id or pool}
    if provider == "ses":
        prefix = connection_options.get("configuration_set_prefix", SES_PREFIX)
        return {"ConfigurationSetName": f"{prefix}{pool.replace('.', '_')}"}
    return {}


class FleetIndex:
    """A fleet's domains by (customer, stream), built once per fleet (``index_of``)."""

    def __init__(self, fleet: Fleet) -> None:
        self.fleet = fleet
        self.domains: dict[tuple[str, str], DesiredDomain] = {}
        for customer in fleet.customers:
            for domain in customer.domains:
                self.domains.setdefault((customer.name, domain.stream), domain)
        self.customers = frozenset(c.name for c in fleet.customers)

    def domain(self, customer: str, stream: str) -> DesiredDomain:
        found = self.domains.get((customer, stream))
        if found is not None:
            return found
        if customer not in self.customers:
            raise ValidationError("customer", customer, "is not a customer of the fleet")
        if stream not in self.fleet.streams:
            raise ValidationError("stream", stream, "is not a stream of the fleet")
        raise ValidationError("stream", stream, f"has no domain for customer {customer!r}")

    def route(self, customer: str, stream: str, side: str, ramp: str | None,
              pool_ids: PoolIds | None = None) -> SendingRoute:
        """The route of ``customer``'s domain of ``stream`` (on whatever side it is)."""
        domain = self.domain(customer, stream)
        connection = self.fleet.connections.get(domain.connection)
        if connection is None:
            raise ValidationError("connection", domain.connection,
                                  "is not a connection of the fleet")
        pool_id = None
        if pool_ids is not None and domain.pool is not None:
            pool_id = pool_ids.get(domain.connection, {}).get(domain.pool)
        options = send_options(connection.provider, connection.options, stream, domain.pool,
                               pool_id)
        return SendingRoute(connection=domain.connection, provider=connection.provider,
                            from_domain=domain.name, stream=stream, pool=domain.pool,
                            options=options, side=side, ramp=ramp)


# the last fleet indexed: senders route over one fleet for hours, and building the index of
# 100,000 customers for every message would cost milliseconds
_LAST: list[tuple[weakref.ref[Any], FleetIndex]] = []


def index_of(fleet: Fleet) -> FleetIndex:
    """The fleet's index, reused while the same fleet object is alive."""
    if _LAST:
        ref, index = _LAST[0]
        if ref() is fleet:
            return index
    index = FleetIndex(fleet)
    try:
        _LAST[:] = [(weakref.ref(fleet), index)]
    except TypeError:  # an object without weak references: not cached
        _LAST.clear()
    return index


def ramps_of(fleet: Fleet, ramps: Sequence[Ramp] | None) -> tuple[Ramp, ...]:
    """The ramps given, else the fleet's (``Fleet.ramps`` once the loader reads them)."""
    if ramps is not None:
        return tuple(ramps)
    found = getattr(fleet, "ramps", ())
    return tuple(found) if found else ()


def covering(ramps: tuple[Ramp, ...], stream: str) -> Ramp | None:
    """The ramp that moves ``stream`` (an old-side stream), if any."""
    found = [r for r in ramps if r.new_stream(stream) is not None]
    if len(found) > 1:
        raise ValidationError("stream", stream, "is moved by more than one ramp: "
                              + ", ".join(r.name for r in found))
    return found[0] if found else None


__all__ = [
    "SES_PREFIX",
    "FleetIndex",
    "PoolIds",
    "covering",
    "index_of",
    "ramps_of",
    "send_options",
]
