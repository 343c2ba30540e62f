"""Integration tests for the local runtime engine (moto's Step Functions interpreter driven
by a virtual clock, Lambda handlers in-process). Offline; run with TZ=UTC."""

from __future__ import annotations

import datetime as dt
import json
import os
import threading
import time
from typing import Any

import pytest


from arrears_local.engine import IdleTimeout, LocalEngine  # noqa: E402

UTC = dt.timezone.utc
START = dt.datetime(2025, 1, 6, 8, 0, 0, tzinfo=UTC)
ROLE = "arn:aws:iam::123456789012:role/sfn-local"
RETRY = {"IntervalSeconds": 2, "BackoffRate": 2, "MaxAttempts": 3, "JitterStrategy": "FULL"}


class TransientError(Exception):
    pass


class PermanentError(Exception):
    pass


def iso_z(t: dt.datetime) -> str:
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def toy_definition(plan_arn: str, contact_arn: str) -> dict:
    """Shaped like the arrears workflow: Plan -> Route -> Wait -> Contact -> Plan ..."""
    retry = [{"ErrorEquals": ["TransientError"], **RETRY}]
    catch = [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "Failed"}]
    return {
        "StartAt": "Plan",
        "States": {
            "Plan": {
                "Type": "Task",
                "Resource": "arn:aws:states:::lambda:invoke",
                "Parameters": {"FunctionName": plan_arn, "Payload.$": "$"},
                "ResultSelector": {"Payload.$": "$.Payload"},
                "ResultPath": "$.plan",
                "Retry": retry,
                "Catch": catch,
                "Next": "Decide",
            },
            "Decide": {"Type": "Pass", "InputPath": "$.plan.Payload",
                       "ResultPath": "$.decision", "Next": "Route"},
            "Route": {
                "Type": "Choice",
                "Choices": [{"Variable": "$.decision.status", "StringEquals": "closed",
                             "Next": "Closed"}],
                "Default": "Wait until next contact",
            },
            "Wait until next contact": {"Type": "Wait", "TimestampPath": "$.decision.next_at",
                                        "Next": "Contact"},
            # A plain function ARN resource (the other Lambda task form).
            "Contact": {"Type": "Task", "Resource": contact_arn, "ResultPath": "$.contact",
                        "Retry": retry, "Catch": catch, "Next": "Plan"},
            "Closed": {"Type": "Succeed"},
            "Failed": {"Type": "Fail", "Error": "ContactFailed", "Cause": "see $.error"},
        },
    }


class Toy:
    """The toy workflow plus handlers that record (virtual now, event)."""

    def __init__(self, engine: LocalEngine):
        self.engine = engine
        self.sfn = engine.client("stepfunctions")
        self.plans: list[tuple[dt.datetime, dict]] = []
        self.contacts: list[tuple[dt.datetime, dict]] = []
        self.contact_failures: dict[str, int] = {}  # invoice -> number of failures to raise
        self.contact_error: dict[str, type[Exception]] = {}
        self.paid: set[str] = set()
        self.lock = threading.Lock()
        plan_arn = engine.register_lambda("toy-plan", self.plan)
        contact_arn = engine.register_lambda("toy-contact", self.contact)
        self.sm_arn = self.sfn.create_state_machine(
            name="toy-arrears", roleArn=ROLE,
            definition=json.dumps(toy_definition(plan_arn, contact_arn)))["stateMachineArn"]

    def plan(self, event: dict, context: Any) -> dict:
        with self.lock:
            self.plans.append((self.engine.now(), event))
        done = event.get("contact", {}).get("count", 0)
        schedule = event["schedule"]
        if done >= len(schedule):
            return {"status": "closed"}
        return {"status": "active", "next_at": schedule[done]}

    def contact(self, event: dict, context: Any) -> dict:
        invoice = event["invoice"]
        with self.lock:
            self.contacts.append((self.engine.now(), {**event, "paid_seen": invoice in self.paid}))
            failures = self.contact_failures.get(invoice, 0)
            if failures:
                self.contact_failures[invoice] = failures - 1
                raise self.contact_error.get(invoice, TransientError)(f"{invoice} unreachable")
        return {"count": event.get("contact", {}).get("count", 0) + 1}

    def start(self, invoice: str, schedule: list[dt.datetime]) -> str:
        payload = {"invoice": invoice, "schedule": [iso_z(t) for t in schedule]}
        return self.sfn.start_execution(stateMachineArn=self.sm_arn, name=invoice,
                                        input=json.dumps(payload))["executionArn"]

    def status(self, execution_arn: str) -> str:
        return self.sfn.describe_execution(executionArn=execution_arn)["status"]

    def contact_times(self, invoice: str) -> list[dt.datetime]:
        return [t for t, e in self.contacts if e["invoice"] == invoice]


