"""The referral package: the zip an agency or lawyer receives with a referral (statement of account,
invoice, debtor, contact history, the letters sent). Invoices of one customer that reach referral together
go as one package (`build_customer_referral_package`, issue #15)."""

from __future__ import annotations

import io
import json
import re
import zipfile
from collections.abc import Callable, Sequence
from datetime import date
from typing import TYPE_CHECKING

from arrears.domain.hash_chain import entry_to_dict
from arrears.domain.money import format_money

if TYPE_CHECKING:
    from arrears.domain.interest import InterestClaim
    from arrears.domain.models import ContactEntry, Customer, Invoice
    from arrears.domain.notices import NoticeContext
    from arrears.domain.policy import Policy
    from arrears.domain.ports import Ports


def build_referral_package(invoice: Invoice, customer: Customer, policy: Policy, notice: NoticeContext, ports: Ports) -> bytes:
    """A zip an agency can act on: statement of account, invoice, contact history, letters."""
    entries = ports.log.entries(invoice.invoice_id)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        add = _adder(archive, notice)
        add("invoice.json", invoice.model_dump_json(indent=2).encode())
        add("debtor.json", customer.model_dump_json(indent=2).encode())
        add("contact-history.jsonl", _history(entries))
        money = lambda minor: format_money(minor, invoice.currency)  # noqa: E731
        statement = [
            f"Statement of account — {policy.creditor.name} v. {notice.debtor_name}",
            f"Prepared {notice.letter_date.isoformat()}, reference {notice.reference}",
            "",
            *_claim(money, notice.invoice_number, notice.issued_on, notice.due_on, invoice.amount_due, invoice.amount_paid,
                    invoice.amount_remaining, notice.interest),
        ]
        statement += [f"  Total claimed:   {money(notice.total_claimed_minor)}", "", "Contacts:"]
        statement += _contacts(entries)
        add("statement-of-account.txt", ("\n".join(statement) + "\n").encode())
        _add_letters(add, entries, ports, "letters/")
    return buffer.getvalue()


def build_customer_referral_package(invoices: Sequence[Invoice], customer: Customer, policy: Policy,
                                    notice: NoticeContext, ports: Ports) -> bytes:
    """One package for the invoices of one customer that reach referral together (`notice`: the consolidated
    notice, arrears.domain.notices.build_consolidated_notice): the debtor, then per claimed invoice its record,
    contact history and letters (`invoices/<number>/`), and one statement of account itemising each claim with
    its own interest and compensation, in the notice's one currency."""
    by_id = {invoice.invoice_id: invoice for invoice in invoices}
    claimed = [item for item in notice.claimed_items if item.line.invoice_id in by_id]
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        add = _adder(archive, notice)
        add("debtor.json", customer.model_dump_json(indent=2).encode())
        money = lambda minor: format_money(minor, notice.currency)  # noqa: E731
        statement = [
            f"Statement of account — {policy.creditor.name} v. {notice.debtor_name}",
            f"Prepared {notice.letter_date.isoformat()}, {len(claimed)} invoices referred together, in {notice.currency}",
            "",
        ]
        for item in claimed:
            invoice, line = by_id[item.line.invoice_id], item.line
            entries = ports.log.entries(invoice.invoice_id)
            folder = f"invoices/{_file_name(line.number)}/"
            add(f"{folder}invoice.json", invoice.model_dump_json(indent=2).encode())
            add(f"{folder}contact-history.jsonl", _history(entries))
            _add_letters(add, entries, ports, f"{folder}letters/")
            statement += _claim(money, line.number, line.issued_on, line.due_on, line.amount_minor, line.paid_minor,
                                line.balance_minor, item.interest)
            statement += [f"  Claimed:         {money(item.claimed_minor)}", "  Contacts:"]
            statement += [f"  {contact}" for contact in _contacts(entries)]
            statement.append("")
        statement.append(f"Total claimed:     {money(sum(item.claimed_minor for item in claimed))}")
        add("statement-of-account.txt", ("\n".join(statement) + "\n").encode())
    return buffer.getvalue()


def _adder(archive: zipfile.ZipFile, notice: NoticeContext) -> Callable[[str, bytes], None]:
    # Fixed timestamps inside the zip keep the package's hash stable across retries.
    stamp = (notice.letter_date.year, notice.letter_date.month, notice.letter_date.day, 0, 0, 0)

    def add(name: str, data: bytes) -> None:
        info = zipfile.ZipInfo(name, date_time=stamp)
        info.compress_type = zipfile.ZIP_DEFLATED
        archive.writestr(info, data)

    return add


def _history(entries: list[ContactEntry]) -> bytes:
    return b"".join(json.dumps(entry_to_dict(e), sort_keys=True).encode() + b"\n" for e in entries)


def _claim(money: Callable[[int], str], number: str, issued_on: date, due_on: date, amount: int, paid: int, balance: int,
           interest: InterestClaim | None) -> list[str]:
    """One invoice's figures and, when claimed, its interest period by period and its compensation."""
    lines = [
        f"Invoice {number}: issued {issued_on}, due {due_on}",
        f"  Amount due:      {money(amount)}",
        f"  Paid:            {money(paid)}",
        f"  Balance:         {money(balance)}",
    ]
    if interest:
        i = interest
        lines += [f"  Interest:        {money(i.interest_minor)} ({i.days} days from {i.from_date} to {i.to_date}; {i.basis})"]
        lines += [f"    {p.from_date} to {p.to_date}: {p.annual_rate_percent}% a year on {money(p.principal_minor)} "
                  f"for {p.days} days = {money(p.interest_minor)}" for p in i.periods]
        lines += [f"  Compensation:    {money(i.compensation_minor)}"]
    return lines


def _contacts(entries: list[ContactEntry]) -> list[str]:
    return [f"  {entry.at:%Y-%m-%d %H:%M}Z  {entry.kind:<18} {entry.step_id or '':<16} {entry.recipient or ''}"
            for entry in entries]


def _add_letters(add: Callable[[str, bytes], None], entries: list[ContactEntry], ports: Ports, folder: str) -> None:
    for entry in entries:
        for artefact in entry.artefacts:
            if artefact.kind == "letter":
                add(f"{folder}{artefact.uri.rsplit('/', 1)[-1]}", ports.artefacts.get(artefact.uri))


def _file_name(text: str) -> str:
    """An invoice number as a folder name in the zip (no path separators, nothing a file system refuses)."""
    return re.sub(r"[^A-Za-z0-9._-]", "_", text).strip(".") or "invoice"
