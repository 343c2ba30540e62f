"""Registered Lambda functions: the context object handlers get and the error payload they answer."""

from __future__ import annotations

import io
import json
import traceback
import uuid
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


class LambdaContext:
    """The subset of the Lambda Python runtime's context object that handlers use."""

    def __init__(self, function_name: str, function_arn: str, memory_mb: int, timeout_s: int):
        self.function_name = function_name
        self.function_version = "$LATEST"
        self.invoked_function_arn = function_arn
        self.memory_limit_in_mb = memory_mb
        self.aws_request_id = str(uuid.uuid4())
        self.log_group_name = f"/aws/lambda/{function_name}"
        self.log_stream_name = f"local/{self.aws_request_id}"
        self._timeout_ms = int(timeout_s) * 1000

    def get_remaining_time_in_millis(self) -> int:
        # Virtual time does not advance while a handler runs.
        return self._timeout_ms


@dataclass
class LambdaEntry:
    name: str
    arn: str
    handler: Callable[[dict, Any], Any]
    memory_mb: int
    timeout_s: int


def dummy_zip() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("lambda_function.py", "def handler(event, context):\n    return event\n")
    return buf.getvalue()


def function_name_of(name_or_arn: str) -> str:
    # "fn", "fn:qualifier", "arn:aws:lambda:r:acct:function:fn[:qualifier]", "acct:function:fn"
    if name_or_arn.startswith("arn:"):
        parts = name_or_arn.split(":")
        return parts[6] if len(parts) > 6 else name_or_arn
    parts = name_or_arn.split(":")
    if len(parts) >= 3 and parts[1] == "function":
        return parts[2]
    return parts[0]


def function_error(response_headers: dict, ctx: LambdaContext, error_type: str, message: str,
                   exc: BaseException) -> bytes:
    response_headers["x-amz-function-error"] = "Unhandled"
    return json.dumps({
        "errorMessage": message,
        "errorType": error_type,
        "requestId": ctx.aws_request_id,
        "stackTrace": traceback.format_list(traceback.extract_tb(exc.__traceback__)),
    }).encode("utf-8")
