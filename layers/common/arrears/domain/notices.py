"""What a contact says, before it is rendered: one context for emails and letters.

`build_notice` gathers everything a message may state from the invoice, the
customer and the policy; renderers (rendering.emails, rendering.letter_pdf) only
lay it out. Keeping the content here means an email and its letter can never
quote different sums.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta

from arrears.domain.consolidation import ConsolidatedMessage, CurrencyTotals, InvoiceLine as ListedInvoice, Statement
from arrears.domain.debtor_data import printable
from arrears.domain.early_payment import EarlyPaymentOffer, open_offer
from arrears.domain.interest import CONTRACTUAL, InterestClaim, Payment, ReferenceRateUnknown, late_payment_claim
from arrears.domain.models import ContactEntry, Customer, Invoice, InvoiceLine
from arrears.domain.policy.calendar import zone_of
from arrears.domain.policy.model import Creditor, Policy, Stage, Step
from arrears.domain.wording import regional_language, wording_for


class NoticeIncomplete(ValueError):
    """A required element of a notice or letter is missing: nothing is sent."""


@dataclass(frozen=True)
class NoticeContext:
    stage: Stage
    template: str
    tone: str
    language: str
    reference: str  # the payment reference the debtor quotes when paying or disputing: the invoice number, on every message
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
    # The debtor's own page (docs/portal.md): a signed link in every email and letter; empty when the stack or
    # the policy has no portal.
    portal_url: str = ""
    interest: InterestClaim | None = None
    deadline: date | None = None  # pay-by date stated in formal notices and letters
    next_consequence: str = ""  # what happens if the debtor does not act, stated plainly
    extra: dict[str, str] = field(default_factory=dict)
    step_id: str = ""  # the policy step the message is for: Arrears' own key, never printed for the debtor
    # One message per customer (arrears.domain.consolidation): every invoice it lists, the carrying one among
    # them, each with its own interest; the totals per currency. Empty: the message is about its invoice alone.
    items: tuple[NoticeItem, ...] = ()
    totals: tuple[CurrencyTotals, ...] = ()
    statement: Statement | None = None  # a statement of account's figures (rendering.statement_pdf)
    # A courtesy reminder while the policy's early-payment discount is open (arrears.domain.early_payment).
    early_payment: EarlyPaymentOffer | None = None

    @property
    def consolidated(self) -> bool:
        return len(self.items) > 1

    @property
    def claimed_items(self) -> tuple[NoticeItem, ...]:
        """The listed invoices this message asks to be paid, in its currency (due or overdue, not held)."""
        return tuple(item for item in self.items if item.line.asked and item.line.currency == self.currency)

    @property
    def message_key(self) -> str:
        """What tells this message apart from the invoice's others (its Message-ID, its tracking header)."""
        return f"{self.invoice_number}/{self.step_id}"

    @property
    def total_claimed_minor(self) -> int:
        if self.items:
            return sum(item.claimed_minor for item in self.claimed_items)
        return self.balance_minor + (self.interest.total_minor if self.interest else 0)


@dataclass(frozen=True)
class NoticeItem:
    """One invoice a consolidated message lists: its figures and, when the message claims it, its own interest
    and fixed compensation (every legal element of a demand is per invoice)."""

    line: ListedInvoice
    interest: InterestClaim | None = None

    @property
    def claimed_minor(self) -> int:
        return self.line.balance_minor + (self.interest.total_minor if self.interest else 0) if self.line.asked else 0


# What happens next is announced from the overdue reminders on; the wording is in the debtor's
# language (arrears.domain.wording's catalogue, `consequence.<stage>`).
_STAGES_WITH_CONSEQUENCE = frozenset({Stage.OVERDUE_REMINDER, Stage.FORMAL_NOTICE, Stage.FINAL_NOTICE, Stage.REFERRAL})

_STAGES_WITH_DEADLINE = {Stage.FORMAL_NOTICE, Stage.FINAL_NOTICE}


