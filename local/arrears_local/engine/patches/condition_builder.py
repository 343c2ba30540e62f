"""boto3's DynamoDB resource turns Key()/Attr() conditions into expressions with one placeholder counter
per client (ConditionExpressionBuilder, reset on every call). A Lambda container runs one request at a
time; here executions share the handlers' cached clients from many threads, and two concurrent calls
could swap placeholders ("Query condition missed key schema element: pk", then a failed webhook or
step). One call at a time builds them, as in Lambda (the build is pure Python and short)."""

from __future__ import annotations

import threading
from typing import Any

from ..patch import Patch, Target


class ConditionBuilderLock(Patch):
    NAME = "condition_builder_lock"
    WRITTEN_FOR = "boto3 1.44.5"
    TARGETS = (
        Target("boto3.dynamodb.transform", "TransformationInjector.inject_condition_expressions",
               ("self", "params", "model", "kwargs")),
    )

    def install(self) -> None:
        from boto3.dynamodb.transform import TransformationInjector

        orig_inject = TransformationInjector.inject_condition_expressions
        inject_lock = threading.Lock()

        def inject_condition_expressions(injector: Any, params: Any, model: Any, **kwargs: Any) -> Any:
            with inject_lock:
                return orig_inject(injector, params, model, **kwargs)

        self.set(TransformationInjector, "inject_condition_expressions", inject_condition_expressions)
