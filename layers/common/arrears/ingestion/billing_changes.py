"""Applying what a billing platform says to the store and the workflows (domain).

Deliveries arrive at least once, late, and in any order. The rules:
- a terminal state (paid, void, uncollectible) is never left;
- an invoice snapshot is written only if it is not older than the stored one (the
  platform's own timestamp is the version; a conditional write in the store);
- a duplicate changes nothing, and so writes no log entry: entries record changes of
  state, not deliveries, so the same facts give the same log whatever the order;
- an event about an invoice (or payment) not seen yet is parked and applied as soon as
  the invoice (or the payment's invoice) arrives, never dropped;
- the workflow is started once (its execution is named after the invoice).

Provider modules (`arrears.ingestion.providers.*`) turn payloads into the changes below; this
module knows no provider.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from enum import Enum
from typing import Any, Protocol, Union

from arrears.domain.clock import parse_iso, to_iso_z
from arrears.domain.models import TERMINAL_STATUSES, Customer, HoldKind, Invoice, InvoiceStatus
from arrears.domain.payment_behaviour import record_settlement
from arrears.domain.ports import ContactLog, InvoiceStore, PolicyRepository, WorkflowStarter
from arrears.domain.risk import band_after_settlement
from arrears.domain.tasks import close_tasks_of_settled_invoice, settlement_reason


class UpdateKind(str, Enum):
    DRAFTED = "drafted"  # a draft: nothing to collect yet; the customer is recorded
    OPENED = "opened"  # finalized, sent or changed: the invoice as the platform now has it
    PAYMENT_FAILED = "payment_failed"  # still open; a payment attempt failed
    PAID = "paid"
    VOIDED = "voided"
    UNCOLLECTIBLE = "uncollectible"
    DELETED = "deleted"  # a draft deleted (only drafts can be): nothing to collect


class CollectedBy(str, Enum):
    """Who is collecting the invoice, as the platform's payload says."""

    ARREARS = "arrears"  # the customer pays an invoice sent to them (send_invoice): Arrears chases it
    PLATFORM = "platform"  # the platform charges the customer's card and is still retrying
    PLATFORM_GAVE_UP = "platform_gave_up"  # card charging failed and the platform stopped retrying


@dataclass(frozen=True)
class InvoiceUpdate:
    """The platform's whole view of one invoice at `occurred_at` (a snapshot)."""

    event_id: str
    event_type: str
    kind: UpdateKind
    occurred_at: datetime
    invoice: Invoice
    customer: Customer
    collected_by: CollectedBy = CollectedBy.ARREARS
    # The platform's payments of this invoice (payment intents, charges): disputes find the invoice by them.
    payment_ids: tuple[str, ...] = ()


@dataclass(frozen=True)
class CustomerUpdate:
    """The platform's customer record changed: contacts from now on use it."""

    event_id: str
    event_type: str
    occurred_at: datetime
    customer: Customer


@dataclass(frozen=True)
class BalanceAdjustment:
    """A credit note: issued, it lowers the invoice's balance by `amount`; voided, it restores it."""

    event_id: str
    event_type: str
    occurred_at: datetime
    provider: str
    invoice_id: str
    adjustment_id: str
    amount: int
    voided: bool = False


@dataclass(frozen=True)
class DisputeUpdate:
    """A payment of an invoice was disputed (`closed` False) or the dispute was resolved (True)."""

    event_id: str
    event_type: str
    occurred_at: datetime
    provider: str
    dispute_id: str
    payment_ids: tuple[str, ...]
    closed: bool
    reason: str = ""


@dataclass(frozen=True)
class PaymentLink:
    """A payment belongs to an invoice (the platform told us separately from the invoice)."""

    event_id: str
    event_type: str
    occurred_at: datetime
    provider: str
    invoice_id: str
    payment_ids: tuple[str, ...]


BillingChange = Union[InvoiceUpdate, CustomerUpdate, BalanceAdjustment, DisputeUpdate, PaymentLink]


