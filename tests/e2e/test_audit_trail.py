"""The audit trail end to end: a simulated month on the local runtime, its archive verified, tampered with and exported."""

from __future__ import annotations

import json
import shutil
import zipfile
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from arrears.domain.policy import load_policy_file
from arrears_local.cli import app
from arrears_local.demo import BookRun, run_book
from arrears_local.portfolio import DEMO_START, sample_portfolio
from arrears_local.runtime import LocalRuntime

ROOT = Path(__file__).resolve().parents[2]
POLICY = load_policy_file(ROOT / "policies" / "default.yaml")
DAYS = 35
runner = CliRunner()


@dataclass
class Month:
    runtime: LocalRuntime
    run: BookRun
    archive: Path  # the audit bucket, downloaded
    bounced: tuple[str, str]  # (invoice id, SES message id) of the demand letter's email that bounced


@pytest.fixture(scope="module")
def month(tmp_path_factory) -> Month:
    # A book that reached Arrears five weeks into its life: reminders, call tasks and demand letters fall in the month
    portfolio = sample_portfolio(DEMO_START - timedelta(days=DAYS), 8)
    with LocalRuntime(start=DEMO_START) as runtime:
        run = run_book(runtime, portfolio, POLICY, DAYS)
        letter = next(e for entries in run.logs.values() for e in entries if e.kind == "letter")
        runtime.ses_notify(letter.message_id, "Bounce")
        runtime.ses_notify(letter.message_id, "Bounce")  # SNS delivers at least once
        delivered = next(e for entries in run.logs.values() for e in entries if e.kind == "email" and e.invoice_id != letter.invoice_id)
        runtime.ses_notify(delivered.message_id, "Delivery")
        archive = download_audit_bucket(runtime, tmp_path_factory.mktemp("audit-bucket"))
        yield Month(runtime, run, archive, (letter.invoice_id, letter.message_id))


def download_audit_bucket(runtime: LocalRuntime, archive: Path) -> Path:
    """The audit bucket as an auditor downloads it (`aws s3 sync`): what `arrears audit verify` reads."""
    s3 = runtime.client("s3")
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=runtime.audit_bucket):
        for item in page.get("Contents", []):
            target = archive / item["Key"]
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(s3.get_object(Bucket=runtime.audit_bucket, Key=item["Key"])["Body"].read())
    return archive


def verify(target: str | Path):
    return runner.invoke(app, ["audit", "verify", str(target)])


def entries_in(archive: Path) -> dict[tuple[str, int], Path]:
    """(invoice, seq) -> the contact-log object holding it (the local stream delivers one entry per batch)."""
    found = {}
    for path in (archive / "contact-log").rglob("*.jsonl"):
        for line in path.read_bytes().splitlines():
            entry = json.loads(line)
            found[(entry["invoice_id"], entry["seq"])] = path
    return found


@pytest.fixture
def copy(month, tmp_path) -> Path:
    target = tmp_path / "audit"
    shutil.copytree(month.archive, target)
    return target


def test_the_archive_of_a_simulated_month_verifies(month):
    # Given a month of collections, with a bounced demand letter among them
    entries = entries_in(month.archive)
    assert len(entries) == sum(len(log) for log in month.run.logs.values()) + 2  # + the bounce (once) and the delivery
    assert list((month.archive / "artefacts" / "letters").rglob("formal_notice.pdf"))
    # When the auditor verifies the downloaded bucket, Then it passes and says what it checked
    result = verify(month.archive)
    assert result.exit_code == 0, result.output
    assert "✓ verified" in result.output and f"{len(month.run.logs)} invoices, {len(entries)} entries" in result.output


def test_the_bounce_is_in_the_log_of_the_letter_it_concerns_once(month):
    invoice_id, message_id = month.bounced
    lines = [json.loads(path.read_bytes()) for (invoice, _), path in entries_in(month.archive).items() if invoice == invoice_id]
    bounces = [line for line in lines if line["kind"] == "email_bounced"]
    assert len(bounces) == 1 and bounces[0]["message_id"] == message_id and bounces[0]["actor"] == "amazon-ses"
    assert bounces[0]["step_id"] == "formal_notice" and bounces[0]["details"]["bounce_type"] == "Permanent"


