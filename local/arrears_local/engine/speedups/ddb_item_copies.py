"""DynamoDB item copies: moto deep-copies the item of every UpdateItem (its old image) and every item a
Query returns, and turns attribute values into plain JSON (GetItem and Query responses, both images of
every stream record) by deep-copying each map or list again at every level below it. Item values are
acyclic trees of DynamoTypes over immutable scalars: the same copies and the same JSON, each node visited
once."""

from __future__ import annotations

import base64
import copy
from typing import Any

from ..patch import Patch, Target

_DYNAMO_TYPE = "moto.dynamodb.models.dynamo_type"


class ItemCopies(Patch):
    NAME = "ddb_item_copies"
    SPEEDUP = True
    TARGETS = (
        Target(_DYNAMO_TYPE, "DynamoType.__deepcopy__", ("self", "memo")),
        Target(_DYNAMO_TYPE, "Item.__deepcopy__", ("self", "memo")),
        Target(_DYNAMO_TYPE, "DynamoType.to_regular_json", ("self",)),
        Target(_DYNAMO_TYPE, "LimitedSizeDict"),
    )

    def install(self) -> None:
        from moto.dynamodb.models.dynamo_type import DynamoType, Item

        self.set(DynamoType, "__deepcopy__", lambda value, memo: _copy_dynamo(value))
        self.set(Item, "__deepcopy__", _copy_item)
        self.set(DynamoType, "to_regular_json", _regular_json)


_ATOMIC = (str, bool, int, float, bytes, type(None))


def _copy_dynamo(value: Any) -> Any:
    """moto's DynamoType.__deepcopy__ (5.2.5) without the copy module's dispatch and memo per node
    (a child of another class than its parent takes copy.deepcopy, as before)."""
    cls = type(value)
    result = cls.__new__(cls)
    for name, attribute in value.__dict__.items():  # anything besides type and value, as deepcopy would
        if name not in ("type", "value"):
            setattr(result, name, copy.deepcopy(attribute))
    result.type = kind = value.type
    inner = value.value
    if kind == "L":
        result.value = [_copy_dynamo(v) if type(v) is cls else copy.deepcopy(v) for v in inner]
    elif kind == "M":
        result.value = {k: _copy_dynamo(v) if type(v) is cls else copy.deepcopy(v) for k, v in inner.items()}
    elif kind in ("SS", "NS", "BS"):
        result.value = list(inner)
    else:
        result.value = inner
    return result


def _copy_item(item: Any, memo: Any = None) -> Any:
    """moto's Item.__deepcopy__ (5.2.5): the attributes copied without LimitedSizeDict's size check."""
    from moto.dynamodb.models.dynamo_type import LimitedSizeDict

    cls = type(item)
    result = cls.__new__(cls)
    for name, attribute in item.__dict__.items():
        if name not in ("hash_key", "range_key", "attrs"):
            setattr(result, name, copy.deepcopy(attribute))
    result.hash_key = copy.deepcopy(item.hash_key)
    result.range_key = copy.deepcopy(item.range_key)
    attrs = LimitedSizeDict.__new__(LimitedSizeDict)
    dict.__init__(attrs)
    for key, value in item.attrs.items():
        dict.__setitem__(attrs, key, copy.deepcopy(value))  # DynamoType.__deepcopy__ is _copy_dynamo
    result.attrs = attrs
    return result


def _regular_json(value: Any) -> dict[str, Any]:
    """moto's DynamoType.to_regular_json (5.2.5): plain JSON in new containers, scalars shared (they are
    immutable), binaries decoded; each node converted once instead of deep-copied again at each level."""
    cls, inner = type(value), value.value
    if isinstance(inner, dict):
        plain: Any = {k: _regular_json(v) if isinstance(v, cls) else _plain_copy(v) for k, v in inner.items()}
    elif isinstance(inner, list):
        plain = [_regular_json(v) if isinstance(v, cls) else _plain_copy(v) for v in inner]
    else:
        plain = _plain_copy(inner)
    if value.type == "B" and isinstance(plain, str):
        plain = base64.b64decode(plain)
    return {value.type: plain}


def _plain_copy(value: Any) -> Any:
    return value if type(value) in _ATOMIC else copy.deepcopy(value)
