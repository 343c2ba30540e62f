"""Every debtor gets its real time zone: from the tz database, the address's region where it decides (arrears.domain.geo)."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import datetime, time, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from arrears.ingestion.bulk_import import plan_import, read_records
from arrears.domain.geo import timezone_for_country
from arrears.domain.policy import plan_steps
from arrears.ingestion.providers import chargebee, generic, stripe
from arrears.ingestion.providers.errors import MalformedEvent
from arrears_local import billing_events
from arrears_local.book import BookError, book_invoice, read_book, write_book
from arrears_local.portfolio import sample_portfolio
from arrears_local.stripe_events import invoice_event

NOW = datetime(2026, 9, 1, 8, 0, tzinfo=timezone.utc)


@pytest.mark.parametrize("country, region, zone", [
    ("EG", "", "Africa/Cairo"),            # one zone: the tz data says it (the hand table had no Egypt: UTC)
    ("KE", "", "Africa/Nairobi"),
    ("AR", "Buenos Aires", "America/Argentina/Buenos_Aires"),
    ("US", "CA", "America/Los_Angeles"),   # several zones: the state decides
    ("US", "California", "America/Los_Angeles"),
    ("US", "OR", "America/Los_Angeles"),   # the tz note names only eastern Oregon (Boise): not enough
    ("US", "AZ", "America/Phoenix"),
    ("US", "TX", "America/Chicago"),
    ("CA", "British Columbia", "America/Vancouver"),
    ("CA", "MB", "America/Winnipeg"),
    ("AU", "VIC", "Australia/Melbourne"),
    ("AU", "Western Australia", "Australia/Perth"),
    ("BR", "SP", "America/Sao_Paulo"),
    ("MX", "Nuevo León", "America/Monterrey"),
    ("ES", "", "Europe/Madrid"),           # "Spain (mainland)": the tz notes name the main zone
    ("ES", "Ceuta", "Africa/Ceuta"),
    ("DE", "", "Europe/Berlin"),           # "most of Germany" (Busingen has its own)
])
def test_a_debtors_zone_comes_from_the_tz_data_and_its_address(country, region, zone):
    assert timezone_for_country(country, "", region) == zone


@pytest.mark.parametrize("country, region", [("US", ""), ("US", "Atlantis"), ("AU", ""), ("CA", ""), ("XX", ""), ("", "")])
def test_where_the_tz_data_cannot_decide_the_policy_default_applies(country, region):
    # Given a country of several zones and no region that decides (or no country at all)
    # Then no zone is guessed: the caller's default (the policy's default_timezone, "") applies
    assert timezone_for_country(country, "", region) == ""
    assert timezone_for_country(country, "Europe/London", region) == "Europe/London"


def _san_francisco():
    item = sample_portfolio(count=4)[3].invoice
    assert item.customer.city == "San Francisco"
    return item


def test_a_san_francisco_debtor_is_contacted_at_ten_in_california(default_policy):
    # Given the pilot's San Francisco debtor, sent by Stripe with state CA
    invoice = _san_francisco()
    change = stripe.to_update(invoice_event(invoice, "invoice.finalized", invoice.created))
    # Then its zone is Los Angeles (the hand table said New York: contacts at 07:00 local)
    assert change.customer.timezone == "America/Los_Angeles"
    planned = plan_steps(default_policy, "standard", invoice.due, change.customer.timezone, "US")
    assert {p.at.astimezone(ZoneInfo("America/Los_Angeles")).time() for p in planned} == {time(10)}


def test_a_us_debtor_without_a_state_is_left_to_the_policys_zone():
    invoice = _san_francisco()
    invoice = replace(invoice, customer=replace(invoice.customer, state=""))
    change = stripe.to_update(invoice_event(invoice, "invoice.finalized", invoice.created))
    assert change.customer.timezone == ""  # dunning and notices then read policy.default_timezone


def test_chargebee_reads_the_state_of_the_billing_address():
    invoice = _san_francisco()
    event = billing_events.chargebee_invoice_event(invoice, "invoice_generated", invoice.created)
    event["content"]["customer"]["billing_address"] = {"state": "TX", "country": "US", "city": "Austin"}
    assert chargebee.to_change(event).customer.timezone == "America/Chicago"


def test_the_generic_feed_takes_an_explicit_timezone_and_refuses_an_unknown_one():
    invoice = _san_francisco()
    event = billing_events.generic_invoice_event(invoice, invoice.created)
    event["invoice"]["customer"]["timezone"] = "America/Denver"
    assert generic.to_change(event).customer.timezone == "America/Denver"
    event["invoice"]["customer"]["timezone"] = "Pacific/Nowhere"
    with pytest.raises(MalformedEvent) as refused:
        generic.to_change(event)
    assert refused.value.code == "invalid_event" and "unknown timezone" in refused.value.message


def test_a_bulk_import_row_with_an_unknown_timezone_is_a_problem_of_that_row():
    invoice = _san_francisco()
    good, bad = billing_events.generic_invoice_record(invoice), billing_events.generic_invoice_record(invoice)
    good["customer"]["timezone"] = "America/New_York"
    bad["id"], bad["customer"]["timezone"] = "in_other", "EST5EDT-ish"
    plan = plan_import(read_records(json.dumps([good]).encode(), "book.json"), NOW)
    assert plan.valid and plan.updates[0].customer.timezone == "America/New_York"
    plan = plan_import(read_records(json.dumps([good, bad]).encode(), "book.json"), NOW)
    assert [(p.row, p.field) for p in plan.problems] == [(2, "customer.timezone")]


BOOK_ROW = {"invoice_id": "in_1", "number": "INV-1", "customer_id": "cus_1", "customer_name": "Nile Freight SAE",
            "customer_email": "ap@nilefreight.example", "country": "EG", "currency": "EGP", "amount": 500_000,
            "issued_at": "2026-09-01T09:00:00+02:00", "due_at": "2026-10-01T09:00:00+02:00"}


def test_a_book_reads_the_zone_from_its_country_its_state_or_its_timezone_column(tmp_path: Path):
    assert book_invoice(BOOK_ROW).customer.timezone == "Africa/Cairo"
    assert book_invoice({**BOOK_ROW, "country": "US", "state": "WA"}).customer.timezone == "America/Los_Angeles"
    assert book_invoice({**BOOK_ROW, "country": "US", "timezone": "America/Anchorage"}).customer.timezone == "America/Anchorage"
    with pytest.raises(ValueError, match="unknown timezone"):
        book_invoice({**BOOK_ROW, "timezone": "Cairo"})
    # And a book written out reads back with the same zones
    book = [book_invoice({**BOOK_ROW, "country": "US", "state": "WA"})]
    write_book(book, tmp_path / "book.csv")
    assert [b.customer.timezone for b in read_book(tmp_path / "book.csv")] == ["America/Los_Angeles"]
    (tmp_path / "bad.csv").write_text((tmp_path / "book.csv").read_text().replace("America/Los_Angeles", "Mars/Olympus"))
    with pytest.raises(BookError, match="unknown timezone"):
        read_book(tmp_path / "bad.csv")
