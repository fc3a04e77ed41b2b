"""A ``requests`` transport adapter that delivers requests to an in-process ``Emulator``.

Mounted on a session for the sandbox's base URL, it replaces the socket and nothing else:
everything above it (espkit's retries, limiter, error mapping, read-back) runs exactly as it
does against a real ESP. Simulated network faults become the very exceptions ``requests``
raises for real ones, so the transport classifies them the same way (a refused connection
is "never sent", a reset or read timeout "maybe applied").
"""

from __future__ import annotations

import http
import urllib.parse
from collections.abc import Mapping

import requests
import urllib3
from requests.structures import CaseInsensitiveDict

from espkit.sandbox.app import Reply
from espkit.sandbox.emulator import Emulator, NetworkFault


class SandboxAdapter(requests.adapters.BaseAdapter):
    def __init__(self, emulator: Emulator) -> None:
        super().__init__()
        self.emulator = emulator

    def send(
        self,
        request: requests.PreparedRequest,
        stream: bool = False,
        timeout: float | tuple[float, float] | tuple[float, None] | None = None,
        verify: bool | str = True,
        cert: bytes | str | tuple[bytes | str, bytes | str] | None = None,
        proxies: Mapping[str, str] | None = None,
    ) -> requests.Response:
        url = urllib.parse.urlsplit(request.url or "")
        body = request.body.encode() if isinstance(request.body, str) else request.body
        try:
            reply = self.emulator.exchange(request.method or "GET", url.path, url.query,
                                           request.headers, body)
        except NetworkFault as fault:
            error = _network_error(fault.kind, url.hostname or "", request)
        else:
            return _response(request, reply)
        # raised outside the except block: the cause chain must hold only what requests
        # itself would put there, since the transport reads it to tell "never sent" apart
        raise error

    def close(self) -> None:
        """Nothing to release: there is no connection pool."""


def _network_error(kind: str, host: str, request: requests.PreparedRequest
                   ) -> requests.RequestException:
    if kind == "refused":
        refused = urllib3.exceptions.NewConnectionError(
            urllib3.connection.HTTPSConnection(host),
            "Failed to establish a new connection: [Errno 111] Connection refused",
        )
        return requests.ConnectionError(refused, request=request)
    if kind.startswith("timeout"):
        return requests.ReadTimeout("Read timed out. (sandbox)", request=request)
    reset = urllib3.exceptions.ProtocolError(
        "Connection aborted.", ConnectionResetError(104, "Connection reset by peer"))
    return requests.ConnectionError(reset, request=request)


def _response(request: requests.PreparedRequest, reply: Reply) -> requests.Response:
    response = requests.Response()
    response.status_code = reply.status
    response.reason = http.HTTPStatus(reply.status).phrase
    response.headers = CaseInsensitiveDict(
        {"Content-Length": str(len(reply.body)), **reply.headers})
    # The body is already in memory: hand it over as read content (what requests itself
    # leaves after reading a non-streamed body). Wrapping it in a urllib3 response to be
    # read again costs more than the emulator's whole handling of a GET.
    response._content = reply.body
    response.encoding = "utf-8"
    response.url = request.url or ""
    response.request = request
    return response