@pytest.fixture
def engine():
    with LocalEngine(START) as eng:
        yield eng


@pytest.fixture
def toy(engine):
    return Toy(engine)


def days(n: float, hours: float = 0) -> dt.datetime:
    return START + dt.timedelta(days=n, hours=hours)


# ----------------------------------------------------------------------------- (1)


def test_six_contacts_over_150_virtual_days_run_at_their_exact_times(engine, toy):
    # Given an invoice whose plan schedules six contacts over 150 days (at 09:30)
    schedule = [days(d, hours=1.5) for d in (10, 30, 60, 90, 120, 150)]
    wall = time.perf_counter()

    # When the workflow runs to day 160 of virtual time
    arn = toy.start("INV-1", schedule)
    progress: list[dt.datetime] = []
    engine.run_until(days(160), on_progress=progress.append)
    wall = time.perf_counter() - wall

    # Then every Contact ran at exactly its planned instant, Plan ran after each one,
    # the execution closed, and it took a few wall seconds at most
    assert toy.contact_times("INV-1") == schedule
    assert [t for t, _ in toy.plans] == [START, *schedule]
    assert toy.status(arn) == "SUCCEEDED"
    assert wall < 5, f"took {wall:.2f}s of wall time"
    assert progress == sorted(progress) and progress[-1] == days(160)
    assert engine.now() == days(160)
    assert engine.next_wakeup() is None


def test_advance_to_stops_between_wakeups(engine, toy):
    # Given an invoice with contacts on days 10 and 30
    arn = toy.start("INV-2", [days(10), days(30)])

    # When time is advanced to day 20
    engine.advance_to(days(20))

    # Then only the first contact happened and the execution waits for day 30
    assert toy.contact_times("INV-2") == [days(10)]
    assert engine.now() == days(20)
    assert engine.next_wakeup() == days(30)
    assert engine.parked() == {"wait": 1}
    assert toy.status(arn) == "RUNNING"


# ----------------------------------------------------------------------------- (2)


def test_stop_execution_wakes_a_30_day_wait_and_no_task_runs_after(engine, toy):
    # Given an execution parked in a 30-day Wait, 10 days in
    arn = toy.start("INV-STOP", [days(30)])
    engine.advance_to(days(10))
    assert toy.status(arn) == "RUNNING"

    # When it is stopped
    wall = time.perf_counter()
    toy.sfn.stop_execution(executionArn=arn, error="Paid", cause="payment received")
    engine.wait_idle(timeout=5)
    wall = time.perf_counter() - wall

    # Then it ends promptly as ABORTED, and nothing runs later
    assert toy.status(arn) == "ABORTED"
    assert wall < 1
    assert engine.next_wakeup() is None
    engine.advance_to(days(60))
    assert toy.contact_times("INV-STOP") == []
    assert len(toy.plans) == 1


# ----------------------------------------------------------------------------- (3)


