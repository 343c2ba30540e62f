"""The generic feed: any billing system POSTs a documented JSON invoice event, signed with HMAC-SHA256.

Scheme (docs/webhooks.md): header `Arrears-Signature: t=<unix seconds>,v1=<hex>` where
v1 = HMAC-SHA256(secret, f"{t}.{raw body}"); several v1 values may be sent while a
secret is rotated; timestamps more than 300 s old or ahead are refused.

The same invoice shape is what `arrears import` reads from CSV or JSON (bulk import for
billing systems without webhooks): `invoice_change` turns one such record into a change.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, field_validator, model_validator

from arrears.domain.clock import plausible_date
from arrears.domain.due_dates import due_moment
from arrears.domain.geo import known_timezone, language_for, timezone_for_country
from arrears.ingestion.billing_changes import CollectedBy, CustomerUpdate, InvoiceUpdate, UpdateKind
from arrears.domain.models import Address, Customer, Invoice, InvoiceLine, InvoiceStatus
from arrears.domain.debtor_data import entered_email
from arrears.domain.phone import phone_from_platform
from arrears.ingestion.providers.errors import CurrencyCode, Moment, check_invoice_dates, load_json, validated
from arrears.ingestion.providers.signing import TimestampedHmac

PROVIDER = "generic"
SIGNATURE_HEADER = "arrears-signature"
TOLERANCE_SECONDS = 300
_ID = r"^[A-Za-z0-9_.:-]{1,64}$"
_KIND_BY_STATUS = {"draft": UpdateKind.DRAFTED, "open": UpdateKind.OPENED, "paid": UpdateKind.PAID,
                   "void": UpdateKind.VOIDED, "uncollectible": UpdateKind.UNCOLLECTIBLE}


SIGNING = TimestampedHmac("Arrears-Signature", ",", "t", "v1", ".", TOLERANCE_SECONDS)
sign = SIGNING.sign  # the `Arrears-Signature` header value (docs/webhooks.md shows the same in a few lines)
verify_signature = SIGNING.verify


def _a_calendar_day(value: Any) -> Any:
    if not (isinstance(value, str) and len(value) == 10 and value[4] == "-" and value[7] == "-"):
        raise ValueError("a moment with a timezone (2026-10-01T17:00:00Z) or a day (2026-10-01)")
    return value


# A due date given as a day ("2026-10-01"): due until the end of that day in the debtor's zone (arrears.domain.due_dates).
Day = Annotated[date, BeforeValidator(_a_calendar_day), AfterValidator(plausible_date)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class GenericAddress(_Model):
    line1: str = Field(default="", max_length=200)
    line2: str = Field(default="", max_length=200)
    postal_code: str = Field(default="", max_length=20)
    city: str = Field(default="", max_length=100)
    state: str = Field(default="", max_length=100)
    country: str = Field(default="", pattern=r"^([A-Za-z]{2})?$")


class GenericCustomer(_Model):
    id: str = Field(pattern=_ID)
    name: str = Field(min_length=1, max_length=200)
    # Accepted as the billing system sends it; an address that is not one valid address is never mailed and
    # becomes a task for a person (docs/debtor-data.md).
    email: str = Field(min_length=1, max_length=254)
    address: GenericAddress = GenericAddress()
    language: str | None = Field(default=None, pattern=r"^[a-z]{2}(-[A-Z]{2})?$")
    # An IANA zone ("America/Los_Angeles"); without one, the address's country and state decide (arrears.domain.geo).
    timezone: str | None = Field(default=None, max_length=60)
    phone: str | None = Field(default=None, max_length=100)

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str | None) -> str | None:
        if value is not None and not known_timezone(value):
            raise ValueError(f"unknown timezone {value!r}: an IANA zone such as Europe/Berlin")
        return value


class GenericLine(_Model):
    description: str = Field(max_length=500)
    amount: int = Field(ge=-(10**13), le=10**13, strict=True)


class GenericInvoice(_Model):
    """An invoice as a billing system without a connector describes it. Money in minor units."""

    id: str = Field(pattern=_ID)
    number: str = Field(min_length=1, max_length=64)
    status: Literal["draft", "open", "paid", "void", "uncollectible"] = "open"
    currency: CurrencyCode
    # Minor units, integers only: "4800.00" is refused rather than read as 4800 (a 100-fold error).
    amount_due: int = Field(ge=0, le=10**13, strict=True)
    amount_paid: int = Field(default=0, ge=0, le=10**13, strict=True)
    issued_at: Moment
    due_at: Moment | Day  # a day, or midnight UTC, is due until the end of that day where the debtor is
    pay_url: str = Field(default="", max_length=2000, pattern=r"^(https://\S+)?$")
    lines: list[GenericLine] = Field(default_factory=list, max_length=200)
    customer: GenericCustomer

    @model_validator(mode="after")
    def _consistent(self) -> GenericInvoice:
        if self.amount_paid > self.amount_due:
            raise ValueError("amount_paid is more than amount_due")
        # Due before issue and terms beyond a year are checked on the due moment (check_invoice_dates in
        # invoice_change): a day is only a moment once the debtor's zone is known.
        return self


class GenericEvent(_Model):
    id: str = Field(pattern=_ID)
    type: Literal["invoice.updated", "customer.updated"]
    occurred_at: Moment
    invoice: GenericInvoice | None = None
    customer: GenericCustomer | None = None

    @model_validator(mode="after")
    def _has_its_object(self) -> GenericEvent:
        wanted = "invoice" if self.type == "invoice.updated" else "customer"
        if getattr(self, wanted) is None:
            raise ValueError(f"a {self.type} event needs `{wanted}`")
        return self


def parse_event(raw_body: bytes) -> tuple[str, str, dict[str, Any]]:
    document = load_json(raw_body)
    event = validated(GenericEvent, document, "invalid_event")
    return event.id, event.type, document


def to_change(document: dict[str, Any]) -> InvoiceUpdate | CustomerUpdate:
    event = validated(GenericEvent, document, "invalid_event")
    if event.customer is not None and event.type == "customer.updated":
        return CustomerUpdate(event.id, event.type, event.occurred_at, domain_customer(event.customer, event.occurred_at))
    assert event.invoice is not None
    return invoice_change(event.invoice, event.id, event.type, event.occurred_at)


def domain_customer(customer: GenericCustomer, at: datetime) -> Customer:
    address = customer.address
    country = address.country.upper()
    return Customer(
        customer_id=customer.id, provider=PROVIDER, name=customer.name, email=entered_email(customer.email),
        address=Address(line1=address.line1, line2=address.line2, postal_code=address.postal_code, city=address.city,
                        state=address.state, country=country),
        language=customer.language or language_for(None, country),
        timezone=customer.timezone or timezone_for_country(country, "", address.state), updated_at=at,
        phone=phone_from_platform(customer.phone),
    )


def invoice_change(record: GenericInvoice, event_id: str, event_type: str, occurred_at: datetime) -> InvoiceUpdate:
    kind = _KIND_BY_STATUS[record.status]
    status = {UpdateKind.PAID: InvoiceStatus.PAID, UpdateKind.VOIDED: InvoiceStatus.VOID,
              UpdateKind.UNCOLLECTIBLE: InvoiceStatus.UNCOLLECTIBLE}.get(kind, InvoiceStatus.OPEN)
    customer = domain_customer(record.customer, occurred_at)
    due = due_moment(record.due_at, customer.timezone)  # a day is due until its end in the debtor's zone
    check_invoice_dates(record.issued_at, due, occurred_at, "invalid_event", "invoice.issued_at")
    invoice = Invoice(
        invoice_id=record.id, provider=PROVIDER, number=record.number, customer_id=record.customer.id,
        currency=record.currency, amount_due=record.amount_due, amount_paid=record.amount_paid,
        amount_remaining=0 if status is InvoiceStatus.PAID else record.amount_due - record.amount_paid,
        issued_at=record.issued_at, due_at=due, status=status, pay_url=record.pay_url,
        lines=tuple(InvoiceLine(description=line.description, amount=line.amount) for line in record.lines),
        provider_updated_at=occurred_at,
    )
    return InvoiceUpdate(event_id, event_type, kind, occurred_at, invoice, customer, CollectedBy.ARREARS)
