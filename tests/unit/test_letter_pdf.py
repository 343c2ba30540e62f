"""Demand letters: what the PDF states, what it refuses to print, and that it is reproducible."""

from __future__ import annotations

import hashlib
import io
import os
import subprocess
import sys
from dataclasses import replace
from datetime import date
from pathlib import Path

import pytest
from fontTools.ttLib import TTFont
from pypdf import PdfReader

from arrears.rendering import fonts
from arrears.rendering.letter_pdf import render_demand_letter
from arrears.domain.models import Address, InvoiceLine
from arrears.domain.money import format_money
from arrears.domain.notices import NoticeContext, NoticeIncomplete
from arrears.domain.policy.model import Stage
from tests.unit.sample_notice import CREDITOR, FORMAL_CONSEQUENCE, make_notice

LETTER_DATE = date(2026, 4, 1)  # the formal notice: 30 days after the due date
CONSEQUENCE = FORMAL_CONSEQUENCE


def make_context(stage: Stage = Stage.FORMAL_NOTICE, **overrides: object) -> NoticeContext:
    return make_notice(stage.value, tone="formal", **overrides)


def pdf_text(pdf: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)


def euros(amount_minor: int) -> str:
    return format_money(amount_minor, "EUR", "en")


@pytest.fixture(scope="module")
def formal_letter() -> bytes:
    return render_demand_letter(make_context())


def test_the_letter_is_an_a4_pdf_of_at_most_two_pages(formal_letter: bytes) -> None:
    # Given the demand letter for a typical invoice
    reader = PdfReader(io.BytesIO(formal_letter))

    # Then it is a PDF on A4 paper, one or two pages long
    assert formal_letter.startswith(b"%PDF-")
    assert 1 <= len(reader.pages) <= 2
    box = reader.pages[0].mediabox
    assert (round(float(box.width)), round(float(box.height))) == (595, 842)  # 210 x 297 mm in points


def test_the_letter_states_who_claims_what_from_whom_and_by_when(formal_letter: bytes) -> None:
    # Given the formal notice's letter
    ctx = make_context()
    text = pdf_text(formal_letter)

    # Then the parties, the debt and the deadline are all in it
    assert "Formal notice and demand for payment" in text
    assert "Müller & Söhne GmbH" in text
    assert "Friedrichstraße 123" in text and "10117 Berlin" in text
    assert "Northwind Analytics Ltd" in text and "12 Finsbury Square" in text
    assert "Company no. 09876543" in text and "VAT no. GB 123 4567 89" in text
    assert "INV-2026-0042" in text
    assert ctx.reference in text
    assert "April 1, 2026" in text  # letter date
    assert "April 15, 2026" in text  # deadline
    assert euros(ctx.balance_minor) == "€1,250.00" and "€1,250.00" in text


def test_the_letter_itemises_interest_compensation_and_total(formal_letter: bytes) -> None:
    # Given a claim with 30 days of interest at 10.15% and EUR 40 fixed compensation
    ctx = make_context()
    interest = ctx.interest
    assert interest is not None and interest.days == 30

    # When the letter's text is read
    text = pdf_text(formal_letter)

    # Then each figure is there, with how the interest was computed, and the total matches the context
    assert euros(interest.interest_minor) in text  # €10.43
    assert "€40.00" in text
    assert euros(ctx.total_claimed_minor) == "€1,300.43"
    assert "Total claimed €1,300.43" in text
    assert "10.15% a year on €1,250.00 for 30 days" in text
    assert "from March 3, 2026 to April 1, 2026" in text
    assert "Directive 2011/7/EU" in text
    assert "Analytics platform, annual licence" in text


def test_the_letter_says_how_to_pay_how_to_dispute_and_what_happens_otherwise(formal_letter: bytes) -> None:
    # Given the formal notice's letter
    text = pdf_text(formal_letter)

    # Then payment, dispute and consequence are spelled out
    assert "https://pay.northwind.example/i/INV-2026-0042" in text
    assert "GB33 BUKB 2020 1555 5555 55" in text and "BUKBGB22" in text
    assert "Please quote the reference" in text
    assert "accounts@northwind.example before April 15, 2026" in text
    assert " ".join(CONSEQUENCE.split()[:8]) in text
    assert "Yours faithfully" in text


