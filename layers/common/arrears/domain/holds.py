"""Holds on an invoice's collection: domain operations the finance API calls, and their rules.

A hold stops every contact at once: the workflow re-reads the invoice before
each step and parks while a hold is on. Lifting a hold (by hand, or when a dated
hold ends) moves the invoice's pending steps by the days spent on hold, so
collection resumes where it left off rather than firing everything it missed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from arrears.domain.models import Customer, Hold, HoldKind, Instalment, Invoice, InvoiceStatus
from arrears.domain.policy import Policy
from arrears.domain.policy.calendar import contact_moment, zone_of
from arrears.domain.ports import ContactLog, InvoiceStore, PolicyRepository, WorkflowStarter


class ActionRefused(ValueError):
    """A finance action (hold, write-off, skip, escalate...) that does not fit the invoice's state; `code` is
    machine-readable and the API maps it to 404 (unknown_*), 409 (state) or 422 (bad value)."""

    def __init__(self, code: str, message: str, details: list[dict[str, Any]] | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.details = details  # e.g. which field of the request was refused


def _collection(invoice_id: str, store: InvoiceStore, policies: PolicyRepository,
                what: str) -> tuple[Invoice, Customer, Policy, ZoneInfo]:
    """The invoice, its customer, its pinned policy and the debtor's zone; refused before collection started."""
    invoice = store.get_invoice(invoice_id)
    if invoice is None:
        raise ActionRefused("unknown_invoice", f"no invoice {invoice_id}")
    customer = store.get_customer(invoice.customer_id)
    if invoice.policy_id is None or invoice.policy_version is None or customer is None:
        raise ActionRefused("collection_not_started", f"invoice {invoice_id} has no collection to {what} yet")
    policy = policies.get(invoice.policy_id, invoice.policy_version)
    return invoice, customer, policy, zone_of(customer.timezone, policy.default_timezone)


def promise_to_pay(invoice_id: str, promised_on: date, actor: str, store: InvoiceStore, log: ContactLog,
                   policies: PolicyRepository, now: datetime, workflows: WorkflowStarter | None = None) -> Hold:
    """The debtor promised to pay by a date: no contact until the policy's grace days after it (at
    contact time on a business day); if the invoice is still open then, a broken-promise message goes
    out and collection resumes."""
    invoice, customer, policy, zone = _collection(invoice_id, store, policies, "hold")
    if promised_on < now.astimezone(zone).date():
        raise ActionRefused("invalid_until", f"the promised date {promised_on} is in the past")
    until = contact_moment(promised_on + timedelta(days=policy.promise_grace_days), policy.contact_time,
                           policy.calendar, zone, customer.address.country)
    return place_hold(invoice_id, HoldKind.PROMISE, until, f"promised to pay by {promised_on.isoformat()}", actor,
                      store, log, now, promised_on=promised_on, workflows=workflows)


# A reminder goes out this many days before each instalment falls due.
INSTALMENT_REMINDER_DAYS = 3
MAX_INSTALMENTS = 24


@dataclass(frozen=True)
class PlanCheckpoint:
    """A moment a payment plan's hold ends and the workflow looks again: to remind the debtor of
    instalment `index` (`remind`) or to check that it was paid (`check`)."""

    at: datetime
    kind: str  # remind | check
    index: int


def plan_checkpoints(hold: Hold, policy: Policy, zone: ZoneInfo, country: str) -> list[PlanCheckpoint]:
    """Every checkpoint of a plan in time order: a reminder before each instalment (if still ahead when the
    plan was agreed) and a check the policy's grace days after it, on the debtor's business days."""
    points = []
    for index, instalment in enumerate(hold.instalments):
        remind = contact_moment(instalment.due_on - timedelta(days=INSTALMENT_REMINDER_DAYS), policy.contact_time,
                                policy.calendar, zone, country)
        if remind > hold.since:
            points.append(PlanCheckpoint(remind, "remind", index))
        points.append(PlanCheckpoint(contact_moment(instalment.due_on + timedelta(days=policy.promise_grace_days),
                                                    policy.contact_time, policy.calendar, zone, country), "check", index))
    return sorted(points, key=lambda point: (point.at, point.kind == "remind"))


