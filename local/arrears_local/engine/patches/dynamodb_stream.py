"""The DynamoDB stream and its event-source mappings, as on AWS.

moto numbers a shard's records by len(items) and empties the list after each delivery to a mapped
function, so every delivered record gets the same SequenceNumber. On AWS they are unique and increasing
(the audit archive keys objects by them), so records are numbered from a per-shard counter that never
goes back. A mapping's FilterCriteria apply as Lambda applies them: records no filter matches are
consumed without an invocation (moto would invoke the function with them). A batch the function fails
(an error, or ``batchItemFailures`` with ReportBatchItemFailures) is retried from its first failed record up
to the mapping's MaximumRetryAttempts, as Lambda's poller does (moto drops it). In chaos mode
(engine/chaos.py) a delivered batch is sometimes delivered again, at once or ahead of the next batch.

Speed shortcut ``stream_key_filter``: a record that no mapping's filter lets through, decided on its keys
and event name alone, is consumed without being built at all."""

from __future__ import annotations

import functools
import json
import threading
from typing import Any

from ..patch import Patch, Target

_TABLE = "moto.dynamodb.models.table"
STREAM_KEY_FILTER = "stream_key_filter"


class DynamoDbStream(Patch):
    NAME = "dynamodb_stream"
    TARGETS = (
        Target(_TABLE, "StreamShard.add", ("self", "old", "new")),
        Target(_TABLE, "StreamRecord"),
        Target(_TABLE, "StreamRecord.to_json", ("self",)),
        Target("moto.awslambda.utils", "get_backend", ("account_id", "region")),
        Target("moto.awslambda.models", "LambdaFunction.invoke", ("self", "body", "request_headers", "response_headers")),
        Target("moto.core.utils", "unix_time", ("dt",)),
        Target("moto.events.models", "EventPattern.load", ("raw_pattern",)),
        Target("moto.events.models", "EventPattern.matches_event", ("self", "event")),
        Target("moto.events.models", "EventPattern.get_pattern", ("self",)),
    )

    def install(self) -> None:
        from moto.awslambda.utils import get_backend
        from moto.dynamodb.models.table import StreamRecord, StreamShard

        # Executions write concurrently from their own threads; numbering and delivery must not interleave.
        shard_lock = threading.RLock()
        skip_by_keys = self.engine.speedup_enabled(STREAM_KEY_FILTER)
        engine = self.engine

        def shard_add(shard: Any, old: Any, new: Any) -> None:
            with shard_lock:
                _shard_add(shard, old, new)

        def _shard_add(shard: Any, old: Any, new: Any) -> None:
            view_type = shard.table.stream_specification["StreamViewType"]
            event_name = "INSERT" if old is None else ("REMOVE" if new is None else "MODIFY")
            counter = shard.__dict__.setdefault("_arrears_next_seq", shard.starting_sequence_number)
            shard._arrears_next_seq = counter + 1
            if skip_by_keys and not shard.items and _filtered_out_by_keys(shard.table, event_name, old, new):
                # Most writes (invoices, claims, tasks): consumed without building the record (both images
                # as JSON, twice) and without an invocation, as below. Its sequence number is used up.
                return
            shard.items.append(StreamRecord(shard.table, view_type, event_name, old, new, counter))
            replay: list = []
            for arn, esm in shard.table.lambda_event_source_mappings.items():
                matching = _matching_records(esm, shard.items)
                if matching:
                    backend = get_backend(shard.account_id, arn.split(":")[3])
                    replay += _deliver(engine, backend, arn, esm, matching)
            # At least once: a chaos redelivery comes again at the head of the next batch.
            shard.items = [record for record in shard.items if record in replay]

        self.set(StreamShard, "add", shard_add)


# What Lambda's stream poller does when a batch fails: retry it (from the first failed record, with
# ReportBatchItemFailures) up to the mapping's MaximumRetryAttempts, then give it to the on-failure
# destination. Done at once here: virtual time does not pass while a function runs.
_DEFAULT_RETRIES = 20


def _deliver(engine: Any, backend: Any, arn: str, esm: Any, records: list) -> list:
    """Deliver `records` to the mapped function as Lambda does; returns the records to deliver again with the
    next batch (a chaos redelivery), else []."""
    chaos = engine.chaos
    retries_left = _DEFAULT_RETRIES if getattr(esm, "max_retry_attempts", None) is None else int(esm.max_retry_attempts)
    pending = list(records)
    while pending:
        failed_from = _invoke(backend, arn, esm, pending)
        if failed_from is None:
            break
        if retries_left <= 0:
            if chaos is not None:
                chaos.count("stream_records_discarded", n=len(pending) - failed_from)
            break
        retries_left -= 1
        if chaos is not None:
            chaos.count("stream_retries")
        pending = pending[failed_from:]
    if chaos is None or not records:
        return []
    # The records' table keys (not their sequence numbers, which depend on how executions interleave).
    keys = "|".join(json.dumps(r.to_json()["dynamodb"]["Keys"], sort_keys=True) for r in records)
    if chaos.redeliver(keys, 0):
        chaos.count("stream_redeliveries")
        if chaos.redeliver(keys, 1):
            return list(records)  # comes again with the next batch
        _invoke(backend, arn, esm, list(records))  # comes again at once
    return []


