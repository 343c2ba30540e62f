"""Promise to pay, payment plan and insolvency on the real state machine (the local runtime), each on a
never-paid invoice of its own customer, and the policy simulator agreeing entry for entry.

- a promise to pay ten days out is broken: nothing goes out until the promised date plus the grace
  days, then the broken-promise message, then collection resumes;
- a payment plan of two instalments is agreed and the first is missed: a reminder three days before
  it, the broken-plan message after the grace days, then collection resumes;
- the customer of a third invoice is declared insolvent: nothing is sent after, its workflow stops,
  and one task asks a person to file the claim.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Callable

import pytest

from arrears.domain.clock import parse_iso
from arrears.domain.holds import agree_payment_plan, declare_insolvency, promise_to_pay
from arrears.domain.models import Instalment
from arrears.domain.policy import load_policy_file
from arrears.ingestion.providers.stripe import to_update
from arrears.usecases.simulator import Simulation
from arrears.adapters.dynamo import DynamoStore
from arrears.adapters.dynamo_policies import DynamoPolicyRepository
from arrears.adapters.step_functions import StepFunctionsWorkflows
from arrears_local.demo import CONTACT_KINDS, book_events
from arrears_local.portfolio import DEMO_START, sample_portfolio
from arrears_local.runtime import LocalRuntime, local_reply_to
from tests.e2e.test_holds import _run_with_actions
from tests.e2e.test_lifecycle import ROOT, _comparable

POLICY = load_policy_file(ROOT / "policies" / "default.yaml")
FINANCE = "arn:aws:iam::123456789012:user/finance-jane"
DAYS = 150
# Never-paid invoices of three different customers (a 50-invoice sample book has 13 customers).
BOOK = [item for item in sample_portfolio(DEMO_START, 50) if item.behaviour == "never pays"][:3]
PROMISED, PLANNED, INSOLVENT = (item.invoice for item in BOOK)
# Promised after the +15 call, for +20: the hold ends (+20 plus grace) long before the next step (+30) is planned.
PROMISE_AT, PROMISED_ON = PROMISED.due + timedelta(days=19), (PROMISED.due + timedelta(days=21)).date()
PLAN_AT = PLANNED.due + timedelta(days=5)
FIRST_INSTALMENT, SECOND_INSTALMENT = (PLANNED.due + timedelta(days=15)).date(), (PLANNED.due + timedelta(days=35)).date()
INSOLVENT_AT = INSOLVENT.due + timedelta(days=20)

Action = Callable[[object, object, object, object], None]  # (store, policies, workflows, now)


def _plan(store, policies, workflows, now):
    balance = store.get_invoice(PLANNED.invoice_id).amount_remaining
    agree_payment_plan(PLANNED.invoice_id, [Instalment(due_on=FIRST_INSTALMENT, amount=balance // 2),
                                            Instalment(due_on=SECOND_INSTALMENT, amount=balance - balance // 2)],
                       "two instalments agreed by phone", FINANCE, store, store, policies, now)


ACTIONS: list[tuple[object, Action]] = [
    (PROMISE_AT, lambda store, policies, wf, now: promise_to_pay(PROMISED.invoice_id, PROMISED_ON, FINANCE, store, store,
                                                                 policies, now, workflows=wf)),
    (PLAN_AT, _plan),
    (INSOLVENT_AT, lambda store, policies, wf, now: declare_insolvency(INSOLVENT.customer.customer_id,
                                                                       "Administration order of 2 November 2026", FINANCE,
                                                                       store, store, wf, now)),
]


@pytest.fixture(scope="module")
def runtime_run():
    assert len({item.invoice.customer.customer_id for item in BOOK}) == 3
    with LocalRuntime(start=DEMO_START) as runtime:
        store, policies = DynamoStore(runtime.table_name), DynamoPolicyRepository(runtime.table_name)
        workflows = StepFunctionsWorkflows(runtime.state_machine_arn)
        external = [(at, (lambda action=action: action(store, policies, workflows, runtime.now()))) for at, action in ACTIONS]
        run = _run_with_actions(runtime, external, BOOK, POLICY, DAYS)
        sfn = runtime.client("stepfunctions")
        executions = {e["name"]: e["status"] for e in sfn.list_executions(stateMachineArn=runtime.state_machine_arn)["executions"]}
        yield run.logs, executions, store.open_tasks()


def contacts(entries):
    return [e for e in entries if e.kind in CONTACT_KINDS]


def test_a_broken_promise_holds_everything_until_the_grace_days_then_says_so_and_collection_resumes(runtime_run):
    logs, executions, _ = runtime_run
    entries = logs[PROMISED.invoice_id]
    placed = next(e for e in entries if e.kind == "hold_placed")
    broken = next(e for e in contacts(entries) if e.template == "broken_promise")
    # Nothing between the promise and the broken-promise message, which goes after the promised date plus grace
    assert not [e for e in contacts(entries) if placed.at <= e.at < broken.at]
    assert broken.at.date() >= PROMISED_ON + timedelta(days=POLICY.promise_grace_days)
    # At the hold's own end (the promised date plus grace, at contact time), not when the next step was planned
    assert broken.at == parse_iso(placed.details["until"]) < PROMISED.due + timedelta(days=30)
    assert broken.details["balance"] > 0
    # Then the policy's later steps go out again, up to the referral
    after = [e.step_id for e in contacts(entries) if e.at > broken.at]
    assert "formal_notice" in after and after[-1] == "referral"
    assert executions[PROMISED.invoice_id] == "SUCCEEDED"


def test_a_missed_instalment_is_reminded_then_escalated_and_collection_resumes(runtime_run):
    logs, _, _ = runtime_run
    sent = contacts(logs[PLANNED.invoice_id])
    templates = [e.template for e in sent if e.at >= PLAN_AT]
    # A reminder three days before the first instalment, then the broken-plan message once it was missed
    assert templates[:2] == ["instalment_reminder", "broken_payment_plan"]
    reminder, broken = (next(e for e in sent if e.template == name) for name in templates[:2])
    assert (FIRST_INSTALMENT - reminder.at.date()).days >= 3
    assert broken.at.date() >= FIRST_INSTALMENT + timedelta(days=POLICY.promise_grace_days)
    # Nothing else while the plan held
    assert not [e for e in sent if PLAN_AT <= e.at < broken.at and e.template not in ("instalment_reminder",)]
    # Then collection resumes with the policy's later steps
    assert "final_notice" in [e.step_id for e in sent if e.at > broken.at]


def test_an_insolvent_customer_is_not_contacted_again_and_a_claim_task_opens(runtime_run):
    logs, executions, tasks = runtime_run
    entries = logs[INSOLVENT.invoice_id]
    insolvency = next(e for e in entries if e.kind == "insolvency")
    assert insolvency.actor == FINANCE and insolvency.details["notice"].startswith("Administration order")
    assert contacts(entries) and not [e for e in contacts(entries) if e.at >= INSOLVENT_AT]
    assert executions[INSOLVENT.invoice_id] in ("ABORTED", "SUCCEEDED")
    claim = [t for t in tasks if t["kind"] == "file_insolvency_claim"]
    assert len(claim) == 1 and claim[0]["details"]["invoices"] == [INSOLVENT.invoice_id]


def test_the_simulator_agrees_with_the_state_machine(runtime_run):
    logs, _, _ = runtime_run
    events, _ = book_events(BOOK, POLICY)
    simulation = Simulation(POLICY, "collections@northwind.example", reply_to=local_reply_to)
    simulation.add_updates([(event.at, to_update(event.document())) for event in events])
    for at, action in ACTIONS:
        simulation.add_action(at, lambda sim, action=action: action(sim.store, sim.ports.policies, sim.workflows, sim.clock.at))
    result = simulation.run(DEMO_START + timedelta(days=DAYS))
    for invoice_id, entries in logs.items():
        assert [_comparable(e) for e in result.logs[invoice_id]] == [_comparable(e) for e in entries], invoice_id
