"""Realistic Stripe invoice events (API version 2025-03-31.basil shape), signed as Stripe signs them."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from arrears.ingestion.providers.stripe import sign

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
    state: str = ""  # the address region: in a country with several zones it decides the debtor's


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


# Events that happen more than once in an invoice's life get an id per occurrence.
_REPEATABLE = frozenset({"invoice.updated", "invoice.payment_succeeded", "invoice.payment_failed", "invoice_payment.paid"})
LEGACY_API_VERSION = "2024-06-20"  # before 2025-03-31: invoice.charge / payment_intent / subscription, charge.invoice


def _event_id(invoice_id: str, event_type: str, at: datetime | None = None) -> str:
    # Stable ids: a redelivery of the same event carries the same id, as Stripe's do.
    occurrence = f":{_unix(at)}" if at is not None and event_type in _REPEATABLE else ""
    return "evt_" + hashlib.sha256(f"{invoice_id}:{event_type}{occurrence}".encode()).hexdigest()[:24]


def payment_intent_id(invoice: SampleInvoice) -> str:
    return "pi_" + hashlib.sha256(f"pi:{invoice.invoice_id}".encode()).hexdigest()[:24]


def charge_id(invoice: SampleInvoice) -> str:
    return "ch_" + hashlib.sha256(f"ch:{invoice.invoice_id}".encode()).hexdigest()[:24]


def invoice_object(invoice: SampleInvoice, status: str, amount_paid: int, at: datetime, *, credited: int = 0,
                   due: datetime | None = None, api_version: str = API_VERSION,
                   collection_method: str = "send_invoice", next_payment_attempt: datetime | None = None) -> dict[str, Any]:
    """An invoice as Stripe shows it at `at`. `credited`: pre-payment credit notes so far (they lower amount_due)."""
    customer = invoice.customer
    amount_due = invoice.total - credited
    remaining = 0 if status in ("paid", "void", "uncollectible") else amount_due - amount_paid
    paid_by_card = amount_paid > 0
    document = {
        "id": invoice.invoice_id, "object": "invoice", "account_country": "GB", "account_name": "Northwind Analytics Ltd",
        "amount_due": amount_due, "amount_paid": amount_paid, "amount_remaining": remaining,
        "attempt_count": 1 if next_payment_attempt or collection_method == "charge_automatically" else 0,
        "attempted": collection_method == "charge_automatically", "auto_advance": status == "draft", "billing_reason": "manual",
        "collection_method": collection_method, "created": _unix(invoice.created), "currency": invoice.currency.lower(),
        "customer": customer.customer_id, "customer_address": {
            "city": customer.city, "country": customer.country, "line1": customer.line1, "line2": None,
            "postal_code": customer.postal_code, "state": customer.state or None},
        "customer_email": customer.email, "customer_name": customer.name,
        "customer_preferred_locales": [customer.locale], "customer_tax_exempt": "none",
        "description": None, "due_date": _unix(due or invoice.due) if collection_method == "send_invoice" else None,
        "hosted_invoice_url": None if status == "draft" else f"https://invoice.stripe.com/i/acct_1NwArrears/test_{invoice.invoice_id}",
        "invoice_pdf": None if status == "draft" else f"https://pay.stripe.com/invoice/acct_1NwArrears/test_{invoice.invoice_id}/pdf",
        "lines": {"object": "list", "has_more": False, "total_count": len(invoice.lines),
                  "url": f"/v1/invoices/{invoice.invoice_id}/lines",
                  "data": [{"id": f"il_{invoice.invoice_id[3:]}{index}", "object": "line_item", "amount": amount,
                            "currency": invoice.currency.lower(), "description": description, "quantity": 1}
                           for index, (description, amount) in enumerate(invoice.lines)]},
        "livemode": False, "next_payment_attempt": _unix(next_payment_attempt) if next_payment_attempt else None,
        "number": None if status == "draft" else invoice.number, "paid_out_of_band": False,
        "period_end": _unix(invoice.created), "period_start": _unix(invoice.created),
        "post_payment_credit_notes_amount": 0, "pre_payment_credit_notes_amount": credited,
        "status": status, "status_transitions": {
            "finalized_at": None if status == "draft" else _unix(invoice.created), "marked_uncollectible_at": None,
            "paid_at": _unix(at) if status == "paid" else None, "voided_at": _unix(at) if status == "void" else None},
        "subtotal": invoice.total, "total": amount_due,
    }
    if api_version < "2025-03-31":
        document |= {"charge": charge_id(invoice) if paid_by_card else None,
                     "payment_intent": payment_intent_id(invoice) if status != "draft" else None,
                     "subscription": None, "paid": status == "paid"}
    else:
        document |= {"parent": None}
    return document


_STATUS_BY_EVENT = {"invoice.created": "draft", "invoice.deleted": "draft", "invoice.finalized": "open",
                    "invoice.sent": "open", "invoice.updated": "open", "invoice.payment_failed": "open",
                    "invoice.payment_succeeded": "paid", "invoice.paid": "paid", "invoice.voided": "void",
                    "invoice.marked_uncollectible": "uncollectible"}


def _envelope(event_id: str, event_type: str, at: datetime, data: dict[str, Any], api_version: str,
              previous: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "id": event_id, "object": "event", "api_version": api_version, "created": _unix(at),
        "data": {"object": data, **({"previous_attributes": previous} if previous else {})},
        "livemode": False, "pending_webhooks": 1, "request": {"id": None, "idempotency_key": None}, "type": event_type,
    }


def invoice_event(invoice: SampleInvoice, event_type: str, at: datetime, *, status: str | None = None,
                  amount_paid: int | None = None, credited: int = 0, due: datetime | None = None,
                  api_version: str = API_VERSION, collection_method: str = "send_invoice",
                  next_payment_attempt: datetime | None = None, previous: dict[str, Any] | None = None) -> dict[str, Any]:
    """One invoice.* event as Stripe sends it. `amount_paid` defaults to everything for a paid invoice."""
    status = status or _STATUS_BY_EVENT[event_type]
    if amount_paid is None:
        amount_paid = invoice.total - credited if status == "paid" else 0
    data = invoice_object(invoice, status, amount_paid, at, credited=credited, due=due, api_version=api_version,
                          collection_method=collection_method, next_payment_attempt=next_payment_attempt)
    return _envelope(_event_id(invoice.invoice_id, event_type, at), event_type, at, data, api_version, previous)


def credit_note_event(invoice: SampleInvoice, number: int, amount: int, at: datetime, voided: bool = False,
                      api_version: str = API_VERSION) -> dict[str, Any]:
    """credit_note.created (or .voided) for a pre-payment credit note on an open invoice."""
    note_id = "cn_" + hashlib.sha256(f"{invoice.invoice_id}:{number}".encode()).hexdigest()[:24]
    event_type = "credit_note.voided" if voided else "credit_note.created"
    data = {"id": note_id, "object": "credit_note", "amount": amount, "amount_shipping": 0, "created": _unix(at),
            "currency": invoice.currency.lower(), "customer": invoice.customer.customer_id, "invoice": invoice.invoice_id,
            "livemode": False, "memo": "Service credit: outage on 14 September", "number": f"{invoice.number}-CN-{number:02d}",
            "out_of_band_amount": None, "pdf": f"https://pay.stripe.com/credit_notes/acct_1NwArrears/test_{note_id}/pdf",
            "pre_payment_amount": amount, "post_payment_amount": 0, "reason": "order_change",
            "status": "void" if voided else "issued", "subtotal": amount, "total": amount, "type": "pre_payment",
            "voided_at": _unix(at) if voided else None}
    return _envelope(_event_id(note_id, event_type), event_type, at, data, api_version)


def customer_updated_event(customer: SampleCustomer, at: datetime, previous: dict[str, Any] | None = None,
                           api_version: str = API_VERSION) -> dict[str, Any]:
    data = {"id": customer.customer_id, "object": "customer", "address": {
                "city": customer.city, "country": customer.country, "line1": customer.line1, "line2": None,
                "postal_code": customer.postal_code, "state": customer.state or None},
            "balance": 0, "created": 1756710000, "currency": "gbp", "delinquent": False, "description": None,
            "email": customer.email, "invoice_prefix": "NW", "livemode": False, "metadata": {}, "name": customer.name,
            "phone": None, "preferred_locales": [customer.locale], "tax_exempt": "none"}
    event_id = "evt_" + hashlib.sha256(f"{customer.customer_id}:customer.updated:{_unix(at)}".encode()).hexdigest()[:24]
    return _envelope(event_id, "customer.updated", at, data, api_version, previous or {"email": None})


def dispute_event(invoice: SampleInvoice, at: datetime, closed: bool = False, outcome: str = "won",
                  api_version: str = API_VERSION) -> dict[str, Any]:
    """charge.dispute.created / .closed on the invoice's payment. Neither version names the invoice on a
    dispute; before 2025-03-31 its charge did (charge.invoice), now only the invoice's payments do."""
    dispute_id = "dp_" + hashlib.sha256(f"dp:{invoice.invoice_id}".encode()).hexdigest()[:24]
    event_type = "charge.dispute.closed" if closed else "charge.dispute.created"
    data = {"id": dispute_id, "object": "dispute", "amount": invoice.total, "charge": charge_id(invoice),
            "created": _unix(at), "currency": invoice.currency.lower(), "evidence_details": {
                "due_by": _unix(at) + 7 * 86400, "has_evidence": False, "past_due": False, "submission_count": 0},
            "is_charge_refundable": False, "livemode": False, "metadata": {}, "payment_intent": payment_intent_id(invoice),
            "reason": "product_not_received", "status": outcome if closed else "needs_response"}
    return _envelope(_event_id(dispute_id, event_type), event_type, at, data, api_version)


