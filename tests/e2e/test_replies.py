"""Debtor replies on the local runtime (issue #17): the template's inbound path on, the real trigger (an object stored
in the inbound bucket runs the inbound function), the real ASL, IAM enforced.

Given two never-paying customers: one answers the first overdue reminder (Gmail, to its signed Reply-To), the other's
Exchange answers it with an out-of-office. The next reminder of the first waits until a person has handled the
`read_reply` task; the second's goes on its date. The audit archive holds the reply and `arrears audit verify` checks it.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from datetime import timedelta
from email import message_from_bytes
from pathlib import Path

import pytest
from typer.testing import CliRunner

from arrears.adapters.dynamo import DynamoStore
from arrears.ingestion.providers.stripe import to_update
from arrears.usecases.inbound import UNMATCHED_INVOICE
from arrears.usecases.simulator import Simulation
from arrears.domain.policy import load_policy_file
from arrears_local.cli import app
from arrears_local.portfolio import DEMO_START, sample_portfolio
from arrears_local.demo import book_events
from arrears_local.runtime import LOCAL_INBOUND_DOMAIN, LOCAL_REPLY_TOKEN_SECRET, LocalRuntime, local_reply_to
from tests.e2e.test_audit_trail import download_audit_bucket
from tests.e2e.test_holds import _run_with_actions
from tests.e2e.test_lifecycle import _comparable

ROOT = Path(__file__).resolve().parents[2]
MAIL = ROOT / "tests" / "fixtures" / "mail"
POLICY = load_policy_file(ROOT / "policies" / "default.yaml")
NEVER_PAY = [item for item in sample_portfolio(DEMO_START, 20) if item.behaviour == "never pays"]
BOOK = [NEVER_PAY[0], next(i for i in NEVER_PAY[1:] if i.invoice.customer.customer_id != NEVER_PAY[0].invoice.customer.customer_id)]
REPLIED, AWAY = BOOK[0].invoice, BOOK[1].invoice
FINANCE = "arn:aws:iam::123456789012:user/finance-jane"
# Apple Mail's answer from someone Arrears never emailed, quoting a message it never sent: nobody can tell whose it is.
STRANGER = (MAIL / "apple_mail_human.eml").read_bytes().replace(b"__SES_ID__", b"0102019aneversent-0000")


@dataclass
class Run:
    logs: dict
    sent_reply_to: set
    handled: dict
    archive: Path
    received: list  # (at, the raw message) as the inbound bucket got them
    unmatched: list  # the unmatched log's entries


def _reply(runtime, invoice, fixture: str) -> bytes:
    """The customer answers the last email Arrears sent it, as its mail client would (the message, as received)."""
    store = DynamoStore(runtime.table_name)
    email = [e for e in store.entries(invoice.invoice_id) if e.kind in ("email", "letter") and e.message_id][-1]
    sent = next(m for m in runtime.sent_emails() if m.id == email.message_id)
    raw = sent.raw_data.encode() if isinstance(sent.raw_data, str) else sent.raw_data
    reply_to = message_from_bytes(raw)["Reply-To"]
    return (MAIL / fixture).read_bytes().replace(b"__REPLY_ADDRESS__", reply_to.encode()).replace(
        b"__SES_ID__", email.message_id.encode())


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> Run:
    handled: dict = {}
    received: list = []
    with LocalRuntime(start=DEMO_START, iam=True) as runtime:
        store = DynamoStore(runtime.table_name)

        def receive(raw: bytes) -> None:
            received.append((runtime.now(), raw))
            runtime.receive_email(raw)

        def handle_task():
            task = next(t for t in store.open_tasks() if t["kind"] == "read_reply")
            answer = runtime.request("POST", f"/tasks/{task['task_id']}/done",
                                     json.dumps({"note": "called James: the transfer was to the old account"}),
                                     {"content-type": "application/json"}, principal=FINANCE)
            handled.update(status=answer.status_code, at=runtime.now(), task=task,
                           closed_by=answer.json()["closed_by"], note=answer.json()["note"])

        # Reminders at +7 and +15 (+16 here: the 15th day is a Sunday); the reply and the out-of-office come at +13, the
        # task is handled at +16 after the reminder was deferred
        # (inside the pause: 3 business days from +13), so the reminder waits for it.
        actions = [(REPLIED.due + timedelta(days=13), lambda: receive(_reply(runtime, REPLIED, "gmail_human.eml"))),
                   (AWAY.due + timedelta(days=13), lambda: receive(_reply(runtime, AWAY, "exchange_ooo_de.eml"))),
                   (REPLIED.due + timedelta(days=14), lambda: receive(STRANGER)),
                   (REPLIED.due + timedelta(days=16, hours=6), handle_task)]
        book_run = _run_with_actions(runtime, actions, book=BOOK, days=70)
        sent_reply_to = {str(message_from_bytes(m.raw_data.encode() if isinstance(m.raw_data, str) else m.raw_data)["Reply-To"])
                         for m in runtime.sent_emails()}
        archive = download_audit_bucket(runtime, tmp_path_factory.mktemp("audit-bucket"))
        unmatched = store.entries(UNMATCHED_INVOICE)
    return Run(book_run.logs, sent_reply_to, handled, archive, received, unmatched)  # the engine closed: another test may start its own


def _kinds(entries):
    return [(e.kind, e.step_id) for e in entries]


def test_every_email_carries_a_signed_reply_address_of_the_inbound_domain(run):
    assert run.sent_reply_to and all(a.startswith("reply+") and a.endswith(f"@{LOCAL_INBOUND_DOMAIN}") for a in run.sent_reply_to)


def test_a_reply_after_the_first_overdue_reminder_pauses_the_next_until_the_task_is_handled(run):
    entries = run.logs[REPLIED.invoice_id]
    reply = next(e for e in entries if e.kind == "reply_received")
    assert reply.actor == "j.okafor@brightpath.example" and reply.details["matched_by"] == "token"
    assert reply.details["in_reply_to_step"] == "overdue_7" and "We paid this last week" in reply.details["text"]
    assert [a.kind for a in reply.artefacts] == ["reply"]
    deferred = next(e for e in entries if e.kind == "contact_deferred" and e.step_id == "overdue_15")
    assert "replied" in deferred.details["reason"] and deferred.at < run.handled["at"]
    assert run.handled["status"] == 200
    ended = next(e for e in entries if e.kind == "reply_pause_ended")
    sent = next(e for e in entries if e.kind == "email" and e.step_id == "overdue_15")
    # The reminder went once the task was handled (the workflow woken), before the pause would have run out
    assert ended.at == run.handled["at"] and run.handled["at"] <= sent.at < ended.at + timedelta(hours=1)
    assert sent.at < reply.at + timedelta(days=5)
    assert _kinds(entries).count(("email", "overdue_15")) == 1


def test_an_out_of_office_does_not_pause(run):
    entries = run.logs[AWAY.invoice_id]
    auto = next(e for e in entries if e.kind == "auto_reply_received")
    assert auto.details["classification"] == "out_of_office" and auto.details["return_date"] == "2026-11-30"
    assert not any(e.kind == "contact_deferred" for e in entries)
    sent = next(e for e in entries if e.kind == "email" and e.step_id == "overdue_15")
    planned = next(e for e in entries if e.kind == "collection_started").details["planned"]
    assert sent.at.isoformat().replace("+00:00", "Z") == next(p["at"] for p in planned if p["step_id"] == "overdue_15")


def test_the_audit_archive_holds_the_reply_and_verify_checks_its_hash(run, tmp_path):
    copied = sorted((run.archive / "artefacts" / "replies").rglob("message.eml"))
    # The reply, the out-of-office and the stranger's message (the unmatched log's), beside the emails and letters
    assert len(copied) == 3
    unmatched = [path for path in copied if path.parts[-3] == "unmatched"]
    assert len(unmatched) == 1 and unmatched[0].read_bytes() == STRANGER
    assert (unmatched[0].parent / "01-fiche-fournisseur.pdf").read_bytes().startswith(b"%PDF-1.4")
    result = CliRunner().invoke(app, ["audit", "verify", str(run.archive)])
    assert result.exit_code == 0, result.output
    # And a reply changed after the fact is named by verify
    target = tmp_path / "audit"
    shutil.copytree(run.archive, target)
    for tampered in (target / "artefacts" / "replies").rglob("message.eml"):
        original = tampered.read_bytes()
        tampered.write_bytes(original.replace(b"We paid", b"We never paid").replace(b"Vielen", b"Keinen")
                             .replace(b"Madame", b"Monsieur"))
        assert tampered.read_bytes() != original
        checked = CliRunner().invoke(app, ["audit", "verify", str(target)])
        # Each reply changed after the fact, the unmatched one too, is named by verify (then put back)
        assert checked.exit_code != 0 and tampered.relative_to(target / "artefacts").as_posix() in checked.output, checked.output
        tampered.write_bytes(original)


def _same(entry) -> dict:
    """An entry as the simulator must also write it: without what only the stack decides (message ids, storage
    locations and so the task ids made from them)."""
    data = _comparable(entry)
    data["details"].pop("task_id", None)
    return data


def test_the_simulator_agrees_with_the_local_runtime_where_it_models_replies(run):
    # Given the same book, the same messages received at the same moments and the same person handling the task
    events, _ = book_events(BOOK, POLICY)
    simulation = Simulation(POLICY, "collections@northwind.example", reply_to=local_reply_to)
    simulation.add_updates([(event.at, to_update(event.document())) for event in events])
    for at, raw in run.received:
        simulation.add_reply(at, raw, LOCAL_INBOUND_DOMAIN, [LOCAL_REPLY_TOKEN_SECRET])

    def handle(sim):
        task = next(t for t in sim.store.open_tasks_of(REPLIED.invoice_id) if t["kind"] == "read_reply")
        sim.complete_task(task["task_id"], run.handled["note"], run.handled["closed_by"])

    simulation.add_action(run.handled["at"], handle)
    # When the simulator runs it
    result = simulation.run(DEMO_START + timedelta(days=70))
    # Then every log is the one the state machine and the inbound function wrote: the reply, its pause, the deferred
    # reminder and its going once the task was handled; the out-of-office that paused nothing; the unmatched message
    assert {"reply_received", "reply_pause_ended", "contact_deferred", "task_done"} <= {e.kind for e in result.logs[REPLIED.invoice_id]}
    for invoice_id, entries in run.logs.items():
        assert [_same(e) for e in result.logs[invoice_id]] == [_same(e) for e in entries], invoice_id
    assert [_same(e) for e in simulation.store.entries(UNMATCHED_INVOICE)] == [_same(e) for e in run.unmatched] != []


def test_a_stack_without_an_inbound_domain_deploys_no_inbound_path_and_replies_go_to_the_creditor():
    # Given the template deployed with InboundDomain empty (its default)
    invoice = NEVER_PAY[0].invoice
    with LocalRuntime(start=DEMO_START, parameters={"InboundDomain": ""}, iam=True) as runtime:
        _run_with_actions(runtime, [], book=[NEVER_PAY[0]], days=(invoice.due - DEMO_START).days)
        functions = {f["FunctionName"] for f in runtime.client("lambda").list_functions()["Functions"]}
        buckets = {b["Name"] for b in runtime.client("s3").list_buckets()["Buckets"]}
        sent = runtime.sent_emails()
    # Then no inbound function, bucket or rule; and the emails' Reply-To is the creditor's own address, as before
    assert not any("inbound" in name for name in functions | buckets)
    assert sent and {str(message_from_bytes(m.raw_data.encode() if isinstance(m.raw_data, str) else m.raw_data)["Reply-To"])
                     for m in sent} == {POLICY.creditor.email}
