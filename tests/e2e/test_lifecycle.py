"""Whole lifecycles on the local runtime: the sample book through 150 virtual days, the real ASL."""

from __future__ import annotations

import io
import json
import shutil
import subprocess
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from babel.dates import format_date
from pypdf import PdfReader

from arrears.domain.hash_chain import verify_chain
from arrears.domain.geo import timezone_for_country
from arrears.domain.money import format_money
from arrears.domain.policy import load_policy_file, plan_steps
from arrears_local.demo import BookRun, contacts, run_book
from arrears_local.portfolio import BEHAVIOURS, DEMO_DAYS, DEMO_START, sample_portfolio
from arrears_local.runtime import LocalRuntime, local_reply_to

ROOT = Path(__file__).resolve().parents[2]
POLICY = load_policy_file(ROOT / "policies" / "default.yaml")


@dataclass
class Observed:
    run: BookRun
    executions: dict[str, dict]
    histories: dict[str, list[dict]]
    sent: list
    audit_lines: list[dict]
    letters: dict[str, bytes]
    referrals: dict[str, bytes]
    sender_email: str
    refused: list  # calls a function's role refused (arrears_local.iam): none
    failed_invocations: list
    unresolved: set  # calls checked without the resource they name worked out: none


@pytest.fixture(scope="module")
def observed() -> Observed:
    portfolio = sample_portfolio(DEMO_START, 24)
    # Each function as its own role from template.yaml, every call checked (docs/local-runtime.md, "IAM enforcement").
    with LocalRuntime(start=DEMO_START, iam=True) as runtime:
        run = run_book(runtime, portfolio, POLICY, DEMO_DAYS)
        sfn, s3 = runtime.client("stepfunctions"), runtime.client("s3")
        executions = {e["name"]: e for e in sfn.list_executions(stateMachineArn=runtime.state_machine_arn)["executions"]}
        histories = {name: sfn.get_execution_history(executionArn=e["executionArn"])["events"] for name, e in executions.items()}
        audit_lines = [json.loads(line)
                       for obj in s3.list_objects_v2(Bucket=runtime.audit_bucket, Prefix="contact-log/").get("Contents", [])
                       for line in s3.get_object(Bucket=runtime.audit_bucket, Key=obj["Key"])["Body"].read().splitlines()]

        def objects(prefix: str) -> dict[str, bytes]:
            listed = s3.list_objects_v2(Bucket=runtime.letters_bucket, Prefix=prefix).get("Contents", [])
            return {o["Key"]: s3.get_object(Bucket=runtime.letters_bucket, Key=o["Key"])["Body"].read() for o in listed}

        yield Observed(run, executions, histories, runtime.sent_emails(), audit_lines, objects("letters/"), objects("referrals/"),
                       runtime.sender_email, runtime.iam.denials, runtime.iam.failures, runtime.iam.unresolved)


def test_the_whole_lifecycle_runs_with_each_function_as_its_own_role_and_no_call_refused(observed):
    assert observed.refused == [] and observed.failed_invocations == [] and observed.unresolved == set()


def expected_steps(item, settled_at: datetime | None) -> list[str]:
    zone = timezone_for_country(item.invoice.customer.country, POLICY.default_timezone, item.invoice.customer.state)
    planned = plan_steps(POLICY, "standard", item.invoice.due.replace(microsecond=0), zone, item.invoice.customer.country)
    # A settlement at the very instant a contact is due wins: "never contact a payer".
    return [p.step.id for p in planned if settled_at is None or p.at < settled_at]


def test_the_sample_book_covers_every_behaviour(observed):
    assert {item.behaviour for item in observed.run.portfolio} == set(BEHAVIOURS)
    assert len(observed.run.portfolio) >= 20


def test_each_invoice_gets_the_contacts_the_policy_implies_or_the_log_says_why_not(observed):
    moved_somewhere = covered_somewhere = False
    for item in observed.run.portfolio:
        invoice_id = item.invoice.invoice_id
        log = observed.run.logs[invoice_id]
        sent_steps = [entry.step_id for entry in contacts(log)]
        # One message per customer (default v3): a step another invoice's message covered may go before its own
        # moment (within the policy's window), so before a settlement that came later
        covered = {e.step_id for e in log if "covered_by" in e.details}
        covered_somewhere |= bool(covered)
        expected = expected_steps(item, observed.run.settled_at[invoice_id])
        expected += [step for step in covered if step not in expected]
        deferred = {e.step_id for e in log if e.kind == "contact_deferred"}
        superseded = {e.step_id for e in log if e.kind == "step_skipped"}
        moved_somewhere |= bool(deferred)
        # Every step the policy implies went out once, the messages in the policy's order (a call task is not held
        # back by the gap, so it may come before a message that waited); or it waited for the customer's gap and the
        # invoice was paid meanwhile, or a later step overtook it and the log says so
        assert set(sent_steps) <= set(expected) and len(sent_steps) == len(set(sent_steps)), (item.behaviour, invoice_id)
        messages = [e.step_id for e in contacts(log) if e.kind != "call_task"]
        in_order = [step for step in expected_steps(item, None) if step in messages]
        assert messages == in_order, (item.behaviour, invoice_id)
        for missing in (step for step in expected if step not in sent_steps):
            assert missing in deferred or missing in superseded, (item.behaviour, invoice_id, missing)
    # The sample book has customers with several invoices due close together: one message per customer covers
    # several invoices' steps, so none has to wait for the policy's gap (before v3, the gap moved some contacts)
    assert covered_somewhere and not moved_somewhere


