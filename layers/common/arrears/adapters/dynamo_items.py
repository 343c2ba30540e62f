"""Conditional writes and plain values: the helpers every DynamoDB item adapter shares."""

from __future__ import annotations

import json
from typing import Any, Callable

from botocore.exceptions import ClientError


def _conditional_failed(error: ClientError) -> bool:
    return error.response["Error"]["Code"] == "ConditionalCheckFailedException"


def _written(write: Callable[[], Any]) -> bool:
    """Run a conditional write: True when it was applied, False when its condition failed."""
    try:
        write()
        return True
    except ClientError as error:
        if _conditional_failed(error):
            return False
        raise


def put_if_absent(table: Any, item: dict[str, Any]) -> bool:
    """Write an item only if its key is new: True for the first writer, False for everyone after."""
    return _written(lambda: table.put_item(Item=item, ConditionExpression="attribute_not_exists(pk)"))


def _plain(item: dict[str, Any]) -> dict[str, Any]:
    """DynamoDB numbers come back as Decimal; the models want ints."""
    return json.loads(json.dumps(item, default=lambda v: int(v) if v == int(v) else float(v)))
