"""The dunning service on in-memory adapters: what is sent, when, and never twice or after payment."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from email import message_from_bytes, policy as email_policy

import pytest

from arrears.domain import dunning
from arrears.domain.clock import parse_iso
from arrears.domain.models import InvoiceStatus
from arrears.domain.policy import Channel, plan_steps
from arrears.domain.ports import DeliveryRefused, Ports
from arrears.adapters.memory import MemoryMailer, MemoryStore
from tests.unit.memory_world import memory_ports


@pytest.fixture
def world(default_policy, open_invoice, berlin_customer):
    return memory_ports(default_policy, berlin_customer, open_invoice)


def run_workflow(ports: Ports, invoice_id: str, until: datetime, before_each=None) -> list[dict]:
    """Drive the service the way the state machine does: start, then wake at each next_at."""
    clock = ports.clock
    decisions = [dunning.start_collection(invoice_id, "arn:execution", "default", ports)]
    while decisions[-1].status == "active":
        wake = parse_iso(decisions[-1].next_at)
        if wake > until:
            break
        clock.at = wake
        if before_each:
            before_each(wake)
        decisions.append(dunning.run_due_steps(invoice_id, ports))
    return [d.as_output() for d in decisions]


def contact_steps(ports: Ports, invoice_id: str) -> list[str]:
    return [e.step_id for e in ports.log.entries(invoice_id) if e.kind in ("email", "letter", "call_task", "referral")]


def test_an_invoice_that_is_never_paid_walks_the_whole_policy(world, open_invoice):
    # When the workflow runs for 150 days
    decisions = run_workflow(world, open_invoice.invoice_id, open_invoice.due_at + timedelta(days=150))
    # Then every step is taken once, in order, and the workflow completes after the referral
    assert contact_steps(world, open_invoice.invoice_id) == [
        "courtesy_reminder", "due_notice", "overdue_7", "overdue_15", "call_15", "formal_notice", "final_notice", "referral"]
    assert decisions[-1]["status"] == "complete"
    # And each contact went out at its planned moment
    planned = {p.step.id: p.at for p in plan_steps(world.policies.current("default"), "standard", open_invoice.due_at, "Europe/Berlin", "DE")}
    for entry in world.log.entries(open_invoice.invoice_id):
        if entry.step_id in planned and entry.kind != "step_skipped":
            assert entry.at == planned[entry.step_id]
    # And the emails are real MIME messages addressed to the debtor, with the letter attached to the formal notice
    # six notices, the referral notice, and the agency's copy with the package; the call task sends nothing
    assert len(world.mailer.sent) == 8
    agency = message_from_bytes(world.mailer.sent[-1][2], policy=email_policy.default)
    assert world.mailer.sent[-1][1] == ["referrals@lambertcole.example"]
    assert [part.get_filename() for part in agency.iter_attachments()] == ["NW-2026-0042-referral-package.zip"]
    referral = next(e for e in world.log.entries(open_invoice.invoice_id) if e.kind == "referral")
    assert referral.details["agency"] == "Lambert & Cole Collections" and referral.details["agency_message_id"]
    formal = message_from_bytes(world.mailer.sent[4][2], policy=email_policy.default)
    assert formal["To"].endswith("<buchhaltung@mueller-soehne.example>")
    assert [part.get_filename() for part in formal.iter_attachments()] == ["NW-2026-0042-formal-notice.pdf"]
    assert any(task["kind"] == "hand_over_to_agency" for task in world.store.tasks.values())
    assert any(key.startswith("referrals/") for key in world.artefacts.objects)


def test_nothing_is_sent_once_the_invoice_is_paid(world, open_invoice):
    store: MemoryStore = world.store
    paid_at = open_invoice.due_at + timedelta(days=9)

    def pay_when_due(now: datetime) -> None:
        if now >= paid_at:
            store.invoices[open_invoice.invoice_id] = store.invoices[open_invoice.invoice_id].model_copy(
                update={"status": InvoiceStatus.PAID, "amount_remaining": 0})

    decisions = run_workflow(world, open_invoice.invoice_id, open_invoice.due_at + timedelta(days=150), pay_when_due)
    assert contact_steps(world, open_invoice.invoice_id) == ["courtesy_reminder", "due_notice", "overdue_7"]
    assert decisions[-1] == {"status": "closed", "reason": "paid"}
    assert world.log.entries(open_invoice.invoice_id)[-1].kind == "collection_closed"


def test_a_retried_step_never_sends_twice(world, open_invoice):
    # Given the due-date notice was sent
    dunning.start_collection(open_invoice.invoice_id, None, "default", world)
    world.clock.at = open_invoice.due_at + timedelta(hours=1)
    dunning.run_due_steps(open_invoice.invoice_id, world)
    sent = len(world.mailer.sent)
    # When Step Functions retries the same task (e.g. the Lambda timed out after sending)
    world.store.invoices[open_invoice.invoice_id] = world.store.invoices[open_invoice.invoice_id].model_copy(update={"completed_steps": ()})
    dunning.run_due_steps(open_invoice.invoice_id, world)
    # Then nothing is sent again (the first wake-up sent only the due-date notice: the courtesy
    # reminder, due a week earlier, was superseded rather than sent late in the same breath)
    assert len(world.mailer.sent) == sent == 1


def test_a_failed_send_is_retried_and_then_sent_once(world, open_invoice):
    class FlakyMailer(MemoryMailer):
        failures = 1

        def send(self, raw_message, sender, recipients):
            if self.failures:
                self.failures -= 1
                raise DeliveryRefused("SES refused the message: Throttling")
            return super().send(raw_message, sender, recipients)

    ports = Ports(**{**world.__dict__, "mailer": FlakyMailer()})
    dunning.start_collection(open_invoice.invoice_id, None, "default", ports)
    ports.clock.at = open_invoice.due_at - timedelta(days=6)
    with pytest.raises(DeliveryRefused):
        dunning.run_due_steps(open_invoice.invoice_id, ports)
    dunning.run_due_steps(open_invoice.invoice_id, ports)  # the state machine's retry
    assert len(ports.mailer.sent) == 1
    assert contact_steps(ports, open_invoice.invoice_id) == ["courtesy_reminder"]


def test_missing_debtor_email_blocks_the_contact_and_opens_a_task(world, open_invoice, berlin_customer):
    world.store.customers[berlin_customer.customer_id] = berlin_customer.model_copy(update={"email": ""})
    dunning.start_collection(open_invoice.invoice_id, None, "default", world)
    world.clock.at = open_invoice.due_at - timedelta(days=6)
    decision = dunning.run_due_steps(open_invoice.invoice_id, world)
    assert world.mailer.sent == []
    blocked = world.log.entries(open_invoice.invoice_id)[-1]
    assert blocked.kind == "contact_blocked" and "no billing email" in blocked.details["missing"]
    assert [t["kind"] for t in world.store.tasks.values()] == ["complete_debtor_data"]
    assert decision.step_id == "due_notice"  # the workflow goes on with the next step


def test_the_policy_version_is_pinned_at_start(world, open_invoice, default_policy):
    dunning.start_collection(open_invoice.invoice_id, None, "default", world)
    # Given a new version is published after the invoice started
    world.policies.versions[("default", default_policy.version + 1)] = default_policy.model_copy(
        update={"version": default_policy.version + 1})
    world.clock.at = open_invoice.due_at - timedelta(days=6)
    dunning.run_due_steps(open_invoice.invoice_id, world)
    assert {e.policy_version for e in world.log.entries(open_invoice.invoice_id) if e.policy_version} == {default_policy.version}


def test_workflow_failures_are_recorded_with_a_task(world, open_invoice):
    result = dunning.record_workflow_failure(open_invoice.invoice_id, "Lambda.Unknown", "timeout", world)
    entry = world.log.entries(open_invoice.invoice_id)[-1]
    assert entry.kind == "workflow_failed" and entry.details["task_id"] == result["task_id"]


@pytest.mark.parametrize("status, remaining, reason", [
    (InvoiceStatus.VOID, 0, "void"), (InvoiceStatus.UNCOLLECTIBLE, 125_000, "uncollectible"),
    (InvoiceStatus.PAID, 0, "paid"), (InvoiceStatus.OPEN, 0, "paid"),
])
def test_closing_records_why_the_invoice_was_settled(world, open_invoice, status, remaining, reason):
    dunning.start_collection(open_invoice.invoice_id, None, "default", world)
    world.store.invoices[open_invoice.invoice_id] = world.store.invoices[open_invoice.invoice_id].model_copy(
        update={"status": status, "amount_remaining": remaining})
    world.clock.at = open_invoice.due_at
    assert dunning.run_due_steps(open_invoice.invoice_id, world).reason == reason
    assert world.log.entries(open_invoice.invoice_id)[-1].details == {"reason": reason}
    assert world.mailer.sent == []


def _walk_whole_policy(ports, invoice):
    return run_workflow(ports, invoice.invoice_id, invoice.due_at + timedelta(days=150))


def test_a_balance_below_the_referral_minimum_opens_a_small_claims_task_instead(world, open_invoice):
    # Given an unpaid invoice of EUR 120.00, below the default policy's EUR 250.00 referral minimum
    world.store.invoices[open_invoice.invoice_id] = open_invoice.model_copy(update={"amount_due": 12_000, "amount_remaining": 12_000})
    decisions = _walk_whole_policy(world, open_invoice)
    # Then no referral happens and no referral notice goes to the debtor; a person gets the decision
    last = world.log.entries(open_invoice.invoice_id)[-1]
    assert last.kind == "referral_declined" and "below the referral minimum" in last.details["reason"]
    assert "referral" not in [e.kind for e in world.log.entries(open_invoice.invoice_id)]
    assert not any(key.startswith("referrals/") for key in world.artefacts.objects)
    assert [t["kind"] for t in world.store.tasks.values()][-1] == "small_claims_or_write_off"
    assert decisions[-1]["status"] == "complete"


def test_no_referral_without_a_final_notice_actually_sent(world, open_invoice, default_policy):
    # Given a policy whose final notice is a call task (no notice reaches the debtor in writing)
    steps = tuple(s.model_copy(update={"channel": Channel.CALL_TASK}) if s.id == "final_notice" else s
                  for s in default_policy.segments["standard"].steps)
    phone_only = default_policy.model_copy(update={"segments": {"standard": default_policy.segments["standard"].model_copy(
        update={"steps": steps})}})
    world.policies.versions[("default", default_policy.version)] = phone_only
    _walk_whole_policy(world, open_invoice)
    last = world.log.entries(open_invoice.invoice_id)[-1]
    assert last.kind == "referral_withheld" and "no final notice" in last.details["reason"]
    assert [t["kind"] for t in world.store.tasks.values()][-1] == "review_before_referral"


def test_a_referral_too_close_to_its_final_notice_is_refused(root):
    import yaml
    from pydantic import ValidationError

    from arrears.domain.policy import parse_policy_yaml

    data = yaml.safe_load((root / "policies" / "default.yaml").read_text())
    for step in data["segments"]["standard"]["steps"]:
        if step["id"] == "referral":
            step["offset_days"] = 65  # five days after the final notice at +60; the notice period is 14
    with pytest.raises(ValidationError, match="less than the notice period"):
        parse_policy_yaml(yaml.safe_dump(data))


def test_an_invoice_settled_before_its_workflow_pinned_a_policy_just_closes(world, open_invoice):
    # Given a payment that stopped the workflow before its first task ran, and a late wake-up
    world.store.invoices[open_invoice.invoice_id] = open_invoice.model_copy(
        update={"status": InvoiceStatus.PAID, "amount_remaining": 0})
    # When the workflow function is asked to run the due steps
    decision = dunning.run_due_steps(open_invoice.invoice_id, world)
    # Then it closes without contacting, rather than failing for want of a pinned policy
    assert decision.status == "closed" and world.mailer.sent == []
    assert world.log.entries(open_invoice.invoice_id)[-1].details == {"reason": "paid"}


def test_after_a_hard_bounce_contacts_go_to_the_escalation_contact(world, open_invoice, berlin_customer):
    # Given the billing address bounced for good and the customer has an escalation contact
    world.store.customers[berlin_customer.customer_id] = berlin_customer.model_copy(
        update={"escalation_email": "cfo@mueller-soehne.example"})
    world.store.mark_undeliverable(berlin_customer.customer_id, "Buchhaltung@Mueller-Soehne.example", "bounce", open_invoice.issued_at)
    dunning.start_collection(open_invoice.invoice_id, None, "default", world)
    world.clock.at = open_invoice.due_at - timedelta(days=6)
    dunning.run_due_steps(open_invoice.invoice_id, world)
    # Then the reminder goes to the escalation contact, and only there
    (sent,) = world.mailer.sent
    assert sent[1] == ["cfo@mueller-soehne.example"]
    assert world.log.entries(open_invoice.invoice_id)[-1].recipient == "cfo@mueller-soehne.example"


def test_with_no_address_left_the_contact_is_blocked_with_a_task(world, open_invoice, berlin_customer):
    # No postal address either, so no letter by post (tests/unit/test_post_when_email_bounces.py has that path)
    world.store.customers[berlin_customer.customer_id] = berlin_customer.model_copy(
        update={"address": berlin_customer.address.model_copy(update={"line1": ""})})
    world.store.mark_undeliverable(berlin_customer.customer_id, berlin_customer.email, "complaint", open_invoice.issued_at)
    dunning.start_collection(open_invoice.invoice_id, None, "default", world)
    world.clock.at = open_invoice.due_at - timedelta(days=6)
    dunning.run_due_steps(open_invoice.invoice_id, world)
    assert world.mailer.sent == []
    blocked = world.log.entries(open_invoice.invoice_id)[-1]
    assert blocked.kind == "contact_blocked" and "no longer reaches them" in blocked.details["missing"]


def test_two_tasks_of_one_kind_at_one_instant_are_both_kept_and_a_retry_reopens_the_same():
    # Given two letters to post for one invoice at the same instant (a hold's own message and a step)
    store = MemoryStore()
    at = datetime(2026, 10, 12, 9, tzinfo=timezone.utc)
    first = store.open_task("in_1", "post_letter", at, {"step_id": "broken_promise_20261001120000"})
    second = store.open_task("in_1", "post_letter", at, {"step_id": "overdue_15"})
    # Then both tasks exist; a retried step reopens its own task rather than adding a third
    retried = store.open_task("in_1", "post_letter", at, {"step_id": "overdue_15"})
    assert first != second and retried == second and len(store.tasks) == 2
