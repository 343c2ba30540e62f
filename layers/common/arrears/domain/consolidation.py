"""One message per customer (issue #15): which of a customer's invoices a message covers, and what it lists.

Pure: the caller (the workflow, once wired; the finance API's statement) reads the customer's open
invoices and plans each with its own pinned policy (`dunning.plan_for`), and passes them in.

`consolidate` answers, for the invoice whose message falls due now (the candidate), which of the
customer's other open invoices' next messages it covers: those falling due within the carrying
policy's `consolidation.window_days`, in the candidate's currency (or, with `currencies:
separate_totals`, in any currency, as long as no demand letter or referral is among them: a demand
claims in one currency). The most escalated covered invoice carries the message: its step's
template, tone and channel. The message lists the customer's open invoices in those currencies,
each with its figures and stage; totals are per currency, never summed across currencies.

- A held invoice (dispute, promise, payment plan, pause, insolvency: any hold on the invoice, even
  one expired and not yet lifted by its own workflow) is never covered: listed as on hold, or left
  out (`holds: omit`), and never in what is asked.
- Only an invoice's next pending message step (email, letter, referral) can be covered, and only
  one per invoice; call and manual tasks are a person's, never covered.
- A referral is never brought forward: covered only when it is itself due (its notice period and
  minimum run per invoice). Referrals go with referrals only, and a referral lists only what it refers;
  any other message leaves a due referral to its own workflow.
- A not-yet-due invoice is listed as coming due only with `coming_due`: when its courtesy reminder
  falls within the window (it is covered) or its due date does.

`statement_of_account` gives a customer's statement figures: every open invoice with payments,
credits and balance, and the aging per currency.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from arrears.domain.aging import AgingBucket, bucket_for_days
from arrears.domain.early_payment import EarlyPaymentOffer, open_offer
from arrears.domain.models import HoldKind, Invoice
from arrears.domain.policy.model import Channel, Policy, Stage, Step
from arrears.domain.policy.schedule import PlannedStep

# The channels that send the debtor a message (the ones the minimum contact gap counts).
MESSAGE_CHANNELS = frozenset({Channel.EMAIL, Channel.LETTER, Channel.REFERRAL})
# A message at one of these claims a sum by a deadline: it never mixes currencies.
DEMAND_STAGES = frozenset({Stage.FORMAL_NOTICE, Stage.FINAL_NOTICE, Stage.REFERRAL})
_DUE_TOLERANCE = timedelta(seconds=1)  # as dunning's: Wait timestamps have whole seconds
_STAGE_ORDER = {stage: rank for rank, stage in enumerate(Stage)}


@dataclass(frozen=True)
class OpenInvoice:
    """One of the customer's invoices with the plan of its own pinned policy (() before collection started), and
    that policy (None before collection started): a statement states its early-payment discount while open."""

    invoice: Invoice
    planned: tuple[PlannedStep, ...] = ()
    policy: Policy | None = None


@dataclass(frozen=True)
class CoveredStep:
    invoice_id: str
    step_id: str
    stage: Stage
    at: datetime  # the step's planned moment (now or before for the candidate's own)


@dataclass(frozen=True)
class InvoiceLine:
    """One invoice as a message or statement lists it. amount = paid + credited + balance."""

    invoice_id: str
    number: str
    currency: str
    issued_on: date
    due_on: date
    amount_minor: int  # as invoiced (before credit notes, when its lines say more than is due now)
    paid_minor: int
    credited_minor: int
    balance_minor: int
    days_overdue: int  # negative before the due date
    stage: Stage | None  # the covered step's stage, else the furthest stage its completed steps reached
    hold: HoldKind | None = None
    coming_due: bool = False  # not yet due, listed because it falls due within the window
    covered_step: str | None = None  # the step this message does for the invoice
    pay_url: str = ""  # the invoice's own payment page, when the billing platform gave one
    early_payment: EarlyPaymentOffer | None = None  # on a statement: the pinned policy's discount, while open

    @property
    def aging(self) -> AgingBucket:
        return bucket_for_days(self.days_overdue)

    @property
    def asked(self) -> bool:
        """Whether the message asks for this invoice's balance now (due or overdue, not held)."""
        return self.hold is None and not self.coming_due and self.balance_minor > 0


