"""Stripe delivers at least once and in any order: realistic invoice histories of 50 invoices (200 with
ARREARS_ORDER_INVOICES=200), every event delivered three times in shuffled order, end in the same invoice
states and contact logs as the same events delivered once, in order.

How deliveries are shuffled (as Stripe's are): the first copy of an event goes out when it happens;
events that happen at the same instant (invoice.paid with invoice.payment_succeeded, a credit note with
the invoice.updated that shows it, a dispute with ...) arrive in any order, interleaved with every other
invoice's; the two retries arrive at random moments up to three days later, so they overtake nothing
but land after newer events of their invoice. Both runs go through the local runtime (API route, real
handler, idempotency table, workflows on the real state machine) up to the same virtual date.
"""

from __future__ import annotations

import os
import random
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from arrears_local.portfolio import CUSTOMERS
from arrears_local.runtime import LOCAL_STRIPE_SECRET, LocalRuntime
from arrears_local.stripe_events import (
    LEGACY_API_VERSION, SampleInvoice, credit_note_event, customer_updated_event, dispute_event, invoice_event,
    invoice_payment_paid_event, signed_delivery,
)

START = datetime(2026, 9, 1, 8, 0, tzinfo=timezone.utc)
UNTIL = START + timedelta(days=24)
# 50 by default, the smallest history of this seed with every ending (an uncollectible one first appears at
# 50): the two runs take ~30 s instead of most of the suite. ARREARS_ORDER_INVOICES=200 for the full size the
# issue asked for (docs/local-runtime.md, "Long variants of the tests").
INVOICES = int(os.environ.get("ARREARS_ORDER_INVOICES", "50"))
SEED = 20261122


@dataclass(frozen=True)
class Happening:
    at: datetime
    order: int  # the order Stripe created the events in (within one instant too)
    event: dict[str, Any]


