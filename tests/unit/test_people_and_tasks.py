"""People and tasks: a task never outlives its invoice's settlement (in-memory store, the real domain code)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from arrears.domain import dunning
from arrears.domain.clock import parse_iso
from arrears.usecases.finance.actions import write_off
from arrears.ingestion.billing_changes import apply_invoice_update
from arrears.domain.ports import Ports
from arrears.ingestion.providers import stripe as stripe_provider
from arrears_local.portfolio import sample_portfolio
from arrears_local.stripe_events import invoice_event
from tests.unit.test_stripe_events import RecordingWorkflows
from tests.unit.memory_world import memory_ports

FINANCE = "arn:aws:iam::123456789012:user/finance-jane"


@pytest.fixture
def sample():
    return next(item.invoice for item in sample_portfolio(count=12) if item.behaviour == "never pays")


@pytest.fixture
def book(sample, default_policy):
    ports, workflows = memory_ports(default_policy, at=sample.created), RecordingWorkflows()
    deliver(ports.store, workflows, invoice_event(sample, "invoice.finalized", sample.created))
    return ports, workflows


def deliver(store, workflows, event):
    return apply_invoice_update(stripe_provider.to_update(event), store, store, workflows,
                                datetime.fromtimestamp(event["created"], tz=timezone.utc))


def run_until(ports: Ports, invoice_id: str, until: datetime) -> dunning.Decision:
    decision = dunning.start_collection(invoice_id, "arn:execution", "default", ports)
    while decision.status == "active" and parse_iso(decision.next_at) <= until:
        ports.clock.at = parse_iso(decision.next_at)
        decision = dunning.run_due_steps(invoice_id, ports)
    return decision


def test_a_paid_invoices_open_call_task_closes_with_a_log_entry_saying_why(book, sample):
    ports, workflows = book
    store = ports.store
    # Given the call task the policy opens at +15 (on a business day) is still open days later
    run_until(ports, sample.invoice_id, sample.due + timedelta(days=20))
    [call] = store.open_tasks_of(sample.invoice_id)
    assert call["kind"] == "call_debtor"
    # When the debtor pays (Stripe's invoice.paid)
    paid_at = sample.due + timedelta(days=21)
    deliver(store, workflows, invoice_event(sample, "invoice.paid", paid_at))
    # Then the task is closed, not open any more, and the invoice's log says why and who closed it
    assert store.open_tasks_of(sample.invoice_id) == []
    assert store.tasks[call["task_id"]]["status"] == "obsolete"
    closed = [e for e in store.entries(sample.invoice_id) if e.kind == "task_closed"]
    assert len(closed) == 1 and closed[0].details["task"] == "call_debtor" and closed[0].details["task_id"] == call["task_id"]
    assert closed[0].details["reason"] == "the invoice was paid" and closed[0].actor == "stripe webhook"
    assert closed[0].step_id == "call_15" and closed[0].at == paid_at.replace(microsecond=0)
    # And when the workflow then closes the collection, nothing is closed (or logged) twice
    ports.clock.at = paid_at + timedelta(hours=1)
    assert dunning.run_due_steps(sample.invoice_id, ports).status == "closed"
    assert len([e for e in store.entries(sample.invoice_id) if e.kind == "task_closed"]) == 1


def test_a_write_off_closes_the_invoices_open_tasks(book, sample):
    ports, workflows = book
    store = ports.store
    run_until(ports, sample.invoice_id, sample.due + timedelta(days=20))
    letter = store.open_task(sample.invoice_id, "post_letter", ports.clock.now(), {"step_id": "overdue_15"})
    # When the finance team writes the invoice off
    now = ports.clock.now() + timedelta(days=2)
    write_off(sample.invoice_id, "customer ceased trading", FINANCE, store, store, workflows, now)
    # Then both the call and the letter to post are closed, each with its own entry naming the write-off
    assert store.open_tasks_of(sample.invoice_id) == []
    closed = {e.details["task"]: e for e in store.entries(sample.invoice_id) if e.kind == "task_closed"}
    assert set(closed) == {"call_debtor", "post_letter"} and closed["post_letter"].details["task_id"] == letter
    assert {e.actor for e in closed.values()} == {FINANCE}
    assert {e.details["reason"] for e in closed.values()} == {"the invoice was written off"}


def test_the_workflows_close_ends_tasks_and_keeps_a_customer_task_other_invoices_still_need(book, sample, default_policy):
    ports, workflows = book
    store = ports.store
    run_until(ports, sample.invoice_id, sample.due + timedelta(days=20))
    # Given a customer-wide task (the debtor's email bounced) and another invoice of the same customer still owed
    invoice = store.get_invoice(sample.invoice_id)
    other = invoice.model_copy(update={"invoice_id": "in_other", "number": "NW-2026-9999"})
    store.invoices[other.invoice_id] = other
    bounced = store.open_task(sample.invoice_id, "fix_debtor_email", ports.clock.now(), {"address": "ap@example.com"})
    # When the balance reaches zero out of band and the workflow wakes and closes the collection
    store.invoices[sample.invoice_id] = invoice.model_copy(update={"amount_paid": invoice.amount_due, "amount_remaining": 0})
    ports.clock.at = ports.clock.now() + timedelta(days=1)
    assert dunning.run_due_steps(sample.invoice_id, ports).status == "closed"
    # Then the call task is closed by the workflow, and the address task stays for the other invoice
    assert [t["task_id"] for t in store.open_tasks_of(sample.invoice_id)] == [bounced]
    [closed] = [e for e in store.entries(sample.invoice_id) if e.kind == "task_closed"]
    assert closed.details["task"] == "call_debtor" and closed.actor == "arrears-workflow"


# --- phone numbers ---------------------------------------------------------------------------------------
def test_every_platform_that_sends_a_phone_number_gives_it_to_the_customer(sample):
    from arrears.ingestion.bulk_import import plan_import, read_records
    from arrears.ingestion.providers import chargebee, generic
    from arrears_local import billing_events as billing
    from arrears_local.stripe_events import customer_updated_event

    # Stripe's invoice (customer_phone) and customer (phone) objects
    stripe_invoice = invoice_event(sample, "invoice.finalized", sample.created)
    stripe_invoice["data"]["object"]["customer_phone"] = "+44 20 7946 0958"
    assert stripe_provider.to_update(stripe_invoice).customer.phone == "+442079460958"
    stripe_customer = customer_updated_event(sample.customer, sample.created)
    stripe_customer["data"]["object"]["phone"] = "0049 (30) 1234-5678"
    assert stripe_provider.to_update(stripe_customer).customer.phone == "+493012345678"
    # Chargebee's customer, and the generic feed's
    event = billing.chargebee_customer_event(sample.customer, sample.created)
    event["content"]["customer"]["phone"] = "+33 1 42 68 53 00"
    assert chargebee.to_change(event).customer.phone == "+33142685300"
    event = billing.generic_customer_event(sample.customer, sample.created)
    event["customer"]["phone"] = "+1 (415) 555-0132"
    assert generic.to_change(event).customer.phone == "+14155550132"
    # A bulk import's customer_phone column; a national number is kept as written (a person can still dial it)
    record = billing.generic_invoice_record(sample)
    header = "id,number,currency,amount_due,issued_at,due_at,customer_id,customer_name,customer_email,country,customer_phone"
    row = ",".join([record["id"], record["number"], record["currency"], str(record["amount_due"]), record["issued_at"],
                    record["due_at"], sample.customer.customer_id, sample.customer.name.replace(",", " "),
                    sample.customer.email, sample.customer.country, "020 7946 0958"])
    plan = plan_import(read_records(f"{header}\n{row}\n".encode(), "book.csv"), sample.created)
    assert plan.valid and plan.updates[0].customer.phone == "020 7946 0958"


def test_a_call_task_carries_the_debtors_number_and_local_calling_window(book, sample):
    ports, _ = book
    store = ports.store
    customer = store.get_customer(sample.customer.customer_id)
    store.customers[customer.customer_id] = customer.model_copy(update={"phone": "+14155550132"})
    # When the policy's +15 call task opens
    run_until(ports, sample.invoice_id, sample.due + timedelta(days=20))
    [call] = store.open_tasks_of(sample.invoice_id)
    # Then it names the number and the day's contact hours in the debtor's zone, local and in UTC
    assert call["details"]["phone"] == "+14155550132"
    window = call["details"]["call_window"]
    opened = call["due_at"]
    zone = customer.timezone
    assert (window["timezone"], window["local_start"], window["local_end"]) == (zone, "09:00", "17:30")
    start, end = parse_iso(window["start_utc"]), parse_iso(window["end_utc"])
    from zoneinfo import ZoneInfo

    assert start.astimezone(ZoneInfo(zone)).strftime("%Y-%m-%d %H:%M") == f"{window['date']} 09:00"
    assert end - start == timedelta(hours=8, minutes=30) and start <= opened <= end
    # And the log entry of the call step says the same
    entry = next(e for e in store.entries(sample.invoice_id) if e.kind == "call_task")
    assert entry.details["phone"] == "+14155550132" and entry.details["call_window"] == window


@pytest.mark.parametrize("raw", ["call me", "12345", "020 7946 0958", "+0 20 7946 0958"])
def test_a_number_not_in_international_form_is_refused_and_changes_nothing(book, sample, raw):
    from arrears.usecases.finance.actions import update_customer_settings
    from arrears.domain.holds import ActionRefused

    ports, _ = book
    store = ports.store
    before = len(store.entries(sample.invoice_id))
    with pytest.raises(ActionRefused) as refused:
        update_customer_settings(sample.customer.customer_id, {"phone": raw}, FINANCE, store, store, sample.created)
    assert refused.value.code == "invalid_field" and "international form" in refused.value.message
    assert len(store.entries(sample.invoice_id)) == before and store.get_customer(sample.customer.customer_id).phone == ""