@dataclass(frozen=True)
class CurrencyTotals:
    currency: str
    asked_minor: int  # due or overdue and not held: what the message asks to be paid
    coming_due_minor: int
    held_minor: int  # listed as on hold, not asked for
    overdue_minor: int  # of asked, past its due date

    @property
    def open_minor(self) -> int:
        return self.asked_minor + self.coming_due_minor + self.held_minor


@dataclass(frozen=True)
class ConsolidatedMessage:
    carrying_invoice_id: str
    carrying_step: Step  # its template, tone, stage and channel are the message's
    lines: tuple[InvoiceLine, ...]  # oldest due date first
    covered: tuple[CoveredStep, ...]  # the carrying invoice's first
    totals: tuple[CurrencyTotals, ...]  # one per currency listed, the carrying invoice's first

    @property
    def currencies(self) -> tuple[str, ...]:
        return tuple(t.currency for t in self.totals)

    @property
    def alone(self) -> bool:
        """Nothing to consolidate: the message lists and covers only its own invoice (sent as today)."""
        return len(self.lines) == 1 and len(self.covered) == 1

    def lines_in(self, currency: str) -> tuple[InvoiceLine, ...]:
        return tuple(line for line in self.lines if line.currency == currency)

    def covered_invoice_ids(self) -> frozenset[str]:
        return frozenset(c.invoice_id for c in self.covered)


def reached_stage(completed_steps: Iterable[str], steps: Iterable[Step]) -> Stage | None:
    """The furthest stage the completed steps reached (None before the first step)."""
    by_id = {step.id: step.stage for step in steps}
    reached = [by_id[step_id] for step_id in completed_steps if step_id in by_id]
    return max(reached, key=_STAGE_ORDER.__getitem__) if reached else None


def next_message_step(item: OpenInvoice) -> PlannedStep | None:
    """The invoice's next pending step that sends the debtor a message."""
    done = set(item.invoice.completed_steps)
    return next((p for p in item.planned if p.step.id not in done and p.step.channel in MESSAGE_CHANNELS), None)


def _escalation(step: Step, line: InvoiceLine) -> tuple[int, int, int, int]:
    """Higher is more escalated: the stage, then the step's offset, then the days overdue, then the balance."""
    return (_STAGE_ORDER[step.stage], step.offset_days, line.days_overdue, line.balance_minor)


def invoice_line(invoice: Invoice, today: date, zone: ZoneInfo, stage: Stage | None = None,
                 coming_due: bool = False, covered_step: str | None = None) -> InvoiceLine:
    """An invoice's figures on `today` (the debtor's calendar day, dates in the debtor's zone `zone`)."""
    due_on = invoice.due_at.astimezone(zone).date()
    invoiced = max(invoice.amount_due, sum(line.amount for line in invoice.lines))
    amount = max(invoiced, invoice.amount_paid + invoice.amount_remaining)
    return InvoiceLine(
        invoice_id=invoice.invoice_id, number=invoice.number, currency=invoice.currency,
        issued_on=invoice.issued_at.astimezone(zone).date(), due_on=due_on, amount_minor=amount,
        paid_minor=invoice.amount_paid, credited_minor=amount - invoice.amount_paid - invoice.amount_remaining,
        balance_minor=invoice.amount_remaining, days_overdue=(today - due_on).days, stage=stage,
        hold=invoice.hold.kind if invoice.hold is not None else None, coming_due=coming_due, covered_step=covered_step,
        pay_url=invoice.pay_url if invoice.pay_url.startswith(("https://", "http://")) else "")


