"""POST /webhooks/{provider}: authenticate, de-duplicate and apply a billing platform's event."""

import json
from datetime import datetime, timezone
from functools import lru_cache

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response, content_types
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer, IdempotencyConfig, idempotent_function
from aws_lambda_powertools.utilities.idempotency.exceptions import IdempotencyAlreadyInProgressError

from arrears.adapters.tracing import traced
from arrears.ingestion.http_input import BodyRefused, raw_body
from arrears.adapters.settings import get_settings
from arrears.ingestion.webhooks import apply_event, providers, receive_delivery, split_secrets
from arrears.wiring import billing_adapters, workflows

logger = Logger()
metrics = Metrics(namespace="Arrears")
app = APIGatewayRestResolver()
# Platforms retry for up to three days; remember an event id a little longer than that.
IDEMPOTENCY = IdempotencyConfig(event_key_jmespath="id", expires_after_seconds=4 * 24 * 3600, raise_on_no_idempotency_key=True)


@lru_cache(maxsize=1)
def _apply_once():
    persistence = DynamoDBPersistenceLayer(table_name=get_settings().idempotency_table_name)

    @idempotent_function(data_keyword_argument="envelope", persistence_store=persistence, config=IDEMPOTENCY)
    def apply_event_once(envelope: dict) -> dict:
        ports = billing_adapters()
        result = apply_event(envelope, ports.store, ports.log, workflows(), ports.clock.now(), chase_after_platform_retries=lambda: (
            ports.policies.current(get_settings().default_policy_id).chase_card_invoices_after_platform_retries),
            policies=ports.policies)
        logger.append_keys(invoice_id=result["invoice_id"])
        logger.info("billing event applied", extra={"event": envelope["id"], "outcome": result["outcome"]})
        return result

    return apply_event_once


def _secret_parameter(provider: str) -> str:
    settings = get_settings()
    return {"stripe": settings.stripe_webhook_secret_parameter, "paddle": settings.paddle_webhook_secret_parameter,
            "chargebee": settings.chargebee_webhook_secret_parameter,
            "generic": settings.generic_webhook_secret_parameter}.get(provider, "")


def _parameter(name: str) -> str:
    from aws_lambda_powertools.utilities import parameters  # at the first delivery, not in the cold start

    return parameters.get_parameter(name, decrypt=True, max_age=get_settings().secret_max_age_seconds) or ""


@app.post("/webhooks/<provider>")
def receive_webhook(provider: str) -> Response:
    known = providers()
    if provider not in known:
        return _json(404, {"error": "unknown_provider", "message": f"no webhook route for provider {provider!r}"})
    event = app.current_event
    name = _secret_parameter(provider)
    # Cached for a few minutes, then read again: a rotated secret ("new,old") takes effect without a redeploy.
    secret = _parameter(name) if name else ""
    try:
        # The bytes as sent (not decoded here): receive_delivery refuses a body that is not UTF-8 with a 400.
        body = raw_body(event.raw_event)
    except BodyRefused as refused:
        return _json(refused.status_code, {"error": refused.code, "message": refused.message})
    try:
        reply = receive_delivery(
            known[provider], raw_body=body,
            headers=dict(event.headers or {}), secrets=split_secrets(secret or ""), now=datetime.now(timezone.utc),
            apply_once=lambda envelope: _apply_once()(envelope=envelope),
        )
    except IdempotencyAlreadyInProgressError:
        # The same event is being applied by a concurrent delivery: a retry later gets its saved answer.
        return _json(503, {"error": "in_progress", "message": "this event is being applied; retry later"})
    metrics.add_metric(name="WebhookAccepted" if reply.status_code == 200 else "WebhookRejected", unit=MetricUnit.Count, value=1)
    if reply.status_code != 200:
        logger.warning("webhook rejected", extra={"provider": provider, **reply.body})
    return _json(reply.status_code, reply.body)


@app.exception_handler(Exception)
def transient_failure(error: Exception) -> Response:
    # Nothing was remembered as done (the idempotency record is removed on failure): the platform's retry applies it.
    logger.exception("webhook failed; the platform will retry")
    return _json(503, {"error": "temporarily_unavailable", "message": "the event could not be applied now; retry later"})


def _json(status_code: int, body: dict) -> Response:
    return Response(status_code=status_code, content_type=content_types.APPLICATION_JSON, body=json.dumps(body))


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@traced
@metrics.log_metrics
def lambda_handler(event, context):
    IDEMPOTENCY.register_lambda_context(context)
    return app.resolve(event, context)
