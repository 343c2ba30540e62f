"""A contact's send under faults (issue #14), on in-memory adapters: the workflow function's process dies at
each named point of the send protocol (docs/architecture.md), SES refuses or does not answer, escalate-now and a
scheduled wake-up meet. Each invoice ends as in the fault-free run, or with a recorded failure and a task for
a person: no contact is sent twice, none is lost.

Müller & Söhne (Berlin) owes two invoices due the same day; the policy keeps 3 days between messages.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from arrears.domain import dunning
from arrears.domain.holds import ActionRefused
from arrears.domain.ports import PHASE_CLAIMED, PHASE_DONE, PHASE_SENDING, Ports
from arrears.usecases.workflow_steps import WorkflowRequest, step_owner
from tests.unit.memory_world import memory_ports
from tests.unit.test_contact_gap import ACTOR, COURTESY_AT, SECOND, two_invoices
EXECUTION = "arn:aws:states:eu-central-1:123456789012:execution:arrears-dunning:in_1QAbCdEfGhIjKlMn"
# One entry of the state "Send courtesy reminder": its Step Functions retries are the same owner.
ATTEMPT = f"{EXECUTION}|Send courtesy reminder|2026-09-24T08:00:00.123Z"


class ProcessDied(BaseException):
    """The Lambda's process ends here (out of memory, timeout): no except clause, no finally of ours runs."""


@pytest.fixture
def world(default_policy, open_invoice, berlin_customer):
    ports = two_invoices(default_policy, open_invoice, berlin_customer)
    ports.clock.at = COURTESY_AT  # Thursday 10:00 in Berlin: both courtesy reminders are due
    return ports


def die_once(monkeypatch, target, method: str, after: bool = False, when=lambda *args, **kwargs: True):
    """The process dies at `target.method`: before it runs, or just `after` it did (its answer never seen)."""
    real = getattr(target, method)
    state = {"armed": True}

    def dying(*args, **kwargs):
        if state["armed"] and when(*args, **kwargs):
            state["armed"] = False
            if after:
                real(*args, **kwargs)
            raise ProcessDied(method)
        return real(*args, **kwargs)

    monkeypatch.setattr(target, method, dying)


def contacts(ports: Ports, invoice_id: str) -> list[tuple[str, str]]:
    return [(e.kind, e.step_id) for e in ports.log.entries(invoice_id)
            if e.kind in ("email", "letter", "call_task", "referral", "contact_unconfirmed")]


def fault_free_log(default_policy, open_invoice, berlin_customer) -> list[tuple]:
    ports = two_invoices(default_policy, open_invoice, berlin_customer)
    ports.clock.at = COURTESY_AT
    dunning.run_due_steps(open_invoice.invoice_id, ports)
    return [(e.kind, e.step_id, e.recipient, e.subject) for e in ports.log.entries(open_invoice.invoice_id)]


def test_a_crash_after_the_claim_and_before_ses_is_sent_by_the_retry(world, open_invoice, monkeypatch,
                                                                     default_policy, berlin_customer):
    # Given the process dies after claiming the courtesy reminder, while storing its .eml (nothing reached SES)
    die_once(monkeypatch, world.artefacts, "put", when=lambda key, *rest: key.endswith(".eml"))
    with pytest.raises(ProcessDied):
        dunning.run_due_steps(open_invoice.invoice_id, world, ATTEMPT)
    assert world.mailer.sent == [] and world.store.claims[(open_invoice.invoice_id, "courtesy_reminder")]["phase"] == PHASE_CLAIMED
    # When Step Functions retries the same state (the same owner) a few seconds later
    world.clock.at = COURTESY_AT + timedelta(seconds=20)
    dunning.run_due_steps(open_invoice.invoice_id, world, ATTEMPT)
    # Then the reminder goes out once, and the log is the fault-free run's
    assert len(world.mailer.sent) == 1
    logged = [(e.kind, e.step_id, e.recipient, e.subject) for e in world.log.entries(open_invoice.invoice_id)]
    assert logged == fault_free_log(default_policy, open_invoice, berlin_customer)
    assert "courtesy_reminder" in world.store.get_invoice(open_invoice.invoice_id).completed_steps


