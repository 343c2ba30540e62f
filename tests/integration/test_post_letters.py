"""A permanent bounce through the SES-events handler, then the workflow function posts the next step as a letter."""

from __future__ import annotations

import hashlib
import io
from datetime import timedelta

from pypdf import PdfReader

from arrears.adapters.dynamo import DynamoStore
from arrears_local.portfolio import sample_portfolio
from arrears_local.runtime import LOCAL_STRIPE_SECRET
from arrears_local.stripe_events import invoice_event, signed_delivery


def test_after_a_hard_bounce_the_next_step_is_a_letter_in_the_letters_bucket_and_a_task_to_post_it(stack):
    # Given an invoice of Brightwater Logistics (Manchester) whose courtesy reminder went out by email
    item = sample_portfolio(count=1)[0]
    invoice, customer = item.invoice, item.invoice.customer
    body, headers = signed_delivery(invoice_event(invoice, "invoice.finalized", stack.now()), LOCAL_STRIPE_SECRET, stack.now())
    assert stack.request("POST", "/webhooks/stripe", body, headers).status_code == 200
    stack.run_until(invoice.due - timedelta(days=6))
    store = DynamoStore(stack.table_name)
    reminder = next(e for e in store.entries(invoice.invoice_id) if e.kind == "email")
    # When SES reports a permanent bounce of it, and the due-date notice comes due
    stack.ses_notify(reminder.message_id, "Bounce")
    stack.run_until(invoice.due + timedelta(days=1))
    # Then the due-date notice is a letter by post, logged with the letter it posted
    due_notice = next(e for e in store.entries(invoice.invoice_id) if e.step_id == "due_notice")
    assert (due_notice.kind, due_notice.channel, due_notice.details["delivery"]) == ("letter", "letter", "post")
    assert due_notice.recipient == f"{customer.name}, 44 Canal Street, Manchester, M1 3HP, United Kingdom"
    (letter,) = due_notice.artefacts
    key = f"letters/{invoice.invoice_id}/due_notice.pdf"
    assert letter.uri == f"s3://{stack.letters_bucket}/{key}"
    # And the letters bucket holds exactly those bytes: a dated letter to the postal address
    pdf = stack.client("s3").get_object(Bucket=stack.letters_bucket, Key=key)["Body"].read()
    assert hashlib.sha256(pdf).hexdigest() == letter.sha256
    text = " ".join(" ".join(page.extract_text().split()) for page in PdfReader(io.BytesIO(pdf)).pages)
    assert "Dear Sir or Madam," in text and "44 Canal Street" in text and "We are writing to you by post" in text
    # And a person has a task to post it, naming the letter and the address
    (task,) = [t for t in store.open_tasks() if t["kind"] == "post_letter"]
    assert task["task_id"] == due_notice.details["task_id"]
    assert task["details"]["letter"] == letter.uri
    assert task["details"]["postal_address"] == [customer.name, "44 Canal Street", "Manchester", "M1 3HP", "United Kingdom"]
    # And nothing was emailed after the bounced reminder
    assert [m.id for m in stack.sent_emails()] == [reminder.message_id]
