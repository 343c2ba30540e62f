"""POST /webhooks/stripe through the real handler, API Gateway event shape, against moto."""

from __future__ import annotations

import json

import pytest

from arrears_local.portfolio import sample_portfolio
from arrears_local.runtime import LOCAL_STRIPE_SECRET
from arrears_local.stripe_events import invoice_event, signed_delivery
from tests.integration.conftest import count_items


@pytest.fixture
def sample():
    return sample_portfolio(count=1)[0].invoice


def deliver(stack, event, secret=LOCAL_STRIPE_SECRET, at=None):
    body, headers = signed_delivery(event, secret, at or stack.now())
    return stack.request("POST", "/webhooks/stripe", body, headers)


def executions(stack):
    return stack.client("stepfunctions").list_executions(stateMachineArn=stack.state_machine_arn)["executions"]


def test_a_finalized_invoice_is_stored_and_its_workflow_started(stack, sample):
    # When Stripe delivers invoice.finalized
    reply = deliver(stack, invoice_event(sample, "invoice.finalized", stack.now()))
    # Then it is accepted, the invoice and customer are stored, and one execution named after the invoice runs
    assert reply.status_code == 200, reply.body
    assert reply.json()["outcome"] == "started" and reply.json()["invoice_id"] == sample.invoice_id
    assert [e["name"] for e in executions(stack)] == [sample.invoice_id]
    from arrears.adapters.dynamo import DynamoStore

    store = DynamoStore(stack.table_name)
    assert store.get_invoice(sample.invoice_id).amount_remaining == sample.total
    assert store.get_customer(sample.customer.customer_id).email == sample.customer.email


def test_a_duplicated_delivery_is_answered_the_same_and_changes_nothing(stack, sample):
    event = invoice_event(sample, "invoice.finalized", stack.now())
    first = deliver(stack, event)
    items = count_items(stack)
    # When Stripe retries the same event
    second = deliver(stack, event)
    # Then the answer is the saved one and nothing else happens
    assert second.status_code == 200 and second.json() == first.json()
    assert count_items(stack) == items
    assert len(executions(stack)) == 1


@pytest.mark.parametrize("body, code", [
    (b"{this is not json", "invalid_json"),
    (json.dumps({"id": "evt_1QxYz", "type": "invoice.finalized", "created": 1788250000, "data": {"object": {"id": "in_1"}}}).encode(), "invalid_invoice"),
    (json.dumps({"type": "invoice.paid"}).encode(), "invalid_event"),
])
def test_a_signed_but_malformed_body_is_refused_and_changes_nothing(stack, body, code):
    from arrears.ingestion.providers.stripe import sign

    items = count_items(stack)
    headers = {"Stripe-Signature": sign(body, LOCAL_STRIPE_SECRET, int(stack.now().timestamp())), "Content-Type": "application/json"}
    reply = stack.request("POST", "/webhooks/stripe", body, headers)
    assert reply.status_code == 400 and reply.json()["error"] == code and reply.json()["message"]
    assert count_items(stack) == items and executions(stack) == []


def test_a_bad_signature_is_refused_with_401_and_changes_nothing(stack, sample):
    items = count_items(stack)
    reply = deliver(stack, invoice_event(sample, "invoice.finalized", stack.now()), secret="whsec_not_ours")
    assert reply.status_code == 401 and reply.json()["error"] == "signature_mismatch"
    assert count_items(stack) == items and executions(stack) == []


def test_a_rotated_secret_accepts_old_and_new_signatures(stack, sample):
    # Given the operator stores "new,old" while rotating
    stack.client("ssm").put_parameter(Name="/arrears/stripe/webhook-secret", Type="SecureString",
                                      Value=f"whsec_brand_new,{LOCAL_STRIPE_SECRET}", Overwrite=True)
    from aws_lambda_powertools.utilities.parameters import clear_caches

    clear_caches()
    assert deliver(stack, invoice_event(sample, "invoice.finalized", stack.now()), secret="whsec_brand_new").status_code == 200
    assert deliver(stack, invoice_event(sample, "invoice.sent", stack.now())).status_code == 200


def test_unknown_event_types_are_acknowledged_and_ignored(stack, sample):
    event = invoice_event(sample, "invoice.finalized", stack.now()) | {"type": "customer.subscription.updated", "id": "evt_ignored1"}
    reply = deliver(stack, event)
    assert reply.status_code == 200 and reply.json()["outcome"].startswith("ignored")
    assert executions(stack) == []


def test_unknown_provider_is_404(stack):
    reply = stack.request("POST", "/webhooks/quickbooks", b"{}", {})
    assert reply.status_code == 404 and reply.json()["error"] == "unknown_provider"


def test_payment_closes_the_invoice_and_stops_the_workflow(stack, sample):
    deliver(stack, invoice_event(sample, "invoice.finalized", stack.now()))
    stack.engine.wait_idle()
    reply = deliver(stack, invoice_event(sample, "invoice.paid", stack.now()))
    assert reply.json()["outcome"] == "closed: paid"
    stack.engine.wait_idle()
    (execution,) = executions(stack)
    assert execution["status"] == "ABORTED"


def test_a_delivery_racing_the_same_event_in_progress_gets_503(stack, sample, monkeypatch):
    import sys

    from aws_lambda_powertools.utilities.idempotency.exceptions import IdempotencyAlreadyInProgressError

    # Given another delivery of the same event is still being applied
    handler_module = sys.modules["arrears_function_webhooksfunction"]

    def still_in_progress():
        def apply(envelope):
            raise IdempotencyAlreadyInProgressError("in progress")
        return apply

    monkeypatch.setattr(handler_module, "_apply_once", still_in_progress)
    # Then this delivery is told to retry, with a machine-readable reason, and nothing is written
    items = count_items(stack)
    reply = deliver(stack, invoice_event(sample, "invoice.finalized", stack.now()))
    assert reply.status_code == 503 and reply.json()["error"] == "in_progress"
    assert count_items(stack) == items


def test_insolvency_stops_the_customers_running_workflows(stack, sample):
    from dataclasses import replace

    from arrears.domain.holds import declare_insolvency
    from arrears.adapters.dynamo import DynamoStore
    from arrears.adapters.step_functions import StepFunctionsWorkflows

    # Given two open invoices of one customer, each with a running workflow
    second = replace(sample, invoice_id="in_1QSecondArrears01", number="NW-2026-2001")
    for invoice in (sample, second):
        assert deliver(stack, invoice_event(invoice, "invoice.finalized", stack.now())).status_code == 200
    stack.engine.wait_idle()
    store = DynamoStore(stack.table_name)
    # When the customer's insolvency is declared
    held = declare_insolvency(sample.customer.customer_id, "administration order 4471", "finance-jane", store, store,
                              StepFunctionsWorkflows(stack.state_machine_arn), stack.now())
    stack.engine.wait_idle()
    # Then both are found through the customer index, held, and their executions stopped
    assert sorted(held) == sorted([sample.invoice_id, second.invoice_id])
    assert {e["status"] for e in executions(stack)} == {"ABORTED"}
    assert all(store.get_invoice(i).hold.kind.value == "insolvency" for i in held)
