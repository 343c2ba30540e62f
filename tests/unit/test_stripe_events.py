"""Every Stripe event Arrears handles, applied to the in-memory store: what changes and what is logged."""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import datetime, timedelta, timezone

import pytest

from arrears.ingestion.billing_changes import CollectedBy, apply_billing_change
from arrears.domain.models import HoldKind, InvoiceStatus
from arrears.ingestion.providers import stripe as stripe_provider
from arrears.adapters.memory import MemoryStore
from arrears_local.portfolio import sample_portfolio
from arrears_local.stripe_events import (
    API_VERSION, LEGACY_API_VERSION, credit_note_event, customer_updated_event, dispute_event, invoice_event,
    invoice_payment_paid_event, payment_intent_id,
)


class RecordingWorkflows:
    def __init__(self) -> None:
        self.started: list[str] = []
        self.stopped: list[str] = []
        self.resumed: list[str] = []

    def start(self, invoice_id: str) -> str | None:
        if invoice_id in self.started:
            return None
        self.started.append(invoice_id)
        return f"arn:aws:states:us-east-1:123456789012:execution:dunning:{invoice_id}"

    def stop(self, invoice_id: str, reason: str) -> None:
        self.stopped.append(invoice_id)

    def resume(self, task_token: str) -> None:
        self.resumed.append(task_token)


@pytest.fixture
def sample():
    return sample_portfolio(count=1)[0].invoice


@pytest.fixture
def store():
    return MemoryStore()


@pytest.fixture
def workflows():
    return RecordingWorkflows()


def deliver(event, store, workflows, chase_after_platform_retries=False):
    change = stripe_provider.to_update(event)
    at = datetime.fromtimestamp(event["created"], tz=timezone.utc)
    return apply_billing_change(change, store, store, workflows, at, chase_after_platform_retries)


def kinds(store, invoice_id):
    return [entry.kind for entry in store.entries(invoice_id)]


def test_a_draft_is_recorded_but_not_collected(sample, store, workflows):
    # When Stripe creates a draft invoice
    outcome = deliver(invoice_event(sample, "invoice.created", sample.created - timedelta(hours=1)), store, workflows)
    # Then the customer is known, but there is no invoice to chase and no workflow
    assert outcome.startswith("recorded: draft")
    assert store.get_customer(sample.customer.customer_id).email == sample.customer.email
    assert store.get_invoice(sample.invoice_id) is None and workflows.started == []


def test_a_deleted_draft_leaves_nothing_behind(sample, store, workflows):
    deliver(invoice_event(sample, "invoice.created", sample.created - timedelta(hours=1)), store, workflows)
    outcome = deliver(invoice_event(sample, "invoice.deleted", sample.created), store, workflows)
    assert outcome == "ignored: a deleted draft" and store.get_invoice(sample.invoice_id) is None


def test_sent_after_finalized_changes_nothing_and_logs_nothing(sample, store, workflows):
    deliver(invoice_event(sample, "invoice.finalized", sample.created), store, workflows)
    outcome = deliver(invoice_event(sample, "invoice.sent", sample.created + timedelta(minutes=2)), store, workflows)
    assert outcome == "updated" and kinds(store, sample.invoice_id) == ["invoice_opened"]
    assert workflows.started == [sample.invoice_id]


def test_a_new_due_date_reaches_the_workflows_next_step(sample, store, workflows):
    # Given an open invoice due on 1 October
    deliver(invoice_event(sample, "invoice.finalized", sample.created), store, workflows)
    # When the finance team gives the customer ten more days in Stripe
    later_due = sample.due + timedelta(days=10)
    deliver(invoice_event(sample, "invoice.updated", sample.created + timedelta(days=3), due=later_due,
                          previous={"due_date": int(sample.due.timestamp())}), store, workflows)
    # Then the stored invoice (which the workflow re-reads and plans from at each step) has the new date
    invoice = store.get_invoice(sample.invoice_id)
    assert invoice.due_at == later_due
    updated = store.entries(sample.invoice_id)[-1]
    assert updated.kind == "invoice_updated"
    assert updated.details["changed"] == {"due_at": {"from": "2026-10-01T09:00:00Z", "to": "2026-10-11T09:00:00Z"}}


