from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated, Any

from pydantic import AfterValidator, AwareDatetime, Field, ValidationError

# Bounds every provider model uses: a fuzzer (or a bug upstream) sends year 30000 and 10**40 cents;
# those must be a 400, not an overflow in date arithmetic or a number DynamoDB refuses (a 5xx).
UNIX_MAX = 7_258_118_400  # 2200-01-01
UnixTime = Annotated[int, Field(ge=0, le=UNIX_MAX)]
Money = Annotated[int, Field(ge=0, le=10**13)]
SignedMoney = Annotated[int, Field(ge=-(10**13), le=10**13)]


def _plausible(moment: datetime) -> datetime:
    if not 1990 <= moment.year <= 2199:
        raise ValueError("a billing date between 1990 and 2199")
    return moment


Moment = Annotated[AwareDatetime, AfterValidator(_plausible)]


class WebhookRejected(Exception):
    """A delivery refused with a 4xx: it changes nothing, and the reason is machine-readable."""

    status_code = 400

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class SignatureInvalid(WebhookRejected):
    status_code = 401


class MalformedEvent(WebhookRejected):
    status_code = 400


def validated(model: Any, data: Any, code: str, prefix: str = "") -> Any:
    """`model` validated from `data`, or a MalformedEvent naming the first few problems and where they are."""
    try:
        return model.model_validate(data)
    except ValidationError as error:
        problems = [f"{'.'.join([*([prefix] if prefix else []), *map(str, e['loc'])]) or 'body'}: {e['msg']}"
                    for e in error.errors()[:5]]
        raise MalformedEvent(code, "; ".join(problems)) from None


def load_json(raw_body: bytes) -> Any:
    try:
        document = json.loads(raw_body)
        # JSON may escape lone surrogates ("\\udbd6") that no UTF-8 store can hold: refuse them here.
        json.dumps(document, ensure_ascii=False).encode("utf-8")
    except (UnicodeDecodeError, UnicodeEncodeError, json.JSONDecodeError, RecursionError, ValueError) as error:
        raise MalformedEvent("invalid_json", f"the body is not JSON: {error}") from None
    return document
