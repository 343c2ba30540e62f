"""The local engine's speed-ups of moto (caches=True) answer exactly as moto does without them
(caches=False): the same items, the same errors, the same validation, on a first call and on the
repeated calls that the caches serve. Offline; run with TZ=UTC."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any, Callable

import pytest
from botocore.exceptions import ClientError

from arrears_local.engine import SPEEDUPS, LocalEngine

START = dt.datetime(2026, 9, 1, 9, 0, tzinfo=dt.timezone.utc)
TABLE = "speedups"
NESTED = {
    "pk": {"S": "INVOICE#1"}, "sk": {"S": "META"}, "amount": {"N": "1234.50"}, "paid": {"BOOL": False},
    "hold": {"NULL": True}, "empty": {"S": ""}, "tags": {"SS": ["a", "é"]}, "scores": {"NS": ["1", "2.5"]},
    "blob": {"B": b"\x00\x01\xff"}, "blobs": {"BS": [b"\x00", b"\x01"]},
    "lines": {"L": [{"M": {"description": {"S": "Consulting — März"}, "amount": {"N": "150000"},
                           "meta": {"M": {"deep": {"L": [{"S": "x"}, {"NULL": True}, {"M": {}}]}}}}}]},
    "completed_steps": {"L": []},
}


def _outcome(call: Callable[[], Any]) -> Any:
    try:
        response = call()
    except ClientError as error:
        return ("error", error.response["Error"].get("Code"), error.response["Error"].get("Message"))
    return {k: v for k, v in response.items() if k != "ResponseMetadata"}


def _run(caches: bool) -> list[Any]:
    with LocalEngine(START, caches=caches) as engine:
        ddb, s3 = engine.client("dynamodb"), engine.client("s3")
        ddb.create_table(TableName=TABLE, BillingMode="PAY_PER_REQUEST",
                         KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
                         AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                                               {"AttributeName": "sk", "AttributeType": "S"}])
        key = {"pk": {"S": "INVOICE#1"}, "sk": {"S": "META"}}
        calls: list[Callable[[], Any]] = [
            lambda: ddb.put_item(TableName=TABLE, Item=NESTED, ConditionExpression="attribute_not_exists(pk)"),
            lambda: ddb.put_item(TableName=TABLE, Item=NESTED, ConditionExpression="attribute_not_exists(pk)"),
            lambda: ddb.get_item(TableName=TABLE, Key=key, ConsistentRead=True),
        ]
        for step in ("formal_notice", "formal_notice", "final_notice"):  # the second is refused by its condition
            calls.append(lambda step=step: ddb.update_item(
                TableName=TABLE, Key=key, ReturnValues="ALL_NEW",
                UpdateExpression="SET completed_steps = list_append(if_not_exists(completed_steps, :empty), :step), "
                                 "#amount = #amount - :one, next_at = :at REMOVE #hold ADD visits :one",
                ConditionExpression="attribute_exists(pk) AND NOT contains(completed_steps, :step_id)",
                ExpressionAttributeNames={"#amount": "amount", "#hold": "hold"},
                ExpressionAttributeValues={":empty": {"L": []}, ":step": {"L": [{"S": step}]}, ":step_id": {"S": step},
                                           ":one": {"N": "1"}, ":at": {"S": f"2026-10-01T09:00:00Z#{step}"}}))
        for _ in range(2):  # invalid expressions fail the same way every time (nothing cached for them)
            calls += [
                lambda: ddb.update_item(TableName=TABLE, Key=key, UpdateExpression="SET pk = :v",
                                        ExpressionAttributeValues={":v": {"S": "other"}}),
                lambda: ddb.update_item(TableName=TABLE, Key=key, UpdateExpression="SET a = :v, a = :w",
                                        ExpressionAttributeValues={":v": {"S": "1"}, ":w": {"S": "2"}}),
                lambda: ddb.update_item(TableName=TABLE, Key=key, UpdateExpression="SET #n = :v",
                                        ExpressionAttributeNames={"#n": "sk"}, ExpressionAttributeValues={":v": {"S": "x"}}),
                lambda: ddb.update_item(TableName=TABLE, Key=key, UpdateExpression="SET a = :missing",
                                        ExpressionAttributeValues={":v": {"S": "1"}}),
                lambda: ddb.update_item(TableName=TABLE, Key=key, UpdateExpression="SET = broken"),
                lambda: ddb.update_item(TableName=TABLE, Key=key, UpdateExpression="SET amount = amount + :s",
                                        ExpressionAttributeValues={":s": {"S": "text"}}),
                lambda: ddb.put_item(TableName=TABLE, Item={**key, "n": {"N": "1"}},
                                     ConditionExpression="n < :limit", ExpressionAttributeValues={":limit": {"N": "5"}}),
                lambda: ddb.put_item(TableName=TABLE, Item={**key, "huge": {"S": "x" * 410_000}}),
            ]
        calls += [
            lambda: ddb.query(TableName=TABLE, KeyConditionExpression="pk = :pk AND begins_with(sk, :m)",
                              FilterExpression="size(#lines) > :zero", ExpressionAttributeNames={"#lines": "lines"},
                              ExpressionAttributeValues={":pk": {"S": "INVOICE#1"}, ":m": {"S": "M"}, ":zero": {"N": "0"}}),
            lambda: ddb.get_item(TableName=TABLE, Key=key, ConsistentRead=True),
            lambda: s3.create_bucket(Bucket="speedups"),
            lambda: s3.put_object(Bucket="speedups", Key="letters/in_1/formal notice+é.pdf", Body=b"%PDF-1.7",
                                  ContentType="application/pdf", Metadata={"sha256": "abc"}),
            lambda: {k: v for k, v in s3.get_object(Bucket="speedups", Key="letters/in_1/formal notice+é.pdf").items()
                     if k in ("ContentType", "Metadata", "ContentLength")},
        ]
        outcomes = [_outcome(call) for call in calls]
        url = s3.generate_presigned_url("get_object", Params={"Bucket": "speedups", "Key": "letters/x.pdf"})
        signature = url.partition("Signature=")[2].partition("&")[0]
        outcomes.append(("presigned", bool(signature) and set(signature) != {"0"}))
        return outcomes


def test_dynamodb_and_s3_answer_the_same_with_and_without_the_engine_speed_ups():
    fast, plain = _run(caches=True), _run(caches=False)
    assert fast == plain
    errors = [o[1] for o in fast if isinstance(o, tuple) and o[0] == "error"]
    # the refused duplicate put and step, then each invalid request twice (the too-big item included)
    assert errors.count("ConditionalCheckFailedException") == 2 + 2
    assert errors.count("ValidationException") == 2 * 7
    assert fast[-1] == ("presigned", True)


def test_an_item_read_back_is_the_item_written_with_every_attribute_type():
    outcomes = _run(caches=True)
    item = outcomes[2]["Item"]
    assert item == NESTED


# Each speed shortcut is switchable on its own (LocalEngine(caches={name})) and answers as moto does alone.

@pytest.fixture(scope="module")
def plain_answers() -> list[Any]:
    return _run(caches=False)


@pytest.mark.parametrize("name", SPEEDUPS)
def test_each_speed_up_alone_answers_as_moto_does_without_it(name, plain_answers):
    # Given an engine with only this shortcut on, When the same DynamoDB and S3 calls are made
    # Then every answer (items, errors, validation, S3 objects) is the one moto gives without shortcuts
    assert _run(caches={name}) == plain_answers


@pytest.mark.parametrize("name", SPEEDUPS)
def test_a_speed_up_switched_on_alone_is_the_only_one_installed(name):
    with LocalEngine(START, caches={name}) as engine:
        installed = {p.NAME for p in engine.patches if p.SPEEDUP}
        assert engine.speedup_enabled(name)
        assert not any(engine.speedup_enabled(other) for other in SPEEDUPS if other != name)
    assert installed <= {name}  # the stream key filter is an option of the stream patch, not a patch


def test_an_unknown_speed_up_name_is_refused_with_the_known_names():
    with pytest.raises(ValueError, match="unknown speed-up.*'asl_cach'.*asl_cache"):
        LocalEngine(START, caches={"asl_cach"})


def _stream_deliveries(caches: Any) -> list[Any]:
    """What a stream-mapped function receives for writes that its key filter lets through or not."""
    with LocalEngine(START, caches=caches) as engine:
        batches: list[dict] = []
        arn = engine.register_lambda("audit-archiver", lambda event, ctx: batches.append(event))
        ddb = engine.client("dynamodb")
        stream = ddb.create_table(
            TableName="ledger", BillingMode="PAY_PER_REQUEST",
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}, {"AttributeName": "sk", "AttributeType": "S"}],
            StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
        )["TableDescription"]["LatestStreamArn"]
        engine.client("lambda").create_event_source_mapping(
            EventSourceArn=stream, FunctionName=arn, StartingPosition="LATEST", BatchSize=10,
            FilterCriteria={"Filters": [{"Pattern": json.dumps(
                {"eventName": ["INSERT"], "dynamodb": {"Keys": {"sk": {"S": [{"prefix": "CONTACT#"}]}}}})}]})
        for sk, amount in (("META", "120"), ("CONTACT#001", "0"), ("META", "80"), ("CONTACT#002", "0")):
            ddb.put_item(TableName="ledger", Item={"pk": {"S": "INVOICE#NW-2026-1059"}, "sk": {"S": sk},
                                                   "amount": {"N": amount}})
        ddb.delete_item(TableName="ledger", Key={"pk": {"S": "INVOICE#NW-2026-1059"}, "sk": {"S": "CONTACT#001"}})
        return [(r["eventName"], r["dynamodb"]["Keys"], r["dynamodb"]["SequenceNumber"], r["dynamodb"].get("NewImage"))
                for b in batches for r in b["Records"]]


def test_the_stream_key_filter_delivers_the_same_records_with_the_same_sequence_numbers():
    # Given a stream mapping that only takes new contact entries, When invoices and contacts are written
    fast, plain = _stream_deliveries({"stream_key_filter"}), _stream_deliveries(False)
    # Then the same records arrive, numbered the same, whether the filter is decided early or not
    assert fast == plain
    assert [r[1]["sk"]["S"] for r in fast] == ["CONTACT#001", "CONTACT#002"]
    assert fast[0][2] < fast[1][2]
