"""Where a debtor's email can still reach: permanent bounces and complaints, and what follows.

A permanent bounce or a complaint marks the address undeliverable for that
customer (kept apart from the billing platform's customer record, so a later
customer update cannot quietly revive it) and opens a task for a person. The
next contact goes to the customer's escalation contact, or, with none, is
blocked with a task rather than sent into the void.
"""

from __future__ import annotations

from datetime import datetime
from email.utils import parseaddr

from arrears.clock import Clock, parse_iso
from arrears.models import Customer
from arrears.ports import ContactLog, InvoiceStore


def is_undeliverable_event(event_type: str, details: dict) -> bool:
    """A permanent bounce or a complaint; a transient bounce (mailbox full) is not."""
    return event_type == "Complaint" or (event_type == "Bounce" and details.get("bounce_type") == "Permanent")


def mark_undeliverable(invoice_id: str, customer_id: str, addresses: list[str], reason: str, store: InvoiceStore,
                       now: datetime) -> str:
    for address in addresses:
        # SES may name a recipient as "Name <address>": only the address itself counts.
        store.mark_undeliverable(customer_id, parseaddr(address)[1] or address, reason, now)
    return store.open_task(invoice_id, "fix_debtor_email", now, {
        "customer_id": customer_id, "addresses": addresses, "reason": reason})


def deliverable_recipient(customer: Customer, undeliverable: set[str]) -> str | None:
    """The billing email if it still reaches, else the escalation contact if that does, else None."""
    for address in (customer.email, customer.escalation_email):
        if address and address.strip().lower() not in undeliverable:
            return address
    return None


def apply_ses_event(event, index, store: InvoiceStore, log: ContactLog, clock: Clock) -> str:
    """Record an SES event in its email's log, and act on an undeliverable address. The marking comes
    first and is idempotent (its task is keyed on SES's own event time), so a retry that finds the
    event already recorded has not skipped it."""
    from arrears.audit.ses_events import record_ses_event

    if is_undeliverable_event(event.event_type, event.details):
        ref = index.find(event.message_id)
        if ref is not None:
            mark_undeliverable(ref.invoice_id, ref.customer_id, list(event.recipients),
                               f"{event.event_type.lower()} of {event.message_id}", store, parse_iso(event.occurred_at))
    return record_ses_event(event, index, log, clock)
