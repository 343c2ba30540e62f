"""What the record keeps of a failure (pure): its type and a short message, never a stack trace or a file path.

A Step Functions Catch hands over `Cause`, for a Lambda error the JSON Lambda reports (errorMessage,
errorType, stackTrace with the deployment's file paths). The contact log is what auditors and the finance
API read, so it keeps only the type and the message's first line, paths replaced; the whole cause goes
to the function's log.
"""

from __future__ import annotations

import json
import re

MAX_MESSAGE_CHARS = 200
# /var/task/app.py, /opt/python/arrears/domain/dunning.py, C:\build\x.py: two or more path segments.
_PATH = re.compile(r"(?:[A-Za-z]:)?(?:[\\/][\w.@+-]+){2,}[\\/]?")


def failure_summary(error: str, cause: str) -> dict[str, str]:
    """{"error": the error's type, "message": a short message without paths} of a Catch's Error and Cause."""
    message = cause or ""
    try:
        reported = json.loads(message)
    except ValueError:
        reported = None
    if isinstance(reported, dict):
        message = str(reported.get("errorMessage") or reported.get("message") or "")
    lines = [line.strip() for line in message.splitlines() if line.strip()]
    first = _PATH.sub("<path>", lines[0] if lines else "")
    if len(first) > MAX_MESSAGE_CHARS:
        first = first[:MAX_MESSAGE_CHARS - 1] + "…"
    return {"error": _PATH.sub("<path>", error or "unknown")[:100], "message": first}