def test_the_final_notice_has_its_own_heading() -> None:
    # Given a final notice
    ctx = make_context(Stage.FINAL_NOTICE, reference="INV-2026-0042/final_notice")

    # When its letter is rendered
    text = pdf_text(render_demand_letter(ctx))

    # Then it is headed as the last step before referral
    assert "Final notice before referral" in text
    assert "Formal notice and demand" not in text


def test_a_letter_without_interest_still_states_the_total_claimed() -> None:
    # Given a policy that claims no interest
    ctx = make_context(interest=None)

    # When rendered
    text = pdf_text(render_demand_letter(ctx))

    # Then the total claimed is the balance, and no interest line is printed
    assert "Total claimed €1,250.00" in text
    assert "interest" not in text.lower()


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"debtor_address_lines": ()}, "postal address"),
        ({"debtor_address_lines": ("Germany",)}, "postal address"),
        ({"deadline": None}, "deadline"),
        ({"deadline": LETTER_DATE}, "deadline is not after"),
        ({"next_consequence": ""}, "consequence"),
        ({"debtor_name": "  "}, "no name"),
        ({"balance_minor": 0}, "no balance"),
        ({"pay_url": "", "creditor": CREDITOR.model_copy(update={"iban": ""})}, "no way to pay"),
        ({"stage": Stage.OVERDUE_REMINDER}, "no demand letter"),
    ],
)
def test_a_letter_missing_what_it_must_state_is_refused(changes: dict, message: str) -> None:
    # Given a context lacking something a demand letter must state
    ctx = make_context(**changes)

    # When the letter is rendered, then it is refused rather than printed with a blank
    with pytest.raises(NoticeIncomplete, match=message):
        render_demand_letter(ctx)


@pytest.mark.parametrize("name", ["北京数据有限公司", "שלום בע\"מ"])
def test_a_name_the_letter_cannot_print_legibly_is_refused(name: str) -> None:
    # Given a debtor name in a script DejaVu Sans lacks (CJK) or that would print reversed (Hebrew)
    ctx = make_context(debtor_name=name)

    # When rendered, then the letter is refused instead of printing boxes or mirrored text
    with pytest.raises(NoticeIncomplete):
        render_demand_letter(ctx)


def test_names_in_other_alphabets_print() -> None:
    # Given debtors named in Greek and Cyrillic, one with a decomposed umlaut
    ctx = make_context(debtor_name="Ωμέγα Α.Ε. / ООО «Ромашка» / Mu\u0308ller")

    # When rendered
    text = pdf_text(render_demand_letter(ctx))

    # Then the names come out as written (the umlaut composed)
    assert "Ωμέγα Α.Ε. / ООО «Ромашка» / Müller" in text


def test_the_same_context_always_gives_the_same_bytes(formal_letter: bytes) -> None:
    # Given the letter already rendered for a context
    # When the same context is rendered again
    again = render_demand_letter(make_context())

    # Then the bytes (and so the SHA-256 in the contact log) are identical, and another context differs
    assert hashlib.sha256(again).hexdigest() == hashlib.sha256(formal_letter).hexdigest()
    assert render_demand_letter(make_context(balance_minor=125001)) != formal_letter


def test_the_bytes_do_not_depend_on_the_process(formal_letter: bytes) -> None:
    # Given a fresh interpreter with a different hash seed
    script = (
        "import hashlib, sys\n"
        f"sys.path.insert(0, {str(Path(__file__).parent)!r})\n"
        "from test_letter_pdf import make_context\n"
        "from arrears.rendering.letter_pdf import render_demand_letter\n"
        "print(hashlib.sha256(render_demand_letter(make_context())).hexdigest())\n"
    )
    env = {**os.environ, "PYTHONHASHSEED": "12345"}

    # When it renders the same letter
    out = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True)

    # Then it produces the same bytes
    assert out.stdout.strip() == hashlib.sha256(formal_letter).hexdigest()


