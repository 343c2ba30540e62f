"""Step Functions as the workflow engine (adapter): one execution per invoice, named after it
(arrears.adapters.execution_names: a valid name, whatever characters the provider's invoice id has)."""

from __future__ import annotations

import json

from arrears.adapters import aws
from arrears.adapters.execution_names import MAX_RENEWAL, execution_name, renewal_of


class StepFunctionsWorkflows:
    def __init__(self, state_machine_arn: str) -> None:
        self.state_machine_arn = state_machine_arn

    def execution_arn(self, invoice_id: str, renewal: int = 0) -> str:
        # arn:aws:states:region:account:stateMachine:machine -> ...:execution:machine:<execution name>
        prefix, _, name = self.state_machine_arn.rpartition(":stateMachine:")
        return f"{prefix}:execution:{name}:{execution_name(invoice_id, renewal)}"

    def successor(self, invoice_id: str, execution_arn: str) -> tuple[str, int]:
        """The execution that carries the invoice on after `execution_arn` (arrears.domain.renewal)."""
        renewal = renewal_of(invoice_id, execution_arn.rpartition(":")[2])
        return self.execution_arn(invoice_id, renewal + 1), renewal + 1

    def start_renewal(self, invoice_id: str, renewal: int) -> None:
        client = aws.client("stepfunctions")
        try:
            client.start_execution(stateMachineArn=self.state_machine_arn, name=execution_name(invoice_id, renewal),
                                   input=json.dumps({"invoice_id": invoice_id, "renewal": renewal}))
        except client.exceptions.ExecutionAlreadyExists:
            pass  # a retried renewal: its successor runs already

    def start(self, invoice_id: str) -> str | None:
        client = aws.client("stepfunctions")
        try:
            response = client.start_execution(
                stateMachineArn=self.state_machine_arn, name=execution_name(invoice_id), input=json.dumps({"invoice_id": invoice_id})
            )
        except client.exceptions.ExecutionAlreadyExists:
            return None  # a redelivered event: the invoice's workflow is already running or ran
        return response["executionArn"]

    def resume(self, task_token: str) -> None:
        client = aws.client("stepfunctions")
        try:
            client.send_task_success(taskToken=task_token, output=json.dumps({"resumed": True}))
        except (client.exceptions.TaskTimedOut, client.exceptions.TaskDoesNotExist, client.exceptions.InvalidToken):
            pass  # the workflow already moved on (its hold timed out and it re-read the invoice)

    def stop(self, invoice_id: str, reason: str) -> None:
        """Stop the invoice's running execution: the first, or a renewal carrying it on (each in turn, until a
        name that never ran; one describe per renewal, and a workflow renews once in about eleven months)."""
        client = aws.client("stepfunctions")
        for renewal in range(MAX_RENEWAL + 1):
            arn = self.execution_arn(invoice_id, renewal)
            try:
                description = client.describe_execution(executionArn=arn)
            except client.exceptions.ExecutionDoesNotExist:
                return
            if description["status"] == "RUNNING":
                # The error marks a stop Arrears meant (template.yaml's StoppedWorkflowsRule alarms on any other).
                client.stop_execution(executionArn=arn, error="Arrears.Stopped", cause=reason[:256])


class WorkflowFunction:
    """The workflow's Lambda, invoked directly for what a person asks outside the state machine's
    rhythm (escalate now), so that sending stays with the one function allowed to send."""

    # API Gateway answers 504 at 29 s: the invoke is given 20 s (and 2 s to connect), once. botocore's
    # retry after a read timeout would run the escalation a second time while the first still sends.
    READ_TIMEOUT_SECONDS = 20

    def __init__(self, function_name: str) -> None:
        self.function_name = function_name

    def escalate_now(self, invoice_id: str, actor: str, request_id: str | None = None) -> dict:
        """The workflow function's answer: {"escalated": ...}, {"refused": ...}, or {"in_progress": True}
        when it has not answered in time (it goes on; the same request asked again finds its result)."""
        from botocore.exceptions import ReadTimeoutError

        payload = {"action": "escalate_now", "invoice_id": invoice_id, "actor": actor,
                   **({"request_id": request_id} if request_id else {})}
        try:
            response = aws.single_attempt_client("lambda", self.READ_TIMEOUT_SECONDS).invoke(
                FunctionName=self.function_name, Payload=json.dumps(payload).encode())
        except ReadTimeoutError:
            return {"in_progress": True}
        payload = json.loads(response["Payload"].read() or b"null")
        if response.get("FunctionError") or not isinstance(payload, dict):
            raise RuntimeError(f"the workflow function failed to escalate {invoice_id}: {payload}")
        return payload


class DryRunFunction:
    """The dry-run function, handed a job over the open book asynchronously (usecases/finance/dry_run_jobs.py)."""

    def __init__(self, function_name: str) -> None:
        self.function_name = function_name

    def start(self, job: dict) -> None:
        # InvocationType Event: Lambda queues it and answers 202 at once; the function has up to 15 minutes.
        aws.client("lambda").invoke(FunctionName=self.function_name, InvocationType="Event", Payload=json.dumps(job).encode())
