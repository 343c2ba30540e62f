"""Holds on the real state machine: the workflow parks on a task token and resumes where it left off."""

from __future__ import annotations

from datetime import timedelta
from typing import Callable

import pytest

from arrears.domain.holds import place_hold, release_hold
from arrears.domain.models import HoldKind
from arrears.domain.policy import load_policy_file
from arrears.ingestion.providers.stripe import to_update
from arrears.usecases.simulator import Simulation
from arrears.adapters.dynamo import DynamoStore
from arrears.adapters.step_functions import StepFunctionsWorkflows
from arrears_local.demo import CONTACT_KINDS, book_events, run_book
from arrears_local.portfolio import DEMO_START, sample_portfolio
from arrears_local.runtime import LocalRuntime, local_reply_to
from tests.e2e.test_lifecycle import ROOT, _comparable

POLICY = load_policy_file(ROOT / "policies" / "default.yaml")
FINANCE = "arn:aws:iam::123456789012:user/finance-jane"
DAYS = 150
# Two invoices that are never paid: one disputed and later resolved, one paused until a date.
BOOK = [item for item in sample_portfolio(DEMO_START, 20) if item.behaviour == "never pays"]
DISPUTED, PAUSED = BOOK[0].invoice, BOOK[1].invoice
DISPUTE_AT, RESOLVED_AT = DISPUTED.due + timedelta(days=3), DISPUTED.due + timedelta(days=23)
PAUSE_AT, PAUSE_UNTIL = PAUSED.due + timedelta(days=3), PAUSED.due + timedelta(days=13)

Action = Callable[[object, object, object], None]  # (store, workflows, now)
ACTIONS: list[tuple[object, Action]] = [
    (DISPUTE_AT, lambda store, wf, now: place_hold(DISPUTED.invoice_id, HoldKind.DISPUTE, None, "seats were cancelled in August",
                                                   FINANCE, store, store, now)),
    (RESOLVED_AT, lambda store, wf, now: release_hold(DISPUTED.invoice_id, FINANCE, store, store, wf, now, "no cancellation on file")),
    (PAUSE_AT, lambda store, wf, now: place_hold(PAUSED.invoice_id, HoldKind.PAUSE, PAUSE_UNTIL, "AP system migration",
                                                 FINANCE, store, store, now)),
]


@pytest.fixture(scope="module")
def runtime_logs():
    with LocalRuntime(start=DEMO_START) as runtime:
        store = DynamoStore(runtime.table_name)
        workflows = StepFunctionsWorkflows(runtime.state_machine_arn)
        external = [(at, (lambda action=action: action(store, workflows, runtime.now()))) for at, action in ACTIONS]
        run = _run_with_actions(runtime, external)
        sfn = runtime.client("stepfunctions")
        histories = {}
        for invoice in (DISPUTED, PAUSED):
            arn = f"{runtime.state_machine_arn.replace(':stateMachine:', ':execution:')}:{invoice.invoice_id}"
            histories[invoice.invoice_id] = sfn.get_execution_history(executionArn=arn)["events"]
        yield run.logs, histories


def _run_with_actions(runtime, actions, book=BOOK, policy=POLICY, days=DAYS):
    # run_book schedules the book's webhook deliveries; the finance actions join them on the virtual clock.
    original = runtime.run_until

    def run_until(end, external=None, on_progress=None):
        original(end, external=sorted([*(external or []), *actions], key=lambda pair: pair[0]), on_progress=on_progress)

    runtime.run_until = run_until
    return run_book(runtime, book, policy, days)


def contacts(entries):
    return [e for e in entries if e.kind in CONTACT_KINDS]


def test_nothing_is_sent_while_disputed_and_everything_after_resolution(runtime_logs):
    logs, _ = runtime_logs
    sent = contacts(logs[DISPUTED.invoice_id])
    assert not [e for e in sent if DISPUTE_AT <= e.at < RESOLVED_AT]
    assert [e.step_id for e in sent] == [s.id for s in POLICY.segment_for("standard").steps]
    kinds = [e.kind for e in logs[DISPUTED.invoice_id]]
    assert kinds.index("hold_placed") < kinds.index("hold_released")


def test_the_disputed_workflow_parked_on_a_token_and_was_resumed(runtime_logs):
    _, histories = runtime_logs
    events = histories[DISPUTED.invoice_id]
    entered = [e["stateEnteredEventDetails"]["name"] for e in events if e["type"] == "TaskStateEntered"]
    assert "Hold: park until released" in entered and "Resume after hold" in entered
    assert any(e["type"] == "TaskSucceeded" for e in events)  # SendTaskSuccess from release_hold
    assert events[-1]["type"] == "ExecutionSucceeded"


def test_a_pause_ends_by_its_timeout_and_collection_resumes(runtime_logs):
    logs, histories = runtime_logs
    sent = contacts(logs[PAUSED.invoice_id])
    assert not [e for e in sent if PAUSE_AT <= e.at < PAUSE_UNTIL]
    released = next(e for e in logs[PAUSED.invoice_id] if e.kind == "hold_released")
    assert released.actor == "arrears-workflow" and released.details["held_days"] == 10
    assert any(e["type"] == "TaskTimedOut" for e in histories[PAUSED.invoice_id])


def test_the_simulator_agrees_with_the_state_machine_on_holds(runtime_logs):
    logs, _ = runtime_logs
    events, _ = book_events(BOOK, POLICY)
    simulation = Simulation(POLICY, "collections@northwind.example", reply_to=local_reply_to)
    simulation.add_updates([(event.at, to_update(event.document())) for event in events])
    for at, action in ACTIONS:
        simulation.add_action(at, lambda sim, action=action: action(sim.store, sim.workflows, sim.clock.at))
    result = simulation.run(DEMO_START + timedelta(days=DAYS))
    for invoice_id, entries in logs.items():
        assert [_comparable(e) for e in result.logs[invoice_id]] == [_comparable(e) for e in entries], invoice_id
