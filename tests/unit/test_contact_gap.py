"""The policy's minimum gap between messages to one customer, across its invoices (in-memory adapters).

Müller & Söhne (Berlin) owes two invoices due the same day. The policy keeps 3 days between
messages: the second invoice's reminder waits (it moves, it is not dropped), call tasks are not held
back, a retried step still goes out, and a person's "escalate now" is refused inside the gap.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest

from arrears.domain import dunning
from arrears.domain.clock import parse_iso
from arrears.domain.holds import ActionRefused, promise_to_pay
from arrears.domain.ports import DeliveryRefused, Ports
from tests.unit.memory_world import memory_ports

SECOND = "in_1QZyXwVuTsRqPo99"
ACTOR = "arn:aws:iam::123456789012:user/finance-jane"
# Thursday 24 September 2026, 10:00 in Berlin (CEST): both courtesy reminders (7 days before the due date) are due.
COURTESY_AT = datetime(2026, 9, 24, 8, 0, tzinfo=timezone.utc)
# 3 days later is Sunday 27 September: the deferred message goes on Monday at the policy's contact time, 10:00
# Berlin (not at 09:00, when contact hours open: the invoice's own steps are planned at 10:00).
AFTER_GAP = datetime(2026, 9, 28, 8, 0, tzinfo=timezone.utc)


def two_invoices(default_policy, open_invoice, berlin_customer) -> Ports:
    """Both invoices' collections started, under the policy with a 3-day gap."""
    policy = default_policy.model_copy(update={"minimum_contact_gap_days": 3})
    ports = memory_ports(policy, berlin_customer, open_invoice,
                         open_invoice.model_copy(update={"invoice_id": SECOND, "number": "NW-2026-0043"}))
    for invoice_id in (open_invoice.invoice_id, SECOND):
        dunning.start_collection(invoice_id, f"arn:execution:{invoice_id}", "default", ports)
    return ports


@pytest.fixture
def world(default_policy, open_invoice, berlin_customer):
    return two_invoices(default_policy, open_invoice, berlin_customer)


def messages(ports: Ports, invoice_id: str) -> list[tuple[str, datetime]]:
    return [(e.step_id, e.at) for e in ports.log.entries(invoice_id) if e.kind in ("email", "letter", "referral")]


def test_the_second_invoice_waits_out_the_gap_and_then_goes(world, open_invoice):
    # Given both courtesy reminders are due at the same moment
    world.clock.at = COURTESY_AT
    # When the first invoice's workflow wakes, then the second's
    first = dunning.run_due_steps(open_invoice.invoice_id, world)
    second = dunning.run_due_steps(SECOND, world)
    # Then only the first sends; the second logs why it waits and comes back when the gap has passed
    assert messages(world, open_invoice.invoice_id) == [("courtesy_reminder", COURTESY_AT)]
    assert messages(world, SECOND) == []
    deferred = world.log.entries(SECOND)[-1]
    assert deferred.kind == "contact_deferred" and deferred.step_id == "courtesy_reminder"
    assert deferred.details["waiting_behind"] == {"invoice_id": open_invoice.invoice_id, "step_id": "courtesy_reminder",
                                                "at": "2026-09-24T08:00:00Z"}
    assert deferred.details["until"] == "2026-09-28T08:00:00Z" and deferred.details["gap_days"] == 3
    assert second.status == "active" and parse_iso(second.next_at) == AFTER_GAP
    assert parse_iso(first.next_at) > AFTER_GAP  # the first invoice's due notice keeps its own date
    assert len(world.mailer.sent) == 1
    # When the second workflow wakes after the gap
    world.clock.at = AFTER_GAP
    dunning.run_due_steps(SECOND, world)
    # Then its reminder goes out then: moved, not dropped
    assert messages(world, SECOND) == [("courtesy_reminder", AFTER_GAP)]


def test_a_step_overtaken_while_waiting_is_superseded_by_the_later_one(world, open_invoice):
    # Given the second invoice's courtesy reminder waits for the gap
    world.clock.at = COURTESY_AT
    dunning.run_due_steps(open_invoice.invoice_id, world)
    dunning.run_due_steps(SECOND, world)
    # When its workflow only wakes on the due date (e.g. the first invoice's messages kept the slot)
    due_notice_at = datetime(2026, 10, 1, 8, 0, tzinfo=timezone.utc)
    world.clock.at = due_notice_at
    dunning.run_due_steps(SECOND, world)
    # Then the debtor gets the current message, not a stale "due in 7 days"; the stale one is logged as superseded
    assert messages(world, SECOND) == [("due_notice", due_notice_at)]
    skipped = [e for e in world.log.entries(SECOND) if e.kind == "step_skipped"]
    assert [e.step_id for e in skipped] == ["courtesy_reminder"] and "superseded" in skipped[0].details["reason"]


def test_call_tasks_are_not_held_back_by_the_gap(world, open_invoice):
    # Given the first invoice's overdue reminder and call task went out on day 15
    day_15 = datetime(2026, 10, 16, 8, 0, tzinfo=timezone.utc)  # Friday 16 October, 10:00 Berlin
    for invoice_id in (open_invoice.invoice_id, SECOND):
        world.store.invoices[invoice_id] = world.store.invoices[invoice_id].model_copy(update={"completed_steps": (
            "-start", "courtesy_reminder", "due_notice", "overdue_7")})
    world.clock.at = day_15
    dunning.run_due_steps(open_invoice.invoice_id, world)
    # When the second invoice's day-15 steps come due at the same moment
    dunning.run_due_steps(SECOND, world)
    # Then its call task opens now (a person times the call) while its email waits for the gap
    kinds = [(e.kind, e.step_id) for e in world.log.entries(SECOND)]
    assert ("call_task", "call_15") in kinds and ("contact_deferred", "overdue_15") in kinds
    assert ("email", "overdue_15") not in kinds


