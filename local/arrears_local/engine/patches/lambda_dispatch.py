"""In-process Lambda: registered functions run their Python handler in the calling thread.
LambdaFunction.invoke is the common path of boto3 Invoke, Step Functions tasks and event-source mappings
(DynamoDB streams, SQS, SNS); the no-Docker backend's invoke() only echoes the payload, so it is
redirected to the regular backend path for registered names."""

from __future__ import annotations

from typing import Any

from ..lambdas import function_name_of
from ..patch import Patch, Target

_INVOKE_PARAMS = ("self", "function_name", "qualifier", "body", "headers", "response_headers")


class LambdaDispatch(Patch):
    NAME = "lambda_dispatch"
    TARGETS = (
        Target("moto.awslambda.models", "LambdaFunction.invoke",
               ("self", "body", "request_headers", "response_headers")),
        Target("moto.awslambda.models", "LambdaBackend.invoke", _INVOKE_PARAMS),
        Target("moto.awslambda_simple.models", "LambdaSimpleBackend.invoke", _INVOKE_PARAMS),
    )

    def install(self) -> None:
        from moto.awslambda.models import LambdaBackend, LambdaFunction
        from moto.awslambda_simple.models import LambdaSimpleBackend

        engine = self.engine
        orig_fn_invoke = LambdaFunction.invoke
        orig_simple_invoke = LambdaSimpleBackend.invoke

        def fn_invoke(fn: Any, body: Any, request_headers: Any, response_headers: Any) -> Any:
            entry = engine._lambdas.get(fn.function_name)
            if entry is None:
                return orig_fn_invoke(fn, body, request_headers, response_headers)
            return engine._invoke_handler(entry, body, request_headers, response_headers)

        def simple_invoke(backend: Any, function_name: str, qualifier: Any, body: Any,
                          headers: Any, response_headers: Any) -> Any:
            if function_name_of(function_name) in engine._lambdas:
                return LambdaBackend.invoke(backend, function_name, qualifier, body, headers,
                                            response_headers)
            return orig_simple_invoke(backend, function_name, qualifier, body, headers,
                                      response_headers)

        self.set(LambdaFunction, "invoke", fn_invoke)
        self.set(LambdaSimpleBackend, "invoke", simple_invoke)
