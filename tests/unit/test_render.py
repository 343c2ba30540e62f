"""Email rendering: every stage's template, escaping, strictness and language fallback."""

from __future__ import annotations

from dataclasses import replace

import pytest
from jinja2 import StrictUndefined, UndefinedError
from jinja2.exceptions import SecurityError
from jinja2.sandbox import SandboxedEnvironment

from arrears.rendering import emails as render
from arrears.rendering.emails import RenderedEmail, render_email
from arrears.domain.notices import NoticeIncomplete
from tests.unit.sample_notice import EXTRA, STEPS, make_notice

make_context = make_notice


def whole(email: RenderedEmail) -> str:
    return "\n".join((email.subject, email.text, email.html))


@pytest.mark.parametrize("template", list(STEPS))
def test_every_template_states_the_invoice_the_balance_the_due_date_and_how_to_reach_us(template: str) -> None:
    # Given a notice for the stage that uses this template
    ctx = make_context(template)

    # When it is rendered
    email = render_email(ctx)

    # Then subject, text and HTML all carry the essentials
    assert "\n" not in email.subject and email.subject.strip() == email.subject
    assert "INV-2026-0042" in email.subject
    for body in (email.text, email.html):
        assert "INV-2026-0042" in body
        assert "€1,250.00" in body
        assert "March 2, 2026" in body  # the due date, in the debtor's (fallback) language
        assert ctx.pay_url in body
        assert "accounts@northwind.example" in body
        assert ctx.reference in body
        assert "Northwind Analytics Ltd" in body  # the sign-off
        assert "GB33 BUKB 2020 1555 5555 55" in body
    assert email.html.lstrip().startswith("<!DOCTYPE html>")


def test_courtesy_reminder_is_a_friendly_heads_up() -> None:
    # Given a reminder a week before the due date
    ctx = make_context("courtesy_reminder")

    # When it is rendered
    email = render_email(ctx)

    # Then it reads as a heads-up, not a demand
    assert email.subject == "Heads-up: invoice INV-2026-0042 for €1,250.00 is due on March 2, 2026"
    assert "friendly heads-up" in email.text
    for word in ("demand", "formal", "collection", "overdue"):
        assert word not in whole(email).lower()


def test_due_notice_on_the_day_says_due_today() -> None:
    # Given a due notice on the due date
    email = render_email(make_context("due_notice"))

    # Then the subject says it is due today
    assert email.subject == "Invoice INV-2026-0042 for €1,250.00 is due today"


@pytest.mark.parametrize("tone, expected", [("polite", "Reminder:"), ("firm", "Payment overdue:")])
def test_overdue_reminder_follows_the_tone_of_its_step(tone: str, expected: str) -> None:
    # Given an overdue reminder at the tone the policy step sets
    ctx = make_context("overdue_reminder", tone=tone)

    # When it is rendered
    email = render_email(ctx)

    # Then the wording follows the tone, and the next step is announced
    assert email.subject.startswith(expected)
    assert "15 days overdue" in email.text
    assert ctx.next_consequence in email.text and ctx.next_consequence in email.html


@pytest.mark.parametrize("template", ["formal_notice", "final_notice"])
def test_formal_and_final_notices_state_deadline_interest_compensation_total_and_consequence(template: str) -> None:
    # Given a formal or final notice that claims statutory interest and fixed compensation
    ctx = make_context(template)
    interest = ctx.interest
    assert interest is not None and ctx.deadline is not None

    # When it is rendered
    email = render_email(ctx)

    # Then both bodies state every figure of the claim and how the interest was computed
    deadline = f"{ctx.deadline:%B} {ctx.deadline.day}, {ctx.deadline.year}"
    assert deadline in email.subject
    for body in (email.text, email.html):
        assert deadline in body
        assert "€40.00" in body  # fixed compensation
        assert f"€{interest.interest_minor / 100:,.2f}" in body
        assert f"€{ctx.total_claimed_minor / 100:,.2f}" in body
        assert "10.15%" in body and f"{interest.days} days" in body
        assert "March 3, 2026" in body  # interest runs from the day after the due date
        assert "Directive 2011/7/EU" in body
        assert ctx.next_consequence in body
        assert "dispute" in body


