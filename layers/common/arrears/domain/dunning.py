"""The dunning service: what the workflow function does at each step.

The state machine only waits and routes; every decision lives here. Each call
re-reads the invoice first, so a settled invoice is never contacted, and claims
each step before acting on it, so a retried invocation never sends twice.
"""

from __future__ import annotations

import hashlib
import math
import threading
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any, Callable

from arrears.domain import consolidated_send
from arrears.domain.clock import parse_iso, to_iso_z
from arrears.domain.deliverability import deliverable_recipient, letter_by_post, unreachable_by_email, unusable_emails
from arrears.domain.json_values import as_json
from arrears.domain.models import Artefact, Customer, Hold, HoldKind, Invoice, RecentContact
from arrears.domain.notices import NoticeContext, NoticeIncomplete, build_notice, partial_payments
from arrears.domain.policy import Channel, Policy, Stage, Step, plan_steps
from arrears.domain.holds import expire_hold
from arrears.domain.reply_pause import active_pause
from arrears.domain.policy.calendar import call_window, deferred_moment, next_allowed_moment, zone_of
from arrears.domain.policy.schedule import PlannedStep, steps_to_skip_at_start
from arrears.domain.early_payment import ISSUE_CREDIT_NOTE, early_payment_offer, paid_early
from arrears.domain.risk import start_with_risk
from arrears.domain.ports import PHASE_CLAIMED, PHASE_DONE, PHASE_SENDING, PHASE_SENT, DeliveryRefused, Ports, StepClaim
from arrears.domain.tasks import close_tasks_of_settled_invoice, settlement_reason

# Claim ids for the workflow's own once-only records (policy step ids are [a-z0-9_]).
_START_CLAIM = "-start"
_CLOSE_CLAIM = "-close"
# A step counts as due when its moment is this close: Wait timestamps have whole seconds.
_DUE_TOLERANCE = timedelta(seconds=1)
_MAX_RELEASES = 20  # settled invoices' places freed in one claim (a customer's queue is short)
WORKFLOW_ACTOR = "arrears-workflow"
# What counts against the policy's minimum gap between contacts to one customer: messages to the debtor.
_GAPPED_CHANNELS = frozenset({Channel.EMAIL, Channel.LETTER, Channel.REFERRAL})
# The steps a policy's `consolidation` makes one message per customer (docs/consolidation.md).
_CONSOLIDATED_CHANNELS = frozenset({Channel.EMAIL, Channel.LETTER, Channel.REFERRAL})


# A step's claim expires this long after it was taken: longer than any Lambda runs (its maximum timeout), so a
# holder whose claim another caller takes over is dead. Its own retries (the same owner) take it over at once.
STEP_CLAIM_TTL = timedelta(minutes=15)


class InvoiceNotFound(LookupError):
    pass


class StepInProgress(RuntimeError):
    """Another caller holds the step and has not finished it (escalate-now and a scheduled wake-up at once): the
    workflow's Retry comes back later and finds it done, or the claim expired and takes it over."""


@dataclass(frozen=True)
class Decision:
    """What the state machine does next; its Choice state routes on `status` and `stage`."""

    status: str  # active | hold | closed | complete
    stage: str | None = None
    step_id: str | None = None
    next_at: str | None = None  # ISO Z, for the Wait state
    reason: str | None = None
    hold_seconds: int | None = None  # while on hold: how long to park before re-reading the invoice
    wait_seconds: int | None = None  # while active: how long to wait for next_at (a hold placed meanwhile wakes it)

    def as_output(self) -> dict[str, Any]:
        return {key: value for key, value in self.__dict__.items() if value is not None}


def _load(invoice_id: str, ports: Ports) -> tuple[Invoice, Customer]:
    invoice = ports.store.get_invoice(invoice_id)
    if invoice is None:
        raise InvoiceNotFound(f"invoice {invoice_id} is not in the store")
    customer = ports.store.get_customer(invoice.customer_id)
    if customer is None:
        raise InvoiceNotFound(f"customer {invoice.customer_id} of invoice {invoice_id} is not in the store")
    return invoice, customer


def _pinned_policy(invoice: Invoice, ports: Ports) -> Policy:
    if invoice.policy_id is None or invoice.policy_version is None:
        raise InvoiceNotFound(f"invoice {invoice.invoice_id} has no policy pinned: collection never started")
    return ports.policies.get(invoice.policy_id, invoice.policy_version)


def _log(ports: Ports, invoice: Invoice, at: datetime, kind: str, policy: Policy | None = None, **fields: Any):
    if policy is not None:
        fields.setdefault("policy_id", policy.policy_id)
        fields.setdefault("policy_version", policy.version)
    return ports.log.append(invoice.invoice_id, invoice.customer_id, at, kind=kind, actor=WORKFLOW_ACTOR, **fields)


def start_collection(invoice_id: str, execution_arn: str | None, default_policy_id: str, ports: Ports,
                     owner: str | None = None) -> Decision:
    """First step of an invoice's workflow: pin the policy, skip what is already past, plan. `owner`: as run_due_steps'."""
    now = ports.clock.now()
    invoice, customer = _load(invoice_id, ports)
    if invoice.policy_id is None or invoice.policy_version is None:
        # The customer's own policy if the finance team gave it one, else the stack's default.
        # And the segment it starts in: a later change of the customer's segment never re-plans this invoice.
        policy = ports.policies.current(customer.policy_id or default_policy_id)
        customer = start_with_risk(invoice, customer, policy, ports, now)  # the band's segment, the credit limit
        segment = collection_segment(invoice, customer, policy)
        ports.store.pin_policy(invoice_id, policy.policy_id, policy.version, execution_arn, segment=segment,
                              started_at=now)
        invoice = invoice.model_copy(update={"policy_id": policy.policy_id, "policy_version": policy.version,
                                             "segment": invoice.segment or segment})
    else:
        policy = _pinned_policy(invoice, ports)
    if invoice.is_settled:
        return close_collection(invoice, policy, ports, now, owner)
    insolvency = ports.store.insolvency_of(customer.customer_id)
    if insolvency is not None:
        return _hold_for_insolvency(invoice, customer, insolvency, ports, now)
    planned = plan_for(invoice, customer, policy)
    # A retry of a start that died (the same owner) logs what it did not, once, and skips the same steps.
    start = _record_once(invoice, policy, _START_CLAIM, owner, ports, now, lambda at: ("collection_started", {"details": {
        "segment": collection_segment(invoice, customer, policy),
        "planned": [{"step_id": p.step.id, "stage": p.step.stage.value, "at": to_iso_z(p.at)} for p in planned],
    }}))
    if start is not None:
        _skip_steps(invoice, policy, steps_to_skip_at_start(planned, start), ports, now,
                    "the invoice reached Arrears after this step's date", owner)
        invoice = ports.store.get_invoice(invoice_id) or invoice
    return _next_decision(invoice, customer, policy, planned, ports, now)


def _record_once(invoice: Invoice, policy: Policy | None, record_id: str, owner: str | None, ports: Ports, now: datetime,
                 entry_of: Callable[[datetime], tuple[str, dict[str, Any]]], wait: bool = True) -> datetime | None:
    """A once-only record of the workflow's own (its start, its close): claimed like a contact, its entry recorded
    in the claim, then logged, so a retry of an attempt that died (the same owner) writes it once. `entry_of(at)`:
    the entry's kind and fields (it may open a task, due `at`: the first attempt's moment, so the same task). When
    this call or its dead attempt made the record, that moment; None when another caller made it (`wait`: while
    another caller is making it, StepInProgress, for the workflow's Retry)."""
    claim = _take_step(invoice, record_id, owner, ports, now)
    at = claim.claimed_at or now
    if claim.mine and claim.phase == PHASE_CLAIMED:
        kind, entry = entry_of(at)
        _log_claimed(invoice, policy, record_id, claim, kind, entry, ports, now)
    elif claim.mine:
        _log_recorded(invoice, policy, record_id, claim.record["log"], ports, now)
        _complete_step(invoice, record_id, claim, ports)
    elif claim.phase != PHASE_DONE and wait:
        raise StepInProgress(f"{record_id} of {invoice.invoice_id} is held by another caller ({claim.phase})")
    return at if claim.mine or (owner is not None and claim.owner == owner) else None


