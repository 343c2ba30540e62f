from __future__ import annotations

from datetime import time, timedelta
from decimal import Decimal
from enum import Enum
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from arrears.domain.geo import known_timezone
from arrears.domain.models import Address
from arrears.domain.policy.early_payment import EarlyPaymentTerms
from arrears.domain.policy.risk import RiskRules


class Stage(str, Enum):
    """The stages an operator sees in the state machine graph, in escalation order."""

    COURTESY_REMINDER = "courtesy_reminder"
    DUE_NOTICE = "due_notice"
    OVERDUE_REMINDER = "overdue_reminder"
    FORMAL_NOTICE = "formal_notice"
    FINAL_NOTICE = "final_notice"
    REFERRAL = "referral"


class Channel(str, Enum):
    EMAIL = "email"  # an email to the billing contact
    LETTER = "letter"  # a PDF letter, stored and sent as an attachment to its cover email
    CALL_TASK = "call_task"  # a task for a person to call the debtor (the account owner when known)
    MANUAL_TASK = "manual_task"  # a task for a person, of the kind the step's template names (nothing is sent)
    REFERRAL = "referral"  # a referral package for the collection agency


class PolicyModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Step(PolicyModel):
    id: str = Field(pattern=r"^[a-z0-9_]{1,40}$")
    stage: Stage
    offset_days: int = Field(ge=-60, le=365, description="days from the due date; negative is before")
    channel: Channel
    template: str = Field(pattern=r"^[a-z0-9_]{1,40}$")
    tone: str = "neutral"