class IngestStore(InvoiceStore, Protocol):
    """What ingestion needs of the store beyond the dunning service's InvoiceStore."""

    def save_customer_snapshot(self, customer: Customer) -> bool:
        """A customer as an invoice payload shows it: written unless the customer's own record
        (save_customer) or a newer snapshot is stored."""
        ...

    def save_provider_object(self, key: str, at: datetime, state: str, terminal: bool) -> bool:
        """Latest-wins version of a platform object (a dispute, a credit note): written unless a
        newer version or a terminal one is stored. True when written."""
        ...

    def get_provider_object(self, key: str) -> dict[str, Any] | None: ...

    def link_payment(self, provider: str, payment_id: str, invoice_id: str) -> bool:
        """Remember which invoice a payment belongs to; True when the link is new."""
        ...

    def invoice_of_payment(self, provider: str, payment_id: str) -> str | None: ...

    def park_change(self, subject: str, at: datetime, event_id: str, change: dict[str, Any]) -> None:
        """Keep a change that cannot be applied yet (its invoice is not known)."""
        ...

    def parked_changes(self, subject: str) -> list[tuple[str, dict[str, Any]]]:
        """(parking key, change) of a subject, oldest first."""
        ...

    def unpark_change(self, subject: str, key: str) -> None: ...


_LOG_KIND = {UpdateKind.PAID: "payment", UpdateKind.VOIDED: "voided", UpdateKind.UNCOLLECTIBLE: "marked_uncollectible",
             UpdateKind.DELETED: "voided"}
_STATUS_OF_KIND = {UpdateKind.PAID: InvoiceStatus.PAID, UpdateKind.VOIDED: InvoiceStatus.VOID,
                   UpdateKind.UNCOLLECTIBLE: InvoiceStatus.UNCOLLECTIBLE, UpdateKind.DELETED: InvoiceStatus.VOID}
# Facts whose change an auditor (and the next contact) needs to see.
_TRACKED_FACTS = ("due_at", "amount_due", "amount_remaining", "currency", "customer_id", "number")


def apply_billing_change(change: BillingChange, store: IngestStore, log: ContactLog, workflows: WorkflowStarter,
                         now: datetime, chase_after_platform_retries: bool = False,
                         policies: PolicyRepository | None = None) -> str:
    """Apply one change (once per event id: the caller de-duplicates); returns what happened. With `policies`, an
    invoice this change settles gives its customer's risk band again (arrears.domain.risk.band_after_settlement)."""
    outcome = _apply_billing_change(change, store, log, workflows, now, chase_after_platform_retries)
    if policies is not None and (isinstance(change, InvoiceUpdate) and change.invoice.is_settled or
                                 isinstance(change, BalanceAdjustment) and outcome == "balance lowered"):
        invoice_id = change.invoice.invoice_id if isinstance(change, InvoiceUpdate) else change.invoice_id
        band_after_settlement(store.get_invoice(invoice_id), policies, store, log, now)
    return outcome


def _apply_billing_change(change: BillingChange, store: IngestStore, log: ContactLog, workflows: WorkflowStarter,
                          now: datetime, chase_after_platform_retries: bool) -> str:
    if isinstance(change, InvoiceUpdate):
        return apply_invoice_update(change, store, log, workflows, now, chase_after_platform_retries)
    if isinstance(change, CustomerUpdate):
        written = store.save_customer(change.customer)
        return "customer updated" if written else "ignored: newer customer record already stored"
    if isinstance(change, BalanceAdjustment):
        return _apply_adjustment(change, store, log, workflows, now)
    if isinstance(change, DisputeUpdate):
        return _apply_dispute(change, store, log, workflows, now)
    new_payments = tuple(p for p in change.payment_ids if store.link_payment(change.provider, p, change.invoice_id))
    replayed = _replay_parked(_payment_subjects(change.provider, new_payments), store, log, workflows, now)
    return "payment linked" + (f"; {replayed}" if replayed else "")


