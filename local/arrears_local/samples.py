"""events/: one realistic payload per trigger, for `sam local invoke -e` and for reading.

Generated from the demo's first sample invoice so they stay consistent with the
code; `arrears events --check` (run by the tests) fails when a committed file is stale.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from arrears.audit.chain import chain_entry
from arrears_local.portfolio import DEMO_START, sample_portfolio
from arrears_local.runtime import LOCAL_STRIPE_SECRET, _proxy_event, project_root
from arrears_local.stripe_events import invoice_event, signed_delivery


def sample_events() -> dict[str, Any]:
    item = sample_portfolio(DEMO_START, 1)[0]
    invoice = item.invoice
    samples: dict[str, Any] = {}
    for event_type, at in (("invoice.finalized", invoice.created), ("invoice.paid", invoice.due)):
        body, headers = signed_delivery(invoice_event(invoice, event_type, at), LOCAL_STRIPE_SECRET, at)
        event = _proxy_event("POST", "/webhooks/stripe", "/webhooks/{provider}", {"provider": "stripe"}, body, headers)
        event["requestContext"]["requestId"] = f"sample-{event_type}"
        samples[f"webhooks/stripe-{event_type.replace('.', '-')}.json"] = event
    execution = f"arn:aws:states:us-east-1:123456789012:execution:arrears-dunning:{invoice.invoice_id}"
    samples["workflow/start.json"] = {"action": "start", "invoice_id": invoice.invoice_id, "execution_arn": execution}
    samples["workflow/run-due-steps.json"] = {"action": "run_due_steps", "invoice_id": invoice.invoice_id, "execution_arn": execution}
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
    from arrears.audit.ses_events import ses_notification

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