class Segment(PolicyModel):
    steps: tuple[Step, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _check_steps(self) -> Segment:
        ids = [step.id for step in self.steps]
        duplicates = sorted({step_id for step_id in ids if ids.count(step_id) > 1})
        if duplicates:
            raise ValueError(f"step ids must be unique, repeated: {', '.join(duplicates)}")
        order = list(Stage)
        last_rank = -1
        for step in sorted(self.steps, key=lambda s: s.offset_days):
            rank = order.index(step.stage)
            if rank < last_rank:
                raise ValueError(
                    f"step {step.id!r} ({step.stage.value}) comes after a later stage: "
                    "stages must escalate with the offset"
                )
            last_rank = rank
        referrals = [s for s in self.steps if s.channel is Channel.REFERRAL]
        finals = [s for s in self.steps if s.stage is Stage.FINAL_NOTICE]
        for referral in referrals:
            if not any(final.offset_days < referral.offset_days for final in finals):
                raise ValueError(f"referral step {referral.id!r} needs a final notice before it")
        return self


class Creditor(PolicyModel):
    name: str = Field(min_length=1)
    address: Address
    email: str = Field(min_length=3)
    phone: str = ""
    company_number: str = ""
    vat_number: str = ""
    bank_account_name: str = ""
    iban: str = ""
    bic: str = ""

    @model_validator(mode="after")
    def _address_complete(self) -> Creditor:
        if not self.address.is_complete():
            raise ValueError("the creditor address needs line1, city and country (a letter names it)")
        return self


class LatePayment(PolicyModel):
    """Late-payment interest and fixed compensation claimed in letters (computed by arrears.domain.interest).

    Simple daily interest on the unpaid balance from the day after the due date, either at a fixed
    contractual rate or by a jurisdiction's statute with its versioned reference rates.
    """

    claim: bool = True
    scheme: Literal["contractual", "de_bgb_288", "uk_late_payment_act", "fr_l441_10", "eu_2011_7"] = Field(
        default="contractual",
        description="contractual: annual_rate_percent; otherwise the statute's reference rate + margin, half-year by half-year",
    )
    annual_rate_percent: Decimal | None = Field(default=None, ge=0, le=100, description="the contractual scheme's rate")
    basis: str = Field(default="", description="the contractual basis; statutory schemes state their own")
    fixed_compensation: dict[str, int] = Field(
        default_factory=dict, description="per ISO 4217 currency, in minor units (statutory schemes: overrides their sum)"
    )
    day_count: int = Field(default=365, ge=360, le=366, description="days in the year for daily interest")

    @model_validator(mode="after")
    def _rate_matches_scheme(self) -> LatePayment:
        if self.scheme == "contractual":
            if self.annual_rate_percent is None:
                raise ValueError("a contractual late-payment rate needs annual_rate_percent")
            if not self.basis.strip():
                raise ValueError("a contractual late-payment rate needs basis (the clause or law it rests on)")
        elif self.annual_rate_percent is not None:
            raise ValueError(f"scheme {self.scheme} takes its rate from the reference-rate table: "
                             "remove annual_rate_percent, or use scheme: contractual")
        return self


_WEEKDAYS = {"mon": 1, "tue": 2, "wed": 3, "thu": 4, "fri": 5, "sat": 6, "sun": 7}


class ContactCalendar(PolicyModel):
    """When debtors may be contacted, in each debtor's own timezone and country."""

    business_days: frozenset[int] = Field(default=frozenset({1, 2, 3, 4, 5}), description="ISO weekdays, or mon..sun in YAML")
    observe_public_holidays: bool = Field(default=True, description="the debtor country's public holidays")
    contact_hours_start: time = time(9, 0)
    contact_hours_end: time = time(17, 30)

    @field_validator("business_days", mode="before")
    @classmethod
    def _weekday_names(cls, value: object) -> object:
        if isinstance(value, (list, tuple, set, frozenset)):
            names = [str(day).lower()[:3] if not isinstance(day, int) else day for day in value]
            unknown = [day for day in names if not isinstance(day, int) and day not in _WEEKDAYS]
            if unknown:
                raise ValueError(f"unknown weekdays {unknown}: use mon, tue, wed, thu, fri, sat, sun")
            return frozenset(day if isinstance(day, int) else _WEEKDAYS[day] for day in names)
        return value

    @model_validator(mode="after")
    def _sensible(self) -> ContactCalendar:
        if not self.business_days or not self.business_days <= set(range(1, 8)):
            raise ValueError("business_days needs at least one weekday (1-7 or mon..sun)")
        if self.contact_hours_start >= self.contact_hours_end:
            raise ValueError("contact_hours_start must be before contact_hours_end")
        return self


class DemandLetterTerms(PolicyModel):
    deadline_days: int = Field(default=14, ge=1, le=90)


class Agency(PolicyModel):
    name: str = Field(min_length=1)
    email: str = Field(pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
    language: str = Field(default="en", description="the language of the referral email (not the debtor's)")
    # New in default v4 (issue #20): what a finance team checks before choosing an agency. A policy whose referral
    # terms `require_agency_checks` refuses a referral (a task for a person) while any of them is missing.
    licence: str = Field(default="", max_length=200, description="licence or registration (authority and number)")
    insurance: str = Field(default="", max_length=200, description="professional indemnity insurance (insurer, cover)")
    regions: tuple[str, ...] = Field(default=(), description="ISO 3166-1 countries the agency collects in")
    fees: str = Field(default="", max_length=200, description="what the agency charges (e.g. 15% of the amount recovered)")

    def missing_checks(self) -> list[str]:
        return [name for name in ("licence", "insurance", "regions", "fees") if not getattr(self, name)]


class ReferralTerms(PolicyModel):
    """When a debt goes to the collection agency, and which agency."""

    agency: Agency | None = Field(default=None, description="notified by email with the referral package attached")

    min_amount: dict[str, int] = Field(default_factory=dict,
                                       description="per ISO 4217 currency, minor units; below it a small-claims or write-off task opens")
    notice_period_days: int = Field(default=14, ge=0, le=180, description="a final notice must precede referral by this much")
    # New in default v4: off for the versions published before (their agencies name no licence, insurance...).
    require_agency_checks: bool = Field(default=False, description="refer only to an agency whose licence, insurance, "
                                                                   "regions and fees are recorded")


class UndeliverableTerms(PolicyModel):
    """What a step does when no email address of the debtor reaches them any more (a permanent bounce or a
    complaint, and no deliverable escalation contact)."""

    # A letter by default: the debtor still hears from us (a demand that never reaches them protects nobody,
    # and a blocked final notice holds up the referral), and a person posts each letter, so a wrong one is
    # caught before it goes out. "task" blocks the contact and asks a person to fix the debtor's data.
    fallback: Literal["letter", "task"] = Field(
        default="letter", description="letter: the step's message as a PDF letter and a task to post it "
                                      "(if the postal address is complete); task: blocked, with a task")


# The stages whose steps may be covered by a message another invoice of the customer carries.
_MESSAGE_STAGES = tuple(Stage)


class Consolidation(PolicyModel):
    """One message per customer (issue #15): when an invoice's message falls due, the customer's other open
    invoices whose next message falls due within `window_days` are covered by it. The most escalated
    invoice carries the message (its template and tone); the message lists the customer's open invoices.
    Off by default: a policy version published before this setting existed keeps one message per invoice."""

    enabled: bool = Field(default=False, description="one message per customer; off: one message per invoice")
    window_days: int = Field(default=7, ge=1, le=30,
                             description="another invoice's next message is covered when it falls due within this many days")
    coming_due: bool = Field(default=True, description="list not-yet-due invoices falling due within the window as "
                                                       "'coming due' (their courtesy reminder is covered)")
    holds: Literal["list", "omit"] = Field(
        default="list", description="list: a held invoice (dispute, promise, plan) is listed as on hold, never asked "
                                    "for; omit: it is left out of the message. Either way its hold is never broken")
    currencies: Literal["message_per_currency", "separate_totals"] = Field(
        default="message_per_currency",
        description="message_per_currency: a message lists one currency; separate_totals: a reminder may list several, "
                    "each with its own total (a demand letter or referral always claims in one currency)")
    stages: frozenset[Stage] = Field(default=frozenset(_MESSAGE_STAGES),
                                     description="the stages whose steps may be covered by another invoice's message")
    attach_statement: frozenset[Stage] = Field(
        default=frozenset(), description="the stages whose message attaches the statement of account (PDF)")
    max_invoices: int = Field(default=25, ge=2, le=100,
                              description="at most this many invoices listed in one message (the most escalated first)")

    @field_validator("stages", "attach_statement", mode="before")
    @classmethod
    def _stage_names(cls, value: object) -> object:
        if isinstance(value, (list, tuple, set, frozenset)):
            known = {stage.value for stage in Stage}
            unknown = sorted(str(v) for v in value if (v.value if isinstance(v, Stage) else v) not in known)
            if unknown:
                raise ValueError(f"unknown stages {unknown}: use {', '.join(s.value for s in Stage)}")
        return value

    @model_validator(mode="after")
    def _sensible(self) -> Consolidation:
        if self.enabled and not self.stages:
            raise ValueError("consolidation is enabled but no stage may be covered: name stages, or set enabled: false")
        return self


class OnReply(PolicyModel):
    """What a debtor's reply does (issue #17, docs/replies.md): a person's reply pauses automated messages to that
    customer until a person has read it (its `read_reply` task handled), at most `pause_business_days`; an
    out-of-office that names a return date may defer the next message to it. Off for a policy version published before
    this setting existed: a reply is logged and gets its task, and nothing waits for it."""

    pause_business_days: int = Field(default=0, ge=0, le=20, description="a person's reply pauses automated messages to "
                                     "the customer for at most this many business days, until its task is handled; 0: no pause")
    defer_to_return_date: bool = Field(default=False, description="an out-of-office naming a return date defers the "
                                       "customer's next message to that day (at most max_defer_days ahead)")
    max_defer_days: int = Field(default=30, ge=1, le=90, description="an out-of-office's return date further ahead than "
                                "this is not waited for")
class PortalTerms(PolicyModel):
    """The debtor's own page (issue #16): signed links in every message, and what a debtor may do there.
    Off by default: a policy version published before this setting existed sends no links and opens no page."""

    enabled: bool = Field(default=False, description="messages carry the debtor's portal link; off: no link, no page")
    link_expiry_days: int = Field(default=30, ge=1, le=365, description="a link works this many days after it was made")
    promise_max_days: int = Field(default=30, ge=1, le=180,
                                  description="a debtor may promise to pay at most this many days ahead")
    plan_min_instalments: int = Field(default=2, ge=2, le=24)
    plan_max_instalments: int = Field(default=6, ge=2, le=24)
    plan_max_days: int = Field(default=180, ge=7, le=730, description="the last instalment falls within this many days")
    auto_accept_plan_up_to: dict[str, int] = Field(
        default_factory=dict, description="a proposed plan for a balance up to this (minor units, per currency) is "
                                          "agreed at once; above it, or in another currency, a person approves it")
    paid_months: int = Field(default=6, ge=0, le=36, description="invoices paid in this many months are listed as paid")
    link_requests_per_day: int = Field(default=3, ge=1, le=20,
                                       description="fresh links sent per customer per day (to the billing address on file)")

    @model_validator(mode="after")
    def _sensible(self) -> PortalTerms:
        if self.plan_min_instalments > self.plan_max_instalments:
            raise ValueError("plan_min_instalments is more than plan_max_instalments")
        return self


class Policy(PolicyModel):
    """A collections policy version. Published versions are stored as their YAML and read back with this
    model, so a field added later takes its default for every version published before it: a new field's
    default must keep the behaviour those versions had (minimum_contact_gap_days: 0, not the 2 of default v2)."""

    policy_id: str = Field(pattern=r"^[a-z0-9-]{1,40}$")
    version: int = Field(ge=1)
    name: str
    description: str = ""
    contact_time: time = Field(default=time(10, 0), description="local time in the debtor's timezone")
    default_timezone: str = "UTC"
    creditor: Creditor
    late_payment: LatePayment | None = None
    demand_letter: DemandLetterTerms = DemandLetterTerms()
    calendar: ContactCalendar = ContactCalendar()
    referral: ReferralTerms = ReferralTerms()
    undeliverable: UndeliverableTerms = UndeliverableTerms()
    promise_grace_days: int = Field(default=3, ge=0, le=30, description="days after a promised date before a broken promise escalates")
    # Across all of a customer's invoices: a message due sooner waits (it moves, it is not dropped). Call tasks
    # do not count (a person decides when to call, and a policy may pair a call with a reminder).
    minimum_contact_gap_days: int = Field(
        default=0, ge=0, le=30,
        description="never two messages (email, letter, referral notice) to one customer within this many days, across its invoices")
    # Card-charged invoices (Stripe charge_automatically, Chargebee auto collection) are the platform's to retry.
    chase_card_invoices_after_platform_retries: bool = Field(
        default=False, description="also chase a card-charged invoice once the platform has stopped retrying it")
    # New in default v3. A version published before it reads back with the default: off, one message per invoice.
    consolidation: Consolidation = Consolidation()
    # New in default v4 (issue #20, docs/payment-history.md). A version published before it reads back off.
    risk: RiskRules = RiskRules()
    early_payment_discount: dict[str, EarlyPaymentTerms] = Field(
        default_factory=dict, description="segment -> the discount for paying early (new in default v4; none before)")
    # New in default v4. A version published before it reads back with the default: replies logged, nothing paused.
    on_reply: OnReply = OnReply()
    # New in default v4. A version published before it reads back with the default: off, no links and no page.
    portal: PortalTerms = PortalTerms()
    default_segment: str = "standard"
    segments: dict[str, Segment] = Field(min_length=1)

    @field_validator("default_timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        if not known_timezone(value):
            raise ValueError(f"unknown timezone {value!r}")
        return value

    @model_validator(mode="after")
    def _default_segment_exists(self) -> Policy:
        if self.default_segment not in self.segments:
            raise ValueError(f"default_segment {self.default_segment!r} is not among the segments")
        for name, segment in self.segments.items():
            finals = [s.offset_days for s in segment.steps if s.stage is Stage.FINAL_NOTICE]
            for step in (s for s in segment.steps if s.channel is Channel.REFERRAL):
                if finals and step.offset_days - max(o for o in finals if o < step.offset_days) < self.referral.notice_period_days:
                    raise ValueError(f"segment {name}: referral {step.id!r} comes less than the notice period "
                                     f"({self.referral.notice_period_days} days) after its final notice")
        unknown = sorted((set(self.risk.segments.values()) | set(self.early_payment_discount)) - set(self.segments))
        if unknown:
            raise ValueError(f"risk.segments or early_payment_discount name segments this policy does not have: {', '.join(unknown)}")
        if not self.calendar.contact_hours_start <= self.contact_time <= self.calendar.contact_hours_end:
            raise ValueError(f"contact_time {self.contact_time} is outside the calendar's contact hours")
        return self

    @property
    def contact_gap(self) -> timedelta:
        return timedelta(days=self.minimum_contact_gap_days)

    def segment_for(self, segment: str) -> Segment:
        return self.segments.get(segment) or self.segments[self.default_segment]

    def step(self, segment: str, step_id: str) -> Step:
        for step in self.segment_for(segment).steps:
            if step.id == step_id:
                return step
        raise KeyError(f"policy {self.policy_id} v{self.version} has no step {step_id!r}")


# Limits a policy source meets before it is loaded (docs/input-limits.md): the default policy is about
# 6,000 characters nesting 5 deep. PyYAML's loader recurses per level, and an alias ("*name") can repeat a
# whole subtree, so a deep or self-multiplying document is refused while it is still a stream of events.
MAX_POLICY_SOURCE_CHARS = 100_000
MAX_POLICY_DEPTH = 20


def check_policy_source(text: str) -> None:
    """ValueError when a policy source is too long, nests too deep or uses aliases; YAMLError when its
    syntax is broken before that. Reads YAML events one at a time (PyYAML's parser does not recurse)."""
    import yaml  # lazily: not part of a handler's cold start (issue #19)

    if len(text) > MAX_POLICY_SOURCE_CHARS:
        raise ValueError(f"a policy source has at most {MAX_POLICY_SOURCE_CHARS} characters (this one has {len(text)})")
    depth = 0
    for event in yaml.parse(text, Loader=yaml.SafeLoader):
        if isinstance(event, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
            depth += 1
            if depth > MAX_POLICY_DEPTH:
                raise ValueError(f"a policy nests at most {MAX_POLICY_DEPTH} levels deep")
        elif isinstance(event, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
            depth -= 1
        elif isinstance(event, yaml.AliasEvent):
            raise ValueError("a policy may not use YAML aliases (*name): write each value out")


def parse_policy_yaml(text: str) -> Policy:
    import yaml

    check_policy_source(text)
    data = yaml.safe_load(text)
    if not isinstance(data, dict):
        raise ValueError("a policy file must hold a mapping")
    return Policy.model_validate(data)


def load_policy_file(path: str | Path) -> Policy:
    return parse_policy_yaml(Path(path).read_text(encoding="utf-8"))
