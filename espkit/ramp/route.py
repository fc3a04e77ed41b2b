"""Which side of a ramp a message goes to, and the complete route there: pure, no network.

The decision, byte for byte (docs/ramp-vectors.json has vectors to test another
implementation against, and ``export`` writes it for a ramp):

1. The routing value: the recipient address (key ``recipient``), the text after its last
   ``@`` (key ``domain``; a bare domain is taken whole) or the customer's name (key
   ``customer``).
2. Normalised: Unicode NFC; ASCII whitespace (space, tab, CR, LF, FF, VT) stripped from
   both ends; ASCII ``A-Z`` lower-cased (nothing else: other scripts' case rules change
   between Unicode versions); for ``domain``, trailing dots dropped. Refused
   (``ValidationError``): empty after this, or only of the invisible characters in
   ``INVISIBLE`` (Unicode spaces, zero-width characters), over ``MAX_KEY`` characters, or
   not encodable as UTF-8 (a lone surrogate).
3. message = ``b"espkit-ramp/1" 0x00 ramp-name 0x00 stream 0x00 value``, all UTF-8, where
   ``stream`` is the old-side stream a sender names.
4. digest = HMAC-SHA-256(key = the salt's ASCII bytes, message).
5. bucket = the digest's first 8 bytes as a big-endian unsigned integer, modulo 1,000,000:
   0 to 999,999.
6. The new side when bucket < the day's share in parts per million (0 %: never; 100 %:
   always), else the old side.

A key's bucket never changes, so raising the share only moves keys from old to new, and
lowering it moves back exactly the keys with the highest buckets under the old share: the
ones that moved last.

``route`` answers one message; ``router`` precomputes a day's shares and routes for a sender
that routes millions (``Router.__call__``, over 300,000 decisions a second per core; see
benchmarks/ramp_route.py). A stream no ramp covers has its one route.
"""

from __future__ import annotations

import hashlib
import hmac
import string
import unicodedata
from collections.abc import Sequence
from datetime import date
from typing import TYPE_CHECKING, Any

from espkit.errors import ValidationError
from espkit.ramp.model import PPM, Position, Ramp, RampState, RoutingKey, Salt, SendingRoute
from espkit.ramp.sending import PoolIds, covering, index_of, ramps_of
from espkit.ramp.state import check_date, position

if TYPE_CHECKING:
    from espkit.fleet.model import Fleet

#: the longest routing value, in characters after normalising (an address is at most 254)
MAX_KEY = 1024
PREFIX = b"espkit-ramp/1\x00"
_WHITESPACE = " \t\n\r\f\v"
#: what an empty-looking key is made of: Unicode's White_Space characters and the zero-width
#: ones. Only refused, never stripped: stripping them would differ between languages
INVISIBLE = (_WHITESPACE + "\x85\xa0\u1680" + "".join(chr(c) for c in range(0x2000, 0x200E))
             + "\u2028\u2029\u202f\u205f\u2060\u3000\ufeff")
_LOWER = str.maketrans(string.ascii_uppercase, string.ascii_lowercase)


def normalise_key(value: object, kind: RoutingKey | str = RoutingKey.RECIPIENT) -> str:
    """The routing value of ``value`` under ``kind``, as hashed (see the module's steps)."""
    kind = RoutingKey(kind)
    if not isinstance(value, str):
        raise ValidationError("key", type(value).__name__, "must be text")
    text = value if value.isascii() else unicodedata.normalize("NFC", value)
    text = text.strip(_WHITESPACE).translate(_LOWER)
    if kind is RoutingKey.DOMAIN:
        text = text.rpartition("@")[2].strip(_WHITESPACE).rstrip(".")
    shown = value if len(value) <= 80 else value[:77] + "..."
    if not text or not text.strip(INVISIBLE):
        raise ValidationError("key", shown, f"is empty once normalised (or only spaces and "
                                            f"invisible characters): a {kind} key needs text")
    if len(text) > MAX_KEY:
        raise ValidationError("key", shown, f"is over {MAX_KEY} characters")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise ValidationError("key", shown, "is not valid Unicode (a lone surrogate)") from None
    return text


def _mac(salt: Salt, ramp: str, stream: str) -> Any:
    """The HMAC primed with everything before the key: copied for each message."""
    return hmac.new(salt.key, PREFIX + ramp.encode() + b"\x00" + stream.encode() + b"\x00",
                    hashlib.sha256)


def _bucket_of(mac: Any, text: str) -> int:
    h = mac.copy()
    h.update(text.encode("utf-8"))
    return int.from_bytes(h.digest()[:8], "big") % PPM


def bucket(salt: Salt | str, ramp: str, stream: str, key: str,
           kind: RoutingKey | str = RoutingKey.RECIPIENT) -> int:
    """The bucket (0 to 999,999) of ``key`` on ``stream`` of ramp ``ramp``: the new side
    while it is under the day's share in parts per million."""
    salt = salt if isinstance(salt, Salt) else Salt(salt)
    return _bucket_of(_mac(salt, ramp, stream), normalise_key(key, kind))


