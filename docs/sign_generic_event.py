#!/usr/bin/env python3
"""Sign and POST one invoice event to Arrears' generic webhook (docs/webhooks.md). Standard library only.

    ARREARS_WEBHOOK_SECRET=... python3 docs/sign_generic_event.py https://<api>/prod/webhooks/generic event.json

Against `arrears serve` (a URL on 127.0.0.1 or localhost) it signs with the server's clock, which may be
virtual, read from its GET /_local/clock; the local secret is arrears_local_generic_demo_secret:

    ARREARS_WEBHOOK_SECRET=arrears_local_generic_demo_secret \\
        python3 docs/sign_generic_event.py http://127.0.0.1:8000/webhooks/generic docs/generic_event.json
"""

import hashlib
import hmac
import json
import os
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from datetime import datetime


def signature_header(body: bytes, secret: str, timestamp: int) -> str:
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def signing_time(url: str) -> int:
    """Now, in Unix seconds. Only for `arrears serve` on this machine: the time its clock shows."""
    parts = urllib.parse.urlsplit(url)
    if parts.hostname not in ("127.0.0.1", "localhost", "::1"):
        return int(time.time())
    try:
        with urllib.request.urlopen(f"{parts.scheme}://{parts.netloc}/_local/clock", timeout=10) as response:
            now = json.loads(response.read())["now"]
        return int(datetime.fromisoformat(now.replace("Z", "+00:00")).timestamp())
    except (urllib.error.URLError, OSError, ValueError, KeyError, TypeError):
        return int(time.time())  # not arrears serve: the real time


def main(url: str, path: str) -> int:
    secret = os.environ.get("ARREARS_WEBHOOK_SECRET")
    if not secret:
        print("set ARREARS_WEBHOOK_SECRET to the secret stored for the generic feed", file=sys.stderr)
        return 2
    body = open(path, "rb").read()  # send exactly the bytes you signed
    request = urllib.request.Request(url, data=body, method="POST", headers={
        "Content-Type": "application/json",
        "Arrears-Signature": signature_header(body, secret, signing_time(url)),
    })
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            print(response.status, response.read().decode())
            return 0
    except urllib.error.HTTPError as error:  # 4xx: fix the event; 5xx: retry later with backoff
        print(error.code, error.read().decode())
        return 1 if error.code < 500 else 75


if __name__ == "__main__":
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    sys.exit(main(*sys.argv[1:3]))
