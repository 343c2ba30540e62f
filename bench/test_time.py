"""Test time: `pytest tests` (what `make test` runs after ruff), its wall time and its slowest tests.

Issue #19: `make test` stays near 3 minutes of pytest (the shuffled-delivery fixture's full size is behind
ARREARS_ORDER_INVOICES). Runs the whole suite once in a fresh interpreter with `--durations=25`; the figure is
the wall time, with the slowest tests (setup, call and teardown apart, as pytest lists them) in its note. A
failing test does not fail the bench: the figure says how many failed. `make bench` runs it beside the local
runtime's scale, so it feels that load (see the lanes in run_all.py).
"""

from __future__ import annotations

import re
import subprocess
import sys
import time
from typing import Any

from common import ROOT, cli, figure

TARGET_SECONDS = 200.0  # "near 3 minutes": 180 s and a tenth


def run(args: Any) -> list[dict[str, Any]]:
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--durations=25", *args.paths],
                          cwd=ROOT, capture_output=True, text=True)
    wall = time.perf_counter() - started
    out = done.stdout
    summary = next((line.strip("= ") for line in reversed(out.splitlines()) if re.search(r"\d+ (passed|failed)", line)), "no summary")
    slowest = [m.groups() for m in re.finditer(r"^([\d.]+)s (setup|call|teardown)\s+(\S+)", out, re.MULTILINE)]
    top = "; ".join(f"{float(s):.0f} s {phase} {test.split('/', 1)[-1]}" for s, phase, test in slowest[:10])
    share = sum(float(s) for s, _, _ in slowest) / wall if wall else 0.0
    met = wall <= TARGET_SECONDS and done.returncode == 0
    return [figure("test time: pytest tests (make test)", round(wall, 1), "s", f"<= {TARGET_SECONDS:.0f} s (near 3 minutes)", met,
                   f"{summary}; the 25 slowest phases take {share:.0%} of it: {top}",
                   slowest=[{"seconds": float(s), "phase": p, "test": t} for s, p, t in slowest], exit_code=done.returncode)]


if __name__ == "__main__":
    cli(__doc__.splitlines()[0], run, lambda p: p.add_argument("paths", nargs="*", default=["tests"]))
