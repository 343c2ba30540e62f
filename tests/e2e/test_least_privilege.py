"""Least privilege, proven at run time (issue #14): every function runs as the role SAM generates for it
from template.yaml, moto checks each of its calls against that role (arrears_local.iam), and

- a short tour through every function (webhooks with a parked event, a dispute and a retried delivery,
  payments, a credit limit crossed (its EventBridge event), the workflow's task for a paid invoice, the finance API with its cursor, a link, pause, a
  refused and a real escalation, write-off, SES events, the audit copy, the debtor's portal page and a promise made there), a renewal run (a workflow held
  fourteen months) and a delivery refused once then retried pass with no call refused;
- each statement of each role, removed in turn, makes one of them fail visibly: a call refused as
  AccessDenied, and an invocation that failed (raised, answered 5xx or reported failed batch items) or
  what its caller saw (a presigned link answering 403); each action of each statement is needed by some
  call of those runs, or named with the failure path that needs it (FAILURE_PATHS_ONLY);
  `ARREARS_IAM_FULL=1` removes each action in turn instead, the whole sample book's lifecycle first;
- the state machine's role may invoke exactly the functions its ASL names (checked statically: moto's
  Step Functions invokes Lambda without any IAM check).

What moto does not check, and so this file cannot prove (each has a test below that says so, or that
fails when the template starts to rely on it):
- Condition keys: moto evaluates none of a request's context (the template's function roles use none:
  a test fails if one appears);
- resource-based policies (the buckets', the SNS topic's, the KMS key's): moto never evaluates them;
- what AWS does with a role outside a function's code: Step Functions invoking Lambda (checked
  statically instead), Lambda polling the DynamoDB stream (AWSLambdaDynamoDBExecutionRole), writing
  logs (AWSLambdaBasicExecutionRole), delivering to a dead-letter queue or an on-failure destination
  (the SQS statements SAM adds), X-Ray (off locally), Step Functions' vended log delivery;
- who may invoke a function (Lambda's resource policy for API Gateway, SNS and Step Functions; the finance
  team's execute-api:Invoke);
- SigV4 signatures: the access key id picks the role; the signature itself is a placeholder.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest
import requests

from arrears.adapters.dynamo import DynamoStore
from arrears_local.portfolio import DEMO_START, sample_portfolio
from arrears_local.runtime import LOCAL_STRIPE_SECRET, LocalRuntime, project_root
from arrears_local.stripe_events import (
    customer_updated_event, dispute_event, invoice_event, invoice_payment_paid_event, signed_delivery)

FUNCTIONS = ("WebhooksFunction", "ApiFunction", "WorkflowFunction", "AuditFunction", "SesEventsFunction", "DryRunFunction",
             "InboundFunction", "PortalFunction")
FULL = os.environ.get("ARREARS_IAM_FULL") == "1"
# The optional features the template grants on a condition, on: the workflow signs each message's portal link.
PARAMETERS = {"PortalPublicUrl": "https://account.northwind.example"}
JSON = {"Content-Type": "application/json"}

# Statements no call of a function's code makes, with the reason; the removal test skips them and says why.
NOT_MADE_BY_FUNCTION_CODE = {
    ("AuditFunction", "AuditFunctionContactLogStreamSQSPolicy"):
        "Lambda's stream poller sends a failed batch to the on-failure destination with this role; moto does not",
    ("SesEventsFunction", "DeadLetterQueuePolicy"):
        "Lambda sends a failed asynchronous event to the dead-letter queue with this role; moto does not",
    ("InboundFunction", "DeadLetterQueuePolicy"):
        "Lambda sends a failed asynchronous event (an S3 notification) to the dead-letter queue with this role; moto does not",
    ("DunningStateMachine", "DunningStateMachineRolePolicy0"):
        "moto's Step Functions invokes Lambda without an IAM check: test_the_state_machine_may_invoke_exactly_"
        "the_functions_its_definition_names checks this statement statically",
    ("DunningStateMachine", "DunningStateMachineRolePolicy1"):
        "Step Functions' vended log delivery (CloudWatch Logs) is not run locally",
    ("ConsoleFinance", "finance-api"): "the console's users sign with it in their browser (the local runtime answers the finance "
                                       "API without IAM): tests/unit/test_console_template.py checks its routes",
    ("ConsoleAuditor", "finance-api-read-only"): "the console's auditors sign with it in their browser: "
                                                 "tests/unit/test_console_template.py checks it is GET only",
}
MANAGED_NOT_RUN = {
    "AWSLambdaBasicExecutionRole": "Lambda writes the function's logs with it; locally logs go to the console",
    "AWSXrayWriteOnlyAccess": "X-Ray tracing is off locally",
    "AWSLambdaDynamoDBExecutionRole": "Lambda's stream poller reads the stream with it; moto delivers records itself",
}


@dataclass
class Tour:
    """What a short run through every function saw."""

    statuses: list[tuple[str, int]] = field(default_factory=list)  # (what, HTTP status) of each request
    answers: dict[str, Any] = field(default_factory=dict)  # the finance API's answer to each action
    link_status: int | None = None  # the finance API's presigned link to an email, opened
    audit_objects: int = 0
    ses_entries: int = 0
    reply_entries: int = 0

    def failed(self) -> list[str]:
        """What the other side saw fail: a platform or a person answered 5xx, a finance link that does not open."""
        out = [f"{what} answered {status}" for what, status in self.statuses if status >= 500]
        if self.link_status not in (None, 200):
            out.append(f"the presigned link answered {self.link_status}")
        if self.answers.get("executions") == 0:
            out.append("the retried delivery started no workflow")
        return out


def tour(runtime: LocalRuntime, days: int = 54) -> Tour:
    """Three invoices of the sample book through webhooks (one dispute arriving before the payment it is
    about, so it is parked, then closed; one invoice paid), the finance API (list with a cursor, one
    invoice and its link, pause, escalate, write-off, a dry run of the open book) and SES events (a delivery, a
    bounce)."""
    # The book's invoices, each given its own history here (their book behaviours do not apply).
    book = {item.behaviour: item.invoice for item in sample_portfolio(DEMO_START, 10)}
    paid, disputed, handled = book["pays after the first reminder"], book["pays after the demand letter"], book["never pays"]
    seen = Tour()

    def deliver(what: str, event: dict[str, Any]):
        def send() -> None:
            body, headers = signed_delivery(event, LOCAL_STRIPE_SECRET, runtime.now())
            seen.statuses.append((what, runtime.request("POST", "/webhooks/stripe", body, headers).status_code))
        return send

    def api(what: str, method: str, path: str, body: dict | None = None):
        def call() -> None:
            reply = runtime.request(method, path, json.dumps(body) if body is not None else b"", JSON if body is not None else {})
            seen.statuses.append((what, reply.status_code))
            seen.answers[what] = reply.json()
        return call

    def finance_reads() -> None:
        first = runtime.request("GET", "/invoices?limit=1")
        seen.statuses.append(("list", first.status_code))
        cursor = (first.json() or {}).get("next_cursor")
        if cursor:
            seen.statuses.append(("list page 2", runtime.request("GET", f"/invoices?limit=1&cursor={cursor}").status_code))
        detail = runtime.request("GET", f"/invoices/{handled.invoice_id}")
        seen.statuses.append(("detail", detail.status_code))
        links = [a["download_url"] for e in (detail.json() or {}).get("timeline", []) for a in e.get("artefacts", [])]
        if links:
            seen.link_status = requests.get(links[0], timeout=10).status_code
        # The customer's statement of account: rendered, stored under statements/, linked.
        statement = runtime.request("GET", f"/customers/{handled.customer.customer_id}/statement")
        seen.statuses.append(("statement", statement.status_code))
        # The readable policy: rendered, stored under policy-documents/, linked (issue #20).
        document = runtime.request("GET", "/policies/default/document?audience=customer&language=de")
        seen.statuses.append(("policy document", document.status_code))

    def dry_run_book() -> None:
        # The open book's dry run: a job started by the API, run by the dry-run function, polled.
        started = runtime.request("POST", "/policies/default/dry-run", b"{}", JSON)
        seen.statuses.append(("dry-run job", started.status_code))
        job_id = (started.json() or {}).get("job_id")
        if job_id:
            polled = runtime.request("GET", f"/dry-runs/{job_id}")
            done = polled.status_code == 200 and (polled.json() or {}).get("status") == "done"
            seen.statuses.append(("dry-run job done", polled.status_code if done else 500))

    def run_after_payment() -> None:
        # The workflow's task for the paid invoice, as when its execution ran before the payment stopped it.
        request = {"action": "run_due_steps", "invoice_id": paid.invoice_id}
        reply = runtime.client("lambda").invoke(FunctionName=runtime.name_of("WorkflowFunction"), Payload=json.dumps(request))
        seen.answers["run after payment"] = json.loads(reply["Payload"].read())

    def ses_events() -> None:
        emails = [e for e in DynamoStore(runtime.table_name).entries(paid.invoice_id) if e.kind == "email"]
        for entry, event_type in zip(emails, ("Delivery", "Bounce")):
            runtime.ses_notify(entry.message_id, event_type)

    def replies() -> None:
        # A person's reply to the handled invoice's last email (its signed Reply-To), and one about the paid invoice.
        from email import message_from_bytes

        for invoice in (handled, paid):
            emails = [e for e in DynamoStore(runtime.table_name).entries(invoice.invoice_id) if e.kind == "email"]
            if not emails:
                continue  # nothing was sent (a stack whose workflow may not sign its Reply-To)
            email = emails[-1]
            sent = next(m for m in runtime.sent_emails() if m.id == email.message_id)
            reply_to = message_from_bytes(sent.raw_data.encode() if isinstance(sent.raw_data, str) else sent.raw_data)["Reply-To"]
            raw = (f"From: AP <{invoice.customer.email}>\nTo: {reply_to}\nSubject: Re: your reminder\n"
                   f"In-Reply-To: <{email.message_id}@us-east-1.amazonses.com>\nContent-Type: text/plain\n\n"
                   "We paid this last week.\n").encode()
            runtime.receive_email(raw)
        seen.reply_entries = sum(1 for i in (handled, paid) for e in DynamoStore(runtime.table_name).entries(i.invoice_id)
                                 if e.kind == "reply_received")

    def wake_now() -> None:
        # The state machine's call of a wait whose moment has come already: the function wakes its own token.
        meta = runtime.client("dynamodb").get_item(TableName=runtime.table_name,
                                                  Key={"pk": {"S": f"INVOICE#{handled.invoice_id}"}, "sk": {"S": "META"}}).get("Item", {})
        if "wake_token" not in meta or "execution_arn" not in meta:
            seen.answers["wake"] = None  # no workflow waits (a stack with a statement removed)
            return
        request = {"action": "wait", "invoice_id": handled.invoice_id, "execution_arn": meta["execution_arn"]["S"],
                   "task_token": meta["wake_token"]["S"], "next_at": runtime.now().isoformat()}
        reply = runtime.client("lambda").invoke(FunctionName=runtime.name_of("WorkflowFunction"), Payload=json.dumps(request))
        seen.answers["wake"] = json.loads(reply["Payload"].read())

    def portal() -> None:
        # The debtor's page (docs/portal.md): the statement (its view logged), a letter or email sent, a promise
        # (the parked workflow woken, a confirmation mailed) on the disputed invoice once its dispute is closed.
        import re
        from urllib.parse import urlencode

        from arrears_local.portal import portal_link
        from tests.e2e.portal_book import FORM, HOST, csrf_of

        link = portal_link(runtime, disputed.customer.customer_id, "")

        def get(what: str, path: str) -> str:
            reply = runtime.request("GET", path, b"", {"Host": HOST})
            seen.statuses.append((what, reply.status_code))
            return reply.body if isinstance(reply.body, str) else ""

        get("portal statement", link)
        page = get("portal invoice", f"{link}/invoices/{disputed.invoice_id}")
        document = re.search(r'/documents/([0-9]+-[0-9]+)"', page)
        if document:
            get("portal document", f"{link}/invoices/{disputed.invoice_id}/documents/{document.group(1)}")
        if '/promise">' in page:  # the invoice's page (a stack refusing the portal its calls answers an error page)
            fields = {"csrf": csrf_of(page, "promise"), "promised_on": (runtime.now() + timedelta(days=2)).date().isoformat()}
            reply = runtime.request("POST", f"{link}/invoices/{disputed.invoice_id}/promise", urlencode(fields).encode(),
                                    {**FORM, "Host": HOST, "Origin": f"http://{HOST}"})
            seen.statuses.append(("portal promise", reply.status_code))
            seen.answers["portal promise"] = reply.status_code

    hold_at = disputed.due + timedelta(days=3)
    schedule = [
        # The handled invoice's customer has a credit limit below it: its start publishes the event (issue #20).
        (handled.created - timedelta(hours=2), deliver("customer", customer_updated_event(handled.customer, handled.created - timedelta(hours=2)))),
        (handled.created - timedelta(hours=1), api("credit limit", "PATCH", f"/customers/{handled.customer.customer_id}",
                                                   {"credit_limits": {handled.currency: 1_000}})),
        *[(i.created, deliver("finalized", invoice_event(i, "invoice.finalized", i.created))) for i in (disputed, handled, paid)],
        # The dispute comes before the payment that links it to its invoice: parked, applied when the link arrives.
        (hold_at, deliver("dispute", dispute_event(disputed, hold_at))),
        (hold_at + timedelta(minutes=1), deliver("payment link", invoice_payment_paid_event(disputed, 100, hold_at))),
        (hold_at + timedelta(days=5), deliver("dispute closed", dispute_event(disputed, hold_at + timedelta(days=5), closed=True))),
        (hold_at + timedelta(days=6), portal),
        (paid.due + timedelta(days=9), deliver("paid", invoice_event(paid, "invoice.paid", paid.due + timedelta(days=9)))),
        # Stripe's retry of a delivery it already made: the idempotency record answers it.
        (paid.due + timedelta(days=9, minutes=5), deliver("paid again", invoice_event(paid, "invoice.paid", paid.due + timedelta(days=9)))),
        (paid.due + timedelta(days=9, hours=1), ses_events),
        (paid.due + timedelta(days=9, hours=2), run_after_payment),
        (max(paid.due + timedelta(days=9, hours=3), handled.due + timedelta(days=1, hours=3)), replies),
        (handled.due + timedelta(days=1), wake_now),
        (handled.due + timedelta(days=2), finance_reads),
        (handled.due + timedelta(days=2, minutes=30), dry_run_book),
        (handled.due + timedelta(days=2, hours=1), api("pause", "POST", f"/invoices/{handled.invoice_id}/pause",
                                                        {"until": (handled.due + timedelta(days=5)).isoformat(), "reason": "AP migration"})),
        # Outside the debtor's contact hours first: refused, and the step the workflow had claimed is released.
        (handled.due + timedelta(days=12), api("escalate too early", "POST", f"/invoices/{handled.invoice_id}/escalate",
                                               {"reason": "no answer"})),
        (handled.due + timedelta(days=12, hours=4), api("escalate", "POST", f"/invoices/{handled.invoice_id}/escalate", {"reason": "no answer"})),
        (handled.due + timedelta(days=13), api("write-off", "POST", f"/invoices/{handled.invoice_id}/write-off", {"reason": "insolvent"})),
    ]
    runtime.run_until(DEMO_START + timedelta(days=days), external=sorted(schedule, key=lambda pair: pair[0]))
    s3 = runtime.client("s3")
    seen.audit_objects = s3.list_objects_v2(Bucket=runtime.audit_bucket).get("KeyCount", 0)
    seen.ses_entries = sum(1 for e in DynamoStore(runtime.table_name).entries(paid.invoice_id) if e.kind.startswith("email_"))
    return seen


def renewal(runtime: LocalRuntime) -> Tour:
    """One invoice disputed through the finance API for about fourteen months: its execution renews itself
    before Step Functions' one-year limit (the workflow starts its successor), and once the dispute is
    resolved collection runs on to the referral (whose package copies the letters)."""
    invoice = next(item.invoice for item in sample_portfolio(DEMO_START, 10) if item.behaviour == "never pays")
    seen = Tour()

    def api(what: str, path: str, body: dict):
        def call() -> None:
            seen.statuses.append((what, runtime.request("POST", path, json.dumps(body), JSON).status_code))
        return call

    body, headers = signed_delivery(invoice_event(invoice, "invoice.finalized", invoice.created), LOCAL_STRIPE_SECRET, invoice.created)
    schedule = [
        (invoice.created, lambda: seen.statuses.append(("finalized", runtime.request("POST", "/webhooks/stripe", body, headers).status_code))),
        (invoice.due + timedelta(days=3), api("dispute", f"/invoices/{invoice.invoice_id}/dispute", {"reason": "seats were cancelled"})),
        (invoice.due + timedelta(days=425), api("resolve", f"/invoices/{invoice.invoice_id}/dispute/resolve", {"reason": "no cancellation"})),
    ]
    runtime.run_until(invoice.due + timedelta(days=520), external=schedule)
    seen.answers["entries"] = [e.kind for e in DynamoStore(runtime.table_name).entries(invoice.invoice_id)]
    return seen


def retried_delivery(runtime: LocalRuntime) -> Tour:
    """A delivery that fails once (the webhooks function is refused starting the workflow, as a throttle would
    make it fail), then the platform's retry five seconds later: it is applied, because Powertools removed the
    failed attempt's idempotency record (else the record stays in progress until the function's timeout, and
    the retry answers 503)."""
    invoice = next(item.invoice for item in sample_portfolio(DEMO_START, 10) if item.behaviour == "pays before due")
    event = invoice_event(invoice, "invoice.finalized", invoice.created)
    seen = Tour()

    def deliver() -> int:
        body, headers = signed_delivery(event, LOCAL_STRIPE_SECRET, runtime.now())
        return runtime.request("POST", "/webhooks/stripe", body, headers).status_code

    def first() -> None:
        with runtime.iam.refusing("WebhooksFunction", "states:StartExecution"):
            seen.answers["first attempt"] = deliver()

    runtime.run_until(invoice.created + timedelta(hours=1), external=[
        (invoice.created, first), (invoice.created + timedelta(seconds=5), lambda: seen.statuses.append(("retry", deliver())))])
    seen.answers["executions"] = len(runtime.client("stepfunctions").list_executions(stateMachineArn=runtime.state_machine_arn)["executions"])
    return seen


def _statements() -> dict[tuple[str, str, int], dict[str, Any]]:
    """(role's source, policy name, index) -> statement, of every inline statement SAM generates (read from
    the translation: listing them needs no runtime)."""
    from arrears_local.security_scan import translate

    found = {}
    for logical_id, resource in translate(project_root())["Resources"].items():
        if resource["Type"] != "AWS::IAM::Role":
            continue
        for policy in resource["Properties"].get("Policies", []):
            statements = policy["PolicyDocument"]["Statement"]
            for index, statement in enumerate(statements if isinstance(statements, list) else [statements]):
                # A statement of an optional feature (Fn::If on its condition): the local stack runs it on (the
                # portal links in messages: PARAMETERS).
                found[(logical_id.removesuffix("Role"), policy["PolicyName"], index)] = statement["Fn::If"][1] \
                    if "Fn::If" in statement else statement
    return found


RAW = _statements()  # as translated, intrinsics unresolved
ACTIONS = {key: (s["Action"] if isinstance(s["Action"], list) else [s["Action"]]) for key, s in RAW.items()}
STATEMENTS = sorted(ACTIONS)


def refusals(without: set[tuple[Any, ...]], source: str, actions: list[str], scenarios: tuple[Any, ...]):
    """Run each scenario on a stack whose roles lack `without`, until one has `source` refused one of
    `actions`: (that scenario's refusals of them, what failed: invocations, and what its callers saw), or
    ([], []) if none did."""
    for scenario in scenarios:
        with LocalRuntime(start=DEMO_START, iam_without=without, parameters=PARAMETERS) as runtime:
            seen = scenario(runtime)
        refused = [d for d in runtime.iam.denials if d.function == source and d.action in actions]
        if refused:
            return refused, [f"{f}: {what}" for f, what in runtime.iam.failures] + (seen.failed() if seen else [])
    return [], []


# (function, action, the resource's logical id): why only a failure nothing here provokes needs it.
FAILURE_PATHS_ONLY = {
    ("SesEventsFunction", "dynamodb:DeleteItem", "ArrearsTable"):
        "releases an SES event's claim when recording it failed, so SNS's retry records it (arrears.domain.ses_events)",
    ("InboundFunction", "dynamodb:DeleteItem", "ArrearsTable"):
        "releases an inbound message's claim when handling it failed, so Lambda's retry handles it (arrears.usecases.inbound)",
    ("WebhooksFunction", "dynamodb:GetItem", "IdempotencyTable"):
        "Powertools reads the idempotency record only when DynamoDB's refusal of its conditional put does not carry "
        "the record (ReturnValuesOnConditionCheckFailure); its documented permissions include it",
}


def _failure_path_only(source: str, policy: str, index: int, action: str) -> bool:
    """Whether this action of this statement is one FAILURE_PATHS_ONLY names (on the resource it names)."""
    resources = json.dumps(RAW[(source, policy, index)]["Resource"])
    return any((source, action) == (s, a) and f'"{lid}"' in resources for s, a, lid in FAILURE_PATHS_ONLY)


@pytest.fixture(scope="module")
def provoked(renewal_baseline):
    """The retried delivery with every role whole: the failure path a healthy tour never takes (Powertools
    removes the in-progress idempotency record of an event it failed to apply), done and closed."""
    with LocalRuntime(start=DEMO_START, iam=True, parameters=PARAMETERS) as runtime:
        seen = retried_delivery(runtime)
    return runtime, seen


# The removal tests come first: each runs its own stacks, and only one can be active (the baselines' come after).
@pytest.mark.parametrize(("source", "policy", "index"), STATEMENTS, ids=[f"{s}.{p}[{i}]" for s, p, i in STATEMENTS])
def test_each_statement_removed_makes_the_tour_fail(source, policy, index):
    reason = NOT_MADE_BY_FUNCTION_CODE.get((source, policy))
    if reason:
        pytest.skip(f"not exercised locally: {reason}")
    # Given the stack with this one statement left out of its role; When the tour runs (then, if nothing
    # needed it there, the renewal run, for what only a year-long workflow does)
    refused, failures = refusals({(source, policy, index)}, source, ACTIONS[(source, policy, index)], (tour, renewal, retried_delivery))
    # Then a call of that function needing it was refused, and the refusal surfaced: a failed invocation,
    # or what its caller saw (a presigned link is opened by a person, with the function's role)
    assert refused, f"nothing needed {source}'s {policy}[{index}] {ACTIONS[(source, policy, index)]}: remove it from template.yaml"
    assert failures, f"{source} was refused {refused[0]} and no invocation failed: an AccessDenied went unnoticed"


def lifecycle(runtime: LocalRuntime) -> Tour | None:
    """The sample book's whole lifecycle, as tests/e2e/test_lifecycle.py runs it."""
    from arrears.domain.policy import load_policy_file
    from arrears_local.demo import run_book
    from arrears_local.portfolio import DEMO_DAYS

    run_book(runtime, sample_portfolio(DEMO_START, 24), load_policy_file(project_root() / "policies" / "default.yaml"), DEMO_DAYS)


@pytest.mark.skipif(not FULL, reason="ARREARS_IAM_FULL=1: each action removed in turn, the sample book's whole lifecycle first")
@pytest.mark.parametrize(("source", "policy", "index"), STATEMENTS, ids=[f"{s}.{p}[{i}]" for s, p, i in STATEMENTS])
def test_each_action_removed_makes_the_lifecycle_or_a_scenario_fail(source, policy, index):
    if (source, policy) in NOT_MADE_BY_FUNCTION_CODE:
        pytest.skip(f"not exercised locally: {NOT_MADE_BY_FUNCTION_CODE[(source, policy)]}")
    unnoticed = []
    for action in ACTIONS[(source, policy, index)]:
        if _failure_path_only(source, policy, index, action):
            continue  # see FAILURE_PATHS_ONLY
        refused, failures = refusals({(source, policy, index, action)}, source, [action], (lifecycle, tour, renewal, retried_delivery))
        if not refused or not failures:
            unnoticed.append(f"{action}: {len(refused)} refused, {len(failures)} failed invocations")
    assert unnoticed == []


@pytest.fixture(scope="module")
def renewal_baseline():
    """The renewal run with every role whole, done and closed (one engine at a time: before the tour's)."""
    with LocalRuntime(start=DEMO_START, iam=True, parameters=PARAMETERS) as runtime:
        seen = renewal(runtime)
    return runtime, seen


@pytest.fixture(scope="module")
def baseline(renewal_baseline, provoked):
    with LocalRuntime(start=DEMO_START, iam=True, parameters=PARAMETERS) as runtime:
        seen = tour(runtime)
        yield runtime, seen


def test_the_tour_passes_with_every_call_checked_and_none_refused(baseline):
    # Given the tour run with each function as its own role
    runtime, seen = baseline
    enforcement = runtime.iam
    # Then every function made calls that were checked, none was refused and nothing failed
    assert enforcement.denials == []
    assert enforcement.failures == []
    # And each call was checked on the resource it names (moto alone would have checked the action on "*")
    assert enforcement.unresolved == set()
    assert {source for source, _, _ in enforcement.allowed} == set(FUNCTIONS)
    assert [(what, status) for what, status in seen.statuses if status >= 300] == [("escalate too early", 409)]
    assert seen.answers["escalate too early"]["error"] == "outside_contact_hours"
    assert {what for what, _ in seen.statuses} >= {"finalized", "dispute", "payment link", "dispute closed", "paid", "paid again",
                                                   "list", "list page 2", "detail", "statement", "pause", "escalate", "write-off",
                                                   "dry-run job", "dry-run job done", "portal statement", "portal invoice",
                                                   "portal document", "portal promise"}
    assert seen.answers["wake"] == {"waiting": False} and seen.answers["escalate"]["outcome"]["step_id"]
    assert "errorMessage" not in seen.answers["run after payment"], seen.answers["run after payment"]
    assert seen.link_status == 200 and seen.audit_objects > 0 and seen.ses_entries > 0 and seen.reply_entries == 2


def test_a_call_outside_the_role_is_refused_as_aws_would(baseline):
    # Given the audit function's role, which may not touch the table
    runtime, _ = baseline
    from botocore.exceptions import ClientError

    from arrears.adapters import aws

    # When code running as it writes there
    with runtime.iam.as_role("AuditFunction"), pytest.raises(ClientError) as refused:
        aws.client("dynamodb").put_item(TableName=runtime.table_name, Item={"pk": {"S": "X"}, "sk": {"S": "Y"}})
    # Then AWS's answer: AccessDeniedException, naming the action and the table
    assert refused.value.response["Error"]["Code"] == "AccessDeniedException"
    assert "dynamodb:PutItem" in str(refused.value) and runtime.table_name in str(refused.value)
    # And the same call outside any function (the deployer, a test driver) is not checked
    runtime.client("dynamodb").put_item(TableName=runtime.table_name, Item={"pk": {"S": "X"}, "sk": {"S": "Y"}})


def test_the_resource_is_checked_not_only_the_action(baseline):
    # Given the workflow's role: s3:GetObject on the letters bucket only
    runtime, _ = baseline
    from botocore.exceptions import ClientError

    from arrears.adapters import aws

    runtime.client("s3").put_object(Bucket=runtime.audit_bucket, Key="probe.txt", Body=b"x")
    # When it reads the audit bucket, then another index than its own table's
    with runtime.iam.as_role("WorkflowFunction"):
        with pytest.raises(ClientError) as s3_refused:
            aws.client("s3").get_object(Bucket=runtime.audit_bucket, Key="probe.txt")
        with pytest.raises(ClientError) as index_refused:
            aws.client("dynamodb").query(TableName=runtime.table_name, IndexName="gsi1", KeyConditionExpression="gsi1pk = :p",
                                         ExpressionAttributeValues={":p": {"S": "TASK#open"}})
    # Then both are refused: moto matches the statement's Resource against the one the request names
    assert s3_refused.value.response["Error"]["Code"] == "AccessDenied"
    assert index_refused.value.response["Error"]["Code"] == "AccessDeniedException"


def test_the_renewal_run_passes_with_none_refused(renewal_baseline):
    runtime, seen = renewal_baseline
    assert runtime.iam.denials == [] and runtime.iam.failures == [] and runtime.iam.unresolved == set()
    assert [status for _, status in seen.statuses] == [200, 200, 200]
    assert {"workflow_renewed", "hold_released", "referral"} <= set(seen.answers["entries"])


def test_a_delivery_that_failed_once_is_applied_on_its_retry(provoked):
    # Given a delivery refused once (the function could not start the workflow), then retried by Stripe
    runtime, seen = provoked
    # Then the first attempt answered 503, the retry 200, the workflow runs, and nothing else was refused
    assert seen.answers["first attempt"] == 503 and seen.statuses == [("retry", 200)] and seen.answers["executions"] == 1
    assert [d.action for d in runtime.iam.deliberate] == ["states:StartExecution"]
    assert runtime.iam.denials == [] and runtime.iam.failures == []
    assert ("WebhooksFunction", "dynamodb:DeleteItem", runtime.resolver.attributes[("IdempotencyTable", "Arn")]) in runtime.iam.allowed


def test_each_action_of_each_statement_is_needed_by_some_call(baseline, renewal_baseline, provoked):
    # Given every call allowed in the tour, the renewal run and the retried delivery
    from moto.iam.access_control import IAMPolicyStatement, PermissionResult

    runtime = baseline[0]
    calls = runtime.iam.allowed | renewal_baseline[0].iam.allowed | provoked[0].iam.allowed
    unused = []
    for source, role in runtime.iam.roles.items():
        if source not in FUNCTIONS:
            continue
        for policy, index, statement in role.statements():
            if (source, policy) in NOT_MADE_BY_FUNCTION_CODE:
                continue
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            for action in actions:
                if _failure_path_only(source, policy, index, action):
                    continue
                single = IAMPolicyStatement({**statement, "Action": action})
                if not any(caller == source and single.is_action_permitted(made, resource) == PermissionResult.PERMITTED
                           for caller, made, resource in calls):
                    unused.append(f"{source} {policy}[{index}] {action} on {statement['Resource']}")
    # Then each action of each statement allowed at least one of them (else it is more than the function needs)
    assert unused == [], "no call needed these (remove them from template.yaml, or show in a scenario why they are needed):\n" + "\n".join(unused)


@pytest.mark.parametrize(("source", "action", "resource"), sorted(FAILURE_PATHS_ONLY))
def test_actions_only_a_failure_path_needs_are_named_with_the_reason(source, action, resource):
    reason = FAILURE_PATHS_ONLY[(source, action, resource)]
    pytest.skip(f"{source} {action} on {resource}: {reason}; no scenario here provokes that failure")


@pytest.mark.parametrize("managed", sorted(MANAGED_NOT_RUN))
def test_managed_policies_are_attached_but_not_exercised_locally(managed):
    pytest.skip(f"{managed}: {MANAGED_NOT_RUN[managed]}")


def test_no_function_role_relies_on_a_condition_moto_would_not_check(baseline):
    # moto evaluates no Condition of a request's context: a statement with one would pass here unchecked
    runtime, _ = baseline
    conditioned = [f"{source} {policy}[{index}]" for source, role in runtime.iam.roles.items()
                   for policy, index, statement in role.statements() if "Condition" in statement]
    assert conditioned == [], "moto cannot check these Conditions: prove them another way before relying on them"


def test_resource_based_policies_are_not_evaluated_locally(baseline):
    runtime, _ = baseline
    kinds = ("AWS::S3::BucketPolicy", "AWS::SNS::TopicPolicy", "AWS::SQS::QueuePolicy", "AWS::KMS::Key")
    present = sorted(lid for lid, r in runtime.template["Resources"].items() if r["Type"] in kinds)
    assert present, "the template has resource-based policies; this test names them"
    pytest.skip(f"moto never evaluates resource-based policies ({', '.join(present)}): a Deny there is not tested here")


def test_the_state_machine_may_invoke_exactly_the_functions_its_definition_names(baseline):
    # Given the state machine's definition as deployed locally, and its role as SAM generates it
    runtime, _ = baseline
    definition = json.loads(runtime.client("stepfunctions").describe_state_machine(
        stateMachineArn=runtime.state_machine_arn)["definition"])
    named, other = set(), []

    def walk(states: dict[str, Any]) -> None:
        for name, state in states.items():
            if state.get("Type") == "Task":
                resource = state["Resource"]
                if resource.startswith("arn:aws:states:::lambda:invoke"):
                    named.add(state["Parameters"]["FunctionName"])
                elif resource.startswith("arn:aws:lambda:"):
                    named.add(resource)
                else:
                    other.append(f"{name}: {resource}")
            for branch in state.get("Branches", []):
                walk(branch["States"])
            if "Iterator" in state or "ItemProcessor" in state:
                walk((state.get("ItemProcessor") or state["Iterator"])["States"])

    walk(definition["States"])
    session = runtime.iam.sessions["DunningStateMachine"]
    functions = {runtime.resolver.attributes[(lid, "Arn")] for lid in FUNCTIONS}
    # Then it names only Lambda tasks, each a function of the stack it may invoke, and it may invoke no other
    assert other == [], "a task integration this test does not check: add its action to the check"
    assert named and named <= functions
    for arn in functions:
        assert runtime.iam.permitted(session, "lambda:InvokeFunction", arn) == (arn in named), arn
    # And nothing else but the log delivery Step Functions needs
    actions = {a for _, _, statement in runtime.iam.roles["DunningStateMachine"].statements()
               for a in (statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]])}
    assert {a for a in actions if not a.startswith("logs:")} == {"lambda:InvokeFunction"}
