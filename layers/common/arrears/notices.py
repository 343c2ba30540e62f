"""What a contact says, before it is rendered: one context for emails and letters.

`build_notice` gathers everything a message may state from the invoice, the
customer and the policy; renderers (channels.render, channels.letter_pdf) only
lay it out. Keeping the content here means an email and its letter can never
quote different sums.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from arrears.interest import InterestClaim, late_payment_claim
from arrears.models import Customer, Invoice, InvoiceLine
from arrears.policy.model import Creditor, Policy, Stage, Step


class NoticeIncomplete(ValueError):
    """A required element of a notice or letter is missing: nothing is sent."""


@dataclass(frozen=True)
class NoticeContext:
    stage: Stage
    template: str
    tone: str
    language: str
    reference: str  # quoted by the debtor when paying or disputing
    letter_date: date  # the day of the contact, in the debtor's timezone
    creditor: Creditor
    debtor_name: str
    debtor_email: str
    debtor_address_lines: tuple[str, ...]
    invoice_number: str
    issued_on: date
    due_on: date
    currency: str
    amount_due_minor: int
    amount_paid_minor: int
    balance_minor: int
    days_overdue: int  # negative before the due date
    pay_url: str
    lines: tuple[InvoiceLine, ...] = ()
    interest: InterestClaim | None = None
    deadline: date | None = None  # pay-by date stated in formal notices and letters
    next_consequence: str = ""  # what happens if the debtor does not act, stated plainly
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def total_claimed_minor(self) -> int:
        return self.balance_minor + (self.interest.total_minor if self.interest else 0)


_CONSEQUENCES = {
    Stage.COURTESY_REMINDER: "",
    Stage.DUE_NOTICE: "",
    Stage.OVERDUE_REMINDER: "If payment is not received, we will send a formal notice.",
    Stage.FORMAL_NOTICE: (
        "If the amount claimed is not paid or disputed by the deadline, we will send a final notice "
        "and then refer the debt to a collection agency or take legal action, which may add further costs."
    ),
    Stage.FINAL_NOTICE: (
        "If the amount claimed is not paid or disputed by the deadline, the debt will be referred to a "
        "collection agency or to our lawyers without further notice, and further costs may be claimed."
    ),
    Stage.REFERRAL: "The debt has been referred to a collection agency.",
}

_STAGES_WITH_DEADLINE = {Stage.FORMAL_NOTICE, Stage.FINAL_NOTICE}


def build_notice(
    invoice: Invoice, customer: Customer, policy: Policy, step: Step, now: datetime
) -> NoticeContext:
    zone = ZoneInfo(customer.timezone) if customer.timezone else ZoneInfo(policy.default_timezone)
    today = now.astimezone(zone).date()
    due_on = invoice.due_at.astimezone(zone).date()
    if not customer.name.strip():
        raise NoticeIncomplete(f"customer {customer.customer_id} has no name")
    if not customer.email.strip():
        raise NoticeIncomplete(f"customer {customer.customer_id} has no billing email")
    interest = None
    if policy.late_payment and step.stage in _STAGES_WITH_DEADLINE | {Stage.REFERRAL}:
        interest = late_payment_claim(
            policy.late_payment, invoice.amount_remaining, invoice.currency, due_on, today
        )
    deadline = today + timedelta(days=policy.demand_letter.deadline_days) if step.stage in _STAGES_WITH_DEADLINE else None
    return NoticeContext(
        stage=step.stage,
        template=step.template,
        tone=step.tone,
        language=customer.language or "en",
        reference=f"{invoice.number}/{step.id}",
        letter_date=today,
        creditor=policy.creditor,
        debtor_name=customer.name,
        debtor_email=customer.email,
        debtor_address_lines=tuple(customer.address.lines()),
        invoice_number=invoice.number,
        issued_on=invoice.issued_at.astimezone(zone).date(),
        due_on=due_on,
        currency=invoice.currency,
        amount_due_minor=invoice.amount_due,
        amount_paid_minor=invoice.amount_paid,
        balance_minor=invoice.amount_remaining,
        days_overdue=(today - due_on).days,
        pay_url=invoice.pay_url,
        lines=invoice.lines,
        interest=interest,
        deadline=deadline,
        next_consequence=_CONSEQUENCES[step.stage],
    )
