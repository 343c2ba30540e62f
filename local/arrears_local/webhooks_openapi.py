"""openapi/webhooks.json: the webhook routes, their bodies (from the providers' own parsing models) and answers.

Regenerate with `python -m arrears_local.webhooks_openapi`; a test fails when the committed file is stale.
"""

from __future__ import annotations

import json
from typing import Any

from arrears_local.runtime import project_root

WEBHOOKS_DOCUMENT = project_root() / "openapi" / "webhooks.json"
_REF = "#/components/schemas/{model}"


def _schema(model: Any, components: dict[str, Any], prefix: str) -> dict[str, Any]:
    """The model's JSON schema with its definitions moved to components (OpenAPI 3.1 is JSON Schema 2020-12),
    named after the provider (each provider has its own `_LineItem`, `_Address`...)."""
    schema = model.model_json_schema(ref_template=_REF.replace("{model}", prefix + "{model}"), mode="validation")
    components.update({prefix + name: definition for name, definition in schema.pop("$defs", {}).items()})
    components[prefix + model.__name__] = schema
    return {"$ref": _REF.format(model=prefix + model.__name__)}


def _event(required_fields: dict[str, Any], object_schema: dict[str, Any], envelope: str = "data") -> dict[str, Any]:
    properties = dict(required_fields)
    properties[envelope] = {"type": "object", "required": ["object"] if envelope == "data" else [],
                            "properties": {"object": object_schema} if envelope == "data" else object_schema}
    return {"type": "object", "required": [*required_fields, envelope], "properties": properties}


def webhooks_openapi() -> str:
    from arrears.ingestion.providers import chargebee, generic, paddle, stripe

    components: dict[str, Any] = {}
    stripe_objects = [_schema(m, components, "Stripe") for m in (stripe._StripeInvoice, stripe._StripeCreditNote, stripe._StripeCustomer,
                                                        stripe._StripeDispute, stripe._StripeInvoicePaymentObject)]
    stripe_event = _event({"id": {"type": "string", "pattern": r"^evt_[A-Za-z0-9_]{1,64}$"},
                           "type": {"type": "string", "enum": sorted(stripe.HANDLED_EVENTS)},
                           "created": {"type": "integer", "minimum": 0, "maximum": 32503680000},
                           "api_version": {"type": "string"}}, {"anyOf": stripe_objects})
    paddle_event = {"type": "object", "required": ["event_id", "event_type", "occurred_at", "data"], "properties": {
        "event_id": {"type": "string", "pattern": r"^evt_[a-z0-9]{1,64}$"},
        "event_type": {"type": "string", "enum": sorted(paddle.TRANSACTION_EVENTS | paddle.CUSTOMER_EVENTS)},
        "occurred_at": {"type": "string", "format": "date-time"},
        "data": {"anyOf": [_schema(paddle._Transaction, components, "Paddle"), _schema(paddle._PaddleCustomer, components, "Paddle")]}}}
    chargebee_event = {"type": "object", "required": ["id", "event_type", "occurred_at", "content"], "properties": {
        "id": {"type": "string", "pattern": r"^ev_[A-Za-z0-9_]{1,100}$"},
        "event_type": {"type": "string", "enum": sorted(chargebee.HANDLED_EVENTS)},
        "occurred_at": {"type": "integer", "minimum": 0, "maximum": 32503680000},
        "content": {"type": "object", "properties": {
            "invoice": _schema(chargebee._Invoice, components, "Chargebee"),
            "customer": _schema(chargebee._Customer, components, "Chargebee"),
            "credit_note": _schema(chargebee._CreditNote, components, "Chargebee")}}}}
    generic_event = _schema(generic.GenericEvent, components, "")

    refused = {"type": "object", "required": ["error", "message"], "additionalProperties": False,
               "properties": {"error": {"type": "string", "pattern": "^[a-z_]+$"}, "message": {"type": "string"}}}
    accepted = {"type": "object", "required": ["received", "event_id", "type", "outcome", "invoice_id"],
                "additionalProperties": False,
                "properties": {"received": {"const": True}, "event_id": {"type": "string"}, "type": {"type": "string"},
                               "outcome": {"type": "string"}, "invoice_id": {"type": ["string", "null"]}}}
    components["WebhookAccepted"] = accepted
    components["WebhookRefused"] = refused

    def answer(description: str, schema: str) -> dict[str, Any]:
        return {"description": description, "content": {"application/json": {"schema": {"$ref": _REF.format(model=schema)}}}}

    responses = {
        "200": answer("Applied, or deliberately ignored (`outcome` says which); a redelivery gets the same answer.", "WebhookAccepted"),
        "400": answer("The body is not JSON or not the shape of the provider's events; nothing was written.", "WebhookRefused"),
        "401": answer("Not authentic (signature, timestamp or credentials); nothing was written.", "WebhookRefused"),
        "503": answer("A transient failure, or the secret is not configured: retry later; nothing was remembered.", "WebhookRefused"),
    }
    routes = {
        "stripe": ("Stripe", "Stripe-Signature", "t=<unix>,v1=<hex HMAC-SHA256 of '{t}.{body}'>", stripe_event),
        "paddle": ("Paddle Billing", "Paddle-Signature", "ts=<unix>;h1=<hex HMAC-SHA256 of '{ts}:{body}'>", paddle_event),
        "chargebee": ("Chargebee", "Authorization", "Basic <base64 of user:password>", chargebee_event),
        "generic": ("any billing system (docs/webhooks.md)", "Arrears-Signature",
                    "t=<unix>,v1=<hex HMAC-SHA256 of '{t}.{body}'>", generic_event),
    }
    paths = {}
    for provider, (who, header, form, body) in routes.items():
        paths[f"/webhooks/{provider}"] = {"post": {
            "operationId": f"receive_{provider}_event", "summary": f"An event from {who}",
            "parameters": [{"name": header, "in": "header", "required": True, "description": form,
                            "schema": {"type": "string", "maxLength": 2000}}],
            "requestBody": {"required": True, "content": {"application/json": {"schema": body}}},
            "responses": responses,
        }}
    document = {
        "openapi": "3.1.0",
        "info": {"title": "Arrears billing webhooks", "version": "1",
                 "description": "POST /webhooks/{provider}: authenticated on the raw body, de-duplicated by event id, "
                                "applied in any order (docs/webhooks.md)."},
        "paths": paths,
        "components": {"schemas": dict(sorted(components.items()))},
    }
    return json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


if __name__ == "__main__":
    WEBHOOKS_DOCUMENT.parent.mkdir(exist_ok=True)
    WEBHOOKS_DOCUMENT.write_text(webhooks_openapi(), encoding="utf-8")
    print(f"wrote {WEBHOOKS_DOCUMENT}")