def consolidate(candidate: OpenInvoice, step: PlannedStep, book: Sequence[OpenInvoice], policy: Policy,
                now: datetime, zone: ZoneInfo, exclude: Collection[str] = ()) -> ConsolidatedMessage | None:
    """The message the candidate's `step` (due now) becomes, under the candidate's pinned `policy`.
    `book`: the customer's invoices (the candidate's own entry and settled ones are passed over).
    `exclude`: invoices whose step this message may not cover (their own workflow holds it): still listed.
    None when the policy does not consolidate: the step goes out alone, as before #15."""
    settings = policy.consolidation
    if not settings.enabled:
        return None
    today = now.astimezone(zone).date()
    horizon = now + timedelta(days=settings.window_days)
    last_due_day = today + timedelta(days=settings.window_days)
    others = [item for item in book
              if item.invoice.invoice_id != candidate.invoice.invoice_id and not item.invoice.is_settled
              and item.invoice.customer_id == candidate.invoice.customer_id]

    def not_yet_due(invoice: Invoice) -> bool:
        return invoice.due_at.astimezone(zone).date() > today

    # Which of the others' next messages this one may cover.
    coverable: dict[str, PlannedStep] = {}
    for item in others:
        invoice = item.invoice
        nxt = next_message_step(item)
        if invoice.invoice_id in exclude:
            continue
        if invoice.hold is not None or nxt is None or nxt.step.stage not in settings.stages or nxt.at > horizon:
            continue
        if nxt.step.stage is Stage.REFERRAL and nxt.at > now + _DUE_TOLERANCE:
            continue  # a referral is never brought forward
        if not_yet_due(invoice) and not settings.coming_due:
            continue  # its courtesy reminder goes alone
        coverable[invoice.invoice_id] = nxt

    # A referral goes with referrals only: its notice says the debt was referred, and its package claims it.
    referring = step.step.stage is Stage.REFERRAL
    coverable = {invoice_id: p for invoice_id, p in coverable.items() if (p.step.stage is Stage.REFERRAL) == referring}

    # The currencies of the message: the candidate's; with separate totals, every currency of a reminder.
    currencies = {candidate.invoice.currency}
    if settings.currencies == "separate_totals":
        stages = {step.step.stage, *(p.step.stage for p in coverable.values())}
        channels = {step.step.channel, *(p.step.channel for p in coverable.values())}
        if not stages & DEMAND_STAGES and Channel.LETTER not in channels and Channel.REFERRAL not in channels:
            currencies |= {item.invoice.currency for item in others}
    currency_of = {item.invoice.invoice_id: item.invoice.currency for item in others}
    coverable = {invoice_id: p for invoice_id, p in coverable.items() if currency_of[invoice_id] in currencies}

    # Every listed invoice, as a line.
    lines: dict[str, InvoiceLine] = {}
    steps_of: dict[str, PlannedStep] = {candidate.invoice.invoice_id: step, **coverable}
    for item in [candidate, *others]:
        invoice = item.invoice
        if invoice.currency not in currencies:
            continue
        is_candidate = item is candidate
        if invoice.hold is not None and settings.holds == "omit" and not is_candidate:
            continue
        if referring and invoice.invoice_id not in steps_of:
            continue  # a referral lists what it refers
        covered = steps_of.get(invoice.invoice_id)
        coming = not_yet_due(invoice)
        due_in_window = settings.coming_due and invoice.due_at.astimezone(zone).date() <= last_due_day
        if coming and not (is_candidate or covered or due_in_window):
            continue  # not due within the window: not this message's business
        stage = covered.step.stage if covered else reached_stage(invoice.completed_steps, (p.step for p in item.planned))
        lines[invoice.invoice_id] = invoice_line(invoice, today, zone, stage, coming_due=bool(coming),
                                                 covered_step=covered.step.id if covered else None)

    # The carrying invoice: the most escalated covered one (the candidate on a tie).
    carrying_id = max(steps_of, key=lambda i: (*_escalation(steps_of[i].step, lines[i]),
                                              i == candidate.invoice.invoice_id, i))
    # At most max_invoices listed: the carrying invoice, then the covered by escalation, then the rest by age.
    if len(lines) > settings.max_invoices:
        def priority(invoice_id: str) -> tuple:
            line = lines[invoice_id]
            if invoice_id in (carrying_id, candidate.invoice.invoice_id):
                return (0, invoice_id != carrying_id)
            if invoice_id in steps_of:
                return (1, *(-v for v in _escalation(steps_of[invoice_id].step, line)))
            return (2, -line.days_overdue, 0, 0, 0)

        kept = set(sorted(lines, key=priority)[: settings.max_invoices])
        lines = {invoice_id: line for invoice_id, line in lines.items() if invoice_id in kept}
        steps_of = {invoice_id: p for invoice_id, p in steps_of.items() if invoice_id in kept}

    if steps_of[carrying_id].step.stage in DEMAND_STAGES:
        # A demand claims only what is overdue on its date: an invoice due today is listed as coming due, not claimed.
        lines = {invoice_id: replace(line, coming_due=True) if line.days_overdue <= 0 and not line.coming_due else line
                 for invoice_id, line in lines.items()}
    carrying_currency = lines[carrying_id].currency
    ordered = tuple(sorted(lines.values(), key=lambda line: (line.due_on, line.number, line.invoice_id)))
    covered = tuple(CoveredStep(invoice_id=i, step_id=p.step.id, stage=p.step.stage, at=p.at)
                    for i, p in sorted(steps_of.items(), key=lambda kv: (kv[0] != carrying_id, kv[1].at, kv[0])))
    listed = sorted({line.currency for line in ordered}, key=lambda c: (c != carrying_currency, c))
    return ConsolidatedMessage(carrying_invoice_id=carrying_id, carrying_step=steps_of[carrying_id].step,
                               lines=ordered, covered=covered, totals=tuple(totals(ordered, c) for c in listed))


