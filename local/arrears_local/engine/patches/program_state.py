"""Program state changes (StopExecution, failure, timeout, end) wake the env's parked waiters. moto
propagates set_stop to child frames via frame.set_stop(), so the patched method runs for each frame too.

An aborted execution stays aborted: moto's set_error()/set_timed_out() overwrite a ProgramStopped state
(e.g. when the task that was interrupted by the stop raises), which would turn ABORTED into FAILED."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..patch import Patch, Target

_ENV = "moto.stepfunctions.parser.asl.eval.environment"


class ProgramState(Patch):
    NAME = "program_state"
    TARGETS = (
        Target(_ENV, "Environment.set_stop", ("self", "stop_date", "cause", "error")),
        Target(_ENV, "Environment.set_error", ("self", "error")),
        Target(_ENV, "Environment.set_timed_out", ("self",)),
        Target(_ENV, "Environment.set_ended", ("self",)),
        Target(_ENV, "Environment.is_running", ("self",)),
        Target("moto.stepfunctions.parser.asl.eval.program_state", "ProgramStopped"),
    )

    def install(self) -> None:
        from moto.stepfunctions.parser.asl.eval.environment import Environment
        from moto.stepfunctions.parser.asl.eval.program_state import ProgramStopped

        for name in ("set_stop", "set_error", "set_timed_out", "set_ended"):
            self.set(Environment, name, _wake_on_state_change(
                self.engine, getattr(Environment, name),
                keep_stopped=name in ("set_error", "set_timed_out"), stopped_cls=ProgramStopped))


def _wake_on_state_change(engine: Any, orig: Callable[..., Any], *, keep_stopped: bool,
                          stopped_cls: type) -> Callable[..., Any]:
    def wrapper(env: Any, *args: Any, **kwargs: Any) -> Any:
        if keep_stopped and isinstance(env._program_state, stopped_cls):
            return None
        result = orig(env, *args, **kwargs)
        if not env.is_running():
            engine._release_env(env)
        return result

    wrapper.__name__ = orig.__name__
    return wrapper
