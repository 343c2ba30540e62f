"""What starting an invoice does with the customer's payment history (issue #20), on in-memory ports: the band's
segment unless the finance team chose one, the credit limit (the customer's own first), rules off in versions
published before v4, and the agency's record checked before a referral."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from arrears.domain import dunning
from arrears.domain.payment_behaviour import Settlement, behaviour_from_scratch
from tests.unit.memory_world import memory_ports
from tests.unit.test_dunning import run_workflow


class Recorder:
    def __init__(self) -> None:
        self.events: list[tuple[str, dict]] = []

    def publish(self, detail_type: str, detail: dict) -> None:
        self.events.append((detail_type, detail))


def _paid_late(days: int, count: int = 3) -> dict:
    # `count` paid invoices, each `days` beyond terms: average `days`
    return behaviour_from_scratch([Settlement(f"in_old{i}", date(2026, 6, i + 1), days) for i in range(count)]).to_item()


@pytest.fixture
def world(default_policy, berlin_customer, open_invoice):
    ports = memory_ports(default_policy, berlin_customer, open_invoice)
    return ports.__class__(**{**ports.__dict__, "events": Recorder()})


def test_a_poor_payer_starts_in_the_watch_segment_and_its_band_change_is_logged(world, open_invoice):
    # Given Müller & Söhne paid 3 invoices 60 days late on average: poor (over 45, up to 90)
    world.store.behaviour[open_invoice.customer_id] = _paid_late(60)
    # When its next invoice (EUR 1,250.00, under the poor default limit of EUR 10,000) starts
    dunning.start_collection(open_invoice.invoice_id, None, "default", world)
    # Then it is pinned to the watch segment and the change of band is logged with the rule that gave it
    assert world.store.invoices[open_invoice.invoice_id].segment == "watch"
    changed = [e for e in world.log.entries(open_invoice.invoice_id) if e.kind == "risk_band_changed"]
    assert [(e.details["from"], e.details["to"]) for e in changed] == [(None, "poor")]
    assert changed[0].details["reason"] == "average 60.0 days beyond terms over 3 paid invoices (poor: up to 90 days)"
    review = [t for t in world.store.tasks.values() if t["kind"] == "review_risk_band"]
    assert len(review) == 1 and review[0]["due_at"] == world.clock.now() + timedelta(days=7)
    # And no limit was crossed: no event
    assert world.events.events == []


def test_the_finance_teams_own_segment_wins_over_the_band(world, open_invoice):
    world.store.behaviour[open_invoice.customer_id] = _paid_late(120)  # high_risk
    world.store.save_customer_settings(open_invoice.customer_id, {"segment": "strategic"}, world.clock.now(), "finance-jane")
    dunning.start_collection(open_invoice.invoice_id, None, "default", world)
    assert world.store.invoices[open_invoice.invoice_id].segment == "strategic"
    assert world.store.behaviour[open_invoice.customer_id]["band"] == "high_risk"  # the band is still given


def test_the_customers_own_limit_is_crossed_once_with_a_task_and_an_event(world, open_invoice):
    # Given a good payer (5 days on average: no default limit) with its own EUR 1,000.00 limit
    world.store.behaviour[open_invoice.customer_id] = _paid_late(5)
    world.store.save_customer_settings(open_invoice.customer_id, {"credit_limits": {"EUR": 100_000}}, world.clock.now(), "jane")
    # When the EUR 1,250.00 invoice starts (twice: a retried start)
    dunning.start_collection(open_invoice.invoice_id, None, "default", world)
    world.store.invoices[open_invoice.invoice_id] = world.store.invoices[open_invoice.invoice_id].model_copy(
        update={"policy_id": None, "policy_version": None})
    dunning.start_collection(open_invoice.invoice_id, None, "default", world)
    # Then one task, one log entry; the event went out (again on the retry, before its entry: at least once)
    crossed = [t for t in world.store.tasks.values() if t["kind"] == "review_credit_limit"]
    assert len(crossed) == 1 and crossed[0]["details"]["limit_source"] == "customer"
    assert crossed[0]["details"]["exposure"] == 125_000 and crossed[0]["details"]["credit_limit"] == 100_000
    assert [e.kind for e in world.log.entries(open_invoice.invoice_id)].count("credit_limit_exceeded") == 1
    assert [t for t, _ in world.events.events] == ["Credit limit exceeded"]
    assert world.store.invoices[open_invoice.invoice_id].segment == "standard"  # good: no segment by band


def test_a_version_published_before_v4_gives_no_band(world, open_invoice, default_policy):
    old = default_policy.model_copy(update={"version": 3, "risk": default_policy.risk.model_copy(update={"enabled": False})})
    world.policies.versions[("default", default_policy.version)] = old
    world.store.behaviour[open_invoice.customer_id] = _paid_late(200)
    dunning.start_collection(open_invoice.invoice_id, None, "default", world)
    assert world.store.invoices[open_invoice.invoice_id].segment == "standard"
    assert "risk_band_changed" not in [e.kind for e in world.log.entries(open_invoice.invoice_id)]


def test_a_referral_to_an_agency_without_its_licence_on_record_is_withheld_with_a_task(world, open_invoice, default_policy):
    # Given the default policy v4 (require_agency_checks) whose agency has no licence or insurance on record
    agency = default_policy.referral.agency.model_copy(update={"licence": "", "insurance": ""})
    unchecked = default_policy.model_copy(update={"referral": default_policy.referral.model_copy(update={"agency": agency})})
    world.policies.versions[("default", default_policy.version)] = unchecked
    # When the invoice is never paid and reaches its referral date
    run_workflow(world, open_invoice.invoice_id, open_invoice.due_at + timedelta(days=150))
    # Then no referral; a person is asked to complete the agency's record
    entries = world.log.entries(open_invoice.invoice_id)
    assert "referral" not in [e.kind for e in entries]
    withheld = [e for e in entries if e.kind == "referral_withheld"]
    assert len(withheld) == 1 and "has no licence, insurance on record" in withheld[0].details["reason"]
    assert [t["kind"] for t in world.store.tasks.values()][-1] == "complete_agency_record"


def test_the_default_policy_agency_has_every_check_so_the_demo_still_refers(default_policy):
    assert default_policy.referral.require_agency_checks and default_policy.referral.agency.missing_checks() == []
