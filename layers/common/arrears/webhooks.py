"""Receiving a billing platform's webhook delivery (domain service behind the webhooks function).

Order matters: the signature is checked on the raw body before anything is
parsed; only then is the event de-duplicated by the provider's event id and
applied. A rejected delivery changes nothing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Callable

from arrears.providers import stripe
from arrears.providers.errors import WebhookRejected

# A rotated secret is stored as "new,old" (or one per line) until the old one is retired.
_SECRET_SEPARATORS = re.compile(r"[\s,]+")
MAX_BODY_BYTES = 256 * 1024


@dataclass(frozen=True)
class WebhookReply:
    status_code: int
    body: dict[str, Any]


def split_secrets(value: str) -> list[str]:
    return [secret for secret in _SECRET_SEPARATORS.split(value.strip()) if secret]


def receive_stripe_delivery(
    raw_body: bytes,
    headers: dict[str, str],
    secrets: list[str],
    now: datetime,
    apply_once: Callable[[dict[str, Any]], dict[str, Any]],
) -> WebhookReply:
    """`apply_once` applies a verified event at most once per event id (the idempotency layer)."""
    try:
        if len(raw_body) > MAX_BODY_BYTES:
            raise WebhookRejected("body_too_large", f"the body exceeds {MAX_BODY_BYTES} bytes")
        lowered = {name.lower(): value for name, value in headers.items()}
        stripe.verify_signature(raw_body, lowered.get(stripe.SIGNATURE_HEADER), secrets, now)
        event_id, event_type, document = stripe.parse_event(raw_body)
        # Shape is checked before the idempotency record exists, so a bad body is never remembered as done.
        stripe.to_update(document)
    except WebhookRejected as rejected:
        return WebhookReply(rejected.status_code, {"error": rejected.code, "message": rejected.message})
    outcome = apply_once(document)
    return WebhookReply(200, {"received": True, "event_id": event_id, "type": event_type, **outcome})


def apply_stripe_event(document: dict[str, Any], store, log, workflows, now: datetime) -> dict[str, Any]:
    """Apply one verified Stripe event (called at most once per event id)."""
    from arrears.ingest import apply_invoice_update

    update = stripe.to_update(document)
    if update is None:
        return {"outcome": "ignored: not an event Arrears acts on", "invoice_id": None}
    outcome = apply_invoice_update(update, store, log, workflows, now)
    return {"outcome": outcome, "invoice_id": update.invoice.invoice_id}
