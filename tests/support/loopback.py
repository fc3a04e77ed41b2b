"""A small HTTP server on 127.0.0.1 for tests that need real sockets (logging through urllib3,
proxies, cookies and redirects as requests meets them): ``serving(Handler)`` runs one on a
free port for a ``with`` block; ``Handler`` subclasses ``Quiet``."""

from __future__ import annotations

import contextlib
import http.server
import threading
from collections.abc import Iterable, Iterator


class Quiet(http.server.BaseHTTPRequestHandler):
    """A handler that keeps connections alive, logs nothing and answers with ``reply``."""

    protocol_version = "HTTP/1.1"

    def reply(self, status: int, body: bytes = b'{"ok": true}',
              headers: Iterable[tuple[str, str]] = ()) -> None:
        """Answer ``status`` with a JSON ``body`` and any more ``headers``."""
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@contextlib.contextmanager
def serving(handler: type[Quiet]) -> Iterator[str]:
    """A threading server answering with ``handler`` on 127.0.0.1; yields its base URL."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
