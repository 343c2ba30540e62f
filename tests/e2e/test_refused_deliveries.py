"""Refused deliveries through the whole local stack: nothing is written anywhere."""

from __future__ import annotations

from arrears_local.portfolio import DEMO_START
from arrears_local.runtime import LOCAL_STRIPE_SECRET, LocalRuntime


def test_a_signed_but_malformed_body_is_refused_and_changes_nothing():
    from arrears.ingestion.providers.stripe import sign

    with LocalRuntime(start=DEMO_START) as runtime:
        items_before = runtime.client("dynamodb").scan(TableName=runtime.table_name, Select="COUNT")["Count"]
        body = b'{"id": "evt_1QMalformed", "type": "invoice.finalized", "created": 1788249600, "data": {"object": {"id": "in_x", "object": "invoice"}}}'
        headers = {"Stripe-Signature": sign(body, LOCAL_STRIPE_SECRET, int(runtime.now().timestamp()))}
        reply = runtime.request("POST", "/webhooks/stripe", body, headers)
        runtime.engine.wait_idle()
        assert reply.status_code == 400 and reply.json()["error"] == "invalid_invoice"
        assert runtime.client("dynamodb").scan(TableName=runtime.table_name, Select="COUNT")["Count"] == items_before
        assert runtime.client("stepfunctions").list_executions(stateMachineArn=runtime.state_machine_arn)["executions"] == []
        assert runtime.client("s3").list_objects_v2(Bucket=runtime.audit_bucket).get("KeyCount", 0) == 0
        # And the same event id, once well formed, is still accepted: a refusal is not remembered as done
        assert runtime.client("dynamodb").scan(TableName=runtime.name_of("IdempotencyTable"), Select="COUNT")["Count"] == 0