def _sequence_number(record: Any) -> str:
    return str(record.to_json()["dynamodb"]["SequenceNumber"])


def _invoke(backend: Any, arn: str, esm: Any, records: list) -> int | None:
    """One delivery; None when the function took every record, else the index of the first to retry."""
    from moto.core.utils import unix_time

    event_records = []
    for item in records:
        record = item.to_json()
        dynamodb = dict(record["dynamodb"])
        if hasattr(dynamodb.get("ApproximateCreationDateTime"), "timestamp"):
            dynamodb["ApproximateCreationDateTime"] = unix_time(dynamodb["ApproximateCreationDateTime"])
        event_records.append({"eventID": record["eventID"], "eventName": record["eventName"],
                              "eventVersion": record["eventVersion"], "eventSource": record["eventSource"],
                              "awsRegion": backend.region_name, "dynamodb": dynamodb,
                              "eventSourceARN": esm.event_source_arn})
    response_headers: dict[str, str] = {}
    function = backend._lambdas.get_arn(arn)
    payload = function.invoke(json.dumps({"Records": event_records}), {}, response_headers)
    if response_headers.get("x-amz-function-error"):
        return 0
    if "ReportBatchItemFailures" not in (getattr(esm, "function_response_types", None) or ()):
        return None
    try:
        answer = json.loads(payload or b"null")
    except ValueError:
        return 0
    failures = (answer or {}).get("batchItemFailures") if isinstance(answer, dict) else None
    if not failures:
        return None
    failed = {str(f.get("itemIdentifier")) for f in failures if isinstance(f, dict)}
    positions = [i for i, item in enumerate(records) if _sequence_number(item) in failed]
    return min(positions) if positions else 0


def _matching_records(esm: Any, records: list) -> list:
    """The stream records an event source mapping's FilterCriteria let through (all without filters)."""
    filters = ((getattr(esm, "filter_criteria", None) or {}).get("Filters")) or []
    if not filters:
        return list(records)
    patterns = [_event_pattern(f["Pattern"]) for f in filters if f.get("Pattern")]
    kept = []
    for record in records:
        view = record.to_json()
        view = {**view, "dynamodb": {k: v for k, v in view["dynamodb"].items() if k != "ApproximateCreationDateTime"}}
        if any(pattern.matches_event(view) for pattern in patterns):
            kept.append(record)
    return kept


@functools.lru_cache(maxsize=256)
def _event_pattern(raw: str) -> Any:
    """A filter's parsed pattern (moto's EventPattern matches without changing it)."""
    from moto.events.models import EventPattern

    return EventPattern.load(raw)


# The parts of a stream record known before it is built: a pattern naming nothing else is decided by them.
_RECORD_HEAD = frozenset({"eventName", "eventSource", "eventVersion", "awsRegion"})


def _keys_only(raw: str) -> bool:
    pattern = _event_pattern(raw).get_pattern()
    dynamodb = pattern.get("dynamodb", {})
    return bool(pattern) and set(pattern) <= _RECORD_HEAD | {"dynamodb"} and isinstance(dynamodb, dict) \
        and set(dynamodb) <= {"Keys"}


def _filtered_out_by_keys(table: Any, event_name: str, old: Any, new: Any) -> bool:
    """True when the table has event source mappings, every one filtered by patterns that only name the
    record's event name, source, region or keys, and none of them matches this write's record."""
    mappings = table.lambda_event_source_mappings
    if not mappings:
        return False
    raws = []
    for esm in mappings.values():
        filters = ((getattr(esm, "filter_criteria", None) or {}).get("Filters")) or []
        esm_raws = [f.get("Pattern") for f in filters]
        if not esm_raws or not all(raw and _keys_only(raw) for raw in esm_raws):
            return False
        raws += esm_raws
    record = old if old is not None else new
    keys = {table.hash_key_attr: record.hash_key.to_json()}
    if table.range_key_attr is not None:
        keys[table.range_key_attr] = record.range_key.to_json()
    # As moto's StreamRecord has them (its region is always us-east-1).
    head = {"eventName": event_name, "eventSource": "aws:dynamodb", "eventVersion": "1.0", "awsRegion": "us-east-1",
            "dynamodb": {"Keys": keys}}
    return not any(_event_pattern(raw).matches_event(head) for raw in raws)
