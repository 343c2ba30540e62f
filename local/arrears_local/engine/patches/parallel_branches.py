"""Parallel branches are flows of their own: each branch thread counts as runnable while it runs; the
state waiting for the branches stops counting and is re-credited by the branch that completes the pool
(LocalEngine._join_wait / _join_signalled)."""

from __future__ import annotations

from typing import Any

from ..patch import Patch, Target

_PARALLEL = "moto.stepfunctions.parser.asl.component.state.exec.state_parallel"


class ParallelBranches(Patch):
    NAME = "parallel_branches"
    TARGETS = (
        Target(f"{_PARALLEL}.branch_worker", "BranchWorker.start", ("self",)),
        Target(f"{_PARALLEL}.branch_worker", "BranchWorker._thread_routine", ("self",)),
        Target(f"{_PARALLEL}.branches_decl", "BranchWorkerPool.on_terminated", ("self", "env")),
        Target(f"{_PARALLEL}.branches_decl", "BranchWorkerPool.wait", ("self",)),
    )

    def install(self) -> None:
        from moto.stepfunctions.parser.asl.component.state.exec.state_parallel.branch_worker import (
            BranchWorker,
        )
        from moto.stepfunctions.parser.asl.component.state.exec.state_parallel.branches_decl import (
            BranchWorkerPool,
        )

        engine = self.engine
        orig_bw_start = BranchWorker.start
        orig_bw_routine = BranchWorker._thread_routine
        orig_pool_terminated = BranchWorkerPool.on_terminated
        orig_pool_wait = BranchWorkerPool.wait

        def bw_start(bw: Any) -> None:
            engine._inc()
            try:
                orig_bw_start(bw)
            except BaseException:
                engine._dec()
                raise

        def bw_routine(bw: Any) -> None:
            try:
                orig_bw_routine(bw)
            finally:
                engine._dec()

        def pool_terminated(pool: Any, env: Any) -> None:
            orig_pool_terminated(pool, env)
            engine._join_signalled(pool, pool._termination_event.is_set)

        def pool_wait(pool: Any) -> None:
            engine._join_wait(pool, pool._termination_event.is_set, lambda: orig_pool_wait(pool))

        self.set(BranchWorker, "start", bw_start)
        self.set(BranchWorker, "_thread_routine", bw_routine)
        self.set(BranchWorkerPool, "on_terminated", pool_terminated)
        self.set(BranchWorkerPool, "wait", pool_wait)
