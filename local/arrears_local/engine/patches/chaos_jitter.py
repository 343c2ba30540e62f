"""Chaos: Step Functions' retry jitter (JitterStrategy FULL) drawn from the chaos seed, so a seed replays exactly.

moto draws a retried task's jittered interval from the process-wide ``random``; under chaos those intervals
decide when a retry lands against other events (a payment, another invoice's message), so they come from
the seed, keyed by the failed invocation of that execution's thread (engine/chaos.py). Installed only in
chaos mode."""

from __future__ import annotations

from typing import Any

from ..patch import Patch, Target

_JITTER = "moto.stepfunctions.parser.asl.component.common.retry.jitter_strategy_decl"


class ChaosJitter(Patch):
    NAME = "chaos_jitter"
    CHAOS = True
    TARGETS = (Target(_JITTER, "random"), Target(_JITTER, "JitterStrategyDecl._eval_body", ("self", "env")))

    def install(self) -> None:
        import random

        from moto.stepfunctions.parser.asl.component.common.retry import jitter_strategy_decl

        state = self.engine.chaos

        class _SeededRandom:
            def __getattr__(self, name: str) -> Any:
                return getattr(random, name)

            @staticmethod
            def uniform(a: float, b: float) -> float:
                return state.rng("jitter", state.last_invocation()).uniform(a, b)

        self.set(jitter_strategy_decl, "random", _SeededRandom())
