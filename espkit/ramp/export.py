"""A ramp's routing definition as canonical JSON with a SHA-256 checksum, for a sender
written in another language: everything ``route``'s side decision needs (the salt, the key,
the streams, the share from each date on) and the algorithm spelled out, so that it can be
implemented and checked against docs/ramp-vectors.json.

Canonical JSON: keys sorted, no spaces (``,`` and ``:``), ASCII only (``\\uXXXX``
escapes). The checksum is ``"sha256:"`` + the hex SHA-256 of the canonical JSON of every
field but ``checksum``; ``load_export`` recomputes it. It detects a file edited or damaged
after export; it is not a signature (anyone who can edit the file can recompute it).

The export holds the salt: it is the one place espkit writes it in full (a sender cannot
route without it). Keep it where the fleet file is kept.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from datetime import date
from typing import Any

import attrs

from espkit.errors import ValidationError
from espkit.ramp.model import NAME, PPM, Ramp, RampState, RoutingKey, Salt
from espkit.ramp.route import MAX_KEY, bucket
from espkit.ramp.state import check, position

FORMAT = "espkit-ramp-routing/1"
#: the largest export read back
MAX_EXPORT_CHARS = 1024 * 1024
#: the algorithm in words: part of what the checksum covers, compared on load
ALGORITHM: Mapping[str, str] = {
    "value": "key recipient: the recipient address; key domain: the text after its last '@' "
             "(a bare domain whole); key customer: the customer's name",
    "normalise": "Unicode NFC; strip ASCII whitespace (space, tab, CR, LF, FF, VT) at both "
                 "ends; lower-case ASCII A-Z only; key domain: take the text after the last "
                 "'@', strip ASCII whitespace again, drop trailing dots. Refuse an empty "
                 "value, one made only of U+0009-U+000D, U+0020, U+0085, U+00A0, U+1680, "
                 "U+2000-U+200D, U+2028, U+2029, U+202F, U+205F, U+2060, U+3000, U+FEFF, "
                 f"or one over {MAX_KEY} characters",
    "message": "UTF-8 bytes of: 'espkit-ramp/1' 0x00 ramp 0x00 stream 0x00 value, where "
               "stream is the old-side stream",
    "digest": "HMAC-SHA-256 keyed with the ASCII bytes of salt",
    "bucket": "first 8 bytes of the digest as a big-endian unsigned integer, modulo 1000000",
    "side": "new when bucket < share_ppm of the day (the last entry of shares whose from is "
            "on or before the day; 0 before the first), else old",
}


def _canonical(value: object) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True,
                      allow_nan=False)


def _checksum(body: Mapping[str, Any]) -> str:
    return "sha256:" + hashlib.sha256(_canonical(body).encode("ascii")).hexdigest()


def timeline(ramp: Ramp, state: RampState | None) -> tuple[tuple[date, int], ...]:
    """The share from each date on: the start, then each decision that changed it."""
    if state is not None:
        check(ramp, state)
    dates = sorted({ramp.start, *(d.on for d in (state.of(ramp.name) if state else ()))})
    out: list[tuple[date, int]] = []
    for day in dates:
        share = position(ramp, state, day).share
        if not out or out[-1][1] != share:
            out.append((day, share))
    return tuple(out)


def export(ramp: Ramp, state: RampState | None = None) -> str:
    """The routing definition of ``ramp`` with the decisions in ``state``: one line of
    canonical JSON (and a newline) with its checksum."""
    body: dict[str, Any] = {
        "format": FORMAT,
        "ramp": ramp.name,
        "from": ramp.from_connection,
        "to": ramp.to_connection,
        "key": ramp.key.value,
        "streams": dict(ramp.streams),
        "salt": ramp.salt.reveal(),
        "shares": [{"from": day.isoformat(), "share_ppm": share}
                   for day, share in timeline(ramp, state)],
        "algorithm": dict(ALGORITHM),
    }
    return _canonical({**body, "checksum": _checksum(body)}) + "\n"


@attrs.frozen
class RoutingDefinition:
    """An export read back and checked: decides sides exactly as ``route`` does."""

    ramp: str
    from_connection: str
    to_connection: str
    key: RoutingKey
    streams: tuple[tuple[str, str], ...]
    salt: Salt
    shares: tuple[tuple[date, int], ...]
    checksum: str

    def share_on(self, on: date) -> int:
        share = 0
        for day, value in self.shares:
            if day <= on:
                share = value
        return share

    def new_side(self, stream: str, key: str, on: date, customer: str | None = None) -> bool:
        """Whether ``key`` (or ``customer``, for a customer key) goes to the new side."""
        if stream not in dict(self.streams):
            raise ValidationError("stream", stream, f"is not moved by ramp {self.ramp}")
        value = customer if self.key is RoutingKey.CUSTOMER else key
        if value is None:
            raise ValidationError("customer", None, "is needed: the ramp routes by customer")
        return bucket(self.salt, self.ramp, stream, value, self.key) < self.share_on(on)


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise ValidationError("export", key, "is given twice")
        out[key] = value
    return out


def _refuse_constant(name: str) -> None:
    raise ValidationError("export", name, "is not a JSON number espkit writes")


def _name(value: object, field: str) -> str:
    if not isinstance(value, str) or not NAME.fullmatch(value):
        raise ValidationError(field, value, "must be a name (letters, digits, '.', '_', '-')")
    return value


def load_export(text: str) -> RoutingDefinition:
    """The definition in ``text``, its checksum verified (``ValidationError`` when it does
    not match, or when a field is missing or not what ``export`` writes)."""
    if not isinstance(text, str) or len(text) > MAX_EXPORT_CHARS:
        raise ValidationError("export", "<text>", f"must be text of at most "
                                                  f"{MAX_EXPORT_CHARS:,} characters")
    try:
        data = json.loads(text, object_pairs_hook=_no_duplicates,
                          parse_constant=_refuse_constant)
    except (json.JSONDecodeError, RecursionError) as exc:
        raise ValidationError("export", "<text>", f"is not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise ValidationError("export", type(data).__name__, "must be a JSON object")
    given = data.pop("checksum", None)
    if not isinstance(given, str):
        raise ValidationError("checksum", given, "is missing")
    expected = _checksum(data)
    if given != expected:
        raise ValidationError("checksum", given, "does not match the definition: it was "
                                                 "changed after export")
    if data.get("format") != FORMAT:
        raise ValidationError("format", data.get("format"), f"must be {FORMAT}")
    if data.get("algorithm") != dict(ALGORITHM):
        raise ValidationError("algorithm", "<text>", "is not the one this espkit implements")
    streams = data.get("streams")
    if not isinstance(streams, dict) or not streams:
        raise ValidationError("streams", streams, "must map old streams to new ones")
    shares: list[tuple[date, int]] = []
    raw = data.get("shares")
    for item in raw if isinstance(raw, list) else [raw]:
        if not isinstance(item, dict) or set(item) != {"from", "share_ppm"}:
            raise ValidationError("shares", item, "each must be {from, share_ppm}")
        try:
            day = date.fromisoformat(item["from"])
        except (TypeError, ValueError):
            raise ValidationError("shares", item["from"], "from must be YYYY-MM-DD") from None
        share = item["share_ppm"]
        if isinstance(share, bool) or not isinstance(share, int) or not 0 <= share <= PPM:
            raise ValidationError("shares", share, f"share_ppm must be 0 to {PPM}")
        if shares and day <= shares[-1][0]:
            raise ValidationError("shares", item["from"], "dates must increase")
        shares.append((day, share))
    try:
        key = RoutingKey(data.get("key"))
    except ValueError:
        raise ValidationError("key", data.get("key"), "must be recipient, customer or "
                                                      "domain") from None
    return RoutingDefinition(
        ramp=_name(data.get("ramp"), "ramp"),
        from_connection=_name(data.get("from"), "from"),
        to_connection=_name(data.get("to"), "to"),
        key=key,
        streams=tuple((_name(old, "streams"), _name(new, "streams"))
                      for old, new in streams.items()),
        salt=Salt(data.get("salt")),
        shares=tuple(shares),
        checksum=given,
    )


__all__ = [
    "ALGORITHM",
    "FORMAT",
    "RoutingDefinition",
    "export",
    "load_export",
    "timeline",
]
