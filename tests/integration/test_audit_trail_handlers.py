"""The audit function (stream -> archive, manifests, artefact copies) and the SES events function, against moto."""

from __future__ import annotations

import json
from datetime import timedelta
from email.message import EmailMessage

import pytest

from arrears.usecases.audit.archive import S3AuditArchive
from arrears.domain.hash_chain import chain_entry
from arrears.usecases.audit.manifest import sha256_hex
from arrears.domain.ses_events import ses_notification
from arrears.adapters.audit_sources import S3Source
from arrears.usecases.audit.verify import verify_archive
from arrears.adapters.ses import SesMailer
from arrears.adapters.dynamo import DynamoStore
from arrears.adapters.s3 import S3ArtefactStore
from arrears_local.runtime import LocalRuntime
from tests.integration.conftest import START

CUSTOMER = "cus_QhK2vX4zWp2Ef5"
DEBTOR = "crediteuren@vandijk.example"


@pytest.fixture(scope="module")
def stack():
    with LocalRuntime(start=START) as runtime:
        yield runtime


def stream_event(records: list[tuple[str, object]]) -> dict:
    """A DynamoDB stream batch of contact-log INSERTs, as Lambda delivers it."""
    return {"Records": [{
        "eventID": f"ev{sequence_number[-6:]}", "eventName": "INSERT", "eventVersion": "1.1", "eventSource": "aws:dynamodb",
        "awsRegion": "us-east-1",
        "dynamodb": {"Keys": {"pk": {"S": f"INVOICE#{entry.invoice_id}"}, "sk": {"S": f"LOG#{entry.seq:06d}"}},
                     "NewImage": {"pk": {"S": f"INVOICE#{entry.invoice_id}"}, "sk": {"S": f"LOG#{entry.seq:06d}"},
                                  "entity": {"S": "contact"}, "entry": {"S": entry.model_dump_json()}},
                     "SequenceNumber": sequence_number, "SizeBytes": 700, "StreamViewType": "NEW_IMAGE"},
        "eventSourceARN": "arn:aws:dynamodb:us-east-1:123456789012:table/arrears-local-arrearstable/stream/2026-09-01T00:00:00.000",
    } for sequence_number, entry in records]}


def invoke(stack, logical_id: str, payload: dict) -> dict:
    response = stack.client("lambda").invoke(FunctionName=stack.name_of(logical_id), Payload=json.dumps(payload).encode())
    assert response.get("FunctionError") is None, response["Payload"].read()
    return json.loads(response["Payload"].read())


def archived(stack, invoice_id: str) -> list[dict]:
    s3 = stack.client("s3")
    lines = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=stack.audit_bucket, Prefix="contact-log/"):
        for item in page.get("Contents", []):
            body = s3.get_object(Bucket=stack.audit_bucket, Key=item["Key"])["Body"].read()
            lines += [line for line in map(json.loads, body.splitlines()) if line["invoice_id"] == invoice_id]
    return lines


def test_a_stream_batch_retried_after_a_partial_failure_yields_each_entry_exactly_once(stack, monkeypatch):
    # Given four entries of one invoice over two days, the third naming a demand letter in the letters bucket
    invoice_id = "in_1QRetryArrearsDemo4242"
    letter = S3ArtefactStore(stack.letters_bucket).put(f"letters/{invoice_id}/formal_notice.pdf",
                                                       b"%PDF-1.7\n% Demand letter NW-2026-1077\n%%EOF\n", "application/pdf", "letter")
    entries, previous = [], None
    for number, (kind, hours, artefacts) in enumerate([("invoice_opened", 0, ()), ("collection_started", 0, ()),
                                                        ("letter", 26, (letter,)), ("payment", 30, ())], start=1):
        previous = chain_entry(previous, START + timedelta(hours=hours), invoice_id=invoice_id, customer_id=CUSTOMER,
                               kind=kind, actor="arrears-workflow", artefacts=artefacts)
        entries.append((f"7720000000000000000{number:05d}", previous))
    # and S3 fails once on the manifest of the second day's object
    real_put, failures = S3AuditArchive.put, {"manifests/dt=2026-09-02/772000000000000000000003.json"}

    def flaky_put(archive, key, body):
        if key in failures:
            failures.discard(key)
            raise ConnectionError("S3 PutObject timed out")
        real_put(archive, key, body)

    monkeypatch.setattr(S3AuditArchive, "put", flaky_put)
    # When the audit function gets the batch, Then it reports the failed run and everything after it
    reply = invoke(stack, "AuditFunction", stream_event(entries))
    failed = [item["itemIdentifier"] for item in reply["batchItemFailures"]]
    assert failed == [entries[2][0], entries[3][0]]
    # When Lambda retries from the first reported record
    assert invoke(stack, "AuditFunction", stream_event([e for e in entries if e[0] in failed])) == {"batchItemFailures": []}
    # Then every entry is archived exactly once, listed once, and the archive verifies
    assert sorted(line["seq"] for line in archived(stack, invoice_id)) == [1, 2, 3, 4]
    report = verify_archive(S3Source(stack.audit_bucket, client=stack.client("s3")))
    assert report.problems == []
    # And the demand letter sits beside its entry, byte for byte, with its hash
    copy = stack.client("s3").get_object(Bucket=stack.audit_bucket, Key=f"artefacts/letters/{invoice_id}/formal_notice.pdf")
    assert sha256_hex(copy["Body"].read()) == letter.sha256 == copy["Metadata"]["sha256"]