def test_external_event_at_the_same_instant_as_a_wakeup_is_applied_first(engine, toy):
    # Given two invoices due for contact at the same instant, and payments for A at that
    # very instant and for B one second later
    due = days(20, hours=4)
    toy.start("INV-A", [due])
    toy.start("INV-B", [due])
    events = [
        (due + dt.timedelta(seconds=1), lambda: toy.paid.add("INV-B")),
        (due, lambda: toy.paid.add("INV-A")),
    ]

    # When the simulation runs past the due time
    engine.run_until(days(30), external=events)

    # Then A's contact saw the payment (the event won the tie) and B's did not
    seen = {e["invoice"]: (t, e["paid_seen"]) for t, e in toy.contacts}
    assert seen == {"INV-A": (due, True), "INV-B": (due, False)}


def test_external_event_can_start_executions(engine, toy):
    # Given an invoice that is only created on day 5
    started: list[str] = []

    def create() -> None:
        started.append(toy.start("INV-LATE", [days(7)]))

    # When the simulation runs with that event
    engine.run_until(days(10), external=[(days(5), create)])

    # Then its Plan ran on day 5 and its contact on day 7
    assert [t for t, e in toy.plans if e["invoice"] == "INV-LATE"][0] == days(5)
    assert toy.contact_times("INV-LATE") == [days(7)]
    assert toy.status(started[0]) == "SUCCEEDED"


# ----------------------------------------------------------------------------- (4)


def test_retry_on_custom_error_type_costs_no_wall_time(engine, toy):
    # Given a contact that fails twice with TransientError and then succeeds
    toy.contact_failures["INV-FLAKY"] = 2
    due = days(3)
    arn = toy.start("INV-FLAKY", [due])

    # When the simulation runs
    wall = time.perf_counter()
    engine.run_until(days(4))
    wall = time.perf_counter() - wall

    # Then Contact ran three times, separated by jittered backoff (<= 2 s, then <= 4 s),
    # and the execution succeeded without sleeping
    attempts = toy.contact_times("INV-FLAKY")
    assert len(attempts) == 3
    assert attempts[0] == due
    assert dt.timedelta(0) <= attempts[1] - attempts[0] <= dt.timedelta(seconds=2)
    assert dt.timedelta(0) <= attempts[2] - attempts[1] <= dt.timedelta(seconds=4)
    assert toy.status(arn) == "SUCCEEDED"
    assert wall < 2


def test_exhausted_retries_and_unretried_errors_end_in_the_catch_fail_state(engine, toy):
    # Given one contact that always fails with TransientError and one with PermanentError
    toy.contact_failures["INV-DOWN"] = 99
    toy.contact_failures["INV-GONE"] = 99
    toy.contact_error["INV-GONE"] = PermanentError
    down = toy.start("INV-DOWN", [days(1)])
    gone = toy.start("INV-GONE", [days(1)])

    # When the simulation runs
    engine.run_until(days(2))

    # Then the transient one was tried 1 + MaxAttempts times, the permanent one once, and
    # both were caught into the Fail state
    assert len(toy.contact_times("INV-DOWN")) == 4
    assert len(toy.contact_times("INV-GONE")) == 1
    for arn, error_type in ((down, "TransientError"), (gone, "PermanentError")):
        desc = toy.sfn.describe_execution(executionArn=arn)
        assert desc["status"] == "FAILED"
        assert desc["error"] == "ContactFailed"
        history = toy.sfn.get_execution_history(executionArn=arn)["events"]
        failed = [e["lambdaFunctionFailedEventDetails"] for e in history
                  if e["type"] == "LambdaFunctionFailed"]
        assert failed and all(f["error"] == error_type for f in failed)
        assert json.loads(failed[0]["cause"])["errorType"] == error_type


# ----------------------------------------------------------------------------- (5)


def test_fifty_concurrent_executions_complete_correctly(engine, toy):
    # Given 50 invoices with different schedules (some sharing instants)
    schedules = {
        f"INV-{i:03d}": [days(1 + (i % 7) + 20 * k, hours=i % 5) for k in range(1 + i % 4)]
        for i in range(50)
    }
    arns = {inv: toy.start(inv, sched) for inv, sched in schedules.items()}

    # When the simulation runs past the last contact
    wall = time.perf_counter()
    engine.run_until(days(100))
    wall = time.perf_counter() - wall

    # Then every execution succeeded and each contact happened at its own instant
    assert {toy.status(a) for a in arns.values()} == {"SUCCEEDED"}
    for inv, sched in schedules.items():
        assert toy.contact_times(inv) == sched
    assert len(toy.contacts) == sum(len(s) for s in schedules.values())
    assert wall < 15


