"""Each function reads only settings its template entry declares (Globals merged with its own, as SAM
does): the local runtime gives each invocation exactly that environment and notes what it reads, and the
handlers' own code is checked against the template too (the webhooks function read DEFAULT_POLICY_ID
without being given it: a deployer's DefaultPolicyId would have been ignored there)."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from arrears.adapters.settings import Settings
from arrears_local.demo import run_book
from arrears_local.portfolio import DEMO_START, sample_portfolio
from arrears_local.runtime import LocalRuntime, declared_settings, project_root
from arrears.domain.policy import load_policy_file

FUNCTIONS = ("WebhooksFunction", "ApiFunction", "WorkflowFunction", "AuditFunction", "SesEventsFunction")
ALIAS = {name: str(field.validation_alias) for name, field in Settings.model_fields.items()}


@pytest.fixture(scope="module")
def stack():
    policy = load_policy_file(project_root() / "policies" / "default.yaml")
    with LocalRuntime(start=DEMO_START) as runtime:
        run_book(runtime, sample_portfolio(DEMO_START, 12), policy, 70)
        # The finance API too: a list, an invoice with its links, a pause; SES events for a sent email.
        invoice_id = runtime.request("GET", "/invoices?limit=5").json()["invoices"][0]["invoice_id"]
        runtime.request("GET", f"/invoices/{invoice_id}")
        runtime.request("POST", f"/invoices/{invoice_id}/pause", f'{{"until": "{(runtime.now() + timedelta(days=3)).date()}"}}',
                        {"Content-Type": "application/json"})
        runtime.request("POST", f"/invoices/{invoice_id}/escalate", "{}", {"Content-Type": "application/json"})
        from arrears.adapters.dynamo import DynamoStore

        sent = next(e for e in DynamoStore(runtime.table_name).entries(invoice_id) if e.kind == "email")
        runtime.ses_notify(sent.message_id, "Delivery")
        runtime.engine.wait_idle()
        yield runtime


@pytest.mark.parametrize("function", FUNCTIONS)
def test_every_setting_an_invocation_read_is_declared_for_its_function(stack, function):
    # Given a lifecycle run through every function; Then each read settings, and only declared ones
    read = stack.settings_read.get(function, set())
    assert read, f"{function} was never invoked"
    undeclared = {ALIAS[name] for name in read} - set(stack.function_env[function])
    assert not undeclared, f"{function} reads {sorted(undeclared)}, which template.yaml does not give it"


@pytest.mark.parametrize("function", FUNCTIONS)
def test_every_setting_a_handler_names_is_declared_for_its_function(stack, function):
    # Given the handler's own code: each settings field it names (get_settings().x, settings.x)
    code_uri = stack.template["Resources"][function]["Properties"]["CodeUri"]
    source = (project_root() / code_uri / "app.py").read_text(encoding="utf-8")
    named = {m for m in re.findall(r"settings(?:\(\))?\.([a-z_]+)", source) if m in ALIAS}
    # Then its template entry declares every one
    assert {ALIAS[name] for name in named} <= set(stack.function_env[function])


def test_an_invocation_does_not_see_another_functions_settings(stack):
    # Given the process environment has the workflow's LETTERS_BUCKET; Then the audit function's settings do not
    audit = declared_settings(stack.function_env["AuditFunction"])
    assert audit.audit_bucket == stack.audit_bucket and audit.letters_bucket == "" and audit.state_machine_arn == ""
    assert declared_settings(stack.function_env["WebhooksFunction"]).default_policy_id == stack.resolver.refs["DefaultPolicyId"]
