"""Applying billing events: order, duplicates and terminal states (in-memory store)."""

import json
from datetime import datetime, timedelta, timezone

import pytest

from arrears.ingestion.billing_changes import apply_invoice_update
from arrears.ingestion.providers import stripe as stripe_provider
from arrears.ingestion.providers.errors import MalformedEvent
from arrears.adapters.memory import MemoryStore
from arrears_local.portfolio import sample_portfolio
from arrears_local.stripe_events import invoice_event
from tests.unit.test_stripe_events import RecordingWorkflows




@pytest.fixture
def sample():
    return sample_portfolio(count=1)[0].invoice


def _apply(event, store, workflows):
    update = stripe_provider.to_update(event)
    return apply_invoice_update(update, store, store, workflows, datetime.fromtimestamp(event["created"], tz=timezone.utc))


def test_finalized_invoice_is_stored_logged_and_its_workflow_started(sample):
    store, workflows = MemoryStore(), RecordingWorkflows()
    outcome = _apply(invoice_event(sample, "invoice.finalized", sample.created), store, workflows)
    invoice = store.get_invoice(sample.invoice_id)
    assert outcome == "started" and workflows.started == [sample.invoice_id]
    assert invoice.amount_remaining == sample.total and invoice.currency == sample.currency
    assert invoice.due_at == sample.due.replace(microsecond=0)
    assert store.get_customer(sample.customer.customer_id).name == sample.customer.name
    assert [e.kind for e in store.entries(sample.invoice_id)] == ["invoice_opened"]


def test_payment_closes_the_invoice_and_stops_its_workflow(sample):
    store, workflows = MemoryStore(), RecordingWorkflows()
    _apply(invoice_event(sample, "invoice.finalized", sample.created), store, workflows)
    outcome = _apply(invoice_event(sample, "invoice.paid", sample.due), store, workflows)
    assert outcome == "closed: paid" and workflows.stopped == [sample.invoice_id]
    invoice = store.get_invoice(sample.invoice_id)
    assert invoice.status.value == "paid" and invoice.amount_remaining == 0
    assert [e.kind for e in store.entries(sample.invoice_id)] == ["invoice_opened", "payment"]


def test_a_late_finalized_event_never_reopens_a_paid_invoice(sample):
    # Given the payment arrives before the finalization (out of order)
    store, workflows = MemoryStore(), RecordingWorkflows()
    _apply(invoice_event(sample, "invoice.paid", sample.due), store, workflows)
    # When the older finalized event arrives
    outcome = _apply(invoice_event(sample, "invoice.finalized", sample.created), store, workflows)
    # Then nothing changes and no workflow starts
    assert outcome.startswith("ignored") and workflows.started == []
    assert store.get_invoice(sample.invoice_id).status.value == "paid"


def test_card_charged_invoices_are_left_to_the_platform(sample):
    # Given a card-charged invoice that Stripe is still charging
    store, workflows = MemoryStore(), RecordingWorkflows()
    event = invoice_event(sample, "invoice.finalized", sample.created)
    event["data"]["object"]["collection_method"] = "charge_automatically"
    # When it is finalized
    outcome = _apply(event, store, workflows)
    # Then Arrears stores nothing and starts nothing
    assert outcome == "ignored: not collected by Arrears"
    assert store.get_invoice(sample.invoice_id) is None and workflows.started == []


def test_unknown_event_types_are_ignored(sample):
    event = invoice_event(sample, "invoice.finalized", sample.created) | {"type": "customer.subscription.updated"}
    assert stripe_provider.to_update(event) is None


@pytest.mark.parametrize("mutate, code", [
    (lambda o: o.pop("customer"), "invalid_invoice"),
    (lambda o: o.__setitem__("amount_due", -5), "invalid_invoice"),
    (lambda o: o.__setitem__("currency", "euro"), "invalid_invoice"),
    (lambda o: o.__setitem__("id", "in_<script>"), "invalid_invoice"),
])
def test_malformed_invoices_are_refused(sample, mutate, code):
    event = invoice_event(sample, "invoice.finalized", sample.created)
    mutate(event["data"]["object"])
    with pytest.raises(MalformedEvent) as refused:
        stripe_provider.to_update(event)
    assert refused.value.code == code


@pytest.mark.parametrize("body, code", [(b"{not json", "invalid_json"), (b'{"id": "evt_1"}', "invalid_event"), (b"[]", "invalid_event")])
def test_unparseable_bodies_are_refused(body, code):
    with pytest.raises(MalformedEvent) as refused:
        stripe_provider.parse_event(body)
    assert refused.value.code == code


def test_parse_event_returns_id_and_type(sample):
    event = invoice_event(sample, "invoice.paid", sample.due + timedelta(days=1))
    event_id, event_type, document = stripe_provider.parse_event(json.dumps(event).encode())
    assert (event_id, event_type) == (event["id"], "invoice.paid") and document == event


