"""`arrears serve`'s `/console/`: the finance team's console (console/, built into console/dist by `make setup`).

Static files only, from console/dist and nothing outside it, with the same security headers CloudFront adds in
AWS (template.yaml's ConsoleHeadersPolicy). `/console/config.json` tells the page it runs locally: same origin, no
sign-in, the finance API answered as serve's local principal (docs/console.md).
"""

from __future__ import annotations

import json
import mimetypes
from pathlib import Path

from arrears_local.runtime import HttpReply, project_root

PREFIX = "/console"
# The policy the console is built for: scripts, styles and requests to its own origin only (AWS adds the API's
# and Cognito's origins to connect-src).
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; connect-src 'self'; "
       "frame-ancestors 'none'; base-uri 'none'; form-action 'self'")
HEADERS = {"content-security-policy": CSP, "x-content-type-options": "nosniff", "referrer-policy": "same-origin",
           "x-frame-options": "DENY", "cache-control": "no-cache"}
LOCAL_CONFIG = {"local": True, "apiUrl": ""}
TYPES = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8", ".html": "text/html; charset=utf-8",
         ".json": "application/json", ".svg": "image/svg+xml", ".png": "image/png", ".ico": "image/x-icon"}


def dist() -> Path:
    return project_root() / "console" / "dist"


def is_console(path: str) -> bool:
    return path == PREFIX or path.startswith(PREFIX + "/")


def console_file(method: str, path: str) -> HttpReply:
    """GET /console/...: a file of the built console; /console/ is its index.html."""
    if method not in ("GET", "HEAD"):
        return _error(405, "method_not_allowed", "the console's files are read with GET")
    if path == PREFIX:
        return HttpReply(308, {"location": PREFIX + "/", **HEADERS}, "")
    relative = path.removeprefix(PREFIX + "/") or "index.html"
    if relative == "config.json":
        return HttpReply(200, {"content-type": "application/json", **HEADERS}, json.dumps(LOCAL_CONFIG))
    root = dist().resolve()
    if not (root / "index.html").is_file():
        return _error(404, "console_not_built", "the console is not built: run `make setup` (or `npm run build` in console/)")
    target = (root / relative).resolve()
    if not target.is_relative_to(root) or not target.is_file():
        return _error(404, "unknown_file", "no such file in the console")
    kind = TYPES.get(target.suffix) or mimetypes.guess_type(target.name)[0] or "application/octet-stream"
    return HttpReply(200, {"content-type": kind, **HEADERS}, target.read_bytes())


def _error(status: int, code: str, message: str) -> HttpReply:
    return HttpReply(status, {"content-type": "application/json", **HEADERS}, json.dumps({"error": code, "message": message}))
