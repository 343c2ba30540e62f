"""A state machine's top-level TimeoutSeconds in virtual time: moto joins the program thread with a
wall-clock timeout; here it is a virtual timer that sets the execution TIMED_OUT when due."""

from __future__ import annotations

import datetime as _dt
import threading
from typing import Any

from ..patch import Patch, Target


class ExecutionTimeout(Patch):
    NAME = "execution_timeout"
    TARGETS = (
        Target("moto.stepfunctions.parser.asl.component.program.program", "Program.eval", ("self", "env")),
        Target("moto.stepfunctions.parser.asl.component.eval_component", "EvalComponent.eval", ("self", "env")),
        Target("moto.stepfunctions.parser.asl.eval.environment", "Environment.set_timed_out", ("self",)),
        Target("moto.stepfunctions.parser.utils", "TMP_THREADS"),
    )

    def install(self) -> None:
        from moto.stepfunctions.parser.asl.component.eval_component import EvalComponent
        from moto.stepfunctions.parser.asl.component.program.program import Program
        from moto.stepfunctions.parser.utils import TMP_THREADS

        engine = self.engine
        orig_program_eval = Program.eval

        def program_eval(prog: Any, env: Any) -> None:
            timeout = prog.timeout_seconds.timeout_seconds if prog.timeout_seconds else None
            if not timeout:
                return orig_program_eval(prog, env)
            timer = engine._schedule(
                engine.now() + _dt.timedelta(seconds=timeout),
                lambda: env.is_running() and env.set_timed_out())
            try:
                env.next_state_name = prog.start_at.start_at_name
                worker = threading.Thread(target=EvalComponent.eval, args=(prog, env),
                                          daemon=True)
                TMP_THREADS.append(worker)
                worker.start()
                worker.join()
            finally:
                engine._cancel(timer)

        self.set(Program, "eval", program_eval)
