"""A contact's send on DynamoDB (moto) when the workflow function's process dies at each named point of the
send protocol (docs/architecture.md): the state's retry (the same owner) ends as the fault-free run does, or
with the contact logged as unconfirmed and a task for a person; never a second message, never a silent gap."""

from __future__ import annotations

from datetime import timedelta

import pytest

from arrears.adapters.dynamo import DynamoStore
from arrears.adapters.memory import MemoryArtefacts, MemoryMailer, MemoryPolicies
from arrears.domain import dunning
from arrears.domain.clock import FixedClock
from arrears.domain.ports import Ports

OWNER = "arn:aws:states:eu-central-1:123456789012:execution:arrears-dunning:x|Send courtesy reminder|2026-01-01T00:00:00Z"


class ProcessDied(BaseException):
    """The Lambda's process ends here: no except clause of ours runs."""


@pytest.fixture
def world(stack, default_policy, berlin_customer, open_invoice):
    store = DynamoStore(stack.table_name)
    store.save_customer(berlin_customer)
    store.save_invoice_facts(open_invoice)
    ports = Ports(store=store, log=store, artefacts=MemoryArtefacts(), mailer=MemoryMailer(),
                  policies=MemoryPolicies(default_policy), clock=FixedClock(open_invoice.issued_at),
                  sender_email="collections@northwind.example")
    dunning.start_collection(open_invoice.invoice_id, "arn:execution", "default", ports)
    ports.clock.at = open_invoice.due_at - timedelta(days=6)  # the courtesy reminder is due
    return ports


def die_once(monkeypatch, target, method, after=False, when=lambda *args, **kwargs: True):
    real, armed = getattr(target, method), [True]

    def dying(*args, **kwargs):
        if armed[0] and when(*args, **kwargs):
            armed[0] = False
            if after:
                real(*args, **kwargs)
            raise ProcessDied(method)
        return real(*args, **kwargs)

    monkeypatch.setattr(target, method, dying)


CRASHES = {
    "after the step is claimed": lambda w, mp: die_once(mp, w.artefacts, "put", when=lambda key, *a: key.endswith(".eml")),
    "after SES accepted, before the log entry": lambda w, mp: die_once(
        mp, w.store, "append", when=lambda *a, **fields: fields.get("kind") == "email"),
    "after the log entry, before progress is saved": lambda w, mp: die_once(
        mp, w.store, "save_progress", when=lambda invoice_id, step, *a, **k: step == "courtesy_reminder"),
}


@pytest.mark.parametrize("point", sorted(CRASHES))
def test_the_retry_after_a_crash_sends_once_and_logs_once(world, open_invoice, monkeypatch, point):
    # Given the process dies at this point of the courtesy reminder's send
    CRASHES[point](world, monkeypatch)
    with pytest.raises(ProcessDied):
        dunning.run_due_steps(open_invoice.invoice_id, world, OWNER)
    # When Step Functions retries the state
    world.clock.at += timedelta(seconds=20)
    decision = dunning.run_due_steps(open_invoice.invoice_id, world, OWNER)
    # Then the reminder went to SES once, is in the log once, and the workflow goes on
    emails = [e for e in world.store.entries(open_invoice.invoice_id) if e.kind == "email"]
    assert len(world.mailer.sent) == 1 and [e.step_id for e in emails] == ["courtesy_reminder"]
    assert emails[0].message_id == "memory-000001" and emails[0].artefacts[0].kind == "email"
    assert "courtesy_reminder" in world.store.get_invoice(open_invoice.invoice_id).completed_steps
    assert decision.step_id == "due_notice"
    assert world.store.step_claims(open_invoice.invoice_id)["courtesy_reminder"].phase == "done"


def test_a_send_ses_may_have_taken_is_never_resent_and_a_person_confirms_it(world, open_invoice, monkeypatch):
    # Given the process died while SES had the message (SES took it; its answer was never recorded)
    die_once(monkeypatch, world.mailer, "send", after=True)
    with pytest.raises(ProcessDied):
        dunning.run_due_steps(open_invoice.invoice_id, world, OWNER)
    # When the state's retry runs
    dunning.run_due_steps(open_invoice.invoice_id, world, OWNER)
    # Then nothing is sent again; the log says the contact is unconfirmed, and a person has the task
    assert len(world.mailer.sent) == 1
    [unconfirmed] = [e for e in world.store.entries(open_invoice.invoice_id) if e.kind == "contact_unconfirmed"]
    tasks = world.store.open_tasks_of(open_invoice.invoice_id)
    assert [t["kind"] for t in tasks] == ["confirm_contact_sent"] and unconfirmed.details["task_id"] == tasks[0]["task_id"]
    assert tasks[0]["details"]["artefacts"] == [f"s3://memory/emails/{open_invoice.invoice_id}/courtesy_reminder.eml"]


def test_ses_is_called_once_and_its_refusal_is_a_delivery_refused(stack):
    from arrears.adapters import aws, ses
    from arrears.domain.ports import DeliveryRefused

    # Given the mailer's SES client: botocore never sends SendEmail a second time (a retry after a timeout could
    # deliver the message twice); the workflow's own retry does, knowing what went out
    client = aws.single_attempt_client("sesv2", ses._READ_TIMEOUT_SECONDS)
    assert client.meta.config.retries["total_max_attempts"] == 1
    # When SES refuses a message (a sender it has no identity for)
    with pytest.raises(DeliveryRefused) as refused:
        ses.SesMailer().send(b"Subject: hello\r\n\r\nhello", "nobody@unverified.example", ["ap@example.com"])
    # Then the refusal says so: nothing went out, a retry may send it
    assert "SES refused the message" in str(refused.value)
