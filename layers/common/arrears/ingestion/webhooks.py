"""Receiving a billing platform's webhook delivery (domain service behind the webhooks function).

Order matters: the delivery is authenticated on the raw body before anything is
parsed; then its shape is checked, and only then is the event de-duplicated by the
provider's event id and applied. A refused delivery changes nothing and is not
remembered as done, so the platform's retry of a fixed delivery is applied.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Callable

from arrears.ingestion.http_input import WEBHOOK_MAX_BODY_BYTES, BodyRefused, checked_text
from arrears.ingestion.billing_changes import BillingChange, CollectedBy, IngestStore, InvoiceUpdate, apply_billing_change
from arrears.domain.ports import ContactLog, PolicyRepository, WorkflowStarter
from arrears.ingestion.providers.errors import WebhookRejected

# A rotated secret is stored as "new,old" (or one per line) until the old one is retired.
_SECRET_SEPARATORS = re.compile(r"[\s,]+")


@dataclass(frozen=True)
class WebhookReply:
    status_code: int
    body: dict[str, Any]


@dataclass(frozen=True)
class WebhookProvider:
    """What Arrears needs of one billing platform: authenticate, parse, interpret (all pure)."""

    name: str
    # Raises SignatureInvalid; headers arrive with lower-case names.
    authenticate: Callable[[bytes, dict[str, str], list[str], datetime], None]
    # (event id, event type, the JSON document); raises MalformedEvent.
    parse: Callable[[bytes], tuple[str, str, dict[str, Any]]]
    # The domain change, or None for an event Arrears does not act on; raises MalformedEvent.
    to_change: Callable[[dict[str, Any]], BillingChange | None]


def providers() -> dict[str, WebhookProvider]:
    from arrears.ingestion.providers import chargebee, generic, paddle, stripe

    return {
        "stripe": WebhookProvider("stripe", lambda body, headers, secrets, now: stripe.verify_signature(
            body, headers.get(stripe.SIGNATURE_HEADER), secrets, now), stripe.parse_event, stripe.to_update),
        "paddle": WebhookProvider("paddle", lambda body, headers, secrets, now: paddle.verify_signature(
            body, headers.get(paddle.SIGNATURE_HEADER), secrets, now), paddle.parse_event, paddle.to_change),
        "chargebee": WebhookProvider("chargebee", lambda body, headers, secrets, now: chargebee.verify_basic_auth(
            headers.get("authorization"), secrets), chargebee.parse_event, chargebee.to_change),
        "generic": WebhookProvider("generic", lambda body, headers, secrets, now: generic.verify_signature(
            body, headers.get(generic.SIGNATURE_HEADER), secrets, now), generic.parse_event, generic.to_change),
    }


def split_secrets(value: str) -> list[str]:
    return [secret for secret in _SECRET_SEPARATORS.split(value.strip()) if secret]


def receive_delivery(
    provider: WebhookProvider,
    raw_body: bytes,
    headers: dict[str, str],
    secrets: list[str],
    now: datetime,
    apply_once: Callable[[dict[str, Any]], dict[str, Any]],
) -> WebhookReply:
    """`apply_once` applies a verified event at most once per `id` of its argument (the idempotency
    layer): an envelope {"id": "<provider>:<event id>", "provider", "event": the document}."""
    if not secrets:
        # The operator's to fix (docs/webhooks.md); the platform retries until then, so nothing is lost.
        return WebhookReply(503, {"error": "not_configured", "message": f"no {provider.name} webhook secret is configured"})
    try:
        # Size, encoding and nesting are checked on the bytes first: nothing below may fail on them with a 5xx.
        checked_text(raw_body, WEBHOOK_MAX_BODY_BYTES)
    except BodyRefused as refused:
        return WebhookReply(refused.status_code, {"error": refused.code, "message": refused.message})
    try:
        lowered = {name.lower(): value for name, value in headers.items()}
        provider.authenticate(raw_body, lowered, secrets, now)
        event_id, event_type, document = provider.parse(raw_body)
        # Shape is checked before the idempotency record exists, so a bad body is never remembered as done.
        provider.to_change(document)
    except WebhookRejected as rejected:
        return WebhookReply(rejected.status_code, {"error": rejected.code, "message": rejected.message})
    envelope = {"id": f"{provider.name}:{event_id}", "provider": provider.name, "event": document}
    outcome = apply_once(envelope)
    return WebhookReply(200, {"received": True, "event_id": event_id, "type": event_type, **outcome})


def apply_event(envelope: dict[str, Any], store: IngestStore, log: ContactLog, workflows: WorkflowStarter, now: datetime,
                chase_after_platform_retries: Callable[[], bool] = lambda: False,
                policies: PolicyRepository | None = None) -> dict[str, Any]:
    """Apply one verified event (called at most once per envelope id). `chase_after_platform_retries` reads
    the policy's option, asked only for a card-charged invoice the platform gave up on; `policies` give the risk
    band again when the event settles an invoice."""
    change = providers()[envelope["provider"]].to_change(envelope["event"])
    if change is None:
        return {"outcome": "ignored: not an event Arrears acts on", "invoice_id": None}
    chase = isinstance(change, InvoiceUpdate) and change.collected_by is CollectedBy.PLATFORM_GAVE_UP and \
        chase_after_platform_retries()
    outcome = apply_billing_change(change, store, log, workflows, now, chase, policies)
    invoice = getattr(change, "invoice", None)
    invoice_id = invoice.invoice_id if invoice is not None else getattr(change, "invoice_id", None)
    return {"outcome": outcome, "invoice_id": invoice_id}

