"""S3 refuses a PutObject into an Object Lock bucket (the audit archive: default retention) that carries neither
Content-MD5 nor an x-amz-checksum header. botocore before 1.36 (what an older Lambda runtime has) sends no
checksum unless asked, so the adapters ask for SHA-256 explicitly. The test sets botocore to add a checksum only
where its model requires one (as before 1.36); moto then refuses as S3 does, and the headers sent are read too."""

from __future__ import annotations

import base64
import hashlib

import pytest

from arrears.adapters import aws
from arrears.usecases.audit.archive import S3AuditArchive
from arrears.adapters.s3 import S3ArtefactStore
from arrears_local.runtime import LocalRuntime
from tests.integration.conftest import START

INVOICE = "in_1QfR7bLkdIwHu7ixm0Z5d3Xq"


@pytest.fixture(scope="module")
def stack():
    with LocalRuntime(start=START) as runtime:
        yield runtime


@pytest.fixture
def put_headers(stack, monkeypatch):
    """The headers of every PutObject sent, by key, from clients that behave like botocore < 1.36."""
    monkeypatch.setenv("AWS_REQUEST_CHECKSUM_CALCULATION", "when_required")
    aws.reset_clients()
    sent: dict[str, dict[str, str]] = {}

    def record(request, **_):
        sent[request.url.rsplit("/", 1)[-1]] = {k.lower(): v for k, v in request.headers.items()}

    aws.client("s3").meta.events.register("before-send.s3.PutObject", record)
    yield sent
    aws.reset_clients()


def _sha256_b64(body: bytes) -> str:
    return base64.b64encode(hashlib.sha256(body).digest()).decode()


def test_the_audit_archive_bucket_has_default_retention(stack):
    # The precondition that makes S3 insist on a checksum.
    lock = stack.client("s3").get_object_lock_configuration(Bucket=stack.audit_bucket)["ObjectLockConfiguration"]
    assert lock["Rule"]["DefaultRetention"]["Days"] >= 1


def test_archive_writes_and_artefact_copies_carry_a_sha256_checksum(stack, put_headers):
    # Given a letter the workflow stored, and a batch of contact-log entries to archive
    letter = b"%PDF-1.7 formal notice for " + INVOICE.encode()
    artefact = S3ArtefactStore(stack.letters_bucket).put(f"letters/{INVOICE}/formal_notice.pdf", letter,
                                                         "application/pdf", "letter")
    entries = b'{"invoice_id":"' + INVOICE.encode() + b'","seq":1}\n'
    archive = S3AuditArchive(stack.audit_bucket)
    # When the audit function archives the entries and copies the letter beside them
    archive.put("contact-log-test.jsonl", entries)
    archive.copy_artefact(artefact.uri, "artefacts-test.pdf")
    # Then each put was accepted, and S3 holds the SHA-256 of exactly the bytes given (checked as it stored them)
    s3 = stack.client("s3")
    for bucket, key, body in ((stack.audit_bucket, "contact-log-test.jsonl", entries),
                              (stack.audit_bucket, "artefacts-test.pdf", letter),
                              (stack.letters_bucket, f"letters/{INVOICE}/formal_notice.pdf", letter)):
        head = s3.head_object(Bucket=bucket, Key=key, ChecksumMode="ENABLED")
        assert head["ChecksumSHA256"] == _sha256_b64(body), key
        assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == body
    # And the requests asked for it themselves (botocore sends the value as a trailer of the chunked body)
    for key in ("contact-log-test.jsonl", "artefacts-test.pdf", "formal_notice.pdf"):
        assert put_headers[key]["x-amz-sdk-checksum-algorithm"] == b"SHA256", key
        assert put_headers[key]["x-amz-trailer"] == b"x-amz-checksum-sha256", key
