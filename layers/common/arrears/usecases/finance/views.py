"""Reading the book: invoice lists by GSI, one invoice's timeline, aging buckets, an invoice's stage."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Callable, Sequence

from arrears.domain.aging import BUCKET_DAYS, AgingBucket, bucket_for_days
from arrears.domain.clock import to_iso_z
from arrears.domain.consolidation import reached_stage
from arrears.domain.holds import ActionRefused
from arrears.domain.models import ContactEntry, Customer, Invoice
from arrears.domain.policy import Policy, Stage
from arrears.domain import table_keys as keys


def days_past_due(invoice: Invoice, as_of: datetime) -> int:
    """Whole calendar days (UTC) since the due date; 0 or less while not yet overdue."""
    return (as_of.date() - invoice.due_at.date()).days


def aging_bucket(invoice: Invoice, as_of: datetime) -> AgingBucket:
    return bucket_for_days(days_past_due(invoice, as_of))


def _due_range(bucket: AgingBucket, as_of: datetime) -> tuple[str | None, str | None]:
    """The GSI3 sort-key range (due date) holding a bucket's invoices on `as_of`."""
    low, high = BUCKET_DAYS[bucket]
    today = as_of.date()
    earliest = None if high is None else f"{(today - timedelta(days=high)).isoformat()}T00:00:00Z"
    latest = None if low is None else f"{(today - timedelta(days=low)).isoformat()}T23:59:59Z~"
    return earliest, latest


def current_stage(invoice: Invoice, policy: Policy | None) -> Stage | None:
    """The furthest stage the invoice's completed steps reached (None before the first contact)."""
    if policy is None:
        return None
    return reached_stage(invoice.completed_steps, (step for segment in policy.segments.values() for step in segment.steps))


@dataclass(frozen=True)
class InvoiceFilter:
    state: str = "open"  # open | closed
    stage: Stage | None = None
    customer_id: str | None = None
    currency: str | None = None
    aging: AgingBucket | None = None
    next_action_before: datetime | None = None
    limit: int = 50
    cursor: str | None = None


@dataclass(frozen=True)
class InvoicePage:
    invoices: list[Invoice]
    next_cursor: str | None


def list_invoices(query: InvoiceFilter, store: Any, policy_of: Callable[[Invoice], Policy | None],
                  as_of: datetime, cursor_keys: Sequence[str] = ()) -> InvoicePage:
    """Answered by one GSI query (never a Scan): by customer (GSI2), by aging bucket (GSI3: receivables by
    due date), by next action (GSI1: collection state), in that order of preference; the other filters
    apply to the page read. Like DynamoDB itself, a page may hold fewer than `limit` invoices while
    `next_cursor` says there is more. The cursor is signed with the first of `cursor_keys` (any of them
    is accepted, for rotation) and names the query it continues: a changed or foreign one is refused."""
    if query.aging is not None and query.state != "open":
        raise ActionRefused("invalid_filter", "aging buckets apply to open invoices: use state=open")
    if query.next_action_before is not None and query.state != "open":
        raise ActionRefused("invalid_filter", "closed invoices have no next action: use state=open")
    if query.customer_id:
        index, partition, low, high = "gsi2", keys.customer_pk(query.customer_id), "INVOICE#", "INVOICE#~"
    elif query.aging is not None:
        index, partition = "gsi3", keys.RECEIVABLE
        low, high = _due_range(query.aging, as_of)
    elif query.next_action_before is not None:
        index, partition, low, high = "gsi1", "COLLECTION#open", None, to_iso_z(query.next_action_before)
    else:
        index, partition, low, high = "gsi1", f"COLLECTION#{query.state}", None, None
    scope = f"{index}|{partition}"
    start = decode_cursor(query.cursor, cursor_keys, scope)
    invoices, last_key = store.invoice_page(index, partition, low, high, query.limit, start)
    chosen = [invoice for invoice in invoices if _matches(invoice, query, policy_of, as_of)]
    return InvoicePage(chosen, encode_cursor(last_key, cursor_keys, scope))


