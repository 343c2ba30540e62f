"""The finance API's request and response bodies (what /openapi.json describes)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field

from arrears.domain.clock import plausible_date
from arrears.domain.debtor_data import email_or_error

Day = Annotated[date, AfterValidator(plausible_date)]
Moment = Annotated[datetime, AfterValidator(plausible_date)]  # a query's moment (the use case asks for its timezone)
AwareMoment = Annotated[AwareDatetime, AfterValidator(plausible_date)]


# One plain, valid address (email-validator, no DNS), stored in the form it is mailed to; else a 422.
Email = Annotated[str, Field(max_length=254, json_schema_extra={"format": "email"}), AfterValidator(email_or_error)]

CurrencyCode = Annotated[str, Field(pattern=r"^[A-Z]{3}$")]
MinorUnits = Annotated[int, Field(ge=0, le=10**13)]


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ErrorBody(BaseModel):
    error: str = Field(description="machine-readable reason, e.g. unknown_invoice, already_on_hold, invalid_request")
    message: str
    details: list[dict[str, Any]] | None = None


_ERROR_RESPONSES = {400: "Malformed request", 404: "Unknown id", 409: "Does not fit the invoice's current state",
                    413: "Body too large", 422: "Invalid value (the body says which)"}


def with_error_responses(document: dict[str, Any]) -> dict[str, Any]:
    """Every operation answers errors with ErrorBody (not Powertools' default validation shape)."""
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    schemas["ErrorBody"] = ErrorBody.model_json_schema()
    schemas.pop("HTTPValidationError", None)
    schemas.pop("ValidationError", None)
    content = {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}}
    for item in document.get("paths", {}).values():
        for operation in item.values():
            for status, description in _ERROR_RESPONSES.items():
                operation["responses"][str(status)] = {"description": description, "content": content}
    return document


Reason = Field(default="", max_length=500, description="why, for the record")


# --- requests ----------------------------------------------------------------------------------
class PauseRequest(Body):
    until: AwareMoment = Field(description="no contact before this moment")
    reason: str = Reason


class ReasonRequest(Body):
    reason: str = Reason


class DisputeRequest(Body):
    reason: str = Field(min_length=1, max_length=500, description="what the debtor contests")


class PromiseRequest(Body):
    promised_on: Day = Field(description="the date the debtor says they will pay by")
    reason: str = Reason


class InstalmentRequest(Body):
    due_on: Day
    amount: int = Field(gt=0, le=10**13, description="minor units")


class PaymentPlanRequest(Body):
    instalments: list[InstalmentRequest] = Field(min_length=2, max_length=24,
                                                 description="in date order; they must add up to the balance")
    reason: str = Reason


class SkipRequest(Body):
    step_id: str = Field(pattern=r"^[a-z0-9_]{1,40}$")
    reason: str = Reason


class NoteRequest(Body):
    text: str = Field(min_length=1, max_length=4000)


class CustomerChanges(Body):
    """Each field given replaces the billing platform's value (null clears the override)."""

    email: Email | None = None
    escalation_email: Email | None = None
    language: str | None = Field(default=None, pattern=r"^[a-z]{2}([-_][A-Za-z]{2})?$")
    timezone: str | None = Field(default=None, max_length=64)
    segment: str | None = Field(default=None, pattern=r"^[a-z0-9_-]{1,40}$")
    policy_id: str | None = Field(default=None, pattern=r"^[a-z0-9-]{1,40}$",
                                  description="the customer's own published policy, for its invoices that start from now")
    account_owner: str | None = Field(default=None, min_length=1, max_length=200,
                                      description="who owns the relationship: call and manual tasks name them")
    phone: str | None = Field(default=None, min_length=1, max_length=40,
                              description="the debtor's number in international form (e.g. +44 20 7946 0958): call tasks show it")
    credit_limits: dict[CurrencyCode, MinorUnits] | None = Field(
        default=None, max_length=20, description="the customer's credit limit per ISO 4217 currency, in minor units "
                                                 "(over the policy's default for its risk band); {} or null clears them")


class InsolvencyRequest(Body):
    notice: str = Field(min_length=1, max_length=1000, description="the insolvency notice (court, case number, administrator)")


class PolicyVersionRequest(Body):
    source: str = Field(min_length=1, max_length=100_000, description="the policy as YAML (as in policies/*.yaml)")


class DryRunRequest(Body):
    version: int | None = Field(default=None, ge=1, description="a published version (default: the current one)")
    source: str | None = Field(default=None, max_length=100_000, description="an unpublished draft, as YAML")
    invoice_id: str | None = Field(default=None, min_length=1, max_length=200, description="one invoice; default: the open book")


