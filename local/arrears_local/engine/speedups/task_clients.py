"""boto3 clients made by task states: one per (region, service) instead of one per Task (~10 ms each).
Every client is built with the same fixed config, and botocore clients are thread-safe."""

from __future__ import annotations

import sys
import threading
from typing import Any

from ..patch import Patch, Target

_EXEC = "moto.stepfunctions.parser.asl.component.state.exec"
_STATE_TASK = f"{_EXEC}.state_task"
_PARAMS = ("region", "service", "state_credentials")
# Every module that imports boto_client_for by name (moto 5.2.5); install() finds those loaded by identity.
_USERS = (f"{_STATE_TASK}.lambda_eval_utils",) + tuple(f"{_STATE_TASK}.service.state_task_service_{s}" for s in (
    "aws_sdk", "batch", "dynamodb", "ecs", "events", "glue", "sfn", "sns", "sqs", "unsupported")) + (
    f"{_EXEC}.state_map.item_reader.eval.resource_eval_s3",
    f"{_EXEC}.state_map.result_writer.resource_eval.resource_eval_s3")


class TaskClients(Patch):
    NAME = "task_clients"
    SPEEDUP = True
    TARGETS = (
        Target("moto.stepfunctions.parser.asl.utils.boto_client", "boto_client_for", _PARAMS),
        Target(f"{_STATE_TASK}.service", "state_task_service_factory"),  # loads every service module
    ) + tuple(Target(user, "boto_client_for", _PARAMS) for user in _USERS)

    def install(self) -> None:
        from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import (
            state_task_service_factory,  # noqa: F401  (loads every service module)
        )
        from moto.stepfunctions.parser.asl.utils import boto_client

        clients: dict[tuple[str, str], Any] = {}
        lock = threading.Lock()
        orig_client_for = boto_client.boto_client_for

        def cached_client_for(region: str, service: str, state_credentials: Any = None) -> Any:
            key = (region, service)
            c = clients.get(key)
            if c is None:
                with lock:
                    c = clients.get(key)
                    if c is None:
                        c = orig_client_for(region=region, service=service,
                                            state_credentials=state_credentials)
                        clients[key] = c
            return c

        for mod in list(sys.modules.values()):
            if (getattr(mod, "__name__", "").startswith("moto.stepfunctions.parser")
                    and getattr(mod, "boto_client_for", None) is orig_client_for):
                self.set(mod, "boto_client_for", cached_client_for)
