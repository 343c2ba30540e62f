"""The finance team's REST API (IAM-authorised): see and steer every invoice, customer and policy.

Each route parses its request, calls one domain function and shapes the reply; the OpenAPI
document Powertools builds from these routes is served at /openapi.json (committed as
openapi/finance.json).
"""

from __future__ import annotations

import json
from datetime import date, datetime, timezone
from typing import Annotated, Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response, content_types
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError
from aws_lambda_powertools.event_handler.openapi.params import Path, Query
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit

from arrears.adapters.tracing import traced
from arrears.adapters.settings import get_settings
from arrears.usecases.finance import schemas as s
from arrears.usecases.finance.api import FinanceApi, error_status
from arrears.usecases.finance.views import AgingBucket
from arrears.domain.holds import ActionRefused
from arrears.ingestion.http_input import API_MAX_BODY_BYTES, BodyRefused, checked_text, raw_body
from arrears.domain.policy import Stage

logger = Logger()
metrics = Metrics(namespace="Arrears")
app = APIGatewayRestResolver(enable_validation=True, response_validation_error_http_code=500)
_api: FinanceApi | None = None


def finance() -> FinanceApi:
    global _api
    if _api is None:
        _api = FinanceApi.from_settings()
    return _api


def caller() -> str:
    """The IAM principal API Gateway authenticated (recorded with every action)."""
    identity = app.current_event.request_context.identity
    return identity.user_arn or identity.caller or "unknown-principal"


def _error(status: int, code: str, message: str, details: list | None = None) -> Response:
    body = s.ErrorBody(error=code, message=message, details=details).model_dump_json(exclude_none=True)
    return Response(status_code=status, content_type=content_types.APPLICATION_JSON, body=body)


@app.exception_handler(ActionRefused)
def refused(error: ActionRefused) -> Response:
    metrics.add_metric(name="ActionRefused", unit=MetricUnit.Count, value=1)
    return _error(error_status(error.code), error.code, error.message, error.details)


@app.exception_handler(Exception)
def unexpected(error: Exception) -> Response:
    # The trace goes to the function's log; the caller gets a JSON error without one (nor a file path).
    logger.exception("finance API request failed")
    return _error(500, "internal_error", "the request could not be completed; it is in the API's log")


@app.not_found
def unknown_route(_: Exception) -> Response:
    # API Gateway matched a route; Powertools did not (e.g. a path parameter it cannot read).
    return _error(404, "unknown_route", f"no route for {app.current_event.http_method} {app.current_event.path}")


@app.exception_handler(RequestValidationError)
def invalid_request(error: RequestValidationError) -> Response:
    details = [{"loc": [str(part) for part in e.get("loc", ())], "msg": str(e.get("msg", "")), "type": str(e.get("type", ""))}
               for e in error.errors()]
    return _error(422, "invalid_request", "the request does not match the API's schema", details)


# --- invoices ------------------------------------------------------------------------------------
@app.get("/invoices", summary="List invoices", tags=["invoices"])
def list_invoices(
    state: Annotated[str, Query(pattern="^(open|closed)$")] = "open",
    stage: Annotated[Stage | None, Query()] = None,
    customer_id: Annotated[str | None, Query(min_length=1, max_length=200)] = None,
    currency: Annotated[str | None, Query(pattern="^[A-Za-z]{3}$")] = None,
    aging: Annotated[AgingBucket | None, Query()] = None,
    next_action_before: Annotated[s.Moment | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=2000)] = None,
) -> s.InvoiceList:
    return finance().list_invoices(state=state, stage=stage, customer_id=customer_id, currency=currency, aging=aging,
                                   next_action_before=next_action_before, limit=limit, cursor=cursor)


@app.get("/invoices/<invoice_id>", summary="One invoice with its timeline and planned steps", tags=["invoices"])
def get_invoice(invoice_id: str) -> s.InvoiceDetail:
    return finance().invoice_detail(invoice_id)


@app.post("/invoices/<invoice_id>/pause", summary="Pause contacts until a date", tags=["actions"])
def pause(invoice_id: str, request: s.PauseRequest) -> s.ActionResult:
    return finance().pause(invoice_id, request, caller())


@app.post("/invoices/<invoice_id>/resume", summary="Resume: end a pause, a promise or a payment plan", tags=["actions"])
def resume(invoice_id: str, request: s.ReasonRequest) -> s.ActionResult:
    return finance().release(invoice_id, "resume", request.reason, caller())


@app.post("/invoices/<invoice_id>/dispute", summary="Open a dispute: no contact until resolved", tags=["actions"])
def open_dispute(invoice_id: str, request: s.DisputeRequest) -> s.ActionResult:
    return finance().open_dispute(invoice_id, request.reason, caller())


@app.post("/invoices/<invoice_id>/dispute/resolve", summary="Resolve the dispute; collection resumes",
          tags=["actions"])