def test_the_creation_date_is_the_letter_date(formal_letter: bytes) -> None:
    # Given the letter
    info = PdfReader(io.BytesIO(formal_letter)).metadata

    # Then its creation date is the letter date, not the time it was rendered
    assert info is not None and info.creation_date is not None
    assert info.creation_date.date() == LETTER_DATE


def test_the_embedded_fonts_are_valid_dejavu_subsets(formal_letter: bytes) -> None:
    # Given the letter
    reader = PdfReader(io.BytesIO(formal_letter))
    fonts = {}
    for font in reader.pages[0]["/Resources"]["/Font"].values():
        cid_font = font.get_object()["/DescendantFonts"][0].get_object()
        fonts[cid_font["/BaseFont"]] = cid_font["/FontDescriptor"].get_object()["/FontFile2"].get_object().get_data()

    # Then both DejaVu faces are embedded as subsets that a font parser accepts, checksums included
    assert sorted(name.split("+")[1] for name in fonts) == ["DejaVuSansBold", "DejaVuSansBook"]
    for program in fonts.values():
        font = TTFont(io.BytesIO(program), checkChecksums=2)
        font.ensureDecompiled()
        assert 20 < font["maxp"].numGlyphs < 500  # a subset, not the 6,000-glyph font


def test_the_fast_font_embedding_prints_the_same_text_as_fpdf2s_own(formal_letter: bytes, monkeypatch) -> None:
    # Given fpdf2's own font embedding instead of the per-process font cache
    monkeypatch.setattr(fonts, "FAST", False)

    # When the same letter is rendered
    slow = render_demand_letter(make_context())

    # Then it reads exactly the same
    assert pdf_text(slow) == pdf_text(formal_letter)


def test_long_values_wrap_and_many_items_stay_within_two_pages() -> None:
    # Given a long company name, a long pay link and an invoice of 40 items
    ctx = make_context(
        debtor_name="Müller & Söhne Maschinenbau und Anlagentechnik Gesellschaft mit beschränkter Haftung & Co. KG",
        pay_url="https://pay.northwind.example/i/" + "x" * 150,
        lines=tuple(InvoiceLine(description=f"Service item {n}", amount=3125) for n in range(40)),
    )

    # When rendered
    pdf = render_demand_letter(ctx)
    text = pdf_text(pdf)

    # Then nothing is lost and it still fits on two pages
    assert len(PdfReader(io.BytesIO(pdf)).pages) <= 2
    assert "and 29 further items, as invoiced" in text
    assert "x" * 60 in text.replace("\n", "")
    assert "Gesellschaft mit beschränkter Haftung & Co. KG" in text.replace("\n", " ")


# -- the letter in the debtor's language -------------------------------------------------------------


def plain(text: str) -> str:
    """PDF text with babel's no-break spaces (U+00A0, U+202F) read as plain spaces."""
    return text.replace("\u00a0", " ").replace("\u202f", " ")


