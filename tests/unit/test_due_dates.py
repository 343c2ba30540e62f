"""A due date that is a day is due until the end of that day where the debtor is (arrears.domain.due_dates)."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, time, timezone
from zoneinfo import ZoneInfo

import pytest

from arrears.ingestion.bulk_import import plan_import, read_records
from arrears.domain.due_dates import due_moment
from arrears.domain.policy import plan_steps
from arrears.ingestion.providers import chargebee, generic
from arrears.ingestion.providers.errors import MalformedEvent
from arrears_local import billing_events
from arrears_local.book import book_invoice
from arrears_local.portfolio import sample_portfolio

NOW = datetime(2026, 9, 1, 8, 0, tzinfo=timezone.utc)
NEW_YORK = ZoneInfo("America/New_York")


def _new_york_invoice():
    invoice = sample_portfolio(count=4)[3].invoice  # Cobalt Robotics, San Francisco
    return replace(invoice, customer=replace(invoice.customer, city="New York", state="NY", postal_code="10001"))


def _due_notice_day(policy, update) -> date:
    planned = plan_steps(policy, "standard", update.invoice.due_at, update.customer.timezone, "US")
    return next(p.at for p in planned if p.step.id == "due_notice").astimezone(ZoneInfo(update.customer.timezone)).date()


@pytest.mark.parametrize("written", ["2026-10-01", "2026-10-01T00:00:00Z"])
def test_a_us_due_date_written_as_a_day_is_due_at_the_end_of_that_day_in_new_york(default_policy, written):
    # Given a generic-feed invoice for a New York debtor due on Thursday 1 October 2026, written as a day
    invoice = _new_york_invoice()
    event = billing_events.generic_invoice_event(invoice, invoice.created)
    event["invoice"]["due_at"] = written
    update = generic.to_change(event)
    # Then it is due until 23:59:59 on 1 October in New York (read as 00:00Z it was 20:00 on 30 September there)
    assert update.invoice.due_at == datetime(2026, 10, 1, 23, 59, 59, tzinfo=NEW_YORK)
    # And the due notice goes on 1 October, not a day early
    assert _due_notice_day(default_policy, update) == date(2026, 10, 1)


def test_a_due_date_with_a_time_of_day_is_that_moment():
    invoice = _new_york_invoice()
    event = billing_events.generic_invoice_event(invoice, invoice.created)
    event["invoice"]["due_at"] = "2026-10-01T17:00:00-04:00"
    assert generic.to_change(event).invoice.due_at == datetime(2026, 10, 1, 21, tzinfo=timezone.utc)


@pytest.mark.parametrize("written", ["2026-10-1", "01/10/2026", "1990-01-0x", "1989-12-31"])
def test_a_day_that_is_not_a_plausible_iso_date_is_refused(written):
    invoice = _new_york_invoice()
    event = billing_events.generic_invoice_event(invoice, invoice.created)
    event["invoice"]["due_at"] = written
    with pytest.raises(MalformedEvent) as refused:
        generic.to_change(event)
    assert refused.value.code == "invalid_event" and "due_at" in refused.value.message


def test_a_due_day_before_the_issue_day_is_refused():
    invoice = _new_york_invoice()
    event = billing_events.generic_invoice_event(invoice, invoice.created)
    event["invoice"]["issued_at"], event["invoice"]["due_at"] = "2026-10-05T10:00:00Z", "2026-10-01"
    with pytest.raises(MalformedEvent, match="is before the invoice was issued"):
        generic.to_change(event)


def test_chargebee_due_date_at_midnight_utc_is_the_debtors_day():
    invoice = _new_york_invoice()
    event = billing_events.chargebee_invoice_event(invoice, "invoice_generated", invoice.created)
    event["content"]["invoice"]["due_date"] = int(datetime(2026, 10, 1, tzinfo=timezone.utc).timestamp())
    event["content"]["customer"]["billing_address"] = {"state": "NY", "country": "US", "city": "New York"}
    assert chargebee.to_change(event).invoice.due_at == datetime(2026, 10, 1, 23, 59, 59, tzinfo=NEW_YORK)


def test_a_bulk_import_csv_and_a_book_take_a_due_day():
    invoice = _new_york_invoice()
    record = billing_events.generic_invoice_record(invoice)
    header = "id,number,currency,amount_due,issued_at,due_at,customer_id,customer_name,customer_email,state,country"
    row = f"{record['id']},{record['number']},USD,120000,{record['issued_at']},2026-10-01,cus_ny,Hudson Freight,ap@hudson.example,NY,US"
    plan = plan_import(read_records(f"{header}\n{row}\n".encode(), "book.csv"), NOW)
    assert plan.valid, plan.problems
    assert plan.updates[0].invoice.due_at == datetime(2026, 10, 1, 23, 59, 59, tzinfo=NEW_YORK)
    book = book_invoice({"invoice_id": "in_1", "number": "INV-1", "customer_id": "cus_1", "customer_name": "Nile Freight SAE",
                         "customer_email": "ap@nilefreight.example", "country": "EG", "currency": "EGP", "amount": 500_000,
                         "issued_at": "2026-09-01T09:00:00+03:00", "due_at": "2026-10-01"})
    assert book.invoice.due_at == datetime(2026, 10, 1, 23, 59, 59, tzinfo=ZoneInfo("Africa/Cairo"))


def test_a_day_for_a_debtor_of_no_known_zone_is_noon_utc_the_same_date_nearly_everywhere():
    # Given a day for a debtor whose zone is left to the policy (a US debtor without a state)
    due = due_moment(date(2026, 10, 1), "")
    assert due == datetime(2026, 10, 1, 12, tzinfo=timezone.utc)
    # Then the policy's zone, whichever from UTC-11 to UTC+11, reads the same date
    for zone in ("Pacific/Pago_Pago", "America/Los_Angeles", "Europe/London", "Asia/Tokyo", "Pacific/Noumea"):
        assert due.astimezone(ZoneInfo(zone)).date() == date(2026, 10, 1)
    assert due_moment(date(2026, 10, 1), "Europe/Paris").astimezone(ZoneInfo("Europe/Paris")).time() == time(23, 59, 59)
