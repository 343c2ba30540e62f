"""Limits an HTTP request body meets before anything parses it (pure; the webhooks and the API function share it).

A body is refused, with a 4xx and a machine-readable reason, when it is larger than the route allows,
is not UTF-8 (or starts with a byte-order mark, which no billing platform sends), or nests JSON
deeper than any request Arrears accepts. These are checked on the bytes, before a JSON parser (or a
signature check) could run out of stack or memory on them. docs/input-limits.md lists every limit.
"""

from __future__ import annotations

import base64
import binascii
import re
from typing import Any

# The webhooks route: the largest real Stripe or Chargebee invoice event is a few tens of KB.
WEBHOOK_MAX_BODY_BYTES = 256 * 1024
# The finance API: a 100,000-character policy source, JSON-escaped, fits with room to spare.
API_MAX_BODY_BYTES = 1024 * 1024
# Deeper than any request of either route (a Stripe invoice event nests about 8 levels).
MAX_JSON_DEPTH = 32

_UTF8_BOM = b"\xef\xbb\xbf"
# A JSON string (an unterminated one runs to the end, so the scan stays linear) or a bracket.
_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"?|[\[\]{}]', re.DOTALL)


class BodyRefused(Exception):
    """A request body refused before parsing; `status_code` is 400 or 413."""

    def __init__(self, status_code: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.code = code
        self.message = message


def raw_body(event: dict[str, Any]) -> bytes:
    """The request body's bytes from an API Gateway proxy event, undecoded (base64 when API Gateway says so)."""
    body = event.get("body") or ""
    if not event.get("isBase64Encoded"):
        return body.encode("utf-8", "surrogatepass") if isinstance(body, str) else bytes(body)
    try:
        return base64.b64decode(body, validate=True)
    except (binascii.Error, ValueError):
        raise BodyRefused(400, "invalid_body", "the body is not valid base64") from None


def checked_text(body: bytes, max_bytes: int, max_depth: int = MAX_JSON_DEPTH) -> str:
    """`body` as text, once it is within `max_bytes`, UTF-8 without a byte-order mark, and nests JSON
    arrays and objects at most `max_depth` deep; otherwise BodyRefused."""
    if len(body) > max_bytes:
        raise BodyRefused(413, "body_too_large", f"the body is {len(body)} bytes; at most {max_bytes} are accepted")
    if body.startswith(_UTF8_BOM):
        raise BodyRefused(400, "invalid_encoding", "the body starts with a byte-order mark; send UTF-8 without one")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as error:
        raise BodyRefused(400, "invalid_encoding", f"the body is not UTF-8 (byte {error.start} is not valid)") from None
    depth = json_depth(text)
    if depth > max_depth:
        raise BodyRefused(400, "too_deep", f"the body nests {depth} levels deep; at most {max_depth} are accepted")
    return text


def json_depth(text: str) -> int:
    """How deep arrays and objects nest in a JSON text (brackets inside strings do not count); no parsing,
    so it cannot recurse. Malformed JSON gets a number too: the parser refuses it afterwards."""
    deepest = depth = 0
    for token in _TOKEN.findall(text):
        if token in ("[", "{"):
            depth += 1
            deepest = max(deepest, depth)
        elif token in ("]", "}"):
            depth = max(0, depth - 1)
    return deepest