def test_a_partial_payment_lowers_the_balance_that_later_messages_show(sample, store, workflows):
    deliver(invoice_event(sample, "invoice.finalized", sample.created), store, workflows)
    # When the customer pays 40 % by bank transfer
    part = sample.total * 40 // 100
    outcome = deliver(invoice_event(sample, "invoice.updated", sample.due + timedelta(days=2), amount_paid=part), store, workflows)
    # Then the invoice stays open with the rest as its balance, and the payment is logged
    invoice = store.get_invoice(sample.invoice_id)
    assert outcome == "updated" and invoice.status is InvoiceStatus.OPEN
    assert (invoice.amount_paid, invoice.amount_remaining) == (part, sample.total - part)
    entry = store.entries(sample.invoice_id)[-1]
    assert entry.kind == "partial_payment" and entry.details["paid_now"] == part and entry.details["balance"] == sample.total - part


def test_a_failed_payment_is_logged_and_collection_goes_on(sample, store, workflows):
    deliver(invoice_event(sample, "invoice.finalized", sample.created), store, workflows)
    deliver(invoice_event(sample, "invoice.payment_failed", sample.due), store, workflows)
    assert kinds(store, sample.invoice_id) == ["invoice_opened", "payment_failed"]
    assert store.get_invoice(sample.invoice_id).status is InvoiceStatus.OPEN and workflows.stopped == []


@pytest.mark.parametrize("event_type, status, log_kind", [
    ("invoice.payment_succeeded", InvoiceStatus.PAID, "payment"),
    ("invoice.paid", InvoiceStatus.PAID, "payment"),
    ("invoice.voided", InvoiceStatus.VOID, "voided"),
    ("invoice.marked_uncollectible", InvoiceStatus.UNCOLLECTIBLE, "marked_uncollectible"),
])
def test_closing_events_close_the_invoice_and_stop_its_workflow(sample, store, workflows, event_type, status, log_kind):
    deliver(invoice_event(sample, "invoice.finalized", sample.created), store, workflows)
    deliver(invoice_event(sample, event_type, sample.due + timedelta(days=5)), store, workflows)
    assert store.get_invoice(sample.invoice_id).status is status
    assert kinds(store, sample.invoice_id) == ["invoice_opened", log_kind] and workflows.stopped == [sample.invoice_id]


def test_payment_succeeded_and_paid_of_one_payment_are_logged_once(sample, store, workflows):
    deliver(invoice_event(sample, "invoice.finalized", sample.created), store, workflows)
    paid_at = sample.due + timedelta(days=1)
    deliver(invoice_event(sample, "invoice.paid", paid_at), store, workflows)
    outcome = deliver(invoice_event(sample, "invoice.payment_succeeded", paid_at), store, workflows)
    assert outcome == "ignored: invoice already closed" and kinds(store, sample.invoice_id) == ["invoice_opened", "payment"]


def test_an_older_update_never_overwrites_a_newer_one(sample, store, workflows):
    deliver(invoice_event(sample, "invoice.finalized", sample.created), store, workflows)
    newer = deliver(invoice_event(sample, "invoice.updated", sample.created + timedelta(days=5), due=sample.due + timedelta(days=14)),
                    store, workflows)
    # When an update made earlier arrives late
    older = deliver(invoice_event(sample, "invoice.updated", sample.created + timedelta(days=2), due=sample.due + timedelta(days=3)),
                    store, workflows)
    assert newer == "updated" and older == "ignored: newer facts already stored"
    assert store.get_invoice(sample.invoice_id).due_at == sample.due + timedelta(days=14)


def test_a_credit_note_lowers_the_balance_and_its_voiding_restores_it(sample, store, workflows):
    deliver(invoice_event(sample, "invoice.finalized", sample.created), store, workflows)
    deliver(credit_note_event(sample, 1, 25_000, sample.created + timedelta(days=4)), store, workflows)
    assert store.get_invoice(sample.invoice_id).amount_remaining == sample.total - 25_000
    deliver(credit_note_event(sample, 1, 25_000, sample.created + timedelta(days=6), voided=True), store, workflows)
    assert store.get_invoice(sample.invoice_id).amount_remaining == sample.total
    lowered, restored = store.entries(sample.invoice_id)[1:]
    assert lowered.kind == restored.kind == "invoice_updated"
    assert lowered.details["changed"]["amount_due"] == {"from": sample.total, "to": sample.total - 25_000}
    assert restored.details["changed"]["amount_remaining"] == {"from": sample.total - 25_000, "to": sample.total}


def test_a_credit_note_and_the_invoice_update_of_the_same_second_log_the_same_whichever_comes_first(sample):
    at = sample.created + timedelta(days=4)
    pair = [credit_note_event(sample, 1, 25_000, at), invoice_event(sample, "invoice.updated", at, credited=25_000)]
    logs = []
    for order in (pair, pair[::-1]):
        store = MemoryStore()
        for event in [invoice_event(sample, "invoice.finalized", sample.created), *order]:
            deliver(event, store, RecordingWorkflows())
        logs.append([(e.kind, e.details) for e in store.entries(sample.invoice_id)])
    assert logs[0] == logs[1] and [kind for kind, _ in logs[0]] == ["invoice_opened", "invoice_updated"]