def test_a_live_claim_is_never_taken_over_so_escalate_now_and_the_wake_up_cannot_both_send(world, open_invoice, monkeypatch):
    # Given the scheduled wake-up claimed the courtesy reminder and died before SES (its retry not yet run)
    die_once(monkeypatch, world.artefacts, "put", when=lambda key, *rest: key.endswith(".eml"))
    with pytest.raises(ProcessDied):
        dunning.run_due_steps(open_invoice.invoice_id, world, ATTEMPT)
    # When a person escalates the invoice while the claim is live
    world.clock.at = COURTESY_AT + timedelta(minutes=1)
    with pytest.raises(ActionRefused) as refused:
        dunning.escalate_now(open_invoice.invoice_id, ACTOR, world, "req-7f3a")
    # Then it is refused (409): nothing sent, nothing logged as escalated
    assert refused.value.code == "step_in_progress"
    assert world.mailer.sent == [] and "escalated" not in [e.kind for e in world.log.entries(open_invoice.invoice_id)]
    # And the wake-up's retry sends it, once; a later escalation finds it done and moves to the next step
    dunning.run_due_steps(open_invoice.invoice_id, world, ATTEMPT)
    assert contacts(world, open_invoice.invoice_id) == [("email", "courtesy_reminder")]


def test_an_expired_claim_is_taken_over_and_its_old_holder_can_no_longer_send(world, open_invoice):
    # Given the wake-up holds the step ("claimed"), and its claim has expired (its process is long dead)
    store = world.store
    old = store.take_step(open_invoice.invoice_id, "courtesy_reminder", ATTEMPT, COURTESY_AT,
                          COURTESY_AT + dunning.STEP_CLAIM_TTL)
    later = COURTESY_AT + dunning.STEP_CLAIM_TTL + timedelta(seconds=1)
    # When another owner (an escalation) takes the step
    new = store.take_step(open_invoice.invoice_id, "courtesy_reminder", "escalate:req-1", later, later + dunning.STEP_CLAIM_TTL)
    # Then it holds it, and the old holder's move to "sending" fails: only one of them can hand it to SES
    assert old.mine and new.mine and new.holder != old.holder
    assert store.advance_step(open_invoice.invoice_id, "courtesy_reminder", old.holder, (PHASE_CLAIMED,), PHASE_SENDING) is False
    assert store.advance_step(open_invoice.invoice_id, "courtesy_reminder", new.holder, (PHASE_CLAIMED,), PHASE_SENDING) is True
    # And a claim past "claimed" is never taken for sending by anyone: a third caller is told it is held
    third = store.take_step(open_invoice.invoice_id, "courtesy_reminder", "escalate:req-2", later, later)
    assert not third.mine


def test_a_crash_after_ses_accepted_and_before_the_log_writes_the_entry_from_the_record(world, open_invoice, monkeypatch):
    # Given SES accepted the reminder and the process died before its log entry
    die_once(monkeypatch, world.log, "append", when=lambda *args, **fields: fields.get("kind") == "email")
    with pytest.raises(ProcessDied):
        dunning.run_due_steps(open_invoice.invoice_id, world, ATTEMPT)
    assert len(world.mailer.sent) == 1
    # When the state's retry runs
    dunning.run_due_steps(open_invoice.invoice_id, world, ATTEMPT)
    # Then nothing is sent again, and the log has the email once, with SES's message id and its .eml
    assert len(world.mailer.sent) == 1
    [email] = [e for e in world.log.entries(open_invoice.invoice_id) if e.kind == "email"]
    assert email.message_id == "memory-000001" and email.recipient == "buchhaltung@mueller-soehne.example"
    assert [a.uri for a in email.artefacts] == [f"s3://memory/emails/{open_invoice.invoice_id}/courtesy_reminder.eml"]
    assert world.store.claims[(open_invoice.invoice_id, "courtesy_reminder")]["phase"] == PHASE_DONE