def test_no_two_messages_to_one_customer_within_the_policys_gap(observed):
    by_customer: dict[str, list[datetime]] = {}
    for entries in observed.run.logs.values():
        for entry in entries:
            if entry.kind in ("email", "letter", "referral") and "covered_by" not in entry.details:  # a covered step
                by_customer.setdefault(entry.customer_id, []).append(entry.at)  # is its carrying invoice's message
    assert len(by_customer) == 6
    for customer_id, moments in by_customer.items():
        moments.sort()
        gaps = [later - earlier for earlier, later in zip(moments, moments[1:])]
        assert min(gaps) >= POLICY.contact_gap > timedelta(0), customer_id


def test_no_contact_is_sent_at_or_after_settlement(observed):
    for item in observed.run.portfolio:
        settled = observed.run.settled_at[item.invoice.invoice_id]
        if settled is not None:
            assert all(entry.at < settled for entry in contacts(observed.run.logs[item.invoice.invoice_id])), item.behaviour


def test_a_payment_at_the_instant_of_a_reminder_wins(observed):
    item = next(i for i in observed.run.portfolio if i.behaviour == "pays the instant a reminder is due")
    steps = [e.step_id for e in contacts(observed.run.logs[item.invoice.invoice_id])]
    assert steps == ["courtesy_reminder", "due_notice"]  # overdue_7 was due the instant it was paid


def test_duplicated_deliveries_start_one_execution_and_send_nothing_twice(observed):
    redelivered = [i for i in observed.run.portfolio if i.redelivered]
    assert redelivered
    assert sorted(observed.executions) == sorted(i.invoice.invoice_id for i in observed.run.portfolio)
    for item in redelivered:
        invoice_id = item.invoice.invoice_id
        finalized = [d for d in observed.run.deliveries if d.invoice_id == invoice_id and d.event_type == "invoice.finalized"]
        assert len(finalized) == 2 and finalized[0].reply == finalized[1].reply
        kinds = [e.kind for e in observed.run.logs[invoice_id]]
        assert kinds.count("invoice_opened") == 1
        steps = [e.step_id for e in contacts(observed.run.logs[invoice_id])]
        assert len(steps) == len(set(steps))


def test_every_delivery_was_accepted(observed):
    assert [d for d in observed.run.deliveries if d.status_code != 200] == []


def test_every_email_ses_accepted_is_in_the_contact_log_once(observed):
    # A step another invoice's message covered records that message's id: it is its carrier's, not one more.
    logged = [e.message_id for entries in observed.run.logs.values() for e in entries
              if e.message_id and "covered_by" not in e.details]
    # The agency's copy of a referral is part of the referral step's entry.
    logged += [e.details["agency_message_id"] for entries in observed.run.logs.values() for e in entries
               if "agency_message_id" in e.details]
    assert len(logged) == len(set(logged)) == len(observed.sent)
    assert set(logged) == {message.id for message in observed.sent}


def test_workflows_end_cleanly(observed):
    by_behaviour = {i.invoice.invoice_id: i.behaviour for i in observed.run.portfolio}
    for name, execution in observed.executions.items():
        assert execution["status"] in ("SUCCEEDED", "ABORTED"), (by_behaviour[name], execution["status"])
        if by_behaviour[name] == "never pays":
            assert execution["status"] == "SUCCEEDED"


def test_a_contact_step_costs_at_most_three_state_transitions(observed):
    never_pays = [i.invoice.invoice_id for i in observed.run.portfolio if i.behaviour == "never pays"]
    for invoice_id in never_pays:
        entered = [e for e in observed.histories[invoice_id] if e["type"].endswith("StateEntered")]
        log = observed.run.logs[invoice_id]
        # A contact that waited for the customer's gap woke the workflow once more.
        wake_ups = len({e.at for e in contacts(log)} | {e.at for e in log if e.kind == "contact_deferred"})
        # The fixed cost: the first-execution-or-renewal choice, the start task, its choice and the final
        # Succeed; each wake-up is Wait, Task, Choice.
        assert len(entered) <= 3 * wake_ups + 4


def test_the_audit_archive_holds_every_entry_once_with_intact_chains(observed):
    archived: dict[str, list[dict]] = {}
    for line in observed.audit_lines:
        archived.setdefault(line["invoice_id"], []).append(line)
    for invoice_id, entries in observed.run.logs.items():
        lines = sorted(archived.get(invoice_id, []), key=lambda line: line["seq"])
        assert [line["seq"] for line in lines] == [entry.seq for entry in entries], invoice_id
        assert verify_chain(lines) == []


