"""`arrears serve`: the local runtime on 127.0.0.1 over real HTTP.

Every route of template.yaml's API (webhooks and the finance API) is answered by the same handler
as in AWS, through `LocalRuntime.request` (API Gateway's proxy event). The clock is either
virtual (it stands still until `POST /_local/clock/advance` moves it, running every workflow step
that falls due on the way) or real (it follows the wall clock from the real now). `/_local/*` exists
only here (local_routes.py: artefact downloads, SES events, bulk import); `/console/` is the finance team's
console (console_files.py).

One request at a time: the runtime is one process standing in for a whole AWS account, and a
single lock keeps the clock, the state machines and the handlers consistent.
"""

from __future__ import annotations

import json
import threading
from datetime import datetime, timedelta, timezone
from typing import Any, Callable, Iterable
from urllib.parse import parse_qs
from wsgiref.simple_server import WSGIRequestHandler, make_server

from arrears.domain.clock import parse_iso, to_iso_z
from arrears.ingestion.http_input import API_MAX_BODY_BYTES, BodyRefused, checked_text
from arrears_local import console_files, local_routes
from arrears_local.runtime import LOCAL_PRINCIPAL, HttpReply, LocalRuntime

# At most this far in one advance: a mistyped year should not run for an hour.
MAX_ADVANCE = timedelta(days=800)
_REASONS = {200: "OK", 201: "Created", 204: "No Content", 308: "Permanent Redirect", 400: "Bad Request", 403: "Forbidden", 404: "Not Found",
            405: "Method Not Allowed", 409: "Conflict", 413: "Payload Too Large", 422: "Unprocessable Entity",
            500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Unavailable"}
MAX_BODY = API_MAX_BODY_BYTES  # what the finance API accepts; the webhooks route's own limit is lower


class LocalServer:
    def __init__(self, runtime: LocalRuntime, clock: str = "virtual", principal: str = LOCAL_PRINCIPAL,
                 scheduled: Iterable[tuple[datetime, Callable[[], None]]] = ()) -> None:
        if clock not in ("virtual", "real"):
            raise ValueError("clock is 'virtual' or 'real'")
        self.runtime = runtime
        self.clock = clock
        self.principal = principal
        self.lock = threading.RLock()
        self.base_url = ""  # http://host:port, once make_http_server has bound it (links without a Host header)
        # External events (e.g. a sample book's webhook deliveries) waiting for the clock to reach them.
        self.scheduled = sorted(scheduled, key=lambda item: item[0])

    # --- time ------------------------------------------------------------------------------------
    def advance_to(self, moment: datetime) -> int:
        """Run everything due up to `moment`; how many scheduled events were applied."""
        with self.lock:
            due = [item for item in self.scheduled if item[0] <= moment]
            self.scheduled = self.scheduled[len(due):]
            self.runtime.run_until(moment, external=due)
            return len(due)

    def catch_up(self) -> None:
        """Real clock: bring the runtime's clock to the real now (however long provisioning took)."""
        if self.clock == "real":
            target = local_routes.wall_now().replace(microsecond=0)
            if target > self.runtime.now():
                self.advance_to(target)

    def settle(self) -> None:
        """Let every execution a request started or resumed run until it waits again."""
        self.runtime.run_until(self.runtime.now())

    # --- HTTP ------------------------------------------------------------------------------------
    def handle(self, method: str, path: str, query: str, body: bytes, headers: dict[str, str]) -> HttpReply:
        if console_files.is_console(path):  # static files: no clock, no runtime
            return console_files.console_file(method, path)
        with self.lock:
            self.catch_up()
            if path.startswith("/_local/"):
                return self._local(method, path, body, query)
            reply = self.runtime.request(method, path + (f"?{query}" if query else ""), body, headers, principal=self.principal)
            self.settle()
            # Presigned S3 links lead into this process's moto: point them at GET /_local/artefacts/... here.
            return local_routes.local_links(reply, local_routes.base_url(headers, self.base_url))

    def _local(self, method: str, path: str, body: bytes, query: str = "") -> HttpReply:
        # The local routes meet the finance API's own limits before any parsing (docs/input-limits.md); an
        # imported CSV file is the one body that is not JSON, so it is held to the size and encoding only.
        name = parse_qs(query).get("name", [""])[-1]
        csv_import = path == "/_local/import" and not name.lower().endswith((".json", ".jsonl"))
        if path == "/_local/inbound-email" and method == "POST":
            # Raw RFC 822 bytes in any charset, as SES stores them: the size limit only (the wsgi layer's).
            return self._settled(local_routes.inbound_email(self.runtime, body))
        try:
            checked_text(body, MAX_BODY, **({"max_depth": len(body) + 1} if csv_import else {}))
        except BodyRefused as refused:
            return _json(refused.status_code, {"error": refused.code, "message": refused.message})
        if path == "/_local/clock" and method == "GET":
            return _json(200, {"now": to_iso_z(self.runtime.now()), "clock": self.clock,
                               "scheduled_events": len(self.scheduled)})
        if path == "/_local/clock/advance" and method == "POST":
            if self.clock == "real":
                return _json(409, {"error": "real_clock", "message": "the clock follows wall time; start with --clock virtual"})
            try:
                target = self._target(json.loads(body or b"{}"))
            except (ValueError, TypeError, AttributeError, OverflowError) as bad:
                return _json(422, {"error": "invalid_request", "message": str(bad)})
            applied = self.advance_to(target)
            return _json(200, {"now": to_iso_z(self.runtime.now()), "events_applied": applied})
        if path.startswith(local_routes.ARTEFACTS_PREFIX) and method == "GET":
            return local_routes.artefact(self.runtime, path)
        if path == "/_local/emails" and method == "GET":
            return local_routes.sent_emails(self.runtime)
        if path == "/_local/ses-events" and method == "POST":
            return self._settled(local_routes.ses_event(self.runtime, body))
        if path == "/_local/import" and method == "POST":
            return self._settled(local_routes.bulk_import(self.runtime, body, name))
        return _json(404, {"error": "unknown_route", "message": f"no local route {method} {path}"})

    def _settled(self, reply: HttpReply) -> HttpReply:
        self.settle()  # what the event or import started runs until it waits, as after an API request
        return reply

    def _target(self, request: dict[str, Any]) -> datetime:
        now = self.runtime.now()
        if "to" in request:
            target = parse_iso(str(request["to"]))
        else:
            target = now + timedelta(days=float(request.get("days", 0)), hours=float(request.get("hours", 0)))
        if target < now:
            raise ValueError(f"the clock only moves forward (it is {to_iso_z(now)})")
        if target - now > MAX_ADVANCE:
            raise ValueError(f"advance at most {MAX_ADVANCE.days} days at a time")
        return target

    def wsgi_app(self, environ: dict[str, Any], start_response: Callable) -> list[bytes]:
        declared = (environ.get("CONTENT_LENGTH") or "0").strip()
        length = int(declared) if declared.isascii() and declared.isdigit() else -1
        if length < 0:
            reply = _json(400, {"error": "invalid_content_length", "message": "Content-Length is not a number of bytes"})
        elif length > MAX_BODY:
            _discard(environ["wsgi.input"], length)  # read it all, so the client sees the 413 and not a broken pipe
            reply = _json(413, {"error": "body_too_large", "message": f"at most {MAX_BODY} bytes"})
        else:
            body = environ["wsgi.input"].read(length) if length else b""
            headers = {key[5:].replace("_", "-").title(): value for key, value in environ.items() if key.startswith("HTTP_")}
            if environ.get("CONTENT_TYPE"):
                headers["Content-Type"] = environ["CONTENT_TYPE"]
            path = environ.get("PATH_INFO", "/").encode("latin-1").decode("utf-8", "replace")
            reply = self.handle(environ["REQUEST_METHOD"], path, environ.get("QUERY_STRING", ""), body, headers)
        payload = reply.body if isinstance(reply.body, bytes) else reply.body.encode("utf-8")
        response_headers = [(k, v) for k, v in reply.headers.items() if k.lower() not in ("content-length", "transfer-encoding")]
        if not any(k.lower() == "content-type" for k, _ in response_headers):
            response_headers.append(("Content-Type", "application/json"))
        response_headers.append(("Content-Length", str(len(payload))))
        start_response(f"{reply.status_code} {_REASONS.get(reply.status_code, 'Status')}", response_headers)
        return [payload]


def _discard(stream: Any, length: int) -> None:
    while length > 0:
        chunk = stream.read(min(length, 64 * 1024))
        if not chunk:
            return
        length -= len(chunk)


def _json(status: int, body: dict[str, Any]) -> HttpReply:
    return HttpReply(status, {"content-type": "application/json"}, json.dumps(body))


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
        if self.server.log_requests:  # type: ignore[attr-defined]
            super().log_message(format, *args)


def make_http_server(server: LocalServer, host: str = "127.0.0.1", port: int = 8000, log_requests: bool = True):
    """A WSGI server on host:port (port 0: any free port; read it from `.server_port`)."""
    httpd = make_server(host, port, server.wsgi_app, handler_class=_QuietHandler)
    httpd.log_requests = log_requests  # type: ignore[attr-defined]
    server.base_url = f"http://{host}:{httpd.server_port}"
    return httpd


def utc_now() -> datetime:
    return datetime.now(timezone.utc).replace(microsecond=0)


def start_moment(clock: str, start: str | None, sample_book: int) -> datetime:
    """Where `arrears serve`'s clock starts: a real clock at the real now; a virtual one at --start, else
    at the sample book's start (1 Sep 2026) when there is one, else now."""
    if clock == "real":
        if start:
            raise ValueError("--start is for --clock virtual: a real clock starts at the real now")
        return utc_now()
    if start:
        return parse_iso(start)
    from arrears_local.portfolio import DEMO_START

    return DEMO_START if sample_book else utc_now()