def test_verify_reads_the_audit_bucket_itself(month):
    result = verify(f"s3://{month.runtime.audit_bucket}")
    assert result.exit_code == 0, result.output
    assert f"s3://{month.runtime.audit_bucket}/" in result.output


def _letter_entry(archive: Path) -> tuple[str, int, Path]:
    invoice, seq, path = next((i, s, p) for (i, s), p in sorted(entries_in(archive).items())
                              if json.loads(p.read_bytes())["kind"] == "letter")
    return invoice, seq, path


def _a_long_log(archive: Path) -> str:
    counts: dict[str, int] = {}
    for invoice, _ in entries_in(archive):
        counts[invoice] = counts.get(invoice, 0) + 1
    return max(sorted(counts), key=lambda invoice: counts[invoice])


def test_changing_one_byte_of_one_entry_fails_and_names_the_entry(copy):
    invoice, seq, path = _letter_entry(copy)
    body = bytearray(path.read_bytes())
    at = body.index(b'"subject":"') + len(b'"subject":"')
    body[at] ^= 0x20  # "F" -> "f": one byte, still valid JSON
    path.write_bytes(bytes(body))
    result = verify(copy)
    assert result.exit_code == 1
    assert f"invoice {invoice}: entry #{seq} altered (hash mismatch" in result.output


def test_deleting_an_entry_fails_and_names_it_missing(copy):
    invoice = _a_long_log(copy)
    path = entries_in(copy)[(invoice, 3)]
    path.unlink()
    result = verify(copy)
    assert result.exit_code == 1
    assert f"invoice {invoice}: entry #3 missing" in result.output
    assert f"lists object {path.relative_to(copy).as_posix()} which is missing" in result.output


def test_swapping_two_entries_fails_and_names_them_out_of_order(copy):
    invoice = _a_long_log(copy)
    entries = entries_in(copy)
    second, third = entries[(invoice, 2)], entries[(invoice, 3)]
    second_body, third_body = second.read_bytes(), third.read_bytes()
    second.write_bytes(third_body)
    third.write_bytes(second_body)
    result = verify(copy)
    assert result.exit_code == 1
    assert f"invoice {invoice}: entries #2 and #3 out of order" in result.output


def test_changing_one_pdf_fails_and_names_the_letter(copy):
    invoice, _, _ = _letter_entry(copy)
    pdf = copy / "artefacts" / "letters" / invoice / "formal_notice.pdf"
    body = bytearray(pdf.read_bytes())
    body[len(body) // 2] ^= 0x01
    pdf.write_bytes(bytes(body))
    result = verify(copy)
    assert result.exit_code == 1
    assert f"letter letters/{invoice}/formal_notice.pdf altered (sha256" in result.output
    assert [line for line in result.output.splitlines() if line.startswith("✗")] == [  # the only problem named
        line for line in result.output.splitlines() if f"letter letters/{invoice}/formal_notice.pdf altered" in line]


def test_an_export_for_one_customer_and_a_period_is_a_verifiable_zip(month, tmp_path):
    invoice_id, _ = month.bounced
    customer = next(e.customer_id for e in month.run.logs[invoice_id])
    out = tmp_path / "audit-export.zip"
    result = runner.invoke(app, ["audit", "export", "--from", "2026-09-15", "--to", "2026-10-15", "--customer", customer,
                                 "--source", str(month.archive), "--out", str(out)])
    assert result.exit_code == 0, result.output
    with zipfile.ZipFile(out) as bundle:
        names = bundle.namelist()
        manifest = json.loads(bundle.read("export.json"))
        lines = [json.loads(line) for name in names if name.startswith("contact-log/") for line in bundle.read(name).splitlines()]
        readme = bundle.read("README.md").decode()
    assert {line["customer_id"] for line in lines} == {customer}
    assert all("2026-09-15" <= line["at"][:10] <= "2026-10-15" for line in lines)
    assert f"artefacts/letters/{invoice_id}/formal_notice.pdf" in names
    assert manifest["customer_id"] == customer and invoice_id in manifest["invoices"]
    assert "2026-09-15 to 2026-10-15" in readme and "## What verify checks" in readme
    verified = verify(out)
    assert verified.exit_code == 0, verified.output
    invoices = len(manifest["invoices"])
    assert f"✓ verified export {out}: {invoices} invoice{'s' if invoices > 1 else ''}, {len(lines)} entries" in verified.output
