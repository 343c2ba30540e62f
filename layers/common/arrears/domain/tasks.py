"""Tasks for people, and the rule that none outlives its reason (domain).

A task (a call to make, a letter to post, a referral to review...) is opened for one invoice. Once that
invoice is settled (paid, void, written off, uncollectible, or nothing left to pay), its open tasks
close, each with a contact-log entry saying why, so nobody calls a debtor who has paid. A task about the
customer as a whole (an insolvency claim, a debtor address to fix) stays open while another invoice of
that customer is still owed. A review of a customer whose risk band worsened is about its future credit, not a
debt: no settlement closes it (it is often opened by the very settlement that worsened the band).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol

from arrears.domain.clock import to_iso_z
from arrears.domain.models import TERMINAL_STATUSES, Invoice
from arrears.domain.ports import ContactLog, InvoiceStore

# Tasks about the customer, not only about the invoice they were opened on.
CUSTOMER_TASKS = frozenset({"file_insolvency_claim", "fix_debtor_email", "review_credit_limit"})
# A customer whose risk band worsened: a person reviews its credit limit and terms (arrears.domain.risk).
REVIEW_RISK_BAND = "review_risk_band"
# Tasks no settlement closes: only a person does.
KEPT_THROUGH_SETTLEMENT = frozenset({REVIEW_RISK_BAND})
# A task's status when it closed because its invoice settled (a person's own "done" is "done").
SETTLED = "obsolete"


class TaskStore(InvoiceStore, Protocol):
    def open_tasks_of(self, invoice_id: str) -> list[dict[str, Any]]:
        """The open tasks opened for one invoice (a key query, never a Scan)."""
        ...

    def close_task(self, task_id: str, at: datetime, actor: str, note: str, status: str = "done") -> dict[str, Any] | None:
        """Close an open task; the closed task, or None when it was not open."""
        ...


def settlement_reason(invoice: Invoice) -> str:
    """Why a settled invoice needs no more collecting, as the log says it: paid, void or uncollectible."""
    return invoice.status.value if invoice.status in TERMINAL_STATUSES else "paid"


def close_tasks_of_settled_invoice(invoice: Invoice, reason: str, actor: str, store: TaskStore, log: ContactLog,
                                   now: datetime) -> list[str]:
    """Close every open task of a settled invoice (`reason`: paid, void, uncollectible, written off) but those
    kept through settlement, each with a `task_closed` entry in its log. Idempotent: a task already closed is left alone. The closed task ids."""
    tasks = store.open_tasks_of(invoice.invoice_id)
    if not tasks:
        return []
    others_owed: bool | None = None
    closed: list[str] = []
    for task in sorted(tasks, key=lambda t: t["task_id"]):
        if task["kind"] in KEPT_THROUGH_SETTLEMENT:
            continue
        if task["kind"] in CUSTOMER_TASKS:
            if others_owed is None:
                others_owed = any(other.invoice_id != invoice.invoice_id and not other.is_settled
                                  for other in store.invoices_of(invoice.customer_id))
            if others_owed:
                continue  # still needed for the customer's other invoices
        note = f"closed: invoice {reason}"
        if store.close_task(task["task_id"], now, actor, note, status=SETTLED) is None:
            continue  # closed meanwhile (by a person, or a retried settlement)
        log.append(invoice.invoice_id, invoice.customer_id, now, kind="task_closed", actor=actor,
                   step_id=task["details"].get("step_id"),
                   details={"task_id": task["task_id"], "task": task["kind"], "reason": f"the invoice was {reason}",
                            "opened_for": _iso(task["due_at"])})
        closed.append(task["task_id"])
    return closed


def _iso(value: Any) -> str:
    return to_iso_z(value) if isinstance(value, datetime) else str(value)
