"""Webhook: signed Stripe events applied per second, in-process, against the local runtime.

Each event is POSTed through the template's API route to the real webhooks handler (signature
check, Powertools idempotency, the invoice and customer written, the workflow started or
stopped): `invoice.finalized` for every invoice of a synthetic set, then a redelivery of every
fifth one (answered from the idempotency record), then `invoice.paid` for each. Only the
request is timed; the execution a `finalized` event starts runs its first task before the next
request (untimed), so events do not overlap. The AWS calls the webhooks function makes in each request are
counted (common.HandlerCalls; issue #19: a finalized event in <= 8 calls, p50 <= 20 ms).
"""

from __future__ import annotations

import time
import warnings
from typing import Any

from common import HandlerCalls, cli, figure, percentile, setup_paths

CALLS_TARGET = 8  # AWS calls in an `invoice.finalized` request
P50_TARGET_MS = 20.0


def run(args: Any) -> list[dict[str, Any]]:
    setup_paths()
    warnings.filterwarnings("ignore", message="No application metrics")
    from datetime import timedelta

    from arrears_local.portfolio import DEMO_START, sample_portfolio
    from arrears_local.runtime import LOCAL_STRIPE_SECRET, LocalRuntime
    from arrears_local.stripe_events import invoice_event, signed_delivery

    portfolio = sample_portfolio(DEMO_START, args.invoices)
    timings: dict[str, list[float]] = {"invoice.finalized": [], "redelivery": [], "invoice.paid": []}
    calls: dict[str, list[int]] = {kind: [] for kind in timings}
    in_calls: dict[str, list[float]] = {kind: [] for kind in timings}  # of each request's time, inside its AWS calls
    call_ms: dict[str, dict[str, float]] = {kind: {} for kind in timings}
    nested: dict[str, list[float]] = {kind: [] for kind in timings}  # the audit function run inside a log write
    operations: dict[str, dict[str, int]] = {kind: {} for kind in timings}
    counter = HandlerCalls()
    with LocalRuntime(start=DEMO_START) as runtime:
        counter.install()
        def post(document: dict, kind: str) -> None:
            body, headers = signed_delivery(document, LOCAL_STRIPE_SECRET, runtime.now())
            with counter._lock:
                counter.calls.clear()
                counter.seconds.clear()
                counter.nested.clear()
            started = time.perf_counter()
            reply = runtime.request("POST", "/webhooks/stripe", body, headers)
            timings[kind].append(time.perf_counter() - started)
            calls[kind].append(counter.total("webhooks"))
            in_calls[kind].append(counter.seconds_of("webhooks") - counter.nested["webhooks"])
            nested[kind].append(counter.nested.get("webhooks", 0.0))
            for (function, service, operation), seconds in counter.snapshot()[1].items():
                if function == "webhooks":
                    call_ms[kind][f"{service} {operation}"] = call_ms[kind].get(f"{service} {operation}", 0.0) + seconds * 1000
            for operation, n in counter.by(lambda c: f"{c[1]} {c[2]}", "webhooks").items():
                operations[kind][operation] = operations[kind].get(operation, 0) + n
            if reply.status_code != 200:
                raise RuntimeError(f"{kind} refused: {reply.status_code} {reply.body}")
            runtime.engine.wait_idle()

        finalized = [invoice_event(item.invoice, "invoice.finalized", DEMO_START) for item in portfolio]
        for document in finalized:
            post(document, "invoice.finalized")
        for document in finalized[::5]:
            post(document, "redelivery")
        paid_at = DEMO_START + timedelta(hours=1)
        for item in portfolio:
            post(invoice_event(item.invoice, "invoice.paid", paid_at), "invoice.paid")
        counter.uninstall()
    every = [t for values in timings.values() for t in values]
    rate = len(every) / sum(every)
    parts = ", ".join(f"{kind} p50 {percentile(v, 50) * 1000:.1f} ms" for kind, v in timings.items())
    finalized_calls = percentile(calls["invoice.finalized"], 50)
    finalized_p50 = percentile(timings["invoice.finalized"], 50) * 1000
    own_calls_ms = percentile(in_calls["invoice.finalized"], 50) * 1000
    audit_ms = percentile(nested["invoice.finalized"], 50) * 1000
    net_p50 = percentile([t - n for t, n in zip(timings["invoice.finalized"], nested["invoice.finalized"])], 50) * 1000

    def per_request(kind: str) -> str:
        return ", ".join(f"{op} {n / len(calls[kind]):.2g}" for op, n in operations[kind].items())

    return [
        figure("webhook: AWS calls in an invoice.finalized request", finalized_calls, "", f"<= {CALLS_TARGET}",
               finalized_calls <= CALLS_TARGET,
               f"median over {len(calls['invoice.finalized'])} requests (min {min(calls['invoice.finalized'])}, max "
               f"{max(calls['invoice.finalized'])}), the webhooks function's own calls: {per_request('invoice.finalized')}; "
               f"a redelivery {percentile(calls['redelivery'], 50)}, invoice.paid {percentile(calls['invoice.paid'], 50)}"),
        figure("webhook: invoice.finalized p50 (in-process)", round(finalized_p50, 1), "ms", f"<= {P50_TARGET_MS:.0f} ms",
               finalized_p50 <= P50_TARGET_MS, f"the request through the local API Gateway into the handler. Of it (medians): "
               f"{own_calls_ms:.1f} ms inside its {finalized_calls} AWS calls, boto3 -> moto in-process ({own_calls_ms / max(1, finalized_calls):.1f} ms "
               f"a call; on AWS a network round trip each instead, a few ms to DynamoDB); {audit_ms:.1f} ms the audit function, "
               f"which the local engine runs inside the log entry's PutItem (its stream; on AWS it runs apart, after the answer); "
               f"the request net of it {net_p50:.1f} ms; the rest the handler's own code, Powertools and the local API Gateway. "
               "ms a request by operation, nested audit included: " + ", ".join(
                   f"{op} {ms / len(calls['invoice.finalized']):.1f}" for op, ms in sorted(call_ms["invoice.finalized"].items(), key=lambda kv: -kv[1]))
               + ("" if finalized_p50 <= P50_TARGET_MS else f"; {finalized_p50 / P50_TARGET_MS:.2f}x the target")),
        figure("webhook: events applied per second (in-process)", round(rate, 1), "/s",
               note=f"{len(every)} events over {args.invoices} invoices, one at a time; {parts}"),
        figure("webhook: p50 per event", round(percentile(every, 50) * 1000, 1), "ms"),
        figure("webhook: p99 per event", round(percentile(every, 99) * 1000, 1), "ms"),
    ]


if __name__ == "__main__":
    cli(__doc__.splitlines()[0], run, lambda p: p.add_argument("--invoices", type=int, default=150))