# --- responses ---------------------------------------------------------------------------------
class InstalmentView(BaseModel):
    due_on: date
    amount: int


class HoldView(BaseModel):
    kind: str
    since: datetime
    until: datetime | None = Field(description="for a payment plan: its next checkpoint")
    reason: str
    actor: str
    promised_on: date | None = None
    instalments: list[InstalmentView] = []
    plan_balance: int | None = None


class PaymentBehaviourView(BaseModel):
    """How the customer has paid: sums over its paid invoices, updated as each settles (docs/payment-history.md)."""

    invoices_paid: int
    paid_late: int = Field(description="paid after the due date")
    share_paid_late_percent: str | None = Field(description="one decimal; null before any paid invoice")
    average_days_beyond_terms: str | None = Field(description="days paid after the due date, on average (on time: 0)")
    recent_days_beyond_terms: str | None = Field(description="the same over the newest paid invoices (recent_invoices)")
    recent_invoices: int
    disputed: int = Field(description="paid invoices that were disputed")
    disputed_share_percent: str | None
    broken_promises: int
    broken_payment_plans: int
    trend: str = Field(description="worsening | improving | steady | not_enough_history")


class InvoiceSummary(BaseModel):
    invoice_id: str
    provider: str
    number: str
    customer_id: str
    currency: str
    amount_due: int = Field(description="minor units")
    amount_remaining: int = Field(description="minor units")
    issued_at: datetime
    due_at: datetime
    status: str
    state: Literal["open", "closed"]
    stage: str | None
    aging: str | None = Field(description="aging bucket today (open invoices)")
    days_past_due: int
    next_action_at: datetime | None
    hold: HoldView | None
    policy_id: str | None
    policy_version: int | None
    segment: str | None = Field(default=None, description="the segment of the policy the invoice started in (kept when "
                                                          "the customer's segment changes); null: pinned before segments "
                                                          "were recorded, it follows the customer's")
    customer_risk_band: str | None = Field(default=None, description="the customer's risk band as last recorded (when a "
                                                                     "settlement or an invoice's start changed it); null: "
                                                                     "none given yet. GET /customers/{id} says why")
    customer_payment_behaviour: PaymentBehaviourView | None = Field(
        default=None, description="how the customer has paid (as GET /customers/{id}); null: no invoice of it paid yet")


class InvoiceList(BaseModel):
    invoices: list[InvoiceSummary]
    next_cursor: str | None = Field(description="pass as ?cursor= for the next page; absent at the end")


class ArtefactLink(BaseModel):
    kind: str
    uri: str
    sha256: str
    download_url: str | None = Field(description="presigned, valid for 15 minutes")


class TimelineEntry(BaseModel):
    seq: int
    at: datetime
    kind: str
    actor: str
    channel: str | None
    step_id: str | None
    stage: str | None
    recipient: str | None
    subject: str | None
    delivery: str | None = Field(description="for an email: sent, delivered, bounced or complained")
    artefacts: list[ArtefactLink]
    details: dict[str, Any]


class PlannedStepView(BaseModel):
    step_id: str
    stage: str
    channel: str
    at: datetime


class InvoiceDetail(BaseModel):
    invoice: InvoiceSummary
    customer_name: str | None
    timeline: list[TimelineEntry]
    planned: list[PlannedStepView]


class ActionResult(BaseModel):
    invoice_id: str
    action: str
    outcome: dict[str, Any]


class CreditLimitView(BaseModel):
    limit: int = Field(description="minor units")
    exposure: int = Field(description="the open balance in this currency, minor units")
    over_limit: bool
    source: str = Field(description="customer: the finance team's own; band: the policy's default for the risk band")


class CustomerView(BaseModel):
    customer_id: str
    provider: str
    name: str
    email: str
    escalation_email: str
    language: str
    timezone: str
    segment: str
    policy_id: str | None = Field(description="the customer's own policy; null: the default policy")
    account_owner: str
    phone: str = Field(description="the number call tasks show (E.164, or as the billing platform wrote it); empty: none")
    address: dict[str, str]
    finance_settings: dict[str, Any] = Field(description="the finance team's values over the billing platform's")
    undeliverable: list[str]
    open_invoices: int
    open_balance: dict[str, int] = Field(description="per currency, minor units")
    payment_behaviour: PaymentBehaviourView
    risk_band: str | None = Field(description="under the customer's current policy's risk rules; null: rules off or "
                                              "not enough history")
    risk_band_reason: str = Field(description="why: the figures and the rules applied")
    credit_limits: dict[str, CreditLimitView] = Field(description="per currency")