def check_instalments(instalments: list[Instalment], invoice: Invoice, today: date,
                      most: int = MAX_INSTALMENTS, least: int = 2) -> None:
    """A plan's instalments: `least` to `most` of them, in date order from today on, adding up to the balance."""
    dates = [instalment.due_on for instalment in instalments]
    if not least <= len(instalments) <= most:
        raise ActionRefused("invalid_plan", f"a payment plan has {least} to {most} instalments")
    if dates != sorted(set(dates)):
        raise ActionRefused("invalid_plan", "instalment dates must be distinct and in order")
    if dates[0] < today:
        raise ActionRefused("invalid_plan", f"the first instalment ({dates[0]}) is in the past")
    total = sum(instalment.amount for instalment in instalments)
    if total != invoice.amount_remaining:
        raise ActionRefused("invalid_plan", f"the instalments add up to {total}, the balance is {invoice.amount_remaining} "
                                            f"({invoice.currency} minor units)")


def agree_payment_plan(invoice_id: str, instalments: list[Instalment], reason: str, actor: str, store: InvoiceStore,
                       log: ContactLog, policies: PolicyRepository, now: datetime,
                       workflows: WorkflowStarter | None = None) -> Hold:
    """The debtor pays the balance in instalments: the usual steps stop; a reminder goes out before each
    instalment and a check follows it; a missed instalment sends its own message and collection resumes."""
    invoice, customer, policy, zone = _collection(invoice_id, store, policies, "plan")
    if invoice.status is not InvoiceStatus.OPEN or invoice.is_settled:
        raise ActionRefused("invoice_closed", f"invoice {invoice_id} is {invoice.status.value}: nothing to plan")
    check_instalments(instalments, invoice, now.astimezone(zone).date())
    draft = Hold(kind=HoldKind.PAYMENT_PLAN, since=now, reason=reason, actor=actor, instalments=tuple(instalments),
                 plan_balance=invoice.amount_remaining)
    first = next(p.at for p in plan_checkpoints(draft, policy, zone, customer.address.country) if p.at > now)
    hold = place_hold(invoice_id, HoldKind.PAYMENT_PLAN, first, reason, actor, store, log, now,
                      instalments=tuple(instalments), plan_balance=invoice.amount_remaining, workflows=workflows)
    return hold


def place_hold(invoice_id: str, kind: HoldKind, until: datetime | None, reason: str, actor: str,
               store: InvoiceStore, log: ContactLog, now: datetime, promised_on: date | None = None,
               instalments: tuple[Instalment, ...] = (), plan_balance: int | None = None,
               workflows: WorkflowStarter | None = None) -> Hold:
    """Put the invoice on hold and wake its workflow if it waits for a step (`workflows`), so that it parks on the
    hold now and what the hold's end brings (a broken promise's message, a plan's reminder) goes at its moment."""
    invoice = store.get_invoice(invoice_id)
    if invoice is None:
        raise ActionRefused("unknown_invoice", f"no invoice {invoice_id}")
    if invoice.status is not InvoiceStatus.OPEN or invoice.is_settled:
        raise ActionRefused("invoice_closed", f"invoice {invoice_id} is {invoice.status.value}: nothing to hold")
    if invoice.hold is not None:
        raise ActionRefused("already_on_hold", f"invoice {invoice_id} is already on hold ({invoice.hold.kind.value})")
    if kind in (HoldKind.PAUSE, HoldKind.PROMISE, HoldKind.PAYMENT_PLAN) and (until is None or until <= now):
        raise ActionRefused("invalid_until", f"a {kind.value} needs an end date in the future")
    if kind is HoldKind.DISPUTE and until is not None:
        raise ActionRefused("invalid_until", "a dispute lasts until it is resolved: give no end date")
    hold = Hold(kind=kind, since=now, until=until, reason=reason, actor=actor, promised_on=promised_on,
                instalments=instalments, plan_balance=plan_balance)
    if not store.set_hold(invoice_id, hold):
        raise ActionRefused("already_on_hold", f"invoice {invoice_id} changed meanwhile (on hold or closed)")
    log.append(invoice_id, invoice.customer_id, now, kind="hold_placed", actor=actor,
               details={"hold": kind.value, "until": until.isoformat() if until else None, "reason": reason,
                        **({"promised_on": promised_on.isoformat()} if promised_on else {}),
                        **({"instalments": [{"due_on": i.due_on.isoformat(), "amount": i.amount} for i in instalments]}
                           if instalments else {})})
    token = store.take_wake_token(invoice_id) if workflows is not None else None
    if token:
        workflows.resume(token)  # type: ignore[union-attr]
    return hold


