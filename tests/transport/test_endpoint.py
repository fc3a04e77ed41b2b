"""Which base URLs a transport accepts, and its bounds checked before anything is sent:
plain http only to loopback unless opted in, malformed URLs refused, deadlines and size caps
that are numbers."""

from __future__ import annotations

import math
from typing import Any

import pytest
import responses

from espkit.credentials import HeaderAuth, Secret
from espkit.errors import ConfigError, ValidationError
from espkit.transport import ENV_ALLOW_INSECURE, Transport, is_loopback

KEY = "ek-live-0123456789abcdef-SECRET"


def make(base_url: str, **kw: Any) -> Transport:
    return Transport("endpointesp", base_url,
                     auth=HeaderAuth("Authorization", Secret(KEY), "Bearer"), **kw)


@pytest.fixture(autouse=True)
def _no_opt_in(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ENV_ALLOW_INSECURE, raising=False)


LOOPBACK = ["http://127.0.0.1:8080/v1", "http://127.255.255.254", "http://[::1]:9/x",
            "http://localhost:3000", "http://LOCALHOST/", "http://localhost./v1",
            "http://[::ffff:127.0.0.1]/"]
NOT_LOOPBACK = ["http://api.example.test/v1", "http://128.0.0.1", "http://126.255.255.255",
                "http://10.0.0.1", "http://0.0.0.0", "http://[::2]/", "http://[::]/",
                "http://localhost.evil.test", "http://127.0.0.1.nip.io",
                "http://api:key@api.example.test", "http://[::ffff:10.0.0.1]/"]


@pytest.mark.parametrize("url", LOOPBACK)
def test_plain_http_to_loopback_needs_no_opt_in(url: str) -> None:
    assert make(url).base_url == url.rstrip("/")


@pytest.mark.parametrize("url", NOT_LOOPBACK)
@responses.activate
def test_plain_http_elsewhere_is_refused_before_any_request(url: str) -> None:
    with pytest.raises(ConfigError) as info:
        make(url)
    text = str(info.value)
    assert "refusing plain http://" in text
    assert ENV_ALLOW_INSECURE in text
    assert "api:key" not in text
    assert len(responses.calls) == 0


@pytest.mark.parametrize("url", NOT_LOOPBACK)
def test_plain_http_elsewhere_is_allowed_when_opted_in(
    url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    make(url, allow_insecure=True)
    monkeypatch.setenv(ENV_ALLOW_INSECURE, "1")
    make(url)


@pytest.mark.parametrize("value", ["0", "", "no", "false", "2"])
def test_only_a_yes_in_the_environment_opts_in(
    value: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(ENV_ALLOW_INSECURE, value)
    with pytest.raises(ConfigError):
        make("http://api.example.test")


@pytest.mark.parametrize("value", ["1", "true", "YES", " yes "])
def test_a_yes_in_the_environment_opts_in(value: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV_ALLOW_INSECURE, value)
    make("http://api.example.test")


def test_https_anywhere_is_fine() -> None:
    make("https://api.example.test/v3")
    make("https://10.0.0.1:8443")


def test_rebased_checks_again_and_carries_the_opt_in() -> None:
    t = make("https://api.example.test")
    with pytest.raises(ConfigError):
        t.rebased("http://api.eu.example.test")
    assert t.rebased("http://127.0.0.1:1").base_url == "http://127.0.0.1:1"
    opted = make("https://api.example.test", allow_insecure=True)
    assert opted.rebased("http://api.eu.example.test").allow_insecure is True


@pytest.mark.parametrize("url", ["https://h:abc/", "https://[::1/v1", "https://h:99999/",
                                 "ftp://api.example.test", "https:///v1", "api.example.test",
                                 "https://u:hunter2@h:x/"])
def test_malformed_or_foreign_base_urls_are_config_errors(url: str) -> None:
    with pytest.raises(ConfigError) as info:
        make(url)
    assert "hunter2" not in str(info.value)


def test_is_loopback() -> None:
    assert is_loopback("127.0.0.1")
    assert is_loopback("[::1]")
    assert not is_loopback("127.0.0.1.example")
    assert not is_loopback("")


# -- bounds given to the transport ---------------------------------------------------------------


def test_a_timeout_list_is_read_as_a_tuple() -> None:
    assert make("https://api.example.test", timeout=[2, 7]).timeout == (2, 7)


def test_defaults() -> None:
    t = make("https://api.example.test", timeout=(2.0, 7.0))
    assert t.deadline == 7.0
    assert t.max_response_bytes == 10 * 1024 * 1024
    assert make("https://api.example.test", timeout=(2.0, 7.0), deadline=30).deadline == 30.0


@pytest.mark.parametrize("deadline", [0, -1, math.nan, math.inf, True, "5"])
def test_a_deadline_that_is_not_a_positive_number_is_refused(deadline: Any) -> None:
    with pytest.raises(ValidationError) as info:
        make("https://api.example.test", deadline=deadline)
    assert info.value.field == "deadline"


@pytest.mark.parametrize("timeout", [(0, 5), (5, -1), (5, math.inf), (math.nan, 5), (5,),
                                     (5, 5, 5), 5, (5, None), (True, 5)])
def test_a_timeout_that_is_not_two_positive_numbers_is_refused(timeout: Any) -> None:
    with pytest.raises(ValidationError) as info:
        make("https://api.example.test", timeout=timeout)
    assert info.value.field == "timeout"


@pytest.mark.parametrize("size", [0, -1, 1.5, True, None])
def test_a_size_cap_that_is_not_a_positive_whole_number_is_refused(size: Any) -> None:
    with pytest.raises(ValidationError) as info:
        make("https://api.example.test", max_response_bytes=size)
    assert info.value.field == "max_response_bytes"
    assert make("https://api.example.test", max_response_bytes=1).max_response_bytes == 1
