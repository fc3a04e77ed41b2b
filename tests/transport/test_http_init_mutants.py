"""``Transport.__init__`` pinned where mutation testing found it loose (scripts/mutation.py
http, the part of the module earlier runs did not reach): what a refused setting names, the
base URL kept without its trailing slash, the runner named for the provider, the session
espkit builds (its adapter on both schemes, its pool sizes, the CA bundle read once from either
variable), form data sent, and the smallest positive timeouts accepted."""

from __future__ import annotations

import math

import pytest
import requests
import responses

from espkit.errors import ValidationError
from espkit.transport.deadline import DeadlineAdapter
from espkit.transport.http import Transport

BASE = "https://esp.example.com/v3"


@pytest.mark.parametrize(("option", "bad", "reason"), [
    ("timeout", (0, 5), "must be (connect, read) seconds, both positive and finite"),
    ("timeout", (5, math.inf), "must be (connect, read) seconds, both positive and finite"),
    ("deadline", 0, "must be positive, finite seconds"),
    ("deadline", -1.0, "must be positive, finite seconds"),
    ("max_response_bytes", 0, "must be a positive whole number of bytes"),
    ("max_response_bytes", True, "must be a positive whole number of bytes"),
])
def test_a_refused_setting_names_itself_its_value_and_why(
        option: str, bad: object, reason: str) -> None:
    with pytest.raises(ValidationError) as info:
        Transport("esp", BASE, **{option: bad})  # type: ignore[arg-type]
    assert (info.value.field, info.value.value, info.value.reason) == (option, bad, reason)


@pytest.mark.parametrize("seconds", [0.5, 1e-3])
def test_timeouts_and_deadlines_under_a_second_are_accepted(seconds: float) -> None:
    t = Transport("esp", BASE, timeout=(seconds, seconds), deadline=seconds)
    assert t.timeout == (seconds, seconds)
    assert t.deadline == seconds


def test_the_base_url_is_kept_without_its_trailing_slashes() -> None:
    assert Transport("esp", BASE + "//").base_url == BASE
    assert Transport("esp", BASE).base_url == BASE
    # only slashes: a path ending in another character keeps it
    assert Transport("esp", "https://esp.example.com/X/").base_url == "https://esp.example.com/X"


def test_the_runner_is_named_for_the_provider() -> None:
    assert Transport("sendgrid", BASE).runner.provider == "sendgrid"


def test_espkits_own_session_sends_both_schemes_through_one_deadline_adapter() -> None:
    session = Transport("esp", BASE).session
    https = session.get_adapter("https://esp.example.com/")
    plain = session.get_adapter("http://127.0.0.1:8080/")
    assert isinstance(https, DeadlineAdapter)
    assert https is plain
    # kept-alive connections for as many requests as the bulk engine keeps in flight
    assert https.poolmanager.connection_pool_kw["maxsize"] == 256


@pytest.mark.parametrize(("variables", "verify"), [
    ({"REQUESTS_CA_BUNDLE": "/etc/ca/requests.pem"}, "/etc/ca/requests.pem"),
    ({"CURL_CA_BUNDLE": "/etc/ca/curl.pem"}, "/etc/ca/curl.pem"),
    ({"REQUESTS_CA_BUNDLE": "/etc/ca/requests.pem", "CURL_CA_BUNDLE": "/etc/ca/curl.pem"},
     "/etc/ca/requests.pem"),
    ({}, True),
])
def test_the_ca_bundle_is_read_once_from_either_variable(
        monkeypatch: pytest.MonkeyPatch, variables: dict[str, str], verify: object) -> None:
    for name in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "requests_ca_bundle",
                 "curl_ca_bundle"):
        monkeypatch.delenv(name, raising=False)
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    session = Transport("esp", BASE).session
    assert session.verify == verify
    assert session.trust_env is False


@responses.activate
def test_form_data_is_sent() -> None:
    responses.add(responses.POST, BASE + "/domains", json={"ok": True})
    Transport("esp", BASE).request("POST", "/domains", data={"name": "a.example.com"})
    assert responses.calls[0].request.body == "name=a.example.com"


def test_a_callers_session_is_used_as_given() -> None:
    mine = requests.Session()
    assert Transport("esp", BASE, session=mine).session is mine
    assert mine.trust_env is True  # espkit changes nothing on a session it did not make