def apply_invoice_update(update: InvoiceUpdate, store: IngestStore, log: ContactLog, workflows: WorkflowStarter,
                         now: datetime, chase_after_platform_retries: bool = False) -> str:
    """Apply one invoice snapshot; returns what happened (for the response and the logs)."""
    invoice = update.invoice
    actor = f"{invoice.provider} webhook"
    before = store.get_invoice(invoice.invoice_id)
    if update.kind is UpdateKind.DRAFTED:
        store.save_customer_snapshot(update.customer)
        return "recorded: draft (collection starts when it is finalized)"
    collected = update.collected_by is CollectedBy.ARREARS or (
        update.collected_by is CollectedBy.PLATFORM_GAVE_UP and chase_after_platform_retries)
    if before is None and (not collected or update.kind is UpdateKind.DELETED):
        return "ignored: not collected by Arrears" if not collected else "ignored: a deleted draft"
    store.save_customer_snapshot(update.customer)
    new_payments = tuple(p for p in update.payment_ids if store.link_payment(invoice.provider, p, invoice.invoice_id))
    # A written-off invoice paid after all is a recovery, the one way out of a terminal status.
    recovery = before is not None and before.status is InvoiceStatus.UNCOLLECTIBLE and invoice.status is InvoiceStatus.PAID
    details: dict[str, Any] = {"as_of": to_iso_z(update.occurred_at), "balance": invoice.amount_remaining,
                               "currency": invoice.currency}
    # An attempt of this very event stored its facts, then failed (answered 5xx, so the platform retries): the
    # retry finishes what that attempt left undone, and does nothing twice (docs/faults.md).
    resumed = before is not None and _same_facts(before, invoice)
    if before is not None and before.status in TERMINAL_STATUSES and not recovery:
        if not resumed:
            return "ignored: invoice already closed"
        if _logged(log, invoice.invoice_id, _LOG_KIND[update.kind]):
            _settle(invoice, store, log, workflows, now, actor)  # idempotent: what may not have happened yet
            return "ignored: invoice already closed"
    elif not store.save_invoice_facts(invoice):
        return "ignored: newer facts already stored"
    if recovery:
        details["recovered_after_write_off"] = True
    if invoice.status in TERMINAL_STATUSES:
        log.append(invoice.invoice_id, invoice.customer_id, now, kind=_LOG_KIND[update.kind], actor=actor,
                   details={**details, "amount_paid": invoice.amount_paid})
        record_settlement(invoice, store, log)  # type: ignore[arg-type]
        if before is not None:
            _settle(invoice, store, log, workflows, now, actor)
        return f"closed: {update.kind.value}"
    # The invoice's first application stored it and failed before its invoice_opened entry: never logged yet.
    opened_before = resumed and update.kind is UpdateKind.OPENED and before.policy_id is None and not _logged(  # type: ignore[union-attr]
        log, invoice.invoice_id, "invoice_opened")
    if before is None or opened_before:
        log.append(invoice.invoice_id, invoice.customer_id, now, kind="invoice_opened", actor=actor,
                   details={**details, "number": invoice.number, "amount_due": invoice.amount_due,
                            "due_at": to_iso_z(invoice.due_at)})
        before = None  # as the first attempt saw it: parked changes wait for the invoice, the workflow starts
    else:
        _log_changes(before, invoice, details, log, now, actor)
        if invoice.is_settled and not before.is_settled:  # open, nothing left to pay: paid (e.g. out of band)
            record_settlement(invoice, store, log)  # type: ignore[arg-type]
            close_tasks_of_settled_invoice(invoice, settlement_reason(invoice), actor, store, log, now)  # type: ignore[arg-type]
    if update.kind is UpdateKind.PAYMENT_FAILED and before is not None and not (
            resumed and _logged(log, invoice.invoice_id, "payment_failed", details["as_of"])):
        log.append(invoice.invoice_id, invoice.customer_id, now, kind="payment_failed", actor=actor, details=details)
    # Changes parked for this invoice or its payments wait for exactly this: the invoice, or the link, being new.
    subjects = [_invoice_subject(invoice.provider, invoice.invoice_id)] if before is None else []
    replayed = _replay_parked(subjects + _payment_subjects(invoice.provider, new_payments), store, log, workflows, now)
    # Once the workflow has pinned its policy it certainly runs: starting it again would only be refused.
    started_before = before is not None and before.policy_id is not None
    execution_arn = None if started_before else workflows.start(invoice.invoice_id)
    outcome = "started" if execution_arn else ("updated" if before is not None else "opened")
    return outcome + (f"; {replayed}" if replayed else "")


