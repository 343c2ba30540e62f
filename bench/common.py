"""Shared by the bench scripts: the machine, figures, profiles, the results table.

Each script measures one group of figures and, run on its own, prints them and (with
`--json FILE`) writes them for `run_all.py`. A figure is a dict:
    {"figure", "measured", "unit", "target", "met", "note", ...}
`met` is True/False where the issue sets a target, None where it does not; `note` says, for a
missed target, by how much and what bounds it (the top of a profile).
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import platform
import pstats
import resource
import statistics
import sys
import time
from pathlib import Path
from typing import Any, Callable

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "bench"


def setup_paths() -> None:
    """Import the layer and the local runtime from the clone (as the Makefile's editable install does)."""
    os.environ.setdefault("TZ", "UTC")
    for path in (ROOT / "layers" / "common", ROOT / "local"):
        if str(path) not in sys.path:
            sys.path.insert(0, str(path))


def machine() -> dict[str, Any]:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        load = os.getloadavg()[0]
    except OSError:
        load = None
    memory_gb = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                memory_gb = round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    return {"cpu": cpu, "cores": os.cpu_count(), "memory_gb": memory_gb, "python": platform.python_version(),
            "implementation": platform.python_implementation(), "os": platform.platform(), "load_average_1m": load}


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far (Linux reports kB, macOS bytes)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return round(peak / (1024 * 1024 if sys.platform == "darwin" else 1024), 1)


def figure(name: str, measured: Any, unit: str, target: str | None = None, met: bool | None = None,
           note: str = "", **extra: Any) -> dict[str, Any]:
    return {"figure": name, "measured": measured, "unit": unit, "target": target, "met": met, "note": note, **extra}


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def median(values: list[float]) -> float:
    return statistics.median(values)


def profile_top(run: Callable[[], Any], limit: int = 8) -> tuple[Any, list[str]]:
    """Run once under cProfile; the functions with the most time of their own (what bounds it)."""
    profiler = cProfile.Profile()
    result = profiler.runcall(run)
    return result, top_of(profiler, limit)


def top_of(profiler: cProfile.Profile | pstats.Stats, limit: int = 8) -> list[str]:
    stats = profiler if isinstance(profiler, pstats.Stats) else pstats.Stats(profiler, stream=io.StringIO())
    total = sum(row[2] for row in stats.stats.values()) or 1.0  # type: ignore[attr-defined]
    rows = sorted(stats.stats.items(), key=lambda item: item[1][2], reverse=True)[:limit]  # type: ignore[attr-defined]
    return [f"{100 * row[2] / total:4.1f}% {_where(func)}" for func, row in rows]


def _where(func: tuple[str, int, str]) -> str:
    filename, line, name = func
    for marker in ("site-packages/", "lib/python3", str(ROOT) + "/"):
        if marker in filename:
            filename = filename.split(marker, 1)[1]
    return f"{name} ({filename}:{line})" if filename != "~" else name


def cli(description: str, run: Callable[[argparse.Namespace], list[dict[str, Any]]],
        extra_args: Callable[[argparse.ArgumentParser], None] | None = None) -> None:
    """Run a bench script: figures to a table on stdout, and to --json FILE for run_all.py."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--json", type=Path, help="write the figures here (run_all.py collects them)")
    if extra_args:
        extra_args(parser)
    args = parser.parse_args()
    figures = run(args)
    print_table(figures)
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2, default=str) + "\n")


def fmt(value: Any, unit: str = "") -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        text = f"{value:.3g}" if abs(value) < 100 else f"{value:,.0f}"
        if 1e-4 <= abs(value) < 1e-2 and unit.startswith("USD"):
            text = f"{value:.6f}"
    elif isinstance(value, int):
        text = f"{value:,}"
    else:
        text = str(value)
    return f"{text} {unit}".strip()


def print_table(figures: list[dict[str, Any]], stream: Any = None) -> None:
    stream = stream or sys.stdout
    rows = [("figure", "measured", "target", "met?", "note")]
    for f in figures:
        met = {True: "yes", False: "NO", None: "—"}[f.get("met")]
        rows.append((f["figure"], fmt(f.get("measured"), f.get("unit", "")), f.get("target") or "—", met, f.get("note", "")))
    widths = [max(len(str(row[i])) for row in rows) for i in range(4)]
    for index, row in enumerate(rows):
        cells = [str(cell).ljust(widths[i]) for i, cell in enumerate(row[:4])]
        print(" | ".join(cells) + " | " + row[4], file=stream)
        if index == 0:
            print("-+-".join("-" * w for w in widths) + "-+-" + "-" * 4, file=stream)


def main_per_size(description: str, run: Callable[[argparse.Namespace], list[dict[str, Any]]],
                  extra: Callable[[Any], None], one: Callable[[argparse.Namespace], Any]) -> None:
    """Entry point of a script that measures each size in a fresh interpreter: the parent runs
    `run` (which calls this script again with `--one N --out FILE`), the child writes `one(args)`."""
    if "--one" in sys.argv:
        parser = argparse.ArgumentParser()
        extra(parser)
        parsed = parser.parse_args()
        parsed.out.write_text(json.dumps(one(parsed)))
    else:
        cli(description, run, extra)


class HandlerCalls:
    """The AWS calls each Lambda function makes itself (issue #19's "AWS calls per invoice" and a webhook's calls
    in its request), counted through botocore while one of the local engine's handler invocations runs in the
    thread, by the innermost function (a nested invocation, such as the audit function run inside a table write,
    counts for itself, as on AWS where it runs apart). Calls the local runtime makes itself (the test driver, API
    Gateway's invoke) are not counted: on AWS they are not the functions' requests."""

    def __init__(self) -> None:
        import threading
        from collections import Counter

        self.calls: Counter[tuple[str, str, str]] = Counter()  # (function, service, operation) -> calls
        self.seconds: Counter[tuple[str, str, str]] = Counter()  # the same -> wall time inside them (boto3 -> moto, in-process)
        # function -> wall time of the invocations nested in its own (the local engine runs the audit function inside
        # the table write that feeds its stream; on AWS it runs apart, after): inside `seconds` too, of the write
        self.nested: Counter[str] = Counter()
        self._tls = threading.local()
        self._lock = threading.Lock()

    def install(self) -> "HandlerCalls":
        import botocore.client

        from arrears_local.engine import LocalEngine

        counter, orig_call, orig_invoke = self, botocore.client.BaseClient._make_api_call, LocalEngine._invoke_handler
        self._originals = (orig_call, orig_invoke)

        def make_api_call(client: Any, operation: str, params: dict) -> Any:
            stack = counter._tls.__dict__.get("stack")
            if not stack:
                return orig_call(client, operation, params)
            started = time.perf_counter()
            try:
                return orig_call(client, operation, params)
            finally:
                call = (stack[-1], client.meta.service_model.service_name, operation)
                with counter._lock:
                    counter.calls[call] += 1
                    counter.seconds[call] += time.perf_counter() - started

        def invoke_handler(engine: Any, entry: Any, *args: Any) -> Any:
            stack = counter._tls.__dict__.setdefault("stack", [])
            stack.append(entry.name.rsplit("-", 1)[-1].removesuffix("function"))  # "webhooks", "workflow", ...
            started = time.perf_counter()
            try:
                return orig_invoke(engine, entry, *args)
            finally:
                stack.pop()
                if stack:
                    with counter._lock:
                        counter.nested[stack[-1]] += time.perf_counter() - started

        botocore.client.BaseClient._make_api_call = make_api_call
        LocalEngine._invoke_handler = invoke_handler
        return self

    def uninstall(self) -> None:
        import botocore.client

        from arrears_local.engine import LocalEngine

        botocore.client.BaseClient._make_api_call, LocalEngine._invoke_handler = self._originals

    def snapshot(self) -> tuple[dict[tuple[str, str, str], int], dict[tuple[str, str, str], float]]:
        """The counts and times so far (other threads' executions go on counting while they are read)."""
        with self._lock:
            return dict(self.calls), dict(self.seconds)

    def total(self, function: str | None = None) -> int:
        return sum(n for (f, _, _), n in self.snapshot()[0].items() if function is None or f == function)

    def seconds_of(self, function: str) -> float:
        return sum(s for (f, _, _), s in self.snapshot()[1].items() if f == function)

    def by(self, key: Callable[[tuple[str, str, str]], str], function: str | None = None) -> dict[str, int]:
        out: dict[str, int] = {}
        for call, n in self.snapshot()[0].items():
            if function is None or call[0] == function:
                out[key(call)] = out.get(key(call), 0) + n
        return dict(sorted(out.items(), key=lambda kv: -kv[1]))