# ----------------------------------------------------------------------------- (6)


TOKEN_TIMEOUT = 3600


def token_definition(fn_arn: str, timeout: int | None = None) -> dict:
    ask: dict = {
        "Type": "Task",
        "Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken",
        "Parameters": {"FunctionName": fn_arn,
                       "Payload": {"token.$": "$$.Task.Token", "invoice.$": "$.invoice"}},
        "ResultPath": "$.answer",
        "Next": "Done",
    }
    if timeout:
        ask["TimeoutSeconds"] = timeout
    return {"StartAt": "Ask", "States": {"Ask": ask, "Done": {"Type": "Succeed"}}}


@pytest.fixture
def tokens(engine):
    received: dict[str, str] = {}

    def ask(event: dict, context: Any) -> dict:
        received[event["invoice"]] = event["token"]
        return {"queued": True}

    arn = engine.register_lambda("toy-ask", ask)
    sfn = engine.client("stepfunctions")
    machines = {
        name: sfn.create_state_machine(name=f"toy-{name}", roleArn=ROLE,
                                       definition=json.dumps(token_definition(arn, t)))
        ["stateMachineArn"]
        for name, t in (("token", None), ("token-timeout", TOKEN_TIMEOUT))
    }
    return sfn, machines, received


def test_wait_for_task_token_parks_until_send_task_success(engine, tokens):
    sfn, machines, received = tokens
    # Given an execution waiting for a task token
    arn = sfn.start_execution(stateMachineArn=machines["token"], name="T-1",
                              input=json.dumps({"invoice": "INV-T"}))["executionArn"]
    engine.wait_idle(timeout=5)  # returns: the execution is parked on the token
    assert engine.parked() == {"token": 1}
    engine.advance_to(days(30))
    assert sfn.describe_execution(executionArn=arn)["status"] == "RUNNING"

    # When the token is answered
    sfn.send_task_success(taskToken=received["INV-T"], output=json.dumps({"approved": True}))
    engine.wait_idle(timeout=5)

    # Then the execution resumes with the answer
    desc = sfn.describe_execution(executionArn=arn)
    assert desc["status"] == "SUCCEEDED"
    assert json.loads(desc["output"])["answer"] == {"approved": True}
    assert engine.parked() == {}


def test_task_token_timeout_and_stop_use_virtual_time(engine, tokens):
    sfn, machines, received = tokens
    # Given one token wait with TimeoutSeconds=3600 and one without a timeout
    timed = sfn.start_execution(stateMachineArn=machines["token-timeout"], name="T-2",
                                input=json.dumps({"invoice": "INV-TO"}))["executionArn"]
    stopped = sfn.start_execution(stateMachineArn=machines["token"], name="T-3",
                                  input=json.dumps({"invoice": "INV-ST"}))["executionArn"]
    engine.wait_idle(timeout=5)
    assert engine.next_wakeup() == START + dt.timedelta(seconds=TOKEN_TIMEOUT)

    # When two virtual hours pass and the other execution is stopped
    engine.advance_to(days(0, hours=2))
    sfn.stop_execution(executionArn=stopped)
    engine.wait_idle(timeout=5)

    # Then the first timed out (States.Timeout) and the second is ABORTED
    desc = sfn.describe_execution(executionArn=timed)
    assert (desc["status"], desc["error"]) == ("FAILED", "States.Timeout")
    assert sfn.describe_execution(executionArn=stopped)["status"] == "ABORTED"
    assert engine.parked() == {}


# ----------------------------------------------------------------------------- (7)


