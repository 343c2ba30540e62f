"""The policy simulator and its book format: same domain code, in memory, no state machine."""

from __future__ import annotations

import csv
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from typer.testing import CliRunner

from arrears.domain.policy import plan_steps
from arrears.usecases.simulator import simulate
from arrears_local.book import BookError, book_updates, read_book, sample_payments, synthetic_book, write_book
from arrears_local.cli import app

START = datetime(2026, 9, 1, 8, tzinfo=timezone.utc)
HEADER = "invoice_id,number,customer_id,customer_name,customer_email,country,address_line1,postal_code,city,currency,amount,issued_at,due_at,paid_at\n"


def book_file(tmp_path: Path, *rows: str) -> Path:
    path = tmp_path / "book.csv"
    path.write_text(HEADER + "".join(row + "\n" for row in rows))
    return path


ROW = "in_{n},INV-{n},cus_{n},Brightwater Logistics Ltd,ap@brightwater.example,GB,44 Canal Street,M1 3HP,Manchester,GBP,250000,2026-09-01T09:00:00+00:00,2026-10-01T09:00:00+00:00,{paid}"


def steps(result, invoice_id):
    return [e.step_id for e in result.logs[invoice_id] if e.kind in ("email", "letter", "call_task", "referral")]


def test_an_unpaid_invoice_gets_every_step_and_a_paid_one_stops(tmp_path, default_policy):
    # Given one invoice never paid and one paid ten days after its due date
    book = read_book(book_file(tmp_path, ROW.format(n=1, paid=""), ROW.format(n=2, paid="2026-10-11T12:00:00+00:00")))
    # When the default policy is simulated for 150 days
    result = simulate(default_policy, book_updates(book), START + timedelta(days=150))
    # Then the unpaid one walks the whole policy and the paid one got nothing after its payment
    assert steps(result, "in_1") == [s.id for s in default_policy.segment_for("standard").steps]
    assert steps(result, "in_2") == ["courtesy_reminder", "due_notice", "overdue_7"]
    assert result.referred() == ["in_1"]
    assert result.stage_totals()["referral"] == 1


def test_a_payment_at_the_instant_a_step_is_due_wins(tmp_path, default_policy):
    book = read_book(book_file(tmp_path, ROW.format(n=1, paid="")))
    due_notice_at = next(p.at for p in plan_steps(default_policy, "standard", book[0].invoice.due_at, "Europe/London", "GB")
                         if p.step.id == "due_notice")
    book = read_book(book_file(tmp_path, ROW.format(n=1, paid=due_notice_at.isoformat())))
    result = simulate(default_policy, book_updates(book), START + timedelta(days=150))
    assert steps(result, "in_1") == ["courtesy_reminder"]


@pytest.mark.parametrize("row, message", [
    ("in_1,INV-1,,Acme,ap@acme.example,GB,,,,GBP,100,2026-09-01T09:00:00+00:00,2026-10-01T09:00:00+00:00,", "missing customer_id"),
    ("in_1,INV-1,cus_1,Acme,ap@acme.example,GB,,,,GBP,lots,2026-09-01T09:00:00+00:00,2026-10-01T09:00:00+00:00,", "book.csv:2"),
    ("in_1,INV-1,cus_1,Acme,ap@acme.example,GB,,,,GBP,100,2026-09-01T09:00:00,2026-10-01T09:00:00+00:00,", "without a timezone"),
    ("in_1,INV-1,cus_1,Acme,ap@acme.example,GB,,,,GBP,100,2026-10-01T09:00:00+00:00,2026-09-01T09:00:00+00:00,", "before issued_at"),
])
def test_a_bad_book_is_refused_with_its_line_and_reason(tmp_path, row, message):
    with pytest.raises(BookError, match=message):
        read_book(book_file(tmp_path, row))


def test_repeated_invoice_ids_are_refused(tmp_path):
    with pytest.raises(BookError, match="repeat"):
        read_book(book_file(tmp_path, ROW.format(n=1, paid=""), ROW.format(n=1, paid="")))


def test_sampled_payments_are_reproducible_and_keep_given_dates(tmp_path):
    book = synthetic_book(300, START)
    first, second = sample_payments(book, seed=3), sample_payments(book, seed=3)
    assert [b.paid_at for b in first] == [b.paid_at for b in second]
    assert 0.05 < sum(b.paid_at is None for b in first) / len(first) < 0.2  # about 10 % never pay
    given = read_book(book_file(tmp_path, ROW.format(n=1, paid="2026-10-11T12:00:00+00:00")))
    assert sample_payments(given, seed=3)[0].paid_at == given[0].paid_at


def test_a_written_book_reads_back_the_same(tmp_path):
    book = sample_payments(synthetic_book(20, START), seed=1)
    write_book(book, tmp_path / "book.csv")
    assert read_book(tmp_path / "book.csv") == book


def test_the_simulate_command_reports_totals_and_writes_every_contact(tmp_path):
    path = book_file(tmp_path, ROW.format(n=1, paid=""), ROW.format(n=2, paid="2026-09-25T12:00:00+00:00"))
    out = tmp_path / "contacts.csv"
    result = CliRunner().invoke(app, ["simulate", "--book", str(path), "--contacts", str(out)])
    assert result.exit_code == 0, result.output
    assert "1 invoices referred" in result.output
    rows = list(csv.DictReader(out.open()))
    assert len(rows) == 9 and {r["invoice_id"] for r in rows} == {"in_1", "in_2"}  # 8 steps + one courtesy reminder


