"""Webhook: signed Stripe events applied per second, in-process, against the local runtime.

Each event is POSTed through the template's API route to the real webhooks handler (signature
check, Powertools idempotency, the invoice and customer written, the workflow started or
stopped): `invoice.finalized` for every invoice of a synthetic set, then a redelivery of every
fifth one (answered from the idempotency record), then `invoice.paid` for each. Only the
request is timed; the execution a `finalized` event starts runs its first task before the next
request (untimed), so events do not overlap.
"""

from __future__ import annotations

import time
import warnings
from typing import Any

from common import cli, figure, percentile, setup_paths


def run(args: Any) -> list[dict[str, Any]]:
    setup_paths()
    warnings.filterwarnings("ignore", message="No application metrics")
    from datetime import timedelta

    from arrears_local.portfolio import DEMO_START, sample_portfolio
    from arrears_local.runtime import LOCAL_STRIPE_SECRET, LocalRuntime
    from arrears_local.stripe_events import invoice_event, signed_delivery

    portfolio = sample_portfolio(DEMO_START, args.invoices)
    timings: dict[str, list[float]] = {"invoice.finalized": [], "redelivery": [], "invoice.paid": []}
    with LocalRuntime(start=DEMO_START) as runtime:
        def post(document: dict, kind: str) -> None:
            body, headers = signed_delivery(document, LOCAL_STRIPE_SECRET, runtime.now())
            started = time.perf_counter()
            reply = runtime.request("POST", "/webhooks/stripe", body, headers)
            timings[kind].append(time.perf_counter() - started)
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
    every = [t for values in timings.values() for t in values]
    rate = len(every) / sum(every)
    parts = ", ".join(f"{kind} p50 {percentile(v, 50) * 1000:.1f} ms" for kind, v in timings.items())
    return [
        figure("webhook: events applied per second (in-process)", round(rate, 1), "/s",
               note=f"{len(every)} events over {args.invoices} invoices, one at a time; {parts}"),
        figure("webhook: p50 per event", round(percentile(every, 50) * 1000, 1), "ms"),
        figure("webhook: p99 per event", round(percentile(every, 99) * 1000, 1), "ms"),
    ]


if __name__ == "__main__":
    cli(__doc__.splitlines()[0], run, lambda p: p.add_argument("--invoices", type=int, default=150))