@pytest.mark.parametrize("death", ["after_ses_took_it", "ses_never_answered"])
def test_a_send_whose_answer_was_never_recorded_is_not_resent_and_a_person_confirms_it(world, open_invoice, monkeypatch,
                                                                                   death):
    # Given the process died while SES had the message: SES took it (its answer lost), or never answered
    if death == "after_ses_took_it":
        die_once(monkeypatch, world.mailer, "send", after=True)
        with pytest.raises(ProcessDied):
            dunning.run_due_steps(open_invoice.invoice_id, world, ATTEMPT)
    else:
        def timed_out(*args):
            raise TimeoutError("Read timeout on endpoint URL: https://email.eu-central-1.amazonaws.com/")

        monkeypatch.setattr(world.mailer, "send", timed_out)
        with pytest.raises(TimeoutError):
            dunning.run_due_steps(open_invoice.invoice_id, world, ATTEMPT)
        monkeypatch.undo()
    sent_before = len(world.mailer.sent)
    # When the state's retry runs
    decision = dunning.run_due_steps(open_invoice.invoice_id, world, ATTEMPT)
    # Then it never sends again: the log says the contact is unconfirmed, with the message that was handed to SES
    assert len(world.mailer.sent) == sent_before
    [unconfirmed] = [e for e in world.log.entries(open_invoice.invoice_id) if e.kind == "contact_unconfirmed"]
    assert unconfirmed.step_id == "courtesy_reminder" and unconfirmed.recipient == "buchhaltung@mueller-soehne.example"
    assert [a.kind for a in unconfirmed.artefacts] == ["email"]
    # And a person has a task to confirm it, and the workflow goes on with the next step
    [task] = [t for t in world.store.tasks.values() if t["kind"] == "confirm_contact_sent"]
    assert task["details"]["step_id"] == "courtesy_reminder" and unconfirmed.details["task_id"] == task["task_id"]
    assert decision.step_id == "due_notice"
    # And the task closes when the invoice is paid
    world.store.invoices[open_invoice.invoice_id] = world.store.get_invoice(open_invoice.invoice_id).model_copy(
        update={"amount_paid": open_invoice.amount_due, "amount_remaining": 0})
    world.clock.at = COURTESY_AT + timedelta(days=1)
    dunning.run_due_steps(open_invoice.invoice_id, world, ATTEMPT)
    assert world.store.tasks[task["task_id"]]["status"] != "open"


def test_a_crash_after_the_log_entry_saves_progress_without_logging_twice(world, open_invoice, monkeypatch):
    # Given the reminder was sent and logged, and the process died before saving the invoice's progress
    die_once(monkeypatch, world.store, "save_progress", when=lambda invoice_id, step, *rest, **kw: step == "courtesy_reminder")
    with pytest.raises(ProcessDied):
        dunning.run_due_steps(open_invoice.invoice_id, world, ATTEMPT)
    assert "courtesy_reminder" not in world.store.get_invoice(open_invoice.invoice_id).completed_steps
    # When the state's retry runs
    dunning.run_due_steps(open_invoice.invoice_id, world, ATTEMPT)
    # Then the step is completed, with one email in the log and one message sent
    assert "courtesy_reminder" in world.store.get_invoice(open_invoice.invoice_id).completed_steps
    assert contacts(world, open_invoice.invoice_id) == [("email", "courtesy_reminder")] and len(world.mailer.sent) == 1


def test_a_step_done_by_an_earlier_attempt_does_not_take_the_customers_slot(world, open_invoice, monkeypatch):
    # Given the reminder went out and was logged, then the process died before saving progress
    die_once(monkeypatch, world.store, "save_progress", when=lambda invoice_id, step, *rest, **kw: step == "courtesy_reminder")
    with pytest.raises(ProcessDied):
        dunning.run_due_steps(open_invoice.invoice_id, world, ATTEMPT)
    slot_before = dict(world.store.contact_slots["cus_QhK2pT5wQm7Yz2"])
    # When another attempt (not the same owner: a person's redrive, an hour later) finds the step done
    world.clock.at = COURTESY_AT + timedelta(hours=1)
    dunning.run_due_steps(open_invoice.invoice_id, world, f"{EXECUTION}|Send courtesy reminder|2026-09-24T09:00:00.000Z")
    # Then the customer's slot is as the send left it: the next message waits one gap from the real send
    assert world.store.contact_slots["cus_QhK2pT5wQm7Yz2"] == slot_before
    assert len(world.mailer.sent) == 1


