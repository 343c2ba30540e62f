"""The collections policy as a reader sees it (issue #20): made from one policy version, as HTML or PDF, in
English, German or French. The customer version states the payment terms, when reminders come, late interest
and fixed compensation with their legal basis, referral, how to dispute and how to reach the team (to attach
to contracts and show on the debtor's page); the staff version adds every segment and step, hold rule,
threshold and risk rule. Every figure comes from the policy; the words from templates/documents/policy.yaml.
Debtor-facing text is escaped in HTML; deterministic for the same version and language."""

from __future__ import annotations

import html
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import Literal

import yaml
from babel.numbers import format_decimal

from arrears.domain.interest import SCHEMES
from arrears.domain.money import format_money
from arrears.domain.policy import Channel, Policy, Stage, Step

Audience = Literal["customer", "staff"]
LANGUAGES = ("en", "de", "fr")
_CATALOGUE = Path(__file__).resolve().parent.parent / "templates" / "documents" / "policy.yaml"
_LOCALES = {"en": "en_GB", "de": "de_DE", "fr": "fr_FR"}
_STATUTES = {"de_bgb_288": "BGB § 288", "fr_l441_10": "Code de commerce L441-10",
             "eu_2011_7": "Directive 2011/7/EU", "uk_late_payment_act": "Late Payment of Commercial Debts (Interest) Act 1998"}
_LINE = {"align": "L", "new_x": "LMARGIN", "new_y": "NEXT"}  # each block below the last, from the left margin
_WEEKDAYS = {1: "mon", 2: "tue", 3: "wed", 4: "thu", 5: "fri", 6: "sat", 7: "sun"}


@dataclass(frozen=True)
class Section:
    heading: str
    paragraphs: tuple[str, ...]


@dataclass(frozen=True)
class PolicyDocument:
    title: str
    subtitle: str
    language: str
    sections: tuple[Section, ...]

    def text(self) -> str:
        """Every word of the document, plain (what the HTML and the PDF both say)."""
        return "\n".join([self.title, self.subtitle, *(f"{s.heading}\n" + "\n".join(s.paragraphs) for s in self.sections)])


@lru_cache(maxsize=1)
def _catalogue() -> dict[str, dict[str, str]]:
    return yaml.safe_load(_CATALOGUE.read_text(encoding="utf-8"))


def policy_document(policy: Policy, audience: Audience = "customer", language: str = "en",
                    segment: str | None = None) -> PolicyDocument:
    """The document of `policy` for `audience` in `language` (en, de, fr; ValueError otherwise). The customer
    version's reminders are those of `segment` (default: the policy's default segment)."""
    if language not in LANGUAGES:
        raise ValueError(f"no policy document in {language!r}; languages: {', '.join(LANGUAGES)}")
    words = _catalogue()[language]
    locale = _LOCALES[language]

    def say(key: str, **values: object) -> str:
        return words[key].format(**values)

    def money(amounts: dict[str, int]) -> str:
        return ", ".join(format_money(amount, currency, locale) for currency, amount in sorted(amounts.items())) or say("none")

    creditor = policy.creditor
    agency = policy.referral.agency
    agency_name = agency.name if agency else "-"
    sections = [Section(say("payment_terms"), tuple(p for p in (
        say("pay_by_due"),
        say("pay_to", account=creditor.bank_account_name or creditor.name, iban=creditor.iban, bic=creditor.bic)
        if creditor.iban else "") if p))]
    chosen = segment if segment in policy.segments else policy.default_segment
    contact_steps = [s for s in policy.segments[chosen].steps if s.channel is not Channel.MANUAL_TASK]
    sections.append(Section(say("reminders"), (
        say("reminders_intro", start=policy.calendar.contact_hours_start.strftime("%H:%M"),
            end=policy.calendar.contact_hours_end.strftime("%H:%M"), gap=policy.minimum_contact_gap_days),
        *(say("step_line", when=_when(step, say), what=_what(step, say, agency_name)) for step in contact_steps))))
    sections.append(Section(say("late"), _late_payment(policy, say, money, locale)))
    if agency is not None and any(s.channel is Channel.REFERRAL for s in policy.segments[chosen].steps):
        sections.append(Section(say("referral"), (say(
            "referral_text", minimum=money(policy.referral.min_amount), agency=agency.name,
            days=policy.referral.notice_period_days),)))
    sections.append(Section(say("disputes"), (say("disputes_text", email=creditor.email),)))
    early = policy.early_payment_discount.get(chosen)
    sections.append(Section(say("early"), (say("early_terms", percent=format_decimal(early.percent, locale=locale),
                                                days=early.within_days) if early else say("early_none"),)))
    address = ", ".join(creditor.address.lines(language))
    sections.append(Section(say("contact"), (say("contact_text", email=creditor.email, phone=creditor.phone or "-",
                                                  address=address),)))
    if audience == "staff":
        sections += _staff_sections(policy, say, money)
    return PolicyDocument(say("title_staff" if audience == "staff" else "title_customer"),
                          say("made_from", creditor=creditor.name, policy_id=policy.policy_id, version=policy.version),
                          language, tuple(sections))


def _when(step: Step, say) -> str:
    if step.offset_days < 0:
        return say("before_due", days=-step.offset_days)
    return say("on_due") if step.offset_days == 0 else say("after_due", days=step.offset_days)


def _what(step: Step, say, agency: str) -> str:
    if step.channel is Channel.EMAIL and step.stage in (Stage.COURTESY_REMINDER, Stage.DUE_NOTICE, Stage.FINAL_NOTICE):
        return say(f"stage_{step.stage.value}")
    return say(f"channel_{step.channel.value}", agency=agency)