def claims_interest(policy: Policy, step: Step) -> bool:
    return bool(policy.late_payment and policy.late_payment.claim) and step.stage in _STAGES_WITH_DEADLINE | {Stage.REFERRAL}


def partial_payments(invoice: Invoice, customer: Customer, policy: Policy, step: Step,
                     history: Callable[[str], Iterable[ContactEntry]]) -> tuple[Payment, ...]:
    """The part payments the contact log recorded for the invoice (for interest on a falling principal),
    read only when the step claims interest. `history`: the contact log's `entries`."""
    if not claims_interest(policy, step):
        return ()
    zone = zone_of(customer.timezone, policy.default_timezone)  # a zone no one knows is the policy's
    return tuple(Payment(on=entry.at.astimezone(zone).date(), amount_minor=int(entry.details["paid_now"]))
                 for entry in history(invoice.invoice_id)
                 if entry.kind == "partial_payment" and int(entry.details.get("paid_now", 0)) > 0)


def build_notice(
    invoice: Invoice, customer: Customer, policy: Policy, step: Step, now: datetime,
    payments: Iterable[Payment] = (),
) -> NoticeContext:
    """`payments`: part payments received after the due date, when the caller knows them (each lowers
    the principal interest runs on from its day; without them the current balance is the principal)."""
    zone = zone_of(customer.timezone, policy.default_timezone)  # a zone no one knows is the policy's
    today = now.astimezone(zone).date()
    due_on = invoice.due_at.astimezone(zone).date()
    # Debtor-supplied text is printed and put in headers: no control characters (arrears.domain.debtor_data).
    debtor_name, invoice_number = printable(customer.name), printable(invoice.number)
    if not debtor_name:
        raise NoticeIncomplete(f"customer {customer.customer_id} has no name")
    if not customer.email.strip():
        raise NoticeIncomplete(f"customer {customer.customer_id} has no billing email")
    # The region of the debtor's country formats dates and amounts (a British debtor: "1 October 2026").
    language = regional_language(customer.language or "en", customer.address.country)
    say = wording_for(language)
    interest = _interest(policy, step, invoice.amount_remaining, invoice.currency, due_on, today, payments, language)
    deadline = today + timedelta(days=policy.demand_letter.deadline_days) if step.stage in _STAGES_WITH_DEADLINE else None
    return NoticeContext(
        stage=step.stage,
        template=step.template,
        tone=step.tone,
        language=language,
        # One reference for every message about the invoice, so a payment quoting any of them is matched.
        reference=invoice_number,
        letter_date=today,
        creditor=policy.creditor,
        debtor_name=debtor_name,
        debtor_email=printable(customer.email),
        debtor_address_lines=tuple(filter(None, map(printable, customer.address.lines()))),
        invoice_number=invoice_number,
        issued_on=invoice.issued_at.astimezone(zone).date(),
        due_on=due_on,
        currency=invoice.currency,
        amount_due_minor=invoice.amount_due,
        amount_paid_minor=invoice.amount_paid,
        balance_minor=invoice.amount_remaining,
        days_overdue=(today - due_on).days,
        pay_url=invoice.pay_url,
        lines=tuple(line.model_copy(update={"description": printable(line.description)}) for line in invoice.lines),
        interest=interest,
        deadline=deadline,
        next_consequence=say(f"consequence.{step.stage.value}") if step.stage in _STAGES_WITH_CONSEQUENCE else "",
        step_id=step.id,
        early_payment=open_offer(invoice, policy, zone, today) if step.stage is Stage.COURTESY_REMINDER else None,
    )


