"""`arrears import FILE --check`: a newcomer checks an export before any stack or server exists."""

from __future__ import annotations

import boto3
import pytest
from typer.testing import CliRunner

from arrears_local.cli import app
from tests.unit.test_bulk_import import CSV_HEADER, CSV_ROW


@pytest.fixture
def no_aws(monkeypatch):
    """No credentials, no region, and any boto3 client or resource is a failure."""
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_DEFAULT_REGION",
                 "AWS_REGION"):
        monkeypatch.delenv(name, raising=False)

    def refuse(*args, **kwargs):
        raise AssertionError("import --check must not reach AWS")

    monkeypatch.setattr(boto3, "client", refuse)
    monkeypatch.setattr(boto3, "resource", refuse)


def test_check_needs_no_table_no_state_machine_and_no_aws(tmp_path, no_aws):
    # Given an export of two invoices and no AWS at all
    path = tmp_path / "invoices-2026-08.csv"
    path.write_text(CSV_HEADER + CSV_ROW + CSV_ROW.replace("INV-24031,24031", "INV-24032,24032"), encoding="utf-8")
    # When it is only checked
    result = CliRunner().invoke(app, ["import", str(path), "--check"], env={"COLUMNS": "200"})
    # Then it passes, and says how many invoices it would import
    assert result.exit_code == 0, result.output + repr(result.exception)
    assert "2 invoice(s), no problems" in result.output


def test_check_reports_the_files_columns_without_aws(tmp_path, no_aws):
    path = tmp_path / "invoices.csv"
    # Given a row whose customer's country is written out (an unusable email is no problem of the file's: it is
    # imported as sent and becomes a task, docs/debtor-data.md)
    path.write_text(CSV_HEADER + CSV_ROW.replace(",NL", ",Netherlands"), encoding="utf-8")
    result = CliRunner().invoke(app, ["import", str(path), "--check"], env={"COLUMNS": "200"})
    assert result.exit_code == 1
    assert "1 row(s) with problems; nothing was imported" in result.output and "row 2: country:" in result.output


def test_an_import_without_a_target_says_what_to_give(tmp_path, no_aws):
    # Given a valid file, but neither a stack nor a running serve named
    path = tmp_path / "invoices.csv"
    path.write_text(CSV_HEADER + CSV_ROW, encoding="utf-8")
    result = CliRunner().invoke(app, ["import", str(path)], env={"COLUMNS": "200"})
    # Then nothing is attempted and the message names both ways
    assert result.exit_code == 2
    assert "--table and --state-machine" in result.output and "--url" in result.output
