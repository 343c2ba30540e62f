"""Stripe: `Stripe-Signature` verification on the raw body, and invoice events as domain updates.

Scheme (https://docs.stripe.com/webhooks#verify-manually): the header is
`t=<unix>,v1=<hex>[,v1=<hex>...]`; each v1 is HMAC-SHA256(secret, f"{t}.{raw body}").
Several v1 values appear while a secret is being rolled; any match is enough.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import datetime, timezone
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from arrears.geo import language_for, timezone_for_country
from arrears.ingest import InvoiceUpdate, UpdateKind
from arrears.models import Address, Customer, Invoice, InvoiceLine, InvoiceStatus
from arrears.providers.errors import MalformedEvent, SignatureInvalid

PROVIDER = "stripe"
SIGNATURE_HEADER = "stripe-signature"
TOLERANCE_SECONDS = 300

_KIND_BY_TYPE = {
    "invoice.finalized": UpdateKind.OPENED,
    "invoice.sent": UpdateKind.OPENED,
    "invoice.paid": UpdateKind.PAID,
    "invoice.voided": UpdateKind.VOIDED,
    "invoice.marked_uncollectible": UpdateKind.UNCOLLECTIBLE,
}


def sign(raw_body: bytes, secret: str, timestamp: int) -> str:
    """A `Stripe-Signature` header value, as Stripe computes it (used by the demo and tests)."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + raw_body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def verify_signature(raw_body: bytes, header: str | None, secrets: list[str], now: datetime) -> None:
    if not header:
        raise SignatureInvalid("missing_signature", "the Stripe-Signature header is missing")
    timestamp: int | None = None
    candidates: list[str] = []
    for part in header.split(","):
        name, _, value = part.strip().partition("=")
        if name == "t" and value.isdigit():
            timestamp = int(value)
        elif name == "v1" and value:
            candidates.append(value)
    if timestamp is None or not candidates:
        raise SignatureInvalid("malformed_signature", "the Stripe-Signature header has no timestamp or no v1 signature")
    age = now.timestamp() - timestamp
    if age > TOLERANCE_SECONDS:
        raise SignatureInvalid("timestamp_too_old", f"the signature timestamp is {int(age)} s old (limit {TOLERANCE_SECONDS} s)")
    if age < -TOLERANCE_SECONDS:
        raise SignatureInvalid("timestamp_in_future", "the signature timestamp is in the future")
    signed = f"{timestamp}.".encode() + raw_body
    for secret in secrets:
        expected = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
        if any(hmac.compare_digest(expected, candidate) for candidate in candidates):
            return
    raise SignatureInvalid("signature_mismatch", "no signature matches the body with the configured secret")


class _StripeAddress(BaseModel):
    model_config = ConfigDict(extra="ignore")
    line1: str | None = None
    line2: str | None = None
    postal_code: str | None = None
    city: str | None = None
    state: str | None = None
    country: str | None = None


class _StripeLine(BaseModel):
    model_config = ConfigDict(extra="ignore")
    description: str | None = None
    amount: int


class _StripeLines(BaseModel):
    model_config = ConfigDict(extra="ignore")
    data: list[_StripeLine] = []


class _StripeInvoice(BaseModel):
    model_config = ConfigDict(extra="ignore")
    id: str = Field(pattern=r"^[A-Za-z0-9_-]{1,64}$")
    object: str = Field(pattern=r"^invoice$")
    number: str | None = None
    customer: str = Field(min_length=1, max_length=64)
    customer_name: str | None = None
    customer_email: str | None = None
    customer_address: _StripeAddress | None = None
    customer_preferred_locales: list[str] | None = None
    currency: str = Field(pattern=r"^[a-zA-Z]{3}$")
    amount_due: int = Field(ge=0)
    amount_paid: int = Field(ge=0)
    amount_remaining: int = Field(ge=0)
    created: int
    due_date: int | None = None
    collection_method: str = "charge_automatically"
    status: str | None = None
    hosted_invoice_url: str | None = None
    lines: _StripeLines = _StripeLines()


class _StripeEvent(BaseModel):
    model_config = ConfigDict(extra="ignore")
    id: str = Field(pattern=r"^evt_[A-Za-z0-9_]{1,64}$")
    type: str = Field(min_length=1, max_length=100)
    created: int
    livemode: bool = False
    data: dict[str, Any]


def _utc(unix: int) -> datetime:
    return datetime.fromtimestamp(unix, tz=timezone.utc)


def parse_event(raw_body: bytes) -> tuple[str, str, dict[str, Any]]:
    """(event id, type, the JSON) of a delivery whose signature has been checked."""
    try:
        document = json.loads(raw_body)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise MalformedEvent("invalid_json", f"the body is not JSON: {error}") from None
    try:
        event = _StripeEvent.model_validate(document)
    except ValidationError as error:
        raise MalformedEvent("invalid_event", _summarise(error)) from None
    return event.id, event.type, document


def to_update(document: dict[str, Any]) -> InvoiceUpdate | None:
    """The domain update a Stripe event means, or None for an event Arrears does not act on."""
    event = _StripeEvent.model_validate(document)
    kind = _KIND_BY_TYPE.get(event.type)
    if kind is None:
        return None
    try:
        stripe_invoice = _StripeInvoice.model_validate(event.data.get("object"))
    except ValidationError as error:
        raise MalformedEvent("invalid_invoice", _summarise(error)) from None
    if stripe_invoice.collection_method != "send_invoice" or stripe_invoice.due_date is None:
        # Card-charged invoices are Stripe's to retry; Arrears chases invoices the customer must pay.
        return None
    occurred = _utc(event.created)
    address = stripe_invoice.customer_address or _StripeAddress()
    country = (address.country or "").upper()
    customer = Customer(
        customer_id=stripe_invoice.customer, provider=PROVIDER,
        name=stripe_invoice.customer_name or "", email=stripe_invoice.customer_email or "",
        address=Address(line1=address.line1 or "", line2=address.line2 or "", postal_code=address.postal_code or "",
                        city=address.city or "", state=address.state or "", country=country),
        language=language_for(stripe_invoice.customer_preferred_locales, country),
        timezone=timezone_for_country(country), updated_at=occurred,
    )
    status = {UpdateKind.PAID: InvoiceStatus.PAID, UpdateKind.VOIDED: InvoiceStatus.VOID,
              UpdateKind.UNCOLLECTIBLE: InvoiceStatus.UNCOLLECTIBLE}.get(kind, InvoiceStatus.OPEN)
    invoice = Invoice(
        invoice_id=stripe_invoice.id, provider=PROVIDER, number=stripe_invoice.number or stripe_invoice.id,
        customer_id=stripe_invoice.customer, currency=stripe_invoice.currency.upper(),
        amount_due=stripe_invoice.amount_due, amount_paid=stripe_invoice.amount_paid,
        amount_remaining=0 if status is InvoiceStatus.PAID else stripe_invoice.amount_remaining,
        issued_at=_utc(stripe_invoice.created), due_at=_utc(stripe_invoice.due_date), status=status,
        pay_url=stripe_invoice.hosted_invoice_url or "",
        lines=tuple(InvoiceLine(description=line.description or "", amount=line.amount) for line in stripe_invoice.lines.data),
        provider_updated_at=occurred,
    )
    return InvoiceUpdate(event_id=event.id, event_type=event.type, kind=kind, occurred_at=occurred,
                         invoice=invoice, customer=customer)


def _summarise(error: ValidationError) -> str:
    problems = [f"{'.'.join(str(p) for p in e['loc']) or 'body'}: {e['msg']}" for e in error.errors()[:5]]
    return "; ".join(problems)