def test_formal_notice_says_the_demand_letter_is_attached() -> None:
    # Given a formal notice (sent with its PDF demand letter)
    email = render_email(make_context("formal_notice"))

    # Then the email points to the attachment
    assert "attached to this email as a PDF" in email.text
    assert "attached to this email as a PDF" in email.html
    assert email.subject.startswith("Formal notice:")


def test_final_notice_is_firm() -> None:
    # Given a final notice
    email = render_email(make_context("final_notice"))

    # Then it says so and does not claim an attachment (the default policy sends it by email alone)
    assert email.subject.startswith("Final notice before referral:")
    assert "This is our final notice" in email.text
    assert "attached" not in email.text


def test_referral_notice_says_the_debt_went_to_a_collection_agency() -> None:
    # Given a referral notice
    email = render_email(make_context("referral_notice"))

    # Then the debtor learns who will contact them and can still tell us they paid
    assert "referred to a collection agency" in email.subject
    assert "passed the debt to a collection agency" in email.text
    assert "so that we can inform the agency" in email.text


def test_debtor_supplied_text_is_escaped_in_html_but_readable_in_text() -> None:
    # Given a debtor whose name contains markup
    ctx = make_context("overdue_reminder", debtor_name="<script>alert('x')</script> Smith & Sons")

    # When the email is rendered
    email = render_email(ctx)

    # Then the HTML shows it as text and the plain text shows it as written
    assert "<script>" not in email.html
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; Smith &amp; Sons" in email.html
    assert "Dear <script>alert('x')</script> Smith & Sons," in email.text


def test_an_amount_with_markup_in_the_basis_is_escaped_too() -> None:
    # Given a policy basis text with an ampersand and angle brackets
    ctx = make_context("formal_notice")
    assert ctx.interest is not None
    ctx = replace(ctx, interest=replace(ctx.interest, basis="Late Payment of Commercial Debts <Interest> Act & Regs"))

    # When rendered
    email = render_email(ctx)

    # Then HTML escapes it and text keeps it
    assert "&lt;Interest&gt; Act &amp; Regs" in email.html
    assert "<Interest> Act & Regs" in email.text


def test_a_value_a_template_names_but_the_context_lacks_is_an_error(tmp_path, monkeypatch) -> None:
    # Given a template set whose template names a field NoticeContext does not have
    english = tmp_path / "en"
    english.mkdir()
    (english / "broken.subject.j2").write_text("Invoice {{ ctx.invoice_number }}")
    (english / "broken.txt.j2").write_text("Your account manager is {{ ctx.account_manager }}.")
    (english / "broken.html.j2").write_text("<p>{{ ctx.invoice_number }}</p>")
    monkeypatch.setattr(render, "EMAIL_TEMPLATE_DIR", tmp_path)
    render._resolve.cache_clear()
    render._environment.cache_clear()
    try:
        # When it is rendered, then StrictUndefined refuses to print a blank
        with pytest.raises(UndefinedError, match="account_manager"):
            render_email(make_context("courtesy_reminder", template="broken"))
    finally:
        render._resolve.cache_clear()
        render._environment.cache_clear()


def test_templates_run_in_a_sandbox(tmp_path, monkeypatch) -> None:
    # Given a template that reaches for Python internals
    english = tmp_path / "en"
    english.mkdir()
    (english / "nosy.subject.j2").write_text("{{ ctx.invoice_number }}")
    (english / "nosy.txt.j2").write_text("{{ ctx.creditor.__class__.__init__.__globals__ }}")
    (english / "nosy.html.j2").write_text("x")
    monkeypatch.setattr(render, "EMAIL_TEMPLATE_DIR", tmp_path)
    render._resolve.cache_clear()
    render._environment.cache_clear()
    try:
        # When rendered, then the sandbox refuses
        with pytest.raises((SecurityError, UndefinedError)):
            render_email(make_context("courtesy_reminder", template="nosy"))
    finally:
        render._resolve.cache_clear()
        render._environment.cache_clear()


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"deadline": None}, "deadline"),
        ({"next_consequence": " "}, "what happens"),
        ({"invoice_number": ""}, "invoice number"),
        ({"pay_url": "javascript:alert(1)"}, "web address"),
        ({"template": "no_such_template"}, "no email template"),
    ],
)
def test_a_notice_missing_what_it_must_state_is_not_rendered(changes: dict, message: str) -> None:
    # Given a formal notice missing something it must state
    ctx = make_context("formal_notice", **changes)

    # When rendered, then nothing is produced
    with pytest.raises(NoticeIncomplete, match=message):
        render_email(ctx)


