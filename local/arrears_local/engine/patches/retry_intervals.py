"""Retry intervals in virtual time: moto's retrier calls time.sleep(interval). Each interval becomes a
virtual wait parked until now+interval and released in time order by the driver, like a Wait state.
(Jumping the global clock forward instead would shift the time of every other concurrent execution.)
Costs no wall time."""

from __future__ import annotations

import datetime as _dt
import threading
import time
from collections.abc import Callable
from typing import Any

from ..patch import Patch, Target
from ..waiters import Waiter

_RETRIER = "moto.stepfunctions.parser.asl.component.common.retry.retrier_decl"


class _VirtualTimeModule:
    """Stand-in for the ``time`` module inside moto's retrier: sleep() is virtual."""

    def __init__(self, sleep: Callable[[float], None]):
        self.sleep = sleep

    def __getattr__(self, name: str) -> Any:
        return getattr(time, name)


class RetryIntervals(Patch):
    NAME = "retry_intervals"
    TARGETS = (
        Target(_RETRIER, "RetrierDecl._eval_body", ("self", "env")),
        Target(_RETRIER, "time"),  # the module-level `import time` whose sleep() the retrier calls
    )

    def install(self) -> None:
        from moto.stepfunctions.parser.asl.component.common.retry import retrier_decl

        engine = self.engine
        tls = threading.local()  # the env whose retrier is sleeping in this thread
        orig_retrier_body = retrier_decl.RetrierDecl._eval_body

        def retrier_body(r: Any, env: Any) -> None:
            tls.retry_env = env
            try:
                orig_retrier_body(r, env)
            finally:
                tls.retry_env = None

        def retry_sleep(seconds: float) -> None:
            env = getattr(tls, "retry_env", None)
            if env is None or seconds <= 0 or not env.is_running():
                return
            due = engine.now() + _dt.timedelta(seconds=seconds)
            engine._park(Waiter(due, env, None, "retry"), env.is_running)

        self.set(retrier_decl.RetrierDecl, "_eval_body", retrier_body)
        self.set(retrier_decl, "time", _VirtualTimeModule(retry_sleep))
