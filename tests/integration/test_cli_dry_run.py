"""`arrears dry-run`: a policy draft against the live open invoices of a stack's table (here the local
runtime's), sending and storing nothing."""

from __future__ import annotations

import csv
import re

from typer.testing import CliRunner

from arrears_local.cli import app
from arrears_local.demo import run_book
from arrears_local.portfolio import DEMO_START, sample_portfolio
from tests.integration.test_finance_api import POLICY, ROOT


def test_a_draft_is_dry_run_over_the_open_book_and_nothing_changes(stack, tmp_path):
    # Given a stack 41 days into a sample book, and a draft that drops the referral
    run_book(stack, sample_portfolio(DEMO_START, 12), POLICY, 41)
    draft = tmp_path / "default-v3.yaml"
    draft.write_text((ROOT / "policies" / "default.yaml").read_text(encoding="utf-8").replace(
        f"version: {POLICY.version}", f"version: {POLICY.version + 1}").replace(
        "      - {id: referral, stage: referral, offset_days: 90, channel: referral, template: referral_notice, tone: formal}\n", ""))
    out = tmp_path / "contacts.csv"
    items_before = stack.client("dynamodb").scan(TableName=stack.table_name, Select="COUNT")["Count"]
    sent_before = len(stack.sent_emails())
    # When it is dry-run against the table
    result = CliRunner().invoke(app, ["dry-run", "--table", stack.table_name, "--policy", str(draft), "--contacts", str(out)])
    # Then it reports what the draft would send to the open invoices, per stage, and writes every contact
    assert result.exit_code == 0, result.output
    assert "(nothing sent)" in result.output and "final_notice" in result.output
    rows = list(csv.DictReader(out.open()))
    assert rows and "referral" not in {r["stage"] for r in rows} and "final_notice" in {r["stage"] for r in rows}
    # And nothing was sent or written
    assert len(stack.sent_emails()) == sent_before
    assert stack.client("dynamodb").scan(TableName=stack.table_name, Select="COUNT")["Count"] == items_before


def test_a_bad_draft_or_an_unknown_invoice_is_refused(stack, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("policy_id: default\nversion: 0\n", encoding="utf-8")
    result = CliRunner().invoke(app, ["dry-run", "--table", stack.table_name, "--policy", str(bad)])
    assert result.exit_code == 1 and "invalid_policy" in result.output
    result = CliRunner().invoke(app, ["dry-run", "--table", stack.table_name, "--invoice", "in_nope"])
    assert result.exit_code == 1 and "unknown_invoice" in result.output


def test_the_dry_run_plans_from_each_invoices_progress_leaves_held_ones_out_and_says_what_changes(stack, tmp_path):
    # Given a stack 41 days into a sample book, one of its open invoices disputed, and a draft without the referral
    from arrears.usecases.simulator import CONTACT_KINDS
    from arrears.adapters.dynamo import DynamoStore
    from tests.integration.test_finance_api import call

    run_book(stack, sample_portfolio(DEMO_START, 12), POLICY, 41)
    open_book = call(stack, "GET", "/invoices?limit=200")[1]["invoices"]
    disputed = open_book[0]["invoice_id"]
    assert call(stack, "POST", f"/invoices/{disputed}/dispute", {"reason": "the onboarding workshop never took place"})[0] == 200
    draft = tmp_path / "default-v3.yaml"
    draft.write_text((ROOT / "policies" / "default.yaml").read_text(encoding="utf-8").replace(
        f"version: {POLICY.version}", f"version: {POLICY.version + 1}").replace(
        "      - {id: referral, stage: referral, offset_days: 90, channel: referral, template: referral_notice, tone: formal}\n", ""))
    out = tmp_path / "contacts.csv"
    # When it is dry-run against the table
    result = CliRunner().invoke(app, ["dry-run", "--table", stack.table_name, "--policy", str(draft), "--contacts", str(out)],
                                terminal_width=200)
    assert result.exit_code == 0, result.output
    # Then no invoice is planned a step its log already has as sent (each carries on from where it is)
    store = DynamoStore(stack.table_name)
    rows = list(csv.DictReader(out.open()))
    assert rows
    for row in rows:
        sent = {e.step_id for e in store.entries(row["invoice_id"]) if e.kind in CONTACT_KINDS}
        assert row["step_id"] not in sent, (row, sorted(sent))
    # And the disputed invoice is left out, saying why, and planned nothing
    assert disputed not in {row["invoice_id"] for row in rows}
    assert f"left out {disputed}: on hold (dispute)" in result.output
    # And the change against the current plan is shown: every invoice still to be referred loses its referral
    assert "What changes against each invoice's current plan" in result.output
    assert re.search(r"│ removed +│ referral +│", result.output), result.output
