"""API keys: redacted ``Secret``, resolution order, keyring, and request signing."""

from __future__ import annotations

import base64
import copy
import hashlib
import pickle
from collections.abc import Iterator

import keyring
import keyring.backend
import keyring.errors
import pytest
import requests
from hypothesis import given, settings
from hypothesis import strategies as st

from espkit import credentials
from espkit.credentials import BasicAuth, HeaderAuth, Secret
from espkit.errors import ConfigError, MissingCredentials, ValidationError

KEY = "key-0123456789abcdef-SECRET"
PROVIDER = "credesp"
ENV_OWN = "ESPKIT_CREDESP_API_KEY"
ENV_CONVENTIONAL = "CREDESP_API_KEY"


class MemoryKeyring(keyring.backend.KeyringBackend):
    """In-memory keyring. No ``priority``: never picked by keyring's auto-detection."""

    def __init__(self) -> None:
        super().__init__()
        self.passwords: dict[tuple[str, str], str] = {}
        self.lookups: list[tuple[str, str]] = []

    def get_password(self, service: str, username: str) -> str | None:
        self.lookups.append((service, username))
        return self.passwords.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.passwords[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        del self.passwords[(service, username)]


class LockedKeyring(keyring.backend.KeyringBackend):
    """A keyring that fails the way a locked or absent system keyring does."""

    def get_password(self, service: str, username: str) -> str | None:
        raise keyring.errors.KeyringLocked(f"locked; would have returned {KEY}")

    def set_password(self, service: str, username: str, password: str) -> None:
        raise keyring.errors.PasswordSetError("locked")

    def delete_password(self, service: str, username: str) -> None:
        raise keyring.errors.PasswordDeleteError("locked")


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (ENV_OWN, ENV_CONVENTIONAL, "CREDESP_TOKEN"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def memory_keyring(clean_env: None) -> Iterator[MemoryKeyring]:
    previous = keyring.get_keyring()
    backend = MemoryKeyring()
    keyring.set_keyring(backend)
    yield backend
    keyring.set_keyring(previous)


@pytest.fixture
def locked_keyring(clean_env: None) -> Iterator[LockedKeyring]:
    previous = keyring.get_keyring()
    backend = LockedKeyring()
    keyring.set_keyring(backend)
    yield backend
    keyring.set_keyring(previous)


# -- Secret ------------------------------------------------------------------------------------


def test_secret_never_shows_its_value() -> None:
    s = Secret(KEY)
    shown = [repr(s), str(s), f"{s}", f"{s!r}", f"{s!s}", "%s" % s, "%r" % (s,),  # noqa: UP031
             "{}".format(s), repr([s]), str({"k": s})]  # noqa: UP032
    for text in shown:
        assert KEY not in text
        assert "0123456789abcdef" not in text
        assert "fingerprint" in text
    assert s.reveal() == KEY


def test_secret_has_no_instance_dict_to_leak() -> None:
    s = Secret(KEY)
    with pytest.raises(TypeError):
        vars(s)


def test_secret_cannot_be_pickled_or_copied() -> None:
    s = Secret(KEY)
    for protocol in range(pickle.HIGHEST_PROTOCOL + 1):
        with pytest.raises(TypeError, match="pickled"):
            pickle.dumps(s, protocol=protocol)
    with pytest.raises(TypeError):
        copy.deepcopy({"key": s})


def test_secret_fingerprint_is_stable_and_short() -> None:
    a = Secret(KEY)
    b = Secret("  " + KEY + " ")  # surrounding whitespace is dropped
    assert a.fingerprint == b.fingerprint
    assert len(a.fingerprint) == 12
    assert Secret("another-key").fingerprint != a.fingerprint
    assert a.fingerprint not in KEY
    # stable across processes: a plain sha256 prefix, not hash()
    assert a.fingerprint == hashlib.sha256(KEY.encode()).hexdigest()[:12]


def test_secret_equality_and_hash() -> None:
    assert Secret(KEY) == Secret(KEY)
    assert Secret(KEY) != Secret("other")
    assert Secret(KEY) != KEY
    assert len({Secret(KEY), Secret(KEY)}) == 1


def test_secret_strips_a_trailing_newline_from_pasted_or_file_keys() -> None:
    assert Secret("key-abc\r\n").reveal() == "key-abc"


@pytest.mark.parametrize("bad", ["", "   ", "key\nX-Injected: 1", "ke\ry", "key\x00x", None, 42])
def test_secret_rejects_empty_or_control_characters_without_echoing(bad: object) -> None:
    with pytest.raises(ValidationError) as info:
        Secret(bad)  # type: ignore[arg-type]
    assert info.value.field == "api_key"
    if isinstance(bad, str) and bad.strip():
        assert bad not in str(info.value)
        assert "X-Injected" not in str(info.value)


@pytest.mark.parametrize(("bad", "what"), [
    ("key-\u00e9t\u00e9-SECRET", "a non-ASCII character at position 4"),
    ("\u201ckey-SECRET\u201d", "a non-ASCII character at position 0"),  # smart quotes
    ("key\u200b-SECRET", "a non-ASCII character at position 3"),  # zero-width space
    ("key\tSECRET", "a control character at position 3"),
    ("key\x1b[2J-SECRET", "a control character at position 3"),  # a terminal escape
    ("key-SECRET\x7f", "a control character at position 10"),
    ("key-\udcff-SECRET", "a non-ASCII character at position 4"),  # undecodable env bytes
])
def test_secret_refuses_what_a_header_cannot_carry_without_showing_it(
    bad: str, what: str
) -> None:
    """A non-ASCII key used to raise a bare UnicodeEncodeError when signing, whose text
    (and repr) held the key."""
    with pytest.raises(ValidationError) as info:
        Secret(bad)
    err = info.value
    assert err.value == "<redacted>"
    assert what in str(err)
    for text in (str(err), repr(err), repr(err.args)):
        assert "SECRET" not in text
    assert err.__cause__ is None
    assert err.__context__ is None


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=40))
def test_any_text_is_refused_quietly_or_signs_as_ascii(text: str) -> None:
    marked = "SECRET" + text  # a marker to look for in the error
    try:
        secret = Secret(marked)
    except ValidationError as exc:
        refused: ValidationError | None = exc
    else:
        refused = None
    if refused is not None:
        assert "SECRET" not in str(refused)
        assert "SECRET" not in repr(refused)
        return
    basic = BasicAuth("api", secret)(_prepared()).headers["Authorization"]
    bearer = HeaderAuth("Authorization", secret, "Bearer")(_prepared()).headers["Authorization"]
    for value in (basic, bearer):
        assert value.isascii()
        assert not set(value) & {"\r", "\n", "\x00"}
    assert bearer == f"Bearer {marked.strip()}"


