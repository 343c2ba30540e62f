"""A workflow failure in the record: its type and a short message, never the stack trace or a file path."""

from __future__ import annotations

import json

import pytest

from arrears.domain import dunning
from arrears.domain.failures import MAX_MESSAGE_CHARS, failure_summary
from tests.unit.memory_world import memory_ports

# What Step Functions' Catch hands over for a Lambda that raised (the Cause is Lambda's error JSON).
LAMBDA_CAUSE = json.dumps({
    "errorMessage": "could not render template '/var/task/arrears/templates/demand_letter.html': missing 'iban'",
    "errorType": "TemplateError", "requestId": "6f1c2b7e-8d4a-4c1e-9a57-0d2f3b8e4a11",
    "stackTrace": ['  File "/var/task/app.py", line 21, in lambda_handler\n    result = handle_workflow_request(...)\n',
                   '  File "/opt/python/arrears/domain/dunning.py", line 310, in run_due_steps\n    raise TemplateError(...)\n'],
})


@pytest.fixture
def world(default_policy, open_invoice, berlin_customer):
    return memory_ports(default_policy, berlin_customer, open_invoice)


def test_a_lambda_failure_is_recorded_with_its_type_and_message_only(world, open_invoice):
    # When the workflow's Catch records a Lambda failure with its stack trace
    result = dunning.record_workflow_failure(open_invoice.invoice_id, "TemplateError", LAMBDA_CAUSE, world)
    # Then the contact log and the person's task keep the type and a short message, no trace and no path
    entry = world.log.entries(open_invoice.invoice_id)[-1]
    task = world.store.tasks[result["task_id"]]
    for details in (entry.details, task["details"]):
        assert details["error"] == "TemplateError"
        assert details["message"] == "could not render template '<path>': missing 'iban'"
        stored = json.dumps(details)
        assert "stackTrace" not in stored and "/var/task" not in stored and "line 21" not in stored
    assert entry.kind == "workflow_failed" and "cause" not in entry.details


@pytest.mark.parametrize("error, cause, expected", [
    ("States.Timeout", "", {"error": "States.Timeout", "message": ""}),
    ("Lambda.Unknown", "The function timed out after 60 seconds", {"error": "Lambda.Unknown",
                                                                   "message": "The function timed out after 60 seconds"}),
    ("OSError", "Traceback (most recent call last):\n  File \"/var/task/app.py\", line 3", {"error": "OSError",
                                                                                          "message": "Traceback (most recent call last):"}),
    ("ValueError", "[Errno 2] No such file: C:\\build\\arrears\\x.py", {"error": "ValueError",
                                                                         "message": "[Errno 2] No such file: <path>"}),
])
def test_causes_of_every_shape_shrink_to_a_line_without_paths(error, cause, expected):
    assert failure_summary(error, cause) == expected


def test_a_long_message_is_cut_short():
    summary = failure_summary("ValueError", json.dumps({"errorMessage": "x" * 5000, "errorType": "ValueError"}))
    assert len(summary["message"]) == MAX_MESSAGE_CHARS and summary["message"].endswith("…")
