"""The demo's sample book: invoices with the behaviours a finance team sees every month."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

from arrears.domain.policy import Policy, plan_steps
from arrears_local.stripe_events import SampleCustomer, SampleInvoice

DEMO_START = datetime(2026, 9, 1, 8, 0, tzinfo=timezone.utc)
DEMO_DAYS = 150

# Each with the preferred locale its billing platform holds for it (Stripe's customer.preferred_locales; the Dutch
# customer reads English): the debtor's emails and letters are written in that language.
CUSTOMERS = [
    SampleCustomer("cus_QhK2mN8vLp4Rt1", "Brightwater Logistics Ltd", "ap@brightwater-logistics.example", "44 Canal Street", "Manchester", "M1 3HP", "GB", "en-GB"),
    SampleCustomer("cus_QhK2pT5wQm7Yz2", "Müller & Söhne GmbH", "buchhaltung@mueller-soehne.example", "Friedrichstraße 123", "Berlin", "10117", "DE", "de-DE"),
    SampleCustomer("cus_QhK2rV1xSn3Ab3", "Atelier Lumière SARL", "compta@atelier-lumiere.example", "18 rue de la Paix", "Paris", "75002", "FR", "fr-FR"),
    SampleCustomer("cus_QhK2tW9yUo6Cd4", "Cobalt Robotics Inc.", "payables@cobalt-robotics.example", "500 Howard Street", "San Francisco", "94105", "US", "en-US", state="CA"),
    SampleCustomer("cus_QhK2vX4zWp2Ef5", "Van Dijk Consultancy B.V.", "crediteuren@vandijk.example", "Herengracht 280", "Amsterdam", "1016 BX", "NL", "en"),
    SampleCustomer("cus_QhK2xY7aYq8Gh6", "Harbour & Finch LLP", "accounts@harbourfinch.example", "3 Queen Street", "Edinburgh", "EH2 1JE", "GB", "en-GB"),
]

# behaviour -> (days from the due date it is settled, the settling event, at the policy's contact
# time rather than mid-afternoon); None: never settled. "the instant a reminder is due" checks the
# rule that a payment arriving at the very moment of a contact wins.
BEHAVIOURS: dict[str, tuple[int | None, str | None, bool]] = {
    "pays before due": (-3, "invoice.paid", False),
    "pays on the due date": (0, "invoice.paid", False),
    "pays after the first reminder": (9, "invoice.paid", False),
    "pays the instant a reminder is due": (7, "invoice.paid", True),
    "pays after the second reminder": (18, "invoice.paid", False),
    "pays after the demand letter": (36, "invoice.paid", False),
    "pays after the final notice": (66, "invoice.paid", False),
    "voided": (4, "invoice.voided", False),
    "written off": (45, "invoice.marked_uncollectible", False),
    "never pays": (None, None, False),
}
SETTLE_LOCAL_TIME = time(14, 30)


@dataclass(frozen=True)
class PortfolioInvoice:
    invoice: SampleInvoice
    behaviour: str
    settle_days: int | None  # days from the due date (debtor's calendar)
    settle_event: str | None
    settle_at_contact_time: bool
    redelivered: bool  # the demo delivers some events twice, as Stripe retries do

    def settled_at(self, policy: Policy, debtor_timezone: str) -> datetime | None:
        """When the settling event happens: a day relative to the due date, in the debtor's zone;
        'at contact time' means the very moment the policy plans its step for that day."""
        if self.settle_days is None:
            return None
        if self.settle_at_contact_time:
            planned = plan_steps(policy, "standard", self.invoice.due, debtor_timezone, self.invoice.customer.country)
            return next(p.at for p in planned if p.step.offset_days == self.settle_days)
        zone = ZoneInfo(debtor_timezone)
        day = self.invoice.due.astimezone(zone).date() + timedelta(days=self.settle_days)
        return datetime.combine(day, SETTLE_LOCAL_TIME, tzinfo=zone).astimezone(timezone.utc)


# The demo's 24 invoices go to its 6 customers; a larger book adds customers at the same rate (a book of
# 1,000 invoices with 6 customers would be mostly waiting for the policy's gap between contacts to one customer).
INVOICES_PER_CUSTOMER = 4


def sample_customer(number: int) -> SampleCustomer:
    """The demo's customers, then more accounts like them for larger books."""
    base = CUSTOMERS[number % len(CUSTOMERS)]
    if number < len(CUSTOMERS):
        return base
    local, domain = base.email.split("@")
    return replace(base, customer_id=f"{base.customer_id[:8]}{number:08d}", name=f"{base.name} (account {number})",
                   email=f"{local}+{number}@{domain}")


def sample_portfolio(start: datetime = DEMO_START, count: int = 24) -> list[PortfolioInvoice]:
    behaviours = list(BEHAVIOURS)
    customers = max(len(CUSTOMERS), -(-count // INVOICES_PER_CUSTOMER))
    items: list[PortfolioInvoice] = []
    for index in range(count):
        behaviour = behaviours[index % len(behaviours)]
        customer = sample_customer(index % customers)
        currency = {"GB": "GBP", "US": "USD"}.get(customer.country, "EUR")
        created = start + timedelta(days=index % 12, hours=1 + index % 5)
        due = created + timedelta(days=30)
        amount = 45_000 + (index * 73_250) % 900_000
        invoice = SampleInvoice(
            invoice_id=f"in_1Q{index:02d}ArrearsDemo{index * 7919 % 100000:05d}", number=f"NW-2026-{1040 + index:04d}",
            customer=customer, currency=currency,
            lines=(("Analytics Platform — Business plan, annual seats", amount - amount // 5),
                   ("Onboarding and data migration (fixed fee)", amount // 5)),
            created=created, due=due,
        )
        settle_days, settle_event, at_contact_time = BEHAVIOURS[behaviour]
        items.append(PortfolioInvoice(invoice, behaviour, settle_days, settle_event, at_contact_time, redelivered=index % 3 == 0))
    return items
