"""The dunning workflow's task: re-read the invoice, act on what is due, say what comes next."""

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.parser import event_parser

from arrears.adapters.settings import get_settings
from arrears.wiring import dunning_ports, workflows
from arrears.usecases.workflow_steps import WorkflowRequest, handle_workflow_request

logger = Logger()
tracer = Tracer()
metrics = Metrics(namespace="Arrears")


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
@event_parser(model=WorkflowRequest)
def lambda_handler(request: WorkflowRequest, context) -> dict:
    logger.append_keys(invoice_id=request.invoice_id, action=request.action)
    if request.action == "record_failure":
        # The whole cause (with its stack trace) stays here; the contact log keeps its type and a short message.
        logger.error("workflow step failed", extra={"failure": request.error})
    result = handle_workflow_request(request, get_settings().default_policy_id, dunning_ports(), workflows())
    logger.info("workflow step done", extra={"result": result})
    metrics.add_metric(name=f"Workflow_{request.action}", unit=MetricUnit.Count, value=1)
    return result
