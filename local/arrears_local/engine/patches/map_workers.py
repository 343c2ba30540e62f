"""Map (inline and distributed) workers are flows of their own, counted like Parallel branches: each
worker thread counts while it runs; the state awaiting the jobs is re-credited by the one that ends them."""

from __future__ import annotations

import threading
from typing import Any

from ..patch import Patch, Target

_ITERATION = "moto.stepfunctions.parser.asl.component.state.exec.state_map.iteration"


class MapWorkers(Patch):
    NAME = "map_workers"
    TARGETS = (
        Target(f"{_ITERATION}.inline_iteration_component", "InlineIterationComponent._launch_worker",
               ("self", "env", "eval_input", "job_pool")),
        Target(f"{_ITERATION}.inline_iteration_component", "InlineIterationComponent._create_worker",
               ("self", "env", "eval_input", "job_pool")),
        Target(f"{_ITERATION}.job", "JobPool._notify_on_termination", ("self",)),
        Target(f"{_ITERATION}.job", "JobPool.await_jobs", ("self",)),
        Target(f"{_ITERATION}.job", "JobPool._is_terminated", ("self",)),
        Target("moto.stepfunctions.parser.utils", "TMP_THREADS"),
    )

    def install(self) -> None:
        from moto.stepfunctions.parser.asl.component.state.exec.state_map.iteration import (
            inline_iteration_component as iic,
        )
        from moto.stepfunctions.parser.asl.component.state.exec.state_map.iteration.job import JobPool
        from moto.stepfunctions.parser.utils import TMP_THREADS

        engine = self.engine
        orig_notify_term = JobPool._notify_on_termination
        orig_await = JobPool.await_jobs

        def launch_worker(comp: Any, env: Any, eval_input: Any, job_pool: Any) -> Any:
            worker = comp._create_worker(env=env, eval_input=eval_input, job_pool=job_pool)

            def run() -> None:
                try:
                    worker.eval()
                finally:
                    engine._dec()

            thread = threading.Thread(target=run, daemon=True)
            TMP_THREADS.append(thread)
            engine._inc()
            try:
                thread.start()
            except BaseException:
                engine._dec()
                raise
            return worker

        def notify_termination(pool: Any) -> None:
            orig_notify_term(pool)
            engine._join_signalled(pool, pool._is_terminated)

        def await_jobs(pool: Any) -> None:
            engine._join_wait(pool, pool._is_terminated, lambda: orig_await(pool))

        self.set(iic.InlineIterationComponent, "_launch_worker", launch_worker)
        self.set(JobPool, "_notify_on_termination", notify_termination)
        self.set(JobPool, "await_jobs", await_jobs)
