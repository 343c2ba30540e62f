"""A customer's segment changed while an invoice is in collection (in-memory adapters, the real domain code):
the invoice keeps the segment it started in, so its planned steps, skip-step, escalate-now and the dry run
stay on the ladder it is walking; an invoice pinned before segments were recorded follows the customer's."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from arrears.domain import dunning
from arrears.usecases.finance.actions import skip_step
from arrears.usecases.finance.dry_run import dry_run
from arrears.usecases.finance.views import invoice_timeline
from arrears.domain.holds import ActionRefused
from tests.unit.test_dunning import contact_steps, run_workflow
from tests.unit.memory_world import memory_ports

FINANCE = "arn:aws:iam::123456789012:user/finance-jane"
STANDARD_LADDER = ["courtesy_reminder", "due_notice", "overdue_7", "overdue_15", "call_15", "formal_notice",
                   "final_notice", "referral"]


@pytest.fixture
def world(default_policy, open_invoice, berlin_customer):
    return memory_ports(default_policy, berlin_customer, open_invoice)


def change_segment(world, customer_id: str, segment: str) -> None:
    """What PATCH /customers/{id} {"segment": ...} leaves in the store: the customer with its new segment."""
    customer = world.store.customers[customer_id]
    world.store.customers[customer_id] = customer.model_copy(update={"segment": segment, "updated_at": world.clock.now()})


@pytest.fixture
def eight_days_overdue(world, open_invoice):
    """A standard customer's invoice whose courtesy reminder, due notice and first reminder went out."""
    run_workflow(world, open_invoice.invoice_id, open_invoice.due_at + timedelta(days=8))
    world.clock.at = open_invoice.due_at + timedelta(days=8)
    assert contact_steps(world, open_invoice.invoice_id) == ["courtesy_reminder", "due_notice", "overdue_7"]
    return world


def pending(world, invoice_id: str) -> list[tuple[str, datetime]]:
    invoice = world.store.get_invoice(invoice_id)
    customer = world.store.get_customer(invoice.customer_id)
    policy = world.policies.get(invoice.policy_id, invoice.policy_version)
    return [(p.step.id, p.at) for p in dunning.plan_for(invoice, customer, policy) if p.step.id not in invoice.completed_steps]


def test_collection_pins_the_segment_it_starts_in(world, open_invoice):
    # When the workflow of a standard customer's invoice starts
    dunning.start_collection(open_invoice.invoice_id, "arn:execution", "default", world)
    # Then the invoice records its segment next to its policy version, and the log says which it is
    invoice = world.store.get_invoice(open_invoice.invoice_id)
    assert (invoice.policy_id, invoice.segment) == ("default", "standard")
    started = next(e for e in world.log.entries(open_invoice.invoice_id) if e.kind == "collection_started")
    assert started.details["segment"] == "standard"


def test_a_segment_the_policy_does_not_name_is_pinned_as_the_default_segment(world, open_invoice, berlin_customer):
    change_segment(world, berlin_customer.customer_id, "enterprise-emea")
    dunning.start_collection(open_invoice.invoice_id, "arn:execution", "default", world)
    assert world.store.get_invoice(open_invoice.invoice_id).segment == "standard"


def test_a_segment_change_mid_collection_leaves_the_planned_steps_on_their_dates(eight_days_overdue, open_invoice,
                                                                                  berlin_customer, default_policy):
    world = eight_days_overdue
    before = pending(world, open_invoice.invoice_id)
    # When the finance team makes the customer strategic, eight days after the due date
    change_segment(world, berlin_customer.customer_id, "strategic")
    # Then the invoice's pending steps are the ones it had, on the same dates, none of them in the past
    assert pending(world, open_invoice.invoice_id) == before
    assert [step for step, _ in before] == STANDARD_LADDER[3:]
    assert all(at > world.clock.now() for _, at in before)
    # And the invoice view shows those steps
    timeline = invoice_timeline(open_invoice.invoice_id, world.store, world.log, world.policies, dunning.plan_for)
    assert [(p.step_id, p.at) for p in timeline.planned] == before


