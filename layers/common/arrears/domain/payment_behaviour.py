"""How a customer pays (issue #20), pure: figures kept up to date one settled invoice at a time.

Each paid invoice contributes one `Settlement` (days beyond terms, whether it was disputed, the promises and
payment plans it broke, read from its own contact log) exactly once, when it settles; `PaymentBehaviour` is
the running sum of those contributions. The sums commute, and the "recent" invoices are the newest by payment
date (ties by invoice id), so the figures are the same whatever order the settlements arrive in: equal to
`behaviour_from_scratch` over the same settlements (tests/unit/test_payment_behaviour.py holds it to that).

The open balance per currency is not history: it is read from the customer's open invoices when shown.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Callable, Protocol

from arrears.domain.models import ContactEntry, Invoice, InvoiceStatus
from arrears.domain.ports import ContactLog

# How many of the newest paid invoices "recent" covers, and how far their average must move from the whole
# history's (days beyond terms) before the trend says worsening or improving.
RECENT_INVOICES = 5
TREND_MARGIN_DAYS = 5
_BROKEN_TEMPLATES = {"broken_promise": "broken_promises", "broken_payment_plan": "broken_plans"}


@dataclass(frozen=True)
class Settlement:
    """What one paid invoice says about its customer, counted once when it settles."""

    invoice_id: str
    paid_on: date
    days_late: int  # whole days beyond the due date (terms); 0 when paid on time or early
    disputed: bool = False
    broken_promises: int = 0
    broken_plans: int = 0


def days_beyond_terms(due_on: date, paid_on: date) -> int:
    return max(0, (paid_on - due_on).days)


def settlement_of(invoice: Invoice, entries: Sequence[ContactEntry]) -> Settlement | None:
    """The contribution of a paid invoice (None for one open, voided or written off: it says nothing of paying).
    Paid when the platform settled it (`closed_at`); disputes and broken promises and plans from its log."""
    if not invoice.is_settled or invoice.status not in (InvoiceStatus.PAID, InvoiceStatus.OPEN):
        return None
    paid_at = invoice.closed_at or invoice.provider_updated_at
    broken: dict[str, set[str]] = {"broken_promises": set(), "broken_plans": set()}
    for entry in entries:
        if entry.template in _BROKEN_TEMPLATES and entry.step_id:
            broken[_BROKEN_TEMPLATES[entry.template]].add(entry.step_id)
    disputed = any(e.kind == "hold_placed" and e.details.get("hold") == "dispute" for e in entries)
    return Settlement(invoice.invoice_id, paid_at.date(), days_beyond_terms(invoice.due_at.date(), paid_at.date()),
                      disputed, len(broken["broken_promises"]), len(broken["broken_plans"]))


def _ratio(part: int, whole: int, places: str = "0.1") -> Decimal | None:
    return (Decimal(part) / Decimal(whole)).quantize(Decimal(places), rounding=ROUND_HALF_UP) if whole else None


@dataclass(frozen=True)
class PaymentBehaviour:
    """A customer's paid invoices, summed. Shares and averages are derived (exact integers are stored)."""

    invoices_paid: int = 0
    paid_late: int = 0
    days_late_total: int = 0
    disputed: int = 0
    broken_promises: int = 0
    broken_plans: int = 0
    # The newest paid invoices, newest first: (paid on, invoice id, days beyond terms).
    recent: tuple[tuple[str, str, int], ...] = ()

    def with_settlement(self, settlement: Settlement) -> PaymentBehaviour:
        newest = sorted({*self.recent, (settlement.paid_on.isoformat(), settlement.invoice_id, settlement.days_late)},
                        reverse=True)
        return replace(self, invoices_paid=self.invoices_paid + 1, paid_late=self.paid_late + (settlement.days_late > 0),
                       days_late_total=self.days_late_total + settlement.days_late,
                       disputed=self.disputed + settlement.disputed,
                       broken_promises=self.broken_promises + settlement.broken_promises,
                       broken_plans=self.broken_plans + settlement.broken_plans,
                       recent=tuple(newest[:RECENT_INVOICES]))

    @property
    def share_paid_late(self) -> Decimal | None:
        """Percent of paid invoices paid after their due date (one decimal)."""
        return _ratio(100 * self.paid_late, self.invoices_paid)

    @property
    def disputed_share(self) -> Decimal | None:
        return _ratio(100 * self.disputed, self.invoices_paid)

    @property
    def average_days_late(self) -> Decimal | None:
        """Average days beyond terms over every paid invoice (on-time ones count as 0)."""
        return _ratio(self.days_late_total, self.invoices_paid)

    @property
    def recent_days_late(self) -> Decimal | None:
        return _ratio(sum(days for _, _, days in self.recent), len(self.recent))

    @property
    def broken_commitments(self) -> int:
        return self.broken_promises + self.broken_plans

    @property
    def trend(self) -> str:
        """worsening / improving / steady: the recent invoices' average against the whole history's, once there
        is more history than the recent invoices (`not_enough_history` until then)."""
        if self.invoices_paid <= RECENT_INVOICES:
            return "not_enough_history"
        recent, overall = self.recent_days_late, self.average_days_late
        assert recent is not None and overall is not None
        if recent > overall + TREND_MARGIN_DAYS:
            return "worsening"
        if recent < overall - TREND_MARGIN_DAYS:
            return "improving"
        return "steady"

    def figures(self) -> dict[str, Any]:
        """As the finance API shows them (JSON values)."""
        def text(value: Decimal | None) -> str | None:
            return None if value is None else str(value)

        return {"invoices_paid": self.invoices_paid, "paid_late": self.paid_late,
                "share_paid_late_percent": text(self.share_paid_late),
                "average_days_beyond_terms": text(self.average_days_late),
                "recent_days_beyond_terms": text(self.recent_days_late), "recent_invoices": len(self.recent),
                "disputed": self.disputed, "disputed_share_percent": text(self.disputed_share),
                "broken_promises": self.broken_promises, "broken_payment_plans": self.broken_plans, "trend": self.trend}

    def to_item(self) -> dict[str, Any]:
        return {"invoices_paid": self.invoices_paid, "paid_late": self.paid_late, "days_late_total": self.days_late_total,
                "disputed": self.disputed, "broken_promises": self.broken_promises, "broken_plans": self.broken_plans,
                "recent": [list(r) for r in self.recent]}

    @classmethod
    def from_item(cls, item: dict[str, Any] | None) -> PaymentBehaviour:
        if not item:
            return cls()
        return cls(**{name: int(item.get(name, 0)) for name in (
            "invoices_paid", "paid_late", "days_late_total", "disputed", "broken_promises", "broken_plans")},
                   recent=tuple((str(on), str(invoice), int(days)) for on, invoice, days in item.get("recent", ())))


