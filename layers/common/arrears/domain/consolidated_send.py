"""One message for a customer's invoices due within the policy's window (issue #15, docs/consolidation.md).

`dunning._perform_step` calls `send_consolidated` for an email or letter step of a policy with
`consolidation.enabled`, once the step (the *lead*: the step whose workflow is running) is claimed and the
customer's contact slot granted. The customer's other invoices whose next message falls due within the window
are covered by the one message (`consolidation.consolidate`): each covered step is claimed under the send
protocol (docs/architecture.md) by the same owner; one its own workflow holds drops out and the message is
consolidated again without it. The most escalated covered invoice carries the message (its template, tone,
channel); every covered invoice's log records its step as done by it (`details.covered_by`), and its progress
is saved, so its workflow finds the step done when it wakes and never queues behind its own message.

Crash safety: before the message goes to SES every other covered claim becomes "sending" (recording what its
log entry will say and the lead), then the lead's (recording what it covers). A retry of the lead that finds it
"sending" or "sent" finishes the covered steps alike (`finish_covered`): logged as done by the message when SES's
message id was recorded, logged as unconfirmed (a person confirms) when not. A covered claim still "claimed" was
not in the message: given back, its own workflow sends it. An attempt that died and is never retried leaves its
covered claims to expire: their own workflows then finish them the same way (or send them, still "claimed").
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Callable

from arrears.domain.consolidation import ConsolidatedMessage, OpenInvoice, consolidate, statement_of_account
from arrears.domain.models import Customer, Invoice
from arrears.domain.notices import (NoticeIncomplete, build_consolidated_notice, build_notice, build_statement_notice,
                                    partial_payments)
from arrears.domain.policy import Channel, Policy, Step
from arrears.domain.policy.calendar import zone_of
from arrears.domain.policy.schedule import PlannedStep
from arrears.domain.ports import PHASE_CLAIMED, PHASE_DONE, PHASE_SENDING, DeliveryRefused, Ports, StepClaim


@dataclass(frozen=True)
class SendPath:
    """The send protocol's pieces of `arrears.domain.dunning` this module uses (passed in by dunning, which calls
    this module: no import circle). Each is dunning's function of the same name without its underscore."""

    plan_for: Callable[..., Any]
    take_step: Callable[..., StepClaim]
    log_claimed: Callable[..., None]
    finish_interrupted_step: Callable[..., None]
    prepare: Callable[..., Any]
    claim_details: Callable[..., dict[str, Any]]
    recordable: Callable[[dict[str, Any]], dict[str, Any]]
    step_sends: Callable[..., Any]  # StepSends(ports, invoice_id, step_id, holder, at)
    in_progress: type[Exception]  # StepInProgress
    referral_withheld: Callable[..., Any]  # _referral_withheld(invoice, notice, policy, ports): None when it may go


class _Covered:
    """Another invoice's step the message covers, claimed by this attempt."""

    def __init__(self, invoice: Invoice, policy: Policy, step: Step, claim: StepClaim) -> None:
        self.invoice, self.policy, self.step, self.claim = invoice, policy, step, claim


def _book(customer: Customer, candidate: Invoice, ports: Ports, path: SendPath) -> tuple[list[OpenInvoice], dict[str, Policy]]:
    """The customer's open invoices, each planned with its own pinned policy (the candidate as the caller read it)."""
    book, policies = [], {}
    for invoice in ports.store.invoices_of(customer.customer_id):
        if invoice.invoice_id == candidate.invoice_id:
            invoice = candidate
        if invoice.is_settled:
            continue
        planned: tuple[PlannedStep, ...] = ()
        if invoice.policy_id is not None and invoice.policy_version is not None:
            policies[invoice.invoice_id] = ports.policies.get(invoice.policy_id, invoice.policy_version)
            planned = tuple(path.plan_for(invoice, customer, policies[invoice.invoice_id]))
        book.append(OpenInvoice(invoice, planned, policies.get(invoice.invoice_id)))
    return book, policies