def test_dynamodb_stream_event_source_mapping_delivers_insert_records(engine):
    # Given a table with a stream mapped to a registered lambda
    batches: list[dict] = []
    fn_arn = engine.register_lambda("toy-stream", lambda event, ctx: batches.append(event))
    ddb = engine.client("dynamodb")
    table = ddb.create_table(
        TableName="invoices", BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
    )["TableDescription"]
    stream_arn = table["LatestStreamArn"]
    engine.client("lambda").create_event_source_mapping(
        EventSourceArn=stream_arn, FunctionName=fn_arn, StartingPosition="LATEST",
        BatchSize=10)

    # When items are written
    ddb.put_item(TableName="invoices", Item={"pk": {"S": "INV-1"}, "amount": {"N": "120"}})
    ddb.put_item(TableName="invoices", Item={"pk": {"S": "INV-2"}, "amount": {"N": "80"}})
    ddb.put_item(TableName="invoices", Item={"pk": {"S": "INV-1"}, "amount": {"N": "0"}})

    # Then each write was delivered once, synchronously, in the DynamoDB Streams event shape
    records = [r for b in batches for r in b["Records"]]
    assert [r["eventName"] for r in records] == ["INSERT", "INSERT", "MODIFY"]
    first = records[0]
    assert first["eventSource"] == "aws:dynamodb"
    assert first["eventSourceARN"] == stream_arn
    assert first["dynamodb"]["Keys"] == {"pk": {"S": "INV-1"}}
    assert first["dynamodb"]["NewImage"] == {"pk": {"S": "INV-1"}, "amount": {"N": "120"}}
    assert first["dynamodb"]["ApproximateCreationDateTime"] == START.timestamp()
    assert records[2]["dynamodb"]["OldImage"]["amount"] == {"N": "120"}


# ----------------------------------------------------------------------------- extras


def test_direct_lambda_invoke_surfaces_handler_errors_like_lambda(engine):
    # Given a registered handler that raises a custom exception
    def handler(event: dict, context: Any) -> dict:
        if event.get("fail"):
            raise TransientError("try later")
        return {"echo": event, "fn": context.function_name,
                "ms": context.get_remaining_time_in_millis()}

    engine.register_lambda("toy-direct", handler)
    lam = engine.client("lambda")

    # When it is invoked through boto3
    ok = lam.invoke(FunctionName="toy-direct", Payload=json.dumps({"a": 1}))
    bad = lam.invoke(FunctionName="toy-direct", Payload=json.dumps({"fail": True}))

    # Then the result and the error look like real Lambda's
    assert json.loads(ok["Payload"].read()) == {"echo": {"a": 1}, "fn": "toy-direct", "ms": 30000}
    assert "FunctionError" not in ok
    assert bad["FunctionError"] == "Unhandled"
    body = json.loads(bad["Payload"].read())
    assert (body["errorType"], body["errorMessage"]) == ("TransientError", "try later")


def test_parallel_and_map_branches_wait_in_virtual_time(engine):
    # Given a Parallel with two waiting branches followed by a Map whose items wait
    seen: list[tuple[dt.datetime, Any]] = []
    fn = engine.register_lambda("toy-mark", lambda e, c: seen.append((engine.now(), e)) or e)
    definition = {
        "StartAt": "Both",
        "States": {
            "Both": {"Type": "Parallel", "ResultPath": None, "Next": "Each", "Branches": [
                {"StartAt": "W1", "States": {
                    "W1": {"Type": "Wait", "Seconds": 86400, "Next": "M1"},
                    "M1": {"Type": "Task", "Resource": fn, "Parameters": {"b": 1}, "End": True}}},
                {"StartAt": "W2", "States": {
                    "W2": {"Type": "Wait", "Seconds": 172800, "Next": "M2"},
                    "M2": {"Type": "Task", "Resource": fn, "Parameters": {"b": 2}, "End": True}}},
            ]},
            "Each": {"Type": "Map", "ItemsPath": "$.items", "End": True, "Iterator": {
                "StartAt": "WI", "States": {
                    "WI": {"Type": "Wait", "SecondsPath": "$.delay", "Next": "MI"},
                    "MI": {"Type": "Task", "Resource": fn, "End": True}}}},
        },
    }
    sfn = engine.client("stepfunctions")
    sm = sfn.create_state_machine(name="toy-fanout", roleArn=ROLE,
                                  definition=json.dumps(definition))["stateMachineArn"]
    items = [{"delay": 3600}, {"delay": 60}]

    # When it runs for ten virtual days
    arn = sfn.start_execution(stateMachineArn=sm, name="F-1",
                              input=json.dumps({"items": items}))["executionArn"]
    engine.run_until(days(10))

    # Then each branch/item ran when its own wait expired
    assert seen == [
        (days(1), {"b": 1}),
        (days(2), {"b": 2}),
        (days(2) + dt.timedelta(seconds=60), {"delay": 60}),
        (days(2) + dt.timedelta(seconds=3600), {"delay": 3600}),
    ]
    assert sfn.describe_execution(executionArn=arn)["status"] == "SUCCEEDED"


