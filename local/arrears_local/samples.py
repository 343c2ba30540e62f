"""events/: one realistic payload per trigger, for `sam local invoke -e` and for reading.

Generated from the demo's first sample invoice so they stay consistent with the
code; `arrears events --check` (run by the tests) fails when a committed file is stale.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from arrears.domain.hash_chain import chain_entry
from arrears.adapters.execution_names import execution_name
from arrears_local.portfolio import DEMO_START, sample_portfolio
from arrears_local.runtime import (
    LOCAL_CHARGEBEE_CREDENTIALS, LOCAL_GENERIC_SECRET, LOCAL_PADDLE_SECRET, LOCAL_STRIPE_SECRET, _proxy_event, project_root,
)
from arrears_local.stripe_events import invoice_event, signed_delivery


def _webhook(provider: str, body: bytes, headers: dict[str, str], request_id: str) -> dict[str, Any]:
    event = _proxy_event("POST", f"/webhooks/{provider}", "/webhooks/{provider}", {"provider": provider}, body, headers)
    event["requestContext"]["requestId"] = request_id
    return event


def webhook_samples(invoice) -> dict[str, Any]:
    """One signed delivery (an API Gateway proxy event) for every event each provider's route handles."""
    from dataclasses import replace
    from datetime import timedelta

    from arrears_local import billing_events as billing
    from arrears_local import stripe_events as stripe

    created, due = invoice.created, invoice.due
    moved = replace(invoice.customer, email="accounts-payable@brightwater-logistics.example")
    stripe_events = {
        "invoice.created": invoice_event(invoice, "invoice.created", created - timedelta(hours=1)),
        "invoice.finalized": invoice_event(invoice, "invoice.finalized", created),
        "invoice.sent": invoice_event(invoice, "invoice.sent", created + timedelta(minutes=1)),
        "invoice.updated": invoice_event(invoice, "invoice.updated", created + timedelta(days=2), due=due + timedelta(days=7),
                                         previous={"due_date": int(due.timestamp())}),
        "invoice.payment_failed": invoice_event(invoice, "invoice.payment_failed", due),
        "invoice.payment_succeeded": invoice_event(invoice, "invoice.payment_succeeded", due + timedelta(days=3)),
        "invoice.paid": invoice_event(invoice, "invoice.paid", due + timedelta(days=3)),
        "invoice.voided": invoice_event(invoice, "invoice.voided", due + timedelta(days=4)),
        "invoice.marked_uncollectible": invoice_event(invoice, "invoice.marked_uncollectible", due + timedelta(days=45)),
        "invoice.deleted": invoice_event(invoice, "invoice.deleted", created - timedelta(minutes=30)),
        "credit_note.created": stripe.credit_note_event(invoice, 1, 5_000, created + timedelta(days=5)),
        "credit_note.voided": stripe.credit_note_event(invoice, 1, 5_000, created + timedelta(days=6), voided=True),
        "customer.updated": stripe.customer_updated_event(moved, created + timedelta(days=8),
                                                          previous={"email": invoice.customer.email}),
        "invoice_payment.paid": stripe.invoice_payment_paid_event(invoice, 20_000, created + timedelta(days=9)),
        "charge.dispute.created": stripe.dispute_event(invoice, created + timedelta(days=12)),
        "charge.dispute.closed": stripe.dispute_event(invoice, created + timedelta(days=26), closed=True),
        "invoice.paid.2024-06-20": invoice_event(invoice, "invoice.paid", due + timedelta(days=3),
                                                 api_version=stripe.LEGACY_API_VERSION),
    }
    samples: dict[str, Any] = {}
    for name, event in stripe_events.items():
        at = datetime.fromtimestamp(event["created"], tz=timezone.utc)
        body, headers = signed_delivery(event, LOCAL_STRIPE_SECRET, at)
        samples[f"webhooks/stripe/{name}.json"] = _webhook("stripe", body, headers, f"sample-stripe-{name}")
    paddle_events = {event_type: billing.paddle_transaction_event(invoice, event_type, at) for event_type, at in (
        ("transaction.billed", created), ("transaction.updated", created + timedelta(days=2)),
        ("transaction.past_due", due + timedelta(days=1)), ("transaction.paid", due + timedelta(days=3)),
        ("transaction.completed", due + timedelta(days=3, minutes=1)), ("transaction.canceled", due + timedelta(days=4)))}
    paddle_events["customer.updated"] = billing.paddle_customer_event(moved, created + timedelta(days=8))
    for name, event in paddle_events.items():
        at = datetime.fromisoformat(event["occurred_at"])
        body, headers = billing.paddle_delivery(event, LOCAL_PADDLE_SECRET, at)
        samples[f"webhooks/paddle/{name}.json"] = _webhook("paddle", body, headers, f"sample-paddle-{name}")
    chargebee_events = {event_type: billing.chargebee_invoice_event(invoice, event_type, at) for event_type, at in (
        ("invoice_generated", created), ("invoice_updated", created + timedelta(days=2)),
        ("payment_succeeded", due + timedelta(days=3)), ("payment_refunded", due + timedelta(days=10)),
        ("invoice_deleted", due + timedelta(days=4)))}
    chargebee_events["credit_note_created"] = billing.chargebee_credit_note_event(invoice, 5_000, created + timedelta(days=5))
    chargebee_events["customer_changed"] = billing.chargebee_customer_event(moved, created + timedelta(days=8))
    for name, event in chargebee_events.items():
        body, headers = billing.chargebee_delivery(event, LOCAL_CHARGEBEE_CREDENTIALS)
        samples[f"webhooks/chargebee/{name}.json"] = _webhook("chargebee", body, headers, f"sample-chargebee-{name}")
    generic_events = {"invoice.updated": billing.generic_invoice_event(invoice, created),
                      "invoice.updated-paid": billing.generic_invoice_event(invoice, due + timedelta(days=3), "paid"),
                      "customer.updated": billing.generic_customer_event(moved, created + timedelta(days=8))}
    for name, event in generic_events.items():
        at = datetime.fromisoformat(event["occurred_at"])
        body, headers = billing.generic_delivery(event, LOCAL_GENERIC_SECRET, at)
        samples[f"webhooks/generic/{name}.json"] = _webhook("generic", body, headers, f"sample-generic-{name}")
    return samples


