"""DynamoDB item size: moto re-measures the whole item on every attribute it sets (the 400 KB limit), and
its measure wraps every map value in a new DynamoType first. The same measure, without the wrapping."""

from __future__ import annotations

from typing import Any

from ..patch import Patch, Target


class ItemSize(Patch):
    NAME = "ddb_item_size"
    SPEEDUP = True
    TARGETS = (Target("moto.dynamodb.models.dynamo_type", "DynamoType.size", ("self",)),)

    def install(self) -> None:
        from moto.dynamodb.models.dynamo_type import DynamoType

        self.set(DynamoType, "size", _dynamo_size)


def _dynamo_size(value: Any) -> int:
    """moto's DynamoType.size (5.2.5), rule for rule, without re-wrapping map values that already are
    DynamoTypes (DynamoType(v) of a DynamoType measures the same)."""
    kind, inner = value.type, value.value
    if kind == "N":
        return len(str(inner))
    if kind in ("SS", "NS", "BS"):
        if kind == "NS":
            return sum(len(str(v)) for v in inner)
        return sum(len(v if isinstance(v, bytes) else v.encode("utf-8")) for v in inner)
    if kind == "L":
        return sum(v.size() for v in inner)
    if kind == "M":
        return sum(len(k if isinstance(k, bytes) else k.encode("utf-8"))
                   + (v.size() if type(v) is type(value) else type(value)(v).size()) for k, v in inner.items())
    if isinstance(inner, bool):
        return 1
    return len(inner if isinstance(inner, bytes) else inner.encode("utf-8"))