def test_a_deferred_message_gives_its_step_claim_back(world, open_invoice):
    # Given the first invoice's reminder took the customer's slot
    dunning.run_due_steps(open_invoice.invoice_id, world, ATTEMPT)
    # When the second invoice's reminder must wait out the gap
    dunning.run_due_steps(SECOND, world, f"arn:execution:{SECOND}|Send courtesy reminder|2026-09-24T08:00:00.5Z")
    # Then its step is not left claimed (its later wake-up, another owner, sends it)
    assert (SECOND, "courtesy_reminder") not in world.store.claims
    world.clock.at = datetime(2026, 9, 28, 8, 0, tzinfo=timezone.utc)
    dunning.run_due_steps(SECOND, world, f"arn:execution:{SECOND}|Send courtesy reminder|2026-09-28T08:00:00.1Z")
    assert contacts(world, SECOND) == [("email", "courtesy_reminder")]


def test_retries_exhausted_leave_a_failure_a_task_and_no_claim_that_blocks_a_persons_retry(world, open_invoice, monkeypatch):
    # Given every attempt of the state died after claiming the step, and Step Functions gave up
    die_once(monkeypatch, world.artefacts, "put", when=lambda key, *rest: key.endswith(".eml"))
    with pytest.raises(ProcessDied):
        dunning.run_due_steps(open_invoice.invoice_id, world, ATTEMPT)
    # When the Catch records the failure
    result = dunning.record_workflow_failure(open_invoice.invoice_id, "Sandbox.Timedout", "Task timed out after 60.00 seconds",
                                             world)
    # Then the log and a task for a person say so, and the step is not left claimed
    assert world.log.entries(open_invoice.invoice_id)[-1].kind == "workflow_failed"
    assert world.store.tasks[result["task_id"]]["kind"] == "investigate_workflow_failure"
    assert (open_invoice.invoice_id, "courtesy_reminder") not in world.store.claims
    # And a person's retry (a redrive: a new entry of the state, another owner) sends it, once
    world.clock.at = COURTESY_AT + timedelta(minutes=3)
    dunning.run_due_steps(open_invoice.invoice_id, world, f"{EXECUTION}|Send courtesy reminder|2026-09-24T08:03:00.000Z")
    assert contacts(world, open_invoice.invoice_id) == [("email", "courtesy_reminder")] and len(world.mailer.sent) == 1


def test_a_failure_after_ses_had_the_message_names_the_interrupted_step(world, open_invoice, monkeypatch):
    # Given the process died while SES had the message, and the retries were exhausted
    die_once(monkeypatch, world.mailer, "send", after=True)
    with pytest.raises(ProcessDied):
        dunning.run_due_steps(open_invoice.invoice_id, world, ATTEMPT)
    # When the failure is recorded
    result = dunning.record_workflow_failure(open_invoice.invoice_id, "Lambda.Unknown", "", world)
    # Then its task names the step, which stays claimed: whoever runs it next confirms it, never resends it
    assert world.store.tasks[result["task_id"]]["details"]["interrupted_steps"] == ["courtesy_reminder"]
    assert world.store.claims[(open_invoice.invoice_id, "courtesy_reminder")]["phase"] == PHASE_SENDING


ASL = Path(__file__).resolve().parents[2] / "statemachines" / "dunning.asl.json"
# What a dying workflow function looks like to Step Functions (a timeout, the process ending, Lambda itself failing).
CRASHES = ("Lambda.Unknown", "Sandbox.Timedout", "Runtime.ExitError", "Lambda.ServiceException")