def test_without_a_pay_link_the_email_offers_the_bank_transfer_only() -> None:
    # Given an invoice with no hosted payment page
    email = render_email(make_context("overdue_reminder", pay_url=""))

    # Then no pay button or link is shown, but the bank details are
    assert "href=\"https://" not in email.html
    assert "pay securely online" not in email.text
    assert "Please pay by bank transfer" in email.text


def test_a_language_without_templates_falls_back_to_english_throughout() -> None:
    # Given a Spanish-speaking debtor (there is no Spanish template set)
    email = render_email(make_context("courtesy_reminder", language="es-ES"))

    # Then the email is English, dates and amounts included, never a mix
    assert "March 2, 2026" in email.text and "marzo" not in email.text
    assert "€1,250.00" in email.text and "1.250,00" not in email.text
    assert '<html lang="en">' in email.html


def test_a_regional_english_formats_dates_the_regional_way() -> None:
    # Given a British English debtor
    email = render_email(make_context("courtesy_reminder", language="en-GB"))

    # Then dates come day first
    assert "2 March 2026" in email.subject
    assert '<html lang="en-GB">' in email.html


def test_a_part_payment_is_shown() -> None:
    # Given an invoice of EUR 1,500.00 of which EUR 250.00 is paid
    ctx = make_context("overdue_reminder", amount_due_minor=150000, amount_paid_minor=25000, balance_minor=125000)

    # When rendered
    email = render_email(ctx)

    # Then amount, payment and balance all appear
    assert "€1,500.00" in email.text and "€250.00" in email.text and "€1,250.00" in email.text
    assert "Paid so far" in email.html


def test_the_broken_promise_email_names_the_promise_and_needs_its_dates() -> None:
    from datetime import date

    # Given a promise made on 12 March to pay by 20 March that was not kept
    ctx = make_context("overdue_reminder", template="broken_promise",
                       extra={"promised_on": date(2026, 3, 20), "promised_at": date(2026, 3, 12)})
    email = render_email(ctx)
    assert "promised by March 20, 2026" in email.subject
    assert "On March 12, 2026 we agreed" in email.text and "INV-2026-0042" in email.html
    # And without the promise's dates it refuses rather than printing blanks
    with pytest.raises(UndefinedError):
        render_email(make_context("overdue_reminder", template="broken_promise"))


# -- German and French -----------------------------------------------------------------------------

EVERY_TEMPLATE = [*STEPS, *EXTRA]
TEMPLATE_DIR = render.EMAIL_TEMPLATE_DIR
# Per language: the amount and due date as the debtor's locale writes them, and English words that
# must not leak into a translated message.
LOCALIZED = {
    "de": ("1.250,00\u00a0€", "2. März 2026", '<html lang="de">'),
    "fr": ("1\u202f250,00\u00a0€", "2 mars 2026", '<html lang="fr">'),
}
ENGLISH_WORDS = ("Dear ", "invoice ", "Invoice ", "Kind regards", "Yours sincerely", "Balance due", "quoting reference",
                 "Total claimed", "Reference:")


@pytest.mark.parametrize("language", ["en", "de", "fr"])
@pytest.mark.parametrize("template", EVERY_TEMPLATE)
def test_every_template_renders_in_every_language_without_a_missing_value(template: str, language: str) -> None:
    # Given a realistic notice for the template, in the debtor's language (the environment is strict:
    # a value a template names but the context lacks raises instead of printing a blank)
    env = render._environment(str(TEMPLATE_DIR / language))
    assert isinstance(env, SandboxedEnvironment) and env.undefined is StrictUndefined
    ctx = make_context(template, language=language, amount_due_minor=150000, amount_paid_minor=25000)

    # When it is rendered
    email = render_email(ctx)

    # Then all three parts are there, in that language, naming the invoice and its reference
    assert email.subject and email.text.strip() and email.html.strip().endswith("</html>")
    for part in (email.subject, email.text, email.html):
        assert "INV-2026-0042" in part
    assert ctx.reference in email.text
    if language != "en":
        amount, due, html_lang = LOCALIZED[language]
        for body in (email.text, email.html):
            assert amount in body and due in body
            assert not [word for word in ENGLISH_WORDS if word in body], body
        assert html_lang in email.html


