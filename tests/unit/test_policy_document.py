"""The readable collections policy (issue #20): made from one policy version, it states exactly that version's
steps, rates and fees, in English, German and French, as HTML (escaped) and PDF (checked with pdftoppm)."""

from __future__ import annotations

import shutil
import subprocess
from decimal import Decimal

import pytest

from arrears.domain.money import format_money
from arrears.domain.policy import Channel, load_policy_file
from arrears.rendering.policy_document import LANGUAGES, policy_document, render_html, render_pdf

POLICY = load_policy_file("policies/default.yaml")
LOCALES = {"en": "en_GB", "de": "de_DE", "fr": "fr_FR"}
# How each language writes "n days after the due date" (the catalogue's own words, not the test's)
AFTER = {"en": "{} day(s) after the due date", "de": "{} Tag(e) nach Fälligkeit", "fr": "{} jour(s) après l’échéance"}
RATE = {"en": "10.15%", "de": "10,15 %", "fr": "10,15 %"}


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_customer_version_states_the_versions_steps_rates_and_fees(language):
    text = policy_document(POLICY, "customer", language).text()
    # The version it was made from
    assert POLICY.policy_id in text and str(POLICY.version) in text
    # Every contact step of the default segment, at its offset (manual tasks are the team's own, not listed)
    for step in POLICY.segments["standard"].steps:
        if step.offset_days > 0:
            assert AFTER[language].format(step.offset_days) in text, step.id
    # The late-payment rate and its basis, the fixed compensation and referral minimum in every currency
    assert RATE[language] in text and POLICY.late_payment.basis in text
    for currency, amount in POLICY.late_payment.fixed_compensation.items():
        assert format_money(amount, currency, LOCALES[language]) in text
    for currency, amount in POLICY.referral.min_amount.items():
        assert format_money(amount, currency, LOCALES[language]) in text
    assert POLICY.creditor.email in text and POLICY.creditor.iban in text
    # The standard segment's early-payment discount: 2% within 10 days
    early = POLICY.early_payment_discount["standard"]
    assert {"en": f"within {early.within_days} days", "de": f"innerhalb von {early.within_days} Tagen",
            "fr": f"dans les {early.within_days} jours"}[language] in text and f"{early.percent}" in text
    # And not the staff's detail
    assert "call_script" not in text


def test_the_staff_version_has_every_segment_step_threshold_and_risk_rule():
    text = policy_document(POLICY, "staff", "en").text()
    for name, segment in POLICY.segments.items():
        assert f"Segment {name}" in text
        for step in segment.steps:
            assert f"step {step.id}, {step.stage.value}, {step.channel.value}, template {step.template}, tone {step.tone}" in text
    assert f"Minimum gap between two messages to one customer: {POLICY.minimum_contact_gap_days} day(s)" in text
    assert "poor: up to 90 days; new invoices start in segment watch; default credit limit €10,000.00" in text
    assert "licence: FCA firm reference 612345" in text


def test_a_segment_without_referral_says_nothing_of_one_and_a_manual_task_is_not_listed():
    text = policy_document(POLICY, "customer", "en", segment="strategic").text()
    assert "Referral" not in text and "review_with_account_owner" not in text
    assert sum(1 for s in POLICY.segments["strategic"].steps if s.channel is not Channel.MANUAL_TASK) == 5
    assert "5 day(s) before the due date: a telephone call from our team" in text


def test_html_escapes_what_the_policy_says_and_unknown_languages_are_refused():
    hostile = POLICY.model_copy(update={"creditor": POLICY.creditor.model_copy(update={"email": "<script>x</script>@e.example"})})
    page = render_html(policy_document(hostile, "customer", "fr")).decode()
    assert "<script>" not in page and "&lt;script&gt;" in page and page.startswith("<!DOCTYPE html>")
    with pytest.raises(ValueError, match="languages: en, de, fr"):
        policy_document(POLICY, "customer", "it")


