"""Where a debtor's email can still reach: permanent bounces and complaints, and what follows.

A permanent bounce or a complaint marks the address undeliverable for that
customer (kept apart from the billing platform's customer record, so a later
customer update cannot quietly revive it) and opens a task for a person. The
next contact goes to the customer's escalation contact. With none, it goes by
post when the policy says so (`undeliverable.fallback: letter`, the default)
and the postal address is complete: the step's message as a PDF letter, stored
like any letter, and a `post_letter` task for the person who prints and posts
it. Otherwise it is blocked with a task rather than sent into the void.
"""

from __future__ import annotations

from datetime import datetime
from email.utils import parseaddr
from typing import TYPE_CHECKING, Any, Callable

from arrears.domain.clock import Clock, parse_iso
from arrears.domain.debtor_data import email_problem, usable_email
from arrears.domain.models import Artefact, Customer, Invoice
from arrears.domain.policy import Policy
from arrears.domain.ports import ContactLog, InvoiceStore, Ports

if TYPE_CHECKING:
    from arrears.domain.notices import NoticeContext


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
    """The billing email if it still reaches, else the escalation contact if that does, else None.
    An address that is not one plain, valid address (arrears.domain.debtor_data) never reaches anyone."""
    for address in (customer.email, customer.escalation_email):
        usable = usable_email(address) if address else None
        if usable and address.strip().lower() not in undeliverable and usable.lower() not in undeliverable:
            return usable
    return None


def unusable_emails(customer: Customer) -> list[tuple[str, str, str]]:
    """(field, address, why) of each address the customer's record gives that cannot be mailed at all."""
    fields = (("email", customer.email), ("escalation_email", customer.escalation_email))
    return [(field, address, problem) for field, address in fields
            if address.strip() and (problem := email_problem(address)) is not None]


def unreachable_by_email(customer: Customer, policy: Policy) -> str | None:
    """Why a contact for which no email address is left cannot go by post either; None when it can
    (the policy sends letters instead and the postal address is complete)."""
    reason = (f"the billing email of {customer.name} no longer reaches them (bounced, complained or not a valid address) "
              "and there is no usable escalation contact")
    if policy.undeliverable.fallback != "letter":
        return f"{reason}; the policy sends no letter instead"
    if not customer.address.is_complete():
        return f"{reason}, and no letter either: the postal address is incomplete"
    return None


def letter_by_post(notice: NoticeContext, invoice: Invoice, customer: Customer, step_id: str, ports: Ports,
                   artefacts: tuple[Artefact, ...], claim_details: dict[str, Any]) -> Callable[[Ports, Any], dict[str, Any]]:
    """The step's message as a letter a person posts, rendered and stored now; the delivery (called once the
    step is claimed) opens the `post_letter` task and returns the contact's log fields.

    A letter step's demand letter (among `artefacts`) is itself the letter to post; any other step's
    message becomes a letter of its own (the demand letter layout for a formal or final notice, the
    reminder layout otherwise)."""
    # The email's subject names the contact in the log; rendering it first also runs the email's checks,
    # so a message that could not have been emailed is not posted either.
    subject = ports.renderer.email(notice).subject
    letter = next((artefact for artefact in artefacts if artefact.kind == "letter"), None)
    if letter is None:
        pdf = ports.renderer.posted_letter(notice)
        letter = ports.artefacts.put(f"letters/{invoice.invoice_id}/{step_id}.pdf", pdf, "application/pdf", "letter")
        artefacts = (*artefacts, letter)
    postal_address = [notice.debtor_name, *notice.debtor_address_lines]

    def post(ports: Ports, sends: Any) -> dict[str, Any]:
        # Due when the step was first claimed (`sends.at`): a retry after a crash opens the same task, not a second.
        task_id = ports.store.open_task(invoice.invoice_id, "post_letter", sends.at, {
            "letter": letter.uri, "sha256": letter.sha256, "postal_address": postal_address,
            "customer_id": customer.customer_id, "reference": notice.reference, "step_id": step_id,
            "reason": "no email address of the debtor reaches them"})
        return {"kind": "letter", "channel": "letter", "recipient": ", ".join(postal_address), "subject": subject,
                "artefacts": artefacts,
                "details": {**claim_details, "delivery": "post", "postal_address": postal_address, "task_id": task_id}}

    return post


def apply_ses_event(event, index, store: InvoiceStore, log: ContactLog, clock: Clock) -> str:
    """Record an SES event in its email's log, and act on an undeliverable address. The marking comes
    first and is idempotent (its task is keyed on SES's own event time), so a retry that finds the
    event already recorded has not skipped it."""
    from arrears.domain.ses_events import record_ses_event

    if is_undeliverable_event(event.event_type, event.details):
        ref = index.find(event.message_id)
        if ref is not None:
            mark_undeliverable(ref.invoice_id, ref.customer_id, list(event.recipients),
                               f"{event.event_type.lower()} of {event.message_id}", store, parse_iso(event.occurred_at))
    return record_ses_event(event, index, log, clock)
