"""How an ESP's error answer becomes an espkit error: every shape the default parser reads,
its fallbacks in order, and each status on both sides of its class's boundary.

Written from mutation testing (scripts/mutation.py): a skipped key, a swapped fallback or a
moved status boundary passed the suite before.
"""

from __future__ import annotations

from typing import Any

import pytest
import requests

from espkit.errors import (
    AlreadyExists,
    AuthError,
    EspError,
    NotFound,
    RateLimited,
    Rejected,
    ServerError,
)
from espkit.transport.error_mapping import (
    ErrorDetail,
    body_excerpt,
    default_error_parser,
    status_class,
)


def answer(content: bytes | None = b"", *, status: int = 400, reason: str | None = "Bad Request",
           encoding: str | None = None) -> requests.Response:
    response = requests.Response()
    response._content = content  # type: ignore[assignment]  # a requests attribute
    response.status_code = status
    response.reason = reason  # type: ignore[assignment]
    response.encoding = encoding
    return response


@pytest.mark.parametrize("key", ["message", "Message", "error", "Reason", "detail"])
def test_each_message_key_is_read(key: str) -> None:
    assert default_error_parser(answer(b"ignored"), {key: "the why"}) == ErrorDetail("the why")


def test_the_first_key_in_order_wins() -> None:
    body = {"detail": "d", "Reason": "r", "error": "e", "Message": "M", "message": "m"}
    assert default_error_parser(answer(), body).message == "m"
    del body["message"]
    assert default_error_parser(answer(), body).message == "M"
    del body["Message"]
    assert default_error_parser(answer(), body).message == "e"
    del body["error"]
    assert default_error_parser(answer(), body).message == "r"


def test_an_empty_message_falls_through_to_the_next_key() -> None:
    assert default_error_parser(answer(), {"message": "", "error": "e"}).message == "e"
    assert default_error_parser(answer(), {"message": 5, "error": "e"}).message == "e"


def test_a_nested_error_object_gives_its_message_and_code() -> None:
    body = {"error": {"message": "nope", "code": 42}}
    assert default_error_parser(answer(), body) == ErrorDetail("nope", code="42")
    body = {"error": {"message": "nope"}}
    assert default_error_parser(answer(), body) == ErrorDetail("nope", code=None)
    # a nested object without a text message is not a message
    assert default_error_parser(answer(b"raw"), {"error": {"message": 3}}).message == "raw"


def test_an_errors_list_gives_its_first_entry() -> None:
    body = {"errors": [{"message": "first", "code": "E1"}, {"message": "second"}]}
    assert default_error_parser(answer(), body) == ErrorDetail("first", code="E1")
    body = {"errors": [{"description": "described"}]}
    assert default_error_parser(answer(), body) == ErrorDetail("described", code=None)
    body = {"errors": [{"message": "", "description": "described", "code": 7}]}
    assert default_error_parser(answer(), body) == ErrorDetail("described", code="7")
    body = {"errors": [{"field": "x"}]}
    assert default_error_parser(answer(), body) == ErrorDetail("{'field': 'x'}")


@pytest.mark.parametrize("errors", [[], ["text"], "text", None])
def test_an_errors_value_that_is_not_a_list_of_objects_falls_back_to_the_body(
    errors: Any,
) -> None:
    assert default_error_parser(answer(b"  raw body \n"), {"errors": errors}).message == \
        "raw body"


def test_the_body_is_cut_to_300_characters() -> None:
    detail = default_error_parser(answer(b"x" * 301), None)
    assert detail.message == "x" * 300
    assert default_error_parser(answer(b"y" * 300), "not a dict").message == "y" * 300


def test_an_empty_body_falls_back_to_the_reason_then_the_status() -> None:
    assert default_error_parser(answer(b"   "), None).message == "Bad Request"
    assert default_error_parser(answer(b"", reason="", status=418), None).message == "HTTP 418"
    assert default_error_parser(answer(None, reason=None, status=502), {}).message == "HTTP 502"


def test_body_excerpt_reads_only_the_start_and_survives_a_bogus_charset() -> None:
    assert body_excerpt(answer(b"a" * 5000)) == "a" * 4096
    assert body_excerpt(answer(b"abcdef"), limit=3) == "abc"
    assert body_excerpt(answer("é".encode())) == "é"  # no charset: UTF-8
    assert body_excerpt(answer("é".encode("latin-1"), encoding="latin-1")) == "é"
    assert body_excerpt(answer("é".encode(), encoding="no-such-charset")) == "é"
    assert body_excerpt(answer(b"\xff!")) == "\ufffd!"
    assert body_excerpt(answer(b"\xff!", encoding="no-such-charset")) == "\ufffd!"
    assert body_excerpt(answer(None)) == ""
    # a known charset the bytes do not fit: replaced in that charset, not re-read as UTF-8
    assert body_excerpt(answer("é".encode(), encoding="ascii")) == "\ufffd\ufffd"


@pytest.mark.parametrize(
    ("status", "cls"),
    [
        (400, Rejected), (401, AuthError), (402, Rejected), (403, AuthError), (404, NotFound),
        (405, Rejected), (408, Rejected), (409, AlreadyExists), (410, Rejected),
        (428, Rejected), (429, RateLimited), (430, Rejected), (499, Rejected),
        (500, ServerError), (503, ServerError), (599, ServerError),
    ],
)
def test_status_class_on_both_sides_of_each_boundary(status: int, cls: type[EspError]) -> None:
    assert status_class(status) is cls
