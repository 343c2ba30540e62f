"""Aborted executions: Arrears aborts a workflow on purpose when its invoice is paid, voided, written off or its
customer insolvent, marking the stop; any other abort leaves an open invoice unchased and must reach the alarm
topic. The template's EventBridge pattern is matched here by moto's implementation of EventBridge matching."""

from __future__ import annotations

import json
from pathlib import Path

from botocore.awsrequest import AWSResponse
from moto.events.models import EventPattern
from samtranslator.yaml_helper import yaml_parse

from arrears.adapters import aws
from arrears.adapters.step_functions import StepFunctionsWorkflows
from arrears_local.runtime import LocalRuntime
from tests.integration.conftest import START

ROOT = Path(__file__).resolve().parents[2]
INVOICE = "in_1QfR7bLkdIwHu7ixm0Z5d3Xq"


def _rule_pattern(state_machine_arn: str) -> EventPattern:
    rule = yaml_parse((ROOT / "template.yaml").read_text())["Resources"]["StoppedWorkflowsRule"]["Properties"]
    pattern = json.loads(json.dumps(rule["EventPattern"]))
    pattern["detail"]["stateMachineArn"] = [state_machine_arn]
    return EventPattern(None, pattern)


def _status_change(state_machine_arn: str, status: str, error: str | None, cause: str | None = None) -> dict:
    """The event Step Functions sends to EventBridge when an execution ends."""
    return {"version": "0", "source": "aws.states", "detail-type": "Step Functions Execution Status Change",
            "account": "123456789012", "region": "us-east-1",
            "detail": {"executionArn": f"{state_machine_arn}:{INVOICE}", "stateMachineArn": state_machine_arn,
                       "status": status, "error": error, "cause": cause}}


def test_a_stop_by_arrears_is_quiet_and_any_other_abort_alarms():
    with LocalRuntime(start=START) as stack:
        # moto's stop_execution drops error and cause (and fails on an execution its engine has not yet
        # picked up): the request Arrears sends is recorded and answered as Step Functions answers it.
        sent: list[dict] = []

        def record(params, **_):
            sent.append(json.loads(params["body"]))
            return AWSResponse("", 200, {}, None), {
                "stopDate": stack.now, "ResponseMetadata": {"HTTPStatusCode": 200}}

        aws.client("stepfunctions").meta.events.register("before-call.states.StopExecution", record)
        workflows = StepFunctionsWorkflows(stack.state_machine_arn)
        pattern = _rule_pattern(stack.state_machine_arn)
        # Given an invoice's running workflow that Arrears stops because the invoice was paid
        workflows.start(INVOICE)
        workflows.stop(INVOICE, "invoice paid")
        assert len(sent) == 1 and sent[0]["executionArn"] == workflows.execution_arn(INVOICE)
        # Then the stop it made is marked, and its status change does not reach the alarm topic
        assert sent[0]["error"] == "Arrears.Stopped" and sent[0]["cause"] == "invoice paid"
        arn = stack.state_machine_arn
        assert not pattern.matches_event(_status_change(arn, "ABORTED", sent[0]["error"], sent[0]["cause"]))
        # But an abort by a person in the console (no error) or by a script does
        assert pattern.matches_event(_status_change(arn, "ABORTED", None))
        assert pattern.matches_event(_status_change(arn, "ABORTED", "Operator.Cleanup", "reset"))
        # And executions that end otherwise are the other alarms' business
        assert not pattern.matches_event(_status_change(arn, "SUCCEEDED", None))