def totals(lines: Iterable[InvoiceLine], currency: str) -> CurrencyTotals:
    """The totals of the lines in one currency (never a sum across currencies)."""
    mine = [line for line in lines if line.currency == currency]
    return CurrencyTotals(
        currency=currency,
        asked_minor=sum(line.balance_minor for line in mine if line.asked),
        coming_due_minor=sum(line.balance_minor for line in mine if line.hold is None and line.coming_due),
        held_minor=sum(line.balance_minor for line in mine if line.hold is not None),
        overdue_minor=sum(line.balance_minor for line in mine if line.asked and line.days_overdue > 0),
    )


# -- the statement of account ------------------------------------------------------------------------


@dataclass(frozen=True)
class StatementCurrency:
    """A customer's open invoices in one currency, with their aging."""

    currency: str
    lines: tuple[InvoiceLine, ...]  # oldest due date first
    aging: tuple[tuple[AgingBucket, int], ...]  # every bucket, in order, with its balance (minor units)

    @property
    def balance_minor(self) -> int:
        return sum(line.balance_minor for line in self.lines)

    @property
    def amount_minor(self) -> int:
        return sum(line.amount_minor for line in self.lines)

    @property
    def paid_minor(self) -> int:
        return sum(line.paid_minor for line in self.lines)

    @property
    def credited_minor(self) -> int:
        return sum(line.credited_minor for line in self.lines)

    @property
    def held_minor(self) -> int:
        return sum(line.balance_minor for line in self.lines if line.hold is not None)


@dataclass(frozen=True)
class Statement:
    customer_id: str
    as_of: date  # the debtor's calendar day
    currencies: tuple[StatementCurrency, ...]  # by currency code

    @property
    def empty(self) -> bool:
        return not self.currencies


def statement_of_account(customer_id: str, invoices: Iterable[OpenInvoice | Invoice], now: datetime,
                         zone: ZoneInfo) -> Statement:
    """Every open invoice of the customer (held and not yet due ones too), per currency, with the aging by
    days overdue on the debtor's calendar day, and the early-payment discount of each invoice whose pinned policy
    still offers it. Settled invoices and other customers' are passed over."""
    today = now.astimezone(zone).date()
    by_currency: dict[str, list[InvoiceLine]] = {}
    for item in invoices:
        entry = item if isinstance(item, OpenInvoice) else OpenInvoice(item)
        invoice = entry.invoice
        if invoice.is_settled or invoice.customer_id != customer_id:
            continue
        stage = reached_stage(invoice.completed_steps, (p.step for p in entry.planned))
        line = invoice_line(invoice, today, zone, stage, coming_due=invoice.due_at.astimezone(zone).date() > today)
        if entry.policy is not None:
            line = replace(line, early_payment=open_offer(invoice, entry.policy, zone, today))
        by_currency.setdefault(invoice.currency, []).append(line)
    currencies = []
    for currency in sorted(by_currency):
        lines = tuple(sorted(by_currency[currency], key=lambda line: (line.due_on, line.number, line.invoice_id)))
        aging = tuple((bucket, sum(line.balance_minor for line in lines if line.aging is bucket)) for bucket in AgingBucket)
        currencies.append(StatementCurrency(currency=currency, lines=lines, aging=aging))
    return Statement(customer_id=customer_id, as_of=today, currencies=tuple(currencies))
