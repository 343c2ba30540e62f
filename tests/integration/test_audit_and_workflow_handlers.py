"""The audit function (stream -> S3) and the workflow function, through their real handlers."""

from __future__ import annotations

import json

from arrears.domain.hash_chain import verify_chain
from arrears_local.portfolio import sample_portfolio
from arrears_local.runtime import LOCAL_STRIPE_SECRET
from arrears_local.stripe_events import invoice_event, signed_delivery


def invoke(stack, logical_id: str, payload: dict) -> dict:
    response = stack.client("lambda").invoke(FunctionName=stack.name_of(logical_id), Payload=json.dumps(payload).encode())
    assert response.get("FunctionError") is None, response["Payload"].read()
    return json.loads(response["Payload"].read())


def archived_lines(stack) -> list[dict]:
    s3 = stack.client("s3")
    lines = []
    for obj in s3.list_objects_v2(Bucket=stack.audit_bucket, Prefix="contact-log/").get("Contents", []):
        assert obj["Key"].startswith("contact-log/dt=") and obj["Key"].endswith(".jsonl")
        lines += [json.loads(line) for line in s3.get_object(Bucket=stack.audit_bucket, Key=obj["Key"])["Body"].read().splitlines()]
    return lines


def test_the_sample_stream_event_is_archived_by_date(stack, root):
    # Given the sample stream event in events/ (one contact-log INSERT)
    event = json.loads((root / "events" / "audit" / "contact-log-insert.json").read_text())
    # When the audit function receives it
    assert invoke(stack, "AuditFunction", event) == {"batchItemFailures": []}
    # Then the entry is in the audit bucket under its date, byte-equivalent to the stored entry
    (line,) = archived_lines(stack)
    assert line == json.loads(event["Records"][0]["dynamodb"]["NewImage"]["entry"]["S"])
    assert verify_chain([line]) == []


def test_every_contact_log_write_reaches_the_audit_bucket_through_the_stream(stack):
    # Given a finalized invoice (its webhook and workflow start each write log entries)
    invoice = sample_portfolio(count=1)[0].invoice
    body, headers = signed_delivery(invoice_event(invoice, "invoice.finalized", stack.now()), LOCAL_STRIPE_SECRET, stack.now())
    assert stack.request("POST", "/webhooks/stripe", body, headers).status_code == 200
    stack.engine.wait_idle()
    # Then the stream delivered each entry (and only contact-log entries) to the archive, chain intact
    lines = archived_lines(stack)
    assert [line["kind"] for line in lines] == ["invoice_opened", "collection_started"]
    assert verify_chain(sorted(lines, key=lambda line: line["seq"])) == []


def test_the_workflow_function_closes_a_paid_invoice_without_contacting(stack):
    invoice = sample_portfolio(count=1)[0].invoice
    for event_type in ("invoice.finalized", "invoice.paid"):
        body, headers = signed_delivery(invoice_event(invoice, event_type, stack.now()), LOCAL_STRIPE_SECRET, stack.now())
        stack.request("POST", "/webhooks/stripe", body, headers)
    stack.engine.wait_idle()
    # When the workflow's task runs (as after a Wait) for a paid invoice
    result = invoke(stack, "WorkflowFunction", {"action": "run_due_steps", "invoice_id": invoice.invoice_id})
    # Then it decides "closed" and sends nothing
    assert result == {"invoice_id": invoice.invoice_id, "decision": {"status": "closed", "reason": "paid"}}
    assert stack.sent_emails() == []


def test_the_workflow_function_refuses_an_unknown_action(stack):
    response = stack.client("lambda").invoke(FunctionName=stack.name_of("WorkflowFunction"),
                                             Payload=json.dumps({"action": "delete_everything", "invoice_id": "in_1"}).encode())
    assert response.get("FunctionError") == "Unhandled"
    assert "ValidationError" in response["Payload"].read().decode()


def test_a_hard_bounce_stops_email_to_that_address_and_opens_a_task(stack):
    from datetime import timedelta

    from arrears.adapters.dynamo import DynamoStore

    # Given an invoice whose courtesy reminder went out
    invoice = sample_portfolio(count=1)[0].invoice
    body, headers = signed_delivery(invoice_event(invoice, "invoice.finalized", stack.now()), LOCAL_STRIPE_SECRET, stack.now())
    assert stack.request("POST", "/webhooks/stripe", body, headers).status_code == 200
    stack.run_until(invoice.due - timedelta(days=6))
    store = DynamoStore(stack.table_name)
    reminder = next(e for e in store.entries(invoice.invoice_id) if e.kind == "email")
    # When SES reports a permanent bounce for it, twice (SNS delivers at least once)
    stack.ses_notify(reminder.message_id, "Bounce")
    stack.ses_notify(reminder.message_id, "Bounce")
    stack.run_until(invoice.due + timedelta(days=1))
    # Then the bounce is logged once, the address is marked, one task opens, and the due-date notice is not emailed
    # (it goes by post: tests/integration/test_post_letters.py)
    entries = store.entries(invoice.invoice_id)
    assert [e.kind for e in entries].count("email_bounced") == 1
    assert store.undeliverable_addresses(invoice.customer.customer_id) == {invoice.customer.email.lower()}
    assert [t["kind"] for t in store.open_tasks()].count("fix_debtor_email") == 1
    due_notice = next(e for e in entries if e.step_id == "due_notice")
    assert due_notice.kind == "letter"
    assert len(stack.sent_emails()) == 1
