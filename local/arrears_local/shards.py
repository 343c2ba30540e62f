"""`arrears simulate --workers N`: the book's shards by customer (arrears.usecases.simulation_shards), simulated
in N processes at once, their summaries merged: the same figures and contacts as one process (a test checks it).

On Linux the workers are forked after the shards are made, so each reads its shard from the parent's memory
instead of receiving a pickled copy; elsewhere (spawn) the shard is sent to it.
"""

from __future__ import annotations

import multiprocessing
from concurrent.futures import ProcessPoolExecutor, as_completed
from datetime import datetime
from typing import Any, Callable

from arrears.domain.policy import Policy
from arrears.usecases.simulation_shards import SimulationSummary, simulate_shard

# The shards of the run in progress, for forked workers (set before the pool starts, read in the child).
_SHARDS: list[list[Any]] = []


def simulate_in_workers(policy: Policy, shards: list[list[Any]], until: datetime, workers: int, *, render: bool = False,
                        with_contacts: bool = False, done: Callable[[int], None] = lambda _: None) -> SimulationSummary:
    """Every shard simulated in a pool of `workers` processes; `done(n)` after each of the n shards finishes."""
    global _SHARDS
    fork = "fork" in multiprocessing.get_all_start_methods()
    context = multiprocessing.get_context("fork" if fork else "spawn")
    _SHARDS = shards if fork else []
    try:
        with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
            futures = [pool.submit(_run_shard, index, None if fork else shard, policy, until, render, with_contacts)
                       for index, shard in enumerate(shards)]
            summaries: dict[int, SimulationSummary] = {}
            for future in as_completed(futures):
                index, summary = future.result()
                summaries[index] = summary
                done(len(summaries))
    finally:
        _SHARDS = []
    return SimulationSummary.merge(summaries[index] for index in range(len(shards)))


def _run_shard(index: int, shard: list[Any] | None, policy: Policy, until: datetime, render: bool,
               with_contacts: bool) -> tuple[int, SimulationSummary]:
    from arrears_local.gctune import tuned_gc

    with tuned_gc():  # as `arrears simulate` runs a book
        return index, simulate_shard(policy, _SHARDS[index] if shard is None else shard, until, render=render,
                                     with_contacts=with_contacts)