def send_consolidated(invoice: Invoice, customer: Customer, policy: Policy, due: PlannedStep, claim: StepClaim,
                      owner: str | None, ports: Ports, now: datetime, path: SendPath) -> bool:
    """Send the lead's step as one message with the customer's other steps due within the window. False (nothing
    done, every other claim given back) when it covers nothing else: the caller sends it alone, as before #15."""
    zone = zone_of(customer.timezone, policy.default_timezone)
    book, policies = _book(customer, invoice, ports, path)
    by_id = {item.invoice.invoice_id: item for item in book}
    candidate = by_id.get(invoice.invoice_id) or OpenInvoice(invoice, tuple(path.plan_for(invoice, customer, policy)))
    taken: dict[str, _Covered] = {}
    exclude: set[str] = set()
    lead = {"invoice_id": invoice.invoice_id, "step_id": due.step.id}
    while True:
        message = consolidate(candidate, due, book, policy, now, zone, exclude)
        if message is None or message.alone:
            _give_back(taken.values(), ports)
            return False
        dropped = False
        for covered in message.covered:
            if covered.invoice_id == invoice.invoice_id or covered.invoice_id in taken:
                continue
            other = by_id[covered.invoice_id]
            step = next(p.step for p in other.planned if p.step.id == covered.step_id)
            if step.channel is Channel.REFERRAL and _withheld(other.invoice, customer, policies[covered.invoice_id], step,
                                                             ports, now, path):
                exclude.add(covered.invoice_id)  # below its minimum or without its final notice: its own task, alone
                dropped = True
                continue
            found = _take_covered(other.invoice, policies[covered.invoice_id], step, owner, lead, claim, ports, now, path)
            if found is None:
                exclude.add(covered.invoice_id)  # its own workflow holds it (or did it): the message goes without it
                dropped = True
            else:
                taken[covered.invoice_id] = found
        if not dropped:
            break
    in_message = message.covered_invoice_ids()
    _give_back([c for i, c in taken.items() if i not in in_message], ports)
    others = [taken[c.invoice_id] for c in message.covered if c.invoice_id != invoice.invoice_id]
    try:
        delivery = _prepare_message(message, invoice, customer, policy, others, book, owner, ports, now, path)
    except NoticeIncomplete:
        _give_back(others, ports)  # something one listed invoice lacks: each goes alone (and is blocked alone if it must)
        return False
    except Exception:
        _give_back(others, ports)
        raise
    prepared, notice_details = delivery
    sends = _CoveredSends(path.step_sends(ports, invoice.invoice_id, due.step.id, claim.holder, claim.claimed_at or now),
                          path, lead=_shape(invoice, due.step, message, notice_details), lead_id=lead,
                          others=[(c, _shape(c.invoice, c.step, message, notice_details)) for c in others])
    try:
        fields = prepared(ports, sends)
    except Exception:
        _give_back(others, ports)  # only the ones nothing was handed to SES for
        ports.store.release_step(invoice.invoice_id, due.step.id, claim.holder)
        raise
    message_id = fields.get("message_id")
    for other in others:
        entry = _message_entry(fields, sends.shapes[other.invoice.invoice_id], message_id)
        kind = entry.pop("kind")
        path.log_claimed(other.invoice, other.policy, other.step, other.claim, kind, entry, ports, now)
        # Its place in the customer's queue (a message it was deferred with) will never be used: it is done.
        ports.store.release_contact_reservation(customer.customer_id, other.invoice.invoice_id, now)
    entry = _message_entry(fields, sends.lead, message_id)
    kind = entry.pop("kind")
    path.log_claimed(invoice, policy, due.step, claim, kind, entry, ports, now)
    return True


def _take_covered(other: Invoice, policy: Policy, step: Step, owner: str | None, lead: dict[str, str],
                  lead_claim: StepClaim, ports: Ports, now: datetime, path: SendPath) -> _Covered | None:
    """Claim another invoice's step for the message; None when it cannot be covered: its own workflow holds it or
    did it, or an attempt of ours that died may have handed it to SES (finished now: never sent again)."""
    found = path.take_step(other, step.id, owner, ports, now)
    if not found.mine:
        if found.phase == PHASE_DONE:
            ports.store.save_progress(other.invoice_id, step.id, None, closed=False)
        return None
    if found.phase == PHASE_CLAIMED:
        return _Covered(other, policy, step, found)
    if found.phase == PHASE_SENDING and found.record.get("lead") == lead and lead_claim.phase == PHASE_CLAIMED:
        # Our attempt that died readied it for the message and never handed the message to SES (the lead's claim,
        # "sending" before SES is called, is still "claimed"): nothing went out, it is covered again.
        if ports.store.advance_step(other.invoice_id, step.id, found.holder, (PHASE_SENDING,), PHASE_CLAIMED, {}):
            return _Covered(other, policy, step, replace(found, phase=PHASE_CLAIMED, record={}))
        return None
    path.finish_interrupted_step(other, policy, step, _common(step), found, ports, now)
    return None