@pytest.mark.parametrize(
    "language, expected",
    [
        ("de", ("Mahnung und Zahlungsaufforderung", "Forderung 1.300,43 €", "Zahlbar bis 15. April 2026",
                "Sehr geehrte Damen und Herren", "10,15 % p. a. auf 1.250,00 € für 30 Tage", "vom 3. März 2026",
                "Pauschale für Beitreibungskosten 40,00 €", "Gesamtforderung 1.300,43 €",
                "spätestens bis zum 15. April 2026", "Geht der Forderungsbetrag nicht", "Mit freundlichen Grüßen",
                "Seite 1 von")),
        ("fr", ("Mise en demeure de payer", "Montant réclamé 1 300,43 €", "Date limite 15 avril 2026", "Madame, Monsieur,",
                "10,15 % l'an sur 1 250,00 € pendant 30 jours", "du 3 mars 2026",
                "Indemnité forfaitaire pour frais de recouvrement 40,00 €", "Total réclamé 1 300,43 €",
                "au plus tard le 15 avril 2026", "À défaut de paiement ou de contestation",
                "Veuillez agréer, Madame, Monsieur", "Page 1 sur")),
    ],
)
def test_the_letter_is_written_in_the_debtors_language_with_its_amounts_and_dates(language: str, expected: tuple) -> None:
    # Given the formal notice to a German- or French-speaking debtor
    ctx = make_context(language=language)

    # When its letter is rendered and read back
    text = plain(pdf_text(render_demand_letter(ctx))).replace("\n", " ")

    # Then heading, figures, deadline and wording are in that language, amounts and dates as its locale writes them
    for phrase in expected:
        assert phrase in text, phrase
    for english in ("Dear Sir", "Total claimed", "How to pay", "Yours faithfully", "Pay by", " a year on "):
        assert english not in text


@pytest.mark.parametrize("language, heading", [("de", "Letzte Mahnung vor Abgabe an ein Inkassounternehmen"),
                                                ("fr", "Dernier avis avant recouvrement")])
def test_the_final_notice_letter_has_its_own_heading_in_each_language(language: str, heading: str) -> None:
    # Given a final notice to a German- or French-speaking debtor
    ctx = make_context(Stage.FINAL_NOTICE, language=language, reference="INV-2026-0042/final_notice")

    # When its letter is rendered, then it is headed as the last notice before referral
    assert heading in plain(pdf_text(render_demand_letter(ctx)))


def test_a_statutory_claim_over_a_rate_change_prints_each_period_and_the_law() -> None:
    # Given a German statutory claim (§ 288 Abs. 2 BGB) over 1 July 2025, when the base rate fell from 2.27 % to 1.27 %
    from arrears.domain.interest import late_payment_claim
    from arrears.domain.policy.model import LatePayment
    from arrears.domain.wording import wording_for

    claim = late_payment_claim(LatePayment(scheme="de_bgb_288"), 125000, "EUR", date(2025, 6, 15), date(2025, 7, 20))
    assert claim is not None
    claim = replace(claim, basis=wording_for("de")("interest.basis.de_bgb_288"))
    ctx = make_context(language="de", interest=claim, due_on=date(2025, 6, 15), issued_on=date(2025, 5, 16),
                       letter_date=date(2025, 7, 20), deadline=date(2025, 8, 3), days_overdue=35)

    # When its letter is rendered
    text = plain(pdf_text(render_demand_letter(ctx))).replace("\n", " ")

    # Then each half-year is a line with its rate, how the rate is made up, its days and its sum, then the law
    assert "11,27 % p. a. (2,27 % + 9 Prozentpunkte) auf 1.250,00 € für 15 Tage, vom 16. Juni 2025 bis einschließlich 30. Juni 2025: 5,79 €" in text
    assert "10,27 % p. a. (1,27 % + 9 Prozentpunkte) auf 1.250,00 € für 20 Tage, vom 1. Juli 2025 bis einschließlich 20. Juli 2025: 7,03 €" in text
    assert "§ 288 Abs. 2 BGB" in text and "§ 288 Abs. 5 BGB" in text


def test_a_uk_address_puts_the_town_before_the_postcode() -> None:
    # Given the creditor in London and a debtor in Manchester
    ctx = make_context(debtor_address_lines=tuple(
        Address(line1="4 Spinningfields", city="Manchester", postal_code="M3 3EB", country="GB").lines()))

    # When the letter is rendered
    text = pdf_text(render_demand_letter(ctx))

    # Then both addresses read town, then postcode (Royal Mail's order), never "postcode town"
    assert "Manchester\nM3 3EB" in text and "M3 3EB Manchester" not in text
    assert "12 Finsbury Square  ·  London  ·  EC2A 1AS" in text and "EC2A 1AS London" not in text
