"""Local runtime scale: the sample portfolio through 150 virtual days on the real ASL in moto.

Each size runs in a fresh interpreter (its own peak memory), through `arrears_local.demo.run_book`
exactly as `make demo` does. The wall time excludes provisioning the stack (reported apart); the
CPU time of the run is reported beside it (the machine may be shared: CPU time moves less with
the load). `make bench` measures 100 and 1,000 invoices; with sizes that leave out 1,000 (e.g.
`--quick`) the 1,000 figure is projected from the measured sizes (straight line through them) and
marked as such. What bounds the time is attributed by timing,
in the smallest run, every AWS call (boto3 -> moto, in-process) and every handler invocation,
each net of what is nested in it, the rest being the engine and moto's ASL interpreter. Every run counts the
AWS calls the functions make (common.HandlerCalls): issue #19's calls per invoice (<= 70), by service and
operation, and the time per invoice of the largest run beside the smallest's (what grows with the book).
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
import warnings
from collections import defaultdict
from pathlib import Path
from typing import Any

from common import BENCH, HandlerCalls, figure, main_per_size, peak_rss_mb, setup_paths

TARGET_SECONDS = 120.0  # issue #19 (60 s before, issue 7)
TARGET_SIZE = 1000
CALLS_TARGET = 70  # AWS calls an invoice


class _Attribution:
    """Wall time by where it is spent, each frame net of the frames nested in it."""

    def __init__(self) -> None:
        self.seconds: defaultdict[str, float] = defaultdict(float)
        self.calls: defaultdict[str, int] = defaultdict(int)
        self._tls = threading.local()
        self._lock = threading.Lock()

    def timed(self, label: str, fn: Any, *args: Any) -> Any:
        stack = self._tls.__dict__.setdefault("stack", [])
        stack.append(0.0)
        started = time.perf_counter()
        try:
            return fn(*args)
        finally:
            total = time.perf_counter() - started
            nested = stack.pop()
            if stack:
                stack[-1] += total
            with self._lock:
                self.seconds[label] += total - nested
                self.calls[label] += 1

    def install(self) -> None:
        import botocore.client

        from arrears_local.engine import LocalEngine

        attribution = self
        orig_call, orig_invoke = botocore.client.BaseClient._make_api_call, LocalEngine._invoke_handler

        def make_api_call(client: Any, operation: str, params: dict) -> Any:
            label = f"AWS {client.meta.service_model.service_name} calls (boto3 -> moto)"
            return attribution.timed(label, orig_call, client, operation, params)

        def invoke_handler(engine: Any, entry: Any, *args: Any) -> Any:
            return attribution.timed(f"handler code of {entry.name.rsplit('-', 1)[-1]}", orig_invoke, engine, entry, *args)

        botocore.client.BaseClient._make_api_call = make_api_call
        LocalEngine._invoke_handler = invoke_handler


def one_size(size: int, attribute: bool) -> dict[str, Any]:
    """Run in a fresh interpreter: provision, run the book, report."""
    setup_paths()
    warnings.filterwarnings("ignore", message="No application metrics")
    from arrears.domain.policy import load_policy_file
    from arrears_local.demo import contacts, run_book
    from arrears_local.portfolio import DEMO_DAYS, DEMO_START, sample_portfolio
    from arrears_local.runtime import LocalRuntime

    attribution = _Attribution()
    if attribute:
        attribution.install()
    counter = HandlerCalls().install()
    policy = load_policy_file(BENCH.parent / "policies" / "default.yaml")
    portfolio = sample_portfolio(DEMO_START, size)
    started = time.perf_counter()
    with LocalRuntime(start=DEMO_START) as runtime:
        provisioned, cpu_started = time.perf_counter(), time.process_time()
        attribution.seconds.clear()
        attribution.calls.clear()
        counter.calls.clear()
        run = run_book(runtime, portfolio, policy, DEMO_DAYS)
        finished, cpu = time.perf_counter(), time.process_time() - cpu_started
        stats = dict(runtime.engine.stats)
    wall = finished - provisioned
    result = {"size": size, "wall_s": round(wall, 2), "cpu_s": round(cpu, 2), "provision_s": round(provisioned - started, 2),
              "peak_rss_mb": peak_rss_mb(),
              "contacts": sum(len(contacts(entries)) for entries in run.logs.values()), "engine": stats,
              "aws_calls": counter.total(), "aws_calls_by_service": counter.by(lambda c: c[1]),
              "aws_calls_by_function": counter.by(lambda c: c[0]), "aws_calls_by_operation": counter.by(lambda c: f"{c[1]} {c[2]}")}
    if attribute:
        accounted = sum(attribution.seconds.values())
        parts = dict(attribution.seconds)
        parts["engine, moto's ASL interpreter, webhook signing (the rest)"] = max(0.0, wall - accounted)
        whole = max(wall, accounted)  # executions overlap in threads: shares are of all the time spent
        result["attribution"] = [{"where": k, "share": round(v / whole, 3), "seconds": round(v, 2), "calls": attribution.calls.get(k, 0)}
                                 for k, v in sorted(parts.items(), key=lambda kv: -kv[1])]
    return result


def _spawn(size: int, attribute: bool) -> dict[str, Any]:
    out = Path(f"/tmp/arrears-bench-runtime-{size}.json")
    cmd = [sys.executable, str(Path(__file__)), "--one", str(size), "--out", str(out)] + (["--attribute"] if attribute else [])
    subprocess.run(cmd, check=True)
    return json.loads(out.read_text())


def run(args: Any) -> list[dict[str, Any]]:
    measured = [_spawn(size, attribute=(index == 0)) for index, size in enumerate(args.sizes)]
    per_invoice = [(m["size"], m["wall_s"]) for m in measured]
    figures = []

    def details(m: dict[str, Any]) -> str:
        return (f"peak {m['peak_rss_mb']:.0f} MB; {m['wall_s'] / m['size'] * 1000:.0f} ms an invoice; {m['cpu_s']} s of CPU; "
                f"{m['contacts']} contacts; {m['engine']['lambda_invocations']} Lambda invocations; provisioning {m['provision_s']} s apart")

    for m in measured:
        if m["size"] != TARGET_SIZE:
            figures.append(figure(f"local runtime: {m['size']} invoices, 150 days", m["wall_s"], "s", note=details(m),
                                  peak_rss_mb=m["peak_rss_mb"], cpu_s=m["cpu_s"]))
    target = next((m for m in measured if m["size"] == TARGET_SIZE), None)
    bound = "; ".join(f"{a['share'] * 100:.0f}% {a['where']}" + (f" ({a['calls'] / measured[0]['size']:.1f}/invoice)" if a["calls"] else "")
                      for a in measured[0].get("attribution", [])[:5])
    extra: dict[str, Any] = {}
    if target is not None:
        seconds, how = target["wall_s"], f"measured: {details(target)}"
        extra = {"peak_rss_mb": target["peak_rss_mb"], "cpu_s": target["cpu_s"]}
    else:
        (n1, t1), (n2, t2) = per_invoice[0], per_invoice[-1]
        slope = (t2 - t1) / (n2 - n1) if n2 != n1 else t1 / n1
        seconds, how = round(t1 + slope * (TARGET_SIZE - n1), 1), f"PROJECTED from the {n1} and {n2} runs (not run: --sizes left it out)"
    met = seconds < TARGET_SECONDS
    note = how if met else f"{how}; {seconds / TARGET_SECONDS:.1f}x the target. Time of the {measured[0]['size']}-invoice run: {bound}"
    figures.append(figure(f"local runtime: {TARGET_SIZE} invoices, 150 days", seconds, "s", f"< {TARGET_SECONDS:.0f} s", met, note,
                          attribution=measured[0].get("attribution"), measured_or_projected="measured" if target else "projected",
                          **extra))
    largest, smallest = max(measured, key=lambda m: m["size"]), min(measured, key=lambda m: m["size"])
    per_invoice_calls = largest["aws_calls"] / largest["size"]

    def per(counts: dict[str, int], limit: int) -> str:
        return ", ".join(f"{name} {n / largest['size']:.1f}" for name, n in list(counts.items())[:limit])

    figures.append(figure(f"local runtime: AWS calls per invoice ({largest['size']} invoices, 150 days)", round(per_invoice_calls, 1), "",
                          f"<= {CALLS_TARGET}", per_invoice_calls <= CALLS_TARGET,
                          f"the functions' own calls, {largest['aws_calls']:,} in all; by service: {per(largest['aws_calls_by_service'], 6)}; "
                          f"by function: {per(largest['aws_calls_by_function'], 8)}; the largest operations: {per(largest['aws_calls_by_operation'], 10)}"
                          + ("" if per_invoice_calls <= CALLS_TARGET else f"; {per_invoice_calls / CALLS_TARGET:.2f}x the target"),
                          aws_calls_by_operation=largest["aws_calls_by_operation"]))
    if largest is not smallest:
        growth = (largest["wall_s"] / largest["size"]) / (smallest["wall_s"] / smallest["size"])
        cpu_growth = (largest["cpu_s"] / largest["size"]) / (smallest["cpu_s"] / smallest["size"])
        figures.append(figure(f"local runtime: time per invoice, {largest['size']} ÷ {smallest['size']} invoices", round(growth, 2), "x",
                              "1 (linear)", None, f"CPU time per invoice {cpu_growth:.2f}x; AWS calls per invoice "
                              f"{per_invoice_calls:.1f} against {smallest['aws_calls'] / smallest['size']:.1f}"))
    return figures


def _extra(parser: Any) -> None:
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, TARGET_SIZE],
                        help=f"book sizes to run (without {TARGET_SIZE}, the target size is projected from them)")
    parser.add_argument("--one", type=int, help=Path(__file__).name + " runs each size in a fresh interpreter with this")
    parser.add_argument("--out", type=Path)
    parser.add_argument("--attribute", action="store_true")


if __name__ == "__main__":
    main_per_size(__doc__.splitlines()[0], run, _extra, lambda args: one_size(args.one, args.attribute))
