from __future__ import annotations

from datetime import date, datetime
from enum import Enum
from functools import lru_cache
from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator


class InvoiceStatus(str, Enum):
    OPEN = "open"
    PAID = "paid"
    VOID = "void"
    UNCOLLECTIBLE = "uncollectible"


# A terminal status is never left again: an old or replayed event cannot reopen it.
TERMINAL_STATUSES = frozenset({InvoiceStatus.PAID, InvoiceStatus.VOID, InvoiceStatus.UNCOLLECTIBLE})


class Record(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


@lru_cache(maxsize=1024)
def country_name(code: str, locale: str = "en") -> str:
    from babel import Locale, UnknownLocaleError

    try:
        return Locale.parse(locale).territories.get(code.upper(), code) if code else ""
    except (UnknownLocaleError, ValueError):
        return code


# Where the postcode goes, by country (the UPU's and the national posts' address formats; babel/CLDR
# has no address data). Everywhere else: "postcode city" (continental Europe), then ", state".
_POSTCODE_ON_ITS_OWN_LINE = frozenset({"GB", "IE", "JE", "GG", "IM"})  # Royal Mail / An Post: town, then postcode
_CITY_STATE_POSTCODE = {"US": "{city}, {state} {postcode}", "CA": "{city} {state} {postcode}", "AU": "{city} {state} {postcode}"}


def _locality_lines(address: Address) -> list[str]:
    country = address.country.upper()
    if country in _POSTCODE_ON_ITS_OWN_LINE:
        return [", ".join(part for part in (address.city, address.state) if part), address.postal_code]
    if country in _CITY_STATE_POSTCODE:
        line = _CITY_STATE_POSTCODE[country].format(city=address.city, state=address.state, postcode=address.postal_code)
        return [" ".join(line.split()).strip(" ,")]
    city_line = " ".join(part for part in (address.postal_code, address.city) if part)
    if address.state:
        city_line = f"{city_line}, {address.state}" if city_line else address.state
    return [city_line]


class Address(Record):
    line1: str = ""
    line2: str = ""
    postal_code: str = ""
    city: str = ""
    state: str = ""
    country: str = ""  # ISO 3166-1 alpha-2

    def lines(self, locale: str = "en") -> list[str]:
        """Postal lines, the country written out (international post needs its name, not its code)."""
        return [line for line in (self.line1, self.line2, *_locality_lines(self), country_name(self.country, locale)) if line]

    def is_complete(self) -> bool:
        return bool(self.line1 and self.city and self.country)


class Customer(Record):
    customer_id: str
    provider: str
    name: str
    email: str
    address: Address = Address()
    language: str = "en"
    timezone: str = "UTC"
    segment: str = "standard"
    # The customer's own collections policy (the finance team sets it); None: the stack's default policy.
    policy_id: str | None = None
    # Who owns the relationship (name or email): the policy's call tasks and manual tasks name them.
    account_owner: str = ""
    # Where contacts go when the billing email no longer reaches (a permanent bounce, a complaint).
    escalation_email: str = ""
    # The number a call task shows (arrears.domain.phone): E.164 when known in international form, else as the platform wrote it.
    phone: str = Field(default="", max_length=40)
    updated_at: AwareDatetime


class InvoiceLine(Record):
    description: str
    amount: int  # minor units


class HoldKind(str, Enum):
    PAUSE = "pause"  # the finance team stops contacts until a date
    DISPUTE = "dispute"  # the debtor contests the invoice: no contact until it is resolved
    PROMISE = "promise"  # the debtor promised to pay by a date: no contact until then plus grace
    INSOLVENCY = "insolvency"  # the customer is insolvent: collection stops; the claim goes to the administrator
    PAYMENT_PLAN = "payment_plan"  # the balance is paid in agreed instalments: reminders per instalment only


class Instalment(Record):
    due_on: date
    amount: int = Field(gt=0)  # minor units


class Hold(Record):
    """While a hold is on, the workflow parks and sends nothing; released, it resumes where it left off."""

    kind: HoldKind
    since: AwareDatetime
    until: AwareDatetime | None = None  # None: until someone releases it
    reason: str = Field(default="", max_length=500)
    actor: str
    promised_on: date | None = None  # a promise: the date the debtor said they would pay by
    # A payment plan: the instalments, and the balance when it was agreed (payments since count against them).
    instalments: tuple[Instalment, ...] = ()
    plan_balance: int | None = None

    def active_at(self, moment: datetime) -> bool:
        return self.until is None or moment < self.until


class Invoice(Record):
    invoice_id: str
    provider: str
    number: str
    customer_id: str
    currency: str = Field(pattern=r"^[A-Z]{3}$")
    amount_due: int = Field(ge=0)
    amount_paid: int = Field(ge=0)
    amount_remaining: int = Field(ge=0)
    issued_at: AwareDatetime
    due_at: AwareDatetime
    status: InvoiceStatus = InvoiceStatus.OPEN
    pay_url: str = ""
    lines: tuple[InvoiceLine, ...] = ()
    # The provider's own timestamp of the newest event applied: an older event never overwrites newer state.
    provider_updated_at: AwareDatetime
    # Collection state, owned by the workflow.
    policy_id: str | None = None
    policy_version: int | None = None
    # The segment of the pinned policy the invoice started in: a later change of the customer's segment does not
    # re-plan it. None: pinned before segments were recorded (it follows the customer's current segment).
    segment: str | None = Field(default=None, max_length=40)
    completed_steps: tuple[str, ...] = ()
    execution_arn: str | None = None
    # When the execution named by execution_arn started (a workflow renews itself before Step Functions' year).
    execution_started_at: AwareDatetime | None = None
    next_action_at: AwareDatetime | None = None
    closed_at: AwareDatetime | None = None  # set only with a terminal status (is_settled covers it)
    hold: Hold | None = None
    # Days the pending steps have moved because of holds (collection resumes where it left off).
    schedule_shift_days: int = Field(default=0, ge=0)

    @field_validator("currency", mode="before")
    @classmethod
    def _upper_currency(cls, value: Any) -> Any:
        return value.upper() if isinstance(value, str) else value

    @property
    def is_settled(self) -> bool:
        return self.status in TERMINAL_STATUSES or self.amount_remaining == 0


class Artefact(Record):
    """A file a contact produced, named by where it is stored and what it hashes to."""

    kind: str  # email | letter | referral_package
    uri: str
    sha256: str
    content_type: str


class ContactEntry(Record):
    """One immutable entry of an invoice's contact log, hash-chained to the one before."""

    invoice_id: str
    customer_id: str
    seq: int = Field(ge=1)
    at: datetime
    kind: str  # email | letter | call_task | referral | invoice_opened | payment | ...
    actor: str
    channel: str | None = None
    step_id: str | None = None
    stage: str | None = None
    template: str | None = None
    policy_id: str | None = None
    policy_version: int | None = None
    recipient: str | None = None
    subject: str | None = None
    message_id: str | None = None
    artefacts: tuple[Artefact, ...] = ()
    details: dict[str, Any] = Field(default_factory=dict)
    prev_hash: str
    hash: str


class RecentContact(Record):
    """The last message sent to a customer, about any of its invoices: the next one waits out the policy's gap."""

    invoice_id: str
    step_id: str
    at: AwareDatetime
