"""A workflow outlives Step Functions' one-year limit (issue 14, defect 2) on the real state machine (the
local runtime, virtual clock): an invoice disputed for about fourteen months re-parks every 30 days, its
execution renews itself once before the year is out, and collection carries on after the dispute.

- exactly one execution of the invoice runs at every moment looked at, and the renewed one ended SUCCEEDED
  (in its "Renewed" state, not stopped: an abort would raise the alarm);
- one `workflow_renewed` entry, the successor recorded on the invoice, and the hold released through the
  successor's own task token (the API resumes the current token);
- no message twice, none while disputed, the whole policy after; the contact log's chain verifies across;
- the policy simulator gives the same log entry for entry (it renews at the same moment).
"""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import pytest

from arrears.adapters.dynamo import DynamoStore
from arrears.adapters.execution_names import execution_name
from arrears.adapters.step_functions import StepFunctionsWorkflows
from arrears.domain.hash_chain import entry_to_dict, verify_chain
from arrears.domain.holds import place_hold, release_hold
from arrears.domain.models import HoldKind
from arrears.domain.policy import load_policy_file
from arrears.domain.renewal import RENEW_AT
from arrears.ingestion.providers.stripe import to_update
from arrears.usecases.simulator import Simulation
from arrears_local.demo import CONTACT_KINDS, book_events
from arrears_local.portfolio import DEMO_START, sample_portfolio
from arrears_local.runtime import LocalRuntime, local_reply_to
from tests.e2e.test_holds import _run_with_actions
from tests.e2e.test_lifecycle import ROOT, _comparable

POLICY = load_policy_file(ROOT / "policies" / "default.yaml")
FINANCE = "arn:aws:iam::123456789012:user/finance-jane"
DAYS = 560
BOOK = [item for item in sample_portfolio(DEMO_START, 20) if item.behaviour == "never pays"][:1]
DISPUTED = BOOK[0].invoice
DISPUTE_AT = DISPUTED.due + timedelta(days=3)
RESOLVED_AT = DISPUTED.due + timedelta(days=425)  # about fourteen months on hold
LOOKS = [DEMO_START + timedelta(days=d, hours=7) for d in range(1, DAYS, 10)]


@pytest.fixture(scope="module")
def renewal_run():
    with LocalRuntime(start=DEMO_START) as runtime:
        store = DynamoStore(runtime.table_name)
        workflows = StepFunctionsWorkflows(runtime.state_machine_arn)
        sfn = runtime.client("stepfunctions")
        running: list[tuple[object, list[str]]] = []
        tokens: dict[str, str | None] = {}

        def look():
            executions = sfn.list_executions(stateMachineArn=runtime.state_machine_arn)["executions"]
            running.append((runtime.now(), sorted(e["name"] for e in executions if e["status"] == "RUNNING")))

        def resolve():
            tokens["at_release"] = store._table.get_item(Key={"pk": f"INVOICE#{DISPUTED.invoice_id}", "sk": "META"}
                                                         )["Item"].get("hold_token")
            release_hold(DISPUTED.invoice_id, FINANCE, store, store, workflows, runtime.now(), "no cancellation on file")

        external = [(DISPUTE_AT, lambda: place_hold(DISPUTED.invoice_id, HoldKind.DISPUTE, None, "seats were cancelled",
                                                    FINANCE, store, store, runtime.now(), workflows=workflows)),
                    (RESOLVED_AT, resolve), *[(at, look) for at in LOOKS]]
        run = _run_with_actions(runtime, external, BOOK, POLICY, DAYS)
        executions = {e["name"]: e for e in sfn.list_executions(stateMachineArn=runtime.state_machine_arn)["executions"]}
        histories = {name: sfn.get_execution_history(executionArn=e["executionArn"])["events"]
                     for name, e in executions.items()}
        yield run, store.get_invoice(DISPUTED.invoice_id), executions, histories, running, tokens