def invoice_payment_paid_event(invoice: SampleInvoice, amount: int, at: datetime) -> dict[str, Any]:
    """invoice_payment.paid (2025-03-31 on): the link between a payment intent and its invoice."""
    payment_id = "inpay_" + hashlib.sha256(f"inpay:{invoice.invoice_id}:{_unix(at)}".encode()).hexdigest()[:22]
    data = {"id": payment_id, "object": "invoice_payment", "amount_paid": amount, "amount_requested": amount,
            "created": _unix(at), "currency": invoice.currency.lower(), "invoice": invoice.invoice_id, "is_default": True,
            "livemode": False, "payment": {"type": "payment_intent", "payment_intent": payment_intent_id(invoice)},
            "status": "paid", "status_transitions": {"canceled_at": None, "paid_at": _unix(at)}}
    return _envelope(_event_id(invoice.invoice_id, "invoice_payment.paid", at), "invoice_payment.paid", at, data, API_VERSION)


def signed_delivery(event: dict[str, Any], secret: str, at: datetime) -> tuple[bytes, dict[str, str]]:
    """The body and headers of one delivery, signed at `at` as Stripe would."""
    body = json.dumps(event, indent=2).encode()
    headers = {"Content-Type": "application/json; charset=utf-8", "User-Agent": "Stripe/1.0 (+https://stripe.com/docs/webhooks)",
               "Stripe-Signature": sign(body, secret, _unix(at))}
    return body, headers
