"""The local engine's speed-ups of moto (caches=True) answer exactly as moto does without them
(caches=False): the same items, the same errors, the same validation, on a first call and on the
repeated calls that the caches serve. Offline; run with TZ=UTC."""

from __future__ import annotations

import datetime as dt
from typing import Any, Callable

from botocore.exceptions import ClientError

from arrears_local.engine import LocalEngine

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
