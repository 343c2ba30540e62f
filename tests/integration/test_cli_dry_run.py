"""`arrears dry-run`: a policy draft against the live open invoices of a stack's table (here the local
runtime's), sending and storing nothing."""

from __future__ import annotations

import csv

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
