"""Realistic Stripe invoice events (API version 2025-03-31.basil shape), signed as Stripe signs them."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from arrears.providers.stripe import sign

API_VERSION = "2025-03-31.basil"


@dataclass(frozen=True)
class SampleCustomer:
    customer_id: str
    name: str
    email: str
    line1: str
    city: str
    postal_code: str
    country: str
    locale: str = "en"


@dataclass(frozen=True)
class SampleInvoice:
    invoice_id: str
    number: str
    customer: SampleCustomer
    currency: str
    lines: tuple[tuple[str, int], ...]
    created: datetime
    due: datetime

    @property
    def total(self) -> int:
        return sum(amount for _, amount in self.lines)


def _unix(moment: datetime) -> int:
    return int(moment.timestamp())


def _event_id(invoice_id: str, event_type: str) -> str:
    # Stable ids: a redelivery of the same event carries the same id, as Stripe's do.
    return "evt_" + hashlib.sha256(f"{invoice_id}:{event_type}".encode()).hexdigest()[:24]


def invoice_object(invoice: SampleInvoice, status: str, amount_paid: int, at: datetime) -> dict[str, Any]:
    customer = invoice.customer
    remaining = 0 if status in ("paid", "void", "uncollectible") else invoice.total - amount_paid
    return {
        "id": invoice.invoice_id, "object": "invoice", "account_country": "GB", "account_name": "Northwind Analytics Ltd",
        "amount_due": invoice.total, "amount_paid": amount_paid, "amount_remaining": remaining,
        "attempt_count": 0, "attempted": False, "auto_advance": False, "billing_reason": "manual",
        "collection_method": "send_invoice", "created": _unix(invoice.created), "currency": invoice.currency.lower(),
        "customer": customer.customer_id, "customer_address": {
            "city": customer.city, "country": customer.country, "line1": customer.line1, "line2": None,
            "postal_code": customer.postal_code, "state": None},
        "customer_email": customer.email, "customer_name": customer.name,
        "customer_preferred_locales": [customer.locale], "customer_tax_exempt": "none",
        "description": None, "due_date": _unix(invoice.due),
        "hosted_invoice_url": f"https://invoice.stripe.com/i/acct_1NwArrears/test_{invoice.invoice_id}",
        "invoice_pdf": f"https://pay.stripe.com/invoice/acct_1NwArrears/test_{invoice.invoice_id}/pdf",
        "lines": {"object": "list", "has_more": False, "total_count": len(invoice.lines),
                  "url": f"/v1/invoices/{invoice.invoice_id}/lines",
                  "data": [{"id": f"il_{invoice.invoice_id[3:]}{index}", "object": "line_item", "amount": amount,
                            "currency": invoice.currency.lower(), "description": description, "quantity": 1}
                           for index, (description, amount) in enumerate(invoice.lines)]},
        "livemode": False, "number": invoice.number, "paid_out_of_band": False,
        "parent": None, "period_end": _unix(invoice.created), "period_start": _unix(invoice.created),
        "status": status, "status_transitions": {
            "finalized_at": _unix(invoice.created), "marked_uncollectible_at": None,
            "paid_at": _unix(at) if status == "paid" else None, "voided_at": _unix(at) if status == "void" else None},
        "subtotal": invoice.total, "total": invoice.total,
    }


_STATUS_BY_EVENT = {"invoice.finalized": "open", "invoice.sent": "open", "invoice.paid": "paid",
                    "invoice.voided": "void", "invoice.marked_uncollectible": "uncollectible"}


def invoice_event(invoice: SampleInvoice, event_type: str, at: datetime) -> dict[str, Any]:
    status = _STATUS_BY_EVENT[event_type]
    amount_paid = invoice.total if status == "paid" else 0
    return {
        "id": _event_id(invoice.invoice_id, event_type), "object": "event", "api_version": API_VERSION,
        "created": _unix(at), "data": {"object": invoice_object(invoice, status, amount_paid, at)},
        "livemode": False, "pending_webhooks": 1,
        "request": {"id": None, "idempotency_key": None}, "type": event_type,
    }


def signed_delivery(event: dict[str, Any], secret: str, at: datetime) -> tuple[bytes, dict[str, str]]:
    """The body and headers of one delivery, signed at `at` as Stripe would."""
    body = json.dumps(event, indent=2).encode()
    headers = {"Content-Type": "application/json; charset=utf-8", "User-Agent": "Stripe/1.0 (+https://stripe.com/docs/webhooks)",
               "Stripe-Signature": sign(body, secret, _unix(at))}
    return body, headers
