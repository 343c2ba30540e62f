"""Collections reports: aging, DSO, collection effectiveness (CEI), days to collect, stages.

Pure functions over invoice records, one figure set per currency (sums in different currencies are
never added). Definitions (as finance teams use them):
- receivable at t: the unpaid balance of a non-void invoice issued at or before t and not closed by t;
  beginning receivables count only invoices issued before the period (one issued at its first instant
  is a credit sale of the period).
  Partial payments count from the invoice's issue date: their dates live in the contact log, which
  these reports do not read.
- credit sales in [from, to): amount due of non-void invoices issued in the period.
- DSO = ending receivables / credit sales x days in the period.
- CEI = (BR + S - ER) / (BR + S - ECR) x 100, with BR/ER the receivables at the start/end, S the
  credit sales and ECR the ending receivables not yet due.
- days to collect: calendar days (UTC) from issue to payment, so a daylight-saving change costs no day.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from decimal import ROUND_HALF_UP, Decimal
from typing import Callable, Iterable

from arrears.usecases.finance.views import AgingBucket, aging_bucket, current_stage
from arrears.domain.models import Invoice, InvoiceStatus
from arrears.domain.policy import Policy


def receivable_at(invoice: Invoice, moment: datetime) -> int:
    if invoice.status is InvoiceStatus.VOID or invoice.issued_at > moment:
        return 0
    if invoice.closed_at is not None and invoice.closed_at <= moment:
        return 0
    if invoice.status is InvoiceStatus.OPEN:
        return invoice.amount_remaining
    return invoice.amount_due  # closed later than `moment`: it was still owed then


def aging(invoices: Iterable[Invoice], as_of: datetime) -> dict[str, dict[str, dict[str, int]]]:
    """Per currency, per bucket: how many invoices and how much is owed (minor units) on `as_of`."""
    report: dict[str, dict[str, dict[str, int]]] = {}
    for invoice in invoices:
        balance = receivable_at(invoice, as_of)
        if balance <= 0:
            continue
        buckets = report.setdefault(invoice.currency, {b.value: {"count": 0, "amount": 0} for b in AgingBucket})
        cell = buckets[aging_bucket(invoice, as_of).value]
        cell["count"] += 1
        cell["amount"] += balance
    return report


@dataclass
class CurrencyFigures:
    currency: str
    beginning_receivables: int = 0
    credit_sales: int = 0
    ending_receivables: int = 0
    ending_current_receivables: int = 0
    days: int = 0
    dso_days: Decimal | None = None
    cei_percent: Decimal | None = None
    collected_count: int = 0
    average_days_to_collect: Decimal | None = None
    average_days_late_at_payment: Decimal | None = None
    _to_collect: list[int] = field(default_factory=list, repr=False)
    _late: list[int] = field(default_factory=list, repr=False)


def _two_places(value: Decimal) -> Decimal:
    return value.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def _day(moment: datetime) -> date:
    return moment.astimezone(timezone.utc).date()


def collection_figures(invoices: Iterable[Invoice], start: datetime, end: datetime) -> dict[str, CurrencyFigures]:
    """DSO, CEI and days to collect over [start, end), per currency."""
    if end <= start:
        raise ValueError("the period must end after it starts")
    figures: dict[str, CurrencyFigures] = {}
    days = (end - start).days or 1
    for invoice in invoices:
        if invoice.status is InvoiceStatus.VOID:
            continue
        f = figures.setdefault(invoice.currency, CurrencyFigures(invoice.currency, days=days))
        if invoice.issued_at < start:  # one issued at the period's first instant is a sale of the period, not both
            f.beginning_receivables += receivable_at(invoice, start)
        ending = receivable_at(invoice, end)
        f.ending_receivables += ending
        if invoice.due_at >= end:
            f.ending_current_receivables += ending
        if start <= invoice.issued_at < end:
            f.credit_sales += invoice.amount_due
        if invoice.status is InvoiceStatus.PAID and invoice.closed_at is not None and start <= invoice.closed_at < end:
            # Calendar days, not 24-hour periods: a spring daylight-saving change must not cost a day.
            f._to_collect.append((_day(invoice.closed_at) - _day(invoice.issued_at)).days)
            f._late.append(max(0, (_day(invoice.closed_at) - _day(invoice.due_at)).days))
    for f in figures.values():
        if f.credit_sales:
            f.dso_days = _two_places(Decimal(f.ending_receivables) / Decimal(f.credit_sales) * f.days)
        collectible = f.beginning_receivables + f.credit_sales - f.ending_current_receivables
        if collectible:
            f.cei_percent = _two_places(
                Decimal(f.beginning_receivables + f.credit_sales - f.ending_receivables) / Decimal(collectible) * 100)
        f.collected_count = len(f._to_collect)
        if f._to_collect:
            f.average_days_to_collect = _two_places(Decimal(sum(f._to_collect)) / len(f._to_collect))
            f.average_days_late_at_payment = _two_places(Decimal(sum(f._late)) / len(f._late))
    return figures


def stage_outcomes(invoices: Iterable[Invoice], start: datetime, end: datetime,
                   policy_of: Callable[[Invoice], Policy | None]) -> dict[str, dict[str, int]]:
    """Per stage: policy steps done on the book's invoices (contacts and their tasks), and the invoices
    paid in [start, end) whose furthest stage it was, with the sums recovered (per currency)."""
    report: dict[str, dict[str, int]] = defaultdict(lambda: {"steps_done": 0, "recovered_count": 0})
    recovered: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for invoice in invoices:
        policy = policy_of(invoice)
        if policy is None:
            continue
        stages = {step.id: step.stage.value for segment in policy.segments.values() for step in segment.steps}
        for step_id in invoice.completed_steps:
            if step_id in stages:
                report[stages[step_id]]["steps_done"] += 1
        if invoice.status is InvoiceStatus.PAID and invoice.closed_at is not None and start <= invoice.closed_at < end:
            stage = current_stage(invoice, policy)
            name = stage.value if stage else "before_first_contact"
            report[name]["recovered_count"] += 1
            recovered[name][invoice.currency] += invoice.amount_paid or invoice.amount_due
    return {stage: {**counts, "recovered": dict(recovered.get(stage, {}))} for stage, counts in report.items()}