# -- resolution order --------------------------------------------------------------------------


def test_explicit_argument_wins_over_everything(
    memory_keyring: MemoryKeyring, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(ENV_OWN, "from-own-env")
    monkeypatch.setenv(ENV_CONVENTIONAL, "from-provider-env")
    memory_keyring.passwords[("espkit", PROVIDER)] = "from-keyring"
    got = credentials.resolve(PROVIDER, KEY, env=(ENV_CONVENTIONAL,))
    assert got.reveal() == KEY
    given = Secret("as-secret")
    assert credentials.resolve(PROVIDER, given, env=(ENV_CONVENTIONAL,)) is given
    assert memory_keyring.lookups == []


def test_espkit_env_var_beats_provider_env_var_and_keyring(
    memory_keyring: MemoryKeyring, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(ENV_OWN, "from-own-env")
    monkeypatch.setenv(ENV_CONVENTIONAL, "from-provider-env")
    memory_keyring.passwords[("espkit", PROVIDER)] = "from-keyring"
    assert credentials.resolve(PROVIDER, env=(ENV_CONVENTIONAL,)).reveal() == "from-own-env"
    assert memory_keyring.lookups == []


def test_provider_env_vars_in_order_beat_keyring(
    memory_keyring: MemoryKeyring, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CREDESP_TOKEN", "from-second-var")
    memory_keyring.passwords[("espkit", PROVIDER)] = "from-keyring"
    env = (ENV_CONVENTIONAL, "CREDESP_TOKEN")
    assert credentials.resolve(PROVIDER, env=env).reveal() == "from-second-var"
    monkeypatch.setenv(ENV_CONVENTIONAL, "from-first-var")
    assert credentials.resolve(PROVIDER, env=env).reveal() == "from-first-var"


def test_empty_env_var_is_skipped(
    memory_keyring: MemoryKeyring, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(ENV_OWN, "")
    memory_keyring.passwords[("espkit", PROVIDER)] = "from-keyring"
    assert credentials.resolve(PROVIDER).reveal() == "from-keyring"


def test_keyring_is_last_and_uses_the_profile(memory_keyring: MemoryKeyring) -> None:
    memory_keyring.passwords[("espkit", PROVIDER)] = "default-profile-key"
    memory_keyring.passwords[("espkit", f"{PROVIDER}:staging")] = "staging-key"
    assert credentials.resolve(PROVIDER).reveal() == "default-profile-key"
    assert credentials.resolve(PROVIDER, profile="staging").reveal() == "staging-key"
    assert memory_keyring.lookups == [("espkit", PROVIDER), ("espkit", f"{PROVIDER}:staging")]


def test_env_names() -> None:
    assert credentials.env_names("mailgun", ("MAILGUN_API_KEY",)) == (
        "ESPKIT_MAILGUN_API_KEY", "MAILGUN_API_KEY")


# -- missing credentials ---------------------------------------------------------------------


def test_missing_credentials_names_every_place_looked(memory_keyring: MemoryKeyring) -> None:
    with pytest.raises(MissingCredentials) as info:
        credentials.resolve(PROVIDER, env=(ENV_CONVENTIONAL,), profile="prod")
    err = info.value
    assert isinstance(err, ConfigError)
    assert err.provider == PROVIDER
    assert err.looked_in == (
        "api_key argument",
        f"${ENV_OWN}",
        f"${ENV_CONVENTIONAL}",
        f"keyring service 'espkit' user '{PROVIDER}:prod'",
    )
    text = str(err)
    for place in err.looked_in:
        assert place in text
    assert f"espkit login {PROVIDER}" in text


def test_missing_credentials_with_a_broken_keyring_is_still_clean(
    locked_keyring: LockedKeyring, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("UNRELATED_SECRET", KEY)
    with pytest.raises(MissingCredentials) as info:
        credentials.resolve(PROVIDER, env=(ENV_CONVENTIONAL,))
    err = info.value
    assert err.looked_in[-1] == "keyring (unavailable: KeyringLocked)"
    assert f"${ENV_CONVENTIONAL}" in str(err)
    # the backend's own message (which here contains a secret) is not repeated
    assert KEY not in str(err)
    assert KEY not in repr(err)
    assert err.__cause__ is None


def test_missing_credentials_never_contains_a_secret_from_the_environment(
    memory_keyring: MemoryKeyring, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Another provider's key is set; this one's is not.
    monkeypatch.setenv("ESPKIT_OTHERESP_API_KEY", KEY)
    with pytest.raises(MissingCredentials) as info:
        credentials.resolve(PROVIDER)
    assert KEY not in str(info.value)


@pytest.mark.parametrize("source", ["env", "keyring"])
def test_a_non_ascii_key_found_is_refused_saying_where_not_what(
    memory_keyring: MemoryKeyring, monkeypatch: pytest.MonkeyPatch, source: str
) -> None:
    bad = "key-\u00e9-SECRET"
    if source == "env":
        monkeypatch.setenv(ENV_CONVENTIONAL, bad)
        where = f"${ENV_CONVENTIONAL}"
    else:
        memory_keyring.passwords[("espkit", PROVIDER)] = bad
        where = f"keyring service 'espkit' user '{PROVIDER}'"
    with pytest.raises(ValidationError) as info:
        credentials.resolve(PROVIDER, env=(ENV_CONVENTIONAL,))
    assert f"(read from {where})" in str(info.value)
    assert "SECRET" not in str(info.value)
    assert "SECRET" not in repr(info.value)
    assert info.value.__cause__ is None
    assert info.value.__context__ is None


def test_invalid_key_in_env_is_a_redacted_validation_error(
    memory_keyring: MemoryKeyring, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(ENV_OWN, "abc\r\nX-Evil: yes")
    with pytest.raises(ValidationError) as info:
        credentials.resolve(PROVIDER)
    assert "X-Evil" not in str(info.value)
    assert "<redacted>" in str(info.value)


# -- store -----------------------------------------------------------------------------------


def test_store_writes_to_keyring_and_resolve_reads_it(memory_keyring: MemoryKeyring) -> None:
    credentials.store(PROVIDER, "  " + KEY + "\t")
    assert memory_keyring.passwords == {("espkit", PROVIDER): KEY}
    credentials.store(PROVIDER, "k2", profile="eu")
    assert memory_keyring.passwords[("espkit", f"{PROVIDER}:eu")] == "k2"
    assert credentials.resolve(PROVIDER).reveal() == KEY
    assert credentials.resolve(PROVIDER, profile="eu").reveal() == "k2"


def test_store_rejects_an_invalid_key_before_touching_keyring(
    memory_keyring: MemoryKeyring,
) -> None:
    with pytest.raises(ValidationError):
        credentials.store(PROVIDER, "   ")
    assert memory_keyring.passwords == {}


def test_store_surfaces_keyring_failures(locked_keyring: LockedKeyring) -> None:
    with pytest.raises(keyring.errors.PasswordSetError):
        credentials.store(PROVIDER, KEY)


# -- auth classes ----------------------------------------------------------------------------


def _prepared() -> requests.PreparedRequest:
    return requests.Request("GET", "https://api.example.test/v1/domains").prepare()


def test_basic_auth_signs_and_is_redacted() -> None:
    auth = BasicAuth("api", Secret(KEY))
    signed = auth(_prepared())
    expected = base64.b64encode(f"api:{KEY}".encode()).decode()
    assert signed.headers["Authorization"] == f"Basic {expected}"
    assert KEY not in repr(auth)
    assert expected not in repr(auth)
    assert repr(auth).startswith("BasicAuth('api', Secret(fingerprint=")


def test_header_auth_with_and_without_scheme() -> None:
    bearer = HeaderAuth("Authorization", Secret(KEY), "Bearer")
    assert bearer(_prepared()).headers["Authorization"] == f"Bearer {KEY}"
    plain = HeaderAuth("X-Api-Key", Secret(KEY))
    assert plain(_prepared()).headers["X-Api-Key"] == KEY
    for auth in (bearer, plain):
        assert KEY not in repr(auth)
        assert "fingerprint" in repr(auth)