def _retried(retriers: list[dict], error: str) -> dict | None:
    for retrier in retriers:
        names = retrier["ErrorEquals"]
        if error in names or "States.ALL" in names or ("States.TaskFailed" in names and not error.startswith("States.")):
            return retrier
    return None


def test_every_task_retries_a_crashed_function_and_the_senders_outlive_another_owners_claim():
    states = json.loads(ASL.read_text())["States"]
    tasks = {name: state for name, state in states.items() if state["Type"] == "Task"}
    for name, state in tasks.items():
        # Every task retries what a dead function looks like, before its Catch records a failure
        for error in CRASHES:
            assert _retried(state["Retry"], error) is not None, (name, error)
        # And a wait's own timeout is never retried: it is the step's moment (its Catch sends the step)
        if state["Parameters"]["Payload"]["action"] == "wait":
            assert _retried(state["Retry"], "States.Timeout") is None, name
        if state["Parameters"]["Payload"]["action"] != "run_due_steps":
            continue
        # The sending states name their entry (the owner of the steps they claim) ...
        payload = state["Parameters"]["Payload"]
        assert payload["state_name.$"] == "$$.State.Name" and payload["state_entered_at.$"] == "$$.State.EnteredTime"
        # ... and wait for another owner's claim longer than it can live (the sum of the retries' longest waits)
        waiting = _retried(state["Retry"], "StepInProgress")
        assert waiting["ErrorEquals"] == ["StepInProgress"], name
        longest = [min(waiting["MaxDelaySeconds"], waiting["IntervalSeconds"] * waiting["BackoffRate"] ** n)
                   for n in range(waiting["MaxAttempts"])]
        assert sum(longest) > 3 * dunning.STEP_CLAIM_TTL.total_seconds(), name


def test_the_owner_of_a_request_is_its_state_entry():
    request = WorkflowRequest(action="run_due_steps", invoice_id="in_1QAbCdEfGhIjKlMn", execution_arn=EXECUTION,
                              state_name="Send courtesy reminder", state_entered_at="2026-09-24T08:00:00.123Z")
    assert step_owner(request) == ATTEMPT
    assert step_owner(request.model_copy(update={"state_entered_at": None})) is None


def test_a_crash_after_a_steps_task_was_opened_opens_it_once(world, open_invoice, monkeypatch):
    # Given the call step's moment, and the process dies just after opening the call task (before its log entry)
    policy = world.policies.current("default")
    world.clock.at = {p.step.id: p.at for p in dunning.plan_for(world.store.get_invoice(open_invoice.invoice_id),
                                                                 world.store.get_customer("cus_QhK2pT5wQm7Yz2"),
                                                                 policy)}["call_15"]
    die_once(monkeypatch, world.store, "open_task", after=True, when=lambda invoice_id, kind, *rest: kind == "call_debtor")
    with pytest.raises(ProcessDied):
        dunning.run_due_steps(open_invoice.invoice_id, world, ATTEMPT)
    # When the state's retry runs half a minute later
    world.clock.at += timedelta(seconds=30)
    dunning.run_due_steps(open_invoice.invoice_id, world, ATTEMPT)
    # Then there is one call task (the retry opened the same one), logged once
    assert [t["kind"] for t in world.store.tasks.values()].count("call_debtor") == 1
    assert contacts(world, open_invoice.invoice_id).count(("call_task", "call_15")) == 1