def resolve_dispute(invoice_id: str, request: s.ReasonRequest) -> s.ActionResult:
    return finance().release(invoice_id, "resolve_dispute", request.reason, caller())


@app.post("/invoices/<invoice_id>/promise", summary="Record a promise to pay by a date", tags=["actions"])
def promise(invoice_id: str, request: s.PromiseRequest) -> s.ActionResult:
    return finance().promise(invoice_id, request, caller())


@app.post("/invoices/<invoice_id>/payment-plan", summary="Agree a payment plan: instalments with their own reminders",
          tags=["actions"])
def payment_plan(invoice_id: str, request: s.PaymentPlanRequest) -> s.ActionResult:
    return finance().payment_plan(invoice_id, request, caller())


@app.post("/invoices/<invoice_id>/escalate", summary="Send the next pending step now", tags=["actions"],
          responses={200: {"description": "Escalated: the step was sent"},
                     202: {"description": "In progress: still sending when the API could wait no longer; "
                                          "the invoice's timeline shows it once done"}})
def escalate(invoice_id: str, request: s.ReasonRequest) -> Response[s.ActionResult]:
    result = finance().escalate(invoice_id, request.reason, caller(), app.current_event.request_context.request_id)
    if result.outcome.get("in_progress"):
        return Response(status_code=202, content_type=content_types.APPLICATION_JSON, body=result)
    return Response(status_code=200, content_type=content_types.APPLICATION_JSON, body=result)


@app.post("/invoices/<invoice_id>/skip", summary="Leave one pending step out", tags=["actions"])
def skip(invoice_id: str, request: s.SkipRequest) -> s.ActionResult:
    return finance().skip(invoice_id, request, caller())


@app.post("/invoices/<invoice_id>/write-off", summary="Write the invoice off; collection stops", tags=["actions"])
def write_off(invoice_id: str, request: s.ReasonRequest) -> s.ActionResult:
    return finance().write_off(invoice_id, request.reason, caller())


@app.post("/invoices/<invoice_id>/notes", summary="Add a note to the record", tags=["actions"])
def add_note(invoice_id: str, request: s.NoteRequest) -> s.ActionResult:
    return finance().add_note(invoice_id, request.text, caller())


# --- customers -----------------------------------------------------------------------------------
@app.get("/customers/<customer_id>", summary="A customer, its contacts and open balance", tags=["customers"])
def get_customer(customer_id: str) -> s.CustomerView:
    return finance().customer(customer_id)


@app.patch("/customers/<customer_id>", summary="Set contacts, language, timezone or segment", tags=["customers"])
def update_customer(customer_id: str, request: s.CustomerChanges) -> s.CustomerView:
    return finance().update_customer(customer_id, request, caller())


@app.get("/customers/<customer_id>/statement", summary="The statement of account (PDF, a presigned link)",
         tags=["customers"])
def customer_statement(customer_id: Annotated[str, Path(min_length=1, max_length=200, pattern=r"^[^\x00-\x1f\x7f]+$")],
                       ) -> s.StatementResult:
    return finance().statement(customer_id)


@app.post("/customers/<customer_id>/insolvency", summary="Record an insolvency notice: collection stops",
          tags=["customers"])
def insolvency(customer_id: str, request: s.InsolvencyRequest) -> s.InsolvencyResult:
    return finance().insolvency(customer_id, request.notice, caller())


@app.post("/customers/<customer_id>/portal-links/revoke", summary="Revoke the customer's portal links",
          tags=["customers"])
def revoke_portal_links(customer_id: str, request: s.ReasonRequest) -> s.PortalLinksRevoked:
    return finance().revoke_portal_links(customer_id, request.reason, caller())


# --- policies ------------------------------------------------------------------------------------
@app.get("/policies", summary="Published policies", tags=["policies"])
def list_policies() -> s.PolicyList:
    return finance().policy_list()


@app.get("/policies/<policy_id>", summary="The current version of a policy", tags=["policies"])
def get_policy(policy_id: str) -> s.PolicyVersion:
    return finance().policy(policy_id)


@app.get("/policies/<policy_id>/versions", summary="Every version of a policy", tags=["policies"])
def policy_versions(policy_id: str) -> s.PolicyVersions:
    return finance().policy_versions(policy_id)


@app.get("/policies/<policy_id>/document", summary="The readable policy (HTML or PDF, a presigned link)", tags=["policies"])
def policy_document(
    policy_id: str,
    audience: Annotated[str, Query(pattern="^(customer|staff)$")] = "customer",
    language: Annotated[str, Query(pattern="^(en|de|fr)$")] = "en",
    format: Annotated[str, Query(pattern="^(pdf|html)$")] = "pdf",
    version: Annotated[int | None, Query(ge=1, le=1_000_000)] = None,
    segment: Annotated[str | None, Query(pattern=r"^[a-z0-9_-]{1,40}$")] = None,
) -> s.PolicyDocumentResult:
    return finance().policy_document(policy_id, version, audience, language, format, segment)


