"""Chaos: AWS calls made by the functions fail, with the answers AWS really gives (see engine/chaos.py).

Every botocore call reaches moto through moto's ``BotocoreStubber`` (a ``before-send`` handler). This
patch stands in front of it: for a call made inside a Lambda invocation it may answer the service's
throttling or 5xx error instead (botocore parses it as from AWS), raise a read timeout before the call
is done, or let moto do the call and then raise a read timeout ("answer lost": botocore's retry repeats
a call that already happened, so a conditional write meets its own first attempt). The adapters' clients
retry in standard mode; their back-off sleeps are skipped and counted. Installed only in chaos mode."""

from __future__ import annotations

import json
import uuid
from typing import Any

from ..chaos import CONNECT_ERROR, LOST_ANSWER, READ_TIMEOUT, SERVICE_ERRORS
from ..patch import Patch, Target

_MESSAGES = {
    "ThrottlingException": "Rate exceeded",
    "ProvisionedThroughputExceededException": "The level of configured provisioned throughput for the table was "
                                              "exceeded. Consider increasing your provisioning level with the "
                                              "UpdateTable API.",
    "InternalServerError": "Internal server error",
    "TooManyRequestsException": "Maximum sending rate exceeded.",
    "InternalFailure": "The request processing has failed because of an unknown error, exception or failure.",
    "ServiceUnavailable": "Service is unable to handle request.",
    "SlowDown": "Please reduce your request rate.",
    "InternalError": "We encountered an internal error. Please try again.",
}
_JSON_TARGET_PREFIX = {"dynamodb": "com.amazonaws.dynamodb.v20120810#", "sfn": "", "ssm": ""}


def error_response(service: str, code: str) -> tuple[int, dict[str, str], bytes]:
    """The HTTP answer `service` gives for `code`, in its protocol (JSON, REST-JSON, REST-XML)."""
    status = dict(SERVICE_ERRORS[service])[code]
    request_id = str(uuid.uuid4())
    message = _MESSAGES.get(code, code)
    if service == "s3":
        body = (f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{code}</Code><Message>{message}</Message>'
                f"<RequestId>{request_id[:16].upper()}</RequestId></Error>").encode()
        return status, {"x-amz-request-id": request_id[:16].upper(), "Content-Type": "application/xml"}, body
    if service == "sesv2":
        return status, {"x-amzn-RequestId": request_id, "x-amzn-ErrorType": code,
                        "Content-Type": "application/json"}, json.dumps({"message": message}).encode()
    content_type = "application/x-amz-json-1.0" if service in ("dynamodb", "sfn") else "application/x-amz-json-1.1"
    body = json.dumps({"__type": _JSON_TARGET_PREFIX.get(service, "") + code, "message": message}).encode()
    return status, {"x-amzn-RequestId": request_id, "Content-Type": content_type}, body


class ChaosFaults(Patch):
    NAME = "chaos_faults"
    CHAOS = True
    WRITTEN_FOR = "moto 5.2.5"
    TARGETS = (
        Target("moto.core.botocore_stubber", "BotocoreStubber.__call__", ("self", "event_name", "request", "kwargs")),
        Target("moto.core.botocore_stubber", "MockRawResponse"),
        Target("botocore.endpoint", "time"),
    )

    def install(self) -> None:
        import botocore.endpoint
        from botocore.awsrequest import AWSResponse
        from botocore.exceptions import EndpointConnectionError, ReadTimeoutError
        from moto.core.botocore_stubber import BotocoreStubber, MockRawResponse

        state = self.engine.chaos
        original = BotocoreStubber.__call__

        def stubber_call(stubber: Any, event_name: str, request: Any, **kwargs: Any) -> Any:
            if not stubber.enabled:
                return original(stubber, event_name, request, **kwargs)
            _, service, operation = (event_name.split(".") + ["", ""])[:3]
            fault = state.fault_for(service)
            if fault is None:
                return original(stubber, event_name, request, **kwargs)
            state.count("fault", service, fault)
            if fault == READ_TIMEOUT:
                raise ReadTimeoutError(endpoint_url=request.url)
            if fault == CONNECT_ERROR:
                raise EndpointConnectionError(endpoint_url=request.url)
            if fault == LOST_ANSWER:
                original(stubber, event_name, request, **kwargs)
                raise ReadTimeoutError(endpoint_url=request.url)
            status, headers, body = error_response(service, fault)
            return AWSResponse(request.url, status, headers, MockRawResponse(body))

        class _VirtualTime:
            """botocore.endpoint's `time`: its retry back-off is counted, not slept (the clock is virtual)."""

            def __getattr__(self, name: str) -> Any:
                import time

                return getattr(time, name)

            @staticmethod
            def sleep(seconds: float) -> None:
                state.count("sdk_retries")

        self.set(BotocoreStubber, "__call__", stubber_call)
        self.set(botocore.endpoint, "time", _VirtualTime())
