"""Invoices of one customer that reach referral together go to the agency as one package (issue #15)."""

from __future__ import annotations

import io
import zipfile
from datetime import timedelta

from arrears.domain.consolidation import consolidate
from arrears.domain.models import HoldKind
from arrears.domain.notices import build_consolidated_notice
from arrears.rendering.referral_package import build_customer_referral_package
from tests.unit.memory_world import memory_ports
from tests.unit.test_consolidation import CUSTOMER, LONDON, NOW, POLICY, due_now, invoice, item


def test_one_package_holds_each_referred_invoice_with_its_own_claim_history_and_letters():
    # Given two invoices of Harbour Freight reaching referral the same day, and a disputed one
    first, second = invoice("HF-7001", -90, balance=310_000), invoice("HF-7/002", -90, balance=95_000)
    disputed = invoice("HF-7003", -95, balance=20_000, hold=HoldKind.DISPUTE)
    ports = memory_ports(POLICY, CUSTOMER, first, second, disputed, at=NOW)
    for record in (first, second):
        letter = ports.artefacts.put(f"letters/{record.invoice_id}/formal_notice.pdf", b"%PDF-1.7 letter",
                                     "application/pdf", "letter")
        ports.log.append(record.invoice_id, record.customer_id, NOW - timedelta(days=60), kind="letter", actor="wf",
                         step_id="formal_notice", artefacts=(letter,))
    records = [first, second, disputed]
    message = consolidate(item(first), due_now(first), [item(r) for r in records], POLICY, NOW, LONDON)
    assert message.covered_invoice_ids() == {first.invoice_id, second.invoice_id}
    notice = build_consolidated_notice(message, {r.invoice_id: r for r in records}, CUSTOMER, POLICY, NOW)
    # When the package is built
    package = build_customer_referral_package(records, CUSTOMER, POLICY, notice, ports)
    archive = zipfile.ZipFile(io.BytesIO(package))
    names = set(archive.namelist())
    # Then each referred invoice has its own folder with its record, history and letters; the disputed one is left out
    assert {"debtor.json", "statement-of-account.txt",
            "invoices/HF-7001/invoice.json", "invoices/HF-7001/contact-history.jsonl",
            "invoices/HF-7001/letters/formal_notice.pdf", "invoices/HF-7_002/invoice.json"} <= names
    assert not any("HF-7003" in name for name in names)
    # And the statement claims each with its own interest and compensation, and the total
    statement = archive.read("statement-of-account.txt").decode()
    assert statement.count("  Interest:") == 2 and statement.count("  Compensation:    £40.00") == 2
    assert "Invoice HF-7/002" in statement and "HF-7003" not in statement
    assert statement.rstrip().endswith(f"Total claimed:     £{notice.total_claimed_minor / 100:,.2f}")
    # And the same notice gives the same bytes (a retry stores the same package)
    assert build_customer_referral_package(records, CUSTOMER, POLICY, notice, ports) == package
