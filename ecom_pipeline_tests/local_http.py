"""A one-off HTTP server on 127.0.0.1 for tests that script a shop's answers with a ``BaseHTTPRequestHandler``.

``serving(Handler)`` runs a ``ThreadingHTTPServer`` on a free port in a daemon thread and yields its base URL;
it is shut down and closed when the block ends. ``QuietHandler`` keeps the request log out of the test output and
sends a whole body with its ``Content-Length``.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class QuietHandler(BaseHTTPRequestHandler):
    """A handler that logs nothing, with ``send_body`` for a complete answer."""

    def send_body(self, status: int, body: bytes, content_type: str = "application/json") -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@contextmanager
def serving(handler: type[BaseHTTPRequestHandler], *, poll_interval: float = 0.05) -> Iterator[str]:
    """Serve ``handler`` on 127.0.0.1 (a free port) in a thread; yields ``http://127.0.0.1:<port>``.

    ``poll_interval`` is how often the server looks for its shutdown: what ending the block may wait."""
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": poll_interval}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()