def _skip_steps(invoice: Invoice, policy: Policy, steps: list[PlannedStep], ports: Ports, now: datetime, reason: str,
                owner: str | None = None) -> None:
    """Steps never sent, each logged once: claimed like a contact, so a retry after a crash logs what was skipped."""
    for skipped in steps:
        claim = _take_step(invoice, skipped.step.id, owner, ports, now)
        if claim.mine and claim.phase == PHASE_CLAIMED:
            _log_claimed(invoice, policy, skipped.step, claim, "step_skipped", {
                "step_id": skipped.step.id, "stage": skipped.step.stage.value,
                "details": {"reason": reason, "planned_at": to_iso_z(skipped.at)}}, ports, now)
            continue
        if claim.mine:
            _finish_interrupted_step(invoice, policy, skipped.step, {}, claim, ports, now)
            continue
        if claim.phase != PHASE_DONE:
            raise StepInProgress(f"step {skipped.step.id} of {invoice.invoice_id} is held by another caller ({claim.phase})")
        ports.store.save_progress(invoice.invoice_id, skipped.step.id, None, closed=False)


def _hold_for_insolvency(invoice: Invoice, customer: Customer, insolvency: dict[str, Any], ports: Ports,
                         now: datetime) -> Decision:
    """A new invoice of an insolvent customer is never chased: held at once, and a person adds it to the claim."""
    hold = Hold(kind=HoldKind.INSOLVENCY, since=now, reason=insolvency["notice"], actor=WORKFLOW_ACTOR)
    if ports.store.set_hold(invoice.invoice_id, hold) and ports.store.claim_step(invoice.invoice_id, "-insolvency", now):
        _log(ports, invoice, now, "insolvency", details={"notice": insolvency["notice"], "declared_at": insolvency["at"],
                                                         "balance": invoice.amount_remaining, "currency": invoice.currency})
        ports.store.open_task(invoice.invoice_id, "add_to_insolvency_claim", now, {
            "customer_id": customer.customer_id, "customer": customer.name, "notice": insolvency["notice"],
            "balance": invoice.amount_remaining, "currency": invoice.currency})
    # Still owed (it stays in the receivables and the open list, on hold); only the workflow ends.
    return Decision(status="closed", reason="customer insolvent")


def run_due_steps(invoice_id: str, ports: Ports, owner: str | None = None) -> Decision:
    """Wake-up of the workflow: re-read the invoice, send what is due, plan the next step. `owner`: who acts (the
    state machine's state entry: its retries are the same owner and finish what a dead attempt began)."""
    now = ports.clock.now()
    invoice, customer = _load(invoice_id, ports)
    if invoice.is_settled:
        # Before anything else: settled before its workflow even pinned a policy, it still just closes.
        pinned = _pinned_policy(invoice, ports) if invoice.policy_id and invoice.policy_version else None
        _finish_interrupted_steps(invoice, customer, pinned, owner, ports, now)
        return close_collection(invoice, pinned, ports, now, owner)
    policy = _pinned_policy(invoice, ports)
    taken = _early_payment_taken(invoice, customer, policy, ports)
    if taken is not None:
        return taken(now, owner)
    if invoice.hold is not None:
        if invoice.hold.active_at(now):
            return _hold_decision(invoice, now)
        expired = invoice.hold
        if expired.kind is HoldKind.PAYMENT_PLAN:
            kept = _follow_payment_plan(invoice, customer, policy, expired, ports, now, owner)
            if kept is not None:
                return kept
        broken = {HoldKind.PROMISE: "broken_promise", HoldKind.PAYMENT_PLAN: "broken_payment_plan"}.get(expired.kind)
        claim: StepClaim | None = None
        if broken is not None and not invoice.is_settled:
            # Its message is this wake-up's first contact: while the customer was contacted too recently (about
            # another invoice), the hold stays, expired, and the workflow comes back when the gap has passed.
            # The step first, then the customer's slot: a step done already never holds the slot for nothing.
            claim = _take_step(invoice, _hold_step_id(broken, expired), owner, ports, now)
            wait = _claim_contact(invoice, customer, policy, _hold_step_id(broken, expired), ports, now) if (
                claim.mine and claim.phase == PHASE_CLAIMED) else None
            if wait is not None:
                ports.store.release_step(invoice_id, _hold_step_id(broken, expired), claim.holder)
                _log_deferral(invoice, policy, _hold_notice_step(broken, expired, invoice, now), wait, ports, now)
                return Decision(status="active", stage=Stage.OVERDUE_REMINDER.value, step_id=_hold_step_id(broken, expired),
                                next_at=to_iso_z(wait.at), wait_seconds=_seconds_until(wait.at, now))
        expire_hold(invoice_id, invoice.customer_id, expired, ports.store, ports.log)
        invoice = ports.store.get_invoice(invoice_id) or invoice
        if broken is not None and not invoice.is_settled:
            figures = ({"promised_on": expired.promised_on, "promised_at": expired.since.date()}
                       if expired.kind is HoldKind.PROMISE else _plan_figures(invoice, expired, now, policy, customer))
            _send_hold_notice(invoice, customer, policy, ports, now, broken, expired, figures, contact_claimed=True,
                              claim=claim)
            invoice = ports.store.get_invoice(invoice_id) or invoice
        elif broken is not None and claim is not None and claim.mine:
            ports.store.release_step(invoice_id, _hold_step_id(broken, expired), claim.holder)  # settled: never sent
    planned = plan_for(invoice, customer, policy)
    due_now = [p for p in planned if p.step.id not in invoice.completed_steps and p.at <= now + _DUE_TOLERANCE]
    if due_now and next_allowed_moment(now, policy.calendar, zone_of(customer.timezone, policy.default_timezone),
                                       customer.address.country) > now + _DUE_TOLERANCE:
        # Woken outside the debtor's business hours (a hold lifted at the weekend): nothing goes out now;
        # the next decision moves the due step to the next moment they may be contacted.
        due_now = []
    if len({p.at for p in due_now}) > 1:
        # Steps of different dates due at once (the due date moved earlier, the workflow woke late): never a
        # burst of messages; only the latest, as when an invoice reaches Arrears late.
        superseded = steps_to_skip_at_start(due_now, now + 2 * _DUE_TOLERANCE)
        _skip_steps(invoice, policy, superseded, ports, now, "superseded by a later step due at the same time", owner)
        invoice = invoice.model_copy(update={"completed_steps": (*invoice.completed_steps, *(p.step.id for p in superseded))})
        due_now = [p for p in due_now if p not in superseded]
    not_before = None
    for due in due_now:
        wait = _perform_step(invoice, customer, policy, due, ports, now, owner=owner)
        if wait is not None:
            not_before = wait.at if not_before is None else min(not_before, wait.at)
            continue
        invoice = invoice.model_copy(update={"completed_steps": (*invoice.completed_steps, due.step.id)})
    return _next_decision(invoice, customer, policy, planned, ports, now, not_before)


