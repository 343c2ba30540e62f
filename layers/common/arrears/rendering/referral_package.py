"""The referral package: the zip an agency or lawyer receives with a referral (statement of account,
invoice, debtor, contact history, the letters sent)."""

from __future__ import annotations

import io
import json
import zipfile
from typing import TYPE_CHECKING

from arrears.domain.hash_chain import entry_to_dict
from arrears.domain.money import format_money

if TYPE_CHECKING:
    from arrears.domain.models import Customer, Invoice
    from arrears.domain.notices import NoticeContext
    from arrears.domain.policy import Policy
    from arrears.domain.ports import Ports


def build_referral_package(invoice: Invoice, customer: Customer, policy: Policy, notice: NoticeContext, ports: Ports) -> bytes:
    """A zip an agency can act on: statement of account, invoice, contact history, letters."""
    entries = ports.log.entries(invoice.invoice_id)
    buffer = io.BytesIO()
    # Fixed timestamps inside the zip keep the package's hash stable across retries.
    stamp = (notice.letter_date.year, notice.letter_date.month, notice.letter_date.day, 0, 0, 0)

    def add(name: str, data: bytes) -> None:
        info = zipfile.ZipInfo(name, date_time=stamp)
        info.compress_type = zipfile.ZIP_DEFLATED
        archive.writestr(info, data)

    with zipfile.ZipFile(buffer, "w") as archive:
        add("invoice.json", invoice.model_dump_json(indent=2).encode())
        add("debtor.json", customer.model_dump_json(indent=2).encode())
        add("contact-history.jsonl", b"".join(json.dumps(entry_to_dict(e), sort_keys=True).encode() + b"\n" for e in entries))
        money = lambda minor: format_money(minor, invoice.currency)  # noqa: E731
        statement = [
            f"Statement of account — {policy.creditor.name} v. {notice.debtor_name}",
            f"Prepared {notice.letter_date.isoformat()}, reference {notice.reference}",
            "",
            f"Invoice {notice.invoice_number}: issued {notice.issued_on}, due {notice.due_on}",
            f"  Amount due:      {money(invoice.amount_due)}",
            f"  Paid:            {money(invoice.amount_paid)}",
            f"  Balance:         {money(invoice.amount_remaining)}",
        ]
        if notice.interest:
            i = notice.interest
            statement += [f"  Interest:        {money(i.interest_minor)} ({i.days} days from {i.from_date} to {i.to_date}; {i.basis})"]
            statement += [f"    {p.from_date} to {p.to_date}: {p.annual_rate_percent}% a year on {money(p.principal_minor)} "
                          f"for {p.days} days = {money(p.interest_minor)}" for p in i.periods]
            statement += [
                f"  Compensation:    {money(i.compensation_minor)}",
            ]
        statement += [f"  Total claimed:   {money(notice.total_claimed_minor)}", "", "Contacts:"]
        for entry in entries:
            statement.append(f"  {entry.at:%Y-%m-%d %H:%M}Z  {entry.kind:<18} {entry.step_id or '':<16} {entry.recipient or ''}")
        add("statement-of-account.txt", ("\n".join(statement) + "\n").encode())
        for entry in entries:
            for artefact in entry.artefacts:
                if artefact.kind == "letter":
                    add(f"letters/{artefact.uri.rsplit('/', 1)[-1]}", ports.artefacts.get(artefact.uri))
    return buffer.getvalue()
