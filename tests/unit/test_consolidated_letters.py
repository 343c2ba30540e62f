"""The demand letter covering several invoices and the statement of account, rendered in en/de/fr.

Harbour Freight Ltd (Bristol) owes three overdue invoices; a fourth is disputed, a fifth falls due in
five days. The formal notice of the oldest carries the message (default policy v3, 7-day window).
"""

from __future__ import annotations

import io
import shutil
import subprocess
from dataclasses import replace
from datetime import timedelta

import pytest
from pypdf import PdfReader

from arrears.domain.consolidation import consolidate, statement_of_account
from arrears.domain.models import HoldKind
from arrears.domain.money import format_money
from arrears.domain.notices import NoticeIncomplete, build_consolidated_notice, build_statement_notice
from arrears.rendering.letter_pdf import render_demand_letter
from arrears.rendering.statement_pdf import render_statement
from tests.unit.test_consolidation import CUSTOMER, LONDON, NOW, POLICY, due_now, invoice, item


def book():
    carrier = invoice("HF-9001", -30, balance=250_000)
    return [carrier, invoice("HF-9002", -26, balance=80_000, paid=20_000), invoice("HF-9003", -12, balance=45_050),
            invoice("HF-9004", -40, balance=30_000, hold=HoldKind.DISPUTE), invoice("HF-9005", 5, balance=60_000)]


def consolidated_notice(language="en"):
    records = book()
    customer = CUSTOMER.model_copy(update={"language": language})
    message = consolidate(item(records[0]), due_now(records[0]), [item(r) for r in records], POLICY, NOW, LONDON)
    return build_consolidated_notice(message, {r.invoice_id: r for r in records}, customer, POLICY, NOW)


def statement_notice(language="en"):
    records = book() + [invoice("HF-9006", -64, currency="EUR", balance=99_000)]
    customer = CUSTOMER.model_copy(update={"language": language})
    statement = statement_of_account(customer.customer_id, [item(r) for r in records], NOW, LONDON)
    return build_statement_notice(statement, customer, POLICY, NOW)


def spaced(text: str) -> str:
    return text.replace("\u00a0", " ").replace("\u202f", " ")


def text_of(pdf: bytes) -> str:
    return " ".join(" ".join((page.extract_text() or "").split()) for page in PdfReader(io.BytesIO(pdf)).pages)


def test_the_demand_claims_each_overdue_invoice_with_its_own_interest_and_compensation():
    # Given the consolidated formal notice
    ctx = consolidated_notice()
    # Then it claims the three overdue invoices, each with its interest and the fixed compensation
    claimed = {item.line.number: item for item in ctx.claimed_items}
    assert set(claimed) == {"HF-9001", "HF-9002", "HF-9003"}
    assert all(item.interest is not None and item.interest.compensation_minor == 4000 for item in claimed.values())
    assert claimed["HF-9001"].interest.days == 30 and claimed["HF-9003"].interest.days == 12
    assert ctx.total_claimed_minor == sum(i.line.balance_minor + i.interest.total_minor for i in claimed.values())
    # And the disputed and the coming-due invoices are listed, never claimed
    listed = {item.line.number for item in ctx.items}
    assert {"HF-9004", "HF-9005"} <= listed


@pytest.mark.parametrize("language, words", [
    ("en", ["Formal notice and demand for payment", "Late-payment interest on HF-9002", "in dispute, not claimed",
            "Other open invoices"]),
    ("de", ["Verzugszinsen auf HF-9002", "bestritten, nicht gefordert", "Weitere offene Rechnungen"]),
    ("fr", ["Intérêts de retard sur HF-9002", "contestée, non réclamée", "Autres factures ouvertes"]),
])
def test_the_consolidated_demand_letter_is_written_in_the_debtors_language(language, words):
    ctx = consolidated_notice(language)
    pdf = render_demand_letter(ctx)
    text = text_of(pdf)
    for word in words:
        assert word in text, (word, text[:800])
    for number in ("HF-9001", "HF-9002", "HF-9003", "HF-9004", "HF-9005"):
        assert number in text
    assert spaced(format_money(ctx.total_claimed_minor, "GBP", ctx.language.replace("-", "_"))) in spaced(text)
    assert len(PdfReader(io.BytesIO(pdf)).pages) <= 2


def test_every_legal_element_is_checked_per_invoice():
    ctx = consolidated_notice()
    # Given one of the claimed invoices is not overdue on the letter's date
    items = tuple(replace(i, line=replace(i.line, due_on=ctx.letter_date + timedelta(days=1)))
                  if i.line.number == "HF-9002" else i for i in ctx.items)
    # Then no letter is printed, and the invoice is named
    with pytest.raises(NoticeIncomplete, match="HF-9002 is not overdue"):
        render_demand_letter(replace(ctx, items=items))


@pytest.mark.parametrize("language, words", [
    ("en", ["Statement of account", "Invoices in GBP", "Invoices in EUR", "Over 90 days", "1–30 days", "on hold",
            "not yet due", "Credited"]),
    ("de", ["Kontoauszug", "Rechnungen in GBP", "Altersstruktur des Saldos in EUR", "angehalten", "Gutschrift"]),
    ("fr", ["Relevé de compte", "Factures en GBP", "Ancienneté du solde en EUR", "suspendue", "Avoir"]),
])
def test_the_statement_lists_every_open_invoice_and_the_aging_per_currency(language, words):
    ctx = statement_notice(language)
    text = text_of(render_statement(ctx))
    for word in words:
        assert word in text, (word, text[:800])
    for number in ("HF-9001", "HF-9002", "HF-9003", "HF-9004", "HF-9005", "HF-9006"):
        assert number in text


def test_an_empty_statement_says_nothing_is_open():
    statement = statement_of_account(CUSTOMER.customer_id, [], NOW, LONDON)
    text = text_of(render_statement(build_statement_notice(statement, CUSTOMER, POLICY, NOW)))
    assert "There are no open invoices on your account" in text


def test_the_same_figures_give_the_same_bytes():
    assert render_statement(statement_notice()) == render_statement(statement_notice())
    assert render_demand_letter(consolidated_notice()) == render_demand_letter(consolidated_notice())


@pytest.mark.skipif(shutil.which("pdftoppm") is None, reason="poppler-utils (pdftoppm) is not installed")
@pytest.mark.parametrize("language", ["en", "de", "fr"])
def test_the_letter_and_the_statement_render_as_pages(tmp_path, language):
    # pdftoppm (poppler) draws every page: a PDF it cannot read fails here, whatever pypdf made of it
    for name, pdf in (("letter", render_demand_letter(consolidated_notice(language))),
                      ("statement", render_statement(statement_notice(language)))):
        source = tmp_path / f"{name}-{language}.pdf"
        source.write_bytes(pdf)
        done = subprocess.run(["pdftoppm", "-r", "60", "-png", str(source), str(tmp_path / f"{name}-{language}")],
                              capture_output=True, text=True, timeout=60)
        assert done.returncode == 0 and not done.stderr, done.stderr
        pages = sorted(tmp_path.glob(f"{name}-{language}-*.png"))
        assert 1 <= len(pages) <= 3 and all(page.stat().st_size > 5_000 for page in pages)
