#!/usr/bin/env python3
"""Sign and POST one invoice event to Arrears' generic webhook (docs/webhooks.md). Standard library only.

    ARREARS_WEBHOOK_SECRET=... python3 docs/sign_generic_event.py https://<api>/prod/webhooks/generic event.json
"""

import hashlib
import hmac
import os
import sys
import time
import urllib.request


def signature_header(body: bytes, secret: str, timestamp: int) -> str:
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def main(url: str, path: str) -> int:
    body = open(path, "rb").read()  # send exactly the bytes you signed
    request = urllib.request.Request(url, data=body, method="POST", headers={
        "Content-Type": "application/json",
        "Arrears-Signature": signature_header(body, os.environ["ARREARS_WEBHOOK_SECRET"], int(time.time())),
    })
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            print(response.status, response.read().decode())
            return 0
    except urllib.error.HTTPError as error:  # 4xx: fix the event; 5xx: retry later with backoff
        print(error.code, error.read().decode())
        return 1 if error.code < 500 else 75


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:3]))