def _withheld(invoice: Invoice, customer: Customer, policy: Policy, step: Step, ports: Ports, now: datetime,
              path: SendPath) -> bool:
    """Whether an invoice's referral may not go (each is checked for itself: its minimum, its final notice)."""
    try:
        notice = build_notice(invoice, customer, policy, step, now,
                              partial_payments(invoice, customer, policy, step, ports.log.entries))
    except NoticeIncomplete:
        return True  # its own workflow blocks it, alone
    return path.referral_withheld(invoice, notice, policy, ports) is not None


def _common(step: Step) -> dict[str, str]:
    return {"step_id": step.id, "stage": step.stage.value, "channel": step.channel.value, "template": step.template}


def _give_back(covered: Any, ports: Ports) -> None:
    """Covered claims given back (those nothing was handed to SES for: still "claimed"), for their own workflows."""
    for other in covered:
        ports.store.release_step(other.invoice.invoice_id, other.step.id, other.claim.holder)


def _prepare_message(message: ConsolidatedMessage, invoice: Invoice, customer: Customer, policy: Policy,
                     others: list[_Covered], book: list[OpenInvoice], owner: str | None, ports: Ports, now: datetime,
                     path: SendPath):
    """The message rendered and stored (the carrying invoice's channel), with the statement attached when the
    policy says so for the carrying stage."""
    invoices = {item.invoice.invoice_id: item.invoice for item in book}
    invoices[invoice.invoice_id] = invoice
    carrier = invoices[message.carrying_invoice_id]
    carrying = {c.invoice.invoice_id: c for c in others}.get(carrier.invoice_id)
    carrier_policy = carrying.policy if carrying is not None else policy
    carrier_step = message.carrying_step
    payments = {line.invoice_id: partial_payments(invoices[line.invoice_id], customer, carrier_policy, carrier_step,
                                                  ports.log.entries) for line in message.lines if line.asked}
    notice = build_consolidated_notice(message, invoices, customer, carrier_policy, now, payments)
    attachments: tuple[tuple[str, bytes, str], ...] = ()
    artefacts: tuple = ()
    if carrier_step.stage in policy.consolidation.attach_statement:
        zone = zone_of(customer.timezone, policy.default_timezone)
        statement = statement_of_account(customer.customer_id, book, now, zone)
        pdf = ports.renderer.statement(build_statement_notice(statement, customer, carrier_policy, now))
        stored = ports.artefacts.put(f"statements/{carrier.invoice_id}/{carrier_step.id}.pdf", pdf,
                                     "application/pdf", "statement")
        attachments, artefacts = ((f"statement-{statement.as_of.isoformat()}.pdf", pdf, "application/pdf"),), (stored,)
    # A referral: the invoices referred together go to the agency as one package (one customer, one currency).
    referred = tuple(invoices[c.invoice_id] for c in message.covered) if carrier_step.channel is Channel.REFERRAL else ()
    prepared = path.prepare(carrier_step.channel, notice, carrier, customer, carrier_policy, ports, owner,
                            attachments=attachments, artefacts=artefacts, referred=referred)
    return prepared, path.claim_details(notice)


def _covers(message: ConsolidatedMessage) -> list[dict[str, str]]:
    return [{"invoice_id": c.invoice_id, "step_id": c.step_id} for c in message.covered
            if c.invoice_id != message.carrying_invoice_id]


def _message_step(message: ConsolidatedMessage) -> dict[str, str]:
    """The message's kind, channel and template (the carrying step's; a delivery by post says "letter")."""
    step = message.carrying_step
    return {"kind": step.channel.value, "channel": step.channel.value, "template": step.template}


def _carrying(message: ConsolidatedMessage) -> dict[str, str]:
    return {"invoice_id": message.carrying_invoice_id, "step_id": message.carrying_step.id}


def _shape(invoice: Invoice, step: Step, message: ConsolidatedMessage, notice_details: dict[str, Any]) -> dict[str, Any]:
    """What an invoice's log entry of the message says beyond the message's fields (kind, channel, recipient,
    subject, artefacts, message id): the carrying invoice's, as a single message's with what it `covers`; any
    other's, its own step, balance and reference, and the message that did it (`covered_by`; its message id once
    SES gave it)."""
    if invoice.invoice_id == message.carrying_invoice_id:
        return {**_message_step(message), "step_id": step.id, "stage": step.stage.value,
                "details": {**notice_details, **({"covers": _covers(message)} if len(message.covered) > 1 else {})}}
    line = next((line for line in message.lines if line.invoice_id == invoice.invoice_id), None)
    return {**_message_step(message), "step_id": step.id, "stage": step.stage.value,
            "details": {"balance": invoice.amount_remaining, "currency": invoice.currency,
                        "reference": line.number if line is not None else invoice.number,
                        "covered_by": _carrying(message)}}