def escalate_now(invoice_id: str, actor: str, ports: Ports, request_id: str | None = None) -> dict[str, Any]:
    """The finance team sends the next pending step now instead of at its date. The workflow, waiting
    for that step's date, finds it done when it wakes and moves on; later steps keep their dates.

    Once per request: the request is claimed first, so a second invocation for it (the finance API's
    invoke retried, or answered "in progress" and asked again) escalates nothing and logs nothing; it
    answers the first's result when that is logged, else that the request is still in progress."""
    from arrears.domain.holds import ActionRefused

    now = ports.clock.now()
    if request_id is not None:
        if not ports.store.claim_step(invoice_id, f"{_ESCALATION_REQUEST}{request_id}", ports.clock.now()):
            return _escalation_of_request(invoice_id, request_id, ports) or {"invoice_id": invoice_id, "in_progress": True}
        try:
            return _escalate_now(invoice_id, actor, ports, now, request_id)
        except ActionRefused:
            ports.store.release_step(invoice_id, f"{_ESCALATION_REQUEST}{request_id}")  # nothing was done
            raise
    return _escalate_now(invoice_id, actor, ports, now, None)


def _escalation_owner(actor: str, request_id: str | None, now: datetime) -> str:
    """Who escalates: the finance API's request (its retries are the same owner), else this one call."""
    return f"escalate:{request_id}" if request_id else f"escalate:{actor}:{to_iso_z(now)}"


_ESCALATION_REQUEST = "escalate-request:"


def _escalation_of_request(invoice_id: str, request_id: str, ports: Ports) -> dict[str, Any] | None:
    """What the escalation asked by `request_id` did, read back from the contact log (None: not logged yet)."""
    for entry in ports.log.entries(invoice_id):
        if entry.kind == "escalated" and entry.details.get("request_id") == request_id:
            return {"invoice_id": invoice_id, "step_id": entry.step_id, "stage": entry.stage,
                    "planned_at": entry.details.get("planned_at")}
    return None


def _escalate_now(invoice_id: str, actor: str, ports: Ports, now: datetime, request_id: str | None) -> dict[str, Any]:
    from arrears.domain.holds import ActionRefused

    invoice = ports.store.get_invoice(invoice_id)
    if invoice is None:
        raise ActionRefused("unknown_invoice", f"no invoice {invoice_id}")
    if invoice.is_settled:
        raise ActionRefused("invoice_closed", f"invoice {invoice_id} is settled ({invoice.status.value}): nothing to escalate")
    if invoice.hold is not None:
        raise ActionRefused("on_hold", f"invoice {invoice_id} is on hold ({invoice.hold.kind.value}): release it first")
    if invoice.policy_id is None or invoice.policy_version is None:
        raise ActionRefused("collection_not_started", f"invoice {invoice_id} has no collection to escalate yet")
    invoice, customer = _load(invoice_id, ports)
    policy = _pinned_policy(invoice, ports)
    pending = [p for p in plan_for(invoice, customer, policy) if p.step.id not in invoice.completed_steps]
    if not pending:
        raise ActionRefused("nothing_to_escalate", f"every step of invoice {invoice_id}'s policy is done")
    allowed = next_allowed_moment(now, policy.calendar, zone_of(customer.timezone, policy.default_timezone),
                                  customer.address.country)
    if allowed > now + _DUE_TOLERANCE:
        # Never harass: a person's button does not override the debtor's business days and hours.
        raise ActionRefused("outside_contact_hours",
                            f"{customer.name} may be contacted again from {to_iso_z(allowed)}; escalate then")
    step = pending[0]
    # The step first (a scheduled wake-up may be sending it this moment), then the customer's slot.
    claim = _take_step(invoice, step.step.id, _escalation_owner(actor, request_id, now), ports, now)
    if not claim.mine:
        if claim.phase == PHASE_DONE:  # its workflow sent it a moment ago (and has not recorded its progress yet)
            ports.store.save_progress(invoice_id, step.step.id, None, closed=False)
        raise ActionRefused("step_in_progress", f"step {step.step.id} of invoice {invoice_id} is being sent by its "
                                                "workflow right now: look at its contact log in a minute")
    gapped = claim.phase == PHASE_CLAIMED and step.step.channel in _GAPPED_CHANNELS
    wait = _claim_contact(invoice, customer, policy, step.step.id, ports, now) if gapped else None
    if wait is not None and wait.reason is not None:
        ports.store.release_step(invoice_id, step.step.id, claim.holder)
        raise ActionRefused("reply_pending", f"{customer.name} replied on {to_iso_z(wait.ahead.at)} (invoice "
                                             f"{wait.ahead.invoice_id}): handle its read_reply task first")
    if wait is not None:
        ports.store.release_step(invoice_id, step.step.id, claim.holder)
        raise ActionRefused("contacted_recently", f"{customer.name} has a message at {to_iso_z(wait.ahead.at)} (invoice "
                                                  f"{wait.ahead.invoice_id}); the policy's gap allows the next one from "
                                                  f"{to_iso_z(wait.at)}: escalate then")
    _log(ports, invoice, now, "escalated", policy, step_id=step.step.id, stage=step.step.stage.value,
         details={"by": actor, "planned_at": to_iso_z(step.at), **({"request_id": request_id} if request_id else {})})
    _perform_step(invoice, customer, policy, PlannedStep(step=step.step, at=now), ports, now, contact_claimed=True,
                  claim=claim)
    return {"invoice_id": invoice_id, "step_id": step.step.id, "stage": step.step.stage.value, "planned_at": to_iso_z(step.at)}


def collection_segment(invoice: Invoice, customer: Customer | None, policy: Policy) -> str:
    """The segment of its pinned policy an invoice is collected in: the one recorded when its collection started;
    for an invoice pinned before segments were recorded, the customer's current one. The policy's default segment
    when the policy does not name it."""
    segment = invoice.segment or (customer.segment if customer is not None else None)
    return segment if segment in policy.segments else policy.default_segment


def plan_for(invoice: Invoice, customer: Customer, policy: Policy) -> list[PlannedStep]:
    """Every step of the invoice's pinned policy and segment with its moment (pending steps moved by days on hold)."""
    # A plan depends only on these (a policy version never changes), and each wake-up of an invoice's
    # workflow re-plans: remember recent plans. Keyed by the policy object itself (held in the value).
    segment = collection_segment(invoice, customer, policy)
    key = (id(policy), segment, invoice.due_at, customer.timezone, customer.address.country,
           invoice.schedule_shift_days)
    hit = _PLANS.get(key)
    if hit is not None and hit[0] is policy:
        return list(hit[1])
    planned = plan_steps(policy, segment, invoice.due_at, customer.timezone, customer.address.country,
                         invoice.schedule_shift_days)
    with _PLANS_LOCK:
        if len(_PLANS) >= _PLANS_SIZE:
            del _PLANS[next(iter(_PLANS))]  # oldest first
        _PLANS[key] = (policy, tuple(planned))
    return planned


_PLANS: dict[tuple, tuple[Policy, tuple[PlannedStep, ...]]] = {}
_PLANS_LOCK = threading.Lock()
_PLANS_SIZE = 8192


# An open-ended hold (a dispute) is re-read this often even if nobody lifts it, so a lost wake-up heals itself.
_OPEN_HOLD_RECHECK = timedelta(days=30)


def _send_hold_notice(invoice: Invoice, customer: Customer, policy: Policy, ports: Ports, now: datetime, template: str,
                      hold: Hold, extra: dict[str, Any], suffix: str = "", contact_claimed: bool = False,
                      owner: str | None = None, claim: StepClaim | None = None) -> ContactWait | None:
    """A message of the hold's own (a broken promise or plan, an instalment reminder), once per hold."""
    step = _hold_notice_step(template, hold, invoice, now, suffix)
    return _perform_step(invoice, customer, policy, PlannedStep(step=step, at=now), ports, now, extra=extra,
                         contact_claimed=contact_claimed, owner=owner, claim=claim)


def _hold_notice_step(template: str, hold: Hold, invoice: Invoice, now: datetime, suffix: str = "") -> Step:
    days_late = (now.date() - invoice.due_at.date()).days
    return Step(id=_hold_step_id(template, hold, suffix), stage=Stage.OVERDUE_REMINDER,
                channel=Channel.EMAIL, template=template, tone="firm" if template.startswith("broken") else "polite",
                offset_days=max(-60, min(365, days_late)))


