"""Provider registry: ``connect("name")`` finds the class here.

Built-in providers are imported lazily so ``import espkit`` stays cheap and optional
dependencies (boto3 for SES) are only needed when used. Third-party providers register via
the ``espkit.providers`` entry-point group or ``register()``.
"""

from __future__ import annotations

import contextlib
import importlib
from collections.abc import Iterator
from importlib.metadata import entry_points

from espkit.errors import ConfigError
from espkit.providers.base import HttpProvider, Provider

_BUILTIN = {
    "sandbox": "espkit.providers.sandbox:SandboxProvider",
    "mailgun": "espkit.providers.mailgun:MailgunProvider",
    "sendgrid": "espkit.providers.sendgrid:SendGridProvider",
    "sparkpost": "espkit.providers.sparkpost:SparkPostProvider",
    "postmark": "espkit.providers.postmark:PostmarkProvider",
    "ses": "espkit.providers.ses:SesProvider",
}
_registered: dict[str, type[Provider]] = {}


def register(cls: type[Provider]) -> type[Provider]:
    """Register a provider class under ``cls.name`` (usable as a decorator)."""
    if not cls.name:
        raise ConfigError(f"{cls.__qualname__} has no name")
    _registered[cls.name.lower().strip()] = cls  # the key get() looks up
    return cls


def names() -> list[str]:
    plugins = {ep.name for ep in entry_points(group="espkit.providers")}
    return sorted(set(_BUILTIN) | set(_registered) | plugins)


def get(name: str) -> type[Provider]:
    key = name.lower().strip()
    if key in _registered:
        return _registered[key]
    target = _BUILTIN.get(key)
    if target is None:
        for ep in entry_points(group="espkit.providers"):
            if ep.name == key:
                target = ep.value
                break
    if target is None:
        raise ConfigError(f"unknown provider {name!r}; available: {', '.join(names())}")
    module, _, attr = target.partition(":")
    try:
        cls: type[Provider] = getattr(importlib.import_module(module), attr)
    except ImportError as exc:
        # an optional dependency (boto3 for SES) is missing: say which extra brings it
        raise ConfigError(
            f"provider {key!r} is not available ({exc}); try: pip install -e '.[{key}]'"
        ) from exc
    _registered[key] = cls
    return cls


@contextlib.contextmanager
def registry_snapshot() -> Iterator[None]:
    """Undo every ``register()`` made inside the block (tests, and tools that try a provider
    class without leaving it behind)."""
    saved = dict(_registered)
    try:
        yield
    finally:
        _registered.clear()
        _registered.update(saved)


__all__ = ["HttpProvider", "Provider", "get", "names", "register", "registry_snapshot"]
