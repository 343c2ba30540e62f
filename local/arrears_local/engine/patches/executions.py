"""Execution lifecycle: +1 runnable flow when an execution starts (in the caller's thread, so that a
wait_idle() right after StartExecution sees it), -1 when its thread ends; a crash inside moto is kept
for wait_idle() to raise.

SyncExecutionWorker (StartSyncExecution) overrides start() and runs in the caller's thread; it is not
registered, so its end is not counted either."""

from __future__ import annotations

from typing import Any

from ..patch import Patch, Target

_WORKER = "moto.stepfunctions.parser.backend.execution_worker"


class ExecutionLifecycle(Patch):
    NAME = "execution_lifecycle"
    TARGETS = (
        Target(_WORKER, "ExecutionWorker.start", ("self",)),
        Target(_WORKER, "ExecutionWorker._execution_logic", ("self",)),
        # moto appends every thread it starts here and never drops them: the engine prunes it.
        Target("moto.stepfunctions.parser.utils", "TMP_THREADS"),
    )

    def install(self) -> None:
        from moto.stepfunctions.parser.backend.execution_worker import ExecutionWorker
        from moto.stepfunctions.parser.utils import TMP_THREADS

        engine = self.engine
        engine._tmp_threads = TMP_THREADS
        orig_start = ExecutionWorker.start
        orig_logic = ExecutionWorker._execution_logic

        def worker_start(w: Any) -> None:
            with engine._cond:
                engine._workers.add(w)
                engine._active += 1
                engine.stats["executions_started"] += 1
            try:
                orig_start(w)
            except BaseException:
                engine._end_worker(w)
                raise

        def worker_logic(w: Any) -> None:
            try:
                orig_logic(w)
            except BaseException as e:  # moto catches ASL failures; this is a crash
                with engine._cond:
                    engine._errors.append(e)
            finally:
                engine._end_worker(w)

        self.set(ExecutionWorker, "start", worker_start)
        self.set(ExecutionWorker, "_execution_logic", worker_logic)
