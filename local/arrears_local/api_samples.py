"""events/api/: API Gateway proxy events for the finance API, as IAM-authorised callers send them."""

from __future__ import annotations

import json
from typing import Any

from arrears_local.runtime import _proxy_event

SAMPLE_PRINCIPAL = "arn:aws:sts::123456789012:assumed-role/FinanceTeam/jane.doe"


def _request(method: str, path: str, resource: str, path_parameters: dict[str, str], body: dict | None = None,
             query: dict[str, list[str]] | None = None, request_id: str = "") -> dict[str, Any]:
    raw = json.dumps(body).encode() if body is not None else b""
    headers = {"Content-Type": "application/json", "Host": "abc123.execute-api.eu-west-1.amazonaws.com"} if body is not None else \
        {"Host": "abc123.execute-api.eu-west-1.amazonaws.com"}
    event = _proxy_event(method, path, resource, path_parameters, raw, headers, query, SAMPLE_PRINCIPAL)
    event["requestContext"]["requestId"] = request_id
    return event


def api_samples(invoice_id: str, customer_id: str) -> dict[str, Any]:
    invoice = {"invoice_id": invoice_id}
    return {
        "api/list-invoices-31-60-eur.json": _request("GET", "/invoices", "/invoices", {}, None,
                                                     {"aging": ["31-60"], "currency": ["EUR"], "limit": ["50"]}, "sample-api-list"),
        "api/get-invoice.json": _request("GET", f"/invoices/{invoice_id}", "/invoices/{invoice_id}", invoice,
                                         request_id="sample-api-get"),
        "api/pause-invoice.json": _request("POST", f"/invoices/{invoice_id}/pause", "/invoices/{invoice_id}/pause", invoice,
                                           {"until": "2026-11-15T00:00:00Z", "reason": "AP system migration"},
                                           request_id="sample-api-pause"),
        "api/payment-plan.json": _request("POST", f"/invoices/{invoice_id}/payment-plan", "/invoices/{invoice_id}/payment-plan",
                                          invoice, {"instalments": [{"due_on": "2026-11-16", "amount": 22500},
                                                                    {"due_on": "2026-12-15", "amount": 22500}],
                                                    "reason": "agreed with their controller by phone"},
                                          request_id="sample-api-payment-plan"),
        "api/update-customer.json": _request("PATCH", f"/customers/{customer_id}", "/customers/{customer_id}",
                                             {"customer_id": customer_id},
                                             {"escalation_email": "finance.director@brightwater-logistics.example"},
                                             request_id="sample-api-customer"),
        "api/aging-report.json": _request("GET", "/reports/aging", "/reports/aging", {}, request_id="sample-api-aging"),
    }