def _hold_step_id(template: str, hold: Hold, suffix: str = "") -> str:
    return f"{template}{suffix}_{hold.since:%Y%m%d%H%M%S}"


def _plan_figures(invoice: Invoice, hold: Hold, now: datetime, policy: Policy, customer: Customer) -> dict[str, Any]:
    """What a payment plan's messages say: agreed when, paid since, and the instalment at stake."""
    from arrears.domain.holds import plan_checkpoints

    checks = [p for p in plan_checkpoints(hold, policy, zone_of(customer.timezone, policy.default_timezone),
                                          customer.address.country) if p.kind == "check"]
    due_indexes = [p.index for p in checks if p.at <= now + _DUE_TOLERANCE]
    at_stake = hold.instalments[due_indexes[-1] if due_indexes else 0]
    paid = (hold.plan_balance or 0) - invoice.amount_remaining
    return {"agreed_on": hold.since.date(), "instalments": len(hold.instalments), "paid_minor": max(0, paid),
            "due_so_far_minor": sum(hold.instalments[i].amount for i in due_indexes),
            "instalment_due_on": at_stake.due_on, "instalment_minor": at_stake.amount,
            "instalment_number": hold.instalments.index(at_stake) + 1}


def _follow_payment_plan(invoice: Invoice, customer: Customer, policy: Policy, hold: Hold, ports: Ports,
                         now: datetime, owner: str | None = None) -> Decision | None:
    """A payment plan's checkpoint: remind of the next instalment, or check the ones due were paid. The
    plan's hold moves on to its next checkpoint; None when the plan ended (kept or broken)."""
    from arrears.domain.holds import plan_checkpoints

    points = plan_checkpoints(hold, policy, zone_of(customer.timezone, policy.default_timezone), customer.address.country)
    paid = (hold.plan_balance or 0) - invoice.amount_remaining
    due_so_far = sum(hold.instalments[p.index].amount for p in points if p.kind == "check" and p.at <= now + _DUE_TOLERANCE)
    if paid < due_so_far:
        return None  # broken: the hold lifts and its own message goes out
    upcoming = [p.at for p in points if p.at > now + _DUE_TOLERANCE]
    for point in [p for p in points if p.kind == "remind" and p.at <= now + _DUE_TOLERANCE]:
        sent = _hold_step_id("instalment_reminder", hold, f"_{point.index + 1}") in invoice.completed_steps
        covered = sum(i.amount for i in hold.instalments[:point.index + 1]) <= paid
        if not sent and not covered:
            figures = {**_plan_figures(invoice, hold, now, policy, customer),
                       "instalment_due_on": hold.instalments[point.index].due_on,
                       "instalment_minor": hold.instalments[point.index].amount, "instalment_number": point.index + 1}
            wait = _send_hold_notice(invoice, customer, policy, ports, now, "instalment_reminder", hold, figures,
                                     suffix=f"_{point.index + 1}", owner=owner)
            if wait is not None:
                # The reminder waits out the customer's gap (the plan's checkpoints keep their dates).
                upcoming = sorted({*upcoming, wait.at})
    if not upcoming or not ports.store.renew_hold(invoice.invoice_id, upcoming[0]):
        return None  # every instalment checked (or the hold was lifted meanwhile)
    renewed = ports.store.get_invoice(invoice.invoice_id) or invoice
    return _hold_decision(renewed, now) if renewed.hold is not None else None


def _hold_decision(invoice: Invoice, now: datetime) -> Decision:
    hold = invoice.hold
    assert hold is not None
    until = hold.until or now + _OPEN_HOLD_RECHECK
    seconds = max(1, math.ceil((until - now).total_seconds()))
    return Decision(status="hold", reason=hold.kind.value, hold_seconds=seconds)


def park_for_hold(invoice_id: str, task_token: str, workflows: Any, ports: Ports) -> dict[str, Any]:
    """The workflow parks on a task token while the invoice is on hold; releasing the hold wakes it.
    If the hold was lifted between the decision and now, wake at once."""
    if not ports.store.save_hold_token(invoice_id, task_token):
        workflows.resume(task_token)
        return {"parked": False}
    return {"parked": True}


def close_collection(invoice: Invoice, policy: Policy | None, ports: Ports, now: datetime,
                     owner: str | None = None, reason: str | None = None, details: dict[str, Any] | None = None) -> Decision:
    # Open with nothing left to pay means it was paid in full (e.g. out of band); otherwise the status says why.
    reason = reason or settlement_reason(invoice)
    _record_once(invoice, policy, _CLOSE_CLAIM, owner, ports, now, lambda at: ("collection_closed", {"details": {
        "reason": reason, **(details or {})}}))
    ports.store.save_progress(invoice.invoice_id, None, None, closed=True)
    # A task for a person never outlives its reason (those the settlement itself did not close already).
    close_tasks_of_settled_invoice(invoice, reason, WORKFLOW_ACTOR, ports.store, ports.log, now)  # type: ignore[arg-type]
    return Decision(status="closed", reason=reason)


def _early_payment_taken(invoice: Invoice, customer: Customer, policy: Policy,
                         ports: Ports) -> Callable[[datetime, str | None], Decision] | None:
    """The invoice was paid, less the policy's early-payment discount, inside its window (arrears.domain.early_payment):
    collection closes (no more messages) and a person issues the credit note for the discount. None otherwise."""
    zone = zone_of(customer.timezone, policy.default_timezone)
    offer = early_payment_offer(invoice, policy, zone)
    if offer is None or invoice.amount_paid < offer.pay_minor:
        return None
    payment = paid_early(offer, ports.log.entries(invoice.invoice_id), zone)
    if payment is None:
        return None
    details = {"discount_percent": str(offer.percent), "discount": offer.discount_minor, "currency": invoice.currency,
               "paid": invoice.amount_paid, "window_until": offer.until.isoformat(), "payment_seq": payment.seq}

    def close(now: datetime, owner: str | None) -> Decision:
        decision = close_collection(invoice, policy, ports, now, owner, reason="paid_early_with_discount", details=details)
        # Opened after the close (which closes the invoice's other tasks); due from the payment, so a retry opens it again.
        ports.store.open_task(invoice.invoice_id, ISSUE_CREDIT_NOTE, payment.at, {
            **details, "reason": f"paid {invoice.amount_paid} {invoice.currency} (minor units) by {offer.until}: issue a "
                                 f"credit note of {offer.discount_minor} for the {offer.percent}% early-payment discount"})
        return decision

    return close


def record_workflow_failure(invoice_id: str, error: str, cause: str, ports: Ports) -> dict[str, Any]:
    """The Catch of every task ends here: the failure is logged and a person gets a task. Both keep the
    error's type and a short message; the stack trace stays in the function's log."""
    from arrears.domain.failures import failure_summary

    now = ports.clock.now()
    invoice = ports.store.get_invoice(invoice_id)
    details = failure_summary(error, cause)
    # Nothing half-done stays claimed, so a person's retry (a redrive) sends it: a step whose message never reached
    # SES is given back; one that did ("sending", "sent") is finished by the next caller (docs/architecture.md), named here.
    interrupted = []
    for step_id, claim in sorted(ports.store.step_claims(invoice_id).items()):
        if claim.phase == PHASE_CLAIMED:
            ports.store.release_step(invoice_id, step_id, claim.holder)
        elif claim.phase in (PHASE_SENDING, PHASE_SENT):
            interrupted.append(step_id)
    if interrupted:
        details = {**details, "interrupted_steps": interrupted}
    task_id = ports.store.open_task(invoice_id, "investigate_workflow_failure", now, details)
    if invoice is not None:
        _log(ports, invoice, now, "workflow_failed", details={**details, "task_id": task_id})
    return {"status": "failed", "task_id": task_id}


