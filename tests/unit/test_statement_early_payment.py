"""The statement of account states the early-payment discount (issue #20) with its exact amount and last day.

Harbour Freight Ltd (Bristol) under the default policy v4, whose standard segment offers 2% off when paid within
10 days of issue. On 14 October 2026 it has four open invoices: one issued 4 days ago, one issued 2 days ago and
partly paid, one issued 11 days ago (its window has closed) and one whose collection has not started (no pinned
policy, so no offer to state).
"""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from arrears.domain.consolidation import OpenInvoice, statement_of_account
from arrears.domain.money import format_money
from arrears.domain.notices import build_statement_notice
from arrears.rendering.letter_pdf import _format_date
from arrears.rendering.statement_pdf import render_statement
from tests.unit.test_consolidated_letters import spaced, text_of
from tests.unit.test_consolidation import CUSTOMER, LONDON, NOW, POLICY, invoice, item

TERMS = POLICY.early_payment_discount["standard"]


def issued(number: str, days_ago: int, balance: int, paid: int = 0):
    """An invoice on 14-day terms issued `days_ago` before NOW (10:00 in London)."""
    record = invoice(number, 14 - days_ago, balance=balance, paid=paid, done=())
    return record.model_copy(update={"issued_at": NOW - timedelta(days=days_ago)})


FRESH = issued("HF-9101", 4, 123_456)  # £1,234.56, issued 10 October
PART_PAID = issued("HF-9102", 2, 30_000, paid=20_000)  # £500.00, £200.00 paid, issued 12 October
CLOSED = issued("HF-9103", 11, 80_000)  # issued 3 October: its window ended on 13 October
NOT_STARTED = issued("HF-9104", 1, 40_000)


def statement():
    book = [OpenInvoice(r, item(r).planned, POLICY) for r in (FRESH, PART_PAID, CLOSED)] + [OpenInvoice(NOT_STARTED)]
    return statement_of_account(CUSTOMER.customer_id, book, NOW, LONDON)


def test_the_statement_carries_each_open_offer_with_its_hand_computed_figures():
    # Given the default policy's terms for the standard segment
    assert (TERMS.percent, TERMS.within_days) == (2, 10)
    # When the statement is drawn up
    lines = {line.number: line for c in statement().currencies for line in c.lines}
    # Then the invoice issued 4 days ago offers 2% of £1,234.56 = £24.6912, rounded to £24.69: pay £1,209.87 by
    # 10 October + 10 days
    fresh = lines["HF-9101"].early_payment
    assert fresh is not None and fresh.discount_minor == 2_469 and fresh.pay_minor == 123_456 - 2_469 == 120_987
    assert fresh.until == date(2026, 10, 10) + timedelta(days=10) == date(2026, 10, 20)
    # And the part-paid one: 2% of £500.00 = £10.00, £490.00 settles it, by 22 October
    part = lines["HF-9102"].early_payment
    assert part is not None and (part.discount_minor, part.pay_minor, part.until) == (1_000, 49_000, date(2026, 10, 22))
    # And none where the window has closed, nor where collection has not started
    assert lines["HF-9103"].early_payment is None and lines["HF-9104"].early_payment is None


@pytest.mark.parametrize("language, words", [
    ("en", "early-payment discount"), ("de", "Skonto"), ("fr", "escompte"),
])
def test_the_statement_pdf_states_the_amount_to_pay_the_discount_and_the_last_day(language, words):
    # Given the customer reads its statement in `language`
    customer = CUSTOMER.model_copy(update={"language": language})
    ctx = build_statement_notice(statement(), customer, POLICY, NOW)
    locale = ctx.language.replace("-", "_")
    # When it is rendered
    text = spaced(text_of(render_statement(ctx)))
    # Then each open offer is stated: what is left to pay (the part-paid one: £490.00 - £200.00 = £290.00), the
    # discount kept and the last day, in the customer's language
    assert text.count(words) == 2, text
    for pay, discount, until in ((120_987, 2_469, date(2026, 10, 20)), (49_000 - 20_000, 1_000, date(2026, 10, 22))):
        for figure in (format_money(pay, "GBP", locale), format_money(discount, "GBP", locale),
                       _format_date(until, "long", locale)):
            assert spaced(figure) in text, (figure, text)


def test_the_english_line_reads_as_the_courtesy_reminder_does():
    text = spaced(text_of(render_statement(build_statement_notice(statement(), CUSTOMER, POLICY, NOW))))
    assert "Pay £1,209.87 by 20 October 2026 and keep the 2% early-payment discount of £24.69" in text
    assert "Pay £290.00 by 22 October 2026 and keep the 2% early-payment discount of £10.00" in text
