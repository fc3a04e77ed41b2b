"""Which account a journal belongs to: provider, API host, subaccount scope, key fingerprint.

A journal says which items are finished; read against another account it would skip items
that were never done there (the run reports "skipped" and sends nothing). So a journal
records the account it was started on, and opening it for another one is refused.

The key is recorded as ``credentials.Secret.fingerprint``: a truncated SHA-256 of the key,
the digest espkit already shows in place of a key (``repr`` of a ``Secret``, limiter
keys). It is stable across processes (not Python's salted ``hash``) and does not give the
key back: ESP keys carry over 100 bits of randomness, far beyond guessing from 48 bits of
digest. Never the key itself: a journal is a file people copy and attach to tickets.

The sandbox answers every account at one made-up URL, so its "host" is its state file.
SES signs with the AWS credential chain, which espkit does not read: its key is recorded as
unknown, and its regional endpoint still tells accounts in different regions apart.
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import attrs

from espkit.transport import Transport

if TYPE_CHECKING:
    from espkit.account import Account

#: what a journal says where the account has no subaccount scope
MAIN_ACCOUNT = ""
#: the key fingerprint recorded when the provider holds no espkit ``Secret`` (SES signs with
#: the AWS credential chain, which espkit does not read); the host still tells regions apart
UNKNOWN_KEY = "unknown"
#: the meta keys of a journal that hold the identity, by field
META_KEYS = {"provider": "provider", "host": "host", "scope": "scope",
             "key": "key_fingerprint"}
#: how the components are named in messages
_LABELS = {"provider": "provider", "host": "API host", "scope": "subaccount scope",
           "key": "API key"}
#: the longest value from a journal quoted in a message: its text is not ours
_SHOWN = 120


@attrs.frozen
class AccountIdentity:
    """The account a run acts on, as recorded in its journal. ``host`` is the API base URL
    without credentials or query; ``scope`` the subaccount id, ``MAIN_ACCOUNT`` for none;
    ``key`` the key's fingerprint."""

    provider: str
    host: str
    scope: str
    key: str

    def to_meta(self) -> dict[str, str]:
        return {META_KEYS[f]: getattr(self, f) for f in META_KEYS}

    @classmethod
    def from_meta(cls, meta: Mapping[str, str]) -> AccountIdentity | None:
        """The identity a journal recorded, or None for one written before journals recorded
        it (they held at most the provider and subaccount)."""
        if not all(k in meta for k in META_KEYS.values()):
            return None
        return cls(**{f: meta[k] for f, k in META_KEYS.items()})

    def differences(self, other: AccountIdentity) -> list[str]:
        """What differs from ``other``, named for people ("API host", "API key")."""
        return [_LABELS[f] for f in META_KEYS if getattr(self, f) != getattr(other, f)]

    def describe(self) -> str:
        scope = f"subaccount {shown(self.scope)}" if self.scope else "main account"
        key = "key not known to espkit" if self.key == UNKNOWN_KEY else (
            f"key fingerprint {shown(self.key)}")
        return f"{shown(self.provider)} at {shown(self.host)}, scope {scope}, {key}"


def shown(value: str) -> str:
    """A value read from a journal, fit for a message: printable as it is, else quoted with
    its control characters escaped, and bounded (a tampered journal must not be able to
    write to the terminal)."""
    text = value if value.isprintable() else repr(value)
    return text if len(text) <= _SHOWN else text[:_SHOWN] + "..."


def identity_of(account: Account) -> AccountIdentity:
    """The identity of ``account``: computed from the account alone, sending nothing."""
    provider = account.provider
    return AccountIdentity(
        provider=account.name,
        host=_host(provider),
        scope=account.subaccount or MAIN_ACCOUNT,
        key=_key_fingerprint(provider),
    )


def _host(provider: Any) -> str:
    endpoint = provider.endpoint
    if not isinstance(endpoint, str):
        return "unknown"
    return api_host(endpoint) if "://" in endpoint else endpoint


def api_host(url: str) -> str:
    """``url`` without user, password, query or fragment, host lowercased, no trailing
    slash: the same endpoint gives the same text however it was typed."""
    try:
        parts = urllib.parse.urlsplit(url.strip())
        host = parts.hostname or ""
        port = parts.port
    except ValueError:  # a port that is not a number: keep the text, minus credentials
        scheme, sep, rest = url.strip().partition("://")
        netloc, slash, path = rest.split("?")[0].split("#")[0].partition("/")
        host = netloc.rpartition("@")[2].lower()
        return f"{scheme.lower()}{sep}{host}{slash}{path}".rstrip("/")
    if ":" in host:
        host = f"[{host}]"
    netloc = f"{host}:{port}" if port else host
    return urllib.parse.urlunsplit((parts.scheme.lower(), netloc, parts.path.rstrip("/"),
                                    "", ""))


def _key_fingerprint(provider: Any) -> str:
    # an HTTP provider's transport names its key's fingerprint; SES keeps AWS credentials
    # in boto3, which espkit never sees
    transport = getattr(provider, "transport", None)
    fingerprint = transport.key_fingerprint if isinstance(transport, Transport) else None
    return fingerprint or UNKNOWN_KEY


__all__ = ["MAIN_ACCOUNT", "UNKNOWN_KEY", "AccountIdentity", "api_host", "identity_of",
           "shown"]