def _message_entry(fields: dict[str, Any], shape: dict[str, Any], message_id: str | None) -> dict[str, Any]:
    """One covered invoice's log entry: the message's fields (its kind, channel, recipient, subject, artefacts,
    message id) with the invoice's own step and details."""
    message_step = {k: shape[k] for k in ("kind", "channel", "template")}
    entry = {**message_step, **fields, **{k: v for k, v in shape.items() if k not in ("details", *message_step)}}
    details = dict(shape["details"])
    if "covered_by" in details:
        details["covered_by"] = {**details["covered_by"], "message_id": message_id}
    else:  # the carrying invoice's: what the message's delivery recorded (a letter posted, a task) and what it covers
        details = {**fields.get("details", {}), **({"covers": details["covers"]} if "covers" in details else {})}
    entry["details"] = details
    if message_id is not None:
        entry["message_id"] = message_id
    return entry


class _CoveredSends:
    """The lead's sends (dunning.StepSends) for a message covering other invoices' steps: before SES has it, each
    other claim becomes "sending" (recording its log entry and the lead), then the lead's (recording the other
    claims it covers); SES refusing it makes them all "claimed" again."""

    def __init__(self, sends: Any, path: SendPath, lead: dict[str, Any], lead_id: dict[str, str],
                 others: list[tuple[_Covered, dict[str, Any]]]) -> None:
        self._sends, self._path, self._lead_id, self._others = sends, path, lead_id, others
        self.at = sends.at
        self.lead = lead
        self.shapes = {c.invoice.invoice_id: shape for c, shape in others}
        sends._record = {"covers": [{"invoice_id": c.invoice.invoice_id, "step_id": c.step.id} for c, _ in others]}
        self._sent = False

    def send(self, message: bytes, recipients: list[str], fields: dict[str, Any], last: bool = True) -> str:
        store = self._sends._ports.store
        if not self._sent:
            for other, shape in self._others:
                record = {"fields": self._path.recordable(_message_entry(fields, shape, None)), "message_ids": [],
                          "lead": self._lead_id}
                if not store.advance_step(other.invoice.invoice_id, other.step.id, other.claim.holder,
                                          (PHASE_CLAIMED,), PHASE_SENDING, record):
                    raise self._path.in_progress(f"step {other.step.id} of {other.invoice.invoice_id} was taken over "
                                                 "before the message covering it was sent")
        try:
            message_id = self._sends.send(message, recipients, _message_entry(fields, self.lead, None), last=last)
        except DeliveryRefused:
            if not self._sent:  # nothing went out: the covered steps are "claimed" again, given back by the caller
                for other, _ in self._others:
                    store.advance_step(other.invoice.invoice_id, other.step.id, other.claim.holder, (PHASE_SENDING,),
                                       PHASE_CLAIMED, {})
            raise
        self._sent = True
        return message_id


def finish_covered(lead: StepClaim, ports: Ports, now: datetime, path: SendPath) -> None:
    """The lead's attempt died after the message covering other steps was handed to SES (or may have been): each
    covered step its attempt made "sending" is finished, never sent again: logged as done by the message when SES's
    message id is recorded, else logged as unconfirmed (a person confirms it)."""
    if lead.owner is None:
        return  # an anonymous caller's claims are its own: they expire, and their own workflows finish them
    message_ids = lead.record.get("message_ids", [])
    for covered in lead.record.get("covers", []):
        invoice = ports.store.get_invoice(covered["invoice_id"])
        if invoice is None or invoice.policy_id is None or invoice.policy_version is None:
            continue
        customer = ports.store.get_customer(invoice.customer_id)
        policy = ports.policies.get(invoice.policy_id, invoice.policy_version)
        step = next((p.step for p in path.plan_for(invoice, customer, policy) if p.step.id == covered["step_id"]),
                    None) if customer is not None else None
        if step is None:
            continue
        found = path.take_step(invoice, step.id, lead.owner, ports, now)
        if not found.mine:
            continue
        if found.phase == PHASE_CLAIMED:
            ports.store.release_step(invoice.invoice_id, step.id, found.holder)  # never in the message
            continue
        if found.phase == PHASE_SENDING and message_ids:
            entry = dict(found.record.get("fields", {}))
            kind = entry.pop("kind", step.channel.value)
            entry["message_id"] = message_ids[0]
            details = dict(entry.get("details", {}))
            details["covered_by"] = {**details.get("covered_by", {}), "message_id": message_ids[0]}
            entry["details"] = details
            path.log_claimed(invoice, policy, step, found, kind, entry, ports, now)
            continue
        path.finish_interrupted_step(invoice, policy, step, _common(step), found, ports, now)