@app.post("/policies/<policy_id>/versions", summary="Publish a new version (validated)", tags=["policies"], status_code=201)
def publish_policy(policy_id: str, request: s.PolicyVersionRequest) -> s.PolicyVersion:
    return finance().publish_policy(policy_id, request.source, caller())


@app.post("/policies/<policy_id>/dry-run", summary="What a version would do to one invoice or the open book",
          tags=["policies"],
          responses={200: {"description": "One invoice: the dry run's result"},
                     202: {"description": "The open book: a job is started; poll GET /dry-runs/{job_id}",
                           "content": {"application/json": {"model": s.DryRunJob}}}})
def dry_run(policy_id: str, request: s.DryRunRequest) -> Response[s.DryRunResult | s.DryRunJob]:
    if request.invoice_id:
        return Response(status_code=200, content_type=content_types.APPLICATION_JSON, body=finance().dry_run(policy_id, request))
    job = finance().start_dry_run(policy_id, request, caller())
    return Response(status_code=202, content_type=content_types.APPLICATION_JSON, body=job)


@app.get("/dry-runs/<job_id>", summary="A dry run over the open book: running, done (with its result) or failed",
         tags=["policies"])
def dry_run_job(job_id: str) -> s.DryRunJob:
    return finance().dry_run_job(job_id)


# --- reports and tasks ---------------------------------------------------------------------------
@app.get("/reports/aging", summary="Receivables by aging bucket and currency", tags=["reports"])
def aging_report(as_of: Annotated[s.Moment | None, Query()] = None) -> s.AgingReport:
    return finance().aging(as_of)


@app.get("/reports/collections", summary="DSO, CEI and days to collect over a period", tags=["reports"])
def collections_report(start: Annotated[s.Day, Query(alias="from")], end: Annotated[s.Day, Query(alias="to")]) -> s.CollectionReport:
    return finance().collections(_midnight(start), _midnight(end))


@app.get("/reports/stages", summary="Steps done and recoveries per stage over a period", tags=["reports"])
def stages_report(start: Annotated[s.Day, Query(alias="from")], end: Annotated[s.Day, Query(alias="to")]) -> s.StageReport:
    return finance().stages(_midnight(start), _midnight(end))


@app.get("/tasks", summary="Open tasks for people (calls, claims, data to complete)", tags=["tasks"])
def open_tasks() -> s.TaskList:
    return finance().tasks()


@app.post("/tasks/<task_id>/done", summary="Mark a task done (recorded in its invoice's log)", tags=["tasks"])
def complete_task(task_id: str, request: s.TaskDoneRequest) -> s.ClosedTask:
    return finance().complete_task(task_id, request.note, caller())


@app.get("/openapi.json", include_in_schema=False)
def openapi_document():  # no return annotation: it is not part of the document it serves
    return Response(status_code=200, content_type=content_types.APPLICATION_JSON, body=openapi_json())


def openapi_json() -> str:
    from aws_lambda_powertools.event_handler.openapi.models import APIKey, APIKeyIn

    from arrears.usecases.finance.api import OPENAPI_INFO

    # API Gateway's IAM authorisation: a SigV4 signature in the Authorization header.
    sigv4 = APIKey(name="Authorization", in_=APIKeyIn.header, description="AWS Signature Version 4 (IAM)",
                   **{"x-amazon-apigateway-authtype": "awsSigv4"})
    document = json.loads(app.get_openapi_json_schema(**OPENAPI_INFO, security_schemes={"sigv4": sigv4},
                                                      security=[{"sigv4": []}]))
    return json.dumps(s.with_error_responses(document))


def _midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=timezone.utc)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST, clear_state=True)
@traced
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    invoice_id = (event.get("pathParameters") or {}).get("invoice_id")
    if invoice_id:
        logger.append_keys(invoice_id=invoice_id)
    refused = _refused_body(event)
    return _with_cors(refused if refused is not None else app.resolve(event, context))


def _with_cors(reply: dict[str, Any]) -> dict[str, Any]:
    """The console's origin may read every answer (API Gateway's preflight allowed it; template.yaml's Cors)."""
    origin = get_settings().console_origin
    if origin:
        reply["headers"] = {**(reply.get("headers") or {}), "Access-Control-Allow-Origin": origin, "Vary": "Origin"}
    return reply


def _refused_body(event: dict[str, Any]) -> dict[str, Any] | None:
    """The proxy reply for a body refused before Powertools parses it (size, encoding, nesting), else None."""
    try:
        checked_text(raw_body(event), API_MAX_BODY_BYTES)
    except BodyRefused as refused:
        logger.warning("request body refused", extra={"error": refused.code})
        body = s.ErrorBody(error=refused.code, message=refused.message).model_dump_json(exclude_none=True)
        return {"statusCode": refused.status_code, "headers": {"Content-Type": content_types.APPLICATION_JSON}, "body": body,
                "isBase64Encoded": False}
    return None
