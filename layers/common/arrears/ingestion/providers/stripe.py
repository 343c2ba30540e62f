"""Stripe: `Stripe-Signature` verification on the raw body, and events as domain changes.

Scheme (https://docs.stripe.com/webhooks#verify-manually): the header is
`t=<unix>,v1=<hex>[,v1=<hex>...]`; each v1 is HMAC-SHA256(secret, f"{t}.{raw body}").
Several v1 values appear while a secret is being rolled; any match is enough. A
timestamp more than 300 s old (a replay) or more than 300 s ahead is refused.

Payloads of API versions before and after 2025-03-31 ("basil") both parse. Basil
removed invoice.charge, invoice.payment_intent, invoice.subscription and
charge.invoice; a payment is then tied to its invoice by the invoice's `payments`
list (when expanded) or by the `invoice_payment.paid` event, and a dispute finds its
invoice through the payment intent or charge it names.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from arrears.domain.geo import language_for, timezone_for_country
from arrears.ingestion.billing_changes import (
    BalanceAdjustment, BillingChange, CollectedBy, CustomerUpdate, DisputeUpdate, InvoiceUpdate, PaymentLink, UpdateKind,
)
from arrears.domain.models import Address, Customer, Invoice, InvoiceLine, InvoiceStatus
from arrears.domain.debtor_data import entered_email
from arrears.domain.phone import phone_from_platform
from arrears.ingestion.providers.errors import (
    CurrencyCode, MalformedEvent, Money, SignedMoney, UnixTime, check_invoice_dates, load_json, validated,
)
from arrears.ingestion.providers.signing import TimestampedHmac

PROVIDER = "stripe"
SIGNATURE_HEADER = "stripe-signature"
TOLERANCE_SECONDS = 300

# Invoice events carry the whole invoice: its `status` says what it now is.
INVOICE_EVENTS = frozenset({
    "invoice.created", "invoice.finalized", "invoice.sent", "invoice.updated", "invoice.payment_succeeded",
    "invoice.paid", "invoice.payment_failed", "invoice.voided", "invoice.marked_uncollectible", "invoice.deleted",
})
CREDIT_NOTE_EVENTS = frozenset({"credit_note.created", "credit_note.voided"})
DISPUTE_EVENTS = frozenset({"charge.dispute.created", "charge.dispute.closed"})
HANDLED_EVENTS = INVOICE_EVENTS | CREDIT_NOTE_EVENTS | DISPUTE_EVENTS | {"customer.updated", "invoice_payment.paid"}
_KIND_BY_STATUS = {"draft": UpdateKind.DRAFTED, "open": UpdateKind.OPENED, "paid": UpdateKind.PAID,
                   "void": UpdateKind.VOIDED, "uncollectible": UpdateKind.UNCOLLECTIBLE}


SIGNING = TimestampedHmac("Stripe-Signature", ",", "t", "v1", ".", TOLERANCE_SECONDS)
sign = SIGNING.sign  # a `Stripe-Signature` header value, as Stripe computes it
verify_signature = SIGNING.verify


_ID = r"^[A-Za-z0-9_-]{1,64}$"


def _expandable_id(value: Any) -> Any:
    """Stripe sends a related object as its id, or as the object when expanded."""
    return value.get("id") if isinstance(value, dict) else value


# An id that Stripe may also send expanded into the whole object.
_Ref = Annotated[str, BeforeValidator(_expandable_id)]


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
    description: str | None = Field(default=None, max_length=500)
    amount: SignedMoney


class _StripeLines(BaseModel):
    model_config = ConfigDict(extra="ignore")
    data: list[_StripeLine] = []


class _StripePaymentRef(BaseModel):
    """invoice_payment.payment (basil): what paid the invoice."""

    model_config = ConfigDict(extra="ignore")
    type: str | None = None
    payment_intent: _Ref | None = None
    charge: _Ref | None = None


class _StripeInvoicePayment(BaseModel):
    model_config = ConfigDict(extra="ignore")
    invoice: str | None = None
    payment: _StripePaymentRef = _StripePaymentRef()


class _StripeInvoicePayments(BaseModel):
    model_config = ConfigDict(extra="ignore")
    data: list[_StripeInvoicePayment] = []


class _StripeStatusTransitions(BaseModel):
    model_config = ConfigDict(extra="ignore")
    finalized_at: UnixTime | None = None


class _StripeInvoice(BaseModel):
    model_config = ConfigDict(extra="ignore")
    id: str = Field(pattern=_ID)
    object: str = Field(pattern=r"^invoice$")
    number: str | None = Field(default=None, max_length=100)
    customer: _Ref = Field(min_length=1, max_length=64)
    customer_name: str | None = Field(default=None, max_length=500)
    customer_email: str | None = Field(default=None, max_length=500)
    customer_phone: str | None = Field(default=None, max_length=100)
    customer_address: _StripeAddress | None = None
    customer_preferred_locales: list[str] | None = None
    currency: CurrencyCode
    amount_due: Money
    amount_paid: Money
    amount_remaining: Money
    created: UnixTime
    due_date: UnixTime | None = None
    collection_method: str = "charge_automatically"
    status: str | None = None
    attempted: bool = False
    next_payment_attempt: UnixTime | None = None
    hosted_invoice_url: str | None = None
    lines: _StripeLines = _StripeLines()
    status_transitions: _StripeStatusTransitions = _StripeStatusTransitions()
    # Before 2025-03-31 only:
    charge: _Ref | None = None
    payment_intent: _Ref | None = None
    # From 2025-03-31 (when expanded or included):
    payments: _StripeInvoicePayments | None = None


class _StripeCustomer(BaseModel):
    model_config = ConfigDict(extra="ignore")
    id: str = Field(pattern=_ID)
    object: str = Field(pattern=r"^customer$")
    name: str | None = Field(default=None, max_length=500)
    email: str | None = Field(default=None, max_length=500)
    phone: str | None = Field(default=None, max_length=100)
    address: _StripeAddress | None = None
    preferred_locales: list[str] | None = None


class _StripeCreditNote(BaseModel):
    model_config = ConfigDict(extra="ignore")
    id: str = Field(pattern=_ID)
    object: str = Field(pattern=r"^credit_note$")
    invoice: _Ref = Field(pattern=_ID)
    amount: Money
    type: str = "pre_payment"
    pre_payment_amount: Money | None = None
    status: str = "issued"


class _StripeDispute(BaseModel):
    model_config = ConfigDict(extra="ignore")
    id: str = Field(pattern=_ID)
    object: str = Field(pattern=r"^dispute$")
    charge: _Ref | None = None
    payment_intent: _Ref | None = None
    reason: str | None = Field(default=None, max_length=200)
    status: str = Field(max_length=50)


class _StripeInvoicePaymentObject(BaseModel):
    model_config = ConfigDict(extra="ignore")
    id: str = Field(pattern=_ID)
    object: str = Field(pattern=r"^invoice_payment$")
    invoice: _Ref = Field(pattern=_ID)
    payment: _StripePaymentRef = _StripePaymentRef()


class _StripeEvent(BaseModel):
    model_config = ConfigDict(extra="ignore")
    id: str = Field(pattern=r"^evt_[A-Za-z0-9_]{1,64}$")
    type: str = Field(min_length=1, max_length=100)
    created: UnixTime
    livemode: bool = False
    api_version: str | None = None
    data: dict[str, Any]


def _utc(unix: int) -> datetime:
    return datetime.fromtimestamp(unix, tz=timezone.utc)


def parse_event(raw_body: bytes) -> tuple[str, str, dict[str, Any]]:
    """(event id, type, the JSON) of a delivery whose signature has been checked."""
    document = load_json(raw_body)
    event = validated(_StripeEvent, document, "invalid_event")
    return event.id, event.type, document


def to_update(document: dict[str, Any]) -> BillingChange | None:
    """The domain change a Stripe event means, or None for an event Arrears does not act on."""
    event = _StripeEvent.model_validate(document)
    if event.type not in HANDLED_EVENTS:
        return None
    data = event.data.get("object")
    occurred = _utc(event.created)
    if event.type in INVOICE_EVENTS:
        return _invoice_update(event, validated(_StripeInvoice, data, "invalid_invoice", "data.object"), occurred)
    if event.type == "customer.updated":
        customer = validated(_StripeCustomer, data, "invalid_customer", "data.object")
        address = customer.address or _StripeAddress()
        return CustomerUpdate(event.id, event.type, occurred, _customer(
            customer.id, customer.name, customer.email, address, customer.preferred_locales, occurred, customer.phone))
    if event.type in CREDIT_NOTE_EVENTS:
        note = validated(_StripeCreditNote, data, "invalid_credit_note", "data.object")
        amount = note.pre_payment_amount if note.pre_payment_amount is not None else (
            note.amount if note.type == "pre_payment" else 0)
        if amount == 0:
            return None  # a credit note after payment (a refund or credit balance): the balance is not owed anyway
        return BalanceAdjustment(event.id, event.type, occurred, PROVIDER, note.invoice, note.id, amount,
                                 voided=event.type == "credit_note.voided" or note.status == "void")
    if event.type in DISPUTE_EVENTS:
        dispute = validated(_StripeDispute, data, "invalid_dispute", "data.object")
        payments = tuple(p for p in (dispute.payment_intent, dispute.charge) if p)
        if not payments:
            raise MalformedEvent("invalid_dispute", "data.object: a dispute names neither a payment intent nor a charge")
        return DisputeUpdate(event.id, event.type, occurred, PROVIDER, dispute.id, payments,
                             closed=event.type == "charge.dispute.closed",
                             reason=f"{dispute.reason or 'unspecified'} ({dispute.status})")
    payment = validated(_StripeInvoicePaymentObject, data, "invalid_invoice_payment", "data.object")
    payments = tuple(p for p in (payment.payment.payment_intent, payment.payment.charge) if p)
    return PaymentLink(event.id, event.type, occurred, PROVIDER, payment.invoice, payments) if payments else None


def _customer(customer_id: str, name: str | None, email: str | None, address: _StripeAddress,
              locales: list[str] | None, at: datetime, phone: str | None = None) -> Customer:
    country = (address.country or "").upper()
    return Customer(
        customer_id=customer_id, provider=PROVIDER, name=name or "", email=entered_email(email),
        address=Address(line1=address.line1 or "", line2=address.line2 or "", postal_code=address.postal_code or "",
                        city=address.city or "", state=address.state or "", country=country),
        language=language_for(locales, country), timezone=timezone_for_country(country, "", address.state or ""), updated_at=at,
        phone=phone_from_platform(phone),
    )


def _invoice_update(event: _StripeEvent, stripe_invoice: _StripeInvoice, occurred: datetime) -> InvoiceUpdate:
    if event.type == "invoice.deleted":
        kind = UpdateKind.DELETED
    elif event.type == "invoice.payment_failed" and stripe_invoice.status == "open":
        kind = UpdateKind.PAYMENT_FAILED
    else:
        kind = _KIND_BY_STATUS.get(stripe_invoice.status or "", UpdateKind.OPENED)
    if stripe_invoice.collection_method == "send_invoice":
        collected_by = CollectedBy.ARREARS
    elif stripe_invoice.status == "open" and stripe_invoice.attempted and stripe_invoice.next_payment_attempt is None:
        collected_by = CollectedBy.PLATFORM_GAVE_UP  # Smart Retries are over and the invoice is still open
    else:
        collected_by = CollectedBy.PLATFORM
    # A card-charged invoice has no due date: it was due when it was finalized.
    due = stripe_invoice.due_date or stripe_invoice.status_transitions.finalized_at or stripe_invoice.created
    check_invoice_dates(_utc(stripe_invoice.created), _utc(due), occurred, "invalid_invoice", "data.object.due_date")
    status = {UpdateKind.PAID: InvoiceStatus.PAID, UpdateKind.VOIDED: InvoiceStatus.VOID, UpdateKind.DELETED: InvoiceStatus.VOID,
              UpdateKind.UNCOLLECTIBLE: InvoiceStatus.UNCOLLECTIBLE}.get(kind, InvoiceStatus.OPEN)
    invoice = Invoice(
        invoice_id=stripe_invoice.id, provider=PROVIDER, number=stripe_invoice.number or stripe_invoice.id,
        customer_id=stripe_invoice.customer, currency=stripe_invoice.currency,
        amount_due=stripe_invoice.amount_due, amount_paid=stripe_invoice.amount_paid,
        amount_remaining=0 if status is InvoiceStatus.PAID else stripe_invoice.amount_remaining,
        issued_at=_utc(stripe_invoice.created), due_at=_utc(due), status=status,
        pay_url=stripe_invoice.hosted_invoice_url or "",
        lines=tuple(InvoiceLine(description=line.description or "", amount=line.amount) for line in stripe_invoice.lines.data),
        provider_updated_at=occurred,
    )
    customer = _customer(stripe_invoice.customer, stripe_invoice.customer_name, stripe_invoice.customer_email,
                         stripe_invoice.customer_address or _StripeAddress(), stripe_invoice.customer_preferred_locales, occurred,
                         stripe_invoice.customer_phone)
    payments = [stripe_invoice.payment_intent, stripe_invoice.charge]
    for paid in (stripe_invoice.payments.data if stripe_invoice.payments else []):
        payments += [paid.payment.payment_intent, paid.payment.charge]
    return InvoiceUpdate(event_id=event.id, event_type=event.type, kind=kind, occurred_at=occurred, invoice=invoice,
                         customer=customer, collected_by=collected_by, payment_ids=tuple(dict.fromkeys(p for p in payments if p)))