@pytest.mark.parametrize("dies_at", ["collection_started", "step_skipped"])
def test_a_start_that_died_is_finished_by_its_retry_each_entry_once(default_policy, open_invoice, berlin_customer,
                                                                   monkeypatch, dies_at):
    # Given an invoice that reaches Arrears 20 days after its due date (its earlier steps are skipped at start)
    ports = memory_ports(default_policy, berlin_customer, open_invoice, at=open_invoice.due_at + timedelta(days=20))
    start = f"{EXECUTION}|Start collection|2026-10-21T08:00:00.000Z"
    fault_free = memory_ports(default_policy, berlin_customer, open_invoice, at=open_invoice.due_at + timedelta(days=20))
    dunning.start_collection(open_invoice.invoice_id, EXECUTION, "default", fault_free, start)
    # And the process dies just after its first entry of that kind is written
    die_once(monkeypatch, ports.log, "append", after=True, when=lambda *args, **fields: fields.get("kind") == dies_at)
    with pytest.raises(ProcessDied):
        dunning.start_collection(open_invoice.invoice_id, EXECUTION, "default", ports, start)
    # When Step Functions retries the state a little later
    ports.clock.at += timedelta(seconds=30)
    decision = dunning.start_collection(open_invoice.invoice_id, EXECUTION, "default", ports, start)
    # Then the log is the fault-free start's (each entry once) and the workflow goes on the same way
    def entries(world):
        return [(e.kind, e.step_id) for e in world.log.entries(open_invoice.invoice_id)]

    assert entries(ports) == entries(fault_free) and ("step_skipped", "courtesy_reminder") in entries(ports)
    assert ports.store.get_invoice(open_invoice.invoice_id).completed_steps == \
        fault_free.store.get_invoice(open_invoice.invoice_id).completed_steps
    assert decision.step_id == dunning.start_collection(open_invoice.invoice_id, EXECUTION, "default", fault_free, start).step_id


def test_a_close_that_died_after_its_entry_is_finished_by_its_retry_logged_once(world, open_invoice, monkeypatch):
    # Given the invoice is paid, and the process dies just after logging that its collection closed
    world.store.invoices[open_invoice.invoice_id] = world.store.get_invoice(open_invoice.invoice_id).model_copy(
        update={"amount_paid": open_invoice.amount_due, "amount_remaining": 0})
    die_once(monkeypatch, world.log, "append", after=True, when=lambda *args, **fields: fields.get("kind") == "collection_closed")
    with pytest.raises(ProcessDied):
        dunning.run_due_steps(open_invoice.invoice_id, world, ATTEMPT)
    # When the state's retry runs
    decision = dunning.run_due_steps(open_invoice.invoice_id, world, ATTEMPT)
    # Then the collection is closed, logged once, and nothing was sent
    assert decision.status == "closed"
    assert [e.kind for e in world.log.entries(open_invoice.invoice_id)].count("collection_closed") == 1
    assert world.mailer.sent == []


@pytest.mark.parametrize("dies", ["before_the_log_entry", "while_ses_had_it"])
def test_a_contact_interrupted_before_the_invoice_was_paid_is_in_the_log_when_it_closes(world, open_invoice, monkeypatch,
                                                                                     dies):
    # Given the reminder was handed to SES and the process died (before its log entry, or before SES's answer)
    if dies == "before_the_log_entry":
        die_once(monkeypatch, world.log, "append", when=lambda *args, **fields: fields.get("kind") == "email")
    else:
        die_once(monkeypatch, world.mailer, "send", after=True)
    with pytest.raises(ProcessDied):
        dunning.run_due_steps(open_invoice.invoice_id, world, ATTEMPT)
    # And the invoice is paid before the state's retry runs
    world.store.invoices[open_invoice.invoice_id] = world.store.get_invoice(open_invoice.invoice_id).model_copy(
        update={"amount_paid": open_invoice.amount_due, "amount_remaining": 0})
    # When the retry runs
    decision = dunning.run_due_steps(open_invoice.invoice_id, world, ATTEMPT)
    # Then the collection closes with the contact in the log before it (as sent, or unconfirmed: its task then
    # closes with the invoice's others), and nothing more is sent
    kinds = [e.kind for e in world.log.entries(open_invoice.invoice_id)]
    expected = "email" if dies == "before_the_log_entry" else "contact_unconfirmed"
    assert decision.status == "closed" and kinds.count(expected) == 1
    assert kinds.index(expected) < kinds.index("collection_closed")
    assert len(world.mailer.sent) == 1
    assert world.store.open_tasks_of(open_invoice.invoice_id) == []


