"""Reading an answer's body within the attempt's deadline and the transport's size cap.

requests, left to itself, reads a body whole into memory however long it is and however
slowly it comes. ``Transport`` asks for the body as a stream instead and reads it here: the
declared ``Content-Length`` is checked first, then the body is read in pieces (each piece
what one socket read brings, decompressed at most a piece at a time, so a gzip bomb is
stopped like any other oversized answer), counting bytes and watching the deadline. A
success that will not fit is an error; an error answer is cut to ``ERROR_BODY_LIMIT`` bytes,
enough to say what went wrong, and still reported as the error its status says.
"""

from __future__ import annotations

import http.client
import re
import socket
from collections.abc import Callable

import requests
import urllib3.exceptions
import urllib3.response

from espkit.errors import TransportError
from espkit.transport.deadline import Deadline

#: the default cap on an answer's (decompressed) size
DEFAULT_MAX_RESPONSE_BYTES = 10 * 1024 * 1024
#: how much of an error answer is read: the rest is not worth the wait or the memory
ERROR_BODY_LIMIT = 1024 * 1024
#: one read of the body asks for at most this much
CHUNK = 64 * 1024

#: builds the error for a failed read, given what went wrong
Fail = Callable[[str], TransportError]

# what reading a body may raise when the peer misbehaves or the watchdog cuts it off
_READ_ERRORS = (OSError, ValueError, http.client.HTTPException,
                urllib3.exceptions.HTTPError, requests.RequestException)

_TIMEOUTS = (TimeoutError, urllib3.exceptions.TimeoutError, requests.Timeout)


def read_body(response: requests.Response, deadline: Deadline, limit: int, fail: Fail) -> bytes:
    """The body of ``response`` (read from its stream), then left in ``response`` as read
    content, so ``response.json()`` and ``response.text`` work as usual; the connection goes
    back to the pool only when the body was read whole. Raises what ``fail`` builds when the
    deadline passes, the peer breaks off, or a success is larger than ``limit`` bytes."""
    is_error = response.status_code >= 300
    if is_error:
        limit = min(limit, ERROR_BODY_LIMIT)
    raw = response.raw
    if raw is None or getattr(response, "_content", False) is not False:
        # already in memory (an adapter that delivers bodies whole, like the sandbox's)
        content = response.content or b""
        if len(content) > limit and not is_error:
            raise fail(f"answer too large: {len(content)} bytes, over the limit of {limit}")
        return content[:limit]
    declared = content_length(response.headers.get("Content-Length"))
    if declared is not None and declared > limit and not is_error:
        response.close()
        raise fail(f"answer too large: Content-Length {declared} is over the limit of "
                   f"{limit} bytes")
    deadline.watch(_socket_of(raw))
    read = _reader(raw)
    chunks: list[bytes] = []
    size = 0
    complete = False
    try:
        while not deadline.expired:
            chunk = read(CHUNK)
            if not chunk:
                complete = True
                break
            size += len(chunk)
            if size > limit:
                chunks.append(chunk[: limit - (size - len(chunk))])
                break
            chunks.append(chunk)
    except _READ_ERRORS as exc:
        broken: BaseException | None = exc
    else:
        broken = None
    # Finished before the connection can go back to the pool: from here on the watchdog
    # must not cut it. A read cut short by the watchdog may also look like a normal end.
    cut = deadline.finish() or deadline.expired
    if cut or broken is not None or not complete:
        response.close()  # the connection is in an unknown state: never reused
    if cut:
        raise fail(f"deadline of {deadline.seconds:g} s passed while reading the answer")
    if broken is not None:
        what = "timed out" if isinstance(broken, _TIMEOUTS) else "connection failed"
        raise fail(f"{what} while reading the answer: {type(broken).__name__}")
    if not complete and not is_error:
        raise fail(f"answer too large: over the limit of {limit} bytes")
    content = b"".join(chunks)
    response._content = content
    response._content_consumed = True  # type: ignore[attr-defined]
    if complete:
        response.close()  # read whole: the connection goes back to the pool
    return content


_DIGITS = re.compile(r"[0-9]{1,30}")


def content_length(value: str | None) -> int | None:
    """A ``Content-Length`` header as a number of bytes, ``None`` if it is not one."""
    if value is None:
        return None
    m = _DIGITS.fullmatch(value.strip(" \t"))
    return int(m.group()) if m else None


def _reader(raw: object) -> Callable[[int], bytes]:
    """A read that returns what one socket read brings (decompressed), not a whole piece:
    a full-size read would wait for all its bytes however slowly they come."""
    if isinstance(raw, urllib3.response.BaseHTTPResponse):
        def read1(n: int) -> bytes:
            return raw.read1(n, decode_content=True)
        return read1
    read: Callable[[int], bytes] = getattr(raw, "read1", None) or raw.read  # type: ignore[attr-defined]
    return read


def _socket_of(raw: object) -> socket.socket | None:
    """The socket a urllib3 response reads from, if it can be found (best effort, for
    sessions whose connections do not report their sockets themselves)."""
    conn = getattr(raw, "connection", None)
    sock = getattr(conn, "sock", None)
    if isinstance(sock, socket.socket):
        return sock
    # a connection closed on "Connection: close" hands its socket to the response's file
    buffered = getattr(getattr(raw, "_fp", None), "fp", None)
    sock = getattr(getattr(buffered, "raw", None), "_sock", None)
    return sock if isinstance(sock, socket.socket) else None


__all__ = [
    "CHUNK",
    "DEFAULT_MAX_RESPONSE_BYTES",
    "ERROR_BODY_LIMIT",
    "content_length",
    "read_body",
]
