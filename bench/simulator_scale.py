"""Policy simulator scale: synthetic books through 150 days, plan only, as `arrears simulate` runs them.

Each size runs in a fresh interpreter (its own peak memory): `synthetic_book(n)` with sampled
payments, `Simulation(policy, render=False)` (every contact built and checked, nothing rendered;
see arrears/usecases/simulator.py), with the cyclic GC tuned as `arrears simulate` tunes it
(arrears_local/gctune.py). The wall time is the simulation alone (building the book apart). The
growth exponent is the slope of log(time) against log(invoices) over the sizes (1 is linear).
One more run renders everything (emails, MIME, letters) for the smallest size, to show what
rendering would cost. Where the target is missed, a profile of the smallest size says what bounds it.

Scale out (issue #19): the largest size again with `--workers` processes (the book sharded by customer, as
`arrears simulate --workers N`; arrears_local/shards.py), and, with ARREARS_BENCH_MILLION=1 (about ten
minutes on two cores, so not part of `make bench`'s 15), 1,000,000 synthetic invoices with them.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

from common import BENCH, figure, main_per_size, peak_rss_mb, profile_top, setup_paths

TARGET_SIZE = 100_000
TARGET_SECONDS = 30.0  # issue #19 (60 s before)
MILLION = 1_000_000
LINEAR_EXPONENT_MAX = 1.15


def one_size(size: int, render: bool, profile: bool, workers: int = 1) -> dict[str, Any]:
    setup_paths()
    from arrears.domain.policy import load_policy_file
    from arrears.usecases.simulator import Simulation
    from arrears_local.book import book_updates, sample_payments, synthetic_book
    from arrears_local.gctune import tuned_gc
    from arrears_local.portfolio import DEMO_START

    policy = load_policy_file(BENCH.parent / "policies" / "default.yaml")
    warm = Simulation(policy, render=render)  # imports, template and font caches: not part of the figure
    warm.add_updates(book_updates(sample_payments(synthetic_book(20, DEMO_START, seed=1), 1)))
    warm.run(DEMO_START + timedelta(days=150))
    book = sample_payments(synthetic_book(size, DEMO_START), 3)
    updates = book_updates(book)
    if workers > 1:
        from arrears.usecases.simulation_shards import shard_count, split_by_customer
        from arrears_local.shards import simulate_in_workers

        del book
        started = time.perf_counter()  # sharding included: it is part of the run
        shards = split_by_customer(updates, shard_count(size, workers))
        del updates
        summary = simulate_in_workers(policy, shards, DEMO_START + timedelta(days=150), workers)
        wall = time.perf_counter() - started
        return {"size": size, "render": False, "workers": workers, "shards": len(shards), "wall_s": round(wall, 2),
                "peak_rss_mb": peak_rss_mb(), "contacts": summary.contacts, "profile": []}
    simulation = Simulation(policy, render=render)
    simulation.add_updates(updates)
    started = time.perf_counter()
    top: list[str] = []
    with tuned_gc():  # as `arrears simulate` runs a book
        if profile:
            result, top = profile_top(lambda: simulation.run(DEMO_START + timedelta(days=150)))
        else:
            result = simulation.run(DEMO_START + timedelta(days=150))
    wall = time.perf_counter() - started
    return {"size": size, "render": render, "wall_s": round(wall, 2), "peak_rss_mb": peak_rss_mb(),
            "contacts": len(result.contacts()), "profile": top}


def _spawn(size: int, render: bool = False, profile: bool = False, workers: int = 1) -> dict[str, Any]:
    out = Path(f"/tmp/arrears-bench-simulator-{size}-{int(render)}-{int(profile)}-{workers}.json")
    cmd = [sys.executable, str(Path(__file__)), "--one", str(size), "--out", str(out), "--workers", str(workers)]
    cmd += (["--render"] if render else []) + (["--profile"] if profile else [])
    subprocess.run(cmd, check=True)
    return json.loads(out.read_text())


def run(args: Any) -> list[dict[str, Any]]:
    measured = [_spawn(size) for size in args.sizes]
    figures = []
    for m in measured:
        figures.append(figure(f"simulator: {m['size']:,} invoices, 150 days (plan only)", m["wall_s"], "s",
                              f"< {TARGET_SECONDS:.0f} s" if m["size"] == TARGET_SIZE else None,
                              (m["wall_s"] < TARGET_SECONDS) if m["size"] == TARGET_SIZE else None,
                              f"peak {m['peak_rss_mb']:.0f} MB; {m['wall_s'] / m['size'] * 1e6:.0f} µs an invoice; {m['contacts']:,} contacts",
                              peak_rss_mb=m["peak_rss_mb"]))
    xs = [math.log(m["size"]) for m in measured]
    ys = [math.log(max(m["wall_s"], 1e-3)) for m in measured]
    mean_x, mean_y = sum(xs) / len(xs), sum(ys) / len(ys)
    exponent = sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys)) / sum((x - mean_x) ** 2 for x in xs)
    figures.append(figure("simulator: growth exponent (time ~ invoices^k)", round(exponent, 2), "",
                          f"<= {LINEAR_EXPONENT_MAX} (linear)", exponent <= LINEAR_EXPONENT_MAX,
                          "least-squares slope of log time on log invoices over " + ", ".join(f"{m['size']:,}" for m in measured)))
    target = next((m for m in measured if m["size"] == TARGET_SIZE), None)
    if target is not None and target["wall_s"] >= TARGET_SECONDS:
        profiled = _spawn(args.sizes[0], profile=True)
        figures[len(measured) - 1]["note"] += (f"; {target['wall_s'] / TARGET_SECONDS:.2f}x the target. Own time in a profile of "
                                                f"{args.sizes[0]:,}: " + "; ".join(profiled["profile"][:6]))
    largest = next((m for m in measured if m["size"] == max(args.sizes)), measured[-1])
    sizes = [largest["size"]] + ([MILLION] if os.environ.get("ARREARS_BENCH_MILLION") == "1" else [])
    for size in sizes:
        sharded = _spawn(size, workers=args.workers)
        alone = f"; {largest['wall_s'] / sharded['wall_s']:.2f}x faster than one process" if size == largest["size"] else ""
        target = f"< {TARGET_SECONDS:.0f} s" if size == TARGET_SIZE else None
        figures.append(figure(f"simulator: {size:,} invoices, 150 days, {args.workers} workers (plan only)", sharded["wall_s"], "s",
                              target, (sharded["wall_s"] < TARGET_SECONDS) if target else None,
                              f"{sharded['shards']} shards by customer{alone}; peak of the parent {sharded['peak_rss_mb']:.0f} MB; "
                              f"{sharded['contacts']:,} contacts, as one process gives (tests/unit/test_simulate_workers.py)",
                              peak_rss_mb=sharded["peak_rss_mb"]))
    if MILLION not in sizes:
        figures.append(figure(f"simulator: {MILLION:,} invoices, 150 days, {args.workers} workers (plan only)", "not run", "", None, None,
                              "ARREARS_BENCH_MILLION=1 make bench (or bench/simulator_scale.py) runs it: ~10 minutes on 2 cores"))
    full = _spawn(args.sizes[0], render=True)
    figures.append(figure(f"simulator: {full['size']:,} invoices, 150 days, rendering everything", full["wall_s"], "s", note=(
        f"peak {full['peak_rss_mb']:.0f} MB; {full['wall_s'] / full['size'] * 1000:.1f} ms an invoice (emails, MIME, PDF letters, "
        "referral packages: what `simulate()` does by default, and the equality test with the local runtime needs)")))
    return figures


def _extra(parser: Any) -> None:
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000, 10_000, 100_000])
    parser.add_argument("--one", type=int)
    parser.add_argument("--out", type=Path)
    parser.add_argument("--render", action="store_true")
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--workers", type=int, default=2)


if __name__ == "__main__":
    main_per_size(__doc__.splitlines()[0], run, _extra, lambda args: one_size(args.one, args.render, args.profile, args.workers))