def test_an_invoice_update_that_already_shows_the_credit_note_is_not_credited_twice(sample, store, workflows):
    deliver(invoice_event(sample, "invoice.finalized", sample.created), store, workflows)
    at = sample.created + timedelta(days=4)
    # Stripe sends invoice.updated (amount_due lowered) and credit_note.created in the same second, in any order
    deliver(invoice_event(sample, "invoice.updated", at, credited=25_000), store, workflows)
    outcome = deliver(credit_note_event(sample, 1, 25_000, at), store, workflows)
    assert outcome == "recorded: the invoice already shows this credit note"
    assert store.get_invoice(sample.invoice_id).amount_remaining == sample.total - 25_000


def test_a_credit_note_for_an_invoice_not_seen_yet_is_kept_and_applied_when_it_arrives(sample, store, workflows):
    # Given the credit note is delivered before the invoice it credits
    kept = deliver(credit_note_event(sample, 1, 10_000, sample.created + timedelta(days=1)), store, workflows)
    assert kept.startswith("kept")
    # When the invoice arrives (an older snapshot, from its finalization)
    outcome = deliver(invoice_event(sample, "invoice.finalized", sample.created), store, workflows)
    # Then the credit note is applied on top of it
    assert "1 parked change(s) applied" in outcome
    assert store.get_invoice(sample.invoice_id).amount_remaining == sample.total - 10_000
    assert kinds(store, sample.invoice_id) == ["invoice_opened", "invoice_updated"]


def test_a_customer_update_is_used_from_the_next_contact_and_old_invoice_copies_do_not_undo_it(sample, store, workflows):
    deliver(invoice_event(sample, "invoice.finalized", sample.created), store, workflows)
    moved = replace(sample.customer, email="accounts-payable@brightwater-logistics.example", line1="1 New Bailey Square")
    outcome = deliver(customer_updated_event(moved, sample.created + timedelta(days=3)), store, workflows)
    # A later event of the invoice still carries the email Stripe froze on it at finalization
    deliver(invoice_event(sample, "invoice.payment_failed", sample.created + timedelta(days=5)), store, workflows)
    customer = store.get_customer(sample.customer.customer_id)
    assert outcome == "customer updated"
    assert (customer.email, customer.address.line1) == (moved.email, moved.line1)


@pytest.mark.parametrize("api_version", [LEGACY_API_VERSION, API_VERSION])
def test_a_dispute_holds_the_invoice_and_its_closing_resumes_collection(sample, store, workflows, api_version):
    # Given an open invoice partly paid by card (20,000 of 45,000) (before basil the invoice names its payment intent;
    # from basil on, invoice_payment.paid does)
    deliver(invoice_event(sample, "invoice.finalized", sample.created, api_version=api_version), store, workflows)
    paid_at = sample.created + timedelta(days=2)
    deliver(invoice_event(sample, "invoice.updated", paid_at, amount_paid=20_000, api_version=api_version), store, workflows)
    if api_version != LEGACY_API_VERSION:
        deliver(invoice_payment_paid_event(sample, 20_000, paid_at), store, workflows)
    assert store.invoice_of_payment("stripe", payment_intent_id(sample)) == sample.invoice_id
    # When the customer disputes the card payment
    held = deliver(dispute_event(sample, sample.created + timedelta(days=9), api_version=api_version), store, workflows)
    # Then the invoice is held; when the dispute closes, the hold is lifted
    assert held.startswith("held") and store.get_invoice(sample.invoice_id).hold.kind is HoldKind.DISPUTE
    released = deliver(dispute_event(sample, sample.created + timedelta(days=20), closed=True, api_version=api_version), store, workflows)
    assert released.startswith("released") and store.get_invoice(sample.invoice_id).hold is None
    assert kinds(store, sample.invoice_id)[-2:] == ["hold_placed", "hold_released"]


def test_a_dispute_closed_before_its_creation_arrives_never_holds(sample, store, workflows):
    deliver(invoice_event(sample, "invoice.finalized", sample.created, api_version=LEGACY_API_VERSION), store, workflows)
    deliver(dispute_event(sample, sample.created + timedelta(days=20), closed=True), store, workflows)
    outcome = deliver(dispute_event(sample, sample.created + timedelta(days=9)), store, workflows)
    assert outcome.startswith("ignored") and store.get_invoice(sample.invoice_id).hold is None