def _late_payment(policy: Policy, say, money, locale: str) -> tuple[str, ...]:
    terms = policy.late_payment
    if terms is None or not terms.claim:
        return (say("late_none"),)
    if terms.scheme == "contractual":
        rate = format_decimal(terms.annual_rate_percent, locale=locale)
        first = say("late_contractual", rate=rate, basis=terms.basis)
    else:
        margin = format_decimal(SCHEMES[terms.scheme].margin_points, locale=locale)
        first = say("late_statutory", scheme=f"{_STATUTES[terms.scheme]} ({SCHEMES[terms.scheme].series} + {margin})")
    return (first, say("late_fixed", amounts=money(terms.fixed_compensation))) if terms.fixed_compensation else (first,)


def _staff_sections(policy: Policy, say, money) -> list[Section]:
    sections = []
    for name, segment in policy.segments.items():
        default = say("staff_default") if name == policy.default_segment else ""
        sections.append(Section(say("staff_segment", name=name, default=default), tuple(
            say("staff_step", when=_when(s, say), id=s.id, stage=s.stage.value, channel=s.channel.value,
                template=s.template, tone=s.tone) for s in sorted(segment.steps, key=lambda s: s.offset_days))))
    yes_no = {True: say("answer_yes"), False: say("answer_no")}
    calendar, referral, agency = policy.calendar, policy.referral, policy.referral.agency
    holds = [
        say("staff_holds_text", grace=policy.promise_grace_days, fallback=policy.undeliverable.fallback,
            cards=yes_no[policy.chase_card_invoices_after_platform_retries]),
        say("staff_gap", gap=policy.minimum_contact_gap_days, time=policy.contact_time.strftime("%H:%M"),
            days=", ".join(_WEEKDAYS[d] for d in sorted(calendar.business_days)),
            holidays=yes_no[calendar.observe_public_holidays]),
        say("staff_consolidation", enabled=yes_no[policy.consolidation.enabled], window=policy.consolidation.window_days,
            max=policy.consolidation.max_invoices),
        say("staff_demand", days=policy.demand_letter.deadline_days, minimum=money(referral.min_amount),
            notice=referral.notice_period_days, checks=yes_no[referral.require_agency_checks]),
    ]
    if agency is not None:
        holds.append(say("staff_agency", name=agency.name, email=agency.email, licence=agency.licence or say("none"),
                         insurance=agency.insurance or say("none"), regions=", ".join(agency.regions) or say("none"),
                         fees=agency.fees or say("none")))
    sections.append(Section(say("staff_holds"), tuple(holds)))
    rules = policy.risk
    if not rules.enabled:
        sections.append(Section(say("staff_risk"), (say("staff_risk_off"),)))
        return sections
    bands = [say("staff_band", band=rule.band,
                 limit=say("staff_band_upto", days=rule.up_to_days) if rule.up_to_days is not None else say("staff_band_rest"),
                 segment=say("staff_band_segment", segment=rules.segments[rule.band]) if rule.band in rules.segments else "",
                 credit=say("staff_band_credit", limits=money(rules.credit_limits[rule.band]))
                 if rule.band in rules.credit_limits else "") for rule in rules.bands]
    modifiers = rules.modifiers
    sections.append(Section(say("staff_risk"), (
        say("staff_risk_intro", minimum=rules.minimum_paid_invoices), *bands,
        say("staff_modifiers", broken=modifiers.broken_commitments or "-", disputed=modifiers.disputed_share_percent or "-",
            review=rules.review_after_days))))
    return sections


def render_html(document: PolicyDocument) -> bytes:
    """A standalone HTML page (every text escaped)."""
    e = html.escape
    body = "".join(f"<section><h2>{e(s.heading)}</h2>" + "".join(f"<p>{e(p)}</p>" for p in s.paragraphs) + "</section>"
                   for s in document.sections)
    page = (f'<!DOCTYPE html>\n<html lang="{e(document.language)}"><head><meta charset="utf-8">'
            f"<title>{e(document.title)}</title><style>body{{font-family:sans-serif;max-width:44em;margin:2em auto;"
            f"color:#1f2933}}h2{{font-size:1.1em;margin-top:1.5em}}</style></head><body>"
            f"<h1>{e(document.title)}</h1><p>{e(document.subtitle)}</p>{body}</body></html>\n")
    return page.encode("utf-8")


def render_pdf(document: PolicyDocument, made_on: date | None = None) -> bytes:
    """An A4 PDF in the letters' font (deterministic: its date is `made_on`, else none)."""
    from datetime import datetime, time, timezone

    from fpdf import FPDF

    from arrears.rendering import fonts

    pdf = FPDF(format="A4")
    pdf.set_margins(20, 18, 20)
    pdf.set_auto_page_break(True, margin=18)
    fonts.install(pdf)
    pdf.set_creation_date(datetime.combine(made_on or date(2026, 1, 1), time(0, 0), tzinfo=timezone.utc))
    pdf.set_title(document.title)
    pdf.set_author(document.subtitle)
    pdf.set_creator("Arrears")
    pdf.add_page()
    width = pdf.w - pdf.l_margin - pdf.r_margin
    pdf.set_font(fonts.FAMILY, "B", 16)
    pdf.multi_cell(width, 8, document.title, **_LINE)
    pdf.set_font(fonts.FAMILY, "", 9)
    pdf.multi_cell(width, 5, document.subtitle, **_LINE)
    for section in document.sections:
        pdf.ln(3)
        pdf.set_font(fonts.FAMILY, "B", 11.5)
        pdf.multi_cell(width, 6.5, section.heading, **_LINE)
        pdf.set_font(fonts.FAMILY, "", 9.5)
        for paragraph in section.paragraphs:
            pdf.multi_cell(width, 5, paragraph, **_LINE)
            pdf.ln(1)
    return fonts.output(pdf)
