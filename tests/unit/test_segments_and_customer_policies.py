"""Segments and a customer's own policy (in-memory adapters): what the default policy does to a strategic
account, a small one, and a customer the finance team gave a policy of its own."""

from __future__ import annotations

from datetime import timedelta

import pytest

from arrears.domain import dunning
from arrears.domain.ports import Ports
from arrears.adapters.memory import MemoryPolicies
from tests.unit.test_dunning import run_workflow
from tests.unit.memory_world import memory_ports

OWNER = "Priya Shah (account director)"


def make_world(policies: MemoryPolicies, invoice, customer) -> Ports:
    return memory_ports(policies, customer, invoice)


def log_of(world: Ports, invoice_id: str):
    return [(e.kind, e.step_id) for e in world.log.entries(invoice_id)
            if e.kind in ("email", "letter", "call_task", "referral", "manual_task")]


def test_a_strategic_account_starts_with_its_owners_call_and_ends_with_a_review_not_a_referral(
        default_policy, open_invoice, berlin_customer):
    # Given a strategic customer whose relationship Priya owns, never paying
    customer = berlin_customer.model_copy(update={"segment": "strategic", "account_owner": OWNER})
    world = make_world(MemoryPolicies(default_policy), open_invoice, customer)
    # When its workflow runs for 150 days
    decisions = run_workflow(world, open_invoice.invoice_id, open_invoice.due_at + timedelta(days=150))
    # Then the first step is a call for the account owner, not an email; and nothing is referred automatically:
    # the last step asks a person to review the account with its owner
    assert log_of(world, open_invoice.invoice_id) == [
        ("call_task", "courtesy_call"), ("email", "due_notice"), ("email", "overdue_10"), ("call_task", "call_20"),
        ("letter", "formal_notice"), ("manual_task", "owner_review")]
    assert decisions[-1]["status"] == "complete"
    calls = [task for task in world.store.tasks.values() if task["kind"] == "call_debtor"]
    assert [(c["details"]["step_id"], c["details"]["script"], c["details"]["assignee"]) for c in calls] == [
        ("courtesy_call", "courtesy_call", OWNER), ("call_20", "call_script", OWNER)]
    tasks = {task["kind"]: task for task in world.store.tasks.values()}
    review = tasks["review_with_account_owner"]
    assert review["details"]["assignee"] == OWNER and review["details"]["balance"] == open_invoice.amount_remaining
    assert "hand_over_to_agency" not in tasks
    # And the debtor got three messages (the due notice, one reminder, the formal notice), no more
    assert len(world.mailer.sent) == 3


def test_a_small_account_gets_the_short_ladder(default_policy, open_invoice, berlin_customer):
    customer = berlin_customer.model_copy(update={"segment": "small"})
    world = make_world(MemoryPolicies(default_policy), open_invoice, customer)
    run_workflow(world, open_invoice.invoice_id, open_invoice.due_at + timedelta(days=150))
    assert [step for _, step in log_of(world, open_invoice.invoice_id)] == [
        "courtesy_reminder", "due_notice", "overdue_7", "formal_notice", "final_notice", "referral"]
    referral = next(e for e in world.log.entries(open_invoice.invoice_id) if e.kind == "referral")
    # 60 days after the due date (1 October 2026), on a Berlin business day at 10:00
    assert (referral.at - open_invoice.due_at).days in (60, 61, 62)


def test_a_segment_the_policy_does_not_name_gets_the_default_segment(default_policy, open_invoice, berlin_customer):
    customer = berlin_customer.model_copy(update={"segment": "enterprise-emea"})
    world = make_world(MemoryPolicies(default_policy), open_invoice, customer)
    run_workflow(world, open_invoice.invoice_id, open_invoice.due_at + timedelta(days=150))
    assert log_of(world, open_invoice.invoice_id)[0] == ("email", "courtesy_reminder")
    assert ("call_task", "call_15") in log_of(world, open_invoice.invoice_id)


def test_a_customer_with_its_own_policy_starts_on_it_and_keeps_the_version_it_started_on(
        default_policy, open_invoice, berlin_customer):
    # Given the finance team gave this customer its own gentler policy (only a due notice and a call)
    steps = tuple(s for s in default_policy.segments["standard"].steps if s.id in ("due_notice", "call_15"))
    gentle = default_policy.model_copy(update={"policy_id": "gentle", "version": 1, "segments": {
        "standard": default_policy.segments["standard"].model_copy(update={"steps": steps})}})
    policies = MemoryPolicies(default_policy, gentle)
    customer = berlin_customer.model_copy(update={"policy_id": "gentle"})
    world = make_world(policies, open_invoice, customer)
    # When its invoice's workflow starts (the stack's default policy id is "default")
    dunning.start_collection(open_invoice.invoice_id, "arn:execution", "default", world)
    # Then the invoice is pinned to the customer's policy
    assert (world.store.invoices[open_invoice.invoice_id].policy_id,
            world.store.invoices[open_invoice.invoice_id].policy_version) == ("gentle", 1)
    # And a newer version published afterwards does not change what this invoice gets
    policies.versions[("gentle", 2)] = gentle.model_copy(update={"version": 2, "segments": default_policy.segments})
    run_workflow(world, open_invoice.invoice_id, open_invoice.due_at + timedelta(days=150))
    assert [step for _, step in log_of(world, open_invoice.invoice_id)] == ["due_notice", "call_15"]
    assert {e.policy_id for e in world.log.entries(open_invoice.invoice_id) if e.policy_id} == {"gentle"}


def test_a_manual_task_step_sends_nothing_and_counts_against_no_gap(default_policy, open_invoice, berlin_customer):
    # Given the strategic ladder, when only its last step (the owner review) is due
    customer = berlin_customer.model_copy(update={"segment": "strategic"})
    world = make_world(MemoryPolicies(default_policy), open_invoice, customer)
    dunning.start_collection(open_invoice.invoice_id, "arn:execution", "default", world)
    world.store.invoices[open_invoice.invoice_id] = world.store.invoices[open_invoice.invoice_id].model_copy(
        update={"completed_steps": ("-start", "courtesy_call", "due_notice", "overdue_10", "call_20", "formal_notice")})
    world.clock.at = open_invoice.due_at + timedelta(days=63)
    dunning.run_due_steps(open_invoice.invoice_id, world)
    # Then a task opens for a person (the finance team, with no owner known), nothing is mailed, the slot is free
    entry = world.log.entries(open_invoice.invoice_id)[-1]
    assert (entry.kind, entry.recipient) == ("manual_task", "finance team")
    assert world.mailer.sent == [] and world.store.contact_slots == {}


@pytest.mark.parametrize("segment", ["strategic", "standard", "small"])
def test_every_segment_of_the_default_policy_is_valid_and_escalates(default_policy, segment):
    steps = default_policy.segments[segment].steps
    assert [s.offset_days for s in steps] == sorted(s.offset_days for s in steps)
