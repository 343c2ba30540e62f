"""Payment behaviour figures and risk bands (issue #20) on a hand-computed book, and the property that figures
updated one settlement at a time equal figures recomputed from scratch, whatever the order."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from arrears.domain.models import ContactEntry, Invoice, InvoiceStatus
from arrears.adapters.memory import MemoryStore
from arrears.domain.payment_behaviour import (
    RECENT_INVOICES, PaymentBehaviour, Settlement, behaviour_from_scratch, open_balance, record_settlement, settlement_of)
from arrears.domain.policy import load_policy_file
from arrears.domain.policy.risk import RiskRules
from arrears.domain.risk import band_worsened, credit_limit, risk_band

DEFAULT = load_policy_file("policies/default.yaml")
RULES = DEFAULT.risk


def _invoice(number: int, due: date, paid: date | None, status: InvoiceStatus = InvoiceStatus.PAID,
             remaining: int = 0, currency: str = "EUR") -> Invoice:
    due_at = datetime(due.year, due.month, due.day, 23, 59, tzinfo=timezone.utc)
    paid_at = datetime(paid.year, paid.month, paid.day, 14, 5, tzinfo=timezone.utc) if paid else due_at
    return Invoice(invoice_id=f"in_{number:04d}", provider="stripe", number=f"NW-2026-{number:04d}",
                   customer_id="cus_acme", currency=currency, amount_due=120_000, amount_paid=120_000 - remaining,
                   amount_remaining=remaining, issued_at=due_at - timedelta(days=30), due_at=due_at, status=status,
                   provider_updated_at=paid_at, closed_at=paid_at if status is not InvoiceStatus.OPEN else None)


def _entry(invoice_id: str, seq: int, kind: str, template: str | None = None, step_id: str | None = None,
           details: dict | None = None) -> ContactEntry:
    return ContactEntry(invoice_id=invoice_id, customer_id="cus_acme", seq=seq, at=datetime(2026, 3, 1, tzinfo=timezone.utc),
                        kind=kind, actor="workflow", template=template, step_id=step_id, details=details or {},
                        prev_hash="0" * 64, hash="1" * 64)


def test_a_hand_computed_book_gives_the_figures_and_the_band_the_arithmetic_says():
    # Given six paid invoices of Acme: days beyond terms 0 (early), 0 (on the day), 10, 40, 60, 100
    book = [(1, date(2026, 1, 31), date(2026, 1, 20)), (2, date(2026, 2, 28), date(2026, 2, 28)),
            (3, date(2026, 3, 31), date(2026, 4, 10)), (4, date(2026, 4, 30), date(2026, 6, 9)),
            (5, date(2026, 5, 31), date(2026, 7, 30)), (6, date(2026, 6, 30), date(2026, 10, 8))]
    invoices = [_invoice(n, due, paid) for n, due, paid in book]
    # invoice 4 was disputed, invoice 5 broke a promise (its broken-promise email was logged, and retried once)
    logs = {"in_0004": [_entry("in_0004", 1, "hold_placed", details={"hold": "dispute"})],
            "in_0005": [_entry("in_0005", 1, "email", "broken_promise", "broken_promise_20260710"),
                        _entry("in_0005", 2, "email", "broken_promise", "broken_promise_20260710")]}
    # When each settles
    behaviour = PaymentBehaviour()
    for invoice in invoices:
        settlement = settlement_of(invoice, logs.get(invoice.invoice_id, []))
        assert settlement is not None
        behaviour = behaviour.with_settlement(settlement)
    # Then: 6 paid, 4 of them late (10, 40, 60, 100 days)
    figures = behaviour.figures()
    assert figures["invoices_paid"] == 6 and figures["paid_late"] == 4
    assert figures["share_paid_late_percent"] == str((Decimal(4 * 100) / 6).quantize(Decimal("0.1")))  # 66.7
    # average (0 + 0 + 10 + 40 + 60 + 100) / 6 = 35.0; recent: the newest five by payment date, 0+10+40+60+100 = 42.0
    assert figures["average_days_beyond_terms"] == "35.0"
    assert figures["recent_days_beyond_terms"] == "42.0" and figures["recent_invoices"] == 5
    assert figures["disputed"] == 1 and figures["disputed_share_percent"] == "16.7"  # 1 / 6
    assert figures["broken_promises"] == 1 and figures["broken_payment_plans"] == 0
    # 42.0 - 35.0 = 7 > the 5-day margin: worsening
    assert figures["trend"] == "worsening"
    # And the default policy's band: 35.0 <= 45 is fair; 1 broken promise (< 2) and 16.7% disputed (< 25%) move nothing
    verdict = risk_band(behaviour, RULES)
    assert verdict.band == "fair"
    assert "average 35.0 days beyond terms over 6 paid invoices (fair: up to 45 days)" in verdict.reason


def test_recent_figure_is_a_plain_decimal():
    behaviour = behaviour_from_scratch([Settlement("in_1", date(2026, 1, 1), 3), Settlement("in_2", date(2026, 1, 2), 4)])
    assert behaviour.recent_days_late == Decimal("3.5") and behaviour.trend == "not_enough_history"


def test_modifiers_move_a_band_one_worse_each_and_say_why():
    # Given 4 paid invoices averaging (10 + 20 + 0 + 30) / 4 = 15.0 days (good: up to 15), 2 broken commitments,
    # and 1 of 4 disputed (25%)
    behaviour = behaviour_from_scratch([
        Settlement("in_1", date(2026, 1, 10), 10, broken_promises=1), Settlement("in_2", date(2026, 2, 10), 20, broken_plans=1),
        Settlement("in_3", date(2026, 3, 10), 0, disputed=True), Settlement("in_4", date(2026, 4, 10), 30)])
    # When banded by the default policy
    verdict = risk_band(behaviour, RULES)
    # Then good, moved twice: poor
    assert verdict.band == "poor"
    assert "2 broken promise(s) or payment plan(s) (at least 2): one band worse" in verdict.reason
    assert "25.0% of paid invoices disputed (at least 25%): one band worse" in verdict.reason


def test_no_band_before_the_minimum_history_and_none_in_a_policy_without_rules():
    two = behaviour_from_scratch([Settlement("in_1", date(2026, 1, 10), 200), Settlement("in_2", date(2026, 2, 10), 200)])
    assert risk_band(two, RULES).band is None
    assert risk_band(two, RULES).reason == "2 paid invoice(s); a band needs 3"
    assert risk_band(two.with_settlement(Settlement("in_3", date(2026, 3, 1), 91)), RULES).band == "high_risk"
    assert risk_band(two, RiskRules()).band is None  # a version published before v4 reads back with risk off


def test_band_boundaries_are_exact_and_worsening_is_by_rank():
    # 3 invoices, 45 days on average exactly (135 days) is still fair; 136 days is poor
    at_45 = behaviour_from_scratch([Settlement(f"in_{i}", date(2026, 1, i), 45) for i in (1, 2, 3)])
    assert risk_band(at_45, RULES).band == "fair"
    one_more_day = behaviour_from_scratch([Settlement("in_1", date(2026, 1, 1), 46), *(
        Settlement(f"in_{i}", date(2026, 1, i), 45) for i in (2, 3))])
    assert risk_band(one_more_day, RULES).band == "poor"
    assert band_worsened(RULES, "fair", "poor") and band_worsened(RULES, None, "fair")
    assert not band_worsened(RULES, None, "good")
    assert not band_worsened(RULES, "poor", "fair") and not band_worsened(RULES, "poor", None)


def test_credit_limit_is_the_finance_teams_own_else_the_bands_default():
    assert credit_limit(RULES, "poor", {}, "EUR") == 1_000_000
    assert credit_limit(RULES, "poor", {"EUR": 2_500_000}, "EUR") == 2_500_000
    assert credit_limit(RULES, "good", {}, "EUR") is None and credit_limit(RULES, None, {}, "GBP") is None


def test_voided_and_written_off_invoices_say_nothing_of_paying_and_open_balance_is_per_currency():
    assert settlement_of(_invoice(1, date(2026, 1, 31), date(2026, 2, 3), InvoiceStatus.VOID), []) is None
    owed = [_invoice(2, date(2026, 1, 31), None, InvoiceStatus.OPEN, remaining=50_000),
            _invoice(3, date(2026, 2, 28), None, InvoiceStatus.OPEN, remaining=70_000),
            _invoice(4, date(2026, 2, 28), None, InvoiceStatus.OPEN, remaining=9_900, currency="GBP"),
            _invoice(5, date(2026, 1, 31), date(2026, 2, 1))]
    assert open_balance(owed) == {"EUR": 120_000, "GBP": 9_900}


def test_stored_figures_read_back_equal():
    behaviour = behaviour_from_scratch([Settlement(f"in_{i}", date(2026, 1, i), i * 3, disputed=i == 2) for i in range(1, 9)])
    assert PaymentBehaviour.from_item(behaviour.to_item()) == behaviour
    assert PaymentBehaviour.from_item(None) == PaymentBehaviour()


settlements = st.lists(st.builds(
    Settlement, invoice_id=st.integers(0, 10_000).map(lambda n: f"in_{n}"),
    paid_on=st.dates(date(2025, 1, 1), date(2027, 12, 31)), days_late=st.integers(0, 400), disputed=st.booleans(),
    broken_promises=st.integers(0, 3), broken_plans=st.integers(0, 2)), max_size=3 * RECENT_INVOICES,
    unique_by=lambda s: s.invoice_id)


@settings(max_examples=200, deadline=None)
@given(settlements, st.randoms(use_true_random=False))
def test_figures_updated_one_settlement_at_a_time_equal_figures_recomputed_for_any_order(book, random):
    # Given any paid invoices, settling in any order
    order = list(book)
    random.shuffle(order)
    # When the figures are updated as each settles
    incremental = PaymentBehaviour()
    for settlement in order:
        incremental = incremental.with_settlement(settlement)
    # Then they equal the figures recomputed over all of them, and so do the band and the shown figures
    assert incremental == behaviour_from_scratch(book)
    assert incremental.figures() == behaviour_from_scratch(book).figures()
    assert risk_band(incremental, RULES) == risk_band(behaviour_from_scratch(book), RULES)


class _Logs:
    def __init__(self, entries: dict[str, list[ContactEntry]]) -> None:
        self._entries = entries

    def entries(self, invoice_id: str) -> list[ContactEntry]:
        return self._entries.get(invoice_id, [])


paid_invoices = st.lists(st.tuples(st.dates(date(2025, 1, 1), date(2026, 6, 30)), st.integers(-20, 200), st.booleans()),
                         max_size=12)


@settings(max_examples=150, deadline=None)
@given(paid_invoices, st.lists(st.integers(0, 11), max_size=6), st.randoms(use_true_random=False))
def test_figures_counted_as_each_settlement_is_applied_equal_figures_from_scratch(book, redelivered, random):
    # Given Acme's invoices, each paid `offset` days after its due date (negative: early), some disputed
    invoices = [_invoice(n, due, due + timedelta(days=offset)) for n, (due, offset, _) in enumerate(book)]
    logs = _Logs({f"in_{n:04d}": [_entry(f"in_{n:04d}", 1, "hold_placed", details={"hold": "dispute"})]
                  for n, (_, _, disputed) in enumerate(book) if disputed})
    # When their settlements are applied one at a time, in any order, some delivered again (a retried webhook)
    deliveries = invoices + [invoices[i] for i in redelivered if i < len(invoices)]
    random.shuffle(deliveries)
    store = MemoryStore()
    counted = [record_settlement(invoice, store, logs) for invoice in deliveries]
    # Then each invoice counted once, and the stored figures equal those recomputed over all of them at once
    assert sum(counted) == len(invoices)
    stored = PaymentBehaviour.from_item(store.payment_behaviour("cus_acme"))
    assert stored == behaviour_from_scratch(settlement_of(i, logs.entries(i.invoice_id)) for i in invoices)  # type: ignore[misc]
    # And the sums are the book's own arithmetic: days beyond terms are the late days only
    assert stored.days_late_total == sum(max(0, offset) for _, offset, _ in book)
    assert stored.paid_late == sum(1 for _, offset, _ in book if offset > 0)
    assert stored.disputed == sum(1 for *_, disputed in book if disputed)


def test_risk_rules_refuse_unknown_bands_and_unordered_limits():
    with pytest.raises(ValueError, match="unknown risk bands"):
        RiskRules(enabled=True, segments={"awful": "watch"})
    with pytest.raises(ValueError, match="best first"):
        RiskRules(enabled=True, bands=({"band": "a", "up_to_days": 30}, {"band": "b", "up_to_days": 10}, {"band": "c"}))
