"""The finance API through its handler: every route, as API Gateway would call it, against moto.

Given a sample book run for six weeks on the local runtime (some invoices paid, most still owed),
each test drives one route through `LocalRuntime.request` (the proxy event API Gateway sends,
with an IAM principal) and checks the answer and what changed in the store and the contact log.
"""

from __future__ import annotations

import json
from datetime import timedelta
from urllib.parse import quote

import pytest
import requests

from arrears.adapters import aws
from arrears.domain.clock import parse_iso
from arrears.domain.policy import load_policy_file
from arrears.adapters.dynamo import DynamoStore
from arrears_local.demo import run_book
from arrears_local.portfolio import DEMO_START, sample_portfolio
from arrears_local.runtime import LocalRuntime, project_root

ROOT = project_root()
POLICY = load_policy_file(ROOT / "policies" / "default.yaml")
JANE = "arn:aws:iam::123456789012:user/finance-jane"
DAYS = 41  # ends on Monday 12 October 2026, 08:00 UTC: inside contact hours in London and Paris


@pytest.fixture(scope="module")
def stack():
    with LocalRuntime(start=DEMO_START) as runtime:
        run_book(runtime, sample_portfolio(DEMO_START, 20), POLICY, DAYS)
        yield runtime


@pytest.fixture(scope="module")
def open_invoices(stack):
    """The open invoices at the end of the run, each test takes its own (actions change them)."""
    invoices = call(stack, "GET", "/invoices?limit=200")[1]["invoices"]
    return {invoice["number"]: invoice for invoice in invoices}


def call(runtime: LocalRuntime, method: str, path: str, body: dict | str | None = None, principal: str = JANE):
    raw = body if isinstance(body, str) else json.dumps(body) if body is not None else ""
    reply = runtime.request(method, path, raw, {"Content-Type": "application/json"}, principal=principal)
    return reply.status_code, reply.json()


def log_of(runtime: LocalRuntime, invoice_id: str):
    return DynamoStore(runtime.table_name).entries(invoice_id)


def take(open_invoices: dict, number: str) -> dict:
    return open_invoices[number]


# --- reading ---------------------------------------------------------------------------------------
def test_list_answers_open_invoices_by_gsi_without_a_scan(stack):
    # Given any Scan on the table would fail
    def no_scan(**_):
        raise AssertionError("the finance API scanned the table")

    aws.table(stack.table_name).meta.client.meta.events.register("before-call.dynamodb.Scan", no_scan)
    aws.client("dynamodb").meta.events.register("before-call.dynamodb.Scan", no_scan)
    store = DynamoStore(stack.table_name)
    expected_open = {i.invoice.invoice_id for i in sample_portfolio(DEMO_START, 20)
                     if (inv := store.get_invoice(i.invoice.invoice_id)) and inv.status.value == "open"}
    # When every filter is used
    status, body = call(stack, "GET", "/invoices?limit=200")
    filtered = [call(stack, "GET", path)[0] for path in (
        "/invoices?aging=1-30", "/invoices?currency=eur", "/invoices?state=closed", "/invoices?stage=overdue_reminder",
        "/invoices?customer_id=cus_QhK2tW9yUo6Cd4", "/invoices?next_action_before=2026-12-01T00:00:00Z")]
    # Then they answer, and the open list is exactly the open invoices
    assert status == 200 and filtered == [200] * 6
    assert {i["invoice_id"] for i in body["invoices"]} == expected_open
    assert all(i["state"] == "open" and i["amount_remaining"] > 0 for i in body["invoices"])