def _matches(invoice: Invoice, query: InvoiceFilter, policy_of: Callable[[Invoice], Policy | None], as_of: datetime) -> bool:
    is_open = not invoice.is_settled
    if (query.state == "open") != is_open:
        return False
    if query.currency and invoice.currency != query.currency.upper():
        return False
    if query.aging is not None and aging_bucket(invoice, as_of) is not query.aging:
        return False
    if query.next_action_before is not None and (invoice.next_action_at is None or invoice.next_action_at >= query.next_action_before):
        return False
    if query.stage is not None and current_stage(invoice, policy_of(invoice)) is not query.stage:
        return False
    return True


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _cursor_mac(key: str, payload: str) -> str:
    return _b64(hmac.new(key.encode(), payload.encode(), hashlib.sha256).digest()[:16])


def encode_cursor(last_key: dict[str, Any] | None, keys: Sequence[str], scope: str) -> str | None:
    """An opaque, signed cursor: `<payload>.<mac>`, the payload holding DynamoDB's key and the query's scope."""
    if not last_key:
        return None
    if not keys:
        raise RuntimeError("no cursor signing key is configured (CURSOR_KEY_PARAMETER)")
    payload = _b64(json.dumps({"key": last_key, "scope": scope}, sort_keys=True).encode())
    return f"{payload}.{_cursor_mac(keys[0], payload)}"


def decode_cursor(cursor: str | None, keys: Sequence[str], scope: str) -> dict[str, Any] | None:
    """DynamoDB's key from a cursor this API signed for the same query; ActionRefused(invalid_cursor) otherwise."""
    if not cursor:
        return None
    refused = ActionRefused("invalid_cursor", "the cursor is not one this API returned for this query")
    payload, _, mac = cursor.partition(".")
    # Bytes, not text: compare_digest refuses non-ASCII text, and a cursor is whatever the caller sends.
    if not any(hmac.compare_digest(mac.encode(), _cursor_mac(key, payload).encode()) for key in keys):
        raise refused
    try:
        document = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (ValueError, UnicodeDecodeError):
        raise refused from None
    key = document.get("key") if isinstance(document, dict) else None
    if document.get("scope") != scope or not isinstance(key, dict) or \
            not all(isinstance(k, str) and isinstance(v, str) for k, v in key.items()):
        raise refused
    return key


@dataclass(frozen=True)
class PlannedContact:
    step_id: str
    stage: str
    channel: str
    at: datetime


@dataclass(frozen=True)
class Timeline:
    invoice: Invoice
    customer: Customer | None
    stage: Stage | None
    entries: list[ContactEntry]
    delivery: dict[str, str]  # SES message id -> latest delivery status (delivered, bounced, complained)
    planned: list[PlannedContact]


# Contact-log kinds that are SES's news about an email, not contacts of their own.
_DELIVERY_EVENTS = {"email_delivered": "delivered", "email_bounced": "bounced", "email_complained": "complained"}


def invoice_timeline(invoice_id: str, store: Any, log: Any, policies: Any,
                     plan: Callable[[Invoice, Customer, Policy], list]) -> Timeline:
    """One invoice's whole story: every contact-log entry with its email's delivery status, and the steps
    still planned with their dates (none while on hold: they move by the days held when it lifts)."""
    invoice = store.get_invoice(invoice_id)
    if invoice is None:
        raise ActionRefused("unknown_invoice", f"no invoice {invoice_id}")
    customer = store.get_customer(invoice.customer_id)
    policy = policies.get(invoice.policy_id, invoice.policy_version) if invoice.policy_id and invoice.policy_version else None
    entries = log.entries(invoice_id)
    delivery = {entry.message_id: _DELIVERY_EVENTS[entry.kind] for entry in entries
                if entry.message_id and entry.kind in _DELIVERY_EVENTS}
    planned: list[PlannedContact] = []
    if policy is not None and customer is not None and not invoice.is_settled and invoice.hold is None:
        planned = [PlannedContact(p.step.id, p.step.stage.value, p.step.channel.value, p.at)
                   for p in plan(invoice, customer, policy) if p.step.id not in invoice.completed_steps]
    return Timeline(invoice, customer, current_stage(invoice, policy), entries, delivery, planned)
