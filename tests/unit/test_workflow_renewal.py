"""Renewal before Step Functions' year (arrears.domain.renewal) on the in-memory adapters the simulator uses."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

from arrears.adapters.memory import MemoryStore
from arrears.domain.dunning import Decision
from arrears.domain.models import Invoice
from arrears.domain.policy import load_policy_file
from arrears.domain.renewal import RENEW_AT, RENEWED, renew_if_due
from arrears.usecases.simulator import Simulation

POLICY = load_policy_file(Path(__file__).resolve().parents[2] / "policies" / "default.yaml")
STARTED = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)
INVOICE = Invoice(invoice_id="in_1QfR7bLkdIwHu7ixm0Z5d3Xq", provider="stripe", number="NW-2026-0117", customer_id="cus_R2d2",
                  currency="EUR", amount_due=480000, amount_paid=0, amount_remaining=480000, issued_at=STARTED,
                  due_at=STARTED + timedelta(days=30), provider_updated_at=STARTED, policy_id="default", policy_version=1,
                  execution_arn="simulated:in_1QfR7bLkdIwHu7ixm0Z5d3Xq", execution_started_at=STARTED)
HOLD = Decision(status="hold", reason="dispute", hold_seconds=30 * 86400)


def _simulation(at: datetime) -> Simulation:
    simulation = Simulation(POLICY)
    store: MemoryStore = simulation.store  # type: ignore[assignment]
    store.invoices[INVOICE.invoice_id] = INVOICE
    simulation.workflows.current[INVOICE.invoice_id] = INVOICE.execution_arn
    simulation.clock.at = at
    return simulation


def test_a_wait_that_would_pass_the_renewal_age_is_cut_to_end_there():
    # Given an execution 320 days old parking for 30 days on an open dispute
    sim = _simulation(STARTED + timedelta(days=320))
    # When the workflow function decides
    decided = renew_if_due(INVOICE.invoice_id, HOLD, INVOICE.execution_arn, sim.workflows, sim.ports)
    # Then it parks only until the execution is RENEW_AT old, and nothing is renewed yet
    assert decided.status == "hold" and decided.hold_seconds == (RENEW_AT - timedelta(days=320)).total_seconds()
    assert sim.store.get_invoice(INVOICE.invoice_id).execution_arn == INVOICE.execution_arn


def test_at_the_renewal_age_a_successor_carries_on_once_even_when_the_step_is_retried():
    # Given an execution RENEW_AT old deciding to park again
    at = STARTED + RENEW_AT
    sim = _simulation(at)
    # When it decides, and a retry of the same Lambda decides again
    first = renew_if_due(INVOICE.invoice_id, HOLD, INVOICE.execution_arn, sim.workflows, sim.ports)
    retry = renew_if_due(INVOICE.invoice_id, HOLD, INVOICE.execution_arn, sim.workflows, sim.ports)
    # Then both say renewed; the invoice names the successor, started now; one workflow_renewed entry
    assert first.status == retry.status == RENEWED
    invoice = sim.store.get_invoice(INVOICE.invoice_id)
    assert invoice.execution_arn == f"simulated:{INVOICE.invoice_id}-r1" and invoice.execution_started_at == at
    assert [e.details["renewal"] for e in sim.store.entries(INVOICE.invoice_id) if e.kind == "workflow_renewed"] == [1]
    # And the successor itself, of age 0, parks as decided
    again = renew_if_due(INVOICE.invoice_id, HOLD, invoice.execution_arn, sim.workflows, sim.ports)
    assert again == HOLD
