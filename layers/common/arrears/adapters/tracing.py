"""X-Ray tracing in the handlers, loaded only when it is on (issue #19).

Lambda's active tracing (`Tracing: Active` in template.yaml) records every invocation, its duration and
its errors without any SDK in the function. Powertools' Tracer adds a subsegment per AWS call, but it
imports the X-Ray SDK (and builds its botocore clients) when it is created, even with tracing disabled:
about one `import boto3` of every cold start. So each handler wraps itself with `traced`, which looks at
the function's settings at its first invocation and creates the Tracer only when they turn it on
(`POWERTOOLS_TRACE_DISABLED=false`: the template's TraceAwsCalls parameter); otherwise the handler runs
as it is, and the SDK is never imported.
"""

from __future__ import annotations

import functools
from typing import Any, Callable

from arrears.adapters.settings import get_settings

Handler = Callable[[Any, Any], Any]


def traced(handler: Handler) -> Handler:
    """`handler`, with Powertools' `Tracer().capture_lambda_handler` around it when tracing is on."""
    chosen: Handler | None = None

    @functools.wraps(handler)
    def invoke(event: Any, context: Any) -> Any:
        nonlocal chosen
        if chosen is None:
            chosen = handler if get_settings().trace_disabled else _tracer().capture_lambda_handler(handler)
        return chosen(event, context)

    return invoke


@functools.lru_cache(maxsize=1)
def _tracer() -> Any:
    from aws_lambda_powertools import Tracer

    return Tracer()