def test_after_a_segment_change_a_pending_step_can_still_be_skipped(eight_days_overdue, open_invoice, berlin_customer):
    world = eight_days_overdue
    change_segment(world, berlin_customer.customer_id, "strategic")
    # When the finance team skips the call the invoice's ladder plans at +15
    skip_step(open_invoice.invoice_id, "call_15", "agreed by email", FINANCE, world.store, world.log, world.policies,
              world.clock.now())
    # Then it is recorded as skipped by that person, and a step of the new segment is not one of this invoice's
    skipped = [e for e in world.log.entries(open_invoice.invoice_id) if e.kind == "step_skipped" and e.step_id == "call_15"]
    assert len(skipped) == 1 and skipped[0].actor == FINANCE
    with pytest.raises(ActionRefused) as refused:
        skip_step(open_invoice.invoice_id, "call_20", "", FINANCE, world.store, world.log, world.policies, world.clock.now())
    assert refused.value.code == "unknown_step"


def test_after_a_segment_change_the_workflow_walks_the_ladder_it_started_on(eight_days_overdue, open_invoice,
                                                                            berlin_customer):
    world = eight_days_overdue
    change_segment(world, berlin_customer.customer_id, "strategic")
    # When the workflow goes on for the rest of the policy
    invoice_id = open_invoice.invoice_id
    decision = dunning.run_due_steps(invoice_id, world)
    while decision.status == "active":
        world.clock.at = datetime.fromisoformat(decision.next_at.replace("Z", "+00:00"))
        decision = dunning.run_due_steps(invoice_id, world)
    # Then it sends the rest of the standard ladder, once each and on its dates; nothing is skipped as past
    assert contact_steps(world, invoice_id) == STANDARD_LADDER
    assert not [e for e in world.log.entries(invoice_id) if e.kind == "step_skipped"]
    assert decision.status == "complete"


def test_escalate_now_sends_the_next_step_of_the_invoices_own_ladder(eight_days_overdue, open_invoice, berlin_customer):
    world = eight_days_overdue
    change_segment(world, berlin_customer.customer_id, "strategic")
    # When the finance team escalates on Monday 12 October 2026, 10:00 in Berlin (past the two-day gap)
    world.clock.at = datetime(2026, 10, 12, 8, 0, tzinfo=timezone.utc)
    escalated = dunning.escalate_now(open_invoice.invoice_id, FINANCE, world)
    # Then what goes out is the invoice's next step, the +15 reminder, not one of the strategic ladder
    assert escalated["step_id"] == "overdue_15"
    assert contact_steps(world, open_invoice.invoice_id)[-1] == "overdue_15"


def test_an_invoice_pinned_before_segments_were_recorded_follows_the_customers_segment(world, open_invoice,
                                                                                       berlin_customer):
    # Given an invoice pinned to the policy by an earlier release: no segment recorded
    dunning.start_collection(open_invoice.invoice_id, "arn:execution", "default", world)
    world.store.invoices[open_invoice.invoice_id] = world.store.invoices[open_invoice.invoice_id].model_copy(
        update={"segment": None})
    # When the customer becomes strategic, its plan is the strategic ladder (as before this change)
    change_segment(world, berlin_customer.customer_id, "strategic")
    assert [step for step, _ in pending(world, open_invoice.invoice_id)][:2] == ["courtesy_call", "due_notice"]


def test_a_dry_run_keeps_each_invoices_segment(eight_days_overdue, open_invoice, berlin_customer, default_policy):
    world = eight_days_overdue
    change_segment(world, berlin_customer.customer_id, "strategic")
    invoice = world.store.get_invoice(open_invoice.invoice_id)
    # When the policy is dry-run against the invoice
    result = dry_run(default_policy, [(invoice, world.store.get_customer(berlin_customer.customer_id))], world.clock.now())
    # Then it simulates the invoice's own (standard) ladder: no strategic call or owner review
    steps = [e.step_id for e in result.contacts[invoice.invoice_id]]
    assert "formal_notice" in steps and "final_notice" in steps
    assert not set(steps) & {"courtesy_call", "overdue_10", "call_20", "owner_review"}