def _settle(invoice: Invoice, store: IngestStore, log: ContactLog, workflows: WorkflowStarter, now: datetime,
            actor: str) -> None:
    """A settled invoice's workflow stops, it counts in its customer's payment figures and its open tasks close
    (each idempotent)."""
    record_settlement(invoice, store, log)  # type: ignore[arg-type]
    workflows.stop(invoice.invoice_id, f"invoice {invoice.status.value}")
    close_tasks_of_settled_invoice(invoice, settlement_reason(invoice), actor, store, log, now)  # type: ignore[arg-type]


def _same_facts(stored: Invoice, incoming: Invoice) -> bool:
    """The stored invoice holds exactly these facts: written by an earlier attempt of the same event (or an
    identical one)."""
    return all(getattr(stored, name) == getattr(incoming, name)
               for name in ("provider_updated_at", "status", "amount_due", "amount_paid", "amount_remaining", "due_at"))


def _logged(log: ContactLog, invoice_id: str, kind: str, as_of: str | None = None) -> bool:
    """The invoice's log holds an entry of `kind` (of the event of moment `as_of`, if given): read only when an
    event's facts are already stored, to finish an interrupted application."""
    return any(e.kind == kind and (as_of is None or e.details.get("as_of") == as_of) for e in log.entries(invoice_id))


def _log_changes(before: Invoice, after: Invoice, details: dict[str, Any], log: ContactLog, now: datetime,
                 actor: str) -> None:
    changed = {name: {"from": _plain(getattr(before, name)), "to": _plain(getattr(after, name))}
               for name in _TRACKED_FACTS if getattr(before, name) != getattr(after, name)}
    if not changed:
        return
    if after.amount_paid > before.amount_paid:
        log.append(after.invoice_id, after.customer_id, now, kind="partial_payment", actor=actor,
                   details={**details, "amount_paid": after.amount_paid, "paid_now": after.amount_paid - before.amount_paid})
        changed.pop("amount_remaining", None)
        if not changed:
            return
    log.append(after.invoice_id, after.customer_id, now, kind="invoice_updated", actor=actor,
               details={**details, "changed": changed})


def _plain(value: Any) -> Any:
    return to_iso_z(value) if isinstance(value, datetime) else value


# --- credit notes -----------------------------------------------------------------------------
def _apply_adjustment(change: BalanceAdjustment, store: IngestStore, log: ContactLog, workflows: WorkflowStarter,
                      now: datetime) -> str:
    invoice = store.get_invoice(change.invoice_id)
    if invoice is None:
        store.park_change(_invoice_subject(change.provider, change.invoice_id), change.occurred_at, change.event_id,
                          _parked(change))
        return "kept: the invoice is not known yet; applied when it arrives"
    key = f"{change.provider}:credit_note:{change.adjustment_id}"
    previous = store.get_provider_object(key)
    if not store.save_provider_object(key, change.occurred_at, "void" if change.voided else "issued", terminal=change.voided):
        return "ignored: a newer state of this credit note is already applied"
    if invoice.status in TERMINAL_STATUSES:
        return "ignored: invoice already closed"
    if change.voided and (previous is None or previous.get("state") != "issued"):
        return "recorded: a credit note voided before it was applied"
    if invoice.provider_updated_at >= change.occurred_at:
        return "recorded: the invoice already shows this credit note"
    # As the platform does it: a pre-payment credit note lowers what is due, and so the balance.
    delta = change.amount if change.voided else -min(change.amount, invoice.amount_due)
    amount_due = invoice.amount_due + delta
    balance = max(0, min(amount_due - invoice.amount_paid, invoice.amount_remaining + delta))
    adjusted = invoice.model_copy(update={"amount_due": amount_due, "amount_remaining": balance,
                                          "provider_updated_at": change.occurred_at})
    if not store.save_invoice_facts(adjusted):
        return "ignored: newer facts already stored"
    # Logged as the change it makes, exactly as the platform's own invoice update of the same instant would be:
    # whichever of the two arrives first writes the entry, so the log does not depend on their order.
    actor = f"{change.provider} webhook"
    _log_changes(invoice, adjusted, {"as_of": to_iso_z(change.occurred_at), "balance": balance, "currency": invoice.currency},
                 log, now, actor)
    if adjusted.is_settled and not invoice.is_settled:  # credited down to nothing: nothing left to chase
        record_settlement(adjusted, store, log)  # type: ignore[arg-type]  # counted once (paid, if paid at all)
        close_tasks_of_settled_invoice(adjusted, settlement_reason(adjusted), actor, store, log, now)  # type: ignore[arg-type]
    return "balance restored" if change.voided else "balance lowered"


