"""A change of risk band is logged when the settlement that makes it is applied (issue #20), not later when the
customer's next invoice starts: on in-memory ports, applying the billing platform's changes as the webhook does.

Müller & Söhne has paid two invoices, each 50 days beyond terms. Its third (EUR 1,250.00, collected under the
default policy v4) is paid 50 days late too: the third paid invoice is the minimum history, and 150 days over 3
invoices is 50.0 on average, over fair's 45 and up to poor's 90.
"""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from arrears.domain import dunning
from arrears.domain.models import InvoiceStatus
from arrears.domain.payment_behaviour import Settlement, behaviour_from_scratch
from arrears.ingestion.billing_changes import BalanceAdjustment, InvoiceUpdate, UpdateKind, apply_billing_change
from tests.unit.memory_world import memory_ports

DAYS_LATE = 50


class NoWorkflows:
    def start(self, invoice_id):
        return None

    def stop(self, invoice_id, reason):
        pass


@pytest.fixture
def world(default_policy, berlin_customer, open_invoice):
    ports = memory_ports(default_policy, berlin_customer, open_invoice)
    # The invoice started collection under v4 (pinned), the customer's two earlier invoices were paid 50 days late
    ports.store.invoices[open_invoice.invoice_id] = open_invoice.model_copy(
        update={"policy_id": default_policy.policy_id, "policy_version": default_policy.version, "segment": "standard"})
    ports.store.behaviour[open_invoice.customer_id] = behaviour_from_scratch(
        [Settlement(f"in_old{i}", date(2026, 6, i), DAYS_LATE) for i in (1, 2)]).to_item()
    return ports


def paid_late(invoice, customer, event_id="evt_paid"):
    at = invoice.due_at + timedelta(days=DAYS_LATE)
    paid = invoice.model_copy(update={"status": InvoiceStatus.PAID, "amount_paid": invoice.amount_due,
                                      "amount_remaining": 0, "provider_updated_at": at, "closed_at": at})
    return InvoiceUpdate(event_id, "invoice.paid", UpdateKind.PAID, at, paid, customer)


def test_the_settlement_that_worsens_the_band_logs_it_with_its_reason_and_asks_for_a_review(world, open_invoice,
                                                                                           berlin_customer):
    # When the third late payment is applied (and the platform delivers the same event again)
    update = paid_late(open_invoice, berlin_customer)
    now = update.occurred_at
    for _ in range(2):
        apply_billing_change(update, world.store, world.log, NoWorkflows(), now, policies=world.policies)
    # Then the figures count it once, and the band it gives (poor) is recorded and logged on this invoice
    stored = world.store.behaviour[open_invoice.customer_id]
    assert stored["invoices_paid"] == 3 and stored["days_late_total"] == 3 * DAYS_LATE and stored["band"] == "poor"
    changed = [e for e in world.log.entries(open_invoice.invoice_id) if e.kind == "risk_band_changed"]
    assert [(e.details["from"], e.details["to"]) for e in changed] == [(None, "poor")]
    assert changed[0].details["reason"] == "average 50.0 days beyond terms over 3 paid invoices (poor: up to 90 days)"
    assert changed[0].policy_version == 4
    # And a person is asked to review the customer's credit limit a week later; the settlement left it open
    review = [t for t in world.store.tasks.values() if t["kind"] == "review_risk_band" and t["status"] == "open"]
    assert len(review) == 1 and review[0]["due_at"] == now + timedelta(days=7)
    assert "risk band worsened from none to poor" in review[0]["details"]["reason"]


def test_the_next_invoice_starts_in_the_bands_segment_without_logging_the_change_again(world, open_invoice,
                                                                                       berlin_customer, default_policy):
    update = paid_late(open_invoice, berlin_customer)
    apply_billing_change(update, world.store, world.log, NoWorkflows(), update.occurred_at, policies=world.policies)
    # Given its next invoice, issued after the payment
    issued = update.occurred_at + timedelta(days=1)
    nxt = open_invoice.model_copy(update={"invoice_id": "in_1QNextAfterLate", "number": "NW-2026-0077", "issued_at": issued,
                                          "due_at": issued + timedelta(days=30), "provider_updated_at": issued})
    world.store.invoices[nxt.invoice_id] = nxt
    world.clock.at = issued
    # When it starts
    dunning.start_collection(nxt.invoice_id, None, "default", world)
    # Then it is in the watch segment, and its log holds no band change: nothing changed since the settlement
    assert world.store.invoices[nxt.invoice_id].segment == "watch"
    assert "risk_band_changed" not in [e.kind for e in world.log.entries(nxt.invoice_id)]


def test_a_credit_note_down_to_nothing_counts_the_invoice_once(world, open_invoice):
    # Given the invoice credited in full 50 days after its due date (the platform's balance goes to 0)
    at = open_invoice.due_at + timedelta(days=DAYS_LATE)
    note = BalanceAdjustment("evt_cn", "credit_note.created", at, "stripe", open_invoice.invoice_id, "cn_1", 125_000)
    # When it is applied
    assert apply_billing_change(note, world.store, world.log, NoWorkflows(), at, policies=world.policies) == "balance lowered"
    # Then it counts (as paid on that day), and the third counted invoice gives the band
    stored = world.store.behaviour[open_invoice.customer_id]
    assert stored["invoices_paid"] == 3 and stored["band"] == "poor"


def test_without_the_policies_a_settlement_only_counts(world, open_invoice, berlin_customer):
    update = paid_late(open_invoice, berlin_customer)
    apply_billing_change(update, world.store, world.log, NoWorkflows(), update.occurred_at)
    assert world.store.behaviour[open_invoice.customer_id]["invoices_paid"] == 3
    assert "band" not in world.store.behaviour[open_invoice.customer_id]
