"""Audit archiving of a stream batch: every entry exactly once, even across a retried partial failure."""

import json

from arrears.usecases.audit.archive import StreamedEntry, archive_entries, archive_key


def _entry(seq: int, day: int) -> StreamedEntry:
    body = {"invoice_id": "in_1", "seq": seq, "at": f"2026-10-{day:02d}T09:00:00Z", "kind": "email"}
    return StreamedEntry(sequence_number=f"1000{seq:04d}", entry_json=json.dumps(body))


def _lines(bucket: dict[str, bytes]) -> list[int]:
    return sorted(json.loads(line)["seq"] for body in bucket.values() for line in body.splitlines())


def test_a_batch_is_written_as_json_lines_partitioned_by_date():
    bucket: dict[str, bytes] = {}
    failed = archive_entries([_entry(1, 1), _entry(2, 1), _entry(3, 2)], bucket.__setitem__)
    assert failed == []
    assert set(bucket) == {archive_key("2026-10-01", "10000001"), archive_key("2026-10-02", "10000003")}
    assert bucket["contact-log/dt=2026-10-01/10000001.jsonl"].count(b"\n") == 2


def test_a_retried_batch_after_a_partial_failure_yields_each_entry_once():
    # Given a batch over three days whose second object fails to write once
    batch = [_entry(1, 1), _entry(2, 2), _entry(3, 2), _entry(4, 3)]
    bucket: dict[str, bytes] = {}
    failures = {"contact-log/dt=2026-10-02/10000002.jsonl"}

    def flaky_put(key: str, body: bytes) -> None:
        if key in failures:
            failures.discard(key)
            raise ConnectionError("S3 timed out")
        bucket[key] = body

    # When the batch is archived, Then the failed run and everything after it are reported
    failed = archive_entries(batch, flaky_put)
    assert failed == ["10000002", "10000003", "10000004"]
    # When Lambda retries from the first reported record (as ReportBatchItemFailures does)
    retry = [entry for entry in batch if entry.sequence_number >= failed[0]]
    assert archive_entries(retry, flaky_put) == []
    # Then every entry is archived exactly once
    assert _lines(bucket) == [1, 2, 3, 4]
