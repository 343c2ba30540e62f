"""`make bench`: every bench script, one table of figures beside their targets, bench/results.json.

Each script runs in its own interpreter, one after the other (the machine has few cores and
other work may share it: the load average at the start is recorded with the machine).
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
from datetime import datetime, timezone
from pathlib import Path

from common import BENCH, machine, print_table

SCRIPTS: list[tuple[str, list[str], list[str]]] = [
    # script, arguments for the real run, arguments for --quick
    # 9 fresh interpreters a function (15 before): the medians hold, and the time goes to the local
    # runtime's 1,000 invoices, now measured rather than projected.
    ("cold_start.py", ["--runs", "9"], ["--runs", "3"]),
    ("cost_per_invoice.py", [], []),
    ("letters.py", [], ["--seconds", "2"]),
    ("webhooks.py", [], ["--invoices", "20"]),
    ("simulator_scale.py", [], ["--sizes", "300", "1000", "3000"]),
    ("runtime_scale.py", [], ["--sizes", "10", "20"]),
]


BUDGET_SECONDS = 900  # issue 7: `make bench` in under 15 minutes


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes: check the scripts run, not figures to quote")
    parser.add_argument("--only", nargs="+", help="run only these scripts (e.g. letters.py)")
    parser.add_argument("--out", type=Path, default=BENCH / "results.json")
    args = parser.parse_args()
    started = time.monotonic()
    results = {"generated_at": datetime.now(timezone.utc).isoformat(timespec="seconds"), "machine": machine(),
               "quick": args.quick, "scripts": {}, "figures": []}
    if args.only and args.out.exists():  # re-run some scripts: keep the other scripts' figures
        previous = json.loads(args.out.read_text())
        results["scripts"] = {k: v for k, v in previous.get("scripts", {}).items() if k not in args.only}
        results["figures"] = [f for f in previous.get("figures", []) if f.get("script") not in args.only]
    failed = []
    with tempfile.TemporaryDirectory() as scratch:
        for script, full, quick in SCRIPTS:
            if args.only and script not in args.only:
                continue
            out = Path(scratch) / f"{script}.json"
            print(f"\n== {script} ==", flush=True)
            began = time.monotonic()
            done = subprocess.run([sys.executable, str(BENCH / script), "--json", str(out), *(quick if args.quick else full)],
                                  cwd=BENCH)
            seconds = round(time.monotonic() - began, 1)
            results["scripts"][script] = {"seconds": seconds, "exit_code": done.returncode}
            if done.returncode != 0 or not out.exists():
                failed.append(script)
                continue
            for item in json.loads(out.read_text()):
                results["figures"].append({**item, "script": script})
    order = [name for name, _, _ in SCRIPTS]
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