# The demo's debtors by country: the language their letter is written in (its heading) and the locale of its
# dates and amounts (the Dutch customer reads English, written as in the Netherlands).
LETTER_LANGUAGE = {"GB": ("Formal notice and demand for payment", "en_GB"), "US": ("Formal notice and demand for payment", "en_US"),
                   "NL": ("Formal notice and demand for payment", "en_NL"), "DE": ("Mahnung und Zahlungsaufforderung", "de_DE"),
                   "FR": ("Mise en demeure de payer", "fr_FR")}


def test_demand_letters_state_what_a_demand_letter_must(observed):
    assert observed.letters
    invoices = {i.invoice.invoice_id: i.invoice for i in observed.run.portfolio}
    languages = set()
    for key, pdf in observed.letters.items():
        invoice = invoices[key.split("/")[1]]
        text = " ".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)
        letter_entry = next(e for e in observed.run.logs[invoice.invoice_id] if e.kind == "letter")
        deadline = datetime.fromisoformat(letter_entry.details["deadline"]).date()
        heading, locale = LETTER_LANGUAGE[invoice.customer.country]
        assert heading in text, (invoice.number, invoice.customer.country)
        languages.add(locale[:2])
        assert invoice.customer.name in text
        assert invoice.number in text
        assert format_money(invoice.total, invoice.currency, locale) in text
        written = format_date(deadline, format="long", locale=locale)
        if locale.startswith("fr") and deadline.day == 1:
            written = "1er" + written[1:]  # French writes the first of the month "1er"
        assert written in text, "deadline"
        assert POLICY.creditor.name in text
    # The book's German and French debtors get German and French letters
    assert {"de", "fr"} <= languages


@pytest.mark.skipif(shutil.which("pdftoppm") is None, reason="pdftoppm (poppler-utils) is installed by .ci/run")
def test_letters_render_with_pdftoppm(observed, tmp_path):
    key, pdf = next(iter(observed.letters.items()))
    source = tmp_path / "letter.pdf"
    source.write_bytes(pdf)
    result = subprocess.run(["pdftoppm", "-png", "-r", "50", str(source), str(tmp_path / "page")], capture_output=True, timeout=60)
    assert result.returncode == 0, result.stderr
    pages = sorted(tmp_path.glob("page*.png"))
    assert 1 <= len(pages) <= 2 and all(p.stat().st_size > 2000 for p in pages)


def test_referral_packages_hold_the_statement_history_and_letters(observed):
    import zipfile

    never_pays = {i.invoice.invoice_id for i in observed.run.portfolio if i.behaviour == "never pays"}
    assert {key.split("/")[1] for key in observed.referrals} == never_pays
    for key, package in observed.referrals.items():
        names = zipfile.ZipFile(io.BytesIO(package)).namelist()
        assert {"invoice.json", "debtor.json", "contact-history.jsonl", "statement-of-account.txt"} <= set(names)
        assert any(name.startswith("letters/") and name.endswith(".pdf") for name in names)


def _comparable(entry) -> dict:
    """An entry without what only the engine decides: provider message ids, storage locations, and so the hashes."""
    data = entry.model_dump(mode="json", exclude={"message_id", "hash", "prev_hash"})
    data["details"].pop("agency_message_id", None)  # a provider message id too
    if "covered_by" in data["details"]:  # and the message that covered a step (one message per customer)
        data["details"]["covered_by"] = {k: v for k, v in data["details"]["covered_by"].items() if k != "message_id"}
    # A referral package embeds the contact history, message ids included, and so does the agency's email
    # that carries it: only their kind can match.
    data["artefacts"] = [{"kind": a["kind"], "sha256": None if a["kind"] == "referral_package" or a["uri"].endswith("-agency.eml")
                          else a["sha256"]} for a in data["artefacts"]]
    return data


def test_the_policy_simulator_gives_the_same_contact_logs_as_the_local_runtime(observed):
    # Given the same book and deliveries the local runtime received
    from arrears.ingestion.providers.stripe import to_update
    from arrears.usecases.simulator import simulate
    from arrears_local.demo import book_events

    events, _ = book_events(observed.run.portfolio, POLICY)
    updates = [(event.at, to_update(event.document())) for event in events]
    # When the simulator runs it in memory for the same 150 days
    result = simulate(POLICY, updates, until=DEMO_START + timedelta(days=DEMO_DAYS), sender_email=observed.sender_email,
                      reply_to=local_reply_to)
    # Then every invoice's log is entry for entry the same, and so is every artefact's hash
    assert sorted(result.logs) == sorted(observed.run.logs)
    for invoice_id, entries in observed.run.logs.items():
        assert [_comparable(e) for e in result.logs[invoice_id]] == [_comparable(e) for e in entries], invoice_id
    assert result.emails_sent == len(observed.sent)
