"""Reading and checking a bulk import file (arrears.ingestion.bulk_import): every problem by row, nothing half-imported."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest

from arrears.ingestion.bulk_import import ImportFileError, apply_import, plan_import, read_records
from arrears.adapters.memory import MemoryStore
from arrears_local.billing_events import generic_invoice_record
from arrears_local.portfolio import sample_portfolio
from tests.unit.test_stripe_events import RecordingWorkflows

NOW = datetime(2026, 9, 1, 8, 0, tzinfo=timezone.utc)


@pytest.fixture
def records():
    return [generic_invoice_record(item.invoice) for item in sample_portfolio(count=3)]


def test_a_json_array_is_planned_and_applied(records):
    plan = plan_import(read_records(json.dumps(records).encode(), "book.json"), NOW)
    assert plan.valid and [u.invoice.invoice_id for u in plan.updates] == [r["id"] for r in records]
    store, workflows = MemoryStore(), RecordingWorkflows()
    outcomes = apply_import(plan, store, store, workflows, NOW)
    assert outcomes == {"started": 3} and len(workflows.started) == 3


def test_the_same_invoice_twice_in_one_file_is_a_problem(records):
    plan = plan_import(read_records(json.dumps([records[0], records[0]]).encode(), "book.json"), NOW)
    assert [str(p) for p in plan.problems] == [f"row 2: id: invoice {records[0]['id']} is also in row 1"]
    assert plan.updates == []


def test_every_problem_of_every_row_is_reported_and_the_plan_cannot_be_applied(records):
    records[0]["currency"] = "euro"
    records[2]["customer"]["email"] = ""
    records[2]["amount_due"] = "1200.50"
    plan = plan_import(read_records(json.dumps(records).encode(), "book.json"), NOW)
    assert {(p.row, p.field) for p in plan.problems} == {(1, "currency"), (3, "customer.email"), (3, "amount_due")}
    with pytest.raises(ValueError):
        apply_import(plan, MemoryStore(), MemoryStore(), RecordingWorkflows(), NOW)


def test_an_updated_at_without_a_zone_is_refused(records):
    records[0]["updated_at"] = "2026-08-31T10:00:00"
    plan = plan_import(read_records(json.dumps(records[:1]).encode(), "book.json"), NOW)
    assert [(p.row, p.field) for p in plan.problems] == [(1, "updated_at")]


def test_a_csv_row_with_more_cells_than_headers_is_reported():
    text = "id,number,currency\nINV-1,1,EUR,surprise\n"
    plan = plan_import(read_records(text.encode(), "x.csv"), NOW)
    assert any(p.row == 2 and p.field == "cells beyond the header's columns" for p in plan.problems)


@pytest.mark.parametrize("name, data, message", [
    ("x.csv", b"", "no header row"), ("x.json", b'{"rows": []}', "expected an array"),
    ("x.jsonl", b'{"id": 1}\n[1]\n', "line 2: expected a JSON object"), ("x.txt", b"{}", "name it .csv"),
    ("x.csv", b"\xff\xfe", "not UTF-8"),
])
def test_an_unreadable_file_is_refused_whole(name, data, message):
    with pytest.raises(ImportFileError) as error:
        read_records(data, name)
    assert message in str(error.value)


CSV_HEADER = ("id,number,status,currency,amount_due,amount_paid,issued_at,due_at,description,customer_id,customer_name,"
              "customer_email,address_line1,postal_code,city,country\n")
CSV_ROW = ("INV-24031,24031,open,EUR,1250000,0,2026-08-14T09:00:00+02:00,2026-09-13T09:00:00+02:00,Consulting August,"
           "C-1187,Van Dijk Consultancy B.V.,crediteuren@vandijk.example,Herengracht 280,1016 BX,Amsterdam,NL\n")


def test_a_csv_rows_problems_name_the_files_own_columns():
    # Given an export whose second invoice has a decimal amount and a country name (a broken email is no problem
    # of the file's: it is imported as sent and becomes a task, docs/debtor-data.md)
    bad = (CSV_ROW.replace("INV-24031,24031", "INV-24032,24032").replace("1250000", "12500.00")
           .replace(",NL", ",Netherlands"))
    # When it is checked
    plan = plan_import(read_records((CSV_HEADER + CSV_ROW + bad).encode(), "invoices.csv"), NOW)
    # Then each problem names a column of the file, once, and not the nested record's path
    assert [(p.row, p.field) for p in plan.problems] == [(3, "amount_due"), (3, "country")]
    assert not any("." in p.field for p in plan.problems)


def test_a_csv_row_without_any_customer_cells_names_the_customer_columns():
    row = CSV_ROW.replace("C-1187,Van Dijk Consultancy B.V.,crediteuren@vandijk.example,Herengracht 280,1016 BX,Amsterdam,NL",
                          ",,,,,,")
    plan = plan_import(read_records((CSV_HEADER + row).encode(), "invoices.csv"), NOW)
    assert [str(p) for p in plan.problems] == ["row 2: customer_id, customer_name, customer_email: Field required"]


def test_a_json_files_problems_keep_its_own_paths(records):
    records[1]["customer"]["address"]["country"] = "Netherlands"
    plan = plan_import(read_records(json.dumps(records).encode(), "book.json"), NOW)
    assert [(p.row, p.field) for p in plan.problems] == [(2, "customer.address.country")]


def test_an_invoice_past_any_limitation_period_is_a_problem_of_its_row(records):
    # Given a row issued in 2012 (more than ten years before the import)
    records[1].update(issued_at="2012-09-01T09:00:00Z", due_at="2012-10-01T09:00:00Z")
    # When the file is planned
    plan = plan_import(read_records(json.dumps(records).encode(), "book.json"), NOW)
    # Then that row is reported (not chased with 14 years of interest) and nothing is imported
    assert [(p.row, p.field) for p in plan.problems] == [(2, "issued_at")]
    assert "years before" in plan.problems[0].message and plan.updates == []


def test_an_address_that_is_not_one_is_imported_as_sent_to_become_a_task(records):
    records[0]["customer"]["email"] = "Accounts <accounts@harbourfinch.example>"
    plan = plan_import(read_records(json.dumps(records).encode(), "book.json"), NOW)
    assert plan.valid and plan.updates[0].customer.email == "Accounts <accounts@harbourfinch.example>"
