"""Archiving contact-log entries from the table's stream as JSON Lines by date (domain + S3 adapter).

A stream batch is cut into runs of consecutive entries with the same date and
each run is written as one object whose key is the stream sequence number of
its first record. Runs are written in stream order and the first failure stops
the batch: that record and every later one are reported as failed, so Lambda
retries exactly from there, the retried run gets the same key, and an object is
at worst overwritten with the same lines. No entry is lost or duplicated.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from itertools import groupby
from typing import Callable

ARCHIVE_PREFIX = "contact-log"


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


def _normalised(entry_json: str) -> str:
    """One line per entry, keys sorted, so the archive is stable whatever wrote the JSON."""
    return json.dumps(json.loads(entry_json), sort_keys=True, ensure_ascii=False, separators=(",", ":"))


class S3AuditArchive:
    def __init__(self, bucket: str) -> None:
        self.bucket = bucket

    def put(self, key: str, body: bytes) -> None:
        from arrears import aws

        aws.client("s3").put_object(Bucket=self.bucket, Key=key, Body=body, ContentType="application/x-ndjson",
                                    ServerSideEncryption="AES256")