def test_the_execution_renews_once_before_the_year_and_exactly_one_runs_at_any_time(renewal_run):
    run, invoice, executions, histories, running, _ = renewal_run
    first, second = execution_name(DISPUTED.invoice_id), execution_name(DISPUTED.invoice_id, 1)
    # Two executions of the invoice: the first and its one renewal; both ended by reaching a Succeed state
    assert sorted(executions) == sorted([first, second])
    assert {e["status"] for e in executions.values()} == {"SUCCEEDED"}
    entered = [e["stateEnteredEventDetails"]["name"] for e in histories[first] if e["type"] == "SucceedStateEntered"]
    assert entered == ["Renewed: a successor carries on"]
    assert "Continue renewed collection" in [e["stateEnteredEventDetails"]["name"] for e in histories[second]
                                             if e["type"] == "TaskStateEntered"]
    # At every moment looked at while collection went on, exactly one execution of the invoice ran
    entries = run.logs[DISPUTED.invoice_id]
    started = next(e.at for e in entries if e.kind == "collection_started")
    referred = next(e.at for e in entries if e.step_id == "referral")
    during = [names for at, names in running if started < at < referred]
    assert len(during) > 40 and all(len(names) == 1 for names in during), running
    assert {names[0] for names in during} == {first, second}
    # The invoice names its current execution
    assert invoice.execution_arn == executions[second]["executionArn"]


def test_one_renewal_entry_before_the_year_and_the_hold_released_through_the_successors_token(renewal_run):
    run, _, executions, histories, _, tokens = renewal_run
    entries = run.logs[DISPUTED.invoice_id]
    renewed = [e for e in entries if e.kind == "workflow_renewed"]
    assert len(renewed) == 1 and renewed[0].details["renewal"] == 1
    started = next(e.at for e in entries if e.kind == "collection_started")
    assert started + RENEW_AT <= renewed[0].at < started + timedelta(days=365)
    # The successor was parked on the dispute when the hold was released: the token released was its own
    second = execution_name(DISPUTED.invoice_id, 1)
    assert tokens["at_release"] and any(e["type"] == "TaskSucceeded" for e in histories[second])
    first = execution_name(DISPUTED.invoice_id)
    assert not any(e["type"] in ("ExecutionAborted", "ExecutionTimedOut", "ExecutionFailed") for e in histories[first])


def test_collection_carries_on_after_the_renewal_and_nothing_goes_twice(renewal_run):
    run, _, _, _, _, _ = renewal_run
    entries = run.logs[DISPUTED.invoice_id]
    sent = [e for e in entries if e.kind in CONTACT_KINDS]
    # Nothing while disputed; every step of the policy once; the later ones after the dispute was resolved
    assert not [e for e in sent if DISPUTE_AT <= e.at < RESOLVED_AT]
    assert Counter(e.step_id for e in sent) == Counter(s.id for s in POLICY.segment_for("standard").steps)
    assert "referral" in [e.step_id for e in sent if e.at >= RESOLVED_AT]
    # The contact log's hash chain holds across both executions
    assert verify_chain(entry_to_dict(e) for e in entries) == []


def test_the_policy_simulator_renews_at_the_same_moment(renewal_run):
    run, _, _, _, _, _ = renewal_run
    events, _ = book_events(BOOK, POLICY)
    simulation = Simulation(POLICY, "collections@northwind.example", reply_to=local_reply_to)
    simulation.add_updates([(event.at, to_update(event.document())) for event in events])
    simulation.add_action(DISPUTE_AT, lambda sim: place_hold(DISPUTED.invoice_id, HoldKind.DISPUTE, None, "seats were cancelled",
                                                            FINANCE, sim.store, sim.store, sim.clock.at, workflows=sim.workflows))
    simulation.add_action(RESOLVED_AT, lambda sim: release_hold(DISPUTED.invoice_id, FINANCE, sim.store, sim.store, sim.workflows,
                                                               sim.clock.at, "no cancellation on file"))
    result = simulation.run(DEMO_START + timedelta(days=DAYS))
    expected = [_comparable(e) for e in run.logs[DISPUTED.invoice_id]]
    assert [_comparable(e) for e in result.logs[DISPUTED.invoice_id]] == expected
    assert "workflow_renewed" in [e["kind"] for e in expected]
