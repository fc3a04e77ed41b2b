"""The Redis client a shared limiter or retry budget talks through: one per URL per process.

A limiter URL names a single server (``redis://``, ``rediss://`` with TLS) or a Redis Cluster
(``redis+cluster://host:port``, ``rediss+cluster://``: any one node; the client finds the
others and follows the cluster's slot map). Managed Redis offerings and Valkey are usually
clusters, where a script may only touch keys of one slot: every key a limiter's scripts
touch carries the account's hash tag (``espkit:limiter:{<sha256>}:...``), so they do.

The ``redis`` client is an optional dependency (``espkit[redis]``): it is imported here, when
a limiter or budget is made, never with espkit.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

from espkit.errors import ConfigError, LimiterUnavailable
from espkit.transport.redaction import display_url, scrub

if TYPE_CHECKING:
    import redis
    import redis.cluster

#: URL schemes of a Redis limiter, and the ones that name a cluster
REDIS_SCHEMES = ("redis", "rediss", "redis+cluster", "rediss+cluster")
CLUSTER_SUFFIX = "+cluster"
#: seconds to connect to Redis and to wait for a reply: a limiter that cannot answer fast
#: should fail the call rather than hold it
CONNECT_TIMEOUT = 2.0
READ_TIMEOUT = 2.0

_clients: dict[str, Any] = {}
_clients_lock = threading.Lock()


def check_url(url: str) -> None:
    """Refuse, before anything connects, a URL the client could not read: ``ConfigError``
    naming it without its password. Raises ``ModuleNotFoundError`` without the client."""
    import redis.connection

    try:
        redis.connection.parse_url(_plain(url))  # type: ignore[no-untyped-call]
    except ValueError as exc:
        raise ConfigError(f"limiter_url {display_url(url)!r} is not a usable Redis URL: "
                          f"{scrub(str(exc), url)}") from None


def client(url: str) -> redis.Redis | redis.cluster.RedisCluster:
    """One client (one connection pool) per URL in the process, whatever the keys. A
    cluster client asks a node for the slot map as it is made, so this is called at the
    first use, and a failure then is a ``LimiterUnavailable`` like any other."""
    import redis
    import redis.cluster

    with _clients_lock:
        made = _clients.get(url)
        if made is None:
            options: dict[str, Any] = {"socket_connect_timeout": CONNECT_TIMEOUT,
                                       "socket_timeout": READ_TIMEOUT}
            try:
                if is_cluster(url):
                    made = redis.cluster.RedisCluster.from_url(_plain(url), **options)
                else:
                    made = redis.Redis.from_url(url, **options)
            except client_errors() as exc:
                raise unavailable(url, exc) from None
            _clients[url] = made
        return made


def is_cluster(url: str) -> bool:
    return url.partition("://")[0].lower().endswith(CLUSTER_SUFFIX)


def _plain(url: str) -> str:
    """The URL the client reads: a cluster's without ``+cluster`` in its scheme."""
    scheme, sep, rest = url.partition("://")
    if scheme.lower().endswith(CLUSTER_SUFFIX):
        return scheme[: -len(CLUSTER_SUFFIX)] + sep + rest
    return url


def client_errors() -> tuple[type[Exception], ...]:
    """What the client raises when Redis cannot be reached or answer."""
    import redis.exceptions

    return (redis.exceptions.RedisError, redis.exceptions.RedisClusterException)


def unavailable(url: str, exc: Exception) -> LimiterUnavailable:
    """The error for a failed call to the Redis at ``url``: it names the URL without its
    password and quotes the driver's message scrubbed of it."""
    message = scrub(f"{type(exc).__name__}: {exc}", url)
    return LimiterUnavailable(
        f"shared rate limiter: Redis at {display_url(url)} failed ({message}); "
        "check limiter_url / $ESPKIT_LIMITER_URL"
    )


__all__ = [
    "CONNECT_TIMEOUT",
    "READ_TIMEOUT",
    "REDIS_SCHEMES",
    "check_url",
    "client",
    "client_errors",
    "is_cluster",
    "unavailable",
]
