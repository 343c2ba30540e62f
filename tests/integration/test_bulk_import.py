"""`arrears import FILE`: invoices from a billing system without webhooks, into the stack (moto), idempotently."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from arrears_local.cli import app
from tests.integration.conftest import count_items

HEADER = ("id,number,status,currency,amount_due,amount_paid,issued_at,due_at,description,customer_id,customer_name,"
          "customer_email,address_line1,postal_code,city,country\n")
ROWS = [
    "INV-24031,24031,open,EUR,1250000,0,2026-08-14T09:00:00+02:00,2026-09-13T09:00:00+02:00,Consulting August,"
    "C-1187,Van Dijk Consultancy B.V.,crediteuren@vandijk.example,Herengracht 280,1016 BX,Amsterdam,NL\n",
    "INV-24032,24032,open,GBP,480000,120000,2026-08-20T10:00:00+01:00,2026-09-19T10:00:00+01:00,Retainer,"
    "C-2203,Harbour & Finch LLP,accounts@harbourfinch.example,3 Queen Street,EH2 1JE,Edinburgh,GB\n",
    "INV-24033,24033,paid,USD,99000,99000,2026-08-02T15:00:00-07:00,2026-09-01T15:00:00-07:00,Licences,"
    "C-3307,Cobalt Robotics Inc.,payables@cobalt-robotics.example,500 Howard Street,94105,San Francisco,US\n",
]


def executions(stack):
    return stack.client("stepfunctions").list_executions(stateMachineArn=stack.state_machine_arn)["executions"]


def run_import(stack, path, *extra):
    return CliRunner().invoke(app, ["import", str(path), "--table", stack.table_name,
                                    "--state-machine", stack.state_machine_arn, *extra])


def test_a_csv_is_imported_and_importing_it_again_changes_nothing(stack, tmp_path):
    from arrears.adapters.dynamo import DynamoStore

    # Given an export of three invoices from a billing system without webhooks
    path = tmp_path / "invoices-2026-08.csv"
    path.write_text(HEADER + "".join(ROWS), encoding="utf-8")
    # When it is imported
    result = run_import(stack, path)
    # Then the open ones are chased, the paid one is only recorded
    assert result.exit_code == 0, result.output
    assert "3 invoice(s) imported" in result.output
    store = DynamoStore(stack.table_name)
    assert store.get_invoice("INV-24032").amount_remaining == 360000
    assert store.get_customer("C-1187").address.city == "Amsterdam"
    assert sorted(e["name"] for e in executions(stack)) == ["INV-24031", "INV-24032"]
    stack.engine.wait_idle()
    logs = {i: store.entries(i) for i in ("INV-24031", "INV-24032", "INV-24033")}
    # When the same file is imported again
    again = run_import(stack, path)
    stack.engine.wait_idle()
    # Then nothing new is logged and nothing new starts
    assert again.exit_code == 0, again.output
    assert {i: store.entries(i) for i in logs} == logs and len(executions(stack)) == 2


def test_a_file_with_a_bad_row_is_reported_row_by_row_and_nothing_is_written(stack, tmp_path):
    bad = ROWS[1].replace("GBP,480000", "GBP,4800.00").replace("accounts@harbourfinch.example", "accounts at harbourfinch")
    path = tmp_path / "invoices.csv"
    path.write_text(HEADER + ROWS[0] + bad + ROWS[2], encoding="utf-8")
    items = count_items(stack)
    result = run_import(stack, path)
    assert result.exit_code == 1
    assert "1 row(s) with problems; nothing was imported" in result.output
    assert "row 3: amount_due" in result.output
    # An address that is not one is the billing system's data: accepted, never mailed, a task (docs/debtor-data.md)
    assert "customer.email" not in result.output and "customer_email" not in result.output
    assert count_items(stack) == items and executions(stack) == []


@pytest.mark.parametrize("name, content, message", [
    ("invoices.xlsx", "PK\x03\x04", "name it .csv, .json or .jsonl"),
    ("invoices.json", "{not json", "is not JSON"),
    ("invoices.json", "[]", "holds no invoices"),
])
def test_an_unreadable_file_is_refused_whole(stack, tmp_path, name, content, message):
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    result = run_import(stack, path)
    assert result.exit_code == 2 and message in result.output


def test_json_lines_with_the_generic_feeds_invoice_shape(stack, tmp_path):
    from arrears.adapters.dynamo import DynamoStore
    from arrears_local.billing_events import generic_invoice_record
    from arrears_local.portfolio import sample_portfolio

    records = [generic_invoice_record(item.invoice) for item in sample_portfolio(count=2)]
    path = tmp_path / "book.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in records) + "\n", encoding="utf-8")
    assert run_import(stack, path, "--check").exit_code == 0 and executions(stack) == []
    result = run_import(stack, path)
    assert result.exit_code == 0, result.output
    assert DynamoStore(stack.table_name).get_invoice(records[1]["id"]).number == records[1]["number"]
