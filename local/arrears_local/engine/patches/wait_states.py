"""Wait states in virtual time: park until the virtual clock reaches the due time, or until the
execution stops (StopExecution goes through Environment.set_stop, see program_state.py).

Timestamp waits keep the exact target (moto truncates the delta to whole seconds, which would drift
once the virtual clock carries sub-second retry jitter)."""

from __future__ import annotations

import datetime as _dt
import threading
from typing import Any

from ..patch import Patch, Target
from ..waiters import UTC, Waiter

_WAIT = "moto.stepfunctions.parser.asl.component.state.wait.wait_function"


class WaitStates(Patch):
    NAME = "wait_states"
    TARGETS = (
        Target(f"{_WAIT}.timestamp", "Timestamp._get_wait_seconds", ("self", "env")),
        Target(f"{_WAIT}.timestamp", "Timestamp._from_timestamp_string", ("timestamp",)),
        Target(f"{_WAIT}.timestamp", "Timestamp._create_failure_event", ("self", "env", "timestamp_str")),
        Target(f"{_WAIT}.wait_function", "WaitFunction._wait_interval", ("self", "env", "wait_seconds")),
        Target("moto.stepfunctions.parser.asl.component.common.error_name.failure_event",
               "FailureEventException"),
        Target("moto.stepfunctions.parser.asl.eval.environment", "Environment.is_running", ("self",)),
    )

    def install(self) -> None:
        from moto.stepfunctions.parser.asl.component.common.error_name.failure_event import (
            FailureEventException,
        )
        from moto.stepfunctions.parser.asl.component.state.wait.wait_function.timestamp import (
            Timestamp,
        )
        from moto.stepfunctions.parser.asl.component.state.wait.wait_function.wait_function import (
            WaitFunction,
        )

        engine = self.engine
        tls = threading.local()  # the exact due time, from _get_wait_seconds to _wait_interval

        def ts_get_wait_seconds(wf: Any, env: Any) -> int:
            wf.string.eval(env=env)
            raw = env.stack.pop()
            ts = wf._from_timestamp_string(timestamp=raw)
            if ts is None:
                raise FailureEventException(wf._create_failure_event(env, raw))
            tls.wait_due = ts.replace(tzinfo=UTC)
            return int((tls.wait_due - engine.now()).total_seconds())

        def wait_interval(wf: Any, env: Any, wait_seconds: int) -> None:
            due = getattr(tls, "wait_due", None)
            tls.wait_due = None
            now = engine.now()
            if due is None:
                due = now + _dt.timedelta(seconds=wait_seconds)
            if due <= now:
                return
            engine._park(Waiter(due, env, None, "wait"), env.is_running)

        self.set(Timestamp, "_get_wait_seconds", ts_get_wait_seconds)
        self.set(WaitFunction, "_wait_interval", wait_interval)
