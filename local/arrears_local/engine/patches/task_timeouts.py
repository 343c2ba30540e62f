"""Task states without a wall-clock bound: moto runs the task in a helper thread and waits for it with the
state's TimeoutSeconds in *wall* time. In virtual time a handler takes no time, so that bound is lifted
(the Timeout read made first in this thread gets the "no timeout" value); task-token waits still honour
TimeoutSeconds virtually (task_tokens.py).

Also: a task interrupted by StopExecution (a token wait woken by the stop) is not recorded as a task
failure; the state ends quietly, as a Wait state does."""

from __future__ import annotations

import threading
from typing import Any

from ..patch import Patch, Target

_TIMEOUT = "moto.stepfunctions.parser.asl.component.common.timeouts.timeout"


class TaskTimeouts(Patch):
    NAME = "task_timeouts"
    TARGETS = (
        Target("moto.stepfunctions.parser.asl.component.state.exec.execute_state",
               "ExecutionState._evaluate_with_timeout", ("self", "env")),
        Target(_TIMEOUT, "Timeout._eval_body", ("self", "env")),
        Target(_TIMEOUT, "TimeoutSeconds.DEFAULT_TIMEOUT_SECONDS"),
        Target("moto.stepfunctions.parser.asl.eval.program_state", "ProgramStopped"),
    )

    def install(self) -> None:
        from moto.stepfunctions.parser.asl.component.common.timeouts.timeout import (
            Timeout,
            TimeoutSeconds,
        )
        from moto.stepfunctions.parser.asl.component.state.exec.execute_state import ExecutionState
        from moto.stepfunctions.parser.asl.eval.program_state import ProgramStopped

        tls = threading.local()  # this thread's next Timeout read is the task's wall-clock bound
        orig_with_timeout = ExecutionState._evaluate_with_timeout
        orig_timeout_body = Timeout._eval_body

        def evaluate_with_timeout(state: Any, env: Any) -> None:
            tls.unbounded_task = True
            try:
                orig_with_timeout(state, env)
            except Exception:
                if isinstance(env._program_state, ProgramStopped):
                    return
                raise
            finally:
                tls.unbounded_task = False

        def timeout_body(t: Any, env: Any) -> None:
            if getattr(tls, "unbounded_task", False):
                tls.unbounded_task = False
                env.stack.append(TimeoutSeconds.DEFAULT_TIMEOUT_SECONDS)
                return
            orig_timeout_body(t, env)

        self.set(ExecutionState, "_evaluate_with_timeout", evaluate_with_timeout)
        self.set(Timeout, "_eval_body", timeout_body)
