"""A book of invoices for the policy simulator: read from CSV / JSON Lines, or sampled.

Columns (CSV header or JSON keys): invoice_id, number, customer_id, customer_name, customer_email,
country, currency, amount (minor units), issued_at (ISO-8601 with a zone), due_at (the same, or a day: 2026-10-01),
and optionally
address_line1, postal_code, city (a demand letter needs them), state (the address region: where a country has
several zones it decides the debtor's), timezone (an IANA zone, when the book knows it; else country and state
decide, see arrears.domain.geo), paid_at (ISO-8601; empty for never) and segment. Without paid_at, a payment date can be
sampled.
"""

from __future__ import annotations

import csv
import json
import random
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Iterator

from arrears.domain.clock import parse_iso
from arrears.domain.due_dates import due_moment
from arrears.domain.geo import known_timezone, timezone_for_country
from arrears.ingestion.billing_changes import InvoiceUpdate, UpdateKind
from arrears.domain.models import Address, Customer, Invoice, InvoiceStatus

REQUIRED = ("invoice_id", "number", "customer_id", "customer_name", "customer_email", "country", "currency", "amount",
            "issued_at", "due_at")
# Days after the due date that invoices get paid, as a mix typical of B2B SaaS books (None: never).
PAYMENT_MIX: list[tuple[float, tuple[int, int] | None]] = [
    (0.35, (-10, 0)), (0.25, (1, 10)), (0.15, (11, 30)), (0.10, (31, 60)), (0.05, (61, 90)), (0.10, None)]


class BookError(ValueError):
    pass


@dataclass(frozen=True)
class BookInvoice:
    invoice: Invoice
    customer: Customer
    paid_at: datetime | None


def read_book(path: Path) -> list[BookInvoice]:
    rows = _rows(path)
    book = []
    for line, row in rows:
        missing = [name for name in REQUIRED if not str(row.get(name) or "").strip()]
        if missing:
            raise BookError(f"{path}:{line}: missing {', '.join(missing)}")
        try:
            book.append(book_invoice(row))
        except (ValueError, TypeError) as error:
            raise BookError(f"{path}:{line}: {error}") from None
    ids = [b.invoice.invoice_id for b in book]
    if len(ids) != len(set(ids)):
        raise BookError(f"{path}: invoice ids repeat")
    return book


def _rows(path: Path) -> Iterator[tuple[int, dict]]:
    if path.suffix.lower() == ".csv":
        with path.open(newline="", encoding="utf-8") as handle:
            yield from ((index + 2, row) for index, row in enumerate(csv.DictReader(handle)))
    else:
        with path.open(encoding="utf-8") as handle:
            for index, text in enumerate(handle, start=1):
                if text.strip():
                    yield index, json.loads(text)


def book_invoice(row: dict) -> BookInvoice:
    """One invoice of a book from its columns (see the module docstring)."""
    country = str(row["country"]).upper()
    state = str(row.get("state") or "").strip()
    zone = str(row.get("timezone") or "").strip()
    if zone and not known_timezone(zone):
        raise ValueError(f"unknown timezone {zone!r}: an IANA zone such as Europe/Berlin")
    zone = zone or timezone_for_country(country, "", state)
    issued, due_text = parse_iso(str(row["issued_at"])), str(row["due_at"]).strip()
    # A day ("2026-10-01", or midnight UTC) is due until the end of that day in the debtor's zone.
    due = due_moment(date.fromisoformat(due_text) if len(due_text) == 10 else parse_iso(due_text), zone)
    if due < issued:
        raise ValueError("due_at is before issued_at")
    amount = int(row["amount"])
    customer = Customer(customer_id=str(row["customer_id"]), provider="book", name=str(row["customer_name"]),
                        email=str(row["customer_email"]), address=Address(line1=str(row.get("address_line1") or ""),
                                                   postal_code=str(row.get("postal_code") or ""),
                                                   city=str(row.get("city") or ""), state=state, country=country),
                        timezone=zone, segment=str(row.get("segment") or "standard"),
                        updated_at=issued)
    invoice = Invoice(invoice_id=str(row["invoice_id"]), provider="book", number=str(row["number"]),
                      customer_id=customer.customer_id, currency=str(row["currency"]), amount_due=amount, amount_paid=0,
                      amount_remaining=amount, issued_at=issued, due_at=due, provider_updated_at=issued)
    paid = str(row.get("paid_at") or "").strip()
    return BookInvoice(invoice, customer, parse_iso(paid) if paid else None)