def _next_decision(invoice: Invoice, customer: Customer, policy: Policy, planned: list[PlannedStep], ports: Ports,
                   now: datetime, not_before: datetime | None = None) -> Decision:
    """`not_before`: a due contact waits for the customer's gap (an allowed moment, from _claim_contact)."""
    pending = [p for p in planned if p.step.id not in invoice.completed_steps]
    if not pending:
        ports.store.save_progress(invoice.invoice_id, None, None, closed=False)
        return Decision(status="complete", reason="every step of the policy is done")
    upcoming = pending[0]
    # A step already due (an invoice that arrived late) goes out now, if now is a moment the debtor may be contacted.
    at = upcoming.at if upcoming.at >= now else next_allowed_moment(
        now, policy.calendar, zone_of(customer.timezone, policy.default_timezone), customer.address.country)
    if not_before is not None and at < not_before:
        at = not_before
    ports.store.save_progress(invoice.invoice_id, None, at, closed=False)
    return Decision(status="active", stage=upcoming.step.stage.value, step_id=upcoming.step.id, next_at=to_iso_z(at),
                    wait_seconds=_seconds_until(at, now))


def _seconds_until(at: datetime, now: datetime) -> int:
    """A task token's timeout (whole seconds, at least one) that ends at `at`."""
    return max(1, math.ceil((at - now).total_seconds()))


def park_until_next_step(invoice_id: str, task_token: str, next_at: str | None, workflows: Any, ports: Ports) -> dict[str, Any]:
    """The workflow waits for its next step on a task token (its timeout is the step's moment), so that a hold
    placed meanwhile wakes it at once (`arrears.domain.holds.place_hold`). Already due, or a hold is on already: wake now."""
    now = ports.clock.now()
    # The invoice as the save left it: a hold placed before the save did not find the token, so it is seen here.
    invoice = ports.store.save_wake_token(invoice_id, task_token)
    held = invoice is not None and invoice.hold is not None and invoice.hold.active_at(now)
    if held or invoice is None or invoice.is_settled or (next_at is not None and parse_iso(next_at) <= now + _DUE_TOLERANCE):
        if ports.store.take_wake_token(invoice_id) == task_token:
            workflows.resume(task_token)
        return {"waiting": False}
    return {"waiting": True}


@dataclass(frozen=True)
class ContactWait:
    """A message that must wait: the message ahead of it (sent, or next in line), and when it may go."""

    ahead: RecentContact
    at: datetime  # the first allowed moment once the gap after `ahead` has passed
    reason: str | None = None  # not the gap: the customer's reply (reply | out_of_office) waits for a person


def _claim_contact(invoice: Invoice, customer: Customer, policy: Policy, step_id: str, ports: Ports,
                   now: datetime) -> ContactWait | None:
    """Claim the customer's next message (across its invoices); None when this one may go now. A refused
    message becomes next in line for the moment it may go, unless another message already is. While the customer's
    reply waits for a person (arrears.domain.reply_pause), every message waits for the pause's end."""
    paused = active_pause(ports.store, customer.customer_id, now)
    if paused is not None:
        since = parse_iso(paused["since"])
        return ContactWait(RecentContact(invoice_id=paused["invoice_id"], step_id=f"-{paused['reason']}", at=since),
                           paused["until"], reason=paused["reason"])
    ahead = ports.store.claim_contact_slot(customer.customer_id, invoice.invoice_id, step_id, now, policy.contact_gap)
    for _ in range(_MAX_RELEASES):
        # A message queued ahead whose invoice has since been settled never comes: its place is freed at once.
        other = ports.store.get_invoice(ahead.invoice_id) if ahead is not None and ahead.invoice_id != invoice.invoice_id else None
        if other is None or not other.is_settled:
            break
        ports.store.release_contact_reservation(customer.customer_id, ahead.invoice_id, now)
        again = ports.store.claim_contact_slot(customer.customer_id, invoice.invoice_id, step_id, now, policy.contact_gap)
        if again == ahead:
            break  # the last message sent, not a queued one: the gap after it holds whatever became of its invoice
        ahead = again
    if ahead is None:
        return None
    wait = ContactWait(ahead, deferred_moment(ahead.at + policy.contact_gap, policy.contact_time, policy.calendar,
                                              zone_of(customer.timezone, policy.default_timezone), customer.address.country))
    ports.store.reserve_contact_slot(customer.customer_id, invoice.invoice_id, step_id, wait.at, now)
    return wait


def _log_deferral(invoice: Invoice, policy: Policy, step: Step, wait: ContactWait, ports: Ports, now: datetime) -> None:
    if wait.reason is not None:
        details: dict[str, Any] = {"until": to_iso_z(wait.at), "reason": _PAUSE_REASONS.get(wait.reason, wait.reason),
                                   "reply": {"invoice_id": wait.ahead.invoice_id, "at": to_iso_z(wait.ahead.at)}}
    else:
        details = {"until": to_iso_z(wait.at), "gap_days": policy.minimum_contact_gap_days,
                   "reason": "another message to the customer is less than the policy's minimum gap ahead of this one",
                   "waiting_behind": {"invoice_id": wait.ahead.invoice_id, "step_id": wait.ahead.step_id,
                                      "at": to_iso_z(wait.ahead.at)}}
    _log(ports, invoice, now, "contact_deferred", policy, step_id=step.id, stage=step.stage.value, channel=step.channel.value,
         template=step.template, details=details)


_PAUSE_REASONS = {"reply": "the customer replied: automated messages wait until a person has read the reply",
                  "out_of_office": "the customer's out-of-office names a return date: the message waits for it"}


def _perform_step(invoice: Invoice, customer: Customer, policy: Policy, due: PlannedStep, ports: Ports, now: datetime,
                  extra: dict[str, Any] | None = None, contact_claimed: bool = False, owner: str | None = None,
                  claim: StepClaim | None = None) -> ContactWait | None:
    """Send one step once (the send protocol: docs/architecture.md). Returns when a message must wait for the customer's
    gap (nothing was sent). `contact_claimed`: the caller already holds the customer's contact slot for this step
    (escalate now, a broken promise's message), and `claim` the step, so neither is claimed a second time. `owner`:
    who acts; its retry finishes what it began."""
    step = due.step
    common = {"step_id": step.id, "stage": step.stage.value, "channel": step.channel.value, "template": step.template}
    try:
        notice = build_notice(invoice, customer, policy, step, now,
                              partial_payments(invoice, customer, policy, step, ports.log.entries))
        if extra:
            notice = replace(notice, extra=extra)
        # A referral below the threshold or without its final notice only opens a task: no message, no gap.
        withheld = _referral_withheld(invoice, notice, policy, ports) if step.channel is Channel.REFERRAL else None
    except NoticeIncomplete as missing:
        return _block_step(invoice, policy, step, common, missing, claim, owner, ports, now)
    # The step first, then the customer's slot: a step another caller did never holds the slot for nothing.
    claim = claim or _take_step(invoice, step.id, owner, ports, now)
    if not claim.mine:
        if claim.phase != PHASE_DONE:
            raise StepInProgress(f"step {step.id} of {invoice.invoice_id} is held by another caller ({claim.phase})")
        ports.store.save_progress(invoice.invoice_id, step.id, None, closed=False)  # done by an earlier caller
        return None
    if claim.phase != PHASE_CLAIMED:
        _finish_interrupted_step(invoice, policy, step, common, claim, ports, now)
        return None
    try:
        if step.channel in _GAPPED_CHANNELS and withheld is None and not contact_claimed:
            wait = _claim_contact(invoice, customer, policy, step.id, ports, now)
            if wait is not None:
                ports.store.release_step(invoice.invoice_id, step.id, claim.holder)
                _log_deferral(invoice, policy, step, wait, ports, now)
                return wait
        if withheld is None and extra is None and policy.consolidation.enabled and step.channel in _CONSOLIDATED_CHANNELS:
            if consolidated_send.send_consolidated(invoice, customer, policy, due, claim, owner, ports, now, _SEND_PATH):
                return None  # one message for the customer's invoices due within the window, this one's step with them
        prepared = withheld or _prepare(step.channel, notice, invoice, customer, policy, ports, owner)
    except NoticeIncomplete as missing:
        return _block_step(invoice, policy, step, common, missing, claim, owner, ports, now)
    except Exception:
        ports.store.release_step(invoice.invoice_id, step.id, claim.holder)  # nothing was sent (DynamoDB, S3 failed)
        raise
    sends = StepSends(ports, invoice.invoice_id, step.id, claim.holder, claim.claimed_at or now)
    try:
        fields = prepared(ports, sends)
    except Exception:
        # Nothing was handed to SES (phase "claimed"): let the retry send it. Handed (or unsure): the claim stays.
        ports.store.release_step(invoice.invoice_id, step.id, claim.holder)
        raise
    _record_and_log(invoice, policy, step, common, fields, claim, ports, now)
    return None


