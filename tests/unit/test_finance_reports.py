"""Aging, DSO and CEI against a small book computed by hand."""

from __future__ import annotations

from datetime import datetime, timezone
from zoneinfo import ZoneInfo
from decimal import Decimal

import pytest

from arrears.usecases.finance.reports import aging, collection_figures, receivable_at
from arrears.usecases.finance.views import AgingBucket, aging_bucket
from arrears.domain.models import Invoice, InvoiceStatus

UTC = timezone.utc


def at(year: int, month: int, day: int) -> datetime:
    return datetime(year, month, day, 12, 0, tzinfo=UTC)


def invoice(name: str, issued: datetime, due: datetime, amount: int, status: str = "open", closed: datetime | None = None,
            remaining: int | None = None, currency: str = "GBP") -> Invoice:
    paid_off = status in ("paid", "void", "uncollectible")
    remaining = (0 if status == "paid" else amount) if remaining is None else remaining
    return Invoice(invoice_id=name, provider="stripe", number=name, customer_id="cus_1", currency=currency,
                   amount_due=amount, amount_paid=amount - remaining, amount_remaining=remaining, issued_at=issued,
                   due_at=due, status=InvoiceStatus(status), provider_updated_at=closed or issued,
                   closed_at=closed if paid_off else None)


# The book, period 1 January - 1 April 2026 (90 days):
BOOK = [
    invoice("A", at(2025, 12, 1), at(2025, 12, 31), 10_000, "paid", at(2026, 1, 20)),  # owed on 1 Jan, paid in the period
    invoice("B", at(2026, 1, 10), at(2026, 2, 9), 20_000, "paid", at(2026, 3, 1)),  # sold and paid in the period
    invoice("C", at(2026, 2, 1), at(2026, 3, 3), 30_000),  # sold in the period, overdue at the end
    invoice("D", at(2026, 3, 15), at(2026, 4, 14), 40_000, remaining=25_000),  # sold, part-paid, not yet due
    invoice("E", at(2026, 2, 1), at(2026, 3, 3), 5_000, "void", at(2026, 2, 5)),  # void: never a sale
    invoice("F", at(2025, 11, 1), at(2025, 12, 1), 8_000, currency="EUR"),  # euros: reported apart
]
START, END = datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 4, 1, tzinfo=UTC)


def test_dso_and_cei_match_the_hand_computed_figures():
    figures = collection_figures(BOOK, START, END)
    gbp = figures["GBP"]
    # BR = A 10,000 · S = B 20,000 + C 30,000 + D 40,000 = 90,000 · ER = C 30,000 + D 25,000 = 55,000 · ECR = D 25,000
    assert (gbp.beginning_receivables, gbp.credit_sales, gbp.ending_receivables, gbp.ending_current_receivables) == \
        (10_000, 90_000, 55_000, 25_000)
    assert gbp.days == 90
    assert gbp.dso_days == Decimal("55.00")  # 55,000 / 90,000 x 90
    assert gbp.cei_percent == Decimal("60.00")  # (10,000 + 90,000 - 55,000) / (10,000 + 90,000 - 25,000) x 100 = 45/75
    # A took 50 days from issue (1 Dec -> 20 Jan), 20 past due; B 50 days (10 Jan -> 1 Mar), 20 past due.
    assert (gbp.collected_count, gbp.average_days_to_collect, gbp.average_days_late_at_payment) == \
        (2, Decimal("50.00"), Decimal("20.00"))
    eur = figures["EUR"]
    # No euro sales: DSO undefined; the euro debt was owed throughout and nothing was collected: CEI 0 %.
    assert (eur.dso_days, eur.cei_percent, eur.ending_receivables) == (None, Decimal("0.00"), 8_000)