def sample_events() -> dict[str, Any]:
    item = sample_portfolio(DEMO_START, 1)[0]
    invoice = item.invoice
    samples: dict[str, Any] = webhook_samples(invoice)
    for event_type, at in (("invoice.finalized", invoice.created), ("invoice.paid", invoice.due)):
        body, headers = signed_delivery(invoice_event(invoice, event_type, at), LOCAL_STRIPE_SECRET, at)
        event = _proxy_event("POST", "/webhooks/stripe", "/webhooks/{provider}", {"provider": "stripe"}, body, headers)
        event["requestContext"]["requestId"] = f"sample-{event_type}"
        samples[f"webhooks/stripe-{event_type.replace('.', '-')}.json"] = event
    execution = f"arn:aws:states:us-east-1:123456789012:execution:arrears-dunning:{execution_name(invoice.invoice_id)}"
    samples["workflow/start.json"] = {"action": "start", "invoice_id": invoice.invoice_id, "execution_arn": execution}
    samples["workflow/run-due-steps.json"] = {"action": "run_due_steps", "invoice_id": invoice.invoice_id, "execution_arn": execution}
    samples["workflow/escalate-now.json"] = {"action": "escalate_now", "invoice_id": invoice.invoice_id,
                                             "actor": "arn:aws:sts::123456789012:assumed-role/FinanceTeam/jane.doe"}
    from arrears_local.api_samples import api_samples

    samples.update(api_samples(invoice.invoice_id, invoice.customer.customer_id))
    samples["workflow/record-failure.json"] = {"action": "record_failure", "invoice_id": invoice.invoice_id, "error": {
        "Error": "Lambda.Unknown", "Cause": "The cause could not be determined because Lambda did not return an error type."}}
    entry = chain_entry(None, invoice.created, invoice_id=invoice.invoice_id, customer_id=invoice.customer.customer_id,
                        kind="invoice_opened", actor="stripe webhook evt_sample", details={"event_type": "invoice.finalized"})
    samples["audit/contact-log-insert.json"] = {"Records": [{
        "eventID": "c81e728d9d4c2f636f067f89cc14862c", "eventName": "INSERT", "eventVersion": "1.1",
        "eventSource": "aws:dynamodb", "awsRegion": "us-east-1",
        "dynamodb": {"ApproximateCreationDateTime": 1788253200, "Keys": {"pk": {"S": f"INVOICE#{invoice.invoice_id}"}, "sk": {"S": "LOG#000001"}},
                     "NewImage": {"pk": {"S": f"INVOICE#{invoice.invoice_id}"}, "sk": {"S": "LOG#000001"}, "entity": {"S": "contact"},
                                  "kind": {"S": "invoice_opened"}, "at": {"S": "2026-09-01T09:00:00Z"},
                                  "entry": {"S": entry.model_dump_json()}},
                     "SequenceNumber": "111100000000012345678901", "SizeBytes": 512, "StreamViewType": "NEW_IMAGE"},
        "eventSourceARN": "arn:aws:dynamodb:us-east-1:123456789012:table/arrears-ArrearsTable/stream/2026-09-01T00:00:00.000"}]}
    from arrears.domain.ses_events import ses_notification

    bounce = ses_notification("Bounce", "0100019a3f1c2b7e-6d1f2c9e-4f1b-4a8e-9c55-1e2d3f4a5b6c-000000",
                              invoice.due, "collections@northwind.example", [invoice.customer.email],
                              headers={"X-Arrears-Reference": f"{invoice.number}/due_notice",
                                       "Subject": f"Invoice {invoice.number} is due today"},
                              configuration_set="arrears-EmailConfigurationSet")
    samples["ses_events/bounce.json"] = {"Records": [{
        "EventSource": "aws:sns", "EventVersion": "1.0",
        "EventSubscriptionArn": "arn:aws:sns:us-east-1:123456789012:arrears-email-events:5f8a1c2e-9b7d-4a3f-8c21-6e0d9b4f7a13",
        "Sns": {"Type": "Notification", "MessageId": "8a3e9c1d-2b4f-5a6e-9d7c-0f1e2a3b4c5d",
                "TopicArn": "arn:aws:sns:us-east-1:123456789012:arrears-email-events", "Subject": None,
                "Message": json.dumps(bounce, sort_keys=True), "Timestamp": bounce["bounce"]["timestamp"], "SignatureVersion": "1",
                "MessageAttributes": {}}}]}
    # What the inbound bucket's notification sends when SES's receipt rule stored a reply (docs/replies.md).
    samples["inbound/reply-stored.json"] = {"Records": [{
        "eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": "eu-west-1", "eventTime": "2026-10-23T13:00:02.114Z",
        "eventName": "ObjectCreated:Put", "userIdentity": {"principalId": "AWS:AROA3EXAMPLESESROLE:ses"},
        "requestParameters": {"sourceIPAddress": "203.0.113.17"}, "responseElements": {"x-amz-request-id": "8C3A1F2B9D7E6A50",
                                                                                     "x-amz-id-2": "sample"},
        "s3": {"s3SchemaVersion": "1.0", "configurationId": "arrears-inbound-MessageStored",
               "bucket": {"name": "arrears-inbound-123456789012", "ownerIdentity": {"principalId": "A3EXAMPLEOWNER"},
                          "arn": "arn:aws:s3:::arrears-inbound-123456789012"},
               "object": {"key": "messages/u4ql2m9gq7d6c1c0v8s7h3k2n5p1r0a9t8e6o4i2", "size": 4187,
                          "eTag": "5d41402abc4b2a76b9719d911017c592", "sequencer": "0065A1B2C3D4E5F601"}}}]}
    return samples


def write_sample_events(check: bool = False, root: Path | None = None) -> list[str]:
    """Write (or, with check, compare) events/; returns the stale or missing files."""
    folder = (root or project_root()) / "events"
    stale = []
    for name, payload in sample_events().items():
        path = folder / name
        text = json.dumps(payload, indent=2, ensure_ascii=False) + "\n"
        if path.exists() and path.read_text(encoding="utf-8") == text:
            continue
        stale.append(name)
        if not check:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
    return stale
