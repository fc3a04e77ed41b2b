"""A loopback TCP proxy that can take the ESP away, and a small Mailgun-shaped ESP behind it.

For outage tests at the wire: the client talks to ``FlakyProxy`` on 127.0.0.1, which pumps
bytes to ``DomainServer`` (a real HTTP/1.1 server answering ``POST /v4/domains`` and ``GET
/v4/domains/{name}`` as Mailgun does). The proxy's state is switched by the test, never by
time:

* ``refuse()``: the listening socket is closed, so new connections are refused (what a
  client sees when the ESP's load balancer is gone), and every open connection is reset; a
  bound, non-listening socket keeps the port (``SO_REUSEPORT``), so no other socket takes it
  before ``up()`` listens there again;
* ``reset()``: connections are accepted and reset at once, before any byte is read;
* ``up()``: listening and forwarding again, on the same port.

``DomainServer`` counts what reached it: requests by method, creates applied per name and
creates for a name already there (``duplicates``). ``on_create`` is called after each
applied create with the number applied so far, so a test can take the ESP away after the
N-th one; ``fail_all`` makes it answer 503 to everything (an ESP up but failing).
"""

from __future__ import annotations

import collections
import contextlib
import http.server
import json
import selectors
import socket
import struct
import threading
import urllib.parse
from collections.abc import Callable
from typing import Any

HOST = "127.0.0.1"


class _Http(http.server.ThreadingHTTPServer):
    daemon_threads = True
    esp: DomainServer

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a connection the proxy reset mid-request: what these tests are about


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Http
    timeout = 5  # an idle kept-alive connection's handler ends after this
    disable_nagle_algorithm = True  # the head and the body go out as they are written

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self._answer(*self.server.esp.handle("GET", self.path, b""))

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length)
        if len(body) < length:  # cut off on the way: a real server acts on no half request
            self.close_connection = True
            return
        self._answer(*self.server.esp.handle("POST", self.path, body))

    def _answer(self, status: int, payload: Any) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


def _domain(name: str) -> dict[str, Any]:
    return {"domain": {"name": name, "state": "unverified", "id": f"id-{name}"},
            "sending_dns_records": [], "receiving_dns_records": []}


