"""API keys: held redacted, found in argument -> environment -> keyring.

Keys live in ``Secret``, whose ``repr``/``str`` never show the value; only ``reveal()`` does,
and only the auth classes below call it, at the moment a request is signed.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence

import requests

from espkit.errors import MissingCredentials, ValidationError

KEYRING_SERVICE = "espkit"


class Secret:
    """A string that does not print itself."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        if not isinstance(value, str) or not value.strip():
            raise ValidationError("api_key", "<redacted>", "must be a non-empty string")
        # keys pasted or read from files often end in a newline: strip before checking
        value = value.strip()
        _check_header_safe(value)
        self._value = value

    def reveal(self) -> str:
        return self._value

    @property
    def fingerprint(self) -> str:
        """A short stable digest: identifies an account in limiter keys and logs."""
        return hashlib.sha256(self._value.encode()).hexdigest()[:12]

    def __repr__(self) -> str:
        return f"Secret(fingerprint={self.fingerprint!r})"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)

    def __reduce__(self) -> tuple[object, ...]:
        raise TypeError("Secret cannot be pickled")


def _check_header_safe(value: str) -> None:
    """A key goes into an HTTP header: printable ASCII only, checked here so that nothing
    later (requests' Latin-1 Basic auth, http.client) raises a ``UnicodeEncodeError`` or
    ``InvalidHeader`` whose text holds the key, and CR/LF cannot add a header. The error
    says where and what kind of character, never the key. (``validate.header_value`` is the
    same rule for values that are not secret; this layer cannot import it.)"""
    for position, c in enumerate(value):
        if not " " <= c <= "~":
            kind = "a control character" if c.isascii() else "a non-ASCII character"
            raise ValidationError(
                "api_key", "<redacted>",
                f"contains {kind} at position {position}: keys are printable "
                "ASCII (was the key copied whole, without smart quotes or line breaks?)",
            )


def env_names(provider: str, extra: Sequence[str] = ()) -> tuple[str, ...]:
    return (f"ESPKIT_{provider.upper()}_API_KEY", *extra)


def keyring_username(provider: str, profile: str | None = None) -> str:
    return f"{provider}:{profile}" if profile else provider


def resolve(
    provider: str,
    explicit: str | Secret | None = None,
    *,
    env: Sequence[str] = (),
    profile: str | None = None,
) -> Secret:
    """Find the key for ``provider``. ``env`` are the provider's conventional variable names
    (e.g. ``MAILGUN_API_KEY``), looked at after ``ESPKIT_<PROVIDER>_API_KEY``."""
    if isinstance(explicit, Secret):
        return explicit
    if explicit is not None:
        return Secret(explicit)
    looked: list[str] = ["api_key argument"]
    for name in env_names(provider, env):
        looked.append(f"${name}")
        value = os.environ.get(name)
        if value:
            return _read(value, f"${name}")
    user = keyring_username(provider, profile)
    try:
        import keyring

        stored = keyring.get_password(KEYRING_SERVICE, user)
        looked.append(f"keyring service {KEYRING_SERVICE!r} user {user!r}")
    except Exception as exc:
        looked.append(f"keyring (unavailable: {type(exc).__name__})")
        stored = None
    if stored:
        return _read(stored, f"keyring service {KEYRING_SERVICE!r} user {user!r}")
    raise MissingCredentials(provider, looked)


def _read(value: str, where: str) -> Secret:
    """``Secret(value)``, its error saying where the bad key was found."""
    try:
        return Secret(value)
    except ValidationError as exc:
        reason = exc.reason
    # raised outside the handler, so that no exception context rides along
    raise ValidationError("api_key", "<redacted>", f"{reason} (read from {where})")


def store(provider: str, key: str, profile: str | None = None) -> None:
    """Save a key in the system keyring (what ``espkit login`` does)."""
    import keyring

    keyring.set_password(KEYRING_SERVICE, keyring_username(provider, profile), Secret(key).reveal())


class BasicAuth(requests.auth.AuthBase):
    """HTTP Basic with a fixed user name and the secret as password (Mailgun: ``api:<key>``)."""

    def __init__(self, username: str, secret: Secret) -> None:
        self._username = username
        self._secret = secret

    def __call__(self, r: requests.PreparedRequest) -> requests.PreparedRequest:
        signed: requests.PreparedRequest = requests.auth.HTTPBasicAuth(
            self._username, self._secret.reveal()
        )(r)
        return signed

    def __repr__(self) -> str:
        return f"BasicAuth({self._username!r}, {self._secret!r})"

    @property
    def fingerprint(self) -> str:
        """The key's fingerprint (never the key): which account a journal belongs to."""
        return self._secret.fingerprint


class HeaderAuth(requests.auth.AuthBase):
    """The secret in one header, with an optional scheme (``Bearer``) in front."""

    def __init__(self, header: str, secret: Secret, scheme: str = "") -> None:
        self._header = header
        self._scheme = scheme
        self._secret = secret

    def __call__(self, r: requests.PreparedRequest) -> requests.PreparedRequest:
        value = self._secret.reveal()
        r.headers[self._header] = f"{self._scheme} {value}" if self._scheme else value
        return r

    def __repr__(self) -> str:
        return f"HeaderAuth({self._header!r}, {self._secret!r})"

    @property
    def fingerprint(self) -> str:
        """The key's fingerprint (never the key): which account a journal belongs to."""
        return self._secret.fingerprint


__all__ = ["BasicAuth", "HeaderAuth", "Secret", "env_names", "resolve", "store"]