def _interest(policy: Policy, step: Step, balance_minor: int, currency: str, due_on: date, today: date,
              payments: Iterable[Payment], language: str) -> InterestClaim | None:
    """The interest and fixed compensation one invoice's step claims (None when it claims none)."""
    if not (policy.late_payment and claims_interest(policy, step)):
        return None
    try:
        interest = late_payment_claim(policy.late_payment, balance_minor, currency, due_on, today, payments)
    except ReferenceRateUnknown as unknown:
        raise NoticeIncomplete(str(unknown)) from unknown
    if interest is not None and interest.scheme != CONTRACTUAL and not policy.late_payment.basis:
        interest = replace(interest, basis=wording_for(language)(f"interest.basis.{interest.scheme}"))
    return interest


def build_consolidated_notice(
    message: ConsolidatedMessage, invoices: dict[str, Invoice], customer: Customer, policy: Policy, now: datetime,
    payments: dict[str, tuple[Payment, ...]] | None = None,
) -> NoticeContext:
    """The notice of a message covering several of a customer's invoices: the carrying invoice's notice (its
    template, tone, deadline, consequence), listing every invoice of `message` with its own interest when the
    step claims interest. `invoices`: at least the listed ones, by id; `payments`: part payments by invoice id
    (see `partial_payments`). Raises NoticeIncomplete naming the invoice whose element is missing."""
    payments = payments or {}
    carrier = invoices[message.carrying_invoice_id]
    step = message.carrying_step
    notice = build_notice(carrier, customer, policy, step, now, payments.get(carrier.invoice_id, ()))
    items = []
    for line in message.lines:
        number = printable(line.number)
        if not number:
            raise NoticeIncomplete(f"invoice {line.invoice_id} listed in the message has no number")
        interest = None
        if line.asked and line.currency == notice.currency and line.days_overdue > 0:
            interest = _interest(policy, step, line.balance_minor, line.currency, line.due_on, notice.letter_date,
                                 payments.get(line.invoice_id, ()), notice.language)
        items.append(NoticeItem(line=replace(line, number=number), interest=interest))
    claimed = [item for item in items if item.line.asked and item.line.currency == notice.currency]
    if not claimed and not any(item.line.coming_due and item.line.hold is None for item in items):
        raise NoticeIncomplete(f"the message carried by {notice.invoice_number} lists nothing due or coming due")
    if len(items) == 1:
        return replace(notice, items=tuple(items), totals=message.totals)
    # Several invoices: each line carries its own pay link; the carrying invoice's would pay only it.
    unpayable = [item.line.number for item in claimed if not item.line.pay_url]
    if unpayable and not policy.creditor.iban:
        raise NoticeIncomplete(f"no way to pay {', '.join(unpayable)}: no pay link and no bank account")
    return replace(notice, items=tuple(items), totals=message.totals, pay_url="")


def build_statement_notice(statement: Statement, customer: Customer, policy: Policy, now: datetime) -> NoticeContext:
    """What a statement of account states around its figures: creditor, debtor, date, language, how to pay.
    Its reference is the customer's account (each line quotes its invoice number)."""
    zone = zone_of(customer.timezone, policy.default_timezone)
    debtor_name = printable(customer.name)
    if not debtor_name:
        raise NoticeIncomplete(f"customer {customer.customer_id} has no name")
    lines = [line for currency in statement.currencies for line in currency.lines]
    first = lines[0] if lines else None
    return NoticeContext(
        stage=Stage.OVERDUE_REMINDER, template="statement_of_account", tone="neutral",
        language=regional_language(customer.language or "en", customer.address.country),
        reference=printable(customer.customer_id), letter_date=now.astimezone(zone).date(), creditor=policy.creditor,
        debtor_name=debtor_name, debtor_email=printable(customer.email),
        debtor_address_lines=tuple(filter(None, map(printable, customer.address.lines()))),
        invoice_number=printable(first.number) if first else "", issued_on=first.issued_on if first else statement.as_of,
        due_on=first.due_on if first else statement.as_of,
        currency=statement.currencies[0].currency if statement.currencies else "EUR",
        amount_due_minor=0, amount_paid_minor=0, balance_minor=sum(c.balance_minor for c in statement.currencies),
        days_overdue=0, pay_url="", statement=statement,
    )
