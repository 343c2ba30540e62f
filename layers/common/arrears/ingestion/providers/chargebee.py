"""Chargebee: HTTP Basic auth on the webhook URL, invoice, payment, credit-note and customer events.

Chargebee does not sign its webhooks; it sends the username and password configured
on the webhook (Settings > Webhooks > "Protect webhook URL with basic authentication").
The secret is stored as `user:password`; while rotating, "new_user:new_pw,old_user:old_pw".

An event's `content` holds the objects as they are after it: `invoice`, `customer`,
`credit_note`, `transaction`. `resource_version` (milliseconds) orders them.
"""

from __future__ import annotations

import base64
import binascii
import hmac
from datetime import datetime, timedelta, timezone
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from arrears.domain.due_dates import due_moment
from arrears.domain.geo import language_for, timezone_for_country
from arrears.ingestion.billing_changes import BalanceAdjustment, BillingChange, CollectedBy, CustomerUpdate, InvoiceUpdate, UpdateKind
from arrears.domain.models import Address, Customer, Invoice, InvoiceLine, InvoiceStatus
from arrears.domain.debtor_data import entered_email
from arrears.domain.phone import phone_from_platform
from arrears.ingestion.providers.errors import (
    UNIX_MAX, CurrencyCode, MalformedEvent, Money, SignatureInvalid, SignedMoney, UnixTime, check_invoice_dates, load_json,
    validated,
)

PROVIDER = "chargebee"
INVOICE_EVENTS = frozenset({"invoice_generated", "invoice_updated", "invoice_deleted", "payment_succeeded",
                            "payment_refunded"})
HANDLED_EVENTS = INVOICE_EVENTS | {"credit_note_created", "customer_changed"}
_KIND_BY_STATUS = {"pending": UpdateKind.DRAFTED, "posted": UpdateKind.OPENED, "payment_due": UpdateKind.OPENED,
                   "not_paid": UpdateKind.OPENED, "paid": UpdateKind.PAID, "voided": UpdateKind.VOIDED}
_ID = r"^[A-Za-z0-9_.-]{1,100}$"


def basic_auth_header(credentials: str) -> str:
    """The Authorization header Chargebee sends for `user:password` (used by the demo and tests)."""
    return "Basic " + base64.b64encode(credentials.encode()).decode()


def verify_basic_auth(header: str | None, secrets: list[str]) -> None:
    if not header:
        raise SignatureInvalid("missing_credentials", "the Authorization header is missing")
    scheme, _, encoded = header.strip().partition(" ")
    try:
        presented = base64.b64decode(encoded.strip(), validate=True) if scheme.lower() == "basic" else b""
    except (binascii.Error, ValueError):
        presented = b""
    if not presented:
        raise SignatureInvalid("malformed_credentials", "the Authorization header is not HTTP Basic credentials")
    if not any(hmac.compare_digest(presented, secret.encode()) for secret in secrets):
        raise SignatureInvalid("credentials_mismatch", "the credentials do not match the configured ones")


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore")


class _Address(_Model):
    first_name: str | None = Field(default=None, max_length=200)
    last_name: str | None = Field(default=None, max_length=200)
    email: str | None = Field(default=None, max_length=500)
    phone: str | None = Field(default=None, max_length=100)
    company: str | None = Field(default=None, max_length=500)
    line1: str | None = Field(default=None, max_length=500)
    line2: str | None = Field(default=None, max_length=500)
    city: str | None = Field(default=None, max_length=200)
    state: str | None = Field(default=None, max_length=200)
    zip: str | None = Field(default=None, max_length=40)
    country: str | None = Field(default=None, max_length=2)

    def as_address(self) -> Address:
        return Address(line1=self.line1 or "", line2=self.line2 or "", postal_code=self.zip or "", city=self.city or "",
                       state=self.state or "", country=(self.country or "").upper())


class _LineItem(_Model):
    description: str | None = Field(default=None, max_length=500)
    amount: SignedMoney


class _Invoice(_Model):
    id: str = Field(pattern=_ID)
    customer_id: str = Field(pattern=_ID)
    status: str = Field(max_length=40)
    date: UnixTime
    due_date: UnixTime | None = None
    net_term_days: int = Field(default=0, ge=0, le=3650)
    total: Money
    amount_paid: Money = 0
    amount_adjusted: Money = 0  # adjustment credit notes: no longer owed
    amount_due: Money = 0
    currency_code: CurrencyCode
    updated_at: UnixTime | None = None
    resource_version: int | None = Field(default=None, ge=0, le=UNIX_MAX * 1000)
    deleted: bool = False
    line_items: list[_LineItem] = []
    billing_address: _Address | None = None


class _Customer(_Model):
    id: str = Field(pattern=_ID)
    first_name: str | None = Field(default=None, max_length=200)
    last_name: str | None = Field(default=None, max_length=200)
    company: str | None = Field(default=None, max_length=500)
    email: str | None = Field(default=None, max_length=500)
    phone: str | None = Field(default=None, max_length=100)
    locale: str | None = Field(default=None, max_length=20)
    auto_collection: str = "on"
    billing_address: _Address | None = None
    updated_at: UnixTime | None = None
    resource_version: int | None = Field(default=None, ge=0, le=UNIX_MAX * 1000)


class _CreditNote(_Model):
    id: str = Field(pattern=_ID)
    reference_invoice_id: str = Field(pattern=_ID)
    type: str = Field(max_length=40)
    status: str = Field(max_length=40)
    total: Money
    date: UnixTime
    resource_version: int | None = Field(default=None, ge=0, le=UNIX_MAX * 1000)