def sent_email(stack, invoice_id: str, step: str) -> str:
    """An email sent through SES and logged, as the workflow does: returns its SES message id."""
    message = EmailMessage()
    message["From"], message["To"] = f"Northwind Analytics <{stack.sender_email}>", DEBTOR
    message["Subject"], message["X-Arrears-Reference"] = "Reminder: invoice NW-2026-1081 is overdue", f"NW-2026-1081/{step}"
    message.set_content("Dear Van Dijk Consultancy B.V., invoice NW-2026-1081 is 7 days overdue.")
    message_id = SesMailer(stack.name_of("EmailConfigurationSet")).send(message.as_bytes(), stack.sender_email, [DEBTOR])
    DynamoStore(stack.table_name).append(invoice_id, CUSTOMER, stack.now(), kind="email", actor="arrears-workflow",
                                         channel="email", step_id=step, recipient=DEBTOR, message_id=message_id)
    return message_id


def test_a_bounce_lands_in_the_log_of_the_email_it_concerns_once_even_if_delivered_twice(stack):
    # Given a reminder sent and logged for an invoice
    invoice_id = "in_1QBounceArrearsDemo0815"
    message_id = sent_email(stack, invoice_id, "overdue_7")
    # When SES reports its delivery, then a permanent bounce, and SNS delivers the bounce twice
    stack.ses_notify(message_id, "Delivery")
    stack.ses_notify(message_id, "Bounce")
    stack.ses_notify(message_id, "Bounce")
    # Then the invoice's log holds the email, one delivery and one bounce, chained, against that message
    entries = DynamoStore(stack.table_name).entries(invoice_id)
    assert [(e.kind, e.actor, e.message_id, e.step_id) for e in entries] == [
        ("email", "arrears-workflow", message_id, "overdue_7"),
        ("email_delivered", "amazon-ses", message_id, "overdue_7"),
        ("email_bounced", "amazon-ses", message_id, "overdue_7"),
    ]
    assert entries[2].details["bounce_type"] == "Permanent" and entries[2].recipient == DEBTOR
    assert entries[2].prev_hash == entries[1].hash
    # And the stream archived all three
    assert [line["kind"] for line in sorted(archived(stack, invoice_id), key=lambda line: line["seq"])] == [
        "email", "email_delivered", "email_bounced"]


def test_an_event_about_an_email_arrears_did_not_send_changes_nothing(stack):
    before = stack.client("dynamodb").scan(TableName=stack.table_name, Select="COUNT")["Count"]
    foreign = ses_notification("Bounce", "0100019forgn-newsletter-0001", stack.now(), "news@northwind.example",
                               ["someone@example.org"], {"Subject": "Our autumn newsletter"})
    stack.client("sns").publish(TopicArn=stack.email_events_topic, Message=json.dumps(foreign))
    assert stack.client("dynamodb").scan(TableName=stack.table_name, Select="COUNT")["Count"] == before


def test_verify_on_the_bucket_names_a_deleted_object(stack):
    # Given a versioned copy of the audit bucket (the live one stays intact for the other tests)
    s3 = stack.client("s3")
    copy = "arrears-local-audit-copy"
    s3.create_bucket(Bucket=copy)
    s3.put_bucket_versioning(Bucket=copy, VersioningConfiguration={"Status": "Enabled"})
    keys = [o["Key"] for p in s3.get_paginator("list_objects_v2").paginate(Bucket=stack.audit_bucket) for o in p.get("Contents", [])]
    for key in keys:
        s3.put_object(Bucket=copy, Key=key, Body=s3.get_object(Bucket=stack.audit_bucket, Key=key)["Body"].read())
    assert verify_archive(S3Source(copy, client=s3)).problems == []
    # When one contact-log object is deleted (S3 keeps its versions behind a delete marker)
    victim = next(key for key in keys if key.startswith("contact-log/"))
    s3.delete_object(Bucket=copy, Key=victim)
    # Then verify names the deletion and what it lost
    found = [p.message for p in verify_archive(S3Source(copy, client=s3)).problems]
    assert f"object {victim} was deleted (a delete marker hides it; its earlier versions are still in the bucket)" in found
    assert any(p.startswith("manifest ") and p.endswith(f"lists object {victim} which is missing") for p in found)
