"""ASL parse cache: moto re-parses the definition on every StartExecution. The parsed program is immutable
during evaluation (per-run state lives in Environment.heap/stack), so one tree is shared by all executions
of a definition. heap_key ids are assigned lazily and racily: they are pre-assigned, single-threaded."""

from __future__ import annotations

import threading
from typing import Any

from ..patch import Patch, Target


class AslParseCache(Patch):
    NAME = "asl_cache"
    SPEEDUP = True
    TARGETS = (
        Target("moto.stepfunctions.parser.backend.execution_worker",
               "ExecutionWorker._get_evaluation_entrypoint", ("self",)),
        Target("moto.stepfunctions.parser.asl.component.component", "Component"),
        Target("moto.stepfunctions.parser.asl.component.eval_component", "EvalComponent.heap_key", ("self",)),
    )

    def install(self) -> None:
        from moto.stepfunctions.parser.asl.component.component import Component
        from moto.stepfunctions.parser.asl.component.eval_component import EvalComponent
        from moto.stepfunctions.parser.backend.execution_worker import ExecutionWorker

        engine = self.engine
        cache: dict[str, Any] = {}
        lock = threading.Lock()
        orig_entry = ExecutionWorker._get_evaluation_entrypoint

        def worker_entry(w: Any) -> Any:
            definition = w._evaluation_details.state_machine_details.definition
            program = cache.get(definition)
            if program is None:
                with lock:  # concurrent starts: parse once
                    program = cache.get(definition)
                    if program is None:
                        program = orig_entry(w)
                        _prewarm_heap_keys(program, Component, EvalComponent)
                        cache[definition] = program
                        engine.stats["asl_parses"] += 1
            return program

        self.set(ExecutionWorker, "_get_evaluation_entrypoint", worker_entry)


def _prewarm_heap_keys(root: Any, component_cls: type, eval_cls: type) -> None:
    seen: set[int] = set()
    stack = [root]
    while stack:
        obj = stack.pop()
        if id(obj) in seen:
            continue
        seen.add(id(obj))
        if isinstance(obj, (list, tuple, set, frozenset)):
            stack.extend(obj)
        elif isinstance(obj, dict):
            stack.extend(obj.values())
        elif isinstance(obj, component_cls):
            if isinstance(obj, eval_cls):
                obj.heap_key  # noqa: B018  (assigns the lazy id now, single-threaded)
            stack.extend(getattr(obj, "__dict__", {}).values())
