"""``.waitForTaskToken`` in virtual time: park until SendTaskSuccess/Failure (CallbackEndpoint.notify),
StopExecution, or the task's TimeoutSeconds (TimeoutSecondsPath included) in virtual time -- the
workflow's waits are callback tasks whose timeout is how a wait ends. HeartbeatSeconds is not
virtualised (ignored). Other integration patterns (.sync) keep moto's code."""

from __future__ import annotations

import datetime as _dt
from typing import Any

from ..patch import Patch, Target
from ..waiters import Waiter

_TASK = "moto.stepfunctions.parser.asl.component.state.exec.state_task"
_CALLBACK = "moto.stepfunctions.parser.asl.eval.callback.callback"


class TaskTokens(Patch):
    NAME = "task_tokens"
    TARGETS = (
        Target(f"{_TASK}.service.state_task_service_callback",
               "StateTaskServiceCallback._eval_wait_for_task_token",
               ("self", "env", "timeout_seconds", "callback_endpoint", "heartbeat_endpoint")),
        Target(f"{_TASK}.service.resource", "ResourceCondition.WaitForTaskToken"),
        Target("moto.stepfunctions.parser.asl.component.common.timeouts.timeout",
               "TimeoutSeconds.DEFAULT_TIMEOUT_SECONDS"),
        Target(_CALLBACK, "CallbackEndpoint.notify", ("self", "outcome")),
        Target(_CALLBACK, "CallbackEndpoint.interrupt_all", ("self",)),
        Target(_CALLBACK, "CallbackEndpoint.get_outcome", ("self",)),
        Target(_CALLBACK, "CallbackOutcomeTimedOut"),
    )

    def install(self) -> None:
        from moto.stepfunctions.parser.asl.component.common.timeouts.timeout import TimeoutSeconds
        from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.resource import (
            ResourceCondition,
        )
        from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_callback import (
            StateTaskServiceCallback,
        )
        from moto.stepfunctions.parser.asl.eval.callback.callback import (
            CallbackEndpoint,
            CallbackOutcomeTimedOut,
        )

        engine = self.engine
        orig_wait_token = StateTaskServiceCallback._eval_wait_for_task_token

        def wait_for_task_token(st: Any, env: Any, timeout_seconds: Any, callback_endpoint: Any,
                                heartbeat_endpoint: Any) -> Any:
            if st.resource.condition != ResourceCondition.WaitForTaskToken:
                return orig_wait_token(st, env, timeout_seconds, callback_endpoint,
                                       heartbeat_endpoint)
            due = None
            if timeout_seconds and timeout_seconds < TimeoutSeconds.DEFAULT_TIMEOUT_SECONDS:
                due = engine.now() + _dt.timedelta(seconds=timeout_seconds)
            engine._park(
                Waiter(due, env, callback_endpoint, "token"),
                lambda: callback_endpoint.get_outcome() is None and env.is_running(),
            )
            outcome = callback_endpoint.get_outcome()
            if outcome is None:
                return CallbackOutcomeTimedOut(callback_id=callback_endpoint.callback_id)
            return outcome

        orig_notify = CallbackEndpoint.notify
        orig_interrupt = CallbackEndpoint.interrupt_all

        def endpoint_notify(ep: Any, outcome: Any) -> None:
            orig_notify(ep, outcome)
            engine._release_endpoint(ep)

        def endpoint_interrupt(ep: Any) -> None:
            orig_interrupt(ep)
            engine._release_endpoint(ep)

        self.set(StateTaskServiceCallback, "_eval_wait_for_task_token", wait_for_task_token)
        self.set(CallbackEndpoint, "notify", endpoint_notify)
        self.set(CallbackEndpoint, "interrupt_all", endpoint_interrupt)
