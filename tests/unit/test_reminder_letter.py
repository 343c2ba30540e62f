"""The letter posted in place of an email: the email's message on the demand letter's paper, in the debtor's language."""

from __future__ import annotations

import io

import pytest
from pypdf import PdfReader

from arrears.rendering.letter_pdf import render_posted_letter, render_reminder_letter
from arrears.domain.notices import NoticeIncomplete
from arrears.usecases.simulator import PlanOnlyRenderer
from tests.unit.sample_notice import make_notice


def pdf_text(pdf: bytes) -> str:
    """The letter's text with its line breaks as spaces (wrapped lines fall where the layout puts them)."""
    return " ".join(" ".join(page.extract_text().split()) for page in PdfReader(io.BytesIO(pdf)).pages)


@pytest.mark.parametrize(("language", "salutation", "message", "by_post", "amount"), [
    ("en", "Dear Sir or Madam,", "is now 15 days overdue", "We are writing to you by post", "€1,250.00"),
    ("de", "Sehr geehrte Damen und Herren,", "nunmehr 15 Tage überfällig", "Wir schreiben Ihnen auf dem Postweg", "1.250,00 €"),
    ("fr", "Madame, Monsieur,", "INV-2026-0042", "Nous vous écrivons par courrier", "1 250,00 €"),
])
def test_an_overdue_reminder_by_post_says_the_emails_message_in_the_debtors_language(language, salutation, message,
                                                                                      by_post, amount):
    # Given the firm overdue reminder of 17 March for INV-2026-0042 (EUR 1,250.00, due 2 March)
    notice = make_notice("overdue_reminder", language)
    # When it is rendered as the letter posted instead of the email
    text = pdf_text(render_posted_letter(notice))
    # Then it greets, says what the email says, why it came by post, the figures, how to pay and what happens next
    assert salutation in text and message in text and by_post in text and notice.debtor_email in text
    assert amount in text and notice.pay_url in text and "GB33 BUKB 2020 1555 5555 55" in text
    assert "Friedrichstraße 123" in text and notice.reference in text
    assert notice.next_consequence.split()[0] in text
    # And the email's own greeting and sign-off are not repeated on paper
    assert "Dear Müller" not in text and "Kind regards" not in text


def test_a_courtesy_reminder_by_post_states_no_deadline_and_no_consequence():
    # Given the friendly reminder a week before the due date
    notice = make_notice("courtesy_reminder", tone="friendly")
    text = pdf_text(render_reminder_letter(notice))
    # Then it is dated, names the due date and the amount due, and neither demands nor threatens
    assert "February 23, 2026" in text and "Due date March 2, 2026" in text and "Amount due €1,250.00" in text
    assert "Pay by" not in text and "If you do not pay" not in text


def test_a_final_notice_by_post_is_its_demand_letter():
    # Given the final notice, an email step in the default policy
    notice = make_notice("final_notice")
    # When it is posted instead, Then the letter is the demand letter, with its deadline and consequence
    text = pdf_text(render_posted_letter(notice))
    assert "Final notice before referral" in text and "Pay by" in text and "If you do not pay" in text


def test_the_same_reminder_gives_the_same_bytes():
    notice = make_notice("overdue_reminder", "de")
    assert render_reminder_letter(notice) == render_reminder_letter(notice)


def test_a_reminder_letter_without_a_postal_address_is_refused_in_full_and_in_a_dry_run():
    # Given a reminder whose debtor has only a city
    notice = make_notice("overdue_reminder", debtor_address_lines=("Berlin",))
    # Then neither the renderer nor the dry run's checks let it through
    with pytest.raises(NoticeIncomplete, match="postal address"):
        render_posted_letter(notice)
    with pytest.raises(NoticeIncomplete, match="postal address"):
        PlanOnlyRenderer().posted_letter(notice)


def test_the_dry_run_refuses_a_name_the_letter_font_cannot_print():
    # Given a debtor whose name is in Japanese script (the letter font has no CJK glyphs)
    notice = make_notice("due_notice", debtor_name="株式会社ミュラー")
    with pytest.raises(NoticeIncomplete, match="cannot print"):
        render_posted_letter(notice)
    with pytest.raises(NoticeIncomplete, match="cannot print"):
        PlanOnlyRenderer().posted_letter(notice)


@pytest.mark.parametrize("template", ["broken_promise", "broken_payment_plan", "referral_notice"])
@pytest.mark.parametrize(("language", "email_words", "letter_words"), [
    ("en", "reply to this email", "write to us at accounts@northwind.example"),
    ("de", "antworten Sie bitte auf diese E-Mail", "schreiben Sie uns bitte an accounts@northwind.example"),
    ("fr", "cet e-mail", "crire à accounts@northwind.example"),  # "nous écrire à", or "écrivez-nous à" below
])
def test_a_message_printed_on_paper_does_not_ask_for_a_reply_to_an_email(template, language, email_words, letter_words):
    from arrears.rendering.emails import render_email

    # Given a message that asks the debtor to reply to the email it came in
    notice = make_notice(template, language)
    assert notice.creditor.email == "accounts@northwind.example"
    assert email_words in " ".join(render_email(notice).text.split())
    # When it is posted instead
    text = pdf_text(render_posted_letter(notice))
    # Then the letter asks them to write to the creditor's address instead
    text = text.replace("écrivez-nous à", "nous écrire à")
    assert email_words not in text and letter_words in text