class _Event(_Model):
    id: str = Field(pattern=r"^ev_[A-Za-z0-9_]{1,100}$")
    event_type: str = Field(min_length=1, max_length=100)
    occurred_at: UnixTime
    content: dict[str, Any]


def _utc(unix: int) -> datetime:
    return datetime.fromtimestamp(unix, tz=timezone.utc)


def _version(resource_version: int | None, updated_at: int | None, fallback: datetime) -> datetime:
    if resource_version:
        return datetime.fromtimestamp(resource_version / 1000, tz=timezone.utc)
    return _utc(updated_at) if updated_at else fallback


def parse_event(raw_body: bytes) -> tuple[str, str, dict[str, Any]]:
    document = load_json(raw_body)
    event = validated(_Event, document, "invalid_event", "")
    return event.id, event.event_type, document


def to_change(document: dict[str, Any]) -> BillingChange | None:
    event = validated(_Event, document, "invalid_event", "")
    if event.event_type not in HANDLED_EVENTS:
        return None
    occurred = _utc(event.occurred_at)
    customer_data = event.content.get("customer")
    customer = validated(_Customer, customer_data, "invalid_customer", "content.customer") if customer_data else None
    if event.event_type == "customer_changed":
        if customer is None:
            raise MalformedEvent("invalid_customer", "content.customer: missing")
        return CustomerUpdate(event.id, event.event_type, occurred, _domain_customer(customer, None, occurred))
    if event.event_type == "credit_note_created":
        note = validated(_CreditNote, event.content.get("credit_note"), "invalid_credit_note", "content.credit_note")
        if note.type != "adjustment":
            return None  # a refundable credit note follows a payment: the invoice's balance is not owed anyway
        return BalanceAdjustment(event.id, event.event_type, _version(note.resource_version, None, occurred), PROVIDER,
                                 note.reference_invoice_id, note.id, note.total, voided=note.status == "voided")
    raw_invoice = event.content.get("invoice")
    if raw_invoice is None and event.event_type == "payment_refunded":
        return None  # a refund of a payment not tied to an invoice
    chargebee_invoice = validated(_Invoice, raw_invoice, "invalid_invoice", "content.invoice")
    kind = UpdateKind.DELETED if event.event_type == "invoice_deleted" or chargebee_invoice.deleted else \
        _KIND_BY_STATUS.get(chargebee_invoice.status, UpdateKind.OPENED)
    version = _version(chargebee_invoice.resource_version, chargebee_invoice.updated_at, occurred)
    status = {UpdateKind.PAID: InvoiceStatus.PAID, UpdateKind.VOIDED: InvoiceStatus.VOID,
              UpdateKind.DELETED: InvoiceStatus.VOID}.get(kind, InvoiceStatus.OPEN)
    issued = _utc(chargebee_invoice.date)
    snapshot = _domain_customer(customer, chargebee_invoice, version) if customer is not None else _domain_customer(
        _Customer(id=chargebee_invoice.customer_id), chargebee_invoice, version)
    # A due date at midnight UTC is a day: due until the end of that day in the debtor's zone (arrears.domain.due_dates).
    due = due_moment(_utc(chargebee_invoice.due_date), snapshot.timezone) if chargebee_invoice.due_date else \
        issued + timedelta(days=chargebee_invoice.net_term_days)
    check_invoice_dates(issued, due, occurred, "invalid_invoice", "content.invoice.due_date")
    invoice = Invoice(
        invoice_id=chargebee_invoice.id, provider=PROVIDER, number=chargebee_invoice.id,
        customer_id=chargebee_invoice.customer_id, currency=chargebee_invoice.currency_code,
        amount_due=max(0, chargebee_invoice.total - chargebee_invoice.amount_adjusted),
        amount_paid=min(chargebee_invoice.amount_paid, chargebee_invoice.total),
        amount_remaining=0 if status is InvoiceStatus.PAID else chargebee_invoice.amount_due,
        issued_at=issued, due_at=due, status=status,
        lines=tuple(InvoiceLine(description=line.description or "", amount=line.amount) for line in chargebee_invoice.line_items),
        provider_updated_at=version,
    )
    if customer is not None and customer.auto_collection == "on":
        # Chargebee charges the card and runs its own retries; `not_paid` means they are over.
        collected_by = CollectedBy.PLATFORM_GAVE_UP if chargebee_invoice.status == "not_paid" else CollectedBy.PLATFORM
    else:
        collected_by = CollectedBy.ARREARS
    return InvoiceUpdate(event.id, event.event_type, kind, occurred, invoice, snapshot, collected_by)


def _domain_customer(customer: _Customer, invoice: _Invoice | None, at: datetime) -> Customer:
    billing = customer.billing_address or (invoice.billing_address if invoice else None) or _Address()
    person = " ".join(part for part in (customer.first_name or billing.first_name, customer.last_name or billing.last_name) if part)
    country = (billing.country or "").upper()
    return Customer(
        customer_id=customer.id, provider=PROVIDER, name=customer.company or billing.company or person,
        email=entered_email(customer.email or billing.email), address=billing.as_address(),
        language=language_for([customer.locale] if customer.locale else None, country),
        timezone=timezone_for_country(country, "", billing.state or ""), updated_at=_version(customer.resource_version, customer.updated_at, at),
        phone=phone_from_platform(customer.phone or billing.phone),
    )

