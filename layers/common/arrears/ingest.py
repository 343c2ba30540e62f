"""Applying what a billing platform says to the store and the workflows (domain).

Deliveries arrive at least once and in any order: a terminal state (paid, void,
uncollectible) is never left, older facts never overwrite newer ones, and the
workflow is started once (its execution is named after the invoice).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import Enum

from arrears.models import Customer, Invoice
from arrears.ports import ContactLog, InvoiceStore, WorkflowStarter


class UpdateKind(str, Enum):
    OPENED = "opened"
    PAID = "paid"
    VOIDED = "voided"
    UNCOLLECTIBLE = "uncollectible"


@dataclass(frozen=True)
class InvoiceUpdate:
    event_id: str
    event_type: str
    kind: UpdateKind
    occurred_at: datetime
    invoice: Invoice
    customer: Customer


_LOG_KIND = {UpdateKind.PAID: "payment", UpdateKind.VOIDED: "voided", UpdateKind.UNCOLLECTIBLE: "marked_uncollectible"}


def apply_invoice_update(update: InvoiceUpdate, store: InvoiceStore, log: ContactLog, workflows: WorkflowStarter, now: datetime) -> str:
    """Apply one update; returns what happened (for the response and the logs)."""
    invoice = update.invoice
    actor = f"{invoice.provider} webhook {update.event_id}"
    store.save_customer(update.customer)
    before = store.get_invoice(invoice.invoice_id)
    if before is not None and before.status.value != "open":
        return "ignored: invoice already closed"
    if not store.save_invoice_facts(invoice):
        return "ignored: newer facts already stored"
    details = {"event_type": update.event_type, "balance": invoice.amount_remaining, "currency": invoice.currency}
    if update.kind is UpdateKind.OPENED:
        if before is None:
            log.append(invoice.invoice_id, invoice.customer_id, now, kind="invoice_opened", actor=actor,
                       details={**details, "number": invoice.number, "due_at": invoice.due_at.isoformat()})
        execution_arn = workflows.start(invoice.invoice_id)
        return "started" if execution_arn else "updated"
    log.append(invoice.invoice_id, invoice.customer_id, now, kind=_LOG_KIND[update.kind], actor=actor,
               details={**details, "amount_paid": invoice.amount_paid})
    if before is not None:
        workflows.stop(invoice.invoice_id, f"invoice {update.kind.value}")
    return f"closed: {update.kind.value}"