def test_a_retried_step_that_holds_the_slot_still_sends(world, open_invoice):
    # Given the first attempt claimed the customer's slot and the step, then the mail server failed
    world.clock.at = COURTESY_AT
    failing = world.mailer.send

    def refuse(*args, **kwargs):
        raise DeliveryRefused("SES refused the message: ServiceUnavailable")

    world.mailer.send = refuse
    with pytest.raises(DeliveryRefused):
        dunning.run_due_steps(open_invoice.invoice_id, world)
    # When the Lambda retry runs a minute later
    world.mailer.send = failing
    world.clock.at = COURTESY_AT + timedelta(minutes=1)
    dunning.run_due_steps(open_invoice.invoice_id, world)
    # Then the reminder goes out once: the slot it holds does not keep it from its own retry
    assert [step for step, _ in messages(world, open_invoice.invoice_id)] == ["courtesy_reminder"]
    assert len(world.mailer.sent) == 1


def test_escalate_now_is_refused_inside_the_gap_and_changes_nothing(world, open_invoice):
    # Given the first invoice's courtesy reminder went out this morning
    world.clock.at = COURTESY_AT
    dunning.run_due_steps(open_invoice.invoice_id, world)
    before = list(world.log.entries(SECOND))
    # When a person escalates the second invoice two hours later
    world.clock.at = COURTESY_AT + timedelta(hours=2)
    with pytest.raises(ActionRefused) as refused:
        dunning.escalate_now(SECOND, ACTOR, world)
    # Then it is refused with when it will be possible, and nothing is logged or sent
    assert refused.value.code == "contacted_recently" and "2026-09-28T08:00:00Z" in str(refused.value)
    assert world.log.entries(SECOND) == before and len(world.mailer.sent) == 1


def test_a_broken_promise_message_waits_for_the_gap_and_the_hold_until_then(world, open_invoice):
    # Given the second invoice has a promise to pay by 9 October that is not kept
    promised = date(2026, 10, 9)
    world.clock.at = datetime(2026, 10, 2, 9, 0, tzinfo=timezone.utc)
    promise_to_pay(SECOND, promised, ACTOR, world.store, world.log, world.policies, world.clock.at)
    expiry = world.store.invoices[SECOND].hold.until
    # And the customer was contacted about the first invoice the day before the promise expires
    world.clock.at = expiry - timedelta(days=1)
    world.store.claim_contact_slot(open_invoice.customer_id, open_invoice.invoice_id, "overdue_7", world.clock.at,
                                   timedelta(days=3))
    # When the second invoice's workflow wakes at the promise's end
    world.clock.at = expiry
    decision = dunning.run_due_steps(SECOND, world)
    # Then the broken-promise message waits (the hold stays until it goes), and goes when the gap has passed
    assert decision.status == "active" and parse_iso(decision.next_at) > expiry
    assert world.store.invoices[SECOND].hold is not None
    assert world.log.entries(SECOND)[-1].kind == "contact_deferred"
    world.clock.at = parse_iso(decision.next_at)
    dunning.run_due_steps(SECOND, world)
    sent = [e for e in world.log.entries(SECOND) if e.kind == "email"]
    assert [e.template for e in sent] == ["broken_promise"] and sent[0].at - (expiry - timedelta(days=1)) >= timedelta(days=3)
    assert world.store.invoices[SECOND].hold is None


def test_without_a_gap_both_invoices_are_contacted_at_once(world, open_invoice, default_policy):
    # Given a policy without a minimum gap
    world.policies.versions[("default", default_policy.version)] = default_policy.model_copy(
        update={"minimum_contact_gap_days": 0})
    world.clock.at = COURTESY_AT
    # When both courtesy reminders are due
    for invoice_id in (open_invoice.invoice_id, SECOND):
        dunning.run_due_steps(invoice_id, world)
    # Then both go out at their planned moment
    assert messages(world, open_invoice.invoice_id) == messages(world, SECOND) == [("courtesy_reminder", COURTESY_AT)]


def test_a_paid_invoices_place_in_line_does_not_hold_back_the_customers_other_messages(world, open_invoice):
    # Given the second invoice's courtesy reminder waits in line for Monday 10:00, and that invoice is then paid
    world.clock.at = COURTESY_AT
    dunning.run_due_steps(open_invoice.invoice_id, world)
    dunning.run_due_steps(SECOND, world)
    paid = world.store.invoices[SECOND]
    world.store.invoices[SECOND] = paid.model_copy(update={"status": "paid", "amount_paid": paid.amount_due, "amount_remaining": 0})
    reserved = parse_iso(world.log.entries(SECOND)[-1].details["until"])
    # When a person escalates the first invoice ten minutes after the paid invoice's reserved moment
    world.clock.at = reserved + timedelta(minutes=10)
    dunning.escalate_now(open_invoice.invoice_id, ACTOR, world)
    # Then it goes at once: the paid invoice's message will never come, so its place does not block for an hour
    assert messages(world, open_invoice.invoice_id)[-1] == ("due_notice", reserved + timedelta(minutes=10))
    assert "queue" not in world.store.contact_slots[open_invoice.customer_id]
