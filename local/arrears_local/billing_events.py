"""Realistic Paddle Billing, Chargebee and generic-feed events for the demo invoices, signed as each platform signs.

Stripe's are in `stripe_events`; these take the same `SampleInvoice`, so one sample book can be
delivered by any platform.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timedelta, timezone
from typing import Any

from arrears.ingestion.providers import chargebee, generic, paddle
from arrears_local.stripe_events import SampleCustomer, SampleInvoice


def _unix(moment: datetime) -> int:
    return int(moment.timestamp())


def _iso(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _ulid_like(prefix: str, *parts: str) -> str:
    """Paddle ids: a prefix and 26 lower-case alphanumerics."""
    return f"{prefix}_01" + hashlib.sha256(":".join(parts).encode()).hexdigest()[:24]


# --- Paddle Billing --------------------------------------------------------------------------------
PADDLE_TRANSACTION_EVENTS = ("transaction.billed", "transaction.updated", "transaction.past_due", "transaction.paid",
                             "transaction.completed", "transaction.canceled")
_PADDLE_STATUS = {"transaction.billed": "billed", "transaction.updated": "billed", "transaction.past_due": "past_due",
                  "transaction.paid": "paid", "transaction.completed": "completed", "transaction.canceled": "canceled"}


def paddle_transaction_id(invoice: SampleInvoice) -> str:
    return _ulid_like("txn", invoice.invoice_id)


def paddle_customer_id(customer: SampleCustomer) -> str:
    return _ulid_like("ctm", customer.customer_id)


def paddle_transaction_event(invoice: SampleInvoice, event_type: str, at: datetime, *, status: str | None = None,
                             paid: int | None = None, net_days: int = 30) -> dict[str, Any]:
    """A manually collected transaction (Paddle's invoice): amounts are strings in minor units."""
    status = status or _PADDLE_STATUS[event_type]
    paid = (invoice.total if status in ("paid", "completed") else 0) if paid is None else paid
    tax = invoice.total // 6  # 20 % VAT included in the total
    currency = invoice.currency.upper()
    transaction_id = paddle_transaction_id(invoice)
    payments = [] if not paid else [{
        "payment_attempt_id": "8f72d1e0-" + hashlib.sha256(f"pay:{transaction_id}".encode()).hexdigest()[:27],
        "stored_payment_method_id": None, "payment_method_id": None, "amount": str(paid), "status": "captured",
        "error_code": None, "method_details": {"type": "wire_transfer", "card": None},
        "created_at": _iso(at), "captured_at": _iso(at)}]
    data = {
        "id": transaction_id, "status": status, "customer_id": paddle_customer_id(invoice.customer),
        "address_id": _ulid_like("add", invoice.customer.customer_id), "business_id": _ulid_like("biz", invoice.customer.customer_id),
        "custom_data": None, "origin": "api", "collection_mode": "manual", "subscription_id": None,
        "invoice_id": _ulid_like("inv", invoice.invoice_id), "invoice_number": invoice.number,
        "billing_details": {"enable_checkout": True, "purchase_order_number": f"PO-{invoice.number[-4:]}",
                            "additional_information": None, "payment_terms": {"interval": "day", "frequency": net_days}},
        "billing_period": None, "currency_code": currency, "discount_id": None,
        "created_at": _iso(invoice.created - timedelta(minutes=5)), "updated_at": _iso(at), "billed_at": _iso(invoice.created),
        "items": [{"price_id": _ulid_like("pri", description), "quantity": 1} for description, _ in invoice.lines],
        "details": {
            "tax_rates_used": [{"tax_rate": "0.2", "totals": {"subtotal": str(invoice.total - tax), "discount": "0",
                                                               "tax": str(tax), "total": str(invoice.total)}}],
            "totals": {"subtotal": str(invoice.total - tax), "discount": "0", "tax": str(tax), "total": str(invoice.total),
                       "credit": "0", "credit_to_balance": "0", "balance": str(0 if status in ("paid", "completed", "canceled")
                                                                                   else invoice.total - paid),
                       "grand_total": str(invoice.total), "fee": None, "earnings": None, "currency_code": currency},
            "line_items": [{"id": _ulid_like("txnitm", invoice.invoice_id, str(index)), "price_id": _ulid_like("pri", description),
                            "quantity": 1, "totals": {"subtotal": str(amount - amount // 6), "tax": str(amount // 6),
                                                      "discount": "0", "total": str(amount)},
                            "product": {"id": _ulid_like("pro", description), "name": description, "tax_category": "saas"}}
                           for index, (description, amount) in enumerate(invoice.lines)],
        },
        "payments": payments,
        "checkout": {"url": f"https://billing.northwind.example/pay?_ptxn={transaction_id}"},
    }
    return {"event_id": _ulid_like("evt", transaction_id, event_type, str(_unix(at))), "event_type": event_type,
            "occurred_at": _iso(at), "notification_id": _ulid_like("ntf", transaction_id, event_type, str(_unix(at))),
            "data": data}


def paddle_customer_event(customer: SampleCustomer, at: datetime, event_type: str = "customer.updated") -> dict[str, Any]:
    customer_id = paddle_customer_id(customer)
    return {"event_id": _ulid_like("evt", customer_id, event_type, str(_unix(at))), "event_type": event_type,
            "occurred_at": _iso(at), "notification_id": _ulid_like("ntf", customer_id, event_type, str(_unix(at))),
            "data": {"id": customer_id, "name": customer.name, "email": customer.email, "locale": customer.locale,
                     "status": "active", "custom_data": None, "marketing_consent": False, "import_meta": None,
                     "created_at": "2026-06-02T10:12:44.128000Z", "updated_at": _iso(at)}}


def paddle_delivery(event: dict[str, Any], secret: str, at: datetime) -> tuple[bytes, dict[str, str]]:
    body = json.dumps(event, ensure_ascii=False).encode()
    return body, {"Content-Type": "application/json", "User-Agent": "Paddle",
                  "Paddle-Signature": paddle.sign(body, secret, _unix(at))}


# --- Chargebee ---------------------------------------------------------------------------------------
CHARGEBEE_INVOICE_EVENTS = ("invoice_generated", "invoice_updated", "payment_succeeded", "payment_refunded",
                            "invoice_deleted")
_CHARGEBEE_STATUS = {"invoice_generated": "payment_due", "invoice_updated": "payment_due", "payment_succeeded": "paid",
                     "payment_refunded": "paid", "invoice_deleted": "voided"}


def chargebee_customer_id(customer: SampleCustomer) -> str:
    return "Az" + hashlib.sha256(customer.customer_id.encode()).hexdigest()[:14]


def _chargebee_address(customer: SampleCustomer) -> dict[str, Any]:
    return {"first_name": "Accounts", "last_name": "Payable", "email": customer.email, "company": customer.name,
            "line1": customer.line1, "city": customer.city, "zip": customer.postal_code, "country": customer.country,
            "validation_status": "not_validated", "object": "billing_address"}


def chargebee_customer(customer: SampleCustomer, at: datetime, auto_collection: str = "off") -> dict[str, Any]:
    return {"id": chargebee_customer_id(customer), "first_name": "Accounts", "last_name": "Payable", "email": customer.email,
            "company": customer.name, "auto_collection": auto_collection, "net_term_days": 30, "allow_direct_debit": False,
            "created_at": 1780300800, "taxability": "taxable", "updated_at": _unix(at), "locale": customer.locale,
            "resource_version": _unix(at) * 1000, "deleted": False, "object": "customer", "card_status": "no_card",
            "billing_address": _chargebee_address(customer), "preferred_currency_code": "GBP", "promotional_credits": 0,
            "refundable_credits": 0, "excess_payments": 0, "unbilled_charges": 0}


def chargebee_invoice(invoice: SampleInvoice, status: str, at: datetime, paid: int = 0, adjusted: int = 0) -> dict[str, Any]:
    due = invoice.total - adjusted - (invoice.total - adjusted if status == "paid" else paid)
    return {"id": invoice.number, "customer_id": chargebee_customer_id(invoice.customer), "recurring": False,
            "status": status, "price_type": "tax_inclusive", "date": _unix(invoice.created), "due_date": _unix(invoice.due),
            "net_term_days": 30, "exchange_rate": 1.0, "total": invoice.total,
            "amount_paid": invoice.total - adjusted if status == "paid" else paid, "amount_adjusted": adjusted,
            "write_off_amount": 0, "credits_applied": 0, "amount_due": 0 if status in ("paid", "voided") else due,
            "paid_at": _unix(at) if status == "paid" else None, "updated_at": _unix(at), "resource_version": _unix(at) * 1000,
            "deleted": status == "voided" and False, "object": "invoice", "first_invoice": False,
            "amount_to_collect": 0 if status in ("paid", "voided") else due, "round_off_amount": 0,
            "has_advance_charges": False, "currency_code": invoice.currency.upper(), "base_currency_code": "GBP",
            "generated_at": _unix(invoice.created), "channel": "web", "tax": invoice.total // 6,
            "line_items": [{"id": f"li_{invoice.number}_{index}", "date_from": _unix(invoice.created), "date_to": _unix(invoice.created),
                            "unit_amount": amount, "quantity": 1, "amount": amount, "pricing_model": "flat_fee", "is_taxed": True,
                            "tax_amount": amount // 6, "object": "line_item", "customer_id": chargebee_customer_id(invoice.customer),
                            "description": description, "entity_type": "adhoc", "discount_amount": 0,
                            "item_level_discount_amount": 0}
                           for index, (description, amount) in enumerate(invoice.lines)],
            "sub_total": invoice.total, "linked_payments": [], "dunning_attempts": [],
            "billing_address": _chargebee_address(invoice.customer)}


def chargebee_event(event_type: str, at: datetime, content: dict[str, Any], discriminator: str = "") -> dict[str, Any]:
    event_id = "ev_" + hashlib.sha256(f"{event_type}:{discriminator}:{_unix(at)}".encode()).hexdigest()[:16]
    return {"id": event_id, "occurred_at": _unix(at), "source": "admin_console", "user": "finance@northwind.example",
            "object": "event", "api_version": "v2", "event_type": event_type, "webhook_status": "scheduled",
            "content": content}


def chargebee_invoice_event(invoice: SampleInvoice, event_type: str, at: datetime, *, status: str | None = None,
                            paid: int = 0, adjusted: int = 0) -> dict[str, Any]:
    status = status or _CHARGEBEE_STATUS[event_type]
    content: dict[str, Any] = {"invoice": chargebee_invoice(invoice, status, at, paid, adjusted),
                               "customer": chargebee_customer(invoice.customer, invoice.created)}
    if event_type in ("payment_succeeded", "payment_refunded"):
        content["transaction"] = {
            "id": "txn_" + hashlib.sha256(f"{invoice.number}:{event_type}".encode()).hexdigest()[:16],
            "customer_id": chargebee_customer_id(invoice.customer), "payment_method": "bank_transfer",
            "date": _unix(at), "currency_code": invoice.currency.upper(), "amount": paid or invoice.total,
            "type": "refund" if event_type == "payment_refunded" else "payment", "status": "success", "object": "transaction"}
    return chargebee_event(event_type, at, content, invoice.number)


def chargebee_credit_note_event(invoice: SampleInvoice, amount: int, at: datetime) -> dict[str, Any]:
    note = {"id": f"CN-{invoice.number}", "customer_id": chargebee_customer_id(invoice.customer),
            "reference_invoice_id": invoice.number, "type": "adjustment", "reason_code": "service_unsatisfactory",
            "status": "adjusted", "date": _unix(at), "price_type": "tax_inclusive", "currency_code": invoice.currency.upper(),
            "total": amount, "amount_allocated": amount, "amount_refunded": 0, "amount_available": 0,
            "generated_at": _unix(at), "updated_at": _unix(at), "resource_version": _unix(at) * 1000, "deleted": False,
            "object": "credit_note", "create_reason_code": "Service credit"}
    return chargebee_event("credit_note_created", at, {"credit_note": note}, invoice.number)


def chargebee_customer_event(customer: SampleCustomer, at: datetime) -> dict[str, Any]:
    return chargebee_event("customer_changed", at, {"customer": chargebee_customer(customer, at)}, customer.customer_id)


def chargebee_delivery(event: dict[str, Any], credentials: str) -> tuple[bytes, dict[str, str]]:
    body = json.dumps(event, ensure_ascii=False).encode()
    return body, {"Content-Type": "application/json", "User-Agent": "ChargeBee",
                  "Authorization": chargebee.basic_auth_header(credentials)}


# --- the generic feed --------------------------------------------------------------------------------
def generic_invoice_record(invoice: SampleInvoice, status: str = "open", amount_paid: int = 0) -> dict[str, Any]:
    customer = invoice.customer
    return {"id": invoice.invoice_id, "number": invoice.number, "status": status, "currency": invoice.currency.upper(),
            "amount_due": invoice.total, "amount_paid": invoice.total if status == "paid" else amount_paid,
            "issued_at": invoice.created.isoformat(), "due_at": invoice.due.isoformat(),
            "pay_url": f"https://billing.northwind.example/invoices/{invoice.number}/pay",
            "lines": [{"description": description, "amount": amount} for description, amount in invoice.lines],
            "customer": {"id": customer.customer_id, "name": customer.name, "email": customer.email,
                         "address": {"line1": customer.line1, "postal_code": customer.postal_code, "city": customer.city,
                                     **({"state": customer.state} if customer.state else {}), "country": customer.country},
                         "language": customer.locale}}


def generic_invoice_event(invoice: SampleInvoice, at: datetime, status: str = "open", amount_paid: int = 0) -> dict[str, Any]:
    event_id = "inv-evt-" + hashlib.sha256(f"{invoice.invoice_id}:{status}:{amount_paid}:{_unix(at)}".encode()).hexdigest()[:20]
    return {"id": event_id, "type": "invoice.updated", "occurred_at": at.isoformat(),
            "invoice": generic_invoice_record(invoice, status, amount_paid)}


def generic_customer_event(customer: SampleCustomer, at: datetime) -> dict[str, Any]:
    event_id = "cus-evt-" + hashlib.sha256(f"{customer.customer_id}:{_unix(at)}".encode()).hexdigest()[:20]
    return {"id": event_id, "type": "customer.updated", "occurred_at": at.isoformat(),
            "customer": {"id": customer.customer_id, "name": customer.name, "email": customer.email,
                         "address": {"line1": customer.line1, "postal_code": customer.postal_code, "city": customer.city,
                                     "country": customer.country}, "language": customer.locale}}


def generic_delivery(event: dict[str, Any], secret: str, at: datetime) -> tuple[bytes, dict[str, str]]:
    body = json.dumps(event, ensure_ascii=False).encode()
    return body, {"Content-Type": "application/json", "Arrears-Signature": generic.sign(body, secret, _unix(at))}
