"""POST /webhooks/{provider}: verify, de-duplicate and apply a billing platform's event."""

import json
from datetime import datetime, timezone
from functools import lru_cache

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response, content_types
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities import parameters
from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer, IdempotencyConfig, idempotent_function
from aws_lambda_powertools.utilities.idempotency.exceptions import IdempotencyAlreadyInProgressError

from arrears.settings import get_settings
from arrears.webhooks import apply_stripe_event, receive_stripe_delivery, split_secrets
from arrears.wiring import dunning_ports, workflows

logger = Logger()
tracer = Tracer()
metrics = Metrics(namespace="Arrears")
app = APIGatewayRestResolver()
# Stripe retries for up to three days; remember an event id a little longer than that.
IDEMPOTENCY = IdempotencyConfig(event_key_jmespath="id", expires_after_seconds=4 * 24 * 3600, raise_on_no_idempotency_key=True)


@lru_cache(maxsize=1)
def _apply_once():
    persistence = DynamoDBPersistenceLayer(table_name=get_settings().idempotency_table_name)

    @idempotent_function(data_keyword_argument="document", persistence_store=persistence, config=IDEMPOTENCY)
    def apply_stripe_event_once(document: dict) -> dict:
        ports = dunning_ports()
        result = apply_stripe_event(document, ports.store, ports.log, workflows(), ports.clock.now())
        logger.append_keys(invoice_id=result["invoice_id"])
        logger.info("stripe event applied", extra={"event_id": document.get("id"), "outcome": result["outcome"]})
        return result

    return apply_stripe_event_once


@app.post("/webhooks/<provider>")
def receive_webhook(provider: str) -> Response:
    if provider != "stripe":
        return _json(404, {"error": "unknown_provider", "message": f"no webhook route for provider {provider!r}"})
    event = app.current_event
    secret = parameters.get_parameter(get_settings().stripe_webhook_secret_parameter, decrypt=True,
                                      max_age=get_settings().secret_max_age_seconds)
    try:
        reply = receive_stripe_delivery(
            raw_body=event.decoded_body.encode() if isinstance(event.decoded_body, str) else (event.decoded_body or b""),
            headers=dict(event.headers or {}), secrets=split_secrets(secret), now=datetime.now(timezone.utc),
            apply_once=lambda document: _apply_once()(document=document),
        )
    except IdempotencyAlreadyInProgressError:
        # The same event is being applied by a concurrent delivery: a retry later gets its saved answer.
        return _json(503, {"error": "in_progress", "message": "this event is being applied; retry later"})
    metrics.add_metric(name="WebhookAccepted" if reply.status_code == 200 else "WebhookRejected", unit=MetricUnit.Count, value=1)
    if reply.status_code != 200:
        logger.warning("webhook rejected", extra={"provider": provider, **reply.body})
    return _json(reply.status_code, reply.body)


def _json(status_code: int, body: dict) -> Response:
    return Response(status_code=status_code, content_type=content_types.APPLICATION_JSON, body=json.dumps(body))


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event, context):
    IDEMPOTENCY.register_lambda_context(context)
    return app.resolve(event, context)