def _take_step(invoice: Invoice, step_id: str, owner: str | None, ports: Ports, now: datetime) -> StepClaim:
    return ports.store.take_step(invoice.invoice_id, step_id, owner, now, now + STEP_CLAIM_TTL)


def _block_step(invoice: Invoice, policy: Policy, step: Step, common: dict[str, Any], missing: NoticeIncomplete,
                claim: StepClaim | None, owner: str | None, ports: Ports, now: datetime) -> None:
    """Not transient: retrying would fail the same way. Record it and hand it to a person."""
    claim = claim or _take_step(invoice, step.id, owner, ports, now)
    if claim.mine and claim.phase == PHASE_CLAIMED:
        task_id = ports.store.open_task(invoice.invoice_id, "complete_debtor_data", claim.claimed_at or now,
                                        {"step_id": step.id, "missing": str(missing)})
        _record_and_log(invoice, policy, step, common, {"kind": "contact_blocked", "details": {
            "missing": str(missing), "task_id": task_id}}, claim, ports, now, channel=step.channel.value)
        return
    if claim.mine:
        _finish_interrupted_step(invoice, policy, step, common, claim, ports, now)
        return
    if claim.phase != PHASE_DONE:
        raise StepInProgress(f"step {step.id} of {invoice.invoice_id} is held by another caller ({claim.phase})")
    ports.store.save_progress(invoice.invoice_id, step.id, None, closed=False)


def _record_and_log(invoice: Invoice, policy: Policy, step: Step, common: dict[str, Any], fields: dict[str, Any],
                    claim: StepClaim, ports: Ports, now: datetime, channel: str | None = None) -> None:
    """The contact's log entry: recorded in the claim first ("sent"), so a retry after a crash writes it from the
    record, once; then logged, the claim done, the step completed."""
    kind = fields.pop("kind", step.channel.value)
    entry = {**common, "channel": fields.pop("channel", channel or step.channel.value), **fields}  # email may go by post
    _log_claimed(invoice, policy, step, claim, kind, entry, ports, now)


def _log_claimed(invoice: Invoice, policy: Policy | None, step: Step | str, claim: StepClaim, kind: str,
                 entry: dict[str, Any], ports: Ports, now: datetime) -> None:
    """Record the entry in the claim ("sent"), log it, complete the step (a policy step; a once-only record's id is
    only done)."""
    step_id = step if isinstance(step, str) else step.id
    if not ports.store.advance_step(invoice.invoice_id, step_id, claim.holder, (PHASE_CLAIMED, PHASE_SENDING, PHASE_SENT),
                                    PHASE_SENT, {"log": {"kind": kind, **_recordable(entry)}}):
        raise StepInProgress(f"step {step_id} of {invoice.invoice_id} was taken over while it was being sent")
    _log(ports, invoice, now, kind, policy, **entry)
    _complete_step(invoice, step, claim, ports)


def _complete_step(invoice: Invoice, step: Step | str, claim: StepClaim, ports: Ports) -> None:
    step_id = step if isinstance(step, str) else step.id
    ports.store.advance_step(invoice.invoice_id, step_id, claim.holder, (PHASE_SENDING, PHASE_SENT), PHASE_DONE)
    if not isinstance(step, str):
        ports.store.save_progress(invoice.invoice_id, step_id, None, closed=False)


def _log_recorded(invoice: Invoice, policy: Policy | None, step_id: str, entry: dict[str, Any], ports: Ports,
                  now: datetime) -> None:
    """A recorded entry ({"kind": ..., fields}) logged, unless its attempt logged it before dying."""
    entry = dict(entry)
    kind = entry.pop("kind")
    logged = any(e.step_id == entry.get("step_id") and e.kind == kind and e.message_id == entry.get("message_id")
                 for e in ports.log.entries(invoice.invoice_id))
    if not logged:
        _log(ports, invoice, now, kind, policy, **entry)


def _recordable(fields: dict[str, Any]) -> dict[str, Any]:
    """Log fields as JSON values (the claim's record), artefacts as their fields."""
    artefacts = [a.model_dump(mode="json") if isinstance(a, Artefact) else a for a in fields.get("artefacts", ())]
    plain = as_json({**fields, "artefacts": artefacts}, default=str)
    return plain if artefacts else {name: value for name, value in plain.items() if name != "artefacts"}


def _finish_interrupted_step(invoice: Invoice, policy: Policy | None, step: Step | str, common: dict[str, Any],
                             claim: StepClaim, ports: Ports, now: datetime) -> None:
    """An earlier attempt died after handing the step's message to SES. Never sent again: with what it recorded
    ("sent"), its log entry is written (unless it was already: it died just after); unsure whether SES took it
    ("sending"), the log says so and a person confirms it (`confirm_contact_sent`)."""
    record = claim.record
    step_id, channel = (step, common.get("channel", Channel.EMAIL.value)) if isinstance(step, str) else (step.id, step.channel.value)
    if claim.phase == PHASE_SENT and "log" in record:
        entry = dict(record["log"])
    elif claim.phase == PHASE_SENT:  # died between SES's answer and the full record: the send's own record
        entry = {"step_id": step_id, **common, **record.get("fields", {})}
        entry["kind"] = entry.get("kind", channel)
        entry["channel"] = entry.get("channel", channel)
        ids = record.get("message_ids", [])
        entry["message_id"] = ids[0] if ids else entry.get("message_id")
        if len(ids) > 1:
            entry["details"] = {**entry.get("details", {}), "message_ids": ids}
    else:
        _log_unconfirmed(invoice, policy, step_id, {"step_id": step_id, **common}, claim, ports, now)
        _complete_step(invoice, step, claim, ports)
        _finish_covered(claim, ports, now)
        return
    _log_recorded(invoice, policy, step_id, entry, ports, now)
    _complete_step(invoice, step, claim, ports)
    _finish_covered(claim, ports, now)


def _finish_covered(claim: StepClaim, ports: Ports, now: datetime) -> None:
    """A consolidated message's attempt that died: the other invoices' steps it covered, finished alike."""
    if claim.record.get("covers"):
        consolidated_send.finish_covered(claim, ports, now, _SEND_PATH)


def _finish_interrupted_steps(invoice: Invoice, customer: Customer, policy: Policy | None, owner: str | None,
                              ports: Ports, now: datetime) -> None:
    """Before a settled invoice's collection closes: a contact its own dead attempt (or one whose claim expired)
    handed to SES is logged (or logged as unconfirmed, for a person), never left out of the log."""
    steps = {p.step.id: p.step for p in plan_for(invoice, customer, policy)} if policy is not None else {}
    for step_id, found in sorted(ports.store.step_claims(invoice.invoice_id).items()):
        if found.phase not in (PHASE_SENDING, PHASE_SENT) or step_id.startswith("-"):
            continue
        claim = _take_step(invoice, step_id, owner, ports, now)
        if claim.mine and claim.phase in (PHASE_SENDING, PHASE_SENT):
            step = steps.get(step_id)
            common = ({"step_id": step.id, "stage": step.stage.value, "channel": step.channel.value, "template": step.template}
                      if step is not None else {})
            _finish_interrupted_step(invoice, policy, step or step_id, common, claim, ports, now)


