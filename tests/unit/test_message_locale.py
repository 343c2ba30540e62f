"""Each debtor is written to in their own language and their country's way of writing dates (issue 12)."""

from __future__ import annotations

import io
from datetime import datetime, timezone

from pypdf import PdfReader

from arrears.rendering.letter_pdf import render_demand_letter
from arrears.rendering.emails import render_email
from arrears.domain.models import Address
from arrears.domain.notices import build_notice
from arrears.domain.policy.model import Stage
from arrears.ingestion.providers.stripe import to_update
from arrears_local.portfolio import DEMO_START, sample_portfolio
from arrears_local.stripe_events import invoice_event


def step(policy, stage: Stage):
    return next(s for s in policy.segment_for("standard").steps if s.stage is stage)


def test_the_demos_german_and_french_customers_reach_arrears_in_their_language():
    # Given the demo's sample book, as its finalized invoices reach the Stripe webhook
    languages = {}
    for item in sample_portfolio(DEMO_START, 6):
        update = to_update(invoice_event(item.invoice, "invoice.finalized", item.invoice.created))
        languages[item.invoice.customer.country, item.invoice.customer.name] = update.customer.language
    # Then the German and French debtors are German and French, the British and American ones English
    assert languages[("DE", "Müller & Söhne GmbH")] == "de"
    assert languages[("FR", "Atelier Lumière SARL")] == "fr"
    assert languages[("GB", "Brightwater Logistics Ltd")] == "en"
    assert languages[("US", "Cobalt Robotics Inc.")] == "en"


def test_a_british_debtor_gets_british_dates_and_an_american_one_american_dates(default_policy, open_invoice, berlin_customer):
    # Given one invoice due on 1 October 2026 to an English-speaking debtor in Manchester and one in San Francisco
    manchester = berlin_customer.model_copy(update={
        "name": "Brightwater Logistics Ltd", "language": "en", "timezone": "Europe/London",
        "address": Address(line1="44 Canal Street", city="Manchester", postal_code="M1 3HP", country="GB")})
    san_francisco = manchester.model_copy(update={
        "name": "Cobalt Robotics Inc.", "timezone": "America/Los_Angeles",
        "address": Address(line1="500 Howard Street", city="San Francisco", postal_code="94105", country="US")})
    courtesy = step(default_policy, Stage.COURTESY_REMINDER)
    now = datetime(2026, 9, 24, 9, tzinfo=timezone.utc)
    # When each gets its courtesy reminder
    british = render_email(build_notice(open_invoice, manchester, default_policy, courtesy, now))
    american = render_email(build_notice(open_invoice, san_francisco, default_policy, courtesy, now))
    # Then the British one reads the date day first, the American one month first
    assert "1 October 2026" in british.subject and "1 October 2026" in british.text
    assert "October 1, 2026" not in british.text
    assert "October 1, 2026" in american.subject


def test_french_dates_say_1er_for_the_first_of_the_month_in_emails_and_letters(default_policy, open_invoice, berlin_customer):
    # Given a French debtor whose invoice fell due on 1 October 2026
    paris = berlin_customer.model_copy(update={
        "name": "Atelier Lumière SARL", "language": "fr", "timezone": "Europe/Paris",
        "address": Address(line1="18 rue de la Paix", city="Paris", postal_code="75002", country="FR")})
    # When the courtesy reminder and, a month after the due date, the formal notice are written
    courtesy = render_email(build_notice(open_invoice, paris, default_policy, step(default_policy, Stage.COURTESY_REMINDER),
                                         datetime(2026, 9, 24, 9, tzinfo=timezone.utc)))
    formal = build_notice(open_invoice, paris, default_policy, step(default_policy, Stage.FORMAL_NOTICE),
                          datetime(2026, 11, 2, 9, tzinfo=timezone.utc))
    letter = " ".join(page.extract_text() for page in PdfReader(io.BytesIO(render_demand_letter(formal))).pages)
    # Then the first of the month is "1er", as French writes it; other days stay plain numbers
    assert "1er octobre 2026" in courtesy.subject and "1er octobre 2026" in courtesy.text
    assert "1 octobre" not in courtesy.text
    assert "1er octobre 2026" in letter.replace("\n", " ")
    assert "16 novembre 2026" in letter.replace("\n", " ")  # the deadline, 14 days after 2 November