@pytest.mark.skipif(shutil.which("pdftoppm") is None or shutil.which("pdftotext") is None, reason="poppler not installed")
@pytest.mark.parametrize("language", LANGUAGES)
def test_the_pdf_renders_in_each_language(language, tmp_path):
    document = policy_document(POLICY, "customer", language)
    pdf = tmp_path / "policy.pdf"
    pdf.write_bytes(render_pdf(document))
    subprocess.run(["pdftoppm", "-r", "40", "-png", "-f", "1", "-l", "1", str(pdf), str(tmp_path / "page")], check=True)
    assert (tmp_path / "page-1.png").stat().st_size > 5_000
    printed = " ".join(subprocess.run(["pdftotext", str(pdf), "-"], check=True, capture_output=True, text=True).stdout.split())
    assert " ".join(document.title.split()) in printed
    assert RATE[language] in printed and AFTER[language].format(90) in printed
    assert render_pdf(document) == pdf.read_bytes()  # deterministic


# How each language says when a step comes (the catalogue's words), and what separates it from what comes
WHEN = {"en": ("{} day(s) before the due date", "on the due date", AFTER["en"]),
        "de": ("{} Tag(e) vor Fälligkeit", "am Fälligkeitstag", AFTER["de"]),
        "fr": ("{} jour(s) avant l’échéance", "le jour de l’échéance", AFTER["fr"])}
SEPARATOR = {"en": ": ", "de": ": ", "fr": " : "}


def _when(language: str, offset_days: int) -> str:
    before, on, after = WHEN[language]
    return before.format(-offset_days) if offset_days < 0 else on if offset_days == 0 else after.format(offset_days)


def _version_5():
    """A later version of the default policy: every contact step of standard 3 days later, another rate and basis,
    other fees and another discount."""
    standard = POLICY.segments["standard"]
    steps = tuple(step.model_copy(update={"offset_days": step.offset_days + 3}) for step in standard.steps)
    late = POLICY.late_payment.model_copy(update={
        "annual_rate_percent": Decimal("11.65"),
        "basis": "terms of business: interest on late payment at 11.65% a year (clause 9.2)",
        "fixed_compensation": {"EUR": 4_500, "GBP": 4_200, "USD": 4_800}})
    return POLICY.model_copy(update={
        "version": 5, "late_payment": late,
        "segments": {**POLICY.segments, "standard": standard.model_copy(update={"steps": steps})},
        "early_payment_discount": {"standard": POLICY.early_payment_discount["standard"].model_copy(
            update={"percent": Decimal("1.5"), "within_days": 14})}})


@pytest.mark.parametrize("language", LANGUAGES)
def test_each_version_states_exactly_its_own_steps_rate_fees_and_discount(language):
    from babel.numbers import format_decimal

    locale = LOCALES[language]
    for policy in (POLICY, _version_5()):
        # Given a version; when its customer document is made
        document = policy_document(policy, "customer", language)
        text = document.text()
        # Then it names that version
        assert f"default, {'Version' if language == 'de' else 'version'} {policy.version}" in document.subtitle
        # And its reminders are exactly the segment's contact steps, in order, each at its own offset
        reminders = document.sections[1].paragraphs[1:]
        steps = [s for s in policy.segments["standard"].steps if s.channel is not Channel.MANUAL_TASK]
        assert len(reminders) == len(steps) == 8
        for line, step in zip(reminders, steps):
            assert line.startswith(_when(language, step.offset_days) + SEPARATOR[language]), (line, step.id)
        # And the version's own rate with its basis, its fixed compensation and its discount
        terms = policy.late_payment
        assert f"{format_decimal(terms.annual_rate_percent, locale=locale)}{'%' if language == 'en' else ' %'}" in text
        assert terms.basis in text
        assert money_list(terms.fixed_compensation, locale) in text
        early = policy.early_payment_discount["standard"]
        assert f"{format_decimal(early.percent, locale=locale)}{'%' if language == 'en' else ' %'}" in text
        assert {"en": f"within {early.within_days} days", "de": f"innerhalb von {early.within_days} Tagen",
                "fr": f"dans les {early.within_days} jours"}[language] in text
    # And the later version says none of the earlier version's changed figures
    later = policy_document(_version_5(), "customer", language).text()
    assert RATE[language] not in later and money_list(POLICY.late_payment.fixed_compensation, locale) not in later
    assert AFTER[language].format(90) not in later and AFTER[language].format(93) in later


def money_list(amounts: dict[str, int], locale: str) -> str:
    return ", ".join(format_money(amount, currency, locale) for currency, amount in sorted(amounts.items()))
