"""Bulk import of invoices (CSV, JSON or JSON Lines) for billing systems without webhooks (domain).

Each record is the generic feed's invoice (docs/webhooks.md); a CSV row flattens it
(`customer_name`, `address_line1`, ...). The whole file is checked before anything is
written: one bad row and nothing is imported, and every problem is reported with its
row. A re-import of the same file changes nothing (the facts are the same, so nothing
is logged, and workflows already run).
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Callable

from pydantic import ValidationError

from arrears.ingestion.billing_changes import IngestStore, InvoiceUpdate, apply_invoice_update
from arrears.domain.ports import ContactLog, WorkflowStarter
from arrears.ingestion.providers.errors import MalformedEvent
from arrears.ingestion.providers.generic import GenericInvoice, invoice_change

MAX_RECORDS = 100_000
_CUSTOMER_COLUMNS = {"customer_id": "id", "customer_name": "name", "customer_email": "email",
                     "customer_language": "language", "customer_timezone": "timezone",
                     "customer_phone": "phone"}
_ADDRESS_COLUMNS = {"address_line1": "line1", "address_line2": "line2", "postal_code": "postal_code", "city": "city",
                    "state": "state", "country": "country"}
_INTEGER_COLUMNS = ("amount_due", "amount_paid")


# A CSV row's problems name the file's own columns (customer_email, address_line1), not the record's paths.
_CSV_COLUMN_OF = {("customer", field): column for column, field in _CUSTOMER_COLUMNS.items()} | {
    ("customer", "address", field): column for column, field in _ADDRESS_COLUMNS.items()} | {
    ("customer",): "customer_id, customer_name, customer_email", ("customer", "address"): ", ".join(_ADDRESS_COLUMNS),
    ("lines", "description"): "description", ("lines", "amount"): "amount_due", ("lines",): "description",
    ("unexpected_columns",): "cells beyond the header's columns"}


class ImportFileError(ValueError):
    """The file as a whole cannot be read (not CSV/JSON, empty, too large)."""


@dataclass(frozen=True)
class RowProblem:
    row: int  # 1-based: the CSV line (the header is line 1), the JSON array index + 1, the JSON Lines line
    field: str
    message: str

    def __str__(self) -> str:
        return f"row {self.row}: {self.field}: {self.message}"


@dataclass(frozen=True)
class ImportPlan:
    updates: list[InvoiceUpdate]
    problems: list[RowProblem]

    @property
    def valid(self) -> bool:
        return not self.problems


def read_records(data: bytes, filename: str) -> list[tuple[int, dict[str, Any]]]:
    """(row number, record) of a .csv, .json (an array) or .jsonl file."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise ImportFileError(f"{filename} is not UTF-8 text: {error}") from None
    lowered = filename.lower()
    if lowered.endswith(".csv"):
        reader = csv.DictReader(io.StringIO(text))
        if not reader.fieldnames:
            raise ImportFileError(f"{filename} has no header row")
        records = [(line, _unflatten(row)) for line, row in enumerate(reader, start=2)]
    elif lowered.endswith((".jsonl", ".ndjson")):
        records = []
        for line, raw in enumerate(text.splitlines(), start=1):
            if raw.strip():
                records.append((line, _json_object(raw, f"{filename} line {line}")))
    elif lowered.endswith(".json"):
        document = _json_object(text, filename, allow_list=True)
        items = document if isinstance(document, list) else document.get("invoices")
        if not isinstance(items, list):
            raise ImportFileError(f"{filename}: expected an array of invoices (or {{\"invoices\": [...]}})")
        records = [(index, item) for index, item in enumerate(items, start=1)]
    else:
        raise ImportFileError(f"{filename}: name it .csv, .json or .jsonl so the format is clear")
    if not records:
        raise ImportFileError(f"{filename} holds no invoices")
    if len(records) > MAX_RECORDS:
        raise ImportFileError(f"{filename} holds {len(records)} invoices; import at most {MAX_RECORDS} at a time")
    return records


