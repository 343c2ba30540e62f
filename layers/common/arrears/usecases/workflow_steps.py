"""Entry points of the workflow function, one per action the state machine asks for."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from arrears.domain import dunning
from arrears.domain.ports import Ports
from arrears.domain.renewal import renew_if_due


class WorkflowRequest(BaseModel):
    """The Parameters every Task state of statemachines/dunning.asl.json passes."""

    model_config = ConfigDict(extra="ignore")
    action: str = Field(pattern=r"^(start|run_due_steps|park|wait|record_failure|escalate_now)$")
    invoice_id: str = Field(min_length=1)
    execution_arn: str | None = None
    # The state that asks ($$.State.Name, $$.State.EnteredTime): its retries share them, so a retry is the same
    # owner of the steps the dead attempt claimed and finishes them (docs/architecture.md).
    state_name: str | None = Field(default=None, min_length=1, max_length=200)
    state_entered_at: str | None = Field(default=None, min_length=1, max_length=100)
    error: dict[str, Any] | None = None
    task_token: str | None = Field(default=None, min_length=1)
    next_at: str | None = None  # wait: the moment the step is due (the task token's timeout ends then)
    actor: str | None = None  # escalate_now: the IAM principal who asked (the finance API passes it)
    # escalate_now: the finance API's request (API Gateway's request id): one escalation per request
    request_id: str | None = Field(default=None, min_length=1, max_length=200)


def step_owner(request: WorkflowRequest) -> str | None:
    """Who claims the steps this request sends: one entry of one state of one execution (None: unknown)."""
    if request.execution_arn and request.state_name and request.state_entered_at:
        return f"{request.execution_arn}|{request.state_name}|{request.state_entered_at}"
    return None


def handle_workflow_request(request: WorkflowRequest, default_policy_id: str, ports: Ports,
                            workflows: Any = None) -> dict[str, Any]:
    """The state machine's next input: the invoice id and the decision its Choice routes on."""
    if request.action == "park":
        if not request.task_token:
            raise ValueError("park needs the task token")
        return dunning.park_for_hold(request.invoice_id, request.task_token, workflows, ports)
    if request.action == "wait":
        if not request.task_token:
            raise ValueError("wait needs the task token")
        return dunning.park_until_next_step(request.invoice_id, request.task_token, request.next_at, workflows, ports)
    if request.action == "escalate_now":
        # Not a state of the machine: the finance API invokes the function for it, so the sending
        # permissions stay with this one function. A refusal is an answer, not an error.
        from arrears.domain.holds import ActionRefused

        try:
            result = dunning.escalate_now(request.invoice_id, request.actor or "unknown", ports, request.request_id)
        except ActionRefused as refused:
            return {"refused": {"code": refused.code, "message": refused.message}}
        return {"in_progress": True} if result.get("in_progress") else {"escalated": result}
    if request.action in ("start", "run_due_steps"):
        decided = (dunning.start_collection(request.invoice_id, request.execution_arn, default_policy_id, ports,
                                            step_owner(request))
                   if request.action == "start" else dunning.run_due_steps(request.invoice_id, ports, step_owner(request)))
        if workflows is not None:
            # An execution near Step Functions' year waits no longer, or hands the invoice to its successor.
            decided = renew_if_due(request.invoice_id, decided, request.execution_arn, workflows, ports)
        decision = decided.as_output()
    else:
        error = request.error or {}
        decision = dunning.record_workflow_failure(
            request.invoice_id, str(error.get("Error", "unknown")), str(error.get("Cause", "")), ports
        )
    return {"invoice_id": request.invoice_id, "decision": decision}
