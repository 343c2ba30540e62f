"""Paddle Billing: `Paddle-Signature` verification on the raw body, transaction events as domain changes.

Scheme (https://developer.paddle.com/webhooks/signature-verification): the header is
`ts=<unix>;h1=<hex>[;h1=<hex>...]`; each h1 is HMAC-SHA256(secret key, f"{ts}:{raw body}").
Several h1 values appear while a secret is being rotated; any match is enough. Paddle
signs each delivery attempt afresh, and its SDKs allow 5 s of clock difference: so do we.

Transactions are Paddle's invoices. Amounts arrive as strings in minor units; a manually
collected transaction (an invoice) is due `billing_details.payment_terms` after `billed_at`.
Transaction payloads carry only the customer's id: `customer.created` / `customer.updated`
give the name and email.
"""

from __future__ import annotations

from calendar import monthrange
from datetime import datetime, timedelta
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from arrears.domain.geo import language_for, timezone_for_country
from arrears.ingestion.billing_changes import BillingChange, CollectedBy, CustomerUpdate, InvoiceUpdate, UpdateKind
from arrears.domain.models import Address, Customer, Invoice, InvoiceLine, InvoiceStatus
from arrears.domain.debtor_data import entered_email
from arrears.ingestion.providers.errors import CurrencyCode, MalformedEvent, Moment, check_invoice_dates, load_json, validated
from arrears.ingestion.providers.signing import TimestampedHmac

PROVIDER = "paddle"
SIGNATURE_HEADER = "paddle-signature"
TOLERANCE_SECONDS = 5
TRANSACTION_EVENTS = frozenset({"transaction.billed", "transaction.paid", "transaction.completed", "transaction.past_due",
                                "transaction.canceled", "transaction.updated"})
CUSTOMER_EVENTS = frozenset({"customer.created", "customer.updated"})
_KIND_BY_STATUS = {"draft": UpdateKind.DRAFTED, "ready": UpdateKind.DRAFTED, "billed": UpdateKind.OPENED,
                   "past_due": UpdateKind.OPENED, "paid": UpdateKind.PAID, "completed": UpdateKind.PAID,
                   "canceled": UpdateKind.VOIDED}
_MINOR_UNITS = r"^-?[0-9]{1,13}$"


SIGNING = TimestampedHmac("Paddle-Signature", ";", "ts", "h1", ":", TOLERANCE_SECONDS)
sign = SIGNING.sign  # a `Paddle-Signature` header value, as Paddle computes it
verify_signature = SIGNING.verify


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore")


class _PaymentTerms(_Model):
    interval: Literal["day", "week", "month", "year"]
    frequency: int = Field(ge=0, le=1000)


class _BillingDetails(_Model):
    payment_terms: _PaymentTerms | None = None


class _Totals(_Model):
    grand_total: str = Field(pattern=_MINOR_UNITS)
    balance: str | None = Field(default=None, pattern=_MINOR_UNITS)
    credit: str | None = Field(default=None, pattern=_MINOR_UNITS)


class _Product(_Model):
    name: str | None = Field(default=None, max_length=500)


class _LineTotals(_Model):
    total: str = Field(pattern=_MINOR_UNITS)


class _LineItem(_Model):
    product: _Product | None = None
    totals: _LineTotals


class _Details(_Model):
    totals: _Totals
    line_items: list[_LineItem] = []


class _Payment(_Model):
    amount: str = Field(pattern=_MINOR_UNITS)
    status: str = Field(max_length=40)
    payment_attempt_id: str | None = Field(default=None, max_length=100)


class _Checkout(_Model):
    url: str | None = Field(default=None, max_length=2000)


class _Transaction(_Model):
    id: str = Field(pattern=r"^txn_[a-z0-9]{1,64}$")
    status: str = Field(max_length=40)
    customer_id: str | None = Field(default=None, pattern=r"^ctm_[a-z0-9]{1,64}$")
    currency_code: CurrencyCode
    collection_mode: Literal["automatic", "manual"] = "automatic"
    billing_details: _BillingDetails | None = None
    invoice_number: str | None = Field(default=None, max_length=100)
    billed_at: Moment | None = None
    created_at: Moment
    updated_at: Moment
    details: _Details
    payments: list[_Payment] = []
    checkout: _Checkout | None = None