def plan_import(records: list[tuple[int, dict[str, Any]]], now: datetime) -> ImportPlan:
    """Validate every record; the updates to apply, or every problem found."""
    updates: list[InvoiceUpdate] = []
    problems: list[RowProblem] = []
    seen: dict[str, int] = {}
    for row, record in records:
        if not isinstance(record, dict):
            problems.append(RowProblem(row, "record", "not an object"))
            continue
        occurred = record.pop("updated_at", None) if "updated_at" in record else None
        try:
            invoice = GenericInvoice.model_validate(record)
            occurred_at = datetime.fromisoformat(occurred) if occurred else now
            if occurred_at.tzinfo is None:
                raise ValueError("updated_at needs a timezone")
        except ValidationError as error:
            # Once each: a CSV's amount_due is also its one line's amount, and would be named twice.
            problems += dict.fromkeys(RowProblem(row, _field_name(e["loc"], record), e["msg"]) for e in error.errors())
            continue
        except (TypeError, ValueError) as error:
            problems.append(RowProblem(row, "updated_at", str(error)))
            continue
        if invoice.id in seen:
            problems.append(RowProblem(row, "id", f"invoice {invoice.id} is also in row {seen[invoice.id]}"))
            continue
        seen[invoice.id] = row
        digest = hashlib.sha256(json.dumps(record, sort_keys=True, default=str).encode()).hexdigest()[:24]
        try:
            updates.append(invoice_change(invoice, f"import-{digest}", "import.invoice", occurred_at))
        except MalformedEvent as refused:  # dates no invoice has (docs/debtor-data.md)
            problems.append(RowProblem(row, "issued_at", refused.message.split(": ", 1)[-1]))
    return ImportPlan(updates if not problems else [], problems)


def apply_import(plan: ImportPlan, store: IngestStore, log: ContactLog, workflows: WorkflowStarter, now: datetime,
                 on_progress: Callable[[int], None] | None = None) -> Counter[str]:
    """Apply a valid plan, invoice by invoice; a count of what happened (started, updated, closed ...)."""
    if not plan.valid:
        raise ValueError("an import with problems writes nothing: fix the rows first")
    outcomes: Counter[str] = Counter()
    for done, update in enumerate(plan.updates, start=1):
        outcome = apply_invoice_update(update, store, log, workflows, now)
        outcomes[outcome.split(";")[0]] += 1
        if on_progress is not None:
            on_progress(done)
    return outcomes


def _json_object(text: str, where: str, allow_list: bool = False) -> Any:
    try:
        value = json.loads(text)
    except (json.JSONDecodeError, RecursionError) as error:
        raise ImportFileError(f"{where} is not JSON: {error}") from None
    if not isinstance(value, dict) and not (allow_list and isinstance(value, list)):
        raise ImportFileError(f"{where}: expected a JSON object")
    return value


class _CsvRecord(dict):
    """A record read from a CSV row: its problems are named by the CSV's columns (`_field_name`)."""


def _field_name(loc: tuple[Any, ...], record: dict[str, Any]) -> str:
    """Where a validation problem is, in the file's own terms: a JSON path (customer.email), or a CSV column."""
    if not isinstance(record, _CsvRecord):
        return ".".join(str(part) for part in loc) or "record"
    path = tuple(part for part in loc if not isinstance(part, int))  # lines.0.amount: the one line a row makes
    return _CSV_COLUMN_OF.get(path, ".".join(str(part) for part in path) or "record")


def _unflatten(row: dict[str | None, Any]) -> dict[str, Any]:
    """A CSV row as the generic invoice: customer and address columns nested, empty cells left out."""
    record: dict[str, Any] = _CsvRecord()
    customer: dict[str, Any] = {}
    address: dict[str, Any] = {}
    for column, value in row.items():
        if column is None:
            record["unexpected_columns"] = value  # more cells than headers: reported as an unknown field
            continue
        name = column.strip()
        if value is None or str(value).strip() == "":
            continue
        value = str(value).strip()
        if name in _CUSTOMER_COLUMNS:
            customer[_CUSTOMER_COLUMNS[name]] = value
        elif name in _ADDRESS_COLUMNS:
            address[_ADDRESS_COLUMNS[name]] = value
        elif name == "description":
            record["lines"] = [{"description": value, "amount": _int_or_text(row.get("amount_due") or "")}]
        elif name in _INTEGER_COLUMNS:
            record[name] = _int_or_text(value)
        else:
            record[name] = value
    if address:
        customer["address"] = address
    if customer:
        record["customer"] = customer
    return record


def _int_or_text(value: str) -> Any:
    """Minor units as an int; anything else is left for validation to name (e.g. "450.00")."""
    return int(value) if value.lstrip("-").isdigit() else value