# --- disputes ---------------------------------------------------------------------------------
def _apply_dispute(change: DisputeUpdate, store: IngestStore, log: ContactLog, workflows: WorkflowStarter,
                   now: datetime) -> str:
    from arrears.domain.holds import ActionRefused, place_hold, release_hold

    invoice_id = next((found for found in (store.invoice_of_payment(change.provider, p) for p in change.payment_ids)
                       if found), None)
    if invoice_id is None:
        for subject in _payment_subjects(change.provider, change.payment_ids):
            store.park_change(subject, change.occurred_at, change.event_id, _parked(change))
        return "kept: the disputed payment's invoice is not known yet; applied when it arrives"
    invoice = store.get_invoice(invoice_id)
    if invoice is None:  # the payment was linked before its invoice arrived
        store.park_change(_invoice_subject(change.provider, invoice_id), change.occurred_at, change.event_id, _parked(change))
        return "kept: the disputed payment's invoice is not known yet; applied when it arrives"
    key = f"{change.provider}:dispute:{change.dispute_id}"
    if not store.save_provider_object(key, change.occurred_at, "closed" if change.closed else "open", terminal=change.closed):
        return "ignored: a newer state of this dispute is already applied"
    actor = f"{change.provider} webhook"
    try:
        if not change.closed:
            place_hold(invoice_id, HoldKind.DISPUTE, None, f"{change.provider} dispute {change.dispute_id}: {change.reason}"[:500],
                       actor, store, log, now, workflows=workflows)
            return f"held: dispute {change.dispute_id}"
        if invoice.hold is None or invoice.hold.kind is not HoldKind.DISPUTE:
            return "ignored: the invoice is not held for a dispute"
        release_hold(invoice_id, actor, store, log, workflows, now, reason=f"dispute {change.dispute_id} closed: {change.reason}")
        return f"released: dispute {change.dispute_id} closed"
    except ActionRefused as refused:
        return f"ignored: {refused.code}"


# --- parked changes ---------------------------------------------------------------------------
def _invoice_subject(provider: str, invoice_id: str) -> str:
    return f"INVOICE#{provider}:{invoice_id}"


def _payment_subjects(provider: str, payment_ids: tuple[str, ...]) -> list[str]:
    return [f"PAYMENT#{provider}:{payment_id}" for payment_id in payment_ids]


_PARKABLE: dict[str, type] = {"BalanceAdjustment": BalanceAdjustment, "DisputeUpdate": DisputeUpdate}


def _parked(change: BalanceAdjustment | DisputeUpdate) -> dict[str, Any]:
    data = asdict(change)
    data["occurred_at"] = to_iso_z(change.occurred_at)
    if "payment_ids" in data:
        data["payment_ids"] = list(data["payment_ids"])
    return {"type": type(change).__name__, "change": data}


def _unparked(parked: dict[str, Any]) -> BalanceAdjustment | DisputeUpdate:
    data = dict(parked["change"])
    data["occurred_at"] = parse_iso(data["occurred_at"])
    if "payment_ids" in data:
        data["payment_ids"] = tuple(data["payment_ids"])
    return _PARKABLE[parked["type"]](**data)


def _replay_parked(subjects: list[str], store: IngestStore, log: ContactLog, workflows: WorkflowStarter,
                   now: datetime) -> str:
    applied = 0
    for subject in subjects:
        for key, parked in store.parked_changes(subject):
            outcome = apply_billing_change(_unparked(parked), store, log, workflows, now)
            if outcome.startswith("kept"):
                continue  # still waiting (a dispute whose other payment id is the one that links)
            store.unpark_change(subject, key)
            applied += 1
    return f"{applied} parked change(s) applied" if applied else ""