def test_aging_matches_the_hand_computed_buckets():
    report = aging(BOOK, END)
    # C: due 3 March, 29 days before 1 April -> 1-30; D: due 14 April -> current (its balance, 25,000); F: 121 days -> 90+
    assert report["GBP"]["1-30"] == {"count": 1, "amount": 30_000}
    assert report["GBP"]["current"] == {"count": 1, "amount": 25_000}
    assert sum(cell["amount"] for cell in report["GBP"].values()) == 55_000
    assert report["EUR"]["90+"] == {"count": 1, "amount": 8_000}
    # On 15 January, A (due 31 Dec) was 15 days late and still owed; B (issued 10 Jan) not yet due; C not issued.
    january = aging(BOOK, at(2026, 1, 15))
    assert january["GBP"]["1-30"] == {"count": 1, "amount": 10_000}
    assert january["GBP"]["current"] == {"count": 1, "amount": 20_000}


@pytest.mark.parametrize("days_late, bucket", [
    (-5, AgingBucket.CURRENT), (0, AgingBucket.CURRENT), (1, AgingBucket.DAYS_1_30), (30, AgingBucket.DAYS_1_30),
    (31, AgingBucket.DAYS_31_60), (60, AgingBucket.DAYS_31_60), (61, AgingBucket.DAYS_61_90), (90, AgingBucket.DAYS_61_90),
    (91, AgingBucket.OVER_90), (400, AgingBucket.OVER_90),
])
def test_bucket_edges(days_late, bucket):
    due = at(2026, 6, 1)
    as_of = datetime.fromordinal(due.toordinal() + days_late).replace(hour=23, tzinfo=UTC)
    assert aging_bucket(invoice("X", at(2026, 5, 1), due, 100), as_of) is bucket


def test_receivable_before_issue_and_after_close_is_nothing():
    a = BOOK[0]
    assert receivable_at(a, at(2025, 11, 30)) == 0
    assert receivable_at(a, at(2026, 1, 19)) == 10_000
    assert receivable_at(a, at(2026, 1, 20)) == 0
    assert receivable_at(BOOK[4], at(2026, 2, 2)) == 0  # void


def test_a_period_must_end_after_it_starts():
    with pytest.raises(ValueError):
        collection_figures(BOOK, END, START)


def test_an_invoice_issued_at_the_periods_first_instant_is_a_sale_not_also_a_beginning_receivable():
    # Given two invoices of 10,000: X issued at the very start of the period and still owed (overdue) at its end,
    # Y issued mid-period and paid in it
    book = [invoice("X", START, at(2026, 1, 31), 10_000),
            invoice("Y", at(2026, 2, 1), at(2026, 3, 3), 10_000, "paid", at(2026, 3, 1))]
    gbp = collection_figures(book, START, END)["GBP"]
    # Then X is a credit sale of the period only: BR 0, S 20,000, ER 10,000, ECR 0 -> CEI 50 % (not 66.67)
    assert (gbp.beginning_receivables, gbp.credit_sales, gbp.ending_receivables) == (0, 20_000, 10_000)
    assert gbp.cei_percent == Decimal("50.00")


def test_days_to_collect_do_not_lose_a_day_across_a_daylight_saving_change():
    # Given a London invoice issued Friday 20 March 2026 at 10:00 (GMT) and paid Friday 3 April at 10:00 (BST),
    # stored in UTC as every record is
    london = ZoneInfo("Europe/London")
    issued, paid = (datetime(2026, 3, 20, 10, tzinfo=london).astimezone(UTC), datetime(2026, 4, 3, 10, tzinfo=london).astimezone(UTC))
    book = [invoice("Z", issued, datetime(2026, 4, 2, 10, tzinfo=london).astimezone(UTC), 10_000, "paid", paid)]
    gbp = collection_figures(book, START, datetime(2026, 5, 1, tzinfo=UTC))["GBP"]
    # Then it took 14 days (13 days 23 hours of elapsed time), one day past due
    assert (gbp.average_days_to_collect, gbp.average_days_late_at_payment) == (Decimal("14.00"), Decimal("1.00"))
