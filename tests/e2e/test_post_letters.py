"""Letters by post when email no longer reaches a debtor: the state machine and the policy simulator agree."""

from __future__ import annotations

from datetime import timedelta

import pytest

from arrears.domain.policy import load_policy_file
from arrears.ingestion.providers.stripe import to_update
from arrears.usecases.simulator import Simulation
from arrears.adapters.dynamo import DynamoStore
from arrears_local.demo import book_events
from arrears_local.portfolio import DEMO_START, sample_portfolio
from arrears_local.runtime import LocalRuntime, local_reply_to
from tests.e2e.test_holds import _run_with_actions
from tests.e2e.test_lifecycle import ROOT, _comparable

POLICY = load_policy_file(ROOT / "policies" / "default.yaml")
DAYS = 150
# Two invoices that are never paid; the first debtor's billing email bounces for good before its first reminder.
BOOK = [item for item in sample_portfolio(DEMO_START, 20) if item.behaviour == "never pays"]
BOUNCED, EMAILED = BOOK[0].invoice, BOOK[1].invoice
BOUNCED_AT = BOUNCED.created + timedelta(days=1)


def bounce(store, now) -> None:
    store.mark_undeliverable(BOUNCED.customer.customer_id, BOUNCED.customer.email, "bounce of 0100019a-demo", now)


@pytest.fixture(scope="module")
def runtime_run():
    with LocalRuntime(start=DEMO_START) as runtime:
        store = DynamoStore(runtime.table_name)
        run = _run_with_actions(runtime, [(BOUNCED_AT, lambda: bounce(store, runtime.now()))])
        yield run.logs, store.open_tasks()


def test_the_bounced_debtor_gets_every_message_by_post_and_the_other_by_email(runtime_run):
    logs, tasks = runtime_run
    by_post = [e for e in logs[BOUNCED.invoice_id] if e.details.get("delivery") == "post"]
    # Every debtor message of the policy went by post: each email or letter step as a letter of its own, and the
    # referral (still logged as the referral) with its notice to the debtor as a letter; the call task stays a call task
    assert [(e.step_id, e.kind) for e in by_post] == [
        ("courtesy_reminder", "letter"), ("due_notice", "letter"), ("overdue_7", "letter"), ("overdue_15", "letter"),
        ("formal_notice", "letter"), ("final_notice", "letter"), ("referral", "referral")]
    assert all(len(e.artefacts) == 1 for e in by_post if e.kind == "letter")
    referral = by_post[-1]
    assert "post_task_id" in referral.details and any(a.kind == "letter" for a in referral.artefacts)
    assert any(e.kind == "call_task" for e in logs[BOUNCED.invoice_id])
    posted = [t for t in tasks if t["kind"] == "post_letter"]
    assert sorted(t["task_id"] for t in posted) == sorted(e.details.get("post_task_id", e.details["task_id"]) for e in by_post)
    assert not [e for e in logs[EMAILED.invoice_id] if e.details.get("delivery") == "post"]


def test_the_simulator_agrees_with_the_state_machine_on_letters_by_post(runtime_run):
    logs, _ = runtime_run
    events, _ = book_events(BOOK, POLICY)
    simulation = Simulation(POLICY, "collections@northwind.example", reply_to=local_reply_to)
    simulation.add_updates([(event.at, to_update(event.document())) for event in events])
    simulation.add_action(BOUNCED_AT, lambda sim: bounce(sim.store, sim.clock.at))
    result = simulation.run(DEMO_START + timedelta(days=DAYS))
    for invoice_id, entries in logs.items():
        assert [_comparable(e) for e in result.logs[invoice_id]] == [_comparable(e) for e in entries], invoice_id