def _log_unconfirmed(invoice: Invoice, policy: Policy | None, step_id: str, common: dict[str, Any], claim: StepClaim,
                     ports: Ports, now: datetime) -> None:
    fields = dict(claim.record.get("fields", {}))
    for name in ("kind", "channel", "message_id", "step_id", "stage", "template"):  # the step's own (common) say these
        fields.pop(name, None)
    details = fields.pop("details", {})
    ids = claim.record.get("message_ids", [])
    reason = ("the attempt that sent this message died before SES's answer was recorded: it may or may not have "
              "gone out, so it is not sent again")
    task_id = ports.store.open_task(invoice.invoice_id, "confirm_contact_sent", claim.claimed_at or now, {
        "step_id": step_id, "recipient": fields.get("recipient"), "subject": fields.get("subject"),
        "artefacts": [a["uri"] for a in fields.get("artefacts", [])], "message_ids": ids, "reason": reason})
    _log(ports, invoice, now, "contact_unconfirmed", policy, **common, **fields,
         details={**details, "reason": reason, "task_id": task_id,
                  **({"message_ids": ids} if ids else {})})


class StepSends:
    """The mailer a claimed step sends through. Before each message goes to SES the claim's phase becomes
    "sending" (a conditional write: of two attempts, one sends), with what its log entry will say; after, "sent"
    with SES's message id. SES refusing it (nothing went out) makes it "claimed" again, for the retry.
    `at`: when the step was first claimed; the tasks a step opens are due then, so a retry opens the same task."""

    def __init__(self, ports: Ports, invoice_id: str, step_id: str, holder: str, at: datetime) -> None:
        self._ports, self._invoice_id, self._step_id, self._holder = ports, invoice_id, step_id, holder
        self.at = at
        self._message_ids: list[str] = []
        self._record: dict[str, Any] = {}  # more the claim's record keeps (a consolidated message: what it covers)

    def send(self, message: bytes, recipients: list[str], fields: dict[str, Any], last: bool = True) -> str:
        """Send one of the step's messages (`last`: the step sends no other); `fields`: its log entry so far."""
        store = self._ports.store
        expected = (PHASE_SENDING,) if self._message_ids else (PHASE_CLAIMED,)
        record = {**self._record, "fields": _recordable(fields), "message_ids": self._message_ids}
        if not store.advance_step(self._invoice_id, self._step_id, self._holder, expected, PHASE_SENDING, record):
            raise StepInProgress(f"step {self._step_id} of {self._invoice_id} was taken over before it was sent")
        try:
            message_id = self._ports.mailer.send(message, self._ports.sender_email, recipients)
        except DeliveryRefused:
            if not self._message_ids:  # nothing of this step went out
                store.advance_step(self._invoice_id, self._step_id, self._holder, (PHASE_SENDING,), PHASE_CLAIMED)
            raise
        self._message_ids = [*self._message_ids, message_id]
        store.advance_step(self._invoice_id, self._step_id, self._holder, (PHASE_SENDING,),
                           PHASE_SENT if last else PHASE_SENDING,
                           {**self._record, "fields": _recordable(fields), "message_ids": self._message_ids})
        return message_id


# A contact rendered and stored, ready to be delivered once: called after the step is claimed, its messages sent
# through the step's StepSends; returns the contact's log fields.
Delivery = Callable[[Ports, StepSends], dict[str, Any]]


def _email_delivery(notice: NoticeContext, invoice: Invoice, customer: Customer, policy: Policy, step_id: str,
                    ports: Ports, attachments: tuple[tuple[str, bytes, str], ...] = (), artefacts: tuple = (),
                    last: bool = True, owner: str | None = None) -> Delivery:
    _record_unusable_emails(invoice, customer, policy, ports, owner)
    recipient = deliverable_recipient(customer, ports.store.undeliverable_addresses(customer.customer_id))
    if recipient is None:
        unreachable = unreachable_by_email(customer, policy)
        if unreachable is not None:
            raise NoticeIncomplete(unreachable)
        return letter_by_post(notice, invoice, customer, step_id, ports, artefacts, _claim_details(notice))
    rendered = ports.renderer.email(notice)
    message = ports.renderer.compose(rendered, sender=ports.sender_email, sender_name=notice.creditor.name,
                            recipient=recipient, recipient_name=customer.name,
                            reference=notice.message_key, attachments=attachments,
                            reply_to=(ports.reply_to and ports.reply_to(invoice.invoice_id, step_id)) or notice.creditor.email,
                            sent_at=ports.clock.now())
    eml = ports.artefacts.put(f"emails/{invoice.invoice_id}/{step_id}.eml", message, "message/rfc822", "email")

    def deliver(ports: Ports, sends: StepSends) -> dict[str, Any]:
        fields = {"recipient": recipient, "subject": rendered.subject, "artefacts": (*artefacts, eml),
                  "details": _claim_details(notice)}
        message_id = sends.send(message, [recipient], fields, last=last)
        return {"recipient": recipient, "subject": rendered.subject, "message_id": message_id,
                "artefacts": (*artefacts, eml), "details": _claim_details(notice)}

    return deliver


def _record_unusable_emails(invoice: Invoice, customer: Customer, policy: Policy, ports: Ports, owner: str | None) -> None:
    """An address the billing platform gave that is not one valid address is never mailed (the contact goes to
    the escalation contact, by post, or is blocked): once per invoice and address, a person gets a task to fix it."""
    now = ports.clock.now()
    for field, address, problem in unusable_emails(customer):
        digest = hashlib.sha256(f"{field}|{address}".encode()).hexdigest()[:16]
        details = {"customer_id": customer.customer_id, "field": field, "address": address, "problem": problem}

        def unusable(at: datetime, details: dict[str, Any] = details) -> tuple[str, dict[str, Any]]:
            task_id = ports.store.open_task(invoice.invoice_id, "complete_debtor_data", at, details)
            return "debtor_data_unusable", {"details": {**details, "task_id": task_id}}

        # Another caller recording it this moment (escalate-now and the wake-up at once) records it: not waited for.
        _record_once(invoice, policy, f"-unusable-{field}-{digest}", owner, ports, now, unusable, wait=False)


def _claim_details(notice: NoticeContext) -> dict[str, Any]:
    details: dict[str, Any] = {"balance": notice.balance_minor, "currency": notice.currency, "reference": notice.reference}
    if notice.deadline:
        details["deadline"] = notice.deadline.isoformat()
    if notice.interest:
        details["interest"] = {
            "rate_percent": str(notice.interest.annual_rate_percent), "days": notice.interest.days,
            "from": notice.interest.from_date.isoformat(), "to": notice.interest.to_date.isoformat(),
            "amount": notice.interest.interest_minor, "compensation": notice.interest.compensation_minor,
            "basis": notice.interest.basis, "scheme": notice.interest.scheme,
            "periods": [{"from": p.from_date.isoformat(), "to": p.to_date.isoformat(), "principal": p.principal_minor,
                         "rate_percent": str(p.annual_rate_percent), "amount": p.interest_minor}
                        for p in notice.interest.periods],
        }
        details["total_claimed"] = notice.total_claimed_minor
    return details


def with_portal_link(notice: NoticeContext, customer: Customer, policy: Policy, ports: Ports) -> NoticeContext:
    """The notice with the customer's portal link when the stack makes links and the policy has the portal on."""
    if ports.portal_link is None or not policy.portal.enabled:
        return notice
    return replace(notice, portal_url=ports.portal_link(customer.customer_id, policy.portal.link_expiry_days) or "")


