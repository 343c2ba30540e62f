"""`make bench`: every bench script, one table of figures beside their targets, bench/results.json.

Each script runs in its own interpreter. The cold-start ratios are measured first, alone (they
compare interpreter start-up times and would feel anything else running). Then two lanes run
side by side, each script in one of them single-threaded on its own core: the local runtime's
scale runs in one lane, every other script one after the other in the second. On a two-core
machine this halves the time of `make bench` (the 15-minute budget of issue 7) at the price of
sharing memory bandwidth (the local runtime's CPU time is reported beside its wall time, and the
lanes are recorded in results.json). `--serial` runs everything one after the other instead.
`--quick` runs smaller sizes (a smoke test of the scripts, not figures to quote).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from common import BENCH, machine, print_table

SCRIPTS: list[tuple[str, list[str], list[str], str]] = [
    # script, arguments for the real run, arguments for --quick, lane ("alone" first, then "a" beside "b")
    # 9 fresh interpreters a function (15 before): the medians hold, and the time goes to the local
    # runtime's 1,000 invoices, now measured rather than projected.
    ("cold_start.py", ["--runs", "9"], ["--runs", "3"], "alone"),
    ("runtime_scale.py", [], ["--sizes", "10", "20"], "a"),
    ("cost_per_invoice.py", [], [], "b"),
    ("letters.py", [], ["--seconds", "2"], "b"),
    ("webhooks.py", [], ["--invoices", "20"], "b"),
    ("simulator_scale.py", [], ["--sizes", "300", "1000", "3000"], "b"),
    ("consolidation.py", [], ["--customers", "100"], "b"),  # issue 15: one message per customer, off and on
    # issue #19: `make test`'s pytest time; --quick times the unit tests only (a smoke test of the script)
    ("test_time.py", [], ["tests/unit/test_cold_start_imports.py"], "b"),
]


BUDGET_SECONDS = 900  # issue 7: `make bench` in under 15 minutes


def _run_lane(scripts: list[tuple[str, list[str]]], scratch: Path, results: dict[str, Any], echo: bool) -> list[str]:
    """Run scripts one after the other; each one's output is printed when it ends (lanes run side by side)."""
    failed = []
    for script, arguments in scripts:
        out, log = scratch / f"{script}.json", scratch / f"{script}.log"
        began = time.monotonic()
        with log.open("w") as sink:
            done = subprocess.run([sys.executable, str(BENCH / script), "--json", str(out), *arguments], cwd=BENCH,
                                  stdout=None if echo else sink, stderr=subprocess.STDOUT if not echo else None)
        results["scripts"][script] = {"seconds": round(time.monotonic() - began, 1), "exit_code": done.returncode}
        if not echo:
            print(f"\n== {script} ({results['scripts'][script]['seconds']:.0f} s) ==\n{log.read_text()}", flush=True)
        if done.returncode != 0 or not out.exists():
            failed.append(script)
            continue
        for item in json.loads(out.read_text()):
            results["figures"].append({**item, "script": script})
    return failed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes: check the scripts run, not figures to quote")
    parser.add_argument("--only", nargs="+", help="run only these scripts (e.g. letters.py)")
    parser.add_argument("--serial", action="store_true", help="one script after the other (no lanes side by side)")
    parser.add_argument("--out", type=Path, default=BENCH / "results.json")
    args = parser.parse_args()
    started = time.monotonic()
    results: dict[str, Any] = {"generated_at": datetime.now(timezone.utc).isoformat(timespec="seconds"), "machine": machine(),
                               "quick": args.quick, "scripts": {}, "figures": [],
                               "lanes": "serial" if args.serial else {name: lane for name, _, _, lane in SCRIPTS}}
    if args.only and args.out.exists():  # re-run some scripts: keep the other scripts' figures
        previous = json.loads(args.out.read_text())
        results["scripts"] = {k: v for k, v in previous.get("scripts", {}).items() if k not in args.only}
        results["figures"] = [f for f in previous.get("figures", []) if f.get("script") not in args.only]
    chosen = [(name, quick if args.quick else full, lane) for name, full, quick, lane in SCRIPTS
              if not args.only or name in args.only]
    failed: list[str] = []
    with tempfile.TemporaryDirectory() as scratch_dir:
        scratch = Path(scratch_dir)
        if args.serial:
            failed += _run_lane([(name, arguments) for name, arguments, _ in chosen], scratch, results, echo=True)
        else:
            failed += _run_lane([(n, a) for n, a, lane in chosen if lane == "alone"], scratch, results, echo=True)
            lanes = [[(n, a) for n, a, lane in chosen if lane == which] for which in ("a", "b")]
            with ThreadPoolExecutor(max_workers=2) as pool:
                for lane_failed in pool.map(lambda lane: _run_lane(lane, scratch, results, echo=False), lanes):
                    failed += lane_failed
    order = ["cold_start.py", "cost_per_invoice.py", "letters.py", "webhooks.py", "simulator_scale.py", "consolidation.py",
             "runtime_scale.py", "test_time.py"]
    results["figures"].sort(key=lambda f: order.index(f["script"]) if f.get("script") in order else len(order))
    results["total_seconds"] = round(time.monotonic() - started, 1)
    results["budget_seconds"] = BUDGET_SECONDS
    results["load_average_1m_at_end"] = os.getloadavg()[0] if hasattr(os, "getloadavg") else None  # others' work shows here
    args.out.write_text(json.dumps(results, indent=2, default=str) + "\n")
    m = results["machine"]
    print(f"\nArrears benchmarks — {m['cpu']}, {m['cores']} cores, Python {m['python']}, load {m['load_average_1m']} at the start; "
          f"{results['total_seconds']:.0f} s in all (budget {BUDGET_SECONDS} s){' (quick: not figures to quote)' if args.quick else ''}\n")
    print_table(results["figures"])
    missed = [f["figure"] for f in results["figures"] if f.get("met") is False]
    print(f"\n{len(results['figures'])} figures, {len(missed)} targets missed; written to {args.out}")
    if failed:
        print(f"scripts that failed: {', '.join(failed)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
