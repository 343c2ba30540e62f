"""The dunning workflow's task: re-read the invoice, act on what is due, say what comes next."""

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

from arrears.adapters.tracing import traced
from arrears.adapters.settings import get_settings
from arrears.wiring import dunning_ports, workflows
from arrears.usecases.workflow_steps import WorkflowRequest, handle_workflow_request

logger = Logger()
metrics = Metrics(namespace="Arrears")


@logger.inject_lambda_context
@traced
@metrics.log_metrics
def lambda_handler(event: dict, context) -> dict:
    request = WorkflowRequest.model_validate(event)  # what Powertools' event_parser did, without its import
    logger.append_keys(invoice_id=request.invoice_id, action=request.action)
    if request.action == "record_failure":
        # The whole cause (with its stack trace) stays here; the contact log keeps its type and a short message.
        logger.error("workflow step failed", extra={"failure": request.error})
    result = handle_workflow_request(request, get_settings().default_policy_id, dunning_ports(), workflows())
    logger.info("workflow step done", extra={"result": result})
    metrics.add_metric(name=f"Workflow_{request.action}", unit=MetricUnit.Count, value=1)
    return result