class StatementCurrencyView(BaseModel):
    currency: str
    open_invoices: int
    balance: int = Field(description="minor units; never summed across currencies")
    paid: int
    credited: int
    on_hold: int = Field(description="of the balance, on invoices on hold (not asked for)")
    aging: dict[str, int] = Field(description="balance per aging bucket (current, 1-30, 31-60, 61-90, 90+), minor units")


class StatementResult(BaseModel):
    customer_id: str
    as_of: date = Field(description="the customer's calendar day the statement is drawn up for")
    language: str
    currencies: list[StatementCurrencyView]
    statement: ArtefactLink = Field(description="the statement of account PDF in the letters bucket")


class PolicyDocumentResult(BaseModel):
    policy_id: str
    version: int = Field(description="the version the document was made from (it states exactly its steps, rates and fees)")
    audience: str = Field(description="customer (terms, reminders, interest and fees, disputes, contact) or staff (every "
                                      "segment, step, hold rule, threshold and risk rule)")
    language: str
    format: str
    document: ArtefactLink = Field(description="the document in the letters bucket")


class InsolvencyResult(BaseModel):
    customer_id: str
    invoices_held: list[str]


class PortalLinksRevoked(BaseModel):
    customer_id: str
    generation: int = Field(description="the customer's link generation now: links of an earlier one no longer open")


class PolicySummary(BaseModel):
    policy_id: str
    current_version: int


class PolicyList(BaseModel):
    policies: list[PolicySummary]


class PolicyVersion(BaseModel):
    policy_id: str
    version: int
    name: str
    source: str
    current: bool


class PolicyVersions(BaseModel):
    policy_id: str
    versions: list[PolicyVersion]


class DryRunContact(BaseModel):
    at: datetime
    step_id: str | None
    stage: str | None
    kind: str
    channel: str | None


class DryRunChange(BaseModel):
    change: Literal["added", "removed", "moved"] = Field(description="against the plan of the version the invoice is on")
    step_id: str
    stage: str | None
    at: datetime | None = Field(description="when the tried version makes the contact (None: it does not)")
    was_at: datetime | None = Field(description="when the invoice's current plan makes it (None: it does not)")


class DryRunInvoice(BaseModel):
    invoice_id: str
    contacts: list[DryRunContact] = Field(description="from the invoice's real progress on: never a step already done")
    changes: list[DryRunChange]


class DryRunLeftOut(BaseModel):
    invoice_id: str
    reason: str = Field(description="on hold (dispute, promise, pause, payment plan) or insolvent: nothing is planned")


class DryRunResult(BaseModel):
    policy_id: str
    version: int | None = Field(description="None for an unpublished draft")
    invoices_simulated: int
    contacts_by_stage: dict[str, int]
    invoices: list[DryRunInvoice]
    left_out: list[DryRunLeftOut]


class DryRunJob(BaseModel):
    """A dry run over the open book, run asynchronously (POST .../dry-run without an invoice; GET /dry-runs/{job_id})."""

    job_id: str
    status: Literal["running", "done", "failed"]
    policy_id: str
    version: int | None = Field(description="None for an unpublished draft")
    started_at: datetime
    actor: str = Field(description="the IAM principal that started it")
    finished_at: datetime | None = None
    error: str | None = Field(default=None, description="failed: the refusal's code, or timed_out")
    invoices_simulated: int | None = None
    contacts_by_stage: dict[str, int] | None = None
    left_out: int | None = Field(default=None, description="invoices on hold or insolvent: nothing planned")
    result_url: str | None = Field(default=None, description="done: a presigned link (15 min) to the whole DryRunResult (JSON)")


class AgingReport(BaseModel):
    as_of: datetime
    currencies: dict[str, dict[str, dict[str, int]]] = Field(description="currency -> bucket -> {count, amount}")


class CurrencyCollection(BaseModel):
    currency: str
    beginning_receivables: int
    credit_sales: int
    ending_receivables: int
    ending_current_receivables: int
    days: int
    dso_days: float | None
    cei_percent: float | None
    collected_count: int
    average_days_to_collect: float | None
    average_days_late_at_payment: float | None


class CollectionReport(BaseModel):
    start: datetime
    end: datetime
    currencies: list[CurrencyCollection]


class StageReport(BaseModel):
    start: datetime
    end: datetime
    stages: dict[str, dict[str, Any]]


class TaskView(BaseModel):
    task_id: str
    invoice_id: str
    kind: str
    due_at: datetime
    details: dict[str, Any]


class TaskList(BaseModel):
    tasks: list[TaskView]


class TaskDoneRequest(Body):
    note: str = Field(default="", max_length=2000,
                      description="what was done, for the record (e.g. 'posted first class', 'Dana in AP: paying Friday')")


class ClosedTask(TaskView):
    status: str
    closed_at: datetime
    closed_by: str
    note: str