def _prepare(channel: Channel, notice: NoticeContext, invoice: Invoice, customer: Customer, policy: Policy, ports: Ports,
             owner: str | None = None, attachments: tuple[tuple[str, bytes, str], ...] = (),
             artefacts: tuple[Artefact, ...] = (), referred: tuple[Invoice, ...] = ()) -> Delivery:
    """`attachments` (and their stored `artefacts`): more for an email or letter (a statement of account).
    `referred`: a referral's invoices of one customer referred together (one package, one task naming each)."""
    step_id = notice.step_id
    if channel in (Channel.EMAIL, Channel.LETTER):
        notice = with_portal_link(notice, customer, policy, ports)
    if channel is Channel.EMAIL:
        return _email_delivery(notice, invoice, customer, policy, step_id, ports, owner=owner, attachments=attachments,
                               artefacts=artefacts)
    if channel is Channel.LETTER:
        pdf = ports.renderer.letter(notice)
        letter = ports.artefacts.put(f"letters/{invoice.invoice_id}/{step_id}.pdf", pdf, "application/pdf", "letter")
        filename = f"{notice.invoice_number}-{notice.stage.value.replace('_', '-')}.pdf"
        return _email_delivery(notice, invoice, customer, policy, step_id, ports, owner=owner,
                               attachments=((filename, pdf, "application/pdf"), *attachments), artefacts=(letter, *artefacts))
    if channel is Channel.CALL_TASK:
        def open_call_task(ports: Ports, sends: StepSends) -> dict[str, Any]:
            now = sends.at
            window = call_window(now, policy.calendar, zone_of(customer.timezone, policy.default_timezone),
                                 customer.address.country)
            task_id = ports.store.open_task(invoice.invoice_id, "call_debtor", now, {
                "customer": customer.name, "email": customer.email, "reference": notice.reference,
                "phone": customer.phone or None, "call_window": window,
                "balance": notice.balance_minor, "currency": notice.currency, "step_id": step_id,
                "assignee": customer.account_owner or None, "script": notice.template, "tone": notice.tone,
            })
            return {"recipient": customer.name, "details": {"task_id": task_id, "assignee": customer.account_owner or None,
                                                            "phone": customer.phone or None, "call_window": window,
                                                            **_claim_details(notice)}}

        return open_call_task
    if channel is Channel.MANUAL_TASK:
        def open_manual_task(ports: Ports, sends: StepSends) -> dict[str, Any]:
            # The step's template names the task's kind (e.g. review_with_account_owner); nothing goes to the debtor.
            task_id = ports.store.open_task(invoice.invoice_id, notice.template, sends.at, {
                "customer": customer.name, "reference": notice.reference, "step_id": step_id,
                "assignee": customer.account_owner or None, "balance": notice.balance_minor, "currency": notice.currency,
            })
            return {"kind": "manual_task", "recipient": customer.account_owner or "finance team",
                    "details": {"task_id": task_id, "task": notice.template, **_claim_details(notice)}}

        return open_manual_task
    if channel is Channel.REFERRAL:
        package = (ports.renderer.customer_referral_package(referred, customer, policy, notice, ports) if referred
                   else ports.renderer.referral_package(invoice, customer, policy, notice, ports))
        stored = ports.artefacts.put(f"referrals/{invoice.invoice_id}/referral-package.zip", package, "application/zip", "referral_package")
        agency = policy.referral.agency
        email = _email_delivery(notice, invoice, customer, policy, step_id, ports, artefacts=(stored,), last=agency is None,
                                owner=owner)
        agency_email = None
        if agency is not None:
            agency_notice = replace(notice, template="agency_referral", language=agency.language, extra={"agency": agency.name})
            rendered = ports.renderer.email(agency_notice)
            message = ports.renderer.compose(
                rendered, sender=ports.sender_email, sender_name=notice.creditor.name, recipient=agency.email,
                recipient_name=agency.name, reference=f"{notice.message_key}/agency", reply_to=notice.creditor.email,
                sent_at=ports.clock.now(), attachments=((f"{notice.invoice_number}-referral-package.zip", package, "application/zip"),))
            agency_email = (message, ports.artefacts.put(f"emails/{invoice.invoice_id}/{step_id}-agency.eml", message,
                                                          "message/rfc822", "email"))

        def refer(ports: Ports, sends: StepSends) -> dict[str, Any]:
            task_id = ports.store.open_task(invoice.invoice_id, "hand_over_to_agency", sends.at, {
                "package": stored.uri, "sha256": stored.sha256, "balance": notice.balance_minor,
                "currency": notice.currency, "total_claimed": notice.total_claimed_minor,
                "agency": agency.name if agency else None,
                **({"invoices": [i.invoice_id for i in referred]} if referred else {}),
            })
            fields = email(ports, sends)
            if fields.pop("channel", None) == "letter":  # the debtor's notice went by post: the step is still the referral
                del fields["kind"]
                fields["details"]["post_task_id"] = fields["details"]["task_id"]
            fields["details"] = {**fields["details"], "task_id": task_id}
            if agency is not None and agency_email is not None:
                # The agency gets the package itself; its message is part of this step's record.
                fields["artefacts"] = (*fields["artefacts"], agency_email[1])
                agency_message_id = sends.send(agency_email[0], [agency.email], fields)
                fields["details"] |= {"agency": agency.name, "agency_email": agency.email, "agency_message_id": agency_message_id}
            return fields

        return refer
    raise ValueError(f"unknown channel {channel}")


def _referral_withheld(invoice: Invoice, notice: NoticeContext, policy: Policy, ports: Ports) -> Delivery | None:
    """Refer only a debt worth an agency's while, and only after a final notice given the policy's
    notice period earlier; otherwise a person decides (small claims, write-off, or a notice first)."""
    terms = policy.referral
    now = ports.clock.now()
    minimum = terms.min_amount.get(invoice.currency, 0)
    finals = [e for e in ports.log.entries(invoice.invoice_id)
              if e.stage == Stage.FINAL_NOTICE.value and e.kind in ("email", "letter")]
    if invoice.amount_remaining < minimum:
        kind, task, reason = "referral_declined", "small_claims_or_write_off", (
            f"balance {invoice.amount_remaining} {invoice.currency} is below the referral minimum {minimum}")
    elif not finals or finals[-1].at > now - timedelta(days=terms.notice_period_days):
        kind, task, reason = "referral_withheld", "review_before_referral", (
            f"no final notice sent at least {terms.notice_period_days} days before the referral date")
    elif terms.require_agency_checks and terms.agency is not None and terms.agency.missing_checks():
        kind, task, reason = "referral_withheld", "complete_agency_record", (
            f"the agency {terms.agency.name} has no {', '.join(terms.agency.missing_checks())} on record (policy "
            f"{policy.policy_id} v{policy.version}): check them before referring, then publish a version that has them")
    else:
        return None

    def open_task(ports: Ports, sends: StepSends) -> dict[str, Any]:
        task_id = ports.store.open_task(invoice.invoice_id, task, sends.at, {
            "reason": reason, "balance": invoice.amount_remaining, "currency": invoice.currency})
        return {"kind": kind, "details": {"task_id": task_id, "reason": reason, **_claim_details(notice)}}

    return open_task


# What the consolidated send (one message per customer) uses of the send protocol.
_SEND_PATH = consolidated_send.SendPath(
    plan_for=plan_for, take_step=_take_step, log_claimed=_log_claimed, finish_interrupted_step=_finish_interrupted_step,
    prepare=_prepare, claim_details=_claim_details, recordable=_recordable, step_sends=StepSends, in_progress=StepInProgress,
    referral_withheld=_referral_withheld)
