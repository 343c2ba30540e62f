from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Annotated, Any

from pydantic import AfterValidator, AwareDatetime, Field, ValidationError

from arrears.domain.clock import plausible_date
from arrears.domain.debtor_data import currency_or_error

# Bounds every provider model uses: a fuzzer (or a bug upstream) sends year 30000 and 10**40 cents;
# those must be a 400, not an overflow in date arithmetic or a number DynamoDB refuses (a 5xx).
UNIX_MAX = 7_258_118_400  # 2200-01-01
UnixTime = Annotated[int, Field(ge=0, le=UNIX_MAX)]
# Money is an integer of minor units, strictly: "4800", 4800.0 and true are refused (never read as an amount).
Money = Annotated[int, Field(ge=0, le=10**13, strict=True)]
SignedMoney = Annotated[int, Field(ge=-(10**13), le=10**13, strict=True)]
# An ISO 4217 code some territory uses as legal tender today (any case in; capitals out).
CurrencyCode = Annotated[str, Field(pattern=r"^[A-Za-z]{3}$", description="an active ISO 4217 code (legal tender today)"),
                         AfterValidator(currency_or_error)]
# Payment terms beyond a year are not terms but a typo (or an attack); an invoice issued more than ten
# years before the event is past any limitation period: both are refused rather than chased.
MAX_PAYMENT_TERMS = timedelta(days=366)
MAX_INVOICE_AGE = timedelta(days=3653)


Moment = Annotated[AwareDatetime, AfterValidator(plausible_date)]


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


def check_invoice_dates(issued: datetime, due: datetime, occurred: datetime, code: str, where: str) -> None:
    """A MalformedEvent (400) for dates no invoice has: due before it was issued, payment terms beyond
    MAX_PAYMENT_TERMS, or issued more than MAX_INVOICE_AGE before the event that reports it."""
    if due < issued:
        raise MalformedEvent(code, f"{where}: the due date {due:%Y-%m-%d} is before the invoice was issued ({issued:%Y-%m-%d})")
    if due - issued > MAX_PAYMENT_TERMS:
        raise MalformedEvent(code, f"{where}: payment terms of {(due - issued).days} days are beyond "
                                   f"{MAX_PAYMENT_TERMS.days} days")
    if occurred - issued > MAX_INVOICE_AGE:
        raise MalformedEvent(code, f"{where}: the invoice was issued {issued:%Y-%m-%d}, more than "
                                   f"{MAX_INVOICE_AGE.days // 365} years before this event")


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
