"""The email of a message covering several invoices (issue #15), en/de/fr, and its letter by post.

Harbour Freight Ltd: the carrying invoice's step is due now, another invoice is coming due within the
window, a third is disputed. Each stage's email lists them, asks for what is due, and never sums
currencies.
"""

from __future__ import annotations

import io

import pytest
from pypdf import PdfReader

from arrears.domain.consolidation import consolidate
from arrears.domain.models import HoldKind
from arrears.domain.notices import build_consolidated_notice
from arrears.rendering.emails import render_email, render_email_message
from arrears.rendering.letter_pdf import render_posted_letter
from tests.unit.test_consolidation import CUSTOMER, LONDON, NOW, POLICY, due_now, invoice, item

# the carrying invoice's days from its due date -> its step due now
STAGES = {"courtesy_reminder": 7, "due_notice": 0, "overdue_reminder": -7, "formal_notice": -30, "final_notice": -60}
WORDS = {
    "en": {"coming": "Coming due", "held": "in dispute", "quote": "quote the invoice numbers"},
    "de": {"coming": "Demnächst fällig", "held": "bestritten", "quote": "Rechnungsnummern"},
    "fr": {"coming": "À échoir", "held": "contestée", "quote": "numéros de facture"},
}


def notice(stage: str, language: str = "en", policy=POLICY, **extra):
    carrier = invoice("HF-5001", STAGES[stage], pay_url="https://pay.example/HF-5001")
    records = [carrier, invoice("HF-5002", 4, balance=64_000, pay_url="https://pay.example/HF-5002"),
               invoice("HF-5003", -20, balance=30_000, hold=HoldKind.DISPUTE), *extra.get("more", ())]
    message = consolidate(item(carrier), due_now(carrier), [item(r) for r in records], policy, NOW, LONDON)
    customer = CUSTOMER.model_copy(update={"language": language})
    return build_consolidated_notice(message, {r.invoice_id: r for r in records}, customer, policy, NOW)


@pytest.mark.parametrize("language", ["en", "de", "fr"])
@pytest.mark.parametrize("stage", ["due_notice", "overdue_reminder", "formal_notice", "final_notice"])
def test_each_stage_lists_the_customers_invoices_in_the_debtors_language(stage, language):
    # Given a message carried by an invoice at `stage`, covering another coming due, with a disputed one
    ctx = notice(stage, language)
    assert ctx.consolidated
    # When its email is rendered
    email = render_email(ctx)
    # Then the text and HTML list every invoice; what is coming due and what is on hold are set apart
    words = WORDS[language]
    for body in (email.text, email.html):
        for number in ("HF-5001", "HF-5002", "HF-5003"):
            assert number in body
        assert words["held"] in body and words["quote"] in body
    assert words["coming"] in email.text
    # And each invoice is paid through its own link; the carrying invoice's link is never the message's button
    assert "https://pay.example/HF-5002" in email.text and "https://pay.example/HF-5001" in email.text
    assert ctx.pay_url == ""
    assert "\n" not in email.subject and "{{" not in email.text + email.html


def test_the_courtesy_reminder_shows_what_is_coming_due():
    ctx = notice("courtesy_reminder")
    email = render_email(ctx)
    assert email.subject == "Your account: 3 invoices coming due"
    assert "Coming due" in email.text and "HF-5001" in email.text.split("Coming due")[1]


def test_an_overdue_reminder_asks_for_what_is_due_never_for_the_held_or_coming_due():
    ctx = notice("overdue_reminder")
    email = render_email(ctx)
    assert email.subject == "Reminder: 1 invoice overdue, £1,200.00"
    assert "The amount due is £1,200.00." in email.text


def test_a_formal_notice_claims_interest_per_invoice():
    old = invoice("HF-5004", -40, balance=50_000)
    ctx = notice("formal_notice", more=(old,))
    email = render_email(ctx)
    assert email.subject.startswith("Formal notice: 2 unpaid invoices")
    assert email.text.count("+ late-payment interest") == 2 and email.text.count("fixed compensation") >= 2
    assert "Total claimed:" in email.text


def test_currencies_stay_apart_with_separate_totals():
    policy = POLICY.model_copy(update={"consolidation": POLICY.consolidation.model_copy(
        update={"currencies": "separate_totals"})})
    euro = invoice("HF-5005", -3, currency="EUR", balance=77_700)
    ctx = notice("overdue_reminder", policy=policy, more=(euro,))
    email = render_email(ctx)
    assert "Invoices in GBP" in email.text and "Invoices in EUR" in email.text
    assert "The amount due is £1,200.00 and €777.00." in email.text


def test_invoice_numbers_are_escaped_in_html():
    odd = invoice("HF-<b>6</b>", -2, balance=10_000)
    email = render_email(notice("overdue_reminder", more=(odd,)))
    assert "HF-&lt;b&gt;6&lt;/b&gt;" in email.html and "<b>6</b>" not in email.html


@pytest.mark.parametrize("stage", ["overdue_reminder", "formal_notice"])
def test_by_post_the_letter_lists_the_invoices_too(stage):
    ctx = notice(stage)
    subject, message = render_email_message(ctx)
    assert "HF-5001" not in message or stage == "formal_notice"  # the message itself names no single invoice
    pdf = render_posted_letter(ctx)
    text = " ".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)
    for number in ("HF-5001", "HF-5002", "HF-5003"):
        assert number in text
