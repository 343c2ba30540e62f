"""Invoice ids that are no valid execution name (':' from the generic feed, 100 characters from
Chargebee) still start, and on payment stop, their workflow through the real webhook handler."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from arrears.adapters.execution_names import execution_name
from arrears_local import billing_events as billing
from arrears_local.portfolio import sample_portfolio
from arrears_local.runtime import LOCAL_CHARGEBEE_CREDENTIALS, LOCAL_GENERIC_SECRET

GENERIC_ID = "northwind-erp:eu-west-1:ledger:2026:INV-000123:" + "0" * 17  # 64: the feed's longest, with ':'
CHARGEBEE_ID = "2026.eu-west." + "INV-0000123." * 7 + "a" * 3  # 100: Chargebee's longest


def generic(stack, invoice, status="open"):
    event = billing.generic_invoice_event(invoice, stack.now(), status=status)
    return "generic", *billing.generic_delivery(event, LOCAL_GENERIC_SECRET, stack.now())


def chargebee(stack, invoice, status=None):
    event_type = "payment_succeeded" if status == "paid" else "invoice_generated"
    event = billing.chargebee_invoice_event(invoice, event_type, stack.now())
    return "chargebee", *billing.chargebee_delivery(event, LOCAL_CHARGEBEE_CREDENTIALS)


@pytest.mark.parametrize(("deliver", "invoice_id"), [(generic, GENERIC_ID), (chargebee, CHARGEBEE_ID)])
def test_an_id_with_colons_or_100_characters_starts_and_stops_its_workflow(stack, deliver, invoice_id):
    # Given an open invoice whose id StartExecution would refuse as a name
    base = sample_portfolio(count=1)[0].invoice
    invoice = replace(base, invoice_id=invoice_id, number=invoice_id if deliver is chargebee else base.number)
    assert len(invoice_id) > 80 or ":" in invoice_id
    # When the platform sends it
    provider, body, headers = deliver(stack, invoice)
    reply = stack.request("POST", f"/webhooks/{provider}", body, headers)
    # Then it is accepted and one workflow runs for it, under its derived name, carrying the invoice id
    assert reply.status_code == 200, reply.body
    assert reply.json() == {**reply.json(), "invoice_id": invoice_id, "outcome": "started"}
    sfn = stack.client("stepfunctions")
    [execution] = sfn.list_executions(stateMachineArn=stack.state_machine_arn)["executions"]
    assert execution["name"] == execution_name(invoice_id)
    assert json.loads(sfn.describe_execution(executionArn=execution["executionArn"])["input"]) == {"invoice_id": invoice_id}
    stack.engine.wait_idle()
    # When it is paid, Then the workflow the webhook started is the one stopped
    provider, body, headers = deliver(stack, invoice, status="paid")
    assert stack.request("POST", f"/webhooks/{provider}", body, headers).json()["outcome"] == "closed: paid"
    stack.engine.wait_idle()
    assert sfn.describe_execution(executionArn=execution["executionArn"])["status"] == "ABORTED"
