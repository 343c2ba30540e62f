"""Paddle Billing, Chargebee and generic-feed events as domain changes, applied to the in-memory store."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from arrears.ingestion.billing_changes import BalanceAdjustment, CollectedBy, CustomerUpdate, UpdateKind, apply_billing_change
from arrears.domain.models import InvoiceStatus
from arrears.ingestion.providers import chargebee, generic, paddle
from arrears.ingestion.providers.errors import MalformedEvent
from arrears.adapters.memory import MemoryStore
from arrears_local import billing_events as billing
from arrears_local.portfolio import sample_portfolio
from tests.unit.test_stripe_events import RecordingWorkflows


@pytest.fixture
def sample():
    return sample_portfolio(count=1)[0].invoice


def apply(change, store):
    return apply_billing_change(change, store, store, RecordingWorkflows(), change.occurred_at)


class TestPaddle:
    def test_a_billed_manual_transaction_is_an_invoice_due_after_its_payment_terms(self, sample):
        event = billing.paddle_transaction_event(sample, "transaction.billed", sample.created, net_days=14)
        change = paddle.to_change(event)
        invoice = change.invoice
        assert change.kind is UpdateKind.OPENED and change.collected_by is CollectedBy.ARREARS
        # Amounts arrive as strings of minor units
        assert (invoice.amount_due, invoice.amount_remaining, invoice.currency) == (sample.total, sample.total, "GBP")
        assert invoice.due_at == sample.created + timedelta(days=14) and invoice.number == sample.number

    @pytest.mark.parametrize("interval, frequency, due", [
        ("month", 1, datetime(2026, 2, 28, 9, tzinfo=timezone.utc)),  # 31 January + 1 month: the month's last day
        ("week", 2, datetime(2026, 2, 14, 9, tzinfo=timezone.utc)),
        ("year", 1, datetime(2027, 1, 31, 9, tzinfo=timezone.utc)),
    ])
    def test_payment_terms_in_weeks_months_and_years(self, interval, frequency, due):
        terms = paddle._BillingDetails.model_validate({"payment_terms": {"interval": interval, "frequency": frequency}})
        assert paddle.due_date(datetime(2026, 1, 31, 9, tzinfo=timezone.utc), terms) == due

    @pytest.mark.parametrize("event_type, status", [
        ("transaction.past_due", InvoiceStatus.OPEN), ("transaction.paid", InvoiceStatus.PAID),
        ("transaction.completed", InvoiceStatus.PAID), ("transaction.canceled", InvoiceStatus.VOID),
    ])
    def test_transaction_statuses(self, sample, event_type, status):
        assert paddle.to_change(billing.paddle_transaction_event(sample, event_type, sample.due)).invoice.status is status

    def test_a_partial_payment_lowers_the_balance(self, sample):
        store = MemoryStore()
        apply(paddle.to_change(billing.paddle_transaction_event(sample, "transaction.billed", sample.created)), store)
        apply(paddle.to_change(billing.paddle_transaction_event(sample, "transaction.updated", sample.due, paid=15_000)), store)
        invoice = store.get_invoice(billing.paddle_transaction_id(sample))
        assert (invoice.amount_paid, invoice.amount_remaining, invoice.status) == (15_000, sample.total - 15_000, InvoiceStatus.OPEN)

    def test_the_customer_event_gives_the_name_and_email_transactions_lack(self, sample):
        store = MemoryStore()
        apply(paddle.to_change(billing.paddle_transaction_event(sample, "transaction.billed", sample.created)), store)
        customer_id = billing.paddle_customer_id(sample.customer)
        assert store.get_customer(customer_id).email == ""
        change = paddle.to_change(billing.paddle_customer_event(sample.customer, sample.created + timedelta(hours=1)))
        assert isinstance(change, CustomerUpdate) and apply(change, store) == "customer updated"
        assert store.get_customer(customer_id).email == sample.customer.email

    def test_an_automatically_collected_transaction_is_left_to_paddle(self, sample):
        event = billing.paddle_transaction_event(sample, "transaction.past_due", sample.due)
        event["data"]["collection_mode"] = "automatic"
        assert paddle.to_change(event).collected_by is CollectedBy.PLATFORM

    def test_an_amount_that_is_not_a_string_of_minor_units_is_refused(self, sample):
        event = billing.paddle_transaction_event(sample, "transaction.billed", sample.created)
        event["data"]["details"]["totals"]["grand_total"] = "450.00"
        with pytest.raises(MalformedEvent) as error:
            paddle.to_change(event)
        assert error.value.code == "invalid_transaction" and "grand_total" in error.value.message


class TestChargebee:
    def test_generated_then_paid(self, sample):
        store = MemoryStore()
        assert apply(chargebee.to_change(billing.chargebee_invoice_event(sample, "invoice_generated", sample.created)), store) == "started"
        assert apply(chargebee.to_change(billing.chargebee_invoice_event(sample, "payment_succeeded", sample.due)), store) == "closed: paid"
        assert store.get_invoice(sample.number).status is InvoiceStatus.PAID

    def test_an_adjustment_credit_note_lowers_the_balance(self, sample):
        change = chargebee.to_change(billing.chargebee_credit_note_event(sample, 5_000, sample.created + timedelta(days=2)))
        assert isinstance(change, BalanceAdjustment) and (change.invoice_id, change.amount) == (sample.number, 5_000)

    def test_deleting_an_invoice_voids_it(self, sample):
        store = MemoryStore()
        apply(chargebee.to_change(billing.chargebee_invoice_event(sample, "invoice_generated", sample.created)), store)
        deleted = chargebee.to_change(billing.chargebee_invoice_event(sample, "invoice_deleted", sample.due, status="payment_due"))
        assert deleted.kind is UpdateKind.DELETED and apply(deleted, store) == "closed: deleted"
        assert store.get_invoice(sample.number).status is InvoiceStatus.VOID

    def test_an_auto_collected_customers_invoice_is_chargebees_until_its_dunning_ends(self, sample):
        event = billing.chargebee_invoice_event(sample, "invoice_updated", sample.due)
        event["content"]["customer"]["auto_collection"] = "on"
        assert chargebee.to_change(event).collected_by is CollectedBy.PLATFORM
        event["content"]["invoice"]["status"] = "not_paid"
        assert chargebee.to_change(event).collected_by is CollectedBy.PLATFORM_GAVE_UP

    def test_resource_version_orders_updates(self, sample):
        store = MemoryStore()
        newer = billing.chargebee_invoice_event(sample, "invoice_updated", sample.created + timedelta(days=3), paid=10_000)
        older = billing.chargebee_invoice_event(sample, "invoice_updated", sample.created + timedelta(days=1))
        apply(chargebee.to_change(newer), store)
        assert apply(chargebee.to_change(older), store) == "ignored: newer facts already stored"
        assert store.get_invoice(sample.number).amount_paid == 10_000


class TestGeneric:
    def test_an_invoice_event_opens_and_a_paid_one_closes(self, sample):
        store = MemoryStore()
        assert apply(generic.to_change(billing.generic_invoice_event(sample, sample.created)), store) == "started"
        assert apply(generic.to_change(billing.generic_invoice_event(sample, sample.due, "paid")), store) == "closed: paid"

    @pytest.mark.parametrize("mutate, where", [
        (lambda e: e["invoice"].__setitem__("amount_paid", 10**9), "amount_paid is more than amount_due"),
        (lambda e: e["invoice"].__setitem__("due_at", "2026-09-01T17:00:00"), "due_at"),  # a time of day needs a zone
        (lambda e: e["invoice"]["customer"].__setitem__("email", ""), "email"),
        (lambda e: e["invoice"].__setitem__("currency", "DEM"), "not an active ISO 4217 currency"),
        (lambda e: e["invoice"].__setitem__("amount_due", "120000"), "amount_due"),
        (lambda e: e["invoice"].__setitem__("due_at", "2031-09-01T09:00:00Z"), "payment terms"),
        (lambda e: e["invoice"].update(issued_at="2012-09-01T09:00:00Z", due_at="2012-10-01T09:00:00Z"), "years before"),
        (lambda e: e.__setitem__("surprise", 1), "surprise"),
        (lambda e: e.pop("invoice"), "needs `invoice`"),
    ])
    def test_a_wrong_shape_is_refused_with_where_it_is_wrong(self, sample, mutate, where):
        event = billing.generic_invoice_event(sample, sample.created)
        mutate(event)
        with pytest.raises(MalformedEvent) as error:
            generic.to_change(event)
        assert error.value.code == "invalid_event" and where in error.value.message


def test_a_generic_customer_timezone_no_one_knows_is_refused_before_anything_is_stored(sample):
    # Given a generic feed whose customer names a zone that does not exist (or a path)
    for zone in ("Mars/Olympus", "../../etc/passwd", "/etc/localtime"):
        event = billing.generic_invoice_event(sample, sample.created)
        event["invoice"]["customer"]["timezone"] = zone
        # Then the event is a 400 naming the field (the sender can fix it), never a zone read from disk
        with pytest.raises(MalformedEvent) as error:
            generic.to_change(event)
        assert error.value.code == "invalid_event" and "timezone" in error.value.message