@pytest.mark.parametrize("consolidation", ["off", "on"])
def test_the_simulate_command_keeps_the_gap_and_says_how_many_messages_waited(tmp_path, consolidation):
    # Given one customer with two invoices due the same day, neither ever paid
    same_customer = ROW.format(n=1, paid=""), ROW.format(n=2, paid="").replace("cus_2", "cus_1")
    out = tmp_path / "contacts.csv"
    policy = tmp_path / "policy.yaml"
    text = (Path(__file__).resolve().parents[2] / "policies" / "default.yaml").read_text()
    assert "consolidation:\n  enabled: true" in text
    policy.write_text(text if consolidation == "on" else text.replace("consolidation:\n  enabled: true",
                                                                      "consolidation:\n  enabled: false"))
    # When the default policy (a 2-day gap) is simulated, one message per invoice (off) or per customer (on)
    result = CliRunner().invoke(app, ["simulate", "--policy", str(policy), "--book",
                                      str(book_file(tmp_path, *same_customer)), "--contacts", str(out)])
    assert result.exit_code == 0, result.output
    # Then no two messages are within 2 days of each other (a step another invoice's message covered is that
    # message, not one more)
    rows = list(csv.DictReader(out.open()))
    moments = sorted(datetime.fromisoformat(r["at"]) for r in rows if r["channel"] != "call_task" and not r["covered_by"])
    assert min(b - a for a, b in zip(moments, moments[1:])) >= timedelta(days=2)
    covered = {r["covered_by"] for r in rows if r["invoice_id"] == "in_2" and r["channel"] != "call_task"}
    if consolidation == "off":
        # And it says how many messages waited for the gap: the second invoice's, each time
        assert "messages waited for the policy's 2-day gap" in result.output and covered == {""}
    else:
        # And nothing waited: every message of the second invoice went in the first's
        assert "messages waited" not in result.output and covered == {"in_1"}


def test_the_simulate_command_refuses_a_bad_book(tmp_path):
    result = CliRunner().invoke(app, ["simulate", "--book", str(book_file(tmp_path, "in_1,INV-1"))])
    assert result.exit_code == 1 and "missing" in result.output


def _planned_form(entry) -> dict:
    """What a plan-only run records the same as a full one: everything but subjects and hashes."""
    data = entry.model_dump(mode="json", exclude={"hash", "prev_hash", "subject"})
    data["artefacts"] = [{k: v for k, v in a.items() if k != "sha256"} for a in data["artefacts"]]
    return data


def test_a_plan_only_run_records_the_same_entries_without_rendering_anything(default_policy):
    # Given a sampled book in which some debtors have no postal address (their demand letter cannot go out)
    book = sample_payments(synthetic_book(40, START), seed=5)
    book[0] = type(book[0])(book[0].invoice, book[0].customer.model_copy(update={"address": type(book[0].customer.address)()}),
                            None)
    updates = book_updates(book)
    until = START + timedelta(days=150)
    # When it is simulated with full rendering and plan only
    full = simulate(default_policy, updates, until)
    plan = simulate(default_policy, updates, until, render=False)
    # Then both record the same entries, and the plan renders, hashes and keeps no content
    assert sorted(plan.logs) == sorted(full.logs)
    for invoice_id, entries in full.logs.items():
        assert [_planned_form(e) for e in plan.logs[invoice_id]] == [_planned_form(e) for e in entries], invoice_id
    assert plan.emails_sent == full.emails_sent > 0
    planned = [e for entries in plan.logs.values() for e in entries]
    assert all(e.hash == "" and (e.subject or "") == "" for e in planned)
    assert all(a.sha256 == "" for e in planned for a in e.artefacts)
    blocked = [e for e in plan.logs[book[0].invoice.invoice_id] if e.kind == "contact_blocked"]
    assert blocked and "postal address" in blocked[0].details["missing"]


def test_advancing_in_steps_keeps_every_invoices_last_decision(tmp_path, default_policy):
    from arrears.usecases.simulator import Simulation

    # Given one invoice paid early and one never paid, simulated a day at a time (as the CLI's progress bar does)
    book = read_book(book_file(tmp_path, ROW.format(n=1, paid="2026-09-20T12:00:00+00:00"), ROW.format(n=2, paid="")))
    simulation = Simulation(default_policy, render=False)
    simulation.add_updates(book_updates(book))
    for day in range(1, 201):
        simulation.advance(START + timedelta(days=day))
    # Then the result still knows what each workflow last decided, not only the last day's (which decided nothing):
    # the paid one was stopped while waiting for its first step, the unpaid one walked the whole policy
    assert simulation.result().decisions == {"in_1": "active", "in_2": "complete"}
    assert simulation.running == set()


def test_the_simulator_applies_credit_notes_as_the_webhooks_function_does(default_policy):
    # Given a sample invoice, and a credit note of EUR 100.00 issued three days after its due date
    from arrears.ingestion.providers.stripe import to_update
    from arrears.usecases.simulator import Simulation
    from arrears_local.portfolio import sample_portfolio
    from arrears_local.stripe_events import credit_note_event, invoice_event

    invoice = sample_portfolio(count=1)[0].invoice
    changes = [(invoice.created, to_update(invoice_event(invoice, "invoice.finalized", invoice.created))),
               (invoice.due + timedelta(days=3), to_update(credit_note_event(invoice, 1, 10_000, invoice.due + timedelta(days=3))))]
    # When the policy is simulated over it
    result = Simulation(default_policy, render=False)
    result.add_updates(changes)
    logs = result.run(invoice.due + timedelta(days=20)).logs[invoice.invoice_id]
    # Then the reminders after the credit note ask for the reduced balance
    sent = {e.step_id: e.details["balance"] for e in logs if e.kind == "email"}
    assert sent["due_notice"] == invoice.total and sent["overdue_7"] == invoice.total - 10_000
    update = next(e for e in logs if e.kind == "invoice_updated")
    assert update.details["changed"]["amount_remaining"] == {"from": invoice.total, "to": invoice.total - 10_000}