def _value(ramp: Ramp, customer: str, key: object) -> str:
    return normalise_key(customer if ramp.key is RoutingKey.CUSTOMER else key, ramp.key)


def route(fleet: Fleet, customer: str, stream: str, key: str, on: date,
          state: RampState | None = None, *, ramps: Sequence[Ramp] | None = None,
          pool_ids: PoolIds | None = None) -> SendingRoute:
    """The route of one message of ``customer`` on ``stream`` (the old-side stream's name
    under a ramp) to recipient ``key`` on day ``on``, with the decisions in ``state``.

    ``ramps``: the ramps to apply (default: the fleet's ``ramps``). ``pool_ids``: the ESPs'
    pool ids per connection, for the options that need an id (Mailgun, SparkPost)."""
    for field, value in (("customer", customer), ("stream", stream)):
        if not isinstance(value, str):
            raise ValidationError(field, type(value).__name__, "must be text")
    index = index_of(fleet)
    ramp = covering(ramps_of(fleet, ramps), stream)
    if ramp is None:
        return index.route(customer, stream, "only", None, pool_ids)
    share = position(ramp, state, on).share
    new_stream = ramp.new_stream(stream)
    assert new_stream is not None  # covering() found it
    value = _value(ramp, customer, key)
    if _bucket_of(_mac(ramp.salt, ramp.name, stream), value) < share:
        return index.route(customer, new_stream, "new", ramp.name, pool_ids)
    return index.route(customer, stream, "old", ramp.name, pool_ids)


# an entry: (fixed route or None, old route, new route, primed HMAC, share, key kind)
_Entry = tuple[SendingRoute | None, SendingRoute | None, SendingRoute | None, Any, int,
               RoutingKey]


class Router:
    """``route`` for one day with everything precomputed: the shares (one replay per ramp)
    and, on first use, each (customer, stream)'s routes. Call it as
    ``router(customer, stream, key)``. Build one a day, and again after a decision."""

    def __init__(self, fleet: Fleet, on: date, state: RampState | None,
                 ramps: Sequence[Ramp] | None, pool_ids: PoolIds | None) -> None:
        self.on = check_date(on)
        self._index = index_of(fleet)
        self._pool_ids = pool_ids
        self._ramps = ramps_of(fleet, ramps)
        #: each ramp's position on ``on``
        self.positions: dict[str, Position] = {
            r.name: position(r, state, self.on) for r in self._ramps}
        self._entries: dict[tuple[str, str], _Entry] = {}

    def _entry(self, customer: str, stream: str) -> _Entry:
        if not isinstance(customer, str) or not isinstance(stream, str):
            raise ValidationError("customer" if not isinstance(customer, str) else "stream",
                                  type(customer if not isinstance(customer, str) else stream
                                       ).__name__, "must be text")
        ramp = covering(self._ramps, stream)
        if ramp is None:
            only = self._index.route(customer, stream, "only", None, self._pool_ids)
            entry: _Entry = (only, None, None, None, 0, RoutingKey.RECIPIENT)
        else:
            new_stream = ramp.new_stream(stream)
            assert new_stream is not None
            old = self._index.route(customer, stream, "old", ramp.name, self._pool_ids)
            new = self._index.route(customer, new_stream, "new", ramp.name, self._pool_ids)
            mac = _mac(ramp.salt, ramp.name, stream)
            share = self.positions[ramp.name].share
            if ramp.key is RoutingKey.CUSTOMER:  # one answer per customer: decided now
                fixed = new if _bucket_of(mac, normalise_key(customer)) < share else old
                entry = (fixed, old, new, mac, share, ramp.key)
            else:
                entry = (None, old, new, mac, share, ramp.key)
        self._entries[(customer, stream)] = entry
        return entry

    def __call__(self, customer: str, stream: str, key: str) -> SendingRoute:
        try:
            entry = self._entries.get((customer, stream))
        except TypeError:  # an unhashable customer or stream: _entry says which
            entry = None
        if entry is None:
            entry = self._entry(customer, stream)
        fixed, old, new, mac, share, kind = entry
        if fixed is not None:
            return fixed
        # the common case inline: an ASCII address needs no NFC and str.lower is ASCII's
        if kind is RoutingKey.RECIPIENT and type(key) is str and key.isascii():
            text = key.strip(_WHITESPACE).lower()
            if not text or len(text) > MAX_KEY:
                text = normalise_key(key, kind)  # raises, saying why
        else:
            text = normalise_key(key, kind)
        h = mac.copy()
        h.update(text.encode("utf-8"))
        if int.from_bytes(h.digest()[:8], "big") % PPM < share:
            assert new is not None
            return new
        assert old is not None
        return old


def router(fleet: Fleet, on: date, state: RampState | None = None, *,
           ramps: Sequence[Ramp] | None = None, pool_ids: PoolIds | None = None) -> Router:
    """A ``Router`` for day ``on``: ``route`` with the day's shares fixed, for the send path."""
    return Router(fleet, on, state, ramps, pool_ids)


__all__ = [
    "INVISIBLE",
    "MAX_KEY",
    "PREFIX",
    "Router",
    "bucket",
    "normalise_key",
    "route",
    "router",
]