def test_execution_timeout_seconds_is_virtual(engine):
    # Given a workflow with TimeoutSeconds of one day that waits two days
    sfn = engine.client("stepfunctions")
    definition = {"TimeoutSeconds": 86400, "StartAt": "W", "States": {
        "W": {"Type": "Wait", "Seconds": 172800, "End": True}}}
    sm = sfn.create_state_machine(name="toy-timeout", roleArn=ROLE,
                                  definition=json.dumps(definition))["stateMachineArn"]
    arn = sfn.start_execution(stateMachineArn=sm, name="TO-1")["executionArn"]
    engine.wait_idle(timeout=5)
    assert engine.next_wakeup() == days(1)

    # When three virtual days pass
    engine.run_until(days(3))

    # Then it timed out at day 1, and nothing is left scheduled
    assert sfn.describe_execution(executionArn=arn)["status"] == "TIMED_OUT"
    last = sfn.get_execution_history(executionArn=arn)["events"][-1]
    assert (last["type"], last["timestamp"]) == ("ExecutionTimedOut", days(1))
    assert engine.next_wakeup() is None


def test_wait_idle_reports_a_blocked_execution(engine):
    # Given a handler that blocks on something the engine cannot see
    gate = threading.Event()
    fn = engine.register_lambda("toy-block", lambda e, c: gate.wait(10) and {})
    sfn = engine.client("stepfunctions")
    sm = sfn.create_state_machine(
        name="toy-block", roleArn=ROLE, definition=json.dumps(
            {"StartAt": "B", "States": {"B": {"Type": "Task", "Resource": fn, "End": True}}}),
    )["stateMachineArn"]
    arn = sfn.start_execution(stateMachineArn=sm, name="B-1")["executionArn"]

    # When waiting for quiescence with a short guard, then unblocking
    with pytest.raises(IdleTimeout):
        engine.wait_idle(timeout=0.2)
    gate.set()
    engine.wait_idle(timeout=5)

    # Then the guard fired and the execution completed afterwards
    assert sfn.describe_execution(executionArn=arn)["status"] == "SUCCEEDED"


def test_exit_restores_clock_timezone_and_moto():
    from moto.stepfunctions.parser.asl.component.state.wait.wait_function.wait_function import (
        WaitFunction,
    )

    original_wait = WaitFunction.__dict__["_wait_interval"]
    tz_before = os.environ.get("TZ")

    # Given an engine that is left through an exception
    with pytest.raises(RuntimeError, match="boom"):
        with LocalEngine(days(-3000)):
            assert dt.datetime.now(UTC) == days(-3000)
            assert WaitFunction.__dict__["_wait_interval"] is not original_wait
            raise RuntimeError("boom")

    # Then real time, TZ and moto's code are back
    assert abs(dt.datetime.now(UTC).year - dt.datetime.fromtimestamp(time.time(), UTC).year) == 0
    assert dt.datetime.now(UTC) > days(-1000)
    assert os.environ.get("TZ") == tz_before
    assert WaitFunction.__dict__["_wait_interval"] is original_wait
    with LocalEngine(START) as again:  # and a new engine can start
        assert again.now() == START