@pytest.mark.parametrize(
    "language, heading, deadline, consequence_start",
    [
        ("de", "Mahnung und Zahlungsaufforderung", "15. April 2026", "Geht der Forderungsbetrag nicht"),
        ("fr", "Mise en demeure de payer", "15 avril 2026", "À défaut de paiement ou de contestation"),
    ],
)
def test_the_formal_notice_reads_as_a_formal_demand_in_the_debtors_language(
    language: str, heading: str, deadline: str, consequence_start: str
) -> None:
    # Given a formal notice to a German- or French-speaking debtor, claiming interest and EUR 40
    ctx = make_context("formal_notice", language=language)

    # When it is rendered
    email = render_email(ctx)

    # Then heading, deadline, interest computation, compensation and consequence are all in that language
    assert heading in email.html
    assert deadline in email.subject and deadline in email.text
    assert "10,15\u00a0%" in email.text and "30 " in email.text
    assert "40,00\u00a0€" in email.text
    assert ctx.next_consequence.startswith(consequence_start) and ctx.next_consequence in email.text


def test_a_regional_german_keeps_the_german_text_and_formats_the_swiss_way() -> None:
    # Given a Swiss German debtor
    email = render_email(make_context("courtesy_reminder", language="de-CH"))

    # Then the German set is used, with Swiss number formatting
    assert email.subject.startswith("Freundlicher Hinweis:")
    assert "1’250.00" in email.subject and '<html lang="de-CH">' in email.html


def test_every_language_has_every_template_and_the_same_wording_keys() -> None:
    # Given the email template sets and the wording catalogues
    from string import Formatter

    from arrears.domain import wording

    english = {path.name for path in (TEMPLATE_DIR / "en").iterdir()}
    shared = {"_macros.html.j2"}  # markup only, no words

    # Then German and French have every English template (so nothing falls back to English halfway) ...
    for language in ("de", "fr"):
        assert {path.name for path in (TEMPLATE_DIR / language).iterdir()} | shared == english, language

    # ... the catalogues and the template sets cover the same languages ...
    assert wording.available_languages() == {path.name for path in TEMPLATE_DIR.iterdir() if path.is_dir()}

    # ... and every catalogue has English's keys with the same placeholders
    def fields(text: str) -> set[str]:
        return {name for _, name, _, _ in Formatter().parse(text) if name}

    reference = wording.catalogue("en")
    for language in wording.available_languages():
        catalogue = wording.catalogue(language)
        assert set(catalogue) == set(reference), language
        assert {key: fields(text) for key, text in catalogue.items()} == {key: fields(t) for key, t in reference.items()}


def test_interest_over_two_half_years_shows_each_period_in_each_language() -> None:
    # Given a German statutory claim spanning 1 July 2025 (base rate 2.27 % then 1.27 %, plus 9 points)
    from datetime import date

    from arrears.domain.interest import late_payment_claim
    from arrears.domain.policy.model import LatePayment

    claim = late_payment_claim(LatePayment(scheme="de_bgb_288"), 125000, "EUR", date(2025, 6, 15), date(2025, 7, 20))
    assert claim is not None and len(claim.periods) == 2

    for language, first, second in [
        ("en", "11.27% a year (2.27% + 9 points)", "10.27% a year (1.27% + 9 points)"),
        ("de", "11,27\u00a0% p. a. (2,27\u00a0% + 9 Prozentpunkte)", "10,27\u00a0% p. a. (1,27\u00a0% + 9 Prozentpunkte)"),
        ("fr", "11,27\u00a0% l'an (2,27\u00a0% + 9 points)", "10,27\u00a0% l'an (1,27\u00a0% + 9 points)"),
    ]:
        # When a formal notice claiming it is rendered
        ctx = make_context("formal_notice", language=language, interest=claim, due_on=date(2025, 6, 15))
        email = render_email(ctx)

        # Then each half-year's rate appears with how it is made up, in text and HTML
        for body in (email.text, email.html.replace("&#39;", "'")):
            assert first in body and second in body, (language, body)