class DomainServer:
    """Mailgun's domain create and get, in memory, on 127.0.0.1. Thread-safe counters."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.domains: set[str] = set()
        self.requests: collections.Counter[str] = collections.Counter()
        self.applied: collections.Counter[str] = collections.Counter()
        self.duplicates = 0
        self.fail_all = False
        self.on_create: Callable[[int], None] | None = None
        self._http = _Http((HOST, 0), _Handler)
        self._http.esp = self
        self.port = self._http.server_address[1]
        self._thread = threading.Thread(target=self._http.serve_forever, args=(0.05,),
                                        daemon=True)
        self._thread.start()

    def handle(self, method: str, target: str, body: bytes) -> tuple[int, Any]:
        path = urllib.parse.urlsplit(target).path
        created = 0
        with self.lock:
            self.requests[method] += 1
            if self.fail_all:
                return 503, {"message": "Service Unavailable"}
            if method == "POST" and path == "/v4/domains":
                name = urllib.parse.parse_qs(body.decode()).get("name", [""])[0]
                if not name:
                    return 400, {"message": "name is required"}
                if name in self.domains:
                    self.duplicates += 1
                    return 400, {"message": "Domain already exists"}
                self.domains.add(name)
                self.applied[name] += 1
                created = len(self.domains)
            elif method == "GET" and path.startswith("/v4/domains/"):
                name = urllib.parse.unquote(path.rsplit("/", 1)[1])
                if name not in self.domains:
                    return 404, {"message": "Domain not found"}
                return 200, _domain(name)
            else:
                return 404, {"message": "no such route"}
        if self.on_create is not None:
            self.on_create(created)
        return 200, {"message": "Domain has been created", **_domain(name)}

    def close(self) -> None:
        self._http.shutdown()
        self._http.server_close()


def _reset(sock: socket.socket) -> None:
    """Close with an RST rather than a FIN, as a crashed box or a dropped route does."""
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    with contextlib.suppress(OSError):
        sock.close()


class FlakyProxy:
    """Forwards 127.0.0.1:``port`` to ``target_port`` until told otherwise (see the module
    docstring). ``accepted`` counts connections accepted, ``refused_while_down`` those reset
    in ``reset()`` mode."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.lock = threading.Lock()
        self.mode = "up"
        self.accepted = 0
        self.reset_while_down = 0
        self._open: set[socket.socket] = set()
        self._listener: socket.socket | None = None
        self._holder: socket.socket | None = None
        self._closed = False
        self.port = 0
        self._listen()

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def _bound(self) -> socket.socket:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind((HOST, self.port))
        self.port = sock.getsockname()[1]
        return sock

    def _listen(self) -> None:
        sock = self._bound()
        sock.listen(128)
        self._listener = sock
        if self._holder is not None:
            self._holder.close()
            self._holder = None
        threading.Thread(target=self._accept, args=(sock,), daemon=True).start()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return  # closed: refuse() or close()
            with self.lock:
                self.accepted += 1
                mode = self.mode
                if mode == "reset":
                    self.reset_while_down += 1
            if mode != "up":
                _reset(client)
                continue
            try:
                upstream = socket.create_connection((HOST, self.target_port), timeout=5)
            except OSError:
                _reset(client)
                continue
            for s in (client, upstream):
                # pass each write on at once: Nagle's wait for an ACK, against the peer's
                # delayed ACK, would add 40 ms to every request with a body
                s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            with self.lock:
                # taken down while this one was being connected: it goes down too
                survives = self.mode == "up"
                if survives:
                    self._open.update((client, upstream))
            if not survives:
                _reset(client)
                _reset(upstream)
                continue
            threading.Thread(target=self._pump, args=(client, upstream), daemon=True).start()

    def _pump(self, client: socket.socket, upstream: socket.socket) -> None:
        """Copy bytes both ways until either side closes (or the proxy resets both)."""
        sel = selectors.DefaultSelector()
        try:
            sel.register(client, selectors.EVENT_READ, upstream)
            sel.register(upstream, selectors.EVENT_READ, client)
            while True:
                for key, _ in sel.select(timeout=5):
                    src = key.fileobj
                    assert isinstance(src, socket.socket)
                    data = src.recv(65536)
                    if not data:
                        return
                    key.data.sendall(data)
        except (OSError, ValueError):
            return
        finally:
            sel.close()
            with self.lock:
                self._open.discard(client)
                self._open.discard(upstream)
            for s in (client, upstream):
                with contextlib.suppress(OSError):
                    s.close()

    def _drop_open(self) -> None:
        with self.lock:
            live, self._open = list(self._open), set()
        for s in live:
            _reset(s)

    def refuse(self) -> None:
        """Close the listening socket (new connections are refused) and reset every open one."""
        with self.lock:
            self.mode = "refuse"
            listener, self._listener = self._listener, None
        if listener is not None:
            if self._holder is None:
                self._holder = self._bound()  # keeps the port, listens to nothing
            listener.close()
        self._drop_open()

    def reset(self) -> None:
        """Accept connections and reset them at once; reset every open one."""
        with self.lock:
            self.mode = "reset"
            listening = self._listener is not None
        self._drop_open()
        if not listening:
            self._listen()

    def up(self) -> None:
        """Forward again, on the same port."""
        with self.lock:
            self.mode = "up"
            listening = self._listener is not None
        if not listening and not self._closed:
            self._listen()

    def close(self) -> None:
        with self.lock:
            self._closed = True
            listener, self._listener = self._listener, None
            holder, self._holder = self._holder, None
        for sock in (listener, holder):
            if sock is not None:
                sock.close()
        self._drop_open()
