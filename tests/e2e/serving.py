"""`arrears serve` in a test: the WSGI server on a free port of 127.0.0.1, in a thread."""

from __future__ import annotations

import socket
import threading
from contextlib import contextmanager
from http.server import HTTPServer
from typing import Iterator

from arrears_local.serve import LocalServer, make_http_server


@contextmanager
def serving(server: LocalServer, port: int = 0) -> Iterator[str]:
    """Serve until the block ends; yields the base URL (http://127.0.0.1:PORT). `port` 0: any free port."""
    with running(make_http_server(server, port=port, log_requests=False)) as url:
        yield url


@contextmanager
def running(httpd: HTTPServer) -> Iterator[str]:
    """Any HTTP server bound to 127.0.0.1, in a thread until the block ends; yields its base URL."""
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{httpd.server_port}"
    finally:
        httpd.shutdown()
        httpd.server_close()


def free_port() -> int:
    """A port of 127.0.0.1 free now: for a stack that must know its own URL before it serves (PortalPublicUrl)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]
