"""A value as JSON would give it back (`json.loads(json.dumps(value, default=...))`), without the text in between.

The step claim's record is stored as JSON (DynamoStore writes it as a JSON document), and the domain and the
in-memory store copy a record through JSON so that what a retry reads is what DynamoDB would give back. In a
simulated book that round trip ran ~20 times an invoice (issue #19). `as_json` walks plain values instead (str,
int, float, bool, None, dicts with str keys, lists and tuples) and falls back to the round trip itself for
anything else, so the result is always exactly the round trip's.
"""

from __future__ import annotations

import json
import math
from typing import Any, Callable


class _NotPlain(Exception):
    pass


def as_json(value: Any, default: Callable[[Any], Any] | None = None) -> Any:
    """`json.loads(json.dumps(value, default=default))`."""
    try:
        return _plain(value)
    except _NotPlain:
        return json.loads(json.dumps(value, default=default))


def _plain(value: Any) -> Any:
    kind = type(value)
    if kind is str or kind is int or value is None or value is True or value is False:
        return value
    if kind is float:
        if math.isfinite(value):
            return value
        raise _NotPlain
    if kind is dict:
        copied = {}
        for key, item in value.items():
            if type(key) is not str:
                raise _NotPlain  # JSON turns other keys into text, each its own way
            copied[key] = _plain(item)
        return copied
    if kind is list or kind is tuple:
        return [_plain(item) for item in value]
    raise _NotPlain  # a subclass (an enum), a datetime, a model: as JSON says
