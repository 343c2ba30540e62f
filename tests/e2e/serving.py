"""`arrears serve` in a test: the WSGI server on a free port of 127.0.0.1, in a thread."""

from __future__ import annotations

import threading
from contextlib import contextmanager
from typing import Iterator

from arrears_local.serve import LocalServer, make_http_server


@contextmanager
def serving(server: LocalServer) -> Iterator[str]:
    """Serve until the block ends; yields the base URL (http://127.0.0.1:PORT)."""
    httpd = make_http_server(server, port=0, log_requests=False)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_port}"
    finally:
        httpd.shutdown()
        httpd.server_close()