def test_a_dispute_before_its_payment_is_known_is_kept_until_the_payment_links_it(sample, store, workflows):
    deliver(invoice_event(sample, "invoice.finalized", sample.created), store, workflows)
    kept = deliver(dispute_event(sample, sample.created + timedelta(days=9)), store, workflows)
    linked = deliver(invoice_payment_paid_event(sample, 20_000, sample.created + timedelta(days=2)), store, workflows)
    assert kept.startswith("kept") and "parked change(s) applied" in linked
    assert store.get_invoice(sample.invoice_id).hold.kind is HoldKind.DISPUTE


def test_payloads_before_and_after_2025_03_31_give_the_same_invoice(sample):
    at = sample.created
    legacy = stripe_provider.to_update(invoice_event(sample, "invoice.finalized", at, api_version=LEGACY_API_VERSION))
    basil = stripe_provider.to_update(invoice_event(sample, "invoice.finalized", at))
    assert legacy.invoice == basil.invoice and legacy.customer == basil.customer
    assert legacy.payment_ids == (payment_intent_id(sample),) and basil.payment_ids == ()


def test_an_expanded_customer_object_parses_like_its_id(sample):
    event = invoice_event(sample, "invoice.finalized", sample.created)
    event["data"]["object"]["customer"] = {"id": sample.customer.customer_id, "object": "customer"}
    assert stripe_provider.to_update(event).invoice.customer_id == sample.customer.customer_id


class TestCardChargedInvoices:
    def _failed(self, sample, retrying: bool):
        at = sample.created + timedelta(days=21)
        return invoice_event(sample, "invoice.payment_failed", at, collection_method="charge_automatically",
                             next_payment_attempt=at + timedelta(days=3) if retrying else None)

    def test_while_stripe_retries_arrears_stays_out(self, sample, store, workflows):
        change = stripe_provider.to_update(self._failed(sample, retrying=True))
        assert change.collected_by is CollectedBy.PLATFORM
        assert deliver(self._failed(sample, retrying=True), store, workflows, True) == "ignored: not collected by Arrears"

    def test_once_stripe_stops_retrying_the_policy_option_decides(self, sample, store, workflows):
        assert deliver(self._failed(sample, retrying=False), store, workflows, False) == "ignored: not collected by Arrears"
        assert deliver(self._failed(sample, retrying=False), store, workflows, True) == "started"
        # A card invoice has no due date: it was due when it was finalized
        assert store.get_invoice(sample.invoice_id).due_at == sample.created


def _history(sample):
    """One invoice's life at one instant's worth of deliveries: the order must not matter for the state."""
    t = sample.created
    return [invoice_event(sample, "invoice.finalized", t),
            invoice_event(sample, "invoice.sent", t + timedelta(minutes=1)),
            invoice_event(sample, "invoice.updated", t + timedelta(days=2), due=sample.due + timedelta(days=7)),
            credit_note_event(sample, 1, 5_000, t + timedelta(days=3)),
            invoice_event(sample, "invoice.updated", t + timedelta(days=3), credited=5_000, due=sample.due + timedelta(days=7)),
            invoice_event(sample, "invoice.updated", t + timedelta(days=9), credited=5_000, amount_paid=15_000,
                          due=sample.due + timedelta(days=7)),
            invoice_event(sample, "invoice.paid", t + timedelta(days=30), credited=5_000, due=sample.due + timedelta(days=7)),
            invoice_event(sample, "invoice.payment_succeeded", t + timedelta(days=30), credited=5_000,
                          due=sample.due + timedelta(days=7))]


def test_the_final_state_does_not_depend_on_the_order_or_on_duplicates(sample):
    # Given the state after delivering the history once, in order
    reference = MemoryStore()
    for event in _history(sample):
        deliver(event, reference, RecordingWorkflows())
    expected = reference.get_invoice(sample.invoice_id)
    assert expected.status is InvoiceStatus.PAID and expected.amount_due == sample.total - 5_000
    # When it is delivered three times over, shuffled (each event id applied once, as the idempotency layer does)
    chooser = random.Random(31)
    for _ in range(40):
        deliveries = _history(sample) * 3
        chooser.shuffle(deliveries)
        store, seen = MemoryStore(), set()
        for event in deliveries:
            if event["id"] not in seen:
                seen.add(event["id"])
                deliver(event, store, RecordingWorkflows())
        # Then the invoice ends the same
        assert store.get_invoice(sample.invoice_id) == expected
