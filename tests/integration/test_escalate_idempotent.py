"""Escalate now, end to end: the finance API invokes the workflow function once (no botocore retry,
a read timeout inside API Gateway's 29 s), answers 202 "in progress" when the send outlasts it, and
a second invocation for the same request escalates nothing and logs nothing: it finds the first's result."""

from __future__ import annotations

import json

import pytest
from botocore.exceptions import ReadTimeoutError

from arrears.adapters import aws
from arrears.adapters.dynamo import DynamoStore
from arrears.adapters.step_functions import WorkflowFunction
from arrears_local.demo import run_book
from arrears_local.portfolio import DEMO_START, sample_portfolio
from arrears_local.runtime import LocalRuntime
from tests.integration import test_finance_api as finance
from tests.integration.test_finance_api import JANE, call, log_of, may_be_messaged_now

API_GATEWAY_LIMIT_SECONDS = 29


@pytest.fixture(scope="module")
def stack():
    with LocalRuntime(start=DEMO_START) as runtime:
        run_book(runtime, sample_portfolio(DEMO_START, 20), finance.POLICY, finance.DAYS)
        yield runtime


@pytest.fixture(scope="module")
def open_invoices(stack):
    return {i["number"]: i for i in call(stack, "GET", "/invoices?limit=200")[1]["invoices"]}


def escalatable(stack, open_invoices):
    """An open invoice of a European customer (in contact hours now) not messaged within the policy's gap."""
    return next(i for i in open_invoices.values() if i["customer_id"] in (
        "cus_QhK2vX4zWp2Ef5", "cus_QhK2mN8vLp4Rt1", "cus_QhK2xY7aYq8Gh6", "cus_QhK2rV1xSn3Ab3")
        and may_be_messaged_now(stack, i["customer_id"]))


def invoke_workflow(stack, payload: dict) -> dict:
    response = stack.client("lambda").invoke(FunctionName=stack.name_of("WorkflowFunction"),
                                             Payload=json.dumps(payload).encode())
    return json.loads(response["Payload"].read())


def escalations(stack, invoice_id):
    return [e for e in log_of(stack, invoice_id) if e.kind == "escalated"]


def test_the_invoke_is_made_once_and_answered_within_the_api_budget(stack):
    config = aws.single_attempt_client("lambda", WorkflowFunction.READ_TIMEOUT_SECONDS).meta.config
    assert config.retries["total_max_attempts"] == 1
    assert config.connect_timeout + config.read_timeout < API_GATEWAY_LIMIT_SECONDS - 5  # the API's own reads too


def test_a_second_invocation_for_the_same_request_finds_the_first_result_and_logs_nothing(stack, open_invoices):
    # Given an invoice whose next step may go now, escalated once by one request
    invoice = escalatable(stack, open_invoices)
    request = {"action": "escalate_now", "invoice_id": invoice["invoice_id"], "actor": JANE,
               "request_id": "c9a0c1c2-5d0e-4b1f-9a57-0f2d7c1e6a11"}
    first = invoke_workflow(stack, request)
    assert "escalated" in first, first
    sent, logged = len(stack.sent_emails()), len(log_of(stack, invoice["invoice_id"]))
    # When the same request reaches the function again (a retried invoke)
    second = invoke_workflow(stack, request)
    # Then it answers what the first did, and nothing more is sent or logged
    assert second == first
    assert len(stack.sent_emails()) == sent and len(log_of(stack, invoice["invoice_id"])) == logged
    assert len(escalations(stack, invoice["invoice_id"])) == 1


def test_a_send_slower_than_the_api_can_wait_answers_202_and_is_done_once(stack, open_invoices, monkeypatch):
    # Given a workflow function that answers after the finance API stopped waiting (it still sends)
    invoice = escalatable(stack, open_invoices)
    client = aws.single_attempt_client("lambda", WorkflowFunction.READ_TIMEOUT_SECONDS)
    real_invoke, payloads = client.invoke, []

    def late_invoke(**kwargs):
        payloads.append(json.loads(kwargs["Payload"]))
        real_invoke(**kwargs)
        raise ReadTimeoutError(endpoint_url="https://lambda.eu-west-1.amazonaws.com/2015-03-31/functions/x/invocations")

    monkeypatch.setattr(client, "invoke", late_invoke)
    sent = len(stack.sent_emails())
    # When the finance team escalates
    status, body = call(stack, "POST", f"/invoices/{invoice['invoice_id']}/escalate", {"reason": "asked by the CFO"})
    # Then the API answers 202 in progress, having invoked once; the step went out once
    assert status == 202, body
    assert body["outcome"] == {"reason": "asked by the CFO", "in_progress": True}
    assert len(payloads) == 1 and payloads[0]["request_id"]
    assert len(stack.sent_emails()) == sent + 1
    # And the same request asked again is answered from the first, with nothing sent or logged again
    logged = len(log_of(stack, invoice["invoice_id"]))
    again = invoke_workflow(stack, payloads[0])
    [escalated] = escalations(stack, invoice["invoice_id"])
    assert again == {"escalated": {"invoice_id": invoice["invoice_id"], "step_id": escalated.step_id,
                                   "stage": escalated.stage, "planned_at": escalated.details["planned_at"]}}
    assert len(stack.sent_emails()) == sent + 1 and len(log_of(stack, invoice["invoice_id"])) == logged


def test_an_unfinished_first_invocation_makes_the_second_answer_in_progress(stack, open_invoices):
    # Given a request claimed by an invocation still sending (its claim exists, nothing logged yet)
    invoice = next(iter(open_invoices.values()))
    request_id = "5f1d9b7e-0c44-4a8e-b7a3-2a9b3d1f0e77"
    assert DynamoStore(stack.table_name).claim_step(invoice["invoice_id"], f"escalate-request:{request_id}", stack.now())
    logged = len(log_of(stack, invoice["invoice_id"]))
    # When the same request is invoked again; Then it answers "in progress" and does nothing
    reply = invoke_workflow(stack, {"action": "escalate_now", "invoice_id": invoice["invoice_id"], "actor": JANE,
                                    "request_id": request_id})
    assert reply == {"in_progress": True}
    assert len(log_of(stack, invoice["invoice_id"])) == logged
