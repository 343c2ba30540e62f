"""Money, currencies and dates from every billing platform are strict: a bad one is a 400, never chased.

Seen in the pilot: an invoice due "1970-01-01" went straight to the referral stage with 20,335 days of
interest. Addresses are the other way round: whatever the platform sends is accepted, stored as sent
(a valid one in the form it is mailed to) and, if unusable, becomes a task (tests/unit/test_debtor_data.py).
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from arrears.ingestion.providers import chargebee, paddle, stripe
from arrears.ingestion.providers.errors import MalformedEvent
from arrears_local import billing_events as billing
from arrears_local.portfolio import sample_portfolio
from arrears_local.stripe_events import invoice_event


@pytest.fixture
def sample():
    return sample_portfolio(count=1)[0].invoice


def _refused(convert, event) -> MalformedEvent:
    with pytest.raises(MalformedEvent) as error:
        convert(event)
    assert error.value.status_code == 400
    return error.value


# --- Stripe -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("field, value", [
    ("amount_due", "125000"), ("amount_due", True), ("amount_due", 1250.5), ("amount_remaining", "0"),
    ("amount_paid", False),
])
def test_stripe_amounts_are_integers_not_strings_or_booleans(sample, field, value):
    # Given a Stripe invoice event whose amount is not a JSON integer
    event = invoice_event(sample, "invoice.finalized", sample.created)
    event["data"]["object"][field] = value
    # Then it is refused, naming the field
    assert field in _refused(stripe.to_update, event).message


def test_a_stripe_line_amount_is_an_integer_too(sample):
    event = invoice_event(sample, "invoice.finalized", sample.created)
    event["data"]["object"]["lines"]["data"][0]["amount"] = "4800.00"
    assert "lines.data.0.amount" in _refused(stripe.to_update, event).message


@pytest.mark.parametrize("currency", ["dem", "xxx", "xts", "hrk", "abc"])
def test_a_stripe_currency_is_an_active_iso_4217_code(sample, currency):
    event = invoice_event(sample, "invoice.finalized", sample.created)
    event["data"]["object"]["currency"] = currency
    assert "not an active ISO 4217 currency" in _refused(stripe.to_update, event).message


def test_a_stripe_currency_in_lower_case_is_stored_in_capitals(sample):
    event = invoice_event(sample, "invoice.finalized", sample.created)
    event["data"]["object"]["currency"] = "chf"
    assert stripe.to_update(event).invoice.currency == "CHF"


def test_a_stripe_due_date_before_the_invoice_was_created_is_refused(sample):
    # Given the pilot's case: due 1970-01-01T00:00:01 on an invoice created in 2026
    event = invoice_event(sample, "invoice.finalized", sample.created)
    event["data"]["object"]["due_date"] = 1
    # Then it is a 400 saying why, not an invoice at the referral stage
    assert "before the invoice was issued" in _refused(stripe.to_update, event).message


def test_stripe_payment_terms_beyond_a_year_are_refused(sample):
    event = invoice_event(sample, "invoice.finalized", sample.created)
    event["data"]["object"]["due_date"] = int((sample.created + timedelta(days=400)).timestamp())
    assert "payment terms of 400 days" in _refused(stripe.to_update, event).message


def test_a_stripe_invoice_issued_in_1970_is_refused(sample):
    event = invoice_event(sample, "invoice.finalized", sample.created)
    event["data"]["object"].update(created=1, due_date=2_592_000)
    assert "years before this event" in _refused(stripe.to_update, event).message


def test_a_valid_stripe_email_is_stored_as_it_is_mailed_and_a_hostile_one_as_sent(sample):
    event = invoice_event(sample, "invoice.finalized", sample.created)
    event["data"]["object"]["customer_email"] = "ap@Bücher.example"
    assert stripe.to_update(event).customer.email == "ap@xn--bcher-kva.example"
    event["data"]["object"]["customer_email"] = "ap@buecher.example\r\nBcc: x@rival.example"
    assert stripe.to_update(event).customer.email == "ap@buecher.example\r\nBcc: x@rival.example"


# --- Paddle -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("value", [True, 125000, "1250.00", "12e3", "١٢٣"])
def test_paddle_amounts_are_integer_strings_of_minor_units(sample, value):
    # Paddle sends amounts as strings of minor units: a number, a boolean, a decimal or other digits are refused
    event = billing.paddle_transaction_event(sample, "transaction.billed", sample.created, net_days=14)
    event["data"]["details"]["totals"]["grand_total"] = value
    assert "grand_total" in _refused(paddle.to_change, event).message


def test_a_paddle_currency_is_an_active_iso_4217_code(sample):
    event = billing.paddle_transaction_event(sample, "transaction.billed", sample.created, net_days=14)
    event["data"]["currency_code"] = "XAU"
    assert "not an active ISO 4217 currency" in _refused(paddle.to_change, event).message


@pytest.mark.parametrize("interval, frequency", [("year", 1000), ("month", 13), ("day", 400), ("week", 60)])
def test_paddle_payment_terms_beyond_a_year_are_refused(sample, interval, frequency):
    event = billing.paddle_transaction_event(sample, "transaction.billed", sample.created, net_days=14)
    event["data"]["billing_details"]["payment_terms"] = {"interval": interval, "frequency": frequency}
    assert "payment terms of" in _refused(paddle.to_change, event).message


def test_paddle_payment_terms_of_a_year_are_accepted(sample):
    event = billing.paddle_transaction_event(sample, "transaction.billed", sample.created, net_days=14)
    event["data"]["billing_details"]["payment_terms"] = {"interval": "year", "frequency": 1}
    assert paddle.to_change(event).invoice.due_at.year == sample.created.year + 1


# --- Chargebee --------------------------------------------------------------------------------------
def _chargebee_event(sample, **invoice_fields):
    invoice = {**billing.chargebee_invoice(sample, "payment_due", sample.created), **invoice_fields}
    return billing.chargebee_event("invoice_generated", sample.created, {
        "invoice": invoice, "customer": billing.chargebee_customer(sample.customer, sample.created)})


def test_a_chargebee_due_date_before_the_invoice_date_is_refused(sample):
    event = _chargebee_event(sample, due_date=int((sample.created - timedelta(days=3)).timestamp()))
    assert "before the invoice was issued" in _refused(chargebee.to_change, event).message


def test_chargebee_net_terms_beyond_a_year_are_refused(sample):
    event = _chargebee_event(sample, due_date=None, net_term_days=3650)
    assert "payment terms of 3650 days" in _refused(chargebee.to_change, event).message


@pytest.mark.parametrize("field, value", [("total", "125000"), ("amount_due", True), ("currency_code", "ZWL")])
def test_chargebee_amounts_are_integers_and_currencies_active(sample, field, value):
    assert field in _refused(chargebee.to_change, _chargebee_event(sample, **{field: value})).message
