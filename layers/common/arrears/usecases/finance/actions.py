"""What the finance team does to an invoice or a customer besides holds (those are `arrears.domain.holds`).

Each action is recorded in the invoice's contact log with the person (IAM principal) who took it;
an action that does not fit the invoice's state is refused with a machine-readable code and
changes nothing.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from arrears.domain.clock import to_iso_z
from arrears.domain.dunning import collection_segment
from arrears.domain.holds import ActionRefused
from arrears.domain.models import Customer, Invoice
from arrears.domain.ports import ContactLog, InvoiceStore, PolicyRepository, WorkflowStarter
from arrears.domain.phone import InvalidPhone, phone_from_finance
from arrears.domain.tasks import close_tasks_of_settled_invoice

# Customer fields the finance team may set over the billing platform's values.
CUSTOMER_SETTINGS = ("email", "escalation_email", "language", "timezone", "segment", "policy_id", "account_owner", "phone",
                     "credit_limits")


def invalid_field(field: str, message: str) -> ActionRefused:
    """A 422 naming the request's field (as a schema error does), for a value only the domain can judge."""
    return ActionRefused("invalid_field", f"{field}: {message}",
                         details=[{"loc": ["body", field], "msg": message, "type": "value_error"}])


def _open_invoice(invoice_id: str, store: InvoiceStore) -> Invoice:
    invoice = store.get_invoice(invoice_id)
    if invoice is None:
        raise ActionRefused("unknown_invoice", f"no invoice {invoice_id}")
    if invoice.is_settled:
        raise ActionRefused("invoice_closed", f"invoice {invoice_id} is closed ({invoice.status.value})")
    return invoice


def add_note(invoice_id: str, text: str, actor: str, store: InvoiceStore, log: ContactLog, now: datetime) -> int:
    """A note for the record (a call, an email from the debtor): any invoice, open or closed. Its log seq."""
    invoice = store.get_invoice(invoice_id)
    if invoice is None:
        raise ActionRefused("unknown_invoice", f"no invoice {invoice_id}")
    return log.append(invoice_id, invoice.customer_id, now, kind="note", actor=actor, details={"text": text}).seq


def write_off(invoice_id: str, reason: str, actor: str, store: Any, log: ContactLog, workflows: WorkflowStarter,
              now: datetime) -> None:
    """Stop collecting for good: the invoice is closed as uncollectible and its workflow stopped.
    (The billing platform is not told; mark it uncollectible there too.)"""
    invoice = _open_invoice(invoice_id, store)
    if not store.write_off(invoice_id, now):
        raise ActionRefused("invoice_closed", f"invoice {invoice_id} closed meanwhile")
    log.append(invoice_id, invoice.customer_id, now, kind="written_off", actor=actor,
               details={"reason": reason, "balance": invoice.amount_remaining, "currency": invoice.currency})
    workflows.stop(invoice_id, "written off")
    store.save_progress(invoice_id, None, None, closed=True)
    close_tasks_of_settled_invoice(invoice, "written off", actor, store, log, now)


def complete_task(task_id: str, note: str, actor: str, store: Any, log: ContactLog, now: datetime) -> dict[str, Any]:
    """A person did what a task asked (posted the letter, made the call, filed the claim): the task closes and
    the invoice's log records who did it and when (for a posted letter, the day it really went out)."""
    closed = store.close_task(task_id, now, actor, note)
    if closed is None:
        existing = store.task(task_id)
        if existing is None:
            raise ActionRefused("unknown_task", f"no task {task_id}")
        raise ActionRefused("task_closed", f"task {task_id} was done at {existing.get('closed_at')} by {existing.get('closed_by')}")
    invoice = store.get_invoice(closed["invoice_id"])
    if invoice is not None:
        log.append(invoice.invoice_id, invoice.customer_id, now, kind="task_done", actor=actor,
                   step_id=closed["details"].get("step_id"),
                   details={"task_id": task_id, "task": closed["kind"], "note": note, "opened_for": closed["due_at"]})
    return closed


def skip_step(invoice_id: str, step_id: str, reason: str, actor: str, store: InvoiceStore, log: ContactLog,
              policies: PolicyRepository, now: datetime) -> None:
    """Leave one pending step out (e.g. no call this time). The workflow, waking for it, finds it done."""
    invoice = _open_invoice(invoice_id, store)
    if invoice.policy_id is None or invoice.policy_version is None:
        raise ActionRefused("collection_not_started", f"invoice {invoice_id} has no collection yet")
    customer = store.get_customer(invoice.customer_id)
    policy = policies.get(invoice.policy_id, invoice.policy_version)
    steps = {step.id: step for step in policy.segment_for(collection_segment(invoice, customer, policy)).steps}
    if step_id not in steps:
        raise ActionRefused("unknown_step", f"policy {policy.policy_id} v{policy.version} has no step {step_id!r} "
                                            f"for this customer; its steps: {', '.join(steps)}")
    if step_id in invoice.completed_steps or not store.claim_step(invoice_id, step_id, now):
        raise ActionRefused("step_done", f"step {step_id!r} of invoice {invoice_id} is already done")
    log.append(invoice_id, invoice.customer_id, now, kind="step_skipped", actor=actor, step_id=step_id,
               stage=steps[step_id].stage.value, policy_id=policy.policy_id, policy_version=policy.version,
               details={"reason": reason})
    store.save_progress(invoice_id, step_id, None, closed=False)


def update_customer_settings(customer_id: str, changes: dict[str, Any], actor: str, store: Any, log: ContactLog,
                             now: datetime) -> Customer:
    """Set (or, with None, clear) the finance team's own values for a customer's contacts, language,
    timezone, segment, own policy and account owner; they win over the billing platform's until cleared,
    from the next contact on (a new policy or segment from the customer's next invoice: an invoice keeps the
    policy version and segment it started on).
    Recorded in the log of each of the customer's open invoices."""
    customer = store.get_customer(customer_id)
    if customer is None:
        raise ActionRefused("unknown_customer", f"no customer {customer_id}")
    unknown = sorted(set(changes) - set(CUSTOMER_SETTINGS))
    if unknown:
        raise ActionRefused("invalid_field", f"cannot set {', '.join(unknown)}; settable: {', '.join(CUSTOMER_SETTINGS)}")
    if changes.get("phone") is not None:
        try:
            changes = {**changes, "phone": phone_from_finance(changes["phone"])}
        except InvalidPhone as invalid:
            raise invalid_field("phone", str(invalid)) from None
    settings = {**store.customer_settings(customer_id), **changes}
    settings = {name: value for name, value in settings.items() if value not in (None, {})}
    # Validate the merged customer before writing anything (an unknown timezone, a bad address).
    merged = customer.model_copy(update={name: value for name, value in changes.items()
                                         if value is not None and name in Customer.model_fields})
    Customer.model_validate(merged.model_dump())
    previous = {name: getattr(customer, name, None) for name in changes}
    store.save_customer_settings(customer_id, settings, now, actor)
    for invoice in store.invoices_of(customer_id):
        if not invoice.is_settled:
            # The value each change replaced, so the log keeps what the contact was (a debtor's own edit included).
            details: dict[str, Any] = {"changes": changes, "previous": previous, "at": to_iso_z(now)}
            if "segment" in changes and invoice.segment:
                # An invoice in collection keeps the segment it started in: say so where the change is recorded.
                details["invoice_keeps_segment"] = invoice.segment
            log.append(invoice.invoice_id, customer_id, now, kind="customer_updated", actor=actor, details=details)
    updated = store.get_customer(customer_id)
    assert updated is not None
    return updated