def test_list_pages_through_every_invoice_once(stack):
    everything = call(stack, "GET", "/invoices?state=closed&limit=200")[1]["invoices"]
    seen, cursor = [], None
    while True:
        status, page = call(stack, "GET", "/invoices?state=closed&limit=2" + (f"&cursor={cursor}" if cursor else ""))
        assert status == 200 and len(page["invoices"]) <= 2
        seen += [i["invoice_id"] for i in page["invoices"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert len(everything) >= 5
    assert seen == [i["invoice_id"] for i in everything] and len(set(seen)) == len(seen)


def test_filters_each_keep_only_what_they_name(stack):
    store = DynamoStore(stack.table_name)
    now = stack.now()
    for bucket, (low, high) in {"current": (-999, 0), "1-30": (1, 30), "31-60": (31, 60), "90+": (91, 9999)}.items():
        for item in call(stack, "GET", f"/invoices?aging={quote(bucket)}")[1]["invoices"]:
            days = (now.date() - store.get_invoice(item["invoice_id"]).due_at.date()).days
            assert low <= days <= high and item["aging"] == bucket
    euros = call(stack, "GET", "/invoices?currency=EUR")[1]["invoices"]
    assert euros and {i["currency"] for i in euros} == {"EUR"}
    cobalt = call(stack, "GET", "/invoices?customer_id=cus_QhK2tW9yUo6Cd4&state=open")[1]["invoices"]
    assert cobalt and {i["customer_id"] for i in cobalt} == {"cus_QhK2tW9yUo6Cd4"}
    soon = call(stack, "GET", "/invoices?next_action_before=2026-10-14T00:00:00Z")[1]["invoices"]
    assert all(i["next_action_at"] < "2026-10-14T00:00:00Z" for i in soon)
    reminded = call(stack, "GET", "/invoices?stage=overdue_reminder")[1]["invoices"]
    assert reminded and {i["stage"] for i in reminded} == {"overdue_reminder"}
    closed = call(stack, "GET", "/invoices?state=closed")[1]["invoices"]
    assert closed and {i["state"] for i in closed} == {"closed"} and all(i["aging"] is None for i in closed)


@pytest.mark.parametrize("query, error", [
    ("aging=1-30&state=closed", "invalid_filter"), ("next_action_before=2026-12-01T00:00:00Z&state=closed", "invalid_filter"),
    ("aging=120", "invalid_request"), ("limit=0", "invalid_request"),
    ("limit=201", "invalid_request"), ("state=everything", "invalid_request"), ("stage=gossip", "invalid_request"),
    ("next_action_before=2026-12-01T00:00:00", "invalid_filter"),
])
def test_a_bad_filter_is_a_422_with_a_reason(stack, query, error):
    status, body = call(stack, "GET", f"/invoices?{query}")
    assert (status, body["error"]) == (422, error)
    assert body["message"]


def test_a_changed_or_foreign_cursor_is_a_400(stack):
    # Given a cursor the API handed out for the closed invoices
    cursor = call(stack, "GET", "/invoices?state=closed&limit=2")[1]["next_cursor"]
    payload, _, mac = cursor.partition(".")
    changed = payload[:-1] + ("A" if payload[-1] != "A" else "B") + "." + mac
    # When it is sent changed, for another query, or made up
    answers = [call(stack, "GET", path) for path in (
        f"/invoices?state=closed&limit=2&cursor={changed}", f"/invoices?state=open&limit=2&cursor={cursor}",
        "/invoices?cursor=not-a-cursor")]
    # Then each is refused as malformed, and the cursor itself still works
    assert [(status, body["error"]) for status, body in answers] == [(400, "invalid_cursor")] * 3
    assert call(stack, "GET", f"/invoices?state=closed&limit=2&cursor={cursor}")[0] == 200


def test_one_invoice_shows_its_timeline_and_planned_steps(stack, open_invoices):
    invoice = take(open_invoices, "NW-2026-1049")  # never pays: every step so far, the rest planned
    status, body = call(stack, "GET", f"/invoices/{invoice['invoice_id']}")
    assert status == 200
    kinds = [e["kind"] for e in body["timeline"]]
    assert kinds[:2] == ["invoice_opened", "collection_started"] and "email" in kinds
    emails = [e for e in body["timeline"] if e["kind"] == "email"]
    assert all(e["delivery"] == "sent" and e["recipient"] and e["subject"] for e in emails)
    links = [a for e in emails for a in e["artefacts"]]
    assert links and all(a["download_url"].startswith("https://") and "Signature" in a["download_url"] for a in links)
    done = {e["step_id"] for e in body["timeline"] if e["step_id"]}
    planned = body["planned"]
    policy_steps = [s.id for s in POLICY.segment_for("standard").steps]
    assert done and [p["step_id"] for p in planned] == [s for s in policy_steps if s not in done]
    assert [p["at"] for p in planned] == sorted(p["at"] for p in planned) and planned[0]["at"] > "2026-10-12"
    assert body["invoice"]["next_action_at"] == planned[0]["at"]


def test_unknown_ids_are_404_everywhere(stack):
    for method, path, body in [
        ("GET", "/invoices/in_nope", None), ("POST", "/invoices/in_nope/pause", {"until": "2027-01-01T00:00:00Z"}),
        ("POST", "/invoices/in_nope/resume", {}), ("POST", "/invoices/in_nope/dispute", {"reason": "x"}),
        ("POST", "/invoices/in_nope/dispute/resolve", {}), ("POST", "/invoices/in_nope/promise", {"promised_on": "2027-01-01"}),
        ("POST", "/invoices/in_nope/escalate", {}), ("POST", "/invoices/in_nope/skip", {"step_id": "overdue_7"}),
        ("POST", "/invoices/in_nope/write-off", {}), ("POST", "/invoices/in_nope/notes", {"text": "hello"}),
        ("GET", "/customers/cus_nope", None), ("PATCH", "/customers/cus_nope", {"language": "de"}),
        ("POST", "/customers/cus_nope/insolvency", {"notice": "x"}), ("GET", "/policies/nope", None),
        ("GET", "/policies/nope/versions", None), ("POST", "/policies/nope/dry-run", {}),
    ]:
        status, answer = call(stack, method, path, body)
        assert status == 404, (method, path, answer)
        assert answer["error"].startswith("unknown_")


# --- actions ---------------------------------------------------------------------------------------
def test_pause_then_resume_is_logged_with_the_caller(stack, open_invoices):
    invoice_id = take(open_invoices, "NW-2026-1045")["invoice_id"]
    until = (stack.now() + timedelta(days=10)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert call(stack, "POST", f"/invoices/{invoice_id}/pause", {"until": until, "reason": "AP migration"})[0] == 200
    status, again = call(stack, "POST", f"/invoices/{invoice_id}/pause", {"until": until})
    assert (status, again["error"]) == (409, "already_on_hold")
    assert call(stack, "GET", f"/invoices/{invoice_id}")[1]["invoice"]["hold"]["kind"] == "pause"
    status, wrong = call(stack, "POST", f"/invoices/{invoice_id}/dispute/resolve", {})
    assert (status, wrong["error"]) == (409, "not_disputed")
    assert call(stack, "POST", f"/invoices/{invoice_id}/resume", {"reason": "migration done"})[0] == 200
    status, twice = call(stack, "POST", f"/invoices/{invoice_id}/resume", {})
    assert (status, twice["error"]) == (409, "not_paused")
    entries = log_of(stack, invoice_id)
    placed, released = [e for e in entries if e.kind in ("hold_placed", "hold_released")][-2:]
    assert (placed.actor, released.actor) == (JANE, JANE)
    assert placed.details["reason"] == "AP migration" and released.details["reason"] == "migration done"


def test_a_pause_in_the_past_changes_nothing(stack, open_invoices):
    invoice_id = take(open_invoices, "NW-2026-1045")["invoice_id"]
    before = len(log_of(stack, invoice_id))
    status, body = call(stack, "POST", f"/invoices/{invoice_id}/pause", {"until": "2020-01-01T00:00:00Z"})
    assert (status, body["error"]) == (422, "invalid_until")
    status, body = call(stack, "POST", f"/invoices/{invoice_id}/pause", {"until": "2027-01-01T00:00:00"})
    assert (status, body["error"]) == (422, "invalid_request")  # no timezone
    status, body = call(stack, "POST", f"/invoices/{invoice_id}/pause", "{not json")
    assert status in (400, 422) and body["error"]
    assert len(log_of(stack, invoice_id)) == before


def test_dispute_then_resolve(stack, open_invoices):
    invoice_id = take(open_invoices, "NW-2026-1046")["invoice_id"]
    assert call(stack, "POST", f"/invoices/{invoice_id}/dispute", {"reason": "seats cancelled in August"})[0] == 200
    status, body = call(stack, "POST", f"/invoices/{invoice_id}/resume", {})
    assert (status, body["error"]) == (409, "not_paused")
    status, body = call(stack, "POST", f"/invoices/{invoice_id}/escalate", {})
    assert (status, body["error"]) == (409, "on_hold")
    assert call(stack, "GET", f"/invoices/{invoice_id}")[1]["planned"] == []  # nothing planned while disputed
    assert call(stack, "POST", f"/invoices/{invoice_id}/dispute/resolve", {"reason": "no cancellation on file"})[0] == 200
    assert call(stack, "GET", f"/invoices/{invoice_id}")[1]["invoice"]["hold"] is None


def test_promise_to_pay(stack, open_invoices):
    invoice_id = take(open_invoices, "NW-2026-1048")["invoice_id"]
    status, body = call(stack, "POST", f"/invoices/{invoice_id}/promise", {"promised_on": "2026-01-01"})
    assert (status, body["error"]) == (422, "invalid_until")
    status, body = call(stack, "POST", f"/invoices/{invoice_id}/promise", {"promised_on": "2026-10-20"})
    assert status == 200 and body["outcome"]["contacts_resume_at"] > "2026-10-20"
    hold = call(stack, "GET", f"/invoices/{invoice_id}")[1]["invoice"]["hold"]
    assert hold["kind"] == "promise" and hold["promised_on"] == "2026-10-20" and hold["actor"] == JANE


def may_be_messaged_now(stack, customer_id: str) -> bool:
    """No message to the customer within the policy's gap (its contact slot, arrears.domain.contact_queue)."""
    slot = stack.client("dynamodb").get_item(TableName=stack.table_name, Key={
        "pk": {"S": f"CUSTOMER#{customer_id}"}, "sk": {"S": "LAST_CONTACT"}}).get("Item")
    return slot is None or (parse_iso(slot["at"]["S"]) <= stack.now() - POLICY.contact_gap and "next_at" not in slot)


def test_escalate_sends_the_next_step_now_once_and_then_the_customer_has_its_gap(stack, open_invoices):
    # Given an invoice of a customer in Amsterdam, London or Paris (10:00 or 09:00 local now) not messaged within the gap
    invoice = next(i for i in open_invoices.values() if i["customer_id"] in (
        "cus_QhK2vX4zWp2Ef5", "cus_QhK2mN8vLp4Rt1", "cus_QhK2xY7aYq8Gh6", "cus_QhK2rV1xSn3Ab3")
        and may_be_messaged_now(stack, i["customer_id"]))
    take(open_invoices, invoice["number"])
    invoice_id = invoice["invoice_id"]
    pending = call(stack, "GET", f"/invoices/{invoice_id}")[1]["planned"][0]
    sent_before = len(stack.sent_emails())
    status, body = call(stack, "POST", f"/invoices/{invoice_id}/escalate", {"reason": "customer asked for the formal letter"})
    assert status == 200 and body["outcome"]["step_id"] == pending["step_id"]
    assert len(stack.sent_emails()) == sent_before + 1
    entries = log_of(stack, invoice_id)
    escalated = next(e for e in entries if e.kind == "escalated")
    sent = [e for e in entries if e.step_id == pending["step_id"] and e.kind in ("email", "letter")]
    assert escalated.details["by"] == JANE and len(sent) == 1 and sent[0].at == stack.now()
    # And another invoice of the same customer cannot be escalated inside the policy's gap: refused, nothing logged
    sibling = next(i for i in open_invoices.values() if i["customer_id"] == invoice["customer_id"] and i is not invoice)
    before = len(log_of(stack, sibling["invoice_id"]))
    status, body = call(stack, "POST", f"/invoices/{sibling['invoice_id']}/escalate", {})
    assert (status, body["error"]) == (409, "contacted_recently") and invoice_id in body["message"]
    assert len(log_of(stack, sibling["invoice_id"])) == before and len(stack.sent_emails()) == sent_before + 1
    # When the workflow later wakes for that step, it does not send it again.
    stack.run_until(stack.now() + timedelta(days=1))
    assert len([e for e in log_of(stack, invoice_id) if e.step_id == pending["step_id"] and e.kind in ("email", "letter")]) == 1


def test_escalate_outside_contact_hours_is_refused(stack, open_invoices):
    invoice_id = take(open_invoices, "NW-2026-1049")["invoice_id"]  # Cobalt, San Francisco: 01:00 local
    before = len(log_of(stack, invoice_id))
    status, body = call(stack, "POST", f"/invoices/{invoice_id}/escalate", {})
    assert (status, body["error"]) == (409, "outside_contact_hours")
    assert len(log_of(stack, invoice_id)) == before


def test_skip_a_step(stack, open_invoices):
    invoice_id = take(open_invoices, "NW-2026-1049")["invoice_id"]
    status, body = call(stack, "POST", f"/invoices/{invoice_id}/skip", {"step_id": "no_such_step"})
    assert (status, body["error"]) == (422, "unknown_step") and "final_notice" in body["message"]
    done = next(e["step_id"] for e in call(stack, "GET", f"/invoices/{invoice_id}")[1]["timeline"] if e["kind"] == "email")
    status, body = call(stack, "POST", f"/invoices/{invoice_id}/skip", {"step_id": done})
    assert (status, body["error"]) == (409, "step_done")
    assert call(stack, "POST", f"/invoices/{invoice_id}/skip", {"step_id": "final_notice", "reason": "agreed by phone"})[0] == 200
    planned = [p["step_id"] for p in call(stack, "GET", f"/invoices/{invoice_id}")[1]["planned"]]
    assert "final_notice" not in planned
    skipped = [e for e in log_of(stack, invoice_id) if e.kind == "step_skipped" and e.step_id == "final_notice"]
    assert len(skipped) == 1 and skipped[0].actor == JANE


def test_notes_go_into_the_record(stack, open_invoices):
    invoice_id = take(open_invoices, "NW-2026-1049")["invoice_id"]
    status, body = call(stack, "POST", f"/invoices/{invoice_id}/notes", {"text": "Spoke to Dana in AP: paying Friday"})
    assert status == 200
    note = [e for e in call(stack, "GET", f"/invoices/{invoice_id}")[1]["timeline"] if e["kind"] == "note"][-1]
    assert note["seq"] == body["outcome"]["seq"] and note["actor"] == JANE
    assert note["details"]["text"] == "Spoke to Dana in AP: paying Friday"
    assert call(stack, "POST", f"/invoices/{invoice_id}/notes", {"text": ""})[0] == 422


def test_write_off_closes_and_stops_the_workflow(stack, open_invoices):
    invoice_id = take(open_invoices, "NW-2026-1055")["invoice_id"]
    assert call(stack, "POST", f"/invoices/{invoice_id}/write-off", {"reason": "customer dissolved"})[0] == 200
    summary = call(stack, "GET", f"/invoices/{invoice_id}")[1]["invoice"]
    assert (summary["state"], summary["status"]) == ("closed", "uncollectible")
    status, body = call(stack, "POST", f"/invoices/{invoice_id}/write-off", {})
    assert (status, body["error"]) == (409, "invoice_closed")
    arn = f"{stack.state_machine_arn.replace(':stateMachine:', ':execution:')}:{invoice_id}"
    stack.run_until(stack.now())
    assert stack.client("stepfunctions").describe_execution(executionArn=arn)["status"] != "RUNNING"
    assert invoice_id not in {i["invoice_id"] for i in call(stack, "GET", "/invoices?limit=200")[1]["invoices"]}
    written = [e for e in log_of(stack, invoice_id) if e.kind == "written_off"]
    assert len(written) == 1 and written[0].actor == JANE and written[0].details["reason"] == "customer dissolved"


# --- customers -------------------------------------------------------------------------------------
def test_customer_settings_win_over_the_billing_platform_until_cleared(stack):
    customer_id = "cus_QhK2vX4zWp2Ef5"  # Van Dijk
    status, body = call(stack, "PATCH", f"/customers/{customer_id}",
                        {"language": "de", "escalation_email": "cfo@vandijk.example", "timezone": "Europe/Amsterdam"})
    assert status == 200
    assert (body["language"], body["escalation_email"], body["finance_settings"]["language"]) == ("de", "cfo@vandijk.example", "de")
    assert body["open_invoices"] >= 1 and body["open_balance"]["EUR"] > 0
    assert DynamoStore(stack.table_name).get_customer(customer_id).language == "de"
    status, body = call(stack, "PATCH", f"/customers/{customer_id}", {"language": None})
    assert status == 200 and body["language"] == "en" and "language" not in body["finance_settings"]
    for bad in ({"timezone": "Mars/Olympus"}, {"email": "not-an-address"}, {}, {"name": "Other B.V."}):
        status, answer = call(stack, "PATCH", f"/customers/{customer_id}", bad)
        assert status == 422, (bad, answer)


def test_a_customer_gets_its_own_policy_and_account_owner(stack):
    customer_id = "cus_QhK2xY7aYq8Gh6"  # Harbour & Finch
    # A policy that is not published is refused, and nothing changes
    status, body = call(stack, "PATCH", f"/customers/{customer_id}", {"policy_id": "enterprise"})
    assert (status, body["error"]) == (422, "invalid_field") and "enterprise" in body["message"]
    assert call(stack, "GET", f"/customers/{customer_id}")[1]["policy_id"] is None
    # A published one, with the account owner and the strategic segment, is the customer's from now on
    status, body = call(stack, "PATCH", f"/customers/{customer_id}",
                        {"policy_id": "default", "account_owner": "Priya Shah", "segment": "strategic"})
    assert status == 200 and (body["policy_id"], body["account_owner"], body["segment"]) == ("default", "Priya Shah", "strategic")
    stored = DynamoStore(stack.table_name).get_customer(customer_id)
    assert (stored.policy_id, stored.account_owner) == ("default", "Priya Shah")
    # Cleared with null, the default policy applies again
    status, body = call(stack, "PATCH", f"/customers/{customer_id}", {"policy_id": None, "segment": None})
    assert status == 200 and body["policy_id"] is None and body["segment"] == "standard"


def test_a_task_marked_done_leaves_the_open_list_and_is_recorded_on_its_invoice(stack, open_invoices):
    # Given a letter waiting to be posted (the task the workflow opens when no email reaches the debtor)
    invoice = take(open_invoices, "NW-2026-1048")
    task_id = DynamoStore(stack.table_name).open_task(invoice["invoice_id"], "post_letter", stack.now(), {
        "step_id": "overdue_7", "letter": "s3://letters/x.pdf", "postal_address": ["Atelier Lumière SARL", "75002 Paris"]})
    task = next(t for t in call(stack, "GET", "/tasks")[1]["tasks"] if t["task_id"] == task_id)
    # When Jane marks it done the next day, with what happened
    stack.run_until(stack.now() + timedelta(days=1))
    status, body = call(stack, "POST", f"/tasks/{task_id}/done", {"note": "posted first class"})
    # Then it is closed by her, no longer open, and the invoice's log says who did it and when
    assert status == 200 and (body["status"], body["closed_by"], body["note"]) == ("done", JANE, "posted first class")
    assert task_id not in [t["task_id"] for t in call(stack, "GET", "/tasks")[1]["tasks"]]
    done = [e for e in log_of(stack, task["invoice_id"]) if e.kind == "task_done"]
    assert len(done) == 1 and done[0].actor == JANE and done[0].details["task"] == "post_letter"
    assert done[0].step_id == task["details"]["step_id"] and done[0].at == stack.now()
    # And doing it again is a conflict, an unknown task a 404, and neither changes anything
    status, body = call(stack, "POST", f"/tasks/{task_id}/done", {})
    assert (status, body["error"]) == (409, "task_closed") and JANE in body["message"]
    assert call(stack, "POST", "/tasks/no-such-task/done", {})[1]["error"] == "unknown_task"
    assert len([e for e in log_of(stack, task["invoice_id"]) if e.kind == "task_done"]) == 1


def test_written_off_its_open_call_task_closes_and_leaves_the_work_queue(stack, open_invoices):
    # Given an invoice with a call to make in the morning queue (as the workflow opens it at +15)
    invoice = take(open_invoices, "NW-2026-1047")
    task_id = DynamoStore(stack.table_name).open_task(invoice["invoice_id"], "call_debtor", stack.now(), {
        "step_id": "call_15", "customer": invoice["customer_id"], "script": "call_overdue"})
    task = next(t for t in call(stack, "GET", "/tasks")[1]["tasks"] if t["task_id"] == task_id)
    # When Jane writes the invoice off
    assert call(stack, "POST", f"/invoices/{task['invoice_id']}/write-off", {"reason": "settled in court"})[0] == 200
    # Then the call is no longer in the queue (a DynamoDB key query found it) and the log says why, and who
    assert task["task_id"] not in [t["task_id"] for t in call(stack, "GET", "/tasks")[1]["tasks"]]
    assert DynamoStore(stack.table_name).task(task["task_id"])["status"] == "obsolete"
    closed = [e for e in log_of(stack, task["invoice_id"]) if e.kind == "task_closed"]
    assert [(e.details["task_id"], e.details["reason"], e.actor) for e in closed] == [
        (task["task_id"], "the invoice was written off", JANE)]


def test_the_finance_team_sets_a_debtors_phone_number_and_a_bad_one_is_refused(stack):
    customer_id = "cus_QhK2pT5wQm7Yz2"  # Müller & Söhne
    # When Jane sets the number AP gave on the phone, as they wrote it
    status, body = call(stack, "PATCH", f"/customers/{customer_id}", {"phone": "+49 30 1234-5678"})
    # Then it is kept in international form, and call tasks from now on show it
    assert status == 200 and body["phone"] == "+493012345678"
    assert DynamoStore(stack.table_name).get_customer(customer_id).phone == "+493012345678"
    # And a number that is not in international form is a 422 that changes nothing
    status, body = call(stack, "PATCH", f"/customers/{customer_id}", {"phone": "030 1234 5678", "segment": "small"})
    assert (status, body["error"]) == (422, "invalid_field") and "international form" in body["message"]
    assert call(stack, "GET", f"/customers/{customer_id}")[1]["phone"] == "+493012345678"
    assert call(stack, "GET", f"/customers/{customer_id}")[1]["segment"] != "small"


def test_a_segment_change_mid_collection_leaves_the_invoice_on_the_ladder_it_started_on(stack, open_invoices):
    # Given Müller & Söhne's invoice four days overdue on the standard ladder (courtesy reminder and due notice sent)
    customer_id, invoice_id = "cus_QhK2pT5wQm7Yz2", take(open_invoices, "NW-2026-1059")["invoice_id"]
    before = call(stack, "GET", f"/invoices/{invoice_id}")[1]
    assert before["invoice"]["segment"] == "standard" and before["planned"][0]["step_id"] == "overdue_7"
    # When Jane makes the customer strategic
    status, body = call(stack, "PATCH", f"/customers/{customer_id}", {"segment": "strategic"})
    assert status == 200 and body["segment"] == "strategic"
    # Then the invoice keeps its segment and its planned steps, on the same dates, none in the past
    after = call(stack, "GET", f"/invoices/{invoice_id}")[1]
    assert after["invoice"]["segment"] == "standard" and after["planned"] == before["planned"]
    assert all(parse_iso(p["at"]) > stack.now() for p in after["planned"])
    # And the change is recorded on the invoice, saying what the invoice keeps
    updated = [e for e in log_of(stack, invoice_id) if e.kind == "customer_updated"][-1]
    assert updated.details["changes"] == {"segment": "strategic"} and updated.details["invoice_keeps_segment"] == "standard"
    # And one of its own steps can still be skipped; a step of the strategic ladder is not one of this invoice's
    status, body = call(stack, "POST", f"/invoices/{invoice_id}/skip", {"step_id": "call_15", "reason": "agreed by email"})
    assert status == 200, body
    assert "call_15" not in [p["step_id"] for p in call(stack, "GET", f"/invoices/{invoice_id}")[1]["planned"]]
    status, body = call(stack, "POST", f"/invoices/{invoice_id}/skip", {"step_id": "call_20"})
    assert (status, body["error"]) == (422, "unknown_step")
    assert call(stack, "PATCH", f"/customers/{customer_id}", {"segment": None})[0] == 200


@pytest.mark.parametrize("change, field", [
    ({"segment": "enterprise"}, "segment"),  # not a segment of the default policy
    ({"segment": "vip", "timezone": "Europe/Paris"}, "segment"),
    ({"language": "es"}, "language"),  # no Spanish templates: it would be a silent English fallback
    ({"language": "pt-BR", "segment": "small"}, "language"),
])
def test_an_unknown_segment_or_language_is_a_422_naming_the_field_and_changes_nothing(stack, change, field):
    customer_id = "cus_QhK2rV1xSn3Ab3"
    before = call(stack, "GET", f"/customers/{customer_id}")[1]
    logs = {i.invoice_id: len(log_of(stack, i.invoice_id)) for i in DynamoStore(stack.table_name).invoices_of(customer_id)}
    status, body = call(stack, "PATCH", f"/customers/{customer_id}", change)
    assert (status, body["error"]) == (422, "invalid_field"), body
    assert body["message"].startswith(f"{field}: ") and body["details"][0]["loc"] == ["body", field]
    assert call(stack, "GET", f"/customers/{customer_id}")[1] == before
    assert {i: len(log_of(stack, i)) for i in logs} == logs


def test_a_language_with_templates_and_a_segment_of_the_policy_are_accepted(stack):
    customer_id = "cus_QhK2rV1xSn3Ab3"
    status, body = call(stack, "PATCH", f"/customers/{customer_id}", {"language": "fr-BE", "segment": "small"})
    assert status == 200 and (body["language"], body["segment"]) == ("fr-BE", "small")
    assert call(stack, "PATCH", f"/customers/{customer_id}", {"language": None, "segment": None})[0] == 200


def test_insolvency_holds_every_open_invoice_of_the_customer(stack):
    customer_id = "cus_QhK2pT5wQm7Yz2"  # Müller & Söhne
    owed = call(stack, "GET", f"/invoices?customer_id={customer_id}")[1]["invoices"]
    status, body = call(stack, "POST", f"/customers/{customer_id}/insolvency", {"notice": "AG Charlottenburg 36a IN 1234/26"})
    assert status == 200 and sorted(body["invoices_held"]) == sorted(i["invoice_id"] for i in owed)
    status, again = call(stack, "POST", f"/customers/{customer_id}/insolvency", {"notice": "again"})
    assert (status, again["error"]) == (409, "nothing_to_hold")
    tasks = call(stack, "GET", "/tasks")[1]["tasks"]
    assert any(t["kind"] == "file_insolvency_claim" and t["details"]["customer_id"] == customer_id for t in tasks)


# --- policies --------------------------------------------------------------------------------------
SHIPPED = POLICY.version  # policies/default.yaml, published by the runtime
NEXT = f"version: {SHIPPED + 1}"


def test_policies_list_get_and_versions(stack):
    assert call(stack, "GET", "/policies")[1] == {"policies": [{"policy_id": "default", "current_version": SHIPPED}]}
    status, current = call(stack, "GET", "/policies/default")
    assert status == 200 and current["version"] == SHIPPED and current["current"] and "segments:" in current["source"]
    assert [v["version"] for v in call(stack, "GET", "/policies/default/versions")[1]["versions"]] == [SHIPPED]


def test_publish_a_new_version_validated(stack):
    source = (ROOT / "policies" / "default.yaml").read_text(encoding="utf-8")
    status, body = call(stack, "POST", "/policies/default/versions", {"source": source})
    assert (status, body["error"]) == (409, "version_exists")
    status, body = call(stack, "POST", "/policies/default/versions", {"source": source.replace(f"version: {SHIPPED}", NEXT)
                                                                       .replace("offset_days: 60", "offset_days: 10")})
    assert (status, body["error"]) == (422, "invalid_policy")  # stages out of order
    status, body = call(stack, "POST", "/policies/default/versions", {"source": "policy_id: [unclosed"})
    assert (status, body["error"]) == (422, "invalid_policy")
    status, body = call(stack, "POST", "/policies/other/versions", {"source": source})
    assert (status, body["error"]) == (422, "invalid_policy")
    v2 = source.replace(f"version: {SHIPPED}", NEXT).replace("name: Default B2B collections", "name: Default, firmer")
    status, body = call(stack, "POST", "/policies/default/versions", {"source": v2})
    assert status == 201 and (body["version"], body["current"]) == (SHIPPED + 1, True)
    assert call(stack, "GET", "/policies/default")[1]["name"] == "Default, firmer"
    versions = call(stack, "GET", "/policies/default/versions")[1]["versions"]
    assert [(v["version"], v["current"]) for v in versions] == [(SHIPPED, False), (SHIPPED + 1, True)]


def test_dry_run_one_invoice_and_the_book(stack, open_invoices):
    invoice_id = take(open_invoices, "NW-2026-1049")["invoice_id"]
    sent_before, log_before = len(stack.sent_emails()), len(log_of(stack, invoice_id))
    status, one = call(stack, "POST", "/policies/default/dry-run", {"version": SHIPPED, "invoice_id": invoice_id})
    assert status == 200 and one["invoices_simulated"] == 1
    steps = [c["step_id"] for c in one["invoices"][0]["contacts"]]
    # It goes on from where the invoice is: nothing it has done (sent, or skipped by a person) comes again
    done = DynamoStore(stack.table_name).get_invoice(invoice_id).completed_steps
    assert "courtesy_reminder" in done and not set(steps) & set(done)
    assert "formal_notice" in steps and (steps[-1] == "referral" or "final_notice" in done)  # a referral needs a final notice
    assert [c["at"] for c in one["invoices"][0]["contacts"]] == sorted(c["at"] for c in one["invoices"][0]["contacts"])
    draft = (ROOT / "policies" / "default.yaml").read_text(encoding="utf-8").replace(
        "      - {id: referral, stage: referral, offset_days: 90, channel: referral, template: referral_notice, tone: formal}\n", "")
    status, without_referral = call(stack, "POST", "/policies/default/dry-run", {"source": draft, "invoice_id": invoice_id})
    assert status == 200 and without_referral["version"] is None
    assert "referral" not in [c["step_id"] for c in without_referral["invoices"][0]["contacts"]]
    # The open book: a job (answered 202 at once), polled; the whole result behind a presigned link
    status, job = call(stack, "POST", "/policies/default/dry-run", {})
    assert status == 202 and (job["status"], job["policy_id"]) == ("running", "default") and job["job_id"]
    status, done = call(stack, "GET", f"/dry-runs/{job['job_id']}")
    assert status == 200 and done["status"] == "done", done  # locally the asynchronous invoke has run by now
    assert done["invoices_simulated"] >= 4 and sum(done["contacts_by_stage"].values()) > 0
    book = requests.get(done["result_url"], timeout=10).json()
    assert (book["invoices_simulated"], book["contacts_by_stage"]) == (done["invoices_simulated"], done["contacts_by_stage"])
    assert call(stack, "GET", "/dry-runs/0123456789abcdef0123456789abcdef")[0] == 404
    assert call(stack, "GET", "/dry-runs/..%2Fstatements")[0] == 404
    # A job's request is checked when it starts: a version that does not exist is refused at once
    status, body = call(stack, "POST", "/policies/default/dry-run", {"version": 9})
    assert (status, body["error"]) == (404, "unknown_version")
    # Nothing was sent or recorded
    assert len(stack.sent_emails()) == sent_before and len(log_of(stack, invoice_id)) == log_before
    status, body = call(stack, "POST", "/policies/default/dry-run", {"version": SHIPPED, "source": draft})
    assert (status, body["error"]) == (422, "invalid_policy")
    status, body = call(stack, "POST", "/policies/default/dry-run", {"version": 9})
    assert (status, body["error"]) == (404, "unknown_version")


# --- reports ---------------------------------------------------------------------------------------
def test_aging_report_adds_up_to_the_open_book(stack):
    status, report = call(stack, "GET", "/reports/aging")
    assert status == 200
    open_book = call(stack, "GET", "/invoices?limit=200")[1]["invoices"]
    for currency in {i["currency"] for i in open_book}:
        owed = [i for i in open_book if i["currency"] == currency]
        buckets = report["currencies"][currency]
        assert sum(b["amount"] for b in buckets.values()) == sum(i["amount_remaining"] for i in owed)
        for bucket, cell in buckets.items():
            assert cell["count"] == len([i for i in owed if i["aging"] == bucket])
    assert call(stack, "GET", "/reports/aging?as_of=2030-01-01T00:00:00Z")[0] == 422


def test_collections_and_stage_reports(stack):
    status, report = call(stack, "GET", "/reports/collections?from=2026-09-01&to=2026-10-12")
    assert status == 200
    gbp = next(c for c in report["currencies"] if c["currency"] == "GBP")
    assert gbp["credit_sales"] > 0 and gbp["collected_count"] >= 1 and gbp["dso_days"] > 0
    assert 0 <= gbp["cei_percent"] <= 100
    status, stages = call(stack, "GET", "/reports/stages?from=2026-09-01&to=2026-10-12")
    assert status == 200 and stages["stages"]["due_notice"]["steps_done"] > 0
    assert call(stack, "GET", "/reports/collections?from=2026-10-12&to=2026-09-01")[1]["error"] == "invalid_period"
    assert call(stack, "GET", "/reports/stages?from=yesterday&to=2026-09-01")[0] == 422


def test_the_api_serves_its_committed_openapi_document(stack):
    reply = stack.request("GET", "/openapi.json", principal=JANE)
    assert reply.status_code == 200
    assert json.loads(reply.body) == json.loads((ROOT / "openapi" / "finance.json").read_text(encoding="utf-8"))


# Last: it moves the clock on by weeks.
def test_payment_plan_holds_collection_and_reminds_per_instalment(stack, open_invoices):
    invoice = take(open_invoices, "NW-2026-1058")
    invoice_id, balance = invoice["invoice_id"], invoice["amount_remaining"]
    first, rest = balance // 2, balance - balance // 2
    wrong = {"instalments": [{"due_on": "2026-11-02", "amount": first}, {"due_on": "2026-12-01", "amount": rest - 1}]}
    status, body = call(stack, "POST", f"/invoices/{invoice_id}/payment-plan", wrong)
    assert (status, body["error"]) == (422, "invalid_plan") and "add up" in body["message"]
    plan = {"instalments": [{"due_on": "2026-11-02", "amount": first}, {"due_on": "2026-12-01", "amount": rest}],
            "reason": "agreed with their controller"}
    status, body = call(stack, "POST", f"/invoices/{invoice_id}/payment-plan", plan)
    assert status == 200 and body["outcome"]["instalments"] == 2
    hold = call(stack, "GET", f"/invoices/{invoice_id}")[1]["invoice"]["hold"]
    assert hold["kind"] == "payment_plan" and hold["plan_balance"] == balance and len(hold["instalments"]) == 2
    # When the first reminder's day comes (three days before the first instalment)
    stack.run_until(stack.now() + timedelta(days=19))
    # Then the workflow sent exactly that reminder, and nothing of the usual policy
    recent = [e for e in log_of(stack, invoice_id) if e.kind == "email" and e.at > stack.now() - timedelta(days=19)]
    assert [e.template for e in recent] == ["instalment_reminder"]
    assert call(stack, "POST", f"/invoices/{invoice_id}/resume", {"reason": "plan cancelled"})[0] == 200


def test_every_sample_api_event_is_answered_by_the_handler(stack):
    # events/api/*.json is what `sam local invoke ApiFunction -e` takes: each must reach a route and get a JSON answer.
    samples = sorted((ROOT / "events" / "api").glob("*.json"))
    assert len(samples) >= 6
    for path in samples:
        response = stack.client("lambda").invoke(FunctionName=stack.name_of("ApiFunction"), Payload=path.read_bytes())
        answer = json.loads(response["Payload"].read())
        assert "FunctionError" not in response, (path.name, answer)
        assert answer["statusCode"] in (200, 404, 409), (path.name, answer)
        assert "error" in json.loads(answer["body"]) or answer["statusCode"] == 200