def release_hold(invoice_id: str, actor: str, store: InvoiceStore, log: ContactLog, workflows: WorkflowStarter,
                 now: datetime, reason: str = "") -> Hold:
    """Lift the hold by hand (a dispute resolved, a pause ended early) and wake the parked workflow."""
    invoice = store.get_invoice(invoice_id)
    if invoice is None:
        raise ActionRefused("unknown_invoice", f"no invoice {invoice_id}")
    if invoice.hold is None:
        raise ActionRefused("not_on_hold", f"invoice {invoice_id} is not on hold")
    hold, token = _lift(invoice_id, invoice.customer_id, invoice.hold, actor, store, log, now, reason)
    if token:
        workflows.resume(token)
    return hold


def expire_hold(invoice_id: str, customer_id: str, hold: Hold, store: InvoiceStore, log: ContactLog) -> None:
    """A dated hold reached its end: lifted as of its end date, by the workflow itself."""
    assert hold.until is not None
    _lift(invoice_id, customer_id, hold, "arrears-workflow", store, log, hold.until, "the hold's end date passed")


def _lift(invoice_id: str, customer_id: str, hold: Hold, actor: str, store: InvoiceStore, log: ContactLog,
          at: datetime, reason: str) -> tuple[Hold, str | None]:
    shift_days = max(0, (at - hold.since).days)
    lifted = store.clear_hold(invoice_id, shift_days)
    if lifted is None:
        raise ActionRefused("not_on_hold", f"invoice {invoice_id} is not on hold (lifted meanwhile)")
    log.append(invoice_id, customer_id, at, kind="hold_released", actor=actor,
               details={"hold": hold.kind.value, "held_days": shift_days, "reason": reason})
    return lifted


def declare_insolvency(customer_id: str, notice: str, actor: str, store: InvoiceStore, log: ContactLog,
                       workflows: WorkflowStarter, now: datetime) -> list[str]:
    """A customer's insolvency: every open invoice of theirs stops being chased at once (held for good,
    its workflow stopped) and one task asks a person to file the claim. Returns the invoices held."""
    customer = store.get_customer(customer_id)
    if customer is None:
        raise ActionRefused("unknown_customer", f"no customer {customer_id}")
    # Recorded for the customer too, so an invoice that opens later is held as soon as its collection starts.
    recorded = store.record_insolvency(customer_id, notice, actor, now)
    open_invoices = [i for i in store.invoices_of(customer_id) if i.status is InvoiceStatus.OPEN and not i.is_settled]
    held: list[str] = []
    for invoice in open_invoices:
        hold = Hold(kind=HoldKind.INSOLVENCY, since=now, reason=notice, actor=actor)
        if not store.set_hold(invoice.invoice_id, hold):
            if invoice.hold is not None and invoice.hold.kind is HoldKind.INSOLVENCY:
                continue  # declared already
            store.clear_hold(invoice.invoice_id, 0)  # an insolvency outranks a dispute, pause or promise
            if not store.set_hold(invoice.invoice_id, hold):
                continue  # settled meanwhile
        workflows.stop(invoice.invoice_id, "customer insolvent")
        log.append(invoice.invoice_id, customer_id, now, kind="insolvency", actor=actor,
                   details={"notice": notice, "balance": invoice.amount_remaining, "currency": invoice.currency})
        held.append(invoice.invoice_id)
    if not held:
        if recorded:
            return held  # no open invoice today; later ones will be held
        raise ActionRefused("nothing_to_hold", f"customer {customer_id} has no open invoice that is not already held for insolvency")
    claims: dict[str, int] = {}
    for invoice in open_invoices:
        if invoice.invoice_id in held:
            claims[invoice.currency] = claims.get(invoice.currency, 0) + invoice.amount_remaining
    store.open_task(held[0], "file_insolvency_claim", now, {
        "customer_id": customer_id, "customer": customer.name, "notice": notice, "invoices": held, "claims": claims})
    return held