def invoice_histories(count: int, seed: int) -> list[Happening]:
    """Each invoice finalized and sent, then a few of: a new due date, a credit note, a part payment,
    a dispute of that payment and its closing, payment in full, void, write-off; some customers move."""
    chooser = random.Random(seed)
    happenings: list[Happening] = []

    def add(at: datetime, *events: dict[str, Any]) -> None:
        for event in events:
            happenings.append(Happening(at, len(happenings), event))

    for index in range(count):
        customer = CUSTOMERS[index % len(CUSTOMERS)]
        created = START + timedelta(days=chooser.randint(0, 6), hours=chooser.randint(1, 9), minutes=chooser.randint(0, 59))
        total = chooser.randrange(20_000, 900_000, 50)
        invoice = SampleInvoice(
            invoice_id=f"in_1R{index:03d}Order{chooser.randrange(10**6):06d}", number=f"NW-2026-{5000 + index}", customer=customer,
            currency={"GB": "GBP", "US": "USD"}.get(customer.country, "EUR"),
            lines=(("Analytics Platform — Team plan, monthly seats", total - total // 4), ("Premium support", total // 4)),
            created=created, due=created + timedelta(days=chooser.choice([7, 14, 30])))
        api = chooser.choice([LEGACY_API_VERSION, "2025-03-31.basil"])
        due, credited, paid = invoice.due, 0, 0
        t = created
        add(t, invoice_event(invoice, "invoice.finalized", t, api_version=api))
        add(t + timedelta(minutes=1), invoice_event(invoice, "invoice.sent", t + timedelta(minutes=1), api_version=api))
        if chooser.random() < 0.25:  # the finance team gives more time
            t += timedelta(days=chooser.randint(1, 3), hours=2)
            due = due + timedelta(days=chooser.choice([7, 14]))
            add(t, invoice_event(invoice, "invoice.updated", t, due=due, api_version=api))
        if chooser.random() < 0.2:  # a credit note: Stripe creates both events in the same second
            t += timedelta(days=chooser.randint(1, 3), hours=1)
            credited = total // 10
            add(t, credit_note_event(invoice, 1, credited, t, api_version=api),
                invoice_event(invoice, "invoice.updated", t, credited=credited, due=due, api_version=api))
        if chooser.random() < 0.3:  # a part payment by card
            t += timedelta(days=chooser.randint(1, 4), hours=3)
            paid = (total - credited) // 2
            add(t, invoice_event(invoice, "invoice.updated", t, credited=credited, amount_paid=paid, due=due, api_version=api),
                *([] if api == LEGACY_API_VERSION else [invoice_payment_paid_event(invoice, paid, t)]))
            if chooser.random() < 0.4:  # ... which the customer disputes, and the dispute closes
                t += timedelta(days=chooser.randint(1, 3))
                add(t, dispute_event(invoice, t, api_version=api))
                t += timedelta(days=chooser.randint(2, 5))
                add(t, dispute_event(invoice, t, closed=True, api_version=api))
        if chooser.random() < 0.1:  # the customer's AP mailbox moves
            t += timedelta(hours=5)
            moved = replace(customer, email=f"ap-{index}@{customer.email.split('@')[1]}")
            add(t, customer_updated_event(moved, t))
        ending = chooser.choices(["paid", "open", "void", "uncollectible"], weights=[55, 30, 10, 5])[0]
        t += timedelta(days=chooser.randint(1, 8), hours=chooser.randint(0, 6))
        if ending == "paid":
            add(t, invoice_event(invoice, "invoice.paid", t, credited=credited, due=due, api_version=api),
                invoice_event(invoice, "invoice.payment_succeeded", t, credited=credited, due=due, api_version=api))
        elif ending == "void":
            add(t, invoice_event(invoice, "invoice.voided", t, credited=credited, amount_paid=paid, due=due, api_version=api))
        elif ending == "uncollectible":
            add(t, invoice_event(invoice, "invoice.marked_uncollectible", t, credited=credited, amount_paid=paid, due=due,
                                 api_version=api))
    return happenings


def deliveries_in_order(happenings: list[Happening]) -> list[tuple[datetime, dict[str, Any]]]:
    return [(h.at, h.event) for h in sorted(happenings, key=lambda h: (h.at, h.order))]


def deliveries_shuffled_three_times(happenings: list[Happening], seed: int) -> list[tuple[datetime, dict[str, Any]]]:
    chooser = random.Random(seed)
    deliveries = []
    for happening in happenings:
        deliveries.append((happening.at, chooser.random(), happening.event))
        for _ in range(2):  # Stripe's retries: at once, within minutes, or days later
            delay = chooser.choice([timedelta(0), timedelta(minutes=chooser.randint(1, 59)),
                                    timedelta(hours=chooser.randint(1, 72))])
            deliveries.append((happening.at + delay, chooser.random(), happening.event))
    return [(at, event) for at, _, event in sorted(deliveries, key=lambda d: (d[0], d[1]))]


@dataclass
class Outcome:
    invoices: dict[str, Any]
    logs: dict[str, list[dict[str, Any]]]
    statuses: list[int]


def run(deliveries: list[tuple[datetime, dict[str, Any]]], invoice_ids: list[str]) -> Outcome:
    statuses: list[int] = []
    with LocalRuntime(start=START) as runtime:
        def deliver(event: dict[str, Any]):
            def send() -> None:
                body, headers = signed_delivery(event, LOCAL_STRIPE_SECRET, runtime.now())
                statuses.append(runtime.request("POST", "/webhooks/stripe", body, headers).status_code)
            return send

        runtime.run_until(UNTIL, external=[(at, deliver(event)) for at, event in deliveries])
        from arrears.adapters.dynamo import DynamoStore

        store = DynamoStore(runtime.table_name)
        invoices = {i: store.get_invoice(i).model_dump(mode="json", exclude={"execution_arn"}) for i in invoice_ids}
        logs = {i: [_comparable(entry) for entry in store.entries(i)] for i in invoice_ids}
    return Outcome(invoices, logs, statuses)


def _comparable(entry) -> dict[str, Any]:
    """An entry without what only SES decides (its message ids) and so without the hashes that cover them."""
    data = entry.model_dump(mode="json", exclude={"message_id", "hash", "prev_hash"})
    data["artefacts"] = [{"kind": a["kind"], "sha256": a["sha256"]} for a in data["artefacts"]]
    if "covered_by" in data["details"]:  # the message that covered the step: its SES message id too
        data["details"]["covered_by"] = {k: v for k, v in data["details"]["covered_by"].items() if k != "message_id"}
    return data


@pytest.fixture(scope="module")
def outcomes():
    happenings = invoice_histories(INVOICES, SEED)
    invoice_ids = sorted({h.event["data"]["object"]["id"] for h in happenings if h.event["data"]["object"]["object"] == "invoice"})
    ordered = run(deliveries_in_order(happenings), invoice_ids)
    shuffled = run(deliveries_shuffled_three_times(happenings, SEED), invoice_ids)
    return happenings, ordered, shuffled


def test_every_delivery_is_accepted(outcomes):
    happenings, ordered, shuffled = outcomes
    assert set(ordered.statuses) == {200} and len(ordered.statuses) == len(happenings)
    delivered = deliveries_shuffled_three_times(happenings, SEED)
    assert set(shuffled.statuses) == {200} and len(shuffled.statuses) == len([d for d in delivered if d[0] <= UNTIL])
    assert len(delivered) == 3 * len(happenings)


def test_the_histories_are_varied_and_the_logs_not_trivial(outcomes):
    # A test that compares empty logs proves nothing: the book has every kind of change and real contacts
    _, ordered, _ = outcomes
    kinds = {entry["kind"] for entries in ordered.logs.values() for entry in entries}
    assert {"invoice_opened", "invoice_updated", "partial_payment", "hold_placed", "hold_released",
            "payment", "voided", "marked_uncollectible", "collection_started", "email"} <= kinds
    assert {i["status"] for i in ordered.invoices.values()} == {"open", "paid", "void", "uncollectible"}


def test_three_shuffled_deliveries_end_in_the_same_invoice_states(outcomes):
    _, ordered, shuffled = outcomes
    assert shuffled.invoices == ordered.invoices


def test_three_shuffled_deliveries_give_the_same_contact_logs(outcomes):
    _, ordered, shuffled = outcomes
    different = [i for i in ordered.logs if shuffled.logs[i] != ordered.logs[i]]
    assert different == [], f"{len(different)} logs differ, e.g. {different[:1]}: {shuffled.logs[different[0]] if different else ''}"


def test_a_customers_new_billing_email_is_used_from_the_next_contact_on(outcomes):
    # Given the customers whose AP mailbox moved (customer.updated) during the run
    happenings, _, shuffled = outcomes
    moves: dict[str, list[tuple[datetime, str]]] = {}
    for happening in happenings:
        data = happening.event["data"]["object"]
        if data["object"] == "customer":
            moves.setdefault(data["id"], []).append((happening.at, data["email"]))
    original = {c.customer_id: c.email for c in CUSTOMERS}
    # Then every email went to the address that was current when it was sent
    checked = 0
    for entries in shuffled.logs.values():
        for entry in entries:
            if entry["kind"] != "email" or entry["customer_id"] not in moves:
                continue
            sent_at = datetime.fromisoformat(entry["at"].replace("Z", "+00:00"))
            current = [email for at, email in sorted(moves[entry["customer_id"]]) if at <= sent_at]
            assert entry["recipient"] == (current[-1] if current else original[entry["customer_id"]])
            checked += bool(current)
    assert checked, "no email went out after a move: the histories no longer exercise this"
