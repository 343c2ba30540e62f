"""Archiving contact-log entries from the table's stream as JSON Lines by date (domain + S3 adapter).

A stream batch is cut into runs of consecutive entries with the same date and
each run is written as one object whose key is the stream sequence number of
its first record. Runs are written in stream order and the first failure stops
the batch: that record and every later one are reported as failed, so Lambda
retries exactly from there, the retried run gets the same key, and an object is
at worst overwritten with the same lines. No entry is lost or duplicated.
`archive_batch` (what the audit function runs) also copies the artefacts each
entry names and writes each object's manifest part (see `manifest.py`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from itertools import groupby
from typing import Callable

from arrears.domain.hash_chain import entry_to_dict
from arrears.domain.models import ContactEntry
from arrears.usecases.audit.manifest import ARCHIVE_PREFIX, artefact_key, build_manifest, manifest_bytes, manifest_key, short


@dataclass(frozen=True)
class StreamedEntry:
    sequence_number: str
    entry_json: str  # the entry exactly as stored: its hash covers these fields

    @property
    def date(self) -> str:
        return json.loads(self.entry_json)["at"][:10]


def archive_key(date: str, first_sequence_number: str) -> str:
    return f"{ARCHIVE_PREFIX}/dt={date}/{first_sequence_number}.jsonl"


def archive_entries(entries: list[StreamedEntry], put_object: Callable[[str, bytes], None]) -> list[str]:
    """Write the entries; returns the sequence numbers to report as failed (empty on success)."""
    position = 0
    for date, run in groupby(entries, key=lambda e: e.date):
        run = list(run)
        body = "".join(_normalised(e.entry_json) + "\n" for e in run).encode()
        try:
            put_object(archive_key(date, run[0].sequence_number), body)
        except Exception:
            return [e.sequence_number for e in entries[position:]]
        position += len(run)
    return []


@dataclass(frozen=True)
class ArchivedBatch:
    failed: list[str]  # stream sequence numbers to report as failed (empty on success)
    artefact_mismatches: list[str] = field(default_factory=list)  # copied bytes whose SHA-256 is not the entry's


def archive_batch(entries: list[StreamedEntry], put_object: Callable[[str, bytes], None],
                  copy_artefact: Callable[[str, str], str]) -> ArchivedBatch:
    """Archive a stream batch with everything an auditor checks it against.

    For each run of same-date entries, in stream order: copy every artefact the
    entries name into the archive (`copy_artefact(uri, key)` returns the SHA-256 of
    the bytes it copied), write the JSON Lines object, then its manifest part. The
    first failure stops the batch and reports that run and every later record, so
    Lambda retries from there; the retry rewrites the same object and manifest
    names, so an entry is never archived twice nor listed twice.
    """
    position = 0
    mismatches: list[str] = []
    for date, run in groupby(entries, key=lambda e: e.date):
        run = list(run)
        lines = [_normalised(e.entry_json) for e in run]
        body = "".join(line + "\n" for line in lines).encode()
        key = archive_key(date, run[0].sequence_number)
        parsed = [json.loads(line) for line in lines]
        try:
            for entry in parsed:
                for artefact in entry.get("artefacts") or ():
                    digest = copy_artefact(artefact["uri"], artefact_key(artefact["uri"]))
                    if digest != artefact["sha256"]:
                        mismatches.append(f"{artefact['uri']}: sha256 {short(digest)}, entry {entry.get('invoice_id')} "
                                          f"#{entry.get('seq')} records {short(artefact['sha256'])}")
            put_object(key, body)
            put_object(manifest_key(date, run[0].sequence_number), manifest_bytes(build_manifest(key, body, parsed)))
        except Exception:
            return ArchivedBatch([e.sequence_number for e in entries[position:]], mismatches)
        position += len(run)
    return ArchivedBatch([], mismatches)


def _normalised(entry_json: str) -> str:
    """One line per entry, keys sorted, so the archive is stable whatever wrote the JSON; in the form its hash
    covers (hash_chain.entry_to_dict: `at` to the second). The stored JSON keeps the moment's microseconds, which
    the hash leaves out: archived as stored, an entry written at 08:00:05.123456 would no longer verify."""
    data = json.loads(entry_json)
    try:
        data = entry_to_dict(ContactEntry.model_validate(data))
    except ValueError:
        pass  # not a valid entry (altered in the table): archived as found, so verify names it
    return json.dumps(data, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


# S3 refuses a PutObject into a bucket with Object Lock retention unless it carries Content-MD5 or an
# x-amz-checksum; botocore before 1.36 sends neither unless asked, so every put asks for SHA-256 explicitly.
OBJECT_LOCK_CHECKSUM = {"ChecksumAlgorithm": "SHA256"}


class S3AuditArchive:
    def __init__(self, bucket: str) -> None:
        self.bucket = bucket

    def put(self, key: str, body: bytes) -> None:
        from arrears.adapters import aws

        content_type = "application/json" if key.endswith(".json") else "application/x-ndjson"
        aws.client("s3").put_object(Bucket=self.bucket, Key=key, Body=body, ContentType=content_type,
                                    ServerSideEncryption="AES256", **OBJECT_LOCK_CHECKSUM)

    def copy_artefact(self, uri: str, key: str) -> str:
        """Copy an artefact from where the workflow stored it; returns the SHA-256 of the bytes copied."""
        from arrears.adapters import aws
        from arrears.usecases.audit.manifest import sha256_hex

        bucket, _, source_key = uri.removeprefix("s3://").partition("/")
        source = aws.client("s3").get_object(Bucket=bucket, Key=source_key)
        body = source["Body"].read()
        digest = sha256_hex(body)
        aws.client("s3").put_object(Bucket=self.bucket, Key=key, Body=body,
                                    ContentType=source.get("ContentType") or "application/octet-stream",
                                    ServerSideEncryption="AES256", Metadata={"sha256": digest}, **OBJECT_LOCK_CHECKSUM)
        return digest