def test_a_written_off_invoice_paid_after_all_is_recorded_as_a_recovery(sample):
    # Given an invoice written off (marked uncollectible) 45 days after its due date
    store, workflows = MemoryStore(), RecordingWorkflows()
    _apply(invoice_event(sample, "invoice.finalized", sample.created), store, workflows)
    _apply(invoice_event(sample, "invoice.marked_uncollectible", sample.due + timedelta(days=45)), store, workflows)
    # When the debtor pays it in Stripe later
    outcome = _apply(invoice_event(sample, "invoice.paid", sample.due + timedelta(days=70)), store, workflows)
    # Then the payment is recorded as a recovery and the invoice is paid, not left uncollectible
    assert outcome == "closed: paid"
    invoice = store.get_invoice(sample.invoice_id)
    assert invoice.status.value == "paid" and invoice.amount_remaining == 0
    payment = store.entries(sample.invoice_id)[-1]
    assert payment.kind == "payment" and payment.details["recovered_after_write_off"] is True
    # And nothing leaves paid again (a replayed write-off is ignored)
    again = _apply(invoice_event(sample, "invoice.marked_uncollectible", sample.due + timedelta(days=80)), store, workflows)
    assert again.startswith("ignored") and store.get_invoice(sample.invoice_id).status.value == "paid"


def test_a_voided_invoice_is_not_reopened_by_a_payment(sample):
    store, workflows = MemoryStore(), RecordingWorkflows()
    _apply(invoice_event(sample, "invoice.finalized", sample.created), store, workflows)
    _apply(invoice_event(sample, "invoice.voided", sample.due), store, workflows)
    assert _apply(invoice_event(sample, "invoice.paid", sample.due + timedelta(days=3)), store, workflows).startswith("ignored")
    assert store.get_invoice(sample.invoice_id).status.value == "void"


class _FailingOnce:
    """A contact log whose next append of `kind` fails, as a DynamoDB write does when its retries run out."""

    def __init__(self, store: MemoryStore, kind: str) -> None:
        self.store, self.kind = store, kind

    def append(self, *args, **fields):
        if fields.get("kind") == self.kind and self.kind is not None:
            self.kind = None
            raise RuntimeError("ProvisionedThroughputExceededException (reached max retries: 5)")
        return self.store.append(*args, **fields)

    def entries(self, invoice_id):
        return self.store.entries(invoice_id)


def _apply_with(event, store, log, workflows):
    update = stripe_provider.to_update(event)
    return apply_invoice_update(update, store, log, workflows, datetime.fromtimestamp(event["created"], tz=timezone.utc))


@pytest.mark.parametrize("event_type, kind, outcome", [("invoice.paid", "payment", "closed: paid"),
                                                       ("invoice.voided", "voided", "closed: voided")])
def test_a_settling_event_whose_log_entry_failed_is_finished_by_the_platforms_retry_once(sample, event_type, kind, outcome):
    # Given an open invoice, and a settling event whose first attempt stored the facts but failed to log them
    store, workflows = MemoryStore(), RecordingWorkflows()
    _apply(invoice_event(sample, "invoice.finalized", sample.created), store, workflows)
    event = invoice_event(sample, event_type, sample.due)
    with pytest.raises(RuntimeError):
        _apply_with(event, store, _FailingOnce(store, kind), workflows)
    assert store.get_invoice(sample.invoice_id).is_settled and workflows.stopped == []

    # When the platform retries the delivery (the webhook answered 5xx), and then delivers it once more
    assert _apply(event, store, workflows) == outcome
    assert _apply(event, store, workflows) == "ignored: invoice already closed"

    # Then the settlement is logged once and the workflow stopped
    assert [e.kind for e in store.entries(sample.invoice_id)] == ["invoice_opened", kind]
    assert workflows.stopped[:1] == [sample.invoice_id]


def test_a_finalized_event_whose_log_entry_failed_is_logged_and_started_by_the_retry(sample):
    # Given a new invoice whose first delivery stored the facts, then failed to log invoice_opened
    store, workflows = MemoryStore(), RecordingWorkflows()
    event = invoice_event(sample, "invoice.finalized", sample.created)
    with pytest.raises(RuntimeError):
        _apply_with(event, store, _FailingOnce(store, "invoice_opened"), workflows)
    assert store.get_invoice(sample.invoice_id) is not None and workflows.started == []

    # When the platform retries it, twice
    assert _apply(event, store, workflows) == "started"
    _apply(event, store, workflows)

    # Then the invoice is opened once and its workflow started
    assert [e.kind for e in store.entries(sample.invoice_id)] == ["invoice_opened"]
    assert workflows.started[:1] == [sample.invoice_id]