class _PaddleCustomer(_Model):
    id: str = Field(pattern=r"^ctm_[a-z0-9]{1,64}$")
    name: str | None = Field(default=None, max_length=500)
    email: str = Field(max_length=500)
    locale: str | None = Field(default=None, max_length=20)
    updated_at: Moment


class _PaddleEvent(_Model):
    event_id: str = Field(pattern=r"^evt_[a-z0-9]{1,64}$")
    event_type: str = Field(min_length=1, max_length=100)
    occurred_at: Moment
    data: dict[str, Any]


def parse_event(raw_body: bytes) -> tuple[str, str, dict[str, Any]]:
    document = load_json(raw_body)
    event = validated(_PaddleEvent, document, "invalid_event", "")
    return event.event_id, event.event_type, document


def to_change(document: dict[str, Any]) -> BillingChange | None:
    event = validated(_PaddleEvent, document, "invalid_event", "")
    if event.event_type in CUSTOMER_EVENTS:
        customer = validated(_PaddleCustomer, event.data, "invalid_customer", "data")
        return CustomerUpdate(event.event_id, event.event_type, event.occurred_at, Customer(
            customer_id=customer.id, provider=PROVIDER, name=customer.name or "", email=entered_email(customer.email),
            language=language_for([customer.locale] if customer.locale else None, ""), timezone=timezone_for_country("", ""),
            updated_at=customer.updated_at))
    if event.event_type not in TRANSACTION_EVENTS:
        return None
    transaction = validated(_Transaction, event.data, "invalid_transaction", "data")
    if transaction.customer_id is None:
        raise MalformedEvent("invalid_transaction", "data.customer_id: a transaction without a customer cannot be collected")
    kind = _KIND_BY_STATUS.get(transaction.status, UpdateKind.OPENED)
    billed_at = transaction.billed_at or transaction.created_at
    due_at = due_date(billed_at, transaction.billing_details)
    check_invoice_dates(billed_at, due_at, event.occurred_at, "invalid_transaction", "data.billing_details.payment_terms")
    status = {UpdateKind.PAID: InvoiceStatus.PAID, UpdateKind.VOIDED: InvoiceStatus.VOID}.get(kind, InvoiceStatus.OPEN)
    total = int(transaction.details.totals.grand_total)
    paid = sum(int(p.amount) for p in transaction.payments if p.status == "captured")
    balance = transaction.details.totals.balance
    remaining = int(balance) if balance is not None else total - paid - int(transaction.details.totals.credit or 0)
    invoice = Invoice(
        invoice_id=transaction.id, provider=PROVIDER, number=transaction.invoice_number or transaction.id,
        customer_id=transaction.customer_id, currency=transaction.currency_code, amount_due=max(0, total),
        amount_paid=max(0, min(paid, total)), amount_remaining=0 if status is InvoiceStatus.PAID else max(0, remaining),
        issued_at=billed_at, due_at=due_at, status=status,
        pay_url=(transaction.checkout.url if transaction.checkout else None) or "",
        lines=tuple(InvoiceLine(description=(line.product.name if line.product else None) or "", amount=int(line.totals.total))
                    for line in transaction.details.line_items),
        provider_updated_at=max(transaction.updated_at, event.occurred_at),
    )
    customer = Customer(customer_id=transaction.customer_id, provider=PROVIDER, name="", email="",
                        address=Address(), language="en", timezone=timezone_for_country("", ""),
                        updated_at=datetime(1970, 1, 1, tzinfo=billed_at.tzinfo))
    collected_by = CollectedBy.ARREARS if transaction.collection_mode == "manual" else CollectedBy.PLATFORM
    return InvoiceUpdate(event.event_id, event.event_type, kind, event.occurred_at, invoice, customer, collected_by)


def due_date(billed_at: datetime, billing: _BillingDetails | None) -> datetime:
    """billed_at plus the payment terms (a manually collected transaction); an automatic one is due when billed."""
    terms = billing.payment_terms if billing else None
    if terms is None:
        return billed_at
    if terms.interval == "day":
        return billed_at + timedelta(days=terms.frequency)
    if terms.interval == "week":
        return billed_at + timedelta(weeks=terms.frequency)
    months = terms.frequency * (12 if terms.interval == "year" else 1)
    year, month = divmod(billed_at.month - 1 + months, 12)
    year, month = billed_at.year + year, month + 1
    return billed_at.replace(year=year, month=month, day=min(billed_at.day, monthrange(year, month)[1]))