def sample_payments(book: list[BookInvoice], seed: int) -> list[BookInvoice]:
    """Give every invoice without a payment date one drawn from PAYMENT_MIX (reproducible for a seed)."""
    chooser = random.Random(seed)
    weights = [weight for weight, _ in PAYMENT_MIX]
    sampled = []
    for item in book:
        if item.paid_at is None:
            _, window = chooser.choices(PAYMENT_MIX, weights)[0]
            if window is not None:
                days = chooser.randint(*window)
                paid = item.invoice.due_at + timedelta(days=days, hours=chooser.randint(0, 23), minutes=chooser.randint(0, 59))
                item = BookInvoice(item.invoice, item.customer, paid)
        sampled.append(item)
    return sampled


def book_updates(book: list[BookInvoice]) -> list[tuple[datetime, InvoiceUpdate]]:
    """The billing events a book implies: each invoice opens when issued and is paid in full at paid_at."""
    updates = []
    for item in book:
        invoice = item.invoice
        updates.append((invoice.issued_at, InvoiceUpdate(f"open-{invoice.invoice_id}", "book.invoice_opened", UpdateKind.OPENED,
                                                         invoice.issued_at, invoice, item.customer)))
        if item.paid_at is not None:
            paid = invoice.model_copy(update={"status": InvoiceStatus.PAID, "amount_paid": invoice.amount_due,
                                              "amount_remaining": 0, "provider_updated_at": item.paid_at})
            updates.append((item.paid_at, InvoiceUpdate(f"paid-{invoice.invoice_id}", "book.invoice_paid", UpdateKind.PAID,
                                                         item.paid_at, paid, item.customer)))
    return sorted(updates, key=lambda pair: pair[0])


def synthetic_book(count: int, start: datetime, seed: int = 7) -> list[BookInvoice]:
    """A book of `count` invoices issued over 30 days (net 30), for benchmarks and what-ifs."""
    from arrears_local.portfolio import CUSTOMERS

    chooser = random.Random(seed)
    # 997 customers, and at most 4 invoices a customer in larger books (as the sample portfolio): with the
    # policy's gap between messages to one customer, 100 invoices a customer in 30 days would be one long queue.
    customers = max(997, -(-count // 4))
    book = []
    for index in range(count):
        sample = CUSTOMERS[index % len(CUSTOMERS)]
        issued = start + timedelta(days=chooser.randint(0, 29), hours=chooser.randint(0, 9))
        amount = chooser.randint(20, 2_000) * 1_000
        currency = {"GB": "GBP", "US": "USD"}.get(sample.country, "EUR")
        number = index % customers
        customer_id = f"cus_book{number:04d}"
        row = {"invoice_id": f"in_book{index:07d}", "number": f"BK-{index:07d}", "customer_id": customer_id,
               "customer_name": f"{sample.name} #{number}", "customer_email": f"ap{number}@{sample.email.split('@')[1]}",
               "country": sample.country, "address_line1": sample.line1, "postal_code": sample.postal_code,
               "city": sample.city, "currency": currency, "amount": amount,
               "issued_at": issued.isoformat(), "due_at": (issued + timedelta(days=30)).isoformat()}
        book.append(book_invoice(row))
    return book


def write_book(book: list[BookInvoice], path: Path) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=[*REQUIRED, "address_line1", "postal_code", "city", "state", "timezone",
                                                        "paid_at", "segment"])
        writer.writeheader()
        for item in book:
            i, c = item.invoice, item.customer
            writer.writerow({"invoice_id": i.invoice_id, "number": i.number, "customer_id": c.customer_id,
                             "customer_name": c.name, "customer_email": c.email, "country": c.address.country,
                             "address_line1": c.address.line1, "postal_code": c.address.postal_code, "city": c.address.city,
                             "state": c.address.state, "timezone": c.timezone, "currency": i.currency, "amount": i.amount_due, "issued_at": i.issued_at.isoformat(),
                             "due_at": i.due_at.isoformat(), "paid_at": item.paid_at.isoformat() if item.paid_at else "",
                             "segment": c.segment})

