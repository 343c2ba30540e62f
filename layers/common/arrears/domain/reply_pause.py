"""A customer's reply pause (domain): after a person's reply, automated messages to that customer wait until a person
has read it, at most the policy's `on_reply.pause_business_days` (docs/replies.md).

The pause is one item per customer (`CUSTOMER#id / REPLY_PAUSE`: since, until, the `read_reply` task, the invoice the
reply was logged on). The dunning service asks it before claiming the customer's next message
(`arrears.domain.dunning._claim_contact`): a message due while it is on is deferred to its end, and logged so. Handling
the task (done with a note, or a dispute, promise, payment plan or contact change on the customer's invoice) lifts it
and wakes the customer's waiting workflows, so the message goes at once (inside contact hours).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from arrears.domain.clock import parse_iso, to_iso_z
from arrears.domain.models import Customer
from arrears.domain.policy import Policy
from arrears.domain.policy.calendar import contact_moment, is_business_day, zone_of

REPLY_TASKS = frozenset({"read_reply"})


def pause_end(now: datetime, policy: Policy, customer: Customer) -> datetime | None:
    """When a pause for a reply received `now` ends: the policy's contact time `pause_business_days` business days
    later in the debtor's calendar; None when the policy pauses nothing."""
    days = policy.on_reply.pause_business_days
    if days <= 0:
        return None
    zone = zone_of(customer.timezone, policy.default_timezone)
    day = now.astimezone(zone).date()
    for _ in range(days):
        day = _next_business_day_after(day, policy, customer.address.country)
    return contact_moment(day, policy.contact_time, policy.calendar, zone, customer.address.country)


def defer_end(return_on: date, now: datetime, policy: Policy, customer: Customer) -> datetime | None:
    """When an out-of-office's return date defers the next message to (its contact time that day); None when the policy
    does not wait for return dates, the date is past, or it is further ahead than the policy waits."""
    terms = policy.on_reply
    zone = zone_of(customer.timezone, policy.default_timezone)
    today = now.astimezone(zone).date()
    if not terms.defer_to_return_date or return_on <= today or return_on > today + timedelta(days=terms.max_defer_days):
        return None
    return contact_moment(return_on, policy.contact_time, policy.calendar, zone, customer.address.country)


def _next_business_day_after(day: date, policy: Policy, country: str) -> date:
    day += timedelta(days=1)
    for _ in range(60):
        if is_business_day(day, policy.calendar, country):
            return day
        day += timedelta(days=1)
    return day


def active_pause(store: Any, customer_id: str, now: datetime) -> dict[str, Any] | None:
    """The customer's reply pause while it is on at `now` (its `until` a datetime), else None."""
    pause = store.reply_pause(customer_id)
    if pause is None or pause.get("ended_at"):
        return None
    until = parse_iso(str(pause["until"]))
    return {**pause, "until": until} if until > now else None


def pause_for_reply(store: Any, customer_id: str, invoice_id: str, task_id: str, reason: str, now: datetime,
                    until: datetime) -> dict[str, Any]:
    """Pause (or keep pausing, to the later end) the customer's automated messages; the latest reply's task lifts it."""
    current = active_pause(store, customer_id, now)
    if current is not None and current["until"] > until:
        until = current["until"]
    pause = {"since": to_iso_z(now), "until": to_iso_z(until), "task_id": task_id, "invoice_id": invoice_id,
             "reason": reason}
    store.save_reply_pause(customer_id, pause)
    return pause


def end_pause(customer_id: str, task_id: str, actor: str, how: str, store: Any, log: Any, workflows: Any,
              now: datetime) -> bool:
    """A person handled the reply (`how`: done, dispute, promise, payment plan, contact change): the pause its task
    opened lifts, its invoice's log says so, and the customer's workflows waiting for their next step wake (a message
    deferred by the pause goes now). False when that task's pause is not on (ended already, or a later reply's is)."""
    pause = store.reply_pause(customer_id)
    if pause is None or pause.get("ended_at") or pause.get("task_id") != task_id or \
            not store.end_reply_pause(customer_id, task_id, now):
        return False
    log.append(pause["invoice_id"], customer_id, now, kind="reply_pause_ended", actor=actor,
               details={"task_id": task_id, "how": how, "paused_since": pause["since"], "paused_until": pause["until"]})
    if workflows is not None:
        for invoice in store.invoices_of(customer_id):
            if invoice.is_settled:
                continue
            token = store.take_wake_token(invoice.invoice_id)
            if token:
                workflows.resume(token)
    return True


def task_done(task: dict[str, Any], actor: str, store: Any, log: Any, workflows: Any, now: datetime) -> bool:
    """A person closed `task` (`POST /tasks/{id}/done`): when it is a reply's `read_reply` task, the reply is read and
    its pause ends (`end_pause`). False for any other task, or when its pause is not on."""
    customer_id = task.get("details", {}).get("customer_id")
    if task.get("kind") not in REPLY_TASKS or not customer_id:
        return False
    return end_pause(str(customer_id), str(task["task_id"]), actor, "done", store, log, workflows, now)


def end_pause_of_customer(customer_id: str, actor: str, how: str, store: Any, log: Any, workflows: Any,
                          now: datetime) -> bool:
    """A dispute, promise, payment plan or contact change for a paused customer handles its reply: the open
    `read_reply` task closes (noted so) and the pause lifts. False when the customer's messages are not paused."""
    pause = store.reply_pause(customer_id)
    if pause is None or pause.get("ended_at"):
        return False
    task_id = str(pause.get("task_id") or "")
    if task_id and store.close_task(task_id, now, actor, f"handled: {how}") is not None:
        log.append(pause["invoice_id"], customer_id, now, kind="task_done", actor=actor,
                   details={"task_id": task_id, "task": "read_reply", "note": f"handled: {how}"})
    return end_pause(customer_id, task_id, actor, how, store, log, workflows, now)


def end_pause_of_invoice(invoice_id: str, actor: str, how: str, store: Any, log: Any, workflows: Any,
                         now: datetime) -> bool:
    """As `end_pause_of_customer`, for the customer of an invoice the action was on."""
    invoice = store.get_invoice(invoice_id)
    return invoice is not None and end_pause_of_customer(invoice.customer_id, actor, how, store, log, workflows, now)