def behaviour_from_scratch(settlements: Iterable[Settlement]) -> PaymentBehaviour:
    """The figures recomputed over every paid invoice at once (what the incremental figures must equal)."""
    every = list(settlements)
    newest = sorted(((s.paid_on.isoformat(), s.invoice_id, s.days_late) for s in every), reverse=True)
    return PaymentBehaviour(
        invoices_paid=len(every), paid_late=sum(1 for s in every if s.days_late > 0),
        days_late_total=sum(s.days_late for s in every), disputed=sum(1 for s in every if s.disputed),
        broken_promises=sum(s.broken_promises for s in every), broken_plans=sum(s.broken_plans for s in every),
        recent=tuple(newest[:RECENT_INVOICES]))


def open_balance(invoices: Iterable[Invoice]) -> dict[str, int]:
    """What the customer owes now, per currency (minor units): its exposure."""
    owed: dict[str, int] = {}
    for invoice in invoices:
        if not invoice.is_settled:
            owed[invoice.currency] = owed.get(invoice.currency, 0) + invoice.amount_remaining
    return dict(sorted(owed.items()))


class BehaviourStore(Protocol):
    """The customer's behaviour item (CUSTOMER#id / BEHAVIOUR) and the finance team's own customer settings."""

    def payment_behaviour(self, customer_id: str) -> dict[str, Any] | None:
        """The stored figures (PaymentBehaviour.to_item) with `band`, `band_reason`, `band_at`; None before any."""
        ...

    def count_settlement(self, customer_id: str, invoice_id: str,
                         update: Callable[[dict[str, Any] | None], dict[str, Any]]) -> bool:
        """Write the figures `update` makes of the stored ones and mark the invoice counted, atomically, unless it
        was counted before (False)."""
        ...

    def save_risk_band(self, customer_id: str, band: str | None, reason: str, at: Any, expected: str | None) -> bool:
        """Record the band if the stored one is still `expected`: True for the one caller that changes it."""
        ...

    def customer_settings(self, customer_id: str) -> dict[str, Any]:
        """The finance team's own values for the customer (segment, credit_limits...)."""
        ...


def record_settlement(invoice: Invoice, store: BehaviourStore, log: ContactLog) -> bool:
    """Count a settled invoice in its customer's figures, once (a retried webhook, a replayed event: False)."""
    settlement = settlement_of(invoice, log.entries(invoice.invoice_id))
    if settlement is None:
        return False
    return store.count_settlement(invoice.customer_id, invoice.invoice_id,
                                  lambda stored: PaymentBehaviour.from_item(stored).with_settlement(settlement).to_item())