def test_a_referral_that_died_between_the_debtors_and_the_agencys_message_sends_neither_again(
        default_policy, open_invoice, berlin_customer, monkeypatch):
    # Given an invoice walked through the whole policy, whose process dies as the agency's copy goes to SES
    ports = memory_ports(default_policy, berlin_customer, open_invoice)
    die_once(monkeypatch, ports.mailer, "send", when=lambda message, sender, recipients: recipients == ["referrals@lambertcole.example"])
    decision = dunning.start_collection(open_invoice.invoice_id, EXECUTION, "default", ports)
    died = False
    while decision.status == "active":
        ports.clock.at = max(ports.clock.at, datetime.fromisoformat(decision.next_at.replace("Z", "+00:00")))
        owner = f"{EXECUTION}|{decision.stage}|{decision.next_at}"
        try:
            decision = dunning.run_due_steps(open_invoice.invoice_id, ports, owner)
        except ProcessDied:
            died = True
            ports.clock.at += timedelta(seconds=20)
            decision = dunning.run_due_steps(open_invoice.invoice_id, ports, owner)  # the state's retry
    assert died and decision.status == "complete"
    # Then the debtor's referral notice went once and the agency's copy never twice (here: never)
    recipients = [sent[1] for sent in ports.mailer.sent]
    assert recipients.count(["referrals@lambertcole.example"]) == 0
    assert [e.kind for e in ports.log.entries(open_invoice.invoice_id) if e.step_id == "referral"] == ["contact_unconfirmed"]
    # And a person confirms what went out: the task has the debtor's message id (the agency's was never answered)
    [task] = [t for t in ports.store.tasks.values() if t["kind"] == "confirm_contact_sent"]
    assert task["details"]["step_id"] == "referral" and len(task["details"]["message_ids"]) == 1


def test_escalating_a_step_its_workflow_just_sent_is_refused_and_the_next_escalation_moves_on(world, open_invoice,
                                                                                              monkeypatch):
    # Given the workflow sent the courtesy reminder and died before saving the invoice's progress
    die_once(monkeypatch, world.store, "save_progress", when=lambda invoice_id, step, *rest, **kw: step == "courtesy_reminder")
    with pytest.raises(ProcessDied):
        dunning.run_due_steps(open_invoice.invoice_id, world, ATTEMPT)
    # When a person escalates the invoice
    with pytest.raises(ActionRefused) as refused:
        dunning.escalate_now(open_invoice.invoice_id, ACTOR, world, "req-1")
    # Then it is refused (nothing sent twice), and the step is recorded done: the next escalation is about the next step
    assert refused.value.code == "step_in_progress" and len(world.mailer.sent) == 1
    assert "courtesy_reminder" in world.store.get_invoice(open_invoice.invoice_id).completed_steps


def test_an_unusable_address_recorded_by_an_attempt_that_died_is_logged_once_with_one_task(
        default_policy, berlin_customer, open_invoice, monkeypatch):
    # Given a billing email that is not one address, and the process dies just after its task was opened
    customer = berlin_customer.model_copy(update={"email": "ap@mueller-soehne.example, mahnung@mueller-soehne.example"})
    ports = memory_ports(default_policy, customer, open_invoice)
    dunning.start_collection(open_invoice.invoice_id, EXECUTION, "default", ports)
    ports.clock.at = COURTESY_AT
    die_once(monkeypatch, ports.store, "open_task", after=True, when=lambda invoice_id, kind, *rest: kind == "complete_debtor_data")
    with pytest.raises(ProcessDied):
        dunning.run_due_steps(open_invoice.invoice_id, ports, ATTEMPT)
    # When the state's retry runs
    ports.clock.at += timedelta(seconds=20)
    dunning.run_due_steps(open_invoice.invoice_id, ports, ATTEMPT)
    # Then the address is recorded as unusable once, with one task (the same one the dead attempt opened)
    entries = ports.log.entries(open_invoice.invoice_id)
    [unusable] = [e for e in entries if e.kind == "debtor_data_unusable"]
    assert [t["task_id"] for t in ports.store.tasks.values() if t["kind"] == "complete_debtor_data"] == [
        unusable.details["task_id"]]
