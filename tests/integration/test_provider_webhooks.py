"""POST /webhooks/{paddle,chargebee,generic,stripe} through the real handler against moto: accepted,
refused (4xx, nothing written, not remembered), transient failures (5xx, then applied on retry)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from arrears_local import billing_events as billing
from arrears_local.portfolio import sample_portfolio
from arrears_local.runtime import (
    LOCAL_CHARGEBEE_CREDENTIALS, LOCAL_GENERIC_SECRET, LOCAL_PADDLE_SECRET, LOCAL_STRIPE_SECRET,
)
from arrears_local.stripe_events import LEGACY_API_VERSION, dispute_event, invoice_event, signed_delivery
from tests.integration.conftest import count_items


@pytest.fixture
def sample():
    return sample_portfolio(count=1)[0].invoice


def executions(stack):
    return stack.client("stepfunctions").list_executions(stateMachineArn=stack.state_machine_arn)["executions"]


def store_of(stack):
    from arrears.adapters.dynamo import DynamoStore

    return DynamoStore(stack.table_name)


# provider -> (a first delivery of the sample invoice, signed now; the invoice id it creates)
def paddle_delivery(stack, sample, secret=LOCAL_PADDLE_SECRET, at=None):
    event = billing.paddle_transaction_event(sample, "transaction.billed", stack.now())
    return billing.paddle_delivery(event, secret, at or stack.now())


def chargebee_delivery(stack, sample, secret=LOCAL_CHARGEBEE_CREDENTIALS, at=None):
    return billing.chargebee_delivery(billing.chargebee_invoice_event(sample, "invoice_generated", stack.now()), secret)


def generic_delivery(stack, sample, secret=LOCAL_GENERIC_SECRET, at=None):
    return billing.generic_delivery(billing.generic_invoice_event(sample, stack.now()), secret, at or stack.now())


def stripe_delivery(stack, sample, secret=LOCAL_STRIPE_SECRET, at=None):
    return signed_delivery(invoice_event(sample, "invoice.finalized", stack.now()), secret, at or stack.now())


DELIVERIES = {"paddle": paddle_delivery, "chargebee": chargebee_delivery, "generic": generic_delivery,
              "stripe": stripe_delivery}
SIGNATURE_HEADERS = {"paddle": "Paddle-Signature", "chargebee": "Authorization", "generic": "Arrears-Signature",
                     "stripe": "Stripe-Signature"}


@pytest.mark.parametrize("provider", sorted(DELIVERIES))
def test_a_first_delivery_stores_the_invoice_and_starts_its_workflow(stack, sample, provider):
    body, headers = DELIVERIES[provider](stack, sample)
    reply = stack.request("POST", f"/webhooks/{provider}", body, headers)
    assert reply.status_code == 200, reply.body
    assert reply.json()["outcome"] == "started"
    invoice = store_of(stack).get_invoice(reply.json()["invoice_id"])
    assert invoice.amount_remaining == sample.total and invoice.provider == provider
    assert [e["name"] for e in executions(stack)] == [invoice.invoice_id]


@pytest.mark.parametrize("provider", sorted(DELIVERIES))
def test_signed_garbage_is_refused_with_400(stack, provider):
    from arrears.ingestion.providers import chargebee, generic, paddle, stripe

    body = b'{"id": "evt_1", "data": '
    now = int(stack.now().timestamp())
    headers = {"paddle": {"Paddle-Signature": paddle.sign(body, LOCAL_PADDLE_SECRET, now)},
               "chargebee": {"Authorization": chargebee.basic_auth_header(LOCAL_CHARGEBEE_CREDENTIALS)},
               "generic": {"Arrears-Signature": generic.sign(body, LOCAL_GENERIC_SECRET, now)},
               "stripe": {"Stripe-Signature": stripe.sign(body, LOCAL_STRIPE_SECRET, now)}}[provider]
    items = count_items(stack)
    reply = stack.request("POST", f"/webhooks/{provider}", body, headers)
    assert reply.status_code == 400 and reply.json()["error"] == "invalid_json"
    assert count_items(stack) == items


def test_a_rotated_paddle_secret_accepts_old_and_new(stack, sample):
    from aws_lambda_powertools.utilities.parameters import clear_caches

    stack.client("ssm").put_parameter(Name="/arrears/paddle/webhook-secret", Type="SecureString",
                                      Value=f"pdl_ntfset_brand_new,{LOCAL_PADDLE_SECRET}", Overwrite=True)
    clear_caches()
    body, headers = paddle_delivery(stack, sample, secret="pdl_ntfset_brand_new")
    assert stack.request("POST", "/webhooks/paddle", body, headers).status_code == 200
    stack.engine.wait_idle()
    event = billing.paddle_transaction_event(sample, "transaction.paid", stack.now())
    body, headers = billing.paddle_delivery(event, LOCAL_PADDLE_SECRET, stack.now())
    assert stack.request("POST", "/webhooks/paddle", body, headers).json()["outcome"] == "closed: paid"


def test_a_transient_failure_answers_503_without_a_trace_and_the_retry_applies(stack, sample, monkeypatch):
    from botocore.exceptions import ClientError

    from arrears.adapters.dynamo import DynamoStore

    # Given DynamoDB throttles the first attempt
    original = DynamoStore.save_invoice_facts
    calls = []

    def throttled(self, invoice):
        calls.append(invoice.invoice_id)
        if len(calls) == 1:
            raise ClientError({"Error": {"Code": "ProvisionedThroughputExceededException", "Message": "slow down"}}, "UpdateItem")
        return original(self, invoice)

    monkeypatch.setattr(DynamoStore, "save_invoice_facts", throttled)
    body, headers = stripe_delivery(stack, sample)
    first = stack.request("POST", "/webhooks/stripe", body, headers)
    # Then the platform is told to retry, with no stack trace in the body
    assert first.status_code == 503 and first.json()["error"] == "temporarily_unavailable"
    assert "Traceback" not in first.body and "ClientError" not in first.body
    # And Stripe's retry of the same event is applied, not answered from a remembered failure
    second = stack.request("POST", "/webhooks/stripe", body, headers)
    assert second.status_code == 200 and second.json()["outcome"] == "started"


def test_a_dispute_holds_the_running_workflow_and_its_closing_wakes_it(stack, sample):
    # Given an invoice (legacy payload: it names its payment intent) whose workflow is running
    def deliver(event):
        body, headers = signed_delivery(event, LOCAL_STRIPE_SECRET, stack.now())
        return stack.request("POST", "/webhooks/stripe", body, headers).json()

    deliver(invoice_event(sample, "invoice.finalized", stack.now(), api_version=LEGACY_API_VERSION))
    stack.engine.wait_idle()
    # When the card payment is disputed, the hold is placed
    assert deliver(dispute_event(sample, stack.now(), api_version=LEGACY_API_VERSION))["outcome"].startswith("held")
    assert store_of(stack).get_invoice(sample.invoice_id).hold.kind.value == "dispute"
    # And when the dispute closes, it is lifted
    stack.run_until(stack.now() + timedelta(days=2))
    closed = deliver(dispute_event(sample, stack.now(), closed=True, api_version=LEGACY_API_VERSION))
    assert closed["outcome"].startswith("released"), closed
    assert store_of(stack).get_invoice(sample.invoice_id).hold is None
    kinds = [e.kind for e in store_of(stack).entries(sample.invoice_id)]
    assert kinds.count("hold_placed") == 1 and kinds.count("hold_released") == 1


def test_a_card_invoice_stripe_gave_up_on_is_left_alone_under_the_default_policy(stack, sample):
    # Given the default policy (it does not opt in to chasing card-charged invoices)
    event = invoice_event(sample, "invoice.payment_failed", stack.now(), collection_method="charge_automatically")
    assert event["data"]["object"]["next_payment_attempt"] is None  # Stripe's retries are over
    body, headers = signed_delivery(event, LOCAL_STRIPE_SECRET, stack.now())
    reply = stack.request("POST", "/webhooks/stripe", body, headers)
    # Then the event is acknowledged and nothing is collected
    assert reply.status_code == 200 and reply.json()["outcome"] == "ignored: not collected by Arrears"
    assert store_of(stack).get_invoice(sample.invoice_id) is None and executions(stack) == []
